{%- from 'os/map.jinja' import os with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}

include:
  - .pkgdb

os-packages-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs: {{ os.pkgs | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb
