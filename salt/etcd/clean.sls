{#- The mirror of etcd/init.sls: stop, unconfigure, uninstall, and the
    cluster's data goes (the reset: back it up first if it matters).  The
    runtime mask an interrupted install left goes too.  Parameters only, no
    cluster pillar: any host is cleaned alike. #}
{%- from 'etcd/map.jinja' import etcd with context %}
{%- set unit = etcd.service ~ '.service' %}

include:
  - transport.wipe
  - os.pkgdb

etcd-clean-service-dead:
  service.dead:
    - name: {{ etcd.service }}
    - enable: False

etcd-clean-cmd-run-unmask:
  cmd.run:
    - name: systemctl unmask --runtime {{ unit }}
    - onlyif: test -L {{ etcd.runtime_unit_dir }}/{{ unit }}

etcd-clean-file-absent-unit:
  file.absent:
    - name: /etc/systemd/system/{{ unit }}
    - require:
      - service: etcd-clean-service-dead

etcd-clean-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: etcd-clean-file-absent-unit
      - cmd: etcd-clean-cmd-run-unmask

etcd-clean-file-absent-conf:
  file.absent:
    - name: {{ etcd.conf_dir }}
    - require:
      - service: etcd-clean-service-dead

etcd-clean-pkg-purged:
  pkg.purged:
    - pkgs: {{ etcd.pkgs | json }}
    - require:
      - service: etcd-clean-service-dead
      - sls: os.pkgdb

etcd-clean-file-absent-data:
  file.absent:
    - names:
      - {{ etcd.data_dir }}
{%- for path in etcd.clean_dirs %}
      - {{ path }}
{%- endfor %}
    - require:
      - pkg: etcd-clean-pkg-purged
