{#- The whole install, phase after phase; each phase also runs alone as
    `salt-run state.orchestrate kubesphere.<phase>`.  The preflight changes
    nothing; then the prepare step (included by every other phase) makes what
    the run needs on the taskbox.  Once a run of every phase completed (the
    last step records it), a later run asks every host whether anything would
    change before the phases (kubesphere.planned), and skips them when nothing
    would.  A failed phase stops the run (failhard); fix the cause and run
    again: every phase converges. #}
include:
  - kubesphere.preflight
  - kubesphere.planned
  - kubesphere.os
  - kubesphere.etcd
  - kubesphere.containerd
  - kubesphere.kubernetes
  - kubesphere.network
  - kubesphere.storage
  - kubesphere.ks

kubesphere-completed-saltsphere-cluster-completed:
  saltsphere_cluster.completed:
    - name: {{ opts.get('roster_file', 'hosts.ini') | json }}
    - require:
      - sls: kubesphere.ks
