"""Render the real state tree with Salt's real loaders, for hosts of a sample cluster.

The minion runs masterless (file_client: local) with the project's file_roots,
pillar_roots, extension modules and ext_pillar, so top matching and pillar are
exactly what salt-ssh computes for the same host.
"""

import shutil
from pathlib import Path

import pytest
from saltfactories.utils.functional import Loaders

from saltsphere import paths

ROOT = paths.project_root()

SAMPLE_HOSTS = """\
[all]
master ansible_host=192.168.50.10 ip=192.168.50.10
node1  ansible_host=192.168.50.11 ip=192.168.50.11 ansible_ssh_pass=SECRET-NODE1
node2  ansible_host=192.168.50.12 ip=192.168.50.12 ansible_user=deploy ansible_become_pass=SECRET-NODE2

[kube-master]
master

[kube-node]
node1
node2

[etcd]
master

[k8s-cluster:children]
kube-node
kube-master
"""

SAMPLE_VARS = """\
nfs_server_enable: true
nfs_server_is_default_class: true
ks_admin_password: SECRET-ADMIN
"""


@pytest.fixture(scope="session")
def sample_cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cluster")
    (directory / "hosts.ini").write_text(SAMPLE_HOSTS)
    (directory / "vars.yml").write_text(SAMPLE_VARS)
    return directory


def minion_opts(salt_factories, minion_id, cluster_dir):
    factory = salt_factories.salt_minion_daemon(
        minion_id,
        overrides={
            "file_client": "local",
            "file_roots": {"base": [str(ROOT / "salt"), str(ROOT / "orchestrate")]},
            "pillar_roots": {"base": [str(ROOT / "pillar")]},
            "extension_modules": str(ROOT / "extension_modules"),
            "ext_pillar": [{"saltsphere": {}}],
            "roster_file": str(Path(cluster_dir) / "hosts.ini"),
        },
    )
    return factory.config.copy()


@pytest.fixture(scope="module", params=["master", "node1", "node2"])
def loaders(request, salt_factories, sample_cluster):
    opts = minion_opts(salt_factories, request.param, sample_cluster)
    loaders = Loaders(opts)
    try:
        yield loaders
    finally:
        loaders.reset_state()
        shutil.rmtree(opts["cachedir"], ignore_errors=True)
