{#- Phase: the container runtime on every Kubernetes host, all at once. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}

include:
  - kubesphere.prepare

kubesphere-containerd-salt-state:
  salt.state:
    - tgt: {{ cluster.k8s | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: containerd
    - failhard: True
{{ phase_pillar('containerd') }}
