{#- The preflight phase: every host checked, nothing changed.  Fails (and
    stops an orchestration that requires it) when any check fails; the
    runner's return holds the table of hosts and checks with every fix.
    `pillar='{"ignore_host_keys": true}'` accepts hosts' SSH keys not yet
    known, as salt-ssh -i does. #}
kubesphere-preflight-saltsphere_preflight-run:
  salt.runner:
    - name: saltsphere_preflight.run
    - ignore_host_keys: {{ salt['pillar.get']('ignore_host_keys', opts.get('ignore_host_keys', False)) | json }}
    - failhard: True
