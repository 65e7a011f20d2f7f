{#- Phase: the OS baseline on every host, all at once. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}

include:
  - kubesphere.prepare

kubesphere-os-salt-state:
  salt.state:
    - tgt: {{ cluster.all | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: os
    - failhard: True
{{ phase_pillar('os') }}
