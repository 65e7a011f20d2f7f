{#- This host is a member of the cluster with kubelet running: what the roles
    after Kubernetes need once the kubernetes role converged (see after.jinja).
    A gate of our own rather than file.exists of kubelet.conf: under test=True
    a host the kubernetes phase would join is a prediction, not a failure. #}
{%- from 'kubernetes/map.jinja' import kubernetes, host with context %}

{#- Every host has joined by now: the bootstrap token goes (first master). #}
include:
  - transport.wipe
  - kubernetes.token

kubernetes-joined-saltsphere-kubernetes-member:
  saltsphere_kubernetes.member:
    - name: {{ host.get('name', grains['id']) }}

kubernetes-joined-service-running-kubelet:
  service.running:
    - name: {{ kubernetes.kubelet_service }}
    - enable: True
    - require:
      - saltsphere_kubernetes: kubernetes-joined-saltsphere-kubernetes-member
