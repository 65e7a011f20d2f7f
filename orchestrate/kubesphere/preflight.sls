{#- The preflight phase: every host checked, nothing changed anywhere (not
    even on the taskbox: it runs before the prepare step, so that a host that
    cannot be reached is reported in the table, with every other finding).
    Fails (and stops an orchestration that requires it) when any check fails;
    its comment is the table of hosts and checks with every fix, and
    `failures` lists them.  `pillar='{"ignore_host_keys": true}'` accepts
    hosts' SSH keys not yet known, as salt-ssh -i does. #}
kubesphere-preflight-saltsphere-cluster-preflight-passed:
  saltsphere_cluster.preflight_passed:
    - name: {{ opts.get('roster_file', 'hosts.ini') | json }}
    - ignore_host_keys: {{ salt['pillar.get']('ignore_host_keys', opts.get('ignore_host_keys', False)) | json }}
    - failhard: True
