{#- Every image of the bundle, fetched once (checked by sha256) and
    imported into containerd's k8s.io namespace: nothing is pulled. #}
{%- from 'kubernetes/map.jinja' import kubernetes, bundle with context %}

include:
  - containerd

{%- for path, file in bundle.files | dictsort %}
{%-   if file.kind == 'image' %}
{%-     set archive = kubernetes.images_dir ~ '/' ~ (path | replace('images/', '')) %}
kubernetes-images-saltsphere-bundle-fetched-{{ file.name }}:
  saltsphere_bundle.fetched:
    - name: {{ archive }}
    - source: {{ bundle.url }}/{{ path }}
    - sha256: {{ file.sha256 | json }}
    - mode: '0644'

kubernetes-images-saltsphere-containerd-image-present-{{ file.name }}:
  saltsphere_containerd.image_present:
    - name: {{ file.ref }}
    - archive: {{ archive }}
    - timeout: {{ kubernetes.image_import_timeout | json }}
    {#- A dry run tells an archive the fetch above replaces from one that lacks the image. #}
    - sha256: {{ file.sha256 | json }}
    - require:
      - saltsphere_bundle: kubernetes-images-saltsphere-bundle-fetched-{{ file.name }}
      - sls: containerd
{%-   endif %}
{%- endfor %}
