{%- from 'os/map.jinja' import os with context %}
{%- from 'os/bundle.jinja' import bundle, bundle_repo as repo, from_bundle, pkg_refresh, pkg_recommends with context %}

include:
  - .pkgdb
{%- set offline = os.get('bundle_source_file') and from_bundle %}

{%- if offline %}
{#- The packages come from the bundle, through the taskbox: hosts need no
    route to a mirror. #}
os-packages-file-managed-bundle-source:
  file.managed:
    - name: {{ os.bundle_source_file }}
    - contents: {{ os.bundle_source_line.format(url=bundle.url, repo=repo) | json }}
    - mode: '0644'

{#- Only the bundle's source is read: it answers without a mirror.  Runs
    again until apt knows the source, so a failed run is made good. #}
os-packages-cmd-run-refresh-bundle-source:
  cmd.run:
    - name: >-
        apt-get update -o Dir::Etc::sourcelist={{ os.bundle_source_file }}
        -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0
    - unless: apt-cache policy | grep -qF {{ (bundle.url ~ '/' ~ repo) | json }}
    - require:
      - file: os-packages-file-managed-bundle-source
{%- endif %}

os-packages-pkg-installed:
  pkg.installed:
    - pkgs: {{ os.pkgs | json }}
    - refresh: {{ pkg_refresh | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - cmd: os-pkgdb-cmd-run-finish-interrupted
{%- if offline %}
      - cmd: os-packages-cmd-run-refresh-bundle-source
{%- endif %}
