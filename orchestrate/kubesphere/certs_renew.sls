{#- Day 2: every leaf certificate of the cluster issued again from the same
    CAs (`saltsphere certs renew`, or `salt-run state.orchestrate
    kubesphere.certs_renew`).  A snapshot of etcd first (kubesphere.etcd_backup;
    `saltsphere certs renew` takes it itself and names it in pillar
    saltsphere_certs_renew:backup); then the taskbox signs the etcd members',
    the API servers' etcd client and the operators' certificates again and
    writes .saltsphere/admin.conf anew (saltsphere_pki.renew); then each etcd
    member in turn takes its new certificates, restarts and must be healthy
    before the next one, and each master in turn has kubeadm renew its own and
    restarts its control plane, its API answering before the next one: with
    several masters the balancers always have the others.  No CA is made or
    replaced, and no CA key travels: the phase is not one that signs on a host
    with the taskbox's keys.  Renewing changes certificates by design; a plain
    `salt-run state.orchestrate kubesphere` afterwards changes nothing. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}
{%- set renew = salt['pillar.get']('saltsphere_certs_renew', {}) %}

include:
{%- if renew.get('backup') %}
  - kubesphere.prepare
{%- set backup = 'saltsphere_cluster: kubesphere-prepare-saltsphere-cluster-prepared' %}
{%- else %}
  - kubesphere.etcd_backup
{%- set backup = 'salt: kubesphere-etcd-backup-salt-runner' %}
{%- endif %}

kubesphere-certs-renew-saltsphere-pki-salt-runner:
  salt.runner:
    - name: saltsphere_pki.renew
    - failhard: True
    - require:
      - {{ backup }}
{#- Each step requires the one before it by name (a Jinja variable set in a
    loop does not outlive its iteration). #}
{%- for member in cluster.etcd %}

kubesphere-certs-renew-etcd-{{ member }}-salt-state:
  salt.state:
    - tgt: {{ member }}
    - ssh: True
    - sls: etcd.certs_renewed
    - failhard: True
{{ phase_pillar('certs_renew') }}
    - require:
      - salt: {{ 'kubesphere-certs-renew-etcd-' ~ loop.previtem ~ '-salt-state' if not loop.first
                 else 'kubesphere-certs-renew-saltsphere-pki-salt-runner' }}
{%- endfor %}

kubesphere-certs-renew-etcd-cluster-healthy-salt-state:
  salt.state:
    - tgt: {{ cluster.etcd | first }}
    - ssh: True
    - sls: etcd.cluster
    - failhard: True
{{ phase_pillar('certs_renew') }}
    - require:
      - salt: kubesphere-certs-renew-etcd-{{ cluster.etcd | last }}-salt-state
{%- for master in cluster.masters %}

kubesphere-certs-renew-master-{{ master }}-salt-state:
  salt.state:
    - tgt: {{ master }}
    - ssh: True
    - sls: kubernetes.certs_renewed
    - failhard: True
{{ phase_pillar('certs_renew') }}
    - require:
      - salt: {{ 'kubesphere-certs-renew-master-' ~ loop.previtem ~ '-salt-state' if not loop.first
                 else 'kubesphere-certs-renew-etcd-cluster-healthy-salt-state' }}
{%- endfor %}
