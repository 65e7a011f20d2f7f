{#- Storage on this host: every Kubernetes host gets what kubelet needs to
    mount the enabled classes' volumes; the first master also applies the
    classes themselves. #}
{%- from 'storage/map.jinja' import cluster with context %}

include:
  - transport.wipe
  - .clients
{%- if cluster.get('manifest') %}
  - .classes
{%- endif %}
