{%- from 'etcd/map.jinja' import etcd with context %}

include:
  - .config

etcd-service-service-running:
  service.running:
    - name: {{ etcd.service }}
    - enable: True
    - require:
      - sls: etcd.package
    - watch:
      - sls: etcd.config
