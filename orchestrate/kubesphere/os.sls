{#- Phase: the OS baseline on every host, all at once. #}
{%- from 'kubesphere/map.jinja' import cluster with context %}

kubesphere-os-salt-state:
  salt.state:
    - tgt: {{ cluster.all | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: os
    - failhard: True
