{#- Calico: the first master applies its objects (CRDs, RBAC, the calico-node
    DaemonSet and kube-controllers); calico-node then installs the CNI plugins
    and configuration on each host itself, and every host waits until its node
    is Ready.  The images come from the bundle: one built from Debian's
    sources has none, and it is better to stop here than to wait for pods
    that can never start. #}
{%- from 'network/map.jinja' import network, cluster, host, calico, bundle with context %}
{%- from 'kubernetes/after.jinja' import kubernetes_sls with context %}
{%- set first = host.name == cluster.first_master %}
{#- Only the first master knows the calico release; every other host checks
    that the bundle has each of its images in some version. #}
{%- set refs = bundle.get('files', {}).values() | selectattr('kind', 'equalto', 'image') | map(attribute='ref') | join(' ') %}
{%- set missing = [] %}
{%- if 'missing_images' in calico %}
{%-   do missing.extend(calico.missing_images) %}
{%- else %}
{%-   for component in ('cni', 'node', 'kube-controllers', 'pod2daemon-flexvol') if ('calico/' ~ component ~ ':') not in refs %}
{%-     do missing.append('calico/' ~ component) %}
{%-   endfor %}
{%- endif %}
{%- if calico.get('error') %}
{{- raise(calico.error) }}
{%- elif missing %}
{{- raise("kube_network_plugin is calico, but the bundle at " ~ bundle.get('url', '(no bundle)') ~ " lacks " ~ (missing | join(', ')) ~ "; fetch a bundle that carries them with `saltsphere artifact fetch --kube-version " ~ bundle.get('kube_version', 'vX.Y.Z') ~ "` (one built from Debian's sources cannot), or set kube_network_plugin: bridge in vars.yml (every node on one L2 segment)") }}
{%- elif first and not calico.get('manifest') %}
{{- raise("no saltsphere:calico:manifest for " ~ host.name ~ ", the first master: the pillar that renders calico's objects is not installed; check the saltsphere ext_pillar in the Salt master configuration") }}
{%- endif %}

include:
  - {{ kubernetes_sls }}

{%- if first %}

network-calico-file-managed-manifest:
  file.managed:
    - name: {{ network.calico_manifest }}
    - contents_pillar: saltsphere:calico:manifest
    - mode: '0644'
    - makedirs: True

network-calico-saltsphere-manifest-applied:
  saltsphere_manifest.applied:
    - name: {{ network.calico_manifest }}
    - kubeconfig: {{ network.kubeconfig }}
    - contents_pillar: saltsphere:calico:manifest
    - require:
      - file: network-calico-file-managed-manifest
      - sls: {{ kubernetes_sls }}
{%- endif %}

network-calico-saltsphere-network-node-ready:
  saltsphere_network.node_ready:
    - name: {{ host.name }}
    - wait: {{ cluster.wait_seconds }}
    - require:
{%- if first %}
      - saltsphere_manifest: network-calico-saltsphere-manifest-applied
{%- else %}
      - sls: {{ kubernetes_sls }}
{%- endif %}
