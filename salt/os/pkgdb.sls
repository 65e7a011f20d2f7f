{#- The package manager, ready to install: every package state of every role
    requires this SLS.

    A host that went down in the middle of an install converges on the next
    run with no manual `dpkg --configure -a`: the work dpkg left half done is
    finished first (only then: nothing runs on a healthy host).

    With a bundle, packages come from its apt repository through the taskbox,
    and installs read that source alone (APT_CONFIG, see bundle.jinja): a
    mirror listed on the host but out of reach costs nothing. #}
{%- from 'os/map.jinja' import os with context %}
{%- from 'os/bundle.jinja' import bundle, bundle_repo as repo, pkg_env with context %}

os-pkgdb-cmd-run-finish-interrupted:
  cmd.run:
    - name: {{ os.pkg_finish_interrupted | json }}
    - onlyif: {{ os.pkg_interrupted | json }}
    - env:
      - DEBIAN_FRONTEND: noninteractive

{%- if pkg_env %}
{%-   set index_sha = bundle.files[repo ~ '/Packages'].sha256 %}

os-pkgdb-file-managed-bundle-source:
  file.managed:
    - name: {{ os.bundle_source_file }}
    - contents: {{ os.bundle_source_line.format(url=bundle.url, repo=repo) | json }}
    - mode: '0644'

os-pkgdb-file-managed-bundle-apt-config:
  file.managed:
    - name: {{ os.bundle_apt_config }}
    - mode: '0644'
    - contents: |
        // Written by saltsphere: installs from the bundle read its source alone.
        Dir::Etc::sourcelist "{{ os.bundle_source_file }}";
        Dir::Etc::sourceparts "-";
        APT::Get::List-Cleanup "0";

{#- Reads the bundle's index when apt has not read this one yet (a new
    bundle, or a failed earlier run); the stamp is written only after. #}
os-pkgdb-cmd-run-refresh-bundle-source:
  cmd.run:
    - name: apt-get -q update
    - env: {{ pkg_env | json }}
    - unless: >-
        grep -qx {{ index_sha }} {{ os.bundle_index_stamp }}
        && apt-cache policy | grep -qF {{ (bundle.url ~ '/' ~ repo) | json }}
    - require:
      - file: os-pkgdb-file-managed-bundle-source
      - file: os-pkgdb-file-managed-bundle-apt-config

os-pkgdb-file-managed-bundle-index-stamp:
  file.managed:
    - name: {{ os.bundle_index_stamp }}
    - contents: {{ index_sha | json }}
    - makedirs: True
    - require:
      - cmd: os-pkgdb-cmd-run-refresh-bundle-source
{%- endif %}
