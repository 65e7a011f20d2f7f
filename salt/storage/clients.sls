{#- The mount tools of the enabled classes (NFS, Ceph RBD, GlusterFS clients),
    from the bundle's repository like every other package. #}
{%- from 'storage/map.jinja' import storage with context %}
{%- from 'os/bundle.jinja' import pkg_refresh, pkg_recommends, pkg_env with context %}

{%- if storage.client_packages %}
include:
  - os.pkgdb

storage-clients-pkg-installed:
  pkg.installed:
    - refresh: {{ pkg_refresh | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - env: {{ pkg_env | json }}
    - pkgs: {{ storage.client_packages | json }}
    - require:
      - sls: os.pkgdb
{%- else %}
{#- A run with no state at all counts as failed: say why nothing is needed. #}
storage-clients-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: no enabled storage class needs client packages on this host
{%- endif %}
