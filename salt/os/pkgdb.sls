{#- Every package state of every role requires this one, so that a host that
    went down in the middle of an install converges on the next run with no
    manual `dpkg --configure -a`.  It does nothing (and reports nothing) on a
    healthy package database. #}
{%- from 'os/map.jinja' import os with context %}

os-pkgdb-cmd-run-finish-interrupted:
  cmd.run:
    - name: {{ os.pkg_finish_interrupted | json }}
    - onlyif: {{ os.pkg_interrupted | json }}
    - env:
      - DEBIAN_FRONTEND: noninteractive
