{#- Day 2: a snapshot of etcd onto the taskbox (`saltsphere etcd backup`
    runs the same runner), checked and kept private in .saltsphere/backups/
    with its sha256; the day-2 verbs that risk the cluster include this first. #}
include:
  - kubesphere.prepare

kubesphere-etcd-backup-salt-runner:
  salt.runner:
    - name: saltsphere_etcd.backup
    - ignore_host_keys: {{ salt['pillar.get']('ignore_host_keys', opts.get('ignore_host_keys', False)) | json }}
    - failhard: True
    - require:
      - saltsphere_cluster: kubesphere-prepare-saltsphere-cluster-prepared
