{#- Phase: etcd, one member at a time.  Each member's run ends by waiting
    until it is healthy again (or, while the cluster is still forming, goes
    straight on), so a change that restarts etcd never takes down more than
    one member at once.  Then the whole cluster must be healthy. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}

include:
  - kubesphere.prepare

{%- for member in cluster.etcd %}

kubesphere-etcd-salt-state-{{ member }}:
  salt.state:
    - tgt: {{ member }}
    - ssh: True
    - sls: etcd
    - failhard: True
{{ phase_pillar('etcd') }}
    {%- if not loop.first %}
    - require:
      - salt: kubesphere-etcd-salt-state-{{ loop.previtem }}
    {%- endif %}
{%- endfor %}

kubesphere-etcd-salt-state-cluster-healthy:
  salt.state:
    - tgt: {{ cluster.etcd | first }}
    - ssh: True
    - sls: etcd.cluster
    - failhard: True
{{ phase_pillar('etcd') }}
    - require:
      - salt: kubesphere-etcd-salt-state-{{ cluster.etcd | last }}
