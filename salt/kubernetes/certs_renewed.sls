{#- `saltsphere certs renew` on one master (kubesphere.certs_renew takes the
    masters one at a time, so the balancers always have the others to send
    the API to).  kubeadm renews the certificates it signed on this master
    (the API server's, its kubelet and front-proxy clients, the control
    plane's kubeconfigs) from the CAs the master holds in kubeadm's layout:
    no CA key travels in this phase.  The API server's etcd client pair,
    signed again on the taskbox, is written beside them.  The control plane
    reads its files only when it starts, so its static pods restart the way
    kubeadm documents it: the manifests leave kubelet's directory until the
    pods have stopped, then return, and the run waits for this master's API.
    kubelet renews its own client certificate (rotateCertificates, kubeadm's
    default), so kubelet is left alone. #}
{%- from 'kubernetes/map.jinja' import kubernetes, cluster, host with context %}
{%- set etcd = salt['pillar.get']('saltsphere:etcd', {}) %}
{%- set api_server = cluster.api_servers[cluster.masters.index(host.name)] | replace('https://', '') %}

include:
  - transport.wipe
{%- for name, contents, mode in (
      ('apiserver-etcd-client.crt', etcd.apiserver_client.cert, '0644'),
      ('apiserver-etcd-client.key', etcd.apiserver_client.key, '0600'),
    ) %}

kubernetes-certs-renewed-file-managed-{{ name }}:
  file.managed:
    - name: {{ kubernetes.pki_dir }}/{{ name }}
    - contents: {{ contents | json }}
    - mode: '{{ mode }}'
    - show_changes: False
    - require_in:
      - cmd: kubernetes-certs-renewed-cmd-run-kubeadm-certs-renew
{%- endfor %}

kubernetes-certs-renewed-cmd-run-kubeadm-certs-renew:
  cmd.run:
    - name: {{ kubernetes.bin_dir }}/kubeadm certs renew all

kubernetes-certs-renewed-file-directory-parked:
  file.directory:
    - name: {{ kubernetes.parked_pod_dir }}
    - user: root
    - mode: '0700'
{%- for pod in kubernetes.control_plane_pods %}

kubernetes-certs-renewed-file-rename-{{ pod }}-parked:
  file.rename:
    - name: {{ kubernetes.parked_pod_dir }}/{{ pod }}.yaml
    - source: {{ kubernetes.static_pod_dir }}/{{ pod }}.yaml
    - require:
      - cmd: kubernetes-certs-renewed-cmd-run-kubeadm-certs-renew
      - file: kubernetes-certs-renewed-file-directory-parked

{#- A process's name as /proc/<pid>/comm holds it: its first 15 characters
    (kube-controller-manager runs as kube-controller). #}
kubernetes-certs-renewed-saltsphere-etcd-snapshot-process-gone-{{ pod }}:
  saltsphere_etcd_snapshot.process_gone:
    - name: {{ pod[:15] }}
    - require:
      - file: kubernetes-certs-renewed-file-rename-{{ pod }}-parked
    - require_in:
{%-   for back in kubernetes.control_plane_pods %}
      - file: kubernetes-certs-renewed-file-rename-{{ back }}-back
{%-   endfor %}

kubernetes-certs-renewed-file-rename-{{ pod }}-back:
  file.rename:
    - name: {{ kubernetes.static_pod_dir }}/{{ pod }}.yaml
    - source: {{ kubernetes.parked_pod_dir }}/{{ pod }}.yaml
    - require_in:
      - saltsphere_etcd_snapshot: kubernetes-certs-renewed-saltsphere-etcd-snapshot-api-ready
{%- endfor %}

kubernetes-certs-renewed-saltsphere-etcd-snapshot-api-ready:
  saltsphere_etcd_snapshot.api_ready:
    - name: {{ api_server }}
    - timeout: {{ cluster.wait_seconds }}
