{#- Whether this run of the whole install would change anything, asked after
    the prepare step: once a complete run is recorded, every host's states
    under test=True in one salt-ssh call.  When nothing would change, the
    phases are skipped: each of their steps runs `onchanges` of this state
    (added below, for the phases this run includes; run alone, this
    orchestration only asks).  Before the first complete run, and whenever
    a host would change or cannot be planned, every phase runs. #}
include:
  - kubesphere.prepare

kubesphere-planned-saltsphere-cluster-planned:
  saltsphere_cluster.planned:
    - name: {{ opts.get('roster_file', 'hosts.ini') | json }}
    - require:
      - saltsphere_cluster: kubesphere-prepare-saltsphere-cluster-prepared
    - onchanges_in:
{%- for phase in ('os', 'etcd', 'containerd', 'kubernetes', 'network', 'storage', 'ks') %}
      - sls: kubesphere.{{ phase }}
{%- endfor %}
