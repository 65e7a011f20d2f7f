{#- The mirror of containerd/init.sls: stop, unconfigure, uninstall.  Images
    and container state under /var/lib/containerd are kept; remove that
    directory by hand to discard them. #}
{%- from 'containerd/map.jinja' import containerd with context %}

containerd-clean-service-dead:
  service.dead:
    - name: {{ containerd.service }}
    - enable: False

containerd-clean-file-absent-crictl:
  file.absent:
    - name: {{ containerd.crictl_config }}

containerd-clean-file-absent:
  file.absent:
    - name: {{ containerd.conf_dir }}/config.toml
    - require:
      - service: containerd-clean-service-dead

containerd-clean-pkg-removed:
  pkg.removed:
    - pkgs: {{ containerd.pkgs | json }}
    - require:
      - file: containerd-clean-file-absent
