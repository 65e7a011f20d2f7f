{%- from 'os/map.jinja' import os with context %}

os-kernel-file-managed-modules-load:
  file.managed:
    - name: {{ os.modules_file }}
    - mode: '0644'
    - contents: |
        # Managed by saltsphere: modules the container runtime and kube-proxy need.
        {%- for module in os.kernel_modules | sort %}
        {{ module }}
        {%- endfor %}

{%- for module, probe in os.kernel_modules | dictsort %}

os-kernel-kmod-present-{{ module }}:
  kmod.present:
    - name: {{ module }}
    - unless: {{ probe | json }}
{%- endfor %}

{%- for key, value in os.sysctls | dictsort %}

os-kernel-sysctl-present-{{ key }}:
  sysctl.present:
    - name: {{ key }}
    - value: {{ value }}
    - config: {{ os.sysctl_file }}
    - require:
      - kmod: os-kernel-kmod-present-br_netfilter
{%- endfor %}
