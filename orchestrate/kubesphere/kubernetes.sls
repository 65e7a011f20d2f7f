{#- Phase: Kubernetes with kubeadm.  Every host prepares at once (binaries,
    images, kubelet, load balancer, certificates, kubeadm configuration); the
    first master initialises the cluster; the other masters join one at a time;
    then the nodes join together. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}

include:
  - kubesphere.prepare
{%- set first = cluster.masters[0] %}
{%- set workers = cluster.nodes | reject('in', cluster.masters) | list %}

kubesphere-kubernetes-prepare-salt-state:
  salt.state:
    - tgt: {{ cluster.k8s | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: kubernetes.prepare
    - failhard: True
{{ phase_pillar('kubernetes') }}

kubesphere-kubernetes-init-salt-state:
  salt.state:
    - tgt: {{ first }}
    - tgt_type: list
    - ssh: True
    - sls: kubernetes.control_plane
    - failhard: True
{{ phase_pillar('kubernetes') }}
    - require:
      - salt: kubesphere-kubernetes-prepare-salt-state
{#- Each join requires the step before it; a namespace, as a plain variable set
    in a loop does not outlive its iteration. #}
{%- set chain = namespace(previous='kubesphere-kubernetes-init-salt-state') %}

{%- for master in cluster.masters[1:] %}

kubesphere-kubernetes-join-master-{{ master }}-salt-state:
  salt.state:
    - tgt: {{ master }}
    - tgt_type: list
    - ssh: True
    - sls: kubernetes.control_plane
    - failhard: True
{{ phase_pillar('kubernetes') }}
    - require:
      - salt: {{ chain.previous }}
{%-   set chain.previous = 'kubesphere-kubernetes-join-master-' ~ master ~ '-salt-state' %}
{%- endfor %}
{%- if workers %}

kubesphere-kubernetes-join-nodes-salt-state:
  salt.state:
    - tgt: {{ workers | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: kubernetes.node
    - failhard: True
{{ phase_pillar('kubernetes') }}
    - require:
      - salt: {{ chain.previous }}
{%- endif %}
