{#- Every cluster host resolves every other by name, without DNS. #}
{%- set hosts = salt['pillar.get']('saltsphere:cluster:hosts', {}) %}

include:
  - transport.wipe
{%- for name, host in hosts | dictsort %}

os-hosts-host-only-{{ name }}:
  host.only:
    - name: {{ host.ip }}
    - hostnames:
      - {{ name }}
{%- endfor %}
