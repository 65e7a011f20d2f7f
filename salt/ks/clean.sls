{#- The mirror of init: the installer, its RBAC and ClusterConfiguration go
    first, then the namespace (with every KubeSphere component the installer
    deployed in it) and the CRD, then the manifests.  Components the installer
    put in other namespaces stay. #}
{%- from 'ks/map.jinja' import ks with context %}

ks-clean-cmd-run-kubectl-delete-manifest:
  cmd.run:
    - name: {{ ks.kubectl }} --kubeconfig={{ ks.kubeconfig }} delete --ignore-not-found -f {{ ks.manifest }}
    - onlyif: test -f {{ ks.manifest }}

{#- A namespace is gone only once its finalizers ran: do not wait for it. #}
ks-clean-cmd-run-kubectl-delete-definitions:
  cmd.run:
    - name: {{ ks.kubectl }} --kubeconfig={{ ks.kubeconfig }} delete --ignore-not-found --wait=false -f {{ ks.definitions }}
    - onlyif: test -f {{ ks.definitions }}
    - require:
      - cmd: ks-clean-cmd-run-kubectl-delete-manifest

ks-clean-file-absent:
  file.absent:
    - names:
      - {{ ks.manifest }}
      - {{ ks.definitions }}
    - require:
      - cmd: ks-clean-cmd-run-kubectl-delete-definitions
