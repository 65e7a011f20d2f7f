{#- A master: the first one initialises the cluster, the others join it as
    control planes, one at a time under the orchestration.  Each one's
    certificates are signed locally from the shared CAs (kubernetes.pki). #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster, host with context %}

include:
  - kubernetes.prepare

{%- if cluster.role == 'init' %}
kubernetes-control-plane-saltsphere-kubernetes-initialized:
  saltsphere_kubernetes.initialized:
    - name: {{ cluster.config_file }}
    - endpoint: {{ cluster.endpoint }}
    - args: {{ cluster.kubeadm_args | json }}
    - wait: {{ cluster.wait_seconds }}
    - require:
      - sls: kubernetes.prepare

{#- The token exists while a host of hosts.ini has still to join (made again
    for hosts added later), and goes once every one is a node (kubernetes.token). #}
kubernetes-control-plane-saltsphere-kubernetes-bootstrap-token:
  saltsphere_kubernetes.bootstrap_token:
    - name: {{ cluster.token_id }}
    - needed_by: {{ cluster.nodes | json }}
    - require:
      - saltsphere_kubernetes: kubernetes-control-plane-saltsphere-kubernetes-initialized
{%- set joined = 'kubernetes-control-plane-saltsphere-kubernetes-initialized' %}
{%- else %}
kubernetes-control-plane-saltsphere-kubernetes-joined:
  saltsphere_kubernetes.joined:
    - name: {{ cluster.config_file }}
    - endpoint: {{ cluster.endpoint }}
    - control_plane: True
    - args: {{ cluster.kubeadm_args | json }}
    - wait: {{ cluster.wait_seconds }}
    - require:
      - sls: kubernetes.prepare
{%- set joined = 'kubernetes-control-plane-saltsphere-kubernetes-joined' %}
{%- endif %}

kubernetes-control-plane-service-running-kubelet:
  service.running:
    - name: {{ kubernetes.kubelet_service }}
    - enable: True
    - require:
      - saltsphere_kubernetes: {{ joined }}
