{#- The mirror of init: kubeadm reset, then what the install put in place. #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster with context %}

kubernetes-clean-cmd-run-kubeadm-reset:
  cmd.run:
    - name: {{ kubernetes.bin_dir }}/kubeadm reset --force
    - onlyif: test -x {{ kubernetes.bin_dir }}/kubeadm

kubernetes-clean-service-dead-kubelet:
  service.dead:
    - name: {{ kubernetes.kubelet_service }}
    - enable: False

kubernetes-clean-file-absent:
  file.absent:
    - names:
      - {{ cluster.config_file }}
      - {{ kubernetes.systemd_dir }}/{{ kubernetes.kubelet_service }}.service.d/10-kubeadm.conf
      - {{ kubernetes.systemd_dir }}/{{ kubernetes.kubelet_service }}.service
      - {{ kubernetes.pki_dir }}
      - {{ kubernetes.images_dir }}
{%- for name in kubernetes.binaries %}
      - {{ kubernetes.bin_dir }}/{{ name }}
{%- endfor %}
      - {{ kubernetes.bin_dir }}/crictl
    - require:
      - cmd: kubernetes-clean-cmd-run-kubeadm-reset
