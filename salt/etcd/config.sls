{%- from 'etcd/map.jinja' import etcd with context %}
{%- set tls = salt['pillar.get']('saltsphere:etcd', {}) %}
{#- ETCD_INITIAL_CLUSTER*: etcd reads them only to start an empty data
    directory.  A bootstrap member starts with the members of hosts.ini and
    "new"; a member that joins a running cluster (kubesphere.node_add,
    saltsphere_orchestration:etcd_join) with the members etcd listed when it
    was added and "existing".  Once a member has data, its file keeps what it
    was started with, so a change of membership never rewrites (and
    restarts) the members already running. #}
{%- set env_file = etcd.conf_dir ~ '/etcd.env' %}
{%- set initial = [] %}
{%- for member in etcd.members %}
{%-   do initial.append(member.name ~ '=https://' ~ member.ip ~ ':' ~ etcd.peer_port) %}
{%- endfor %}
{%- set bootstrap = {'cluster': initial | join(','), 'state': 'new'} %}
{%- set join = salt['pillar.get']('saltsphere_orchestration:etcd_join:' ~ etcd.name, {}) %}
{%- if join %}
{%-   do bootstrap.update({'cluster': join.initial_cluster, 'state': 'existing'}) %}
{%- endif %}
{%- if salt['file.directory_exists'](etcd.data_dir ~ '/member') and salt['file.file_exists'](env_file) %}
{%-   for line in salt['file.read'](env_file).splitlines() %}
{%-     if line.startswith('ETCD_INITIAL_CLUSTER=') %}
{%-       do bootstrap.update({'cluster': line.split('=', 1)[1]}) %}
{%-     elif line.startswith('ETCD_INITIAL_CLUSTER_STATE=') %}
{%-       do bootstrap.update({'state': line.split('=', 1)[1]}) %}
{%-     endif %}
{%-   endfor %}
{%- endif %}

include:
  - .package

etcd-config-file-directory-pki:
  file.directory:
    - name: {{ etcd.pki_dir }}
    - user: root
    - group: {{ etcd.user }}
    - mode: '0750'
    - makedirs: True
    - require:
      - saltsphere_packages: etcd-package-saltsphere-packages-installed
      - saltsphere_certs: etcd-config-saltsphere-certs-ca-kept

{#- A member that trusts another CA than this taskbox's is never handed this one. #}
etcd-config-saltsphere-certs-ca-kept:
  saltsphere_certs.ca_kept:
    - name: {{ etcd.pki_dir }}/ca.crt
    - contents: {{ tls.ca | json }}

etcd-config-file-managed-ca:
  file.managed:
    - name: {{ etcd.pki_dir }}/ca.crt
    - contents: {{ tls.ca | json }}
    - mode: '0644'
    - require:
      - file: etcd-config-file-directory-pki

{%- for pair, group in (('peer', etcd.user), ('server', etcd.user), ('healthcheck', 'root')) %}

etcd-config-file-managed-{{ pair }}-cert:
  file.managed:
    - name: {{ etcd.pki_dir }}/{{ pair }}.crt
    - contents: {{ tls[pair].cert | json }}
    - mode: '0644'
    - require:
      - file: etcd-config-file-directory-pki

etcd-config-file-managed-{{ pair }}-key:
  file.managed:
    - name: {{ etcd.pki_dir }}/{{ pair }}.key
    - contents: {{ tls[pair].key | json }}
    - user: root
    - group: {{ group }}
    - mode: '0640'
    - show_changes: False
    - require:
      - file: etcd-config-file-directory-pki
{%- endfor %}

etcd-config-file-directory-data:
  file.directory:
    - name: {{ etcd.data_dir }}
    - user: {{ etcd.user }}
    - group: {{ etcd.user }}
    - mode: '0700'
    - makedirs: True
    - require:
      - saltsphere_packages: etcd-package-saltsphere-packages-installed

etcd-config-file-managed-env:
  file.managed:
    - name: {{ etcd.conf_dir }}/etcd.env
    - source: salt://etcd/files/etcd.env.jinja
    - template: jinja
    - mode: '0644'
    - makedirs: True
    - context:
        etcd: {{ etcd | json }}
        bootstrap: {{ bootstrap | json }}

etcd-config-file-managed-unit:
  file.managed:
    - name: /etc/systemd/system/{{ etcd.service }}.service
    - source: salt://etcd/files/etcd.service.jinja
    - template: jinja
    - mode: '0644'
    - context:
        etcd: {{ etcd | json }}

{#- Checked against systemd itself rather than on file changes, so that a run
    interrupted after writing the unit still gets it loaded next time. #}
etcd-config-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onlyif: >-
        test "$(systemctl show -p NeedDaemonReload --value {{ etcd.service }})" = yes
        -o "$(systemctl show -p FragmentPath --value {{ etcd.service }})" != /etc/systemd/system/{{ etcd.service }}.service
    - require:
      - file: etcd-config-file-managed-unit
