{%- from 'etcd/map.jinja' import etcd with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}

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
      - saltsphere_packages: etcd-package-saltsphere-packages-installed

etcd-package-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs: {{ etcd.pkgs | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb

etcd-package-file-absent-policy-rc:
  file.absent:
    - name: /usr/sbin/policy-rc.d
    - onchanges:
      - saltsphere_packages: etcd-package-saltsphere-packages-installed
