{%- from 'containerd/map.jinja' import containerd with context %}

include:
  - .package

containerd-config-file-managed:
  file.managed:
    - name: {{ containerd.conf_dir }}/config.toml
    - source: salt://containerd/files/config.toml.jinja
    - template: jinja
    - mode: '0644'
    - makedirs: True
    - context:
        containerd: {{ containerd | json }}
    - require:
      - sls: containerd.package

{#- Read by crictl, which kubeadm calls; crictl itself comes with the
    Kubernetes binaries, not with containerd. #}
containerd-config-file-managed-crictl:
  file.managed:
    - name: {{ containerd.crictl_config }}
    - source: salt://containerd/files/crictl.yaml.jinja
    - template: jinja
    - mode: '0644'
    - context:
        containerd: {{ containerd | json }}

{#- The CRI plugin looks for network plugins here; they must exist before
    the network plugin role installs into them. #}
{%- for kind in ('bin', 'conf') %}

containerd-config-file-directory-cni-{{ kind }}:
  file.directory:
    - name: {{ containerd['cni_' ~ kind ~ '_dir'] }}
    - mode: '0755'
    - makedirs: True
{%- endfor %}
