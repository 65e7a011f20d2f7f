{#- The end of an etcd restore on a master: the parked static pod manifests
    return (kubelet starts the pods again) and the run waits for the API. #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster with context %}

include:
  - transport.wipe
{%- for pod in kubernetes.control_plane_pods %}

kubernetes-control-plane-back-file-rename-{{ pod }}:
  file.rename:
    - name: {{ kubernetes.static_pod_dir }}/{{ pod }}.yaml
    - source: {{ kubernetes.parked_pod_dir }}/{{ pod }}.yaml
    - require_in:
      - saltsphere_etcd_snapshot: kubernetes-control-plane-back-saltsphere-etcd-snapshot-api-ready
{%- endfor %}

kubernetes-control-plane-back-saltsphere-etcd-snapshot-api-ready:
  saltsphere_etcd_snapshot.api_ready:
    - name: {{ cluster.endpoint }}
    - timeout: {{ cluster.wait_seconds }}
