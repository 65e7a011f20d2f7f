{#- Phase: the pod network (kube_network_plugin) on every Kubernetes host, all at once. #}
{%- from 'kubesphere/map.jinja' import cluster with context %}

kubesphere-network-salt-state:
  salt.state:
    - tgt: {{ cluster.k8s | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: network
    - failhard: True
    # The kubernetes phase converged the role already (salt/kubernetes/after.jinja).
    - pillar:
        saltsphere_orchestration:
          kubernetes_converged: True
