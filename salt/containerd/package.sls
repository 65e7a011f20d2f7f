{%- from 'containerd/map.jinja' import containerd with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}

include:
  - os.pkgdb

{#- The distribution's package starts containerd with its own configuration;
    config.sls replaces it and service.sls restarts containerd once. #}
containerd-package-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs: {{ containerd.pkgs | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb
