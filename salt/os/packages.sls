{%- from 'os/map.jinja' import os with context %}

os-packages-pkg-installed:
  pkg.installed:
    - pkgs: {{ os.pkgs | json }}
