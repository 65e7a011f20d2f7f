{%- from 'etcd/map.jinja' import etcd with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}
{%- set unit = etcd.service ~ '.service' %}
{%- set mask = etcd.runtime_unit_dir ~ '/' ~ unit %}

include:
  - os.pkgdb

{#- The distribution's package starts etcd as soon as it is installed, with
    its own configuration; a runtime mask keeps it from starting until ours
    is in place.  It is taken only when the package is about to be installed
    and lives in /run, so neither a failed run nor a host cut mid-install can
    keep it past a reboot; a mask left by a run cut after the install is
    released at the start of the next one. #}
etcd-package-cmd-run-unmask-interrupted:
  cmd.run:
    - name: systemctl unmask --runtime {{ unit }}
    - onlyif:
      - fun: file.is_link
        path: {{ mask | json }}
    - unless:
      - fun: saltsphere_packages.missing
        pkgs: {{ etcd.pkgs | json }}
    - require:
      - sls: os.pkgdb

{#- The policy-rc.d earlier versions held etcd with could be left behind,
    and then no service starts on the host again; only one with exactly
    their content is removed, another may be an operator's. #}
etcd-package-file-absent-retired-policy-rc:
  file.absent:
    - name: {{ etcd.retired_policy_rc | json }}
    - onlyif: >-
        test "$(cat {{ etcd.retired_policy_rc }} 2>/dev/null)" = "$(printf '#!/bin/sh\nexit 101')"

etcd-package-cmd-run-mask:
  cmd.run:
    - name: systemctl mask --runtime {{ unit }}
    - prereq:
      - saltsphere_packages: etcd-package-saltsphere-packages-installed

etcd-package-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs: {{ etcd.pkgs | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb
      - cmd: etcd-package-cmd-run-unmask-interrupted
      - file: etcd-package-file-absent-retired-policy-rc

etcd-package-cmd-run-unmask:
  cmd.run:
    - name: systemctl unmask --runtime {{ unit }}
    - onchanges:
      - saltsphere_packages: etcd-package-saltsphere-packages-installed
