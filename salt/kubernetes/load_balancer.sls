{#- With several masters and no external endpoint, every Kubernetes host
    reaches the API through haproxy on 127.0.0.1 (saltsphere:kubernetes:load_balancer). #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}
{%- set lb = cluster.load_balancer %}
{%- if lb.enabled %}

include:
  - os.pkgdb

kubernetes-load-balancer-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs:
      - {{ kubernetes.lb_pkg | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb

kubernetes-load-balancer-file-managed-config:
  file.managed:
    - name: {{ kubernetes.lb_config }}
    - source: salt://kubernetes/files/haproxy.cfg
    - template: jinja
    - context:
        lb: {{ lb | json }}
    - require:
      - saltsphere_packages: kubernetes-load-balancer-saltsphere-packages-installed

kubernetes-load-balancer-service-running:
  service.running:
    - name: {{ kubernetes.lb_service }}
    - enable: True
    - watch:
      - file: kubernetes-load-balancer-file-managed-config
{%- endif %}
