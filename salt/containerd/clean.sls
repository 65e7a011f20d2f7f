{#- The mirror of containerd/init.sls: every container stopped, containerd
    stopped, its configuration gone, the packages purged, and its data (images,
    containers, snapshots) removed.  kubeadm reset (kubernetes.clean) removed
    the pods already; a container left running (a host kubeadm never reached)
    is killed here, since stopping containerd leaves its containers running.
    Parameters only, no cluster pillar: any host is cleaned alike. #}
{%- from 'containerd/map.jinja' import containerd with context %}
{%- set ctr = 'ctr --address ' ~ containerd.socket %}

include:
  - transport.wipe
  - os.pkgdb

containerd-clean-cmd-run-tasks-killed:
  cmd.run:
    - name: |-
        for ns in $({{ ctr }} namespaces ls -q); do
          for task in $({{ ctr }} -n "$ns" tasks ls -q); do
            {{ ctr }} -n "$ns" tasks delete --force "$task" || true
          done
        done
    - onlyif: |-
        test -S {{ containerd.socket }} || exit 1
        for ns in $({{ ctr }} namespaces ls -q 2>/dev/null); do
          {{ ctr }} -n "$ns" tasks ls -q 2>/dev/null | grep -q . && exit 0
        done
        exit 1
    - timeout: 300

containerd-clean-service-dead:
  service.dead:
    - name: {{ containerd.service }}
    - enable: False
    {#- A host cleaned already has no such unit; Salt's dry run would call it one to stop. #}
    - onlyif:
      - fun: service.available
        name: {{ containerd.service }}
    - require:
      - cmd: containerd-clean-cmd-run-tasks-killed

{#- A pod's shim can outlive its tasks once containerd is gone (the pattern's
    brackets keep it from matching this command's own shell). #}
containerd-clean-cmd-run-shims-killed:
  cmd.run:
    - name: pkill -KILL -f '[c]ontainerd-shim.* -address {{ containerd.socket }}'
    - onlyif: pgrep -f '[c]ontainerd-shim.* -address {{ containerd.socket }}'
    - require:
      - service: containerd-clean-service-dead

containerd-clean-file-absent:
  file.absent:
    - names:
      - {{ containerd.crictl_config }}
      - {{ containerd.conf_dir }}
      - {{ containerd.cni_conf_dir }}
    - require:
      - service: containerd-clean-service-dead

containerd-clean-pkg-purged:
  pkg.purged:
    - pkgs: {{ containerd.pkgs | json }}
    - require:
      - service: containerd-clean-service-dead
      - sls: os.pkgdb

{#- What a stopped pod still had mounted (its shm, its rootfs) first. #}
{%- for path in containerd.clean_dirs %}

containerd-clean-cmd-run-emptied-{{ path.strip('/') | replace('/', '-') }}:
  cmd.run:
    - name: |-
        awk '$2 ~ "^{{ path }}/" {print $2}' /proc/self/mounts | sort -r | xargs -r -n1 umount -l
        find {{ path }} -mindepth 1 -maxdepth 1 -exec rm -rf {} +
        rmdir {{ path }} 2>/dev/null || true
    - onlyif: test -n "$(ls -A {{ path }} 2>/dev/null)"
    - require:
      - cmd: containerd-clean-cmd-run-shims-killed
{%- endfor %}
