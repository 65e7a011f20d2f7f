{#- With several masters and no external endpoint, every Kubernetes host
    reaches the API through haproxy on 127.0.0.1 (saltsphere:kubernetes:load_balancer). #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}
{%- if cluster.load_balancer.enabled %}

include:
  - os.pkgdb
  - kubernetes.load_balancer_config

kubernetes-load-balancer-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs:
      - {{ kubernetes.lb_pkg | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb
    - require_in:
      - file: kubernetes-load-balancer-file-managed-config
{%- endif %}
