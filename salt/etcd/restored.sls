{#- The end of a restore, once the cluster is healthy again: the data
    directory the restore kept aside goes (it holds the cluster's data as it
    was before, Secrets included). #}
{%- from 'etcd/map.jinja' import etcd with context %}

include:
  - transport.wipe

etcd-restored-saltsphere-etcd-snapshot-aside-absent:
  saltsphere_etcd_snapshot.aside_absent:
    - name: {{ etcd.data_dir }}
