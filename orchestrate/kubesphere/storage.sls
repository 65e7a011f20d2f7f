{#- Phase: storage, after the network.  Every Kubernetes host gets the mount
    tools of the enabled classes; the first master applies the classes and
    their provisioners. #}
{%- from 'kubesphere/map.jinja' import cluster with context %}

kubesphere-storage-salt-state:
  salt.state:
    - tgt: {{ cluster.k8s | join(',') }}
    - tgt_type: list
    - ssh: True
    - sls: storage
    - failhard: True
    # The kubernetes phase converged the role already (salt/kubernetes/after.jinja).
    - pillar:
        saltsphere_orchestration:
          kubernetes_converged: True
