{#- kubelet as a service kubeadm configures: enabled now, started by kubeadm
    when it initialises or joins the host. #}
{%- from 'kubernetes/map.jinja' import kubernetes with context %}
{%- from 'containerd/map.jinja' import containerd with context %}

include:
  - kubernetes.binaries

kubernetes-kubelet-file-managed-unit:
  file.managed:
    - name: {{ kubernetes.systemd_dir }}/{{ kubernetes.kubelet_service }}.service
    - source: salt://kubernetes/files/kubelet.service
    - template: jinja
    - context:
        kubernetes: {{ kubernetes | json }}
        containerd_service: {{ containerd.service }}

kubernetes-kubelet-file-managed-dropin:
  file.managed:
    - name: {{ kubernetes.systemd_dir }}/{{ kubernetes.kubelet_service }}.service.d/10-kubeadm.conf
    - source: salt://kubernetes/files/10-kubeadm.conf
    - template: jinja
    - makedirs: True
    - context:
        kubernetes: {{ kubernetes | json }}

kubernetes-kubelet-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: kubernetes-kubelet-file-managed-unit
      - file: kubernetes-kubelet-file-managed-dropin

kubernetes-kubelet-service-enabled:
  service.enabled:
    - name: {{ kubernetes.kubelet_service }}
    - require:
      - cmd: kubernetes-kubelet-cmd-run-daemon-reload
      - saltsphere_bundle: kubernetes-binaries-saltsphere-bundle-fetched-kubelet
