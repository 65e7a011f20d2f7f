{#- The mirror of classes.sls: the objects go first (while the manifest still
    names them), then the manifest.  Client packages stay: other mounts may
    use them. #}
{%- from 'storage/map.jinja' import storage with context %}

storage-clean-cmd-run-kubectl-delete:
  cmd.run:
    - name: {{ storage.kubectl }} --kubeconfig={{ storage.kubeconfig }} delete --ignore-not-found -f {{ storage.manifest }}
    - onlyif: test -f {{ storage.manifest }}

storage-clean-file-absent-manifest:
  file.absent:
    - name: {{ storage.manifest }}
    - require:
      - cmd: storage-clean-cmd-run-kubectl-delete
