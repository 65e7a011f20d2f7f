{#- On the first master: the bootstrap token goes once every master and node
    of hosts.ini has joined, so nothing else can join with it.  Never made
    here.  `kubernetes.token_wait` seconds are spent waiting for hosts that are
    joining while this runs (the highstate); a host still missing keeps it. #}
{%- from 'kubernetes/map.jinja' import cluster with context %}
{%- if cluster.role == 'init' %}

kubernetes-token-saltsphere-kubernetes-bootstrap-token:
  saltsphere_kubernetes.bootstrap_token:
    - name: {{ cluster.token_id }}
    - needed_by: {{ cluster.nodes | json }}
    - create: False
    - wait: {{ 0 if salt['pillar.get']('saltsphere_orchestration:phase') else cluster.wait_seconds }}
    - order: last
{%- endif %}
