{#- On the first master, for `kubesphere.node_remove`: each Node being
    removed (saltsphere_orchestration:removed) cordoned and its pods gone,
    within kubernetes.drain_timeout seconds; the pods of a host that does
    not answer (saltsphere_orchestration:unreachable) are deleted at once.  A
    Node already gone is left. #}
{%- from 'kubernetes/parameters.jinja' import kubernetes with context %}
{%- set removed = salt['pillar.get']('saltsphere_orchestration:removed', {}) %}
{%- set unreachable = salt['pillar.get']('saltsphere_orchestration:unreachable', []) %}

include:
  - transport.wipe
{%- for name in removed | sort %}

kubernetes-nodes-drained-saltsphere-kubernetes-node-drained-{{ name }}:
  saltsphere_kubernetes.node_drained:
    - name: {{ name }}
    - timeout: {{ kubernetes.drain_timeout }}
    - force: {{ (name in unreachable) | json }}
{%- endfor %}
