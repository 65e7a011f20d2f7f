{#- The pod network of kube_network_plugin. #}
{%- set plugin = salt['pillar.get']('saltsphere:kubernetes:network_plugin', 'calico') %}

include:
  - transport.wipe
  - network.{{ plugin }}
