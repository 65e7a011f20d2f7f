{#- The CAs and service-account key every master shares, made on the taskbox,
    and the API server's etcd client pair: kubeadm signs everything else from
    them on each master, so no certificate travels between masters. #}
{%- from 'kubernetes/map.jinja' import kubernetes with context %}
{%- set pki = salt['pillar.get']('saltsphere:kubernetes_pki', {}) %}
{%- set etcd = salt['pillar.get']('saltsphere:etcd', {}) %}
{%- set files = [
      ('ca.crt', pki.ca.cert, '0644'), ('ca.key', pki.ca.key, '0600'),
      ('front-proxy-ca.crt', pki.front_proxy_ca.cert, '0644'), ('front-proxy-ca.key', pki.front_proxy_ca.key, '0600'),
      ('sa.pub', pki.sa.pub, '0644'), ('sa.key', pki.sa.key, '0600'),
      ('etcd/ca.crt', etcd.ca, '0644'),
      ('apiserver-etcd-client.crt', etcd.apiserver_client.cert, '0644'),
      ('apiserver-etcd-client.key', etcd.apiserver_client.key, '0600'),
    ] %}

{%- set cas = [('ca.crt', pki.ca.cert), ('front-proxy-ca.crt', pki.front_proxy_ca.cert), ('etcd/ca.crt', etcd.ca)] %}

{#- A master that trusts other CAs than this taskbox's is never handed these:
    nothing below is written, and the run says how to get the right ones. #}
{%- for name, contents in cas %}
kubernetes-pki-saltsphere-certs-ca-kept-{{ name | replace('/', '-') }}:
  saltsphere_certs.ca_kept:
    - name: {{ kubernetes.pki_dir }}/{{ name }}
    - contents: {{ contents | json }}
{%- endfor %}

{%- for name, contents, mode in files %}
kubernetes-pki-file-managed-{{ name | replace('/', '-') }}:
  file.managed:
    - name: {{ kubernetes.pki_dir }}/{{ name }}
    - contents: {{ contents | json }}
    - mode: '{{ mode }}'
    - makedirs: True
    - dir_mode: '0755'
    - show_changes: False
    - require:
{%-   for ca_name, _ in cas %}
      - saltsphere_certs: kubernetes-pki-saltsphere-certs-ca-kept-{{ ca_name | replace('/', '-') }}
{%-   endfor %}
{%- endfor %}
