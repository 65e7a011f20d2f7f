{#- Phase: KubeSphere, after storage (its installer asks for volumes of the
    default class).  The first master applies the installer and its
    ClusterConfiguration; the installer then deploys KubeSphere inside the
    cluster, which the taskbox follows through the console's NodePort. #}
{%- from 'kubesphere/map.jinja' import cluster, phase_pillar with context %}

include:
  - kubesphere.prepare

kubesphere-ks-salt-state:
  salt.state:
    - tgt: {{ cluster.masters | first }}
    - tgt_type: list
    - ssh: True
    - sls: ks
    - failhard: True
{{ phase_pillar('ks') }}
