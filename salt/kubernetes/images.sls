{#- Every image of the bundle, downloaded once (checked by sha256) and
    imported into containerd's k8s.io namespace: nothing is pulled. #}
{%- from 'kubernetes/map.jinja' import kubernetes, bundle with context %}

include:
  - containerd

{%- for path, file in bundle.files | dictsort %}
{%-   if file.kind == 'image' %}
{%-     set archive = kubernetes.images_dir ~ '/' ~ (path | replace('images/', '')) %}
kubernetes-images-file-managed-{{ file.name }}:
  file.managed:
    - name: {{ archive }}
    - source: {{ bundle.url }}/{{ path }}
    - source_hash: sha256={{ file.sha256 }}
    - mode: '0644'
    - makedirs: True

kubernetes-images-saltsphere-containerd-image-present-{{ file.name }}:
  saltsphere_containerd.image_present:
    - name: {{ file.ref }}
    - archive: {{ archive }}
    - require:
      - file: kubernetes-images-file-managed-{{ file.name }}
      - sls: containerd
{%-   endif %}
{%- endfor %}
