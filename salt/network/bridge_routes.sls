{#- Bridge plugin: a route to every other node's pod range via that node
    (part of network.bridge).  A node needs one more whenever a node joins:
    `kubesphere.node_add` applies this alone to the nodes in the cluster
    already.  Hosts of hosts.ini that stay out of the cluster for now
    (saltsphere_orchestration:waiting, from node add) are not waited for. #}
{%- from 'network/map.jinja' import network, cluster, host with context %}
{%- set waiting = salt['pillar.get']('saltsphere_orchestration:waiting', []) %}

include:
  - transport.wipe

network-bridge-routes-saltsphere-network-pod-routes:
  saltsphere_network.pod_routes:
    - name: {{ cluster.pod_subnet }}
    - node: {{ host.name }}
    - routes_file: {{ network.routes_file }}
    - expected: {{ cluster.nodes | reject('in', waiting) | list | json }}
    - wait: {{ cluster.wait_seconds }}
