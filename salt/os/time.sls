{%- from 'os/map.jinja' import os with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}

include:
  - .pkgdb
{#- Certificates and etcd leases need clocks in step.  Hosts that share a
    kernel clock (containers) set os_time_sync: false: there a time daemon
    would fight over the machine's clock. #}
{%- if os.time_sync %}

os-time-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs:
      - {{ os.time_pkg | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb

os-time-service-running:
  service.running:
    - name: {{ os.time_service }}
    - enable: True
    - require:
      - saltsphere_packages: os-time-saltsphere-packages-installed
{%- endif %}
