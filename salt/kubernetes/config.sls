{#- This host's kubeadm configuration, rendered on the taskbox.  It holds the
    bootstrap token: root only, and never shown in a diff. #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster with context %}

kubernetes-config-file-managed-kubeadm:
  file.managed:
    - name: {{ cluster.config_file }}
    - contents_pillar: saltsphere:kubernetes:kubeadm_config
    - mode: '0600'
    - makedirs: True
    - dir_mode: '0700'
    - show_changes: False
