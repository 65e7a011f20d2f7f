{#- Where containerd pulls from: a hosts.toml per registry that vars.yml's
    registry keys name (registry_mirrors, private_registry,
    insecure_registries, registry_ca_file), made on the taskbox
    (saltsphere.registries) and handed over in pillar.  containerd reads them
    on each pull: nothing restarts when they change.  The directory is
    saltsphere's: a registry no longer named loses its file. #}
{%- from 'containerd/map.jinja' import containerd with context %}
{%- set files = salt['pillar.get']('saltsphere:registries', {}) %}
{%- set certs_dir = containerd.conf_dir ~ '/certs.d' %}

containerd-registries-file-directory-certs:
  file.directory:
    - name: {{ certs_dir | json }}
    - mode: '0755'
    - clean: True
{%- if files %}
    - require:
{%-   for path in files | sort %}
      - file: containerd-registries-file-managed-{{ path }}
{%-   endfor %}
{%- endif %}
{%- for path, content in files | dictsort %}
{%-   if not path.startswith(certs_dir ~ '/') or '..' in path %}
{{- raise("saltsphere:registries names " ~ (path | json) ~ ", outside " ~ certs_dir) }}
{%-   endif %}

containerd-registries-file-managed-{{ path }}:
  file.managed:
    - name: {{ path | json }}
    - contents: {{ content | json }}
    - mode: '0644'
    - makedirs: True
    - dir_mode: '0755'
{%- endfor %}
