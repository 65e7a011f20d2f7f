{#- Day 2: etcd back to a snapshot (disaster recovery), run by
    `saltsphere etcd restore SNAPSHOT`, or as
    `salt-run state.orchestrate kubesphere.etcd_restore pillar='{"saltsphere_etcd_restore":
    {"snapshot": "/abs/path/etcd-....db", "token": "saltsphere-restore-..."}}'`.
    The masters' control planes are parked, every member is restored at once
    (the taskbox gives the snapshot to etcd members in this phase only), the
    cluster must become healthy, the control planes come back and the API must
    answer; then the old data directories kept aside go.  Run again after an
    interruption with the same token: members restored already stay as they are. #}
{%- from 'kubesphere/map.jinja' import cluster with context %}
{%- set restore = salt['pillar.get']('saltsphere_etcd_restore', {}) %}
{%- if not (restore.get('snapshot') and restore.get('token')) %}
{{- raise("kubesphere.etcd_restore needs pillar saltsphere_etcd_restore:snapshot (a snapshot `saltsphere etcd backup` took) and :token (a new cluster token); run `saltsphere etcd restore SNAPSHOT`") }}
{%- endif %}
{#- Only the members' restore step carries the snapshot (the ext_pillar gives
    it to etcd members only). #}
{%- macro restore_pillar(snapshot=False) %}
    - pillar:
        saltsphere_orchestration:
          phase: etcd_restore
{%-   if snapshot %}
          snapshot: {{ restore.snapshot | json }}
          token: {{ restore.token | json }}
{%-   endif %}
{%- endmacro %}

include:
  - kubesphere.prepare

kubesphere-etcd-restore-control-plane-parked-salt-state:
  salt.state:
    - tgt: {{ cluster.masters | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: kubernetes.control_plane_parked
    - failhard: True
{{ restore_pillar() }}

kubesphere-etcd-restore-members-salt-state:
  salt.state:
    - tgt: {{ cluster.etcd | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: etcd.restore
    - failhard: True
{{ restore_pillar(snapshot=True) }}
    - require:
      - salt: kubesphere-etcd-restore-control-plane-parked-salt-state

kubesphere-etcd-restore-cluster-healthy-salt-state:
  salt.state:
    - tgt: {{ cluster.etcd | first }}
    - ssh: True
    - sls: etcd.cluster
    - failhard: True
{{ restore_pillar() }}
    - require:
      - salt: kubesphere-etcd-restore-members-salt-state

kubesphere-etcd-restore-control-plane-back-salt-state:
  salt.state:
    - tgt: {{ cluster.masters | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: kubernetes.control_plane_back
    - failhard: True
{{ restore_pillar() }}
    - require:
      - salt: kubesphere-etcd-restore-cluster-healthy-salt-state

kubesphere-etcd-restore-restored-salt-state:
  salt.state:
    - tgt: {{ cluster.etcd | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: etcd.restored
    - failhard: True
{{ restore_pillar() }}
    - require:
      - salt: kubesphere-etcd-restore-control-plane-back-salt-state
