{#- The mirror of init: kubeadm reset (kubelet stopped, every pod removed,
    kubeadm's files gone; under kubeadm's lock, so that a kubeadm an earlier
    run left going is not raced), then what the install put in place: the
    load balancer (only the one this project configured), kubelet's unit, the
    binaries and image archives, and kubeadm's and kubelet's directories.
    Parameters only, no cluster pillar: any host is cleaned alike. #}
{%- from 'kubernetes/parameters.jinja' import kubernetes with context %}
{%- set ours = 'grep -qs "Managed by saltsphere" ' ~ kubernetes.lb_config %}
{%- from 'containerd/map.jinja' import containerd with context %}
{%- set ctr = 'ctr --address ' ~ containerd.socket ~ ' --namespace k8s.io' %}

include:
  - transport.wipe

kubernetes-clean-cmd-run-kubeadm-reset:
  cmd.run:
    - name: flock -w 900 {{ kubernetes.kubeadm_lock }} {{ kubernetes.bin_dir }}/kubeadm reset --force
    - onlyif: test -x {{ kubernetes.bin_dir }}/kubeadm && { test -d /etc/kubernetes || test -d /var/lib/kubelet; }
    - timeout: 1000

kubernetes-clean-service-dead-kubelet:
  service.dead:
    - name: {{ kubernetes.kubelet_service }}
    - enable: False
    {#- A host cleaned already has no such unit; Salt's dry run would call it one to stop. #}
    - onlyif:
      - fun: service.available
        name: {{ kubernetes.kubelet_service }}
    - require:
      - cmd: kubernetes-clean-cmd-run-kubeadm-reset

{#- kubeadm reset removes the pods' sandboxes; without a real crictl (a
    bundle built from Debian's sources) their containers outlive them, and
    kube-proxy would make its chains again.  Every container of the CRI's
    namespace is a pod's. #}
kubernetes-clean-cmd-run-pods-removed:
  cmd.run:
    - name: |-
        for task in $({{ ctr }} tasks ls -q); do {{ ctr }} tasks delete --force "$task" || true; done
        for container in $({{ ctr }} containers ls -q); do {{ ctr }} containers delete "$container" || true; done
    - onlyif: test -S {{ containerd.socket }} && command -v ctr && {{ ctr }} containers ls -q | grep -q .
    - timeout: 300
    - require:
      - service: kubernetes-clean-service-dead-kubelet

kubernetes-clean-service-dead-load-balancer:
  service.dead:
    - name: {{ kubernetes.lb_service }}
    - enable: False
    - onlyif: {{ ours | json }}

kubernetes-clean-pkg-purged-load-balancer:
  pkg.purged:
    - name: {{ kubernetes.lb_pkg }}
    - onlyif: {{ ours | json }}
    - require:
      - service: kubernetes-clean-service-dead-load-balancer

kubernetes-clean-file-absent-load-balancer:
  file.absent:
    - name: {{ kubernetes.lb_config }}
    - onlyif: {{ ours | json }}
    - require:
      - pkg: kubernetes-clean-pkg-purged-load-balancer

kubernetes-clean-file-absent:
  file.absent:
    - names:
      - {{ kubernetes.systemd_dir }}/{{ kubernetes.kubelet_service }}.service.d
      - {{ kubernetes.systemd_dir }}/{{ kubernetes.kubelet_service }}.service
      - {{ kubernetes.config_dir }}
      - {{ kubernetes.pki_dir }}
      - {{ kubernetes.images_dir }}
{%- for name in kubernetes.binaries %}
      - {{ kubernetes.bin_dir }}/{{ name }}
{%- endfor %}
      - {{ kubernetes.bin_dir }}/crictl
{%- for path in kubernetes.clean_dirs %}
      - {{ path }}
{%- endfor %}
    - require:
      - cmd: kubernetes-clean-cmd-run-pods-removed

kubernetes-clean-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: kubernetes-clean-file-absent
