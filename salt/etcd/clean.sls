{#- The mirror of etcd/init.sls: stop, unconfigure, uninstall.  The data
    directory is kept; remove it by hand to discard the cluster's data. #}
{%- from 'etcd/map.jinja' import etcd with context %}

etcd-clean-service-dead:
  service.dead:
    - name: {{ etcd.service }}
    - enable: False

etcd-clean-file-absent-unit:
  file.absent:
    - name: /etc/systemd/system/{{ etcd.service }}.service
    - require:
      - service: etcd-clean-service-dead

etcd-clean-file-absent-conf:
  file.absent:
    - name: {{ etcd.conf_dir }}
    - require:
      - service: etcd-clean-service-dead

etcd-clean-pkg-removed:
  pkg.removed:
    - pkgs: {{ etcd.pkgs | json }}
    - require:
      - file: etcd-clean-file-absent-conf
