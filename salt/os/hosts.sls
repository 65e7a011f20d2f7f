{#- Every cluster host resolves every other by name, without DNS.  Hosts
    being removed (saltsphere_orchestration:removed, {name: address}, from
    `kubesphere.node_remove`) lose their line. #}
{%- set hosts = salt['pillar.get']('saltsphere:cluster:hosts', {}) %}
{%- set removed = salt['pillar.get']('saltsphere_orchestration:removed', {}) %}

include:
  - transport.wipe
{%- for name, host in hosts | dictsort if name not in removed %}

os-hosts-host-only-{{ name }}:
  host.only:
    - name: {{ host.ip }}
    - hostnames:
      - {{ name }}
{%- endfor %}
{%- for name, ip in removed | dictsort if ip %}

os-hosts-host-absent-{{ name }}:
  host.absent:
    - name: {{ name }}
    - ip: {{ ip }}
{%- endfor %}
