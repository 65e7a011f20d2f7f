{#- Phase: storage, after the network.  Every Kubernetes host gets the mount
    tools of the enabled classes; the first master applies the classes and
    their provisioners. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}

include:
  - kubesphere.prepare

kubesphere-storage-salt-state:
  salt.state:
    - tgt: {{ cluster.k8s | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: storage
    - failhard: True
{{ phase_pillar('storage') }}
