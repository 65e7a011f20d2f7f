{#- Day 2: workers of hosts.ini that are not members yet join the running
    cluster (`saltsphere node add` and `./install.sh --add-nodes` ask first),
    or as `salt-run state.orchestrate kubesphere.node_add
    pillar='{"saltsphere_node_add": {"hosts": ["node3"]}}'` (no hosts: every
    host of hosts.ini that is not a member yet).  The cluster is asked which
    hosts those are (saltsphere.node_add_plan); a host of [kube-master] or
    [etcd], one already a member or one not in hosts.ini stops the run here,
    before any host is touched.

    The host-local phases run on the new hosts only; on the hosts in the
    cluster only what a new node changes there: /etc/hosts and, with the
    bridge plugin, the route to the new pod ranges.  No service restarts on
    them.  The first master makes the bootstrap token for the joins and
    deletes it once they are done.  `step` runs one step alone (what the
    CLI does, a line of progress each); a step after the preflight accepts
    named hosts that joined already, so a run stopped half way converges. #}
{%- from 'kubesphere/map.jinja' import cluster with context %}
{%- set steps = ['preflight', 'os', 'containerd', 'kubernetes', 'network', 'storage'] %}
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
{%- set first = cluster.masters[0] %}
{%- set k8s_members = plan.members | select('in', cluster.k8s) | list %}
{%- set run = {} %}
{%- for step in steps %}
{%-   do run.update({step: (new | length > 0) and (not only or only == step)}) %}
{%- endfor %}
{%- set prepared = (new | length > 0) and only != 'preflight' %}
{%- macro step_pillar(phase) %}
    - pillar:
        saltsphere_orchestration:
          phase: {{ phase }}
          node_add: True
          waiting: {{ plan.waiting | json }}
{%-   if phase in ('network', 'storage') %}
          kubernetes_converged: True
{%-   endif %}
{%- endmacro %}
{%- macro step(id, phase, targets, sls, after=None) %}

kubesphere-node-add-{{ id }}-salt-state:
  salt.state:
    - tgt: {{ targets | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: {{ sls }}
    - failhard: True
{{ step_pillar(phase) }}
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
{%-   if run.containerd %}
{{ step('containerd', 'containerd', new, 'containerd') }}
{%-   endif %}
{%-   if run.kubernetes %}
{{ step('kubernetes-prepare', 'kubernetes', new, 'kubernetes.prepare') }}
{{ step('kubernetes-token-made', 'kubernetes', [first], 'kubernetes.token', 'kubernetes-prepare') }}
{{ step('kubernetes-join', 'kubernetes', new, 'kubernetes.node', 'kubernetes-token-made') }}
{{ step('kubernetes-token-gone', 'kubernetes', [first], 'kubernetes.token', 'kubernetes-join') }}
{%-   endif %}
{%-   if run.network %}
{{ step('network', 'network', new, 'network') }}
{%-     if plan.network_plugin == 'bridge' and k8s_members %}
{{ step('network-routes', 'network', k8s_members, 'network.bridge_routes', 'network') }}
{%-     endif %}
{%-   endif %}
{%-   if run.storage %}
{{ step('storage', 'storage', new, 'storage') }}
{%-   endif %}
{%- endif %}
