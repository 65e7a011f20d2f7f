{#- kubeadm, kubelet and kubectl from the taskbox's bundle, checked against
    the manifest's sha256: a file already in place is neither downloaded nor,
    unless it was touched since, read again (saltsphere_bundle.fetched). #}
{%- from 'kubernetes/map.jinja' import kubernetes, bundle with context %}

{%- for name in kubernetes.binaries %}
kubernetes-binaries-saltsphere-bundle-fetched-{{ name }}:
  saltsphere_bundle.fetched:
    - name: {{ kubernetes.bin_dir }}/{{ name }}
    - source: {{ bundle.url }}/bin/{{ name }}
    - sha256: {{ bundle.files['bin/' ~ name].sha256 | json }}
    - mode: '0755'
{%- endfor %}

{#- kubeadm asks containerd through crictl.  A bundle without crictl (Debian
    has none to take it from) gets the subset kubeadm calls, over ctr. #}
{%- if 'bin/crictl' in bundle.files %}
kubernetes-binaries-saltsphere-bundle-fetched-crictl:
  saltsphere_bundle.fetched:
    - name: {{ kubernetes.bin_dir }}/crictl
    - source: {{ bundle.url }}/bin/crictl
    - sha256: {{ bundle.files['bin/crictl'].sha256 | json }}
    - mode: '0755'
{%- else %}
kubernetes-binaries-file-managed-crictl:
  file.managed:
    - name: {{ kubernetes.bin_dir }}/crictl
    - source: salt://kubernetes/files/crictl
    - mode: '0755'
{%- endif %}
