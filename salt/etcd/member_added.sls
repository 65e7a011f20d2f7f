{#- On a running etcd member, for `kubesphere.node_add`: the host joining
    (saltsphere_orchestration:etcd_adding) is added as a member (etcdctl
    member add), once every running member is healthy; it joins when it
    starts. #}
{%- from 'etcd/map.jinja' import etcd with context %}
{%- set adding = salt['pillar.get']('saltsphere_orchestration:etcd_adding') %}
{%- set member = etcd.members | selectattr('name', 'equalto', adding) | first | default(None) %}
{%- if not member %}
{{- raise("etcd.member_added needs saltsphere_orchestration:etcd_adding, a host of [etcd] in hosts.ini; got " ~ (adding | json)) }}
{%- endif %}
{%- set running = etcd.endpoints | reject('equalto', 'https://' ~ member.ip ~ ':' ~ etcd.client_port) | list %}
{%- set client = {'ca': etcd.pki_dir ~ '/ca.crt', 'cert': etcd.pki_dir ~ '/healthcheck.crt', 'key': etcd.pki_dir ~ '/healthcheck.key'} %}

include:
  - transport.wipe

etcd-member-added-saltsphere-etcd-cluster-healthy:
  saltsphere_etcd.cluster_healthy:
    - name: the running etcd members
    - endpoints: {{ running | json }}
    - ca: {{ client.ca }}
    - cert: {{ client.cert }}
    - key: {{ client.key }}

etcd-member-added-saltsphere-etcd-member-present:
  saltsphere_etcd.member_present:
    - name: {{ member.name }}
    - peer_url: https://{{ member.ip }}:{{ etcd.peer_port }}
    - endpoint: https://{{ etcd.ip }}:{{ etcd.client_port }}
    - ca: {{ client.ca }}
    - cert: {{ client.cert }}
    - key: {{ client.key }}
    - require:
      - saltsphere_etcd: etcd-member-added-saltsphere-etcd-cluster-healthy
