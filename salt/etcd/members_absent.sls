{#- On an etcd member that stays, for `kubesphere.node_remove`: the removed
    members (saltsphere_orchestration:etcd_removed, {name: address}) are no
    members any more, once every member that stays is healthy
    (saltsphere_orchestration:etcd_servers). #}
{%- from 'etcd/map.jinja' import etcd with context %}
{%- set removed = salt['pillar.get']('saltsphere_orchestration:etcd_removed', {}) %}
{%- set servers = salt['pillar.get']('saltsphere_orchestration:etcd_servers', []) %}
{%- set client = {'ca': etcd.pki_dir ~ '/ca.crt', 'cert': etcd.pki_dir ~ '/healthcheck.crt', 'key': etcd.pki_dir ~ '/healthcheck.key'} %}

include:
  - transport.wipe

etcd-members-absent-saltsphere-etcd-cluster-healthy:
  saltsphere_etcd.cluster_healthy:
    - name: the etcd members that stay
    - endpoints: {{ servers | json }}
    - ca: {{ client.ca }}
    - cert: {{ client.cert }}
    - key: {{ client.key }}
{%- for name, ip in removed | dictsort %}

etcd-members-absent-saltsphere-etcd-member-absent-{{ name }}:
  saltsphere_etcd.member_absent:
    - name: {{ name }}
    - peer_url: https://{{ ip }}:{{ etcd.peer_port }}
    - endpoint: https://{{ etcd.ip }}:{{ etcd.client_port }}
    - ca: {{ client.ca }}
    - cert: {{ client.cert }}
    - key: {{ client.key }}
    - require:
      - saltsphere_etcd: etcd-members-absent-saltsphere-etcd-cluster-healthy
{%- endfor %}
