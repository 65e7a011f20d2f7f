{#- What the OS baseline left that only the cluster needs: the kernel modules
    and sysctls it asks for at boot, and saltsphere's own records.  The
    running kernel's values stay (other software may rely on forwarding), and
    so do the packages, swap's state, the hostname and /etc/hosts.  Parameters
    only, no cluster pillar: any host is cleaned alike. #}
{%- from 'os/map.jinja' import os with context %}

include:
  - transport.wipe

os-clean-file-absent:
  file.absent:
    - names:
      - {{ os.sysctl_file }}
      - {{ os.modules_file }}
{%- for path in os.clean_dirs %}
      - {{ path }}
{%- endfor %}
