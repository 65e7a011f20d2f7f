{#- Day 2: hosts of hosts.ini that are not members yet join the running
    cluster (`saltsphere node add` and `./install.sh --add-nodes` ask first),
    or as `salt-run state.orchestrate kubesphere.node_add
    pillar='{"saltsphere_node_add": {"hosts": ["node3"]}}'` (no hosts: every
    host of hosts.ini that is not a member yet).  The cluster is asked which
    hosts those are (saltsphere.node_add_plan); one already a member, one not
    in hosts.ini, the first master of hosts.ini or an etcd host with no etcd
    member running stops the run here, before any host is touched.

    The host-local phases run on the new hosts only.  A new etcd member is
    added by a running member (etcdctl member add) and then started with
    ETCD_INITIAL_CLUSTER_STATE=existing, one member after the other.  New
    masters join as control planes one at a time.  On the hosts in the
    cluster only what a new host changes there: /etc/hosts, with the bridge
    plugin the route to the new pod ranges, for a new etcd member the
    masters' --etcd-servers (the API server alone restarts, one master at a
    time), for a new master the load balancers' backends.  No kubelet,
    containerd or etcd restarts on them.  The first running master makes the
    bootstrap token for the joins and deletes it once they are done.  `step` runs one step alone (what the
    CLI does, a line of progress each); a step after the preflight accepts
    named hosts that joined already, so a run stopped half way converges. #}
{%- from 'kubesphere/map.jinja' import cluster with context %}
{%- set steps = ['preflight', 'os', 'etcd', 'containerd', 'kubernetes', 'network', 'storage'] %}
{%- set request = salt['pillar.get']('saltsphere_node_add', {}) %}
{%- set only = request.get('step') %}
{%- if only and only not in steps %}
{{- raise("saltsphere_node_add:step " ~ (only | json) ~ " is not a step of kubesphere.node_add; one of: " ~ (steps | join(', '))) }}
{%- endif %}
{%- set plan = salt['saltutil.runner']('saltsphere.node_add_plan', hosts=request.get('hosts'), again=(only not in (None, 'preflight'))) %}
{%- if 'return' in plan and 'result' not in plan %}
{%-   set plan = plan['return'] %}
{%- endif %}
{%- if not plan.get('result') %}
{{- raise(plan.get('comment') or ('saltsphere.node_add_plan returned ' ~ (plan | json))) }}
{%- endif %}
{%- set new = plan.add %}
{%- set first = plan.first_master %}
{%- set k8s_members = plan.members | select('in', cluster.k8s) | list %}
{%- set new_k8s = new | select('in', cluster.k8s) | list %}
{%- set run = {} %}
{%- for step in steps %}
{%-   do run.update({step: (new | length > 0) and (not only or only == step)}) %}
{%- endfor %}
{%- set prepared = (new | length > 0) and only != 'preflight' %}
{%- macro step_pillar(phase, adding=None) %}
    - pillar:
        saltsphere_orchestration:
          phase: {{ phase }}
          node_add: True
          waiting: {{ plan.waiting | json }}
          etcd_join: {{ plan.etcd_join | json }}
          etcd_servers: {{ plan.etcd_servers | json }}
{%-   if adding %}
          etcd_adding: {{ adding | json }}
{%-   endif %}
{%-   if phase in ('network', 'storage') %}
          kubernetes_converged: True
{%-   endif %}
{%- endmacro %}
{%- macro step(id, phase, targets, sls, after=None, adding=None) %}

