{#- This host's kubeadm configuration, rendered on the taskbox.  It holds the
    bootstrap token: root only, never shown, and there only until kubeadm has
    used it. #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster with context %}

kubernetes-config-saltsphere-kubernetes-kubeadm-config:
  saltsphere_kubernetes.kubeadm_config:
    - name: {{ cluster.config_file }}
    - contents_pillar: saltsphere:kubernetes:kubeadm_config
