{#- kubeadm, kubelet and kubectl from the taskbox's bundle.  file.managed
    compares the host's copy with the manifest's sha256 first: a file already
    in place is not downloaded again. #}
{%- from 'kubernetes/map.jinja' import kubernetes, bundle with context %}

{%- for name in kubernetes.binaries %}
kubernetes-binaries-file-managed-{{ name }}:
  file.managed:
    - name: {{ kubernetes.bin_dir }}/{{ name }}
    - source: {{ bundle.url }}/bin/{{ name }}
    - source_hash: sha256={{ bundle.files['bin/' ~ name].sha256 }}
    - mode: '0755'
    - makedirs: True
{%- endfor %}

{#- kubeadm asks containerd through crictl.  A bundle without crictl (Debian
    has none to take it from) gets the subset kubeadm calls, over ctr. #}
kubernetes-binaries-file-managed-crictl:
  file.managed:
    - name: {{ kubernetes.bin_dir }}/crictl
{%- if 'bin/crictl' in bundle.files %}
    - source: {{ bundle.url }}/bin/crictl
    - source_hash: sha256={{ bundle.files['bin/crictl'].sha256 }}
{%- else %}
    - source: salt://kubernetes/files/crictl
{%- endif %}
    - mode: '0755'
