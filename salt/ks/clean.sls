{#- The mirror of init: the installer, its RBAC and ClusterConfiguration go
    first, then the namespace (with every KubeSphere component the installer
    deployed in it) and the CRD, then the manifests.  Components the installer
    put in other namespaces stay.  Parameters only, no cluster pillar: any host
    is cleaned alike.  The objects are deleted only through an API that
    answers: with the whole cluster being reset, a dead API is no reason to
    stop. #}
{%- from 'ks/map.jinja' import ks with context %}
{%- set kubectl = ks.kubectl ~ ' --kubeconfig=' ~ ks.kubeconfig ~ ' --request-timeout=20s' %}
{%- set api = ['test -f ' ~ ks.kubeconfig ~ ' -a -x ' ~ ks.kubectl, kubectl ~ ' get --raw=/readyz'] %}

include:
  - transport.wipe

ks-clean-cmd-run-kubectl-delete-manifest:
  cmd.run:
    - name: {{ kubectl }} delete --ignore-not-found --timeout=300s -f {{ ks.manifest }}
    - onlyif: {{ (['test -f ' ~ ks.manifest] + api) | json }}
    - timeout: 600

{#- A namespace is gone only once its finalizers ran: do not wait for it. #}
ks-clean-cmd-run-kubectl-delete-definitions:
  cmd.run:
    - name: {{ kubectl }} delete --ignore-not-found --wait=false -f {{ ks.definitions }}
    - onlyif: {{ (['test -f ' ~ ks.definitions] + api) | json }}
    - timeout: 600
    - require:
      - cmd: ks-clean-cmd-run-kubectl-delete-manifest

ks-clean-file-absent:
  file.absent:
    - names:
      - {{ ks.manifest }}
      - {{ ks.definitions }}
    - require:
      - cmd: ks-clean-cmd-run-kubectl-delete-definitions
