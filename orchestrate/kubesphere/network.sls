{#- Phase: the pod network (kube_network_plugin) on every Kubernetes host, all at once. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}

include:
  - kubesphere.prepare

kubesphere-network-salt-state:
  salt.state:
    - tgt: {{ cluster.k8s | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: network
    - failhard: True
{{ phase_pillar('network') }}
