{#- The enabled storage classes and everything they run, applied from the
    first master.  The manifest holds the classes' Secrets: root only, never
    shown in a diff, and the apply reports only the names of changed objects. #}
{%- from 'storage/map.jinja' import storage, cluster with context %}
{%- from 'kubernetes/after.jinja' import kubernetes_sls with context %}
{%- if not cluster.get('manifest') %}
{{- raise("the storage classes are applied from the first master (" ~ salt['pillar.get']('saltsphere:kubernetes:first_master') ~ ") only; apply storage.classes there") }}
{%- endif %}

include:
  - {{ kubernetes_sls }}

storage-classes-file-managed-manifest:
  file.managed:
    - name: {{ storage.manifest }}
    - contents_pillar: saltsphere:storage:manifest
    - mode: '0600'
    - makedirs: True
    - dir_mode: '0700'
    - show_changes: False

storage-classes-saltsphere-manifest-applied:
  saltsphere_manifest.applied:
    - name: {{ storage.manifest }}
    - kubeconfig: {{ storage.kubeconfig }}
    - contents_pillar: saltsphere:storage:manifest
    # The classes' Secrets: no last-applied copy of them.
    - server_side: True
    - require:
      - file: storage-classes-file-managed-manifest
      - sls: {{ kubernetes_sls }}
