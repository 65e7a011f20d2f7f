{%- from 'containerd/map.jinja' import containerd with context %}
{%- from 'os/bundle.jinja' import pkg_refresh, pkg_recommends, pkg_env with context %}

include:
  - os.pkgdb

{#- The distribution's package starts containerd with its own configuration;
    config.sls replaces it and service.sls restarts containerd once. #}
containerd-package-pkg-installed:
  pkg.installed:
    - refresh: {{ pkg_refresh | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - env: {{ pkg_env | json }}
    - pkgs: {{ containerd.pkgs | json }}
    - require:
      - sls: os.pkgdb
