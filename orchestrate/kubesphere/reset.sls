{#- Reset: what the install put on every host of hosts.ini goes, in the
    reverse of the install's order (`salt-run state.orchestrate
    kubesphere.reset`; `saltsphere reset` and `./install.sh --uninstall` ask
    first).  Each phase applies the clean states of one role
    (salt/<role>/clean.sls: parameters only, no cluster pillar, never part of
    the highstate) through salt-ssh (saltsphere_cluster.cleaned);
    `pillar='{"reset_phase": "etcd"}'` runs one phase alone.

    Kubernetes goes before the pod network's host side: until kubeadm reset
    has stopped kubelet and the pods, kube-proxy and kubelet make their
    chains again.  Nothing here is failhard and no phase requires another: a
    host that fails or cannot be reached is named, every other host is reset
    all the same, and a second run converges.  No prepare step: a reset
    creates nothing on the taskbox and needs no bundle. #}
{%- from 'kubesphere/map.jinja' import cluster with context %}
{%- set phases = [
      ('ks', cluster.masters, 'ks.clean'),
      ('storage', cluster.masters, 'storage.clean'),
      ('kubernetes', cluster.k8s, 'kubernetes.clean'),
      ('network', cluster.k8s, 'network.clean'),
      ('containerd', cluster.k8s, 'containerd.clean'),
      ('etcd', cluster.etcd, 'etcd.clean'),
      ('os', cluster.all, 'os.clean'),
    ] %}
{%- set only = salt['pillar.get']('reset_phase') %}
{%- if only and only not in phases | map('first') | list %}
{{- raise("reset_phase " ~ (only | json) ~ " is not a phase of the reset; one of: " ~ (phases | map('first') | join(', '))) }}
{%- endif %}
{%- for phase, targets, sls in phases if targets and (not only or only == phase) %}

kubesphere-reset-saltsphere-cluster-cleaned-{{ phase }}:
  saltsphere_cluster.cleaned:
    - name: {{ sls }}
    - hosts: {{ targets | json }}
{%- endfor %}
