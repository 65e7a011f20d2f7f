{#- On the first master, for `kubesphere.node_remove`: each Node being
    removed (saltsphere_orchestration:removed) deleted, once its host's
    kubelet is stopped (a running kubelet would register it again). #}
{%- set removed = salt['pillar.get']('saltsphere_orchestration:removed', {}) %}

include:
  - transport.wipe
{%- for name in removed | sort %}

kubernetes-nodes-absent-saltsphere-kubernetes-node-absent-{{ name }}:
  saltsphere_kubernetes.node_absent:
    - name: {{ name }}
{%- endfor %}
