{#- On a master, for `kubesphere.node_remove` and `kubesphere.node_add`: the
    API server talks to the etcd members of the cluster
    (saltsphere_orchestration:etcd_servers).  Only the API server's static
    pod restarts, and the orchestration changes one master at a time.  No
    bundle server is needed: saltsphere:kubernetes only. #}
{%- set cluster = salt['pillar.get']('saltsphere:kubernetes', {}) %}
{%- set servers = salt['pillar.get']('saltsphere_orchestration:etcd_servers', []) %}
{%- if not cluster.get('api_servers') %}
{{- raise("no saltsphere:kubernetes pillar for this host: it is no master in hosts.ini") }}
{%- endif %}
{%- if not servers %}
{{- raise("kubernetes.apiserver_etcd needs saltsphere_orchestration:etcd_servers, the etcd client URLs") }}
{%- endif %}

include:
  - transport.wipe

kubernetes-apiserver-etcd-saltsphere-kubernetes-apiserver-etcd-servers:
  saltsphere_kubernetes.apiserver_etcd_servers:
    - name: /etc/kubernetes/manifests/kube-apiserver.yaml
    - servers: {{ servers | json }}
    - endpoint: 127.0.0.1:{{ cluster.api_servers[0].rsplit(':', 1)[1] }}
    - wait: {{ cluster.wait_seconds }}
