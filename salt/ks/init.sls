{#- KubeSphere's installer on the first master: first the namespace and the
    ClusterConfiguration CRD, then the installer, its RBAC and the
    ClusterConfiguration it installs KubeSphere from.  The manifest holds the
    administrator's password: root only, and never shown in a diff. #}
{%- from 'ks/map.jinja' import ks, manifests with context %}
{%- from 'kubernetes/after.jinja' import kubernetes_sls with context %}
{%- if manifests.get('error') %}
{{- raise(manifests.error) }}
{%- endif %}
{%- if not manifests.get('manifest') %}
{{- raise("no saltsphere:ks pillar for this host: KubeSphere is applied from the first host of [kube-master] only") }}
{%- endif %}

include:
  - transport.wipe
  - {{ kubernetes_sls }}

{%- for key in ('definitions', 'manifest') %}

ks-file-managed-{{ key }}:
  file.managed:
    - name: {{ ks[key] }}
    - contents_pillar: saltsphere:ks:{{ key }}
    - mode: '0600'
    - makedirs: True
    - dir_mode: '0700'
    - show_changes: False
    - require:
      - sls: {{ kubernetes_sls }}
{%- endfor %}

ks-saltsphere-manifest-applied-definitions:
  saltsphere_manifest.applied:
    - name: {{ ks.definitions }}
    - kubeconfig: {{ ks.kubeconfig }}
    - contents_pillar: saltsphere:ks:definitions
    - require:
      - file: ks-file-managed-definitions

{#- A custom resource is refused until the API serves its new definition. #}
ks-saltsphere-manifest-applied-manifest:
  saltsphere_manifest.applied:
    - name: {{ ks.manifest }}
    - kubeconfig: {{ ks.kubeconfig }}
    - contents_pillar: saltsphere:ks:manifest
    # The ClusterConfiguration holds the JWT secret: no last-applied copy of it.
    - server_side: True
    - retry:
        attempts: 10
        interval: 3
    - require:
      - file: ks-file-managed-manifest
      - saltsphere_manifest: ks-saltsphere-manifest-applied-definitions
