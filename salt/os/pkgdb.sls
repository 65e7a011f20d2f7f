{#- The package manager, ready to install: every package state of every role
    requires this SLS.

    A host that went down in the middle of an install converges on the next
    run with no manual `dpkg --configure -a`: the work dpkg left half done is
    finished first (only then: nothing runs on a healthy host).

    Packages from the bundle need no apt source on the host (see
    os/bundle.jinja and saltsphere_packages); the source, apt configuration
    and stamp that earlier versions wrote are removed where found. #}
{%- from 'os/map.jinja' import os with context %}

os-pkgdb-cmd-run-finish-interrupted:
  cmd.run:
    - name: {{ os.pkg_finish_interrupted | json }}
    - onlyif: {{ os.pkg_interrupted | json }}
    - env:
      - DEBIAN_FRONTEND: noninteractive
{%- for what, path in os.pkg_retired_files | dictsort %}

os-pkgdb-file-absent-{{ what }}:
  file.absent:
    - name: {{ path | json }}
{%- endfor %}
