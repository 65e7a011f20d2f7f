{#- A master's control plane stopped for an etcd restore: kubelet stops a
    static pod whose manifest leaves its directory, so the manifests are
    parked beside it (kubernetes.control_plane_back returns them), and the
    run waits until the API server is gone: nothing may write to etcd while
    it is restored. #}
{%- from 'kubernetes/parameters.jinja' import kubernetes with context %}

include:
  - transport.wipe

kubernetes-control-plane-parked-file-directory:
  file.directory:
    - name: {{ kubernetes.parked_pod_dir }}
    - user: root
    - mode: '0700'
{%- for pod in kubernetes.control_plane_pods %}

kubernetes-control-plane-parked-file-rename-{{ pod }}:
  file.rename:
    - name: {{ kubernetes.parked_pod_dir }}/{{ pod }}.yaml
    - source: {{ kubernetes.static_pod_dir }}/{{ pod }}.yaml
    - require:
      - file: kubernetes-control-plane-parked-file-directory
    - require_in:
      - saltsphere_etcd_snapshot: kubernetes-control-plane-parked-saltsphere-etcd-snapshot-process-gone
{%- endfor %}

kubernetes-control-plane-parked-saltsphere-etcd-snapshot-process-gone:
  saltsphere_etcd_snapshot.process_gone:
    - name: kube-apiserver