kubesphere-node-add-{{ id }}-salt-state:
  salt.state:
    - tgt: {{ targets | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: {{ sls }}
    - failhard: True
{{ step_pillar(phase, adding) }}
{%-   if after %}
    - require:
      - salt: kubesphere-node-add-{{ after }}-salt-state
{%-   endif %}
{%- endmacro %}
{%- if not new %}

kubesphere-node-add-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: {{ plan.comment | json }}
{%- else %}
{%-   if prepared %}

include:
  - kubesphere.prepare
{%-   endif %}
{%-   if run.preflight %}

{#- The new hosts' own checks, and every host against them (duplicate names,
    addresses and machine ids, clocks, reach); nothing changes anywhere. #}
kubesphere-node-add-preflight-saltsphere-cluster-preflight-passed:
  saltsphere_cluster.preflight_passed:
    - name: {{ opts.get('roster_file', 'hosts.ini') | json }}
    - hosts: {{ new | json }}
    - ignore_host_keys: {{ salt['pillar.get']('ignore_host_keys', opts.get('ignore_host_keys', False)) | json }}
    - failhard: True
{%-     if prepared %}
    - require_in:
      - saltsphere_cluster: kubesphere-prepare-saltsphere-cluster-prepared
{%-     endif %}
{%-   endif %}
{%-   if run.os %}
{{ step('os', 'os', new, 'os') }}
{%-     if plan.members %}
{{ step('os-hosts', 'os', plan.members, 'os.hosts', 'os') }}
{%-     endif %}
{%-   endif %}
{%-   if run.etcd and plan.etcd_add %}
{#-   One member after the other: added by a running member, then started. #}
{%-     set chain = namespace(previous=None) %}
{%-     for member in plan.etcd_add %}
{{ step('etcd-member-added-' ~ member, 'etcd', [plan.etcd_peer], 'etcd.member_added', chain.previous, member) }}
{{ step('etcd-' ~ member, 'etcd', [member], 'etcd', 'etcd-member-added-' ~ member) }}
{%-       set chain.previous = 'etcd-' ~ member %}
{%-     endfor %}
{{ step('etcd-cluster-healthy', 'etcd', [plan.etcd_peer], 'etcd.cluster', chain.previous) }}
{%-   elif run.etcd %}

kubesphere-node-add-etcd-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: no etcd member to add
{%-   endif %}
{%-   if run.containerd and new_k8s %}
{{ step('containerd', 'containerd', new_k8s, 'containerd') }}
{%-   endif %}
{%-   if run.kubernetes and new_k8s %}
{%-     set workers = new_k8s | reject('in', plan.masters_add) | list %}
{{ step('kubernetes-prepare', 'kubernetes', new_k8s, 'kubernetes.prepare') }}
{{ step('kubernetes-token-made', 'kubernetes', [first], 'kubernetes.token', 'kubernetes-prepare') }}
{%-     set chain = namespace(previous='kubernetes-token-made') %}
{%-     for master in plan.masters_add %}
{{ step('kubernetes-join-master-' ~ master, 'kubernetes', [master], 'kubernetes.control_plane', chain.previous) }}
{%-       set chain.previous = 'kubernetes-join-master-' ~ master %}
{%-     endfor %}
{%-     if workers %}
{{ step('kubernetes-join', 'kubernetes', workers, 'kubernetes.node', chain.previous) }}
{%-       set chain.previous = 'kubernetes-join' %}
{%-     endif %}
{{ step('kubernetes-token-gone', 'kubernetes', [first], 'kubernetes.token', chain.previous) }}
{#-     The running masters' API servers, one at a time, then the load balancers. #}
{%-     set chain.previous = 'kubernetes-token-gone' %}
{%-     if plan.etcd_add %}
{%-       for master in plan.masters %}
{{ step('kubernetes-apiserver-etcd-' ~ master, 'kubernetes', [master], 'kubernetes.apiserver_etcd', chain.previous) }}
{%-         set chain.previous = 'kubernetes-apiserver-etcd-' ~ master %}
{%-       endfor %}
{%-     endif %}
{%-     if plan.masters_add and k8s_members %}
{{ step('kubernetes-load-balancer', 'kubernetes', k8s_members, 'kubernetes.load_balancer_config', chain.previous) }}
{%-     endif %}
{%-   endif %}
{%-   if run.network and new_k8s %}
{{ step('network', 'network', new_k8s, 'network') }}
{%-     if plan.network_plugin == 'bridge' and k8s_members %}
{{ step('network-routes', 'network', k8s_members, 'network.bridge_routes', 'network') }}
{%-     endif %}
{%-   endif %}
{%-   if run.storage and new_k8s %}
{{ step('storage', 'storage', new_k8s, 'storage') }}
{%-   endif %}
{%- endif %}
