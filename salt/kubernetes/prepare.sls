{#- Everything a host needs before kubeadm runs on it; hosts prepare all at once. #}
{%- from 'kubernetes/map.jinja' import cluster with context %}

include:
  - transport.wipe
  - kubernetes.binaries
  - kubernetes.images
  - kubernetes.kubelet
  - kubernetes.load_balancer
{%- if cluster.role in ('init', 'join-control-plane') %}
  - kubernetes.pki
{%- endif %}
  - kubernetes.config
