{#- On the first master: the bootstrap token goes once every master and node
    of hosts.ini has joined, so nothing else can join with it; the install
    never makes it here.  `kubernetes.token_wait` seconds are spent waiting
    for hosts that are joining while this runs (the highstate); a host still
    missing keeps it.
    `kubesphere.node_add` applies it before its joins too
    (saltsphere_orchestration:node_add): then it is made again while a host
    being added has still to join, and hosts of hosts.ini left out of the
    cluster for now (saltsphere_orchestration:waiting) do not keep it. #}
{%- from 'kubernetes/map.jinja' import cluster with context %}
{%- set node_add = salt['pillar.get']('saltsphere_orchestration:node_add', False) %}
{%- set waiting = salt['pillar.get']('saltsphere_orchestration:waiting', []) %}
{%- if cluster.role == 'init' %}

include:
  - transport.wipe

kubernetes-token-saltsphere-kubernetes-bootstrap-token:
  saltsphere_kubernetes.bootstrap_token:
    - name: {{ cluster.token_id }}
    - needed_by: {{ cluster.nodes | reject('in', waiting) | list | json }}
    - create: {{ node_add | json }}
    - wait: {{ 0 if salt['pillar.get']('saltsphere_orchestration:phase') else cluster.wait_seconds }}
    - order: last
{%- endif %}
