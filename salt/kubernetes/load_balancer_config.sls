{#- The local load balancer's backends: the masters of hosts.ini, less those
    being removed (kubesphere.node_remove applies this alone on the hosts
    that stay, with no package to install and no bundle server: parameters
    and saltsphere:kubernetes only). #}
{%- from 'kubernetes/parameters.jinja' import kubernetes with context %}
{%- set lb = salt['pillar.get']('saltsphere:kubernetes:load_balancer', {'enabled': False}) %}
{%- set removed = salt['pillar.get']('saltsphere_orchestration:removed', {}) %}
{%- if removed %}
{%-   do lb.update({'backends': lb.backends | rejectattr('name', 'in', removed | list) | list}) %}
{%- endif %}
{%- if lb.enabled %}

kubernetes-load-balancer-file-managed-config:
  file.managed:
    - name: {{ kubernetes.lb_config }}
    - source: salt://kubernetes/files/haproxy.cfg
    - template: jinja
    - context:
        lb: {{ lb | json }}

kubernetes-load-balancer-service-running:
  service.running:
    - name: {{ kubernetes.lb_service }}
    - enable: True
    - watch:
      - file: kubernetes-load-balancer-file-managed-config
{%- endif %}
