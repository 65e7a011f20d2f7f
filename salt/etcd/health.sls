{%- from 'etcd/map.jinja' import etcd with context %}

include:
  - .service

{#- Members restart one at a time under orchestration: each waits here until
    it has rejoined, so no more than one member is ever down. #}
etcd-health-saltsphere-etcd-member-ready:
  saltsphere_etcd.member_ready:
    - name: https://{{ etcd.ip }}:{{ etcd.client_port }}
    - endpoints: {{ etcd.endpoints | json }}
    - ca: {{ etcd.pki_dir }}/ca.crt
    - cert: {{ etcd.pki_dir }}/healthcheck.crt
    - key: {{ etcd.pki_dir }}/healthcheck.key
    - require:
      - service: etcd-service-service-running
