{#- Kubernetes on this host, by its role: first master, further master or
    node.  Applied to every host at once (the highstate) the joins wait for
    the first master, which removes the bootstrap token at the end of its run
    once every host has joined; the orchestration runs the same states in
    order. #}
{%- from 'kubernetes/map.jinja' import cluster with context %}

include:
  - transport.wipe
{%- if cluster.role in ('init', 'join-control-plane') %}
  - kubernetes.control_plane
{%- else %}
  - kubernetes.node
{%- endif %}
  - kubernetes.token
