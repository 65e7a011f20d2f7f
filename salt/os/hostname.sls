{%- from 'os/map.jinja' import os with context %}
{#- The node name kubelet registers is the host's name in hosts.ini. #}

os-hostname-file-managed-etc-hostname:
  file.managed:
    - name: /etc/hostname
    - contents: {{ os.name }}

os-hostname-cmd-run-hostname:
  cmd.run:
    - name: hostname {{ os.name }}
    - unless: test "$(hostname)" = "{{ os.name }}"
