{%- from 'containerd/map.jinja' import containerd with context %}

{#- The distribution's package starts containerd with its own configuration;
    config.sls replaces it and service.sls restarts containerd once. #}
containerd-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ containerd.pkgs | json }}
