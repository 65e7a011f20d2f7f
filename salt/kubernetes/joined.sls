{#- This host is a member of the cluster with kubelet running: what the roles
    after Kubernetes need once the kubernetes role converged (see after.jinja). #}
{%- from 'kubernetes/map.jinja' import kubernetes with context %}

{#- Every host has joined by now: the bootstrap token goes (first master). #}
include:
  - transport.wipe
  - kubernetes.token

kubernetes-joined-file-exists-kubelet-conf:
  file.exists:
    - name: /etc/kubernetes/kubelet.conf

kubernetes-joined-service-running-kubelet:
  service.running:
    - name: {{ kubernetes.kubelet_service }}
    - enable: True
    - require:
      - file: kubernetes-joined-file-exists-kubelet-conf
