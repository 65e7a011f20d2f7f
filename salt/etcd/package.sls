{%- from 'etcd/map.jinja' import etcd with context %}
{%- from 'os/bundle.jinja' import pkg_refresh, pkg_recommends, pkg_env with context %}

include:
  - os.pkgdb

{#- The distribution's package starts etcd with its own configuration as
    soon as it is installed; keep it from starting until ours is in place. #}
etcd-package-file-managed-policy-rc:
  file.managed:
    - name: /usr/sbin/policy-rc.d
    - mode: '0755'
    - contents: |
        #!/bin/sh
        exit 101
    - prereq:
      - pkg: etcd-package-pkg-installed

etcd-package-pkg-installed:
  pkg.installed:
    - refresh: {{ pkg_refresh | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - env: {{ pkg_env | json }}
    - pkgs: {{ etcd.pkgs | json }}
    - require:
      - sls: os.pkgdb

etcd-package-file-absent-policy-rc:
  file.absent:
    - name: /usr/sbin/policy-rc.d
    - onchanges:
      - pkg: etcd-package-pkg-installed
