{#- The mirror of classes.sls: the objects go first (while the manifest still
    names them), then the manifest.  Client packages stay: other mounts may
    use them.  Parameters only, no cluster pillar: any host is cleaned alike.
    The objects are deleted only through an API that answers: with the whole
    cluster being reset, a dead API is no reason to stop. #}
{%- from 'storage/parameters.jinja' import storage with context %}
{%- set kubectl = storage.kubectl ~ ' --kubeconfig=' ~ storage.kubeconfig ~ ' --request-timeout=20s' %}

include:
  - transport.wipe

storage-clean-cmd-run-kubectl-delete:
  cmd.run:
    - name: {{ kubectl }} delete --ignore-not-found --timeout=300s -f {{ storage.manifest }}
    - onlyif: {{ ['test -f ' ~ storage.manifest ~ ' -a -f ' ~ storage.kubeconfig ~ ' -a -x ' ~ storage.kubectl,
                  kubectl ~ ' get --raw=/readyz'] | json }}
    - timeout: 600

storage-clean-file-absent-manifest:
  file.absent:
    - name: {{ storage.manifest }}
    - require:
      - cmd: storage-clean-cmd-run-kubectl-delete
