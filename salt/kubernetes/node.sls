{#- A worker joins with the pre-generated bootstrap token and the CA's
    discovery hash, waiting (bounded) for the API when the masters are still
    coming up. #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster with context %}

include:
  - kubernetes.prepare

kubernetes-node-saltsphere-kubernetes-joined:
  saltsphere_kubernetes.joined:
    - name: {{ cluster.config_file }}
    - endpoint: {{ cluster.endpoint }}
    - args: {{ cluster.kubeadm_args | json }}
    - wait: {{ cluster.wait_seconds }}
    - require:
      - sls: kubernetes.prepare

kubernetes-node-service-running-kubelet:
  service.running:
    - name: {{ kubernetes.kubelet_service }}
    - enable: True
    - require:
      - saltsphere_kubernetes: kubernetes-node-saltsphere-kubernetes-joined
