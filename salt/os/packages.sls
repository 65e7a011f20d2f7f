{%- from 'os/map.jinja' import os with context %}
{%- from 'os/bundle.jinja' import pkg_refresh, pkg_recommends, pkg_env with context %}

include:
  - .pkgdb

os-packages-pkg-installed:
  pkg.installed:
    - pkgs: {{ os.pkgs | json }}
    - refresh: {{ pkg_refresh | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - env: {{ pkg_env | json }}
    - require:
      - sls: os.pkgdb
