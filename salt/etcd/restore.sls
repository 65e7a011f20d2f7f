{#- Disaster recovery, applied by the kubesphere.etcd_restore orchestration
    to every member at once (the API servers are parked by then): etcd stops,
    the member's data directory is restored from the snapshot the taskbox put
    in this phase's pillar (same name and peer URL, the restore's own cluster
    token), and etcd starts on it.  etcd.env keeps ETCD_INITIAL_CLUSTER_STATE
    and its token: etcd reads them only for an empty data directory. #}
{%- from 'etcd/map.jinja' import etcd with context %}
{%- set initial = [] %}
{%- for member in etcd.members %}
{%-   do initial.append(member.name ~ '=https://' ~ member.ip ~ ':' ~ etcd.peer_port) %}
{%- endfor %}

include:
  - transport.wipe

etcd-restore-service-dead:
  service.dead:
    - name: {{ etcd.service }}

etcd-restore-saltsphere-etcd-snapshot-restored:
  saltsphere_etcd_snapshot.restored:
    - name: {{ etcd.data_dir }}
    - snapshot_pillar: saltsphere:etcd_restore
    - member: {{ etcd.name }}
    - initial_cluster: {{ initial | join(',') }}
    - peer_url: https://{{ etcd.ip }}:{{ etcd.peer_port }}
    - user: {{ etcd.user }}
    - etcdctl: {{ etcd.etcdctl }}
    - require:
      - service: etcd-restore-service-dead

etcd-restore-service-running:
  service.running:
    - name: {{ etcd.service }}
    - enable: True
    - require:
      - saltsphere_etcd_snapshot: etcd-restore-saltsphere-etcd-snapshot-restored
