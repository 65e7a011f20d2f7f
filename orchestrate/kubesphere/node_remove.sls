{#- Day 2: workers, masters and etcd members out of the running cluster
    (`saltsphere node remove HOST` asks first), or as `salt-run
    state.orchestrate kubesphere.node_remove
    pillar='{"saltsphere_node_remove": {"hosts": ["node3"]}}'`.  The cluster
    is asked which hosts those are (saltsphere.node_remove_plan): the last
    master, etcd members whose removal leaves the others without quorum, or a
    name neither hosts.ini nor the cluster knows stops the run here, before
    any host is touched.

    The first master that stays drains each Node (bounded in time; a Node
    that is not Ready, or whose host does not answer over SSH, has its pods
    deleted at once); an etcd member that stays removes the removed etcd
    members from etcd; each removed host that answers over SSH gets the
    reset's clean states (kubelet stopped by kubeadm reset, so it cannot
    register the Node again); then the Node is deleted.  On the hosts that
    stay only what names the removed hosts changes: the masters' API server
    drops removed etcd members from --etcd-servers (its static pod alone
    restarts, one master at a time), the load balancers drop removed
    masters, the routes to their pod ranges (bridge plugin) and their
    /etc/hosts lines go.  No kubelet, containerd or etcd restarts on them,
    and nothing is made on the taskbox (no prepare step); at the end the
    removed etcd members' certificates and keys leave it.  Every step
    converges: a removal stopped half way finishes when run again.  `step`
    runs one step alone (what the CLI does, a line of progress each). #}
{%- from 'kubesphere/map.jinja' import cluster with context %}
{%- set steps = ['drain', 'etcd', 'clean', 'delete', 'control-plane', 'routes', 'hosts'] %}
{%- set request = salt['pillar.get']('saltsphere_node_remove', {}) %}
{%- set only = request.get('step') %}
{%- if only and only not in steps %}
{{- raise("saltsphere_node_remove:step " ~ (only | json) ~ " is not a step of kubesphere.node_remove; one of: " ~ (steps | join(', '))) }}
{%- endif %}
{%- set plan = salt['saltutil.runner']('saltsphere.node_remove_plan', hosts=request.get('hosts'), probe=(only in (None, 'drain', 'clean'))) %}
{%- if 'return' in plan and 'result' not in plan %}
{%-   set plan = plan['return'] %}
{%- endif %}
{%- if not plan.get('result') %}
{{- raise(plan.get('comment') or ('saltsphere.node_remove_plan returned ' ~ (plan | json))) }}
{%- endif %}
{%- set first = plan.first_master %}
{%- set run = {} %}
{%- for step in steps %}
{%-   do run.update({step: not only or only == step}) %}
{%- endfor %}
{%- macro step(id, targets, sls, after=None) %}

kubesphere-node-remove-{{ id }}-salt-state:
  salt.state:
    - tgt: {{ targets | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: {{ sls }}
    - failhard: True
    - pillar:
        saltsphere_orchestration:
          phase: node_remove
          removed: {{ plan.removed | json }}
          waiting: {{ plan.waiting | json }}
          unreachable: {{ plan.not_cleaned | list | json }}
          etcd_removed: {{ plan.etcd_removed | json }}
          etcd_servers: {{ plan.etcd_servers | json }}
{%-   if after %}
    - require:
      - salt: kubesphere-node-remove-{{ after }}-salt-state
{%-   endif %}
{%- endmacro %}
{%- if run.drain %}
{{ step('drain', [first], 'kubernetes.nodes_drained') }}
{%- endif %}
{%- if run.etcd and plan.etcd_removed %}
{{ step('etcd', [plan.etcd_peer], 'etcd.members_absent', 'drain' if run.drain else None) }}
{%- elif run.etcd %}

kubesphere-node-remove-etcd-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: no etcd member to remove
{%- endif %}
{%- if run.clean %}
{#- One salt-ssh run per host: the roles' clean states in the reset's order. #}
{%-   for kind, hosts in (('etcd', plan.clean | select('in', plan.etcd_removed) | list),
                          ('k8s', plan.clean | reject('in', plan.etcd_removed) | list)) if hosts %}

kubesphere-node-remove-clean-saltsphere-cluster-cleaned{{ '-etcd' if kind == 'etcd' else '' }}:
  saltsphere_cluster.cleaned:
    - name: kubernetes.clean,network.clean,containerd.clean,{{ 'etcd.clean,' if kind == 'etcd' else '' }}os.clean
    - hosts: {{ hosts | json }}
    - failhard: True
{%-   endfor %}
{%-   if plan.not_cleaned %}

kubesphere-node-remove-clean-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: {{ ('not cleaned (no SSH to them): ' ~ (plan.not_cleaned | dictsort | map('join', ': ') | join('; '))) | json }}
{%-   endif %}
{%- endif %}
{%- if run.delete %}
{{ step('delete', [first], 'kubernetes.nodes_absent', 'drain' if run.drain else None) }}
{%- endif %}
{%- if run['control-plane'] %}
{#-   One master after the other: each API server restarts alone. #}
{%-   set chain = {'after': 'delete' if run.delete else None} %}
{%-   if plan.etcd_removed %}
{%-     for master in plan.masters %}
{{ step('control-plane-' ~ master, [master], 'kubernetes.apiserver_etcd', chain.after) }}
{%-       do chain.update({'after': 'control-plane-' ~ master}) %}
{%-     endfor %}
{%-   endif %}
{%-   if plan.masters_removed and plan.k8s_members %}
{{ step('control-plane-load-balancer', plan.k8s_members, 'kubernetes.load_balancer_config', chain.after) }}
{%-   elif not plan.etcd_removed or not plan.masters %}

kubesphere-node-remove-control-plane-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: no master or etcd member removed; the control plane stays as it is
{%-   endif %}
{%- endif %}
{%- if run.routes and plan.network_plugin == 'bridge' and plan.k8s_members %}
{{ step('routes', plan.k8s_members, 'network.bridge_routes', 'delete' if run.delete else None) }}
{%- elif run.routes %}

kubesphere-node-remove-routes-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: no pod route to change (network plugin {{ plan.network_plugin }})
{%- endif %}
{%- if run.hosts and plan.members %}
{{ step('hosts', plan.members, 'os.hosts') }}
{%- elif run.hosts %}

kubesphere-node-remove-hosts-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: no other host of hosts.ini is in the cluster
{%- endif %}
{%- if run.hosts and plan.etcd_removed %}

{#- Last: the removed members' pairs on the taskbox (a step before may still
    compile a removed host's pillar, which reads them). #}
kubesphere-node-remove-hosts-saltsphere-cluster-certs-retired:
  saltsphere_cluster.certs_retired:
    - name: {{ (plan.etcd_removed | list | join(',')) | json }}
    - hosts: {{ plan.etcd_removed | list | json }}
{%-   if plan.members %}
    - require:
      - salt: kubesphere-node-remove-hosts-salt-state
{%-   endif %}
{%- endif %}
