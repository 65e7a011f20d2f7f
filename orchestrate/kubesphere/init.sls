{#- The whole install, phase after phase; each phase also runs alone as
    `salt-run state.orchestrate kubesphere.<phase>`.  The preflight changes
    nothing; then the prepare step (included by every other phase) makes what
    the run needs on the taskbox.  A failed phase stops the run (failhard);
    fix the cause and run again: every phase converges. #}
include:
  - kubesphere.preflight
  - kubesphere.os
  - kubesphere.etcd
  - kubesphere.containerd
  - kubesphere.kubernetes
  - kubesphere.network
  - kubesphere.storage
  - kubesphere.ks
