{#- A gate for the orchestration's etcd phase: every member healthy. #}
{%- from 'etcd/map.jinja' import etcd with context %}

include:
  - transport.wipe

etcd-cluster-saltsphere-etcd-cluster-healthy:
  saltsphere_etcd.cluster_healthy:
    - name: etcd
    - endpoints: {{ etcd.endpoints | json }}
    - ca: {{ etcd.pki_dir }}/ca.crt
    - cert: {{ etcd.pki_dir }}/healthcheck.crt
    - key: {{ etcd.pki_dir }}/healthcheck.key
