{#- The mount tools of the enabled classes (NFS, Ceph RBD, GlusterFS clients),
    from the bundle's repository like every other package. #}
{%- from 'storage/map.jinja' import storage with context %}
{%- from 'os/bundle.jinja' import pkg_source, pkg_recommends with context %}

{%- if storage.client_packages %}
include:
  - os.pkgdb

storage-clients-saltsphere-packages-installed:
  saltsphere_packages.installed:
    - pkgs: {{ storage.client_packages | json }}
    - source: {{ pkg_source | json }}
    - install_recommends: {{ pkg_recommends | json }}
    - require:
      - sls: os.pkgdb
{%- else %}
{#- A run with no state at all counts as failed: say why nothing is needed. #}
storage-clients-test-succeed-without-changes:
  test.succeed_without_changes:
    - name: no enabled storage class needs client packages on this host
{%- endif %}
