{#- Every orchestration's first step, on the taskbox: the certificates,
    secrets and signed package index the run needs (made once, then only
    checked), and the bundle served to the hosts until this run ends.
    Nothing on any host changes here.  `pillar='{"ignore_host_keys": true}'`
    accepts hosts' SSH keys not yet known, as salt-ssh -i does. #}
kubesphere-prepare-saltsphere-cluster-prepared:
  saltsphere_cluster.prepared:
    - name: {{ opts.get('roster_file', 'hosts.ini') | json }}
    - ignore_host_keys: {{ salt['pillar.get']('ignore_host_keys', opts.get('ignore_host_keys', False)) | json }}
    - failhard: True
