{%- from 'os/map.jinja' import os with context %}
{%- from 'os/bundle.jinja' import pkg_refresh, pkg_recommends, pkg_env with context %}

include:
  - .pkgdb
{#- Certificates and etcd leases need clocks in step.  Hosts that share a
    kernel clock (containers) set os_time_sync: false: there a time daemon
    would fight over the machine's clock. #}
{%- if os.time_sync %}

os-time-pkg-installed:
  pkg.installed:
    - refresh: {{ pkg_refresh | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - env: {{ pkg_env | json }}
    - name: {{ os.time_pkg }}
    - require:
      - sls: os.pkgdb

os-time-service-running:
  service.running:
    - name: {{ os.time_service }}
    - enable: True
    - require:
      - pkg: os-time-pkg-installed
{%- endif %}
