{#- Included by every role (and by every SLS the orchestration applies on its
    own): salt-ssh's copy of this run's pillar (keys, token, credentials) and
    compiled states leaves the host at the start of the run, once read (see
    the saltsphere_transport state module). #}
transport-wipe-saltsphere-transport-wiped:
  saltsphere_transport.wiped:
    - order: first
