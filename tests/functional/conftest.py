"""Render the real state tree with Salt's real loaders, for hosts of a sample cluster.

The minion runs masterless (file_client: local) with the project's file_roots,
pillar_roots, extension modules and ext_pillar, so top matching and pillar are
exactly what salt-ssh computes for the same host.
"""

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from saltfactories.utils.functional import Loaders

from saltsphere import cluster, paths, prepare
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve

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
kube_network_plugin: bridge
nfs_server_enable: true
nfs_server_is_default_class: true
ks_admin_password: SECRET-ADMIN
"""


BUNDLE_FILES = (
    ("bin/kubeadm", "kubeadm", "binary", ""),
    ("bin/kubelet", "kubelet", "binary", ""),
    ("bin/kubectl", "kubectl", "binary", ""),
    ("images/pause.tar", "pause", "image", "k8s.gcr.io/pause:3.2"),
    ("images/kube-proxy.tar", "kube-proxy", "image", "k8s.gcr.io/kube-proxy:v1.20.2"),
    ("debs/debian-12/Packages", "Packages", "deb", ""),
)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def sample_bundle(tmp_path_factory):
    """A small bundle, served like a real one by the sample cluster's bundle server."""
    directory = tmp_path_factory.mktemp("bundle")
    entries = []
    for path, name, kind, ref in BUNDLE_FILES:
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(name)
        entries.append(mf.entry_for(directory, path, name=name, version="v1.20.2", arch="amd64", kind=kind, ref=ref))
    mf.write_manifest(directory, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])
    return directory


@pytest.fixture(scope="session")
def sample_cluster(tmp_path_factory, sample_bundle):
    directory = tmp_path_factory.mktemp("cluster")
    (directory / "hosts.ini").write_text(SAMPLE_HOSTS)
    port = _free_port()
    (directory / "vars.yml").write_text(SAMPLE_VARS + f"artifact_bundle: {sample_bundle}\nartifact_port: {port}\n")
    # What every run starts with: the prepare step (no host holds a CA yet), serving the bundle for this session.
    loaded = cluster.load(str(directory / "hosts.ini"))
    prepare.prepare(loaded, probe=lambda paths: {name: {path: None for path in paths} for name in loaded.hosts},
                    owner_pid=os.getpid())
    yield directory
    serve.stop(directory / ".saltsphere")


@pytest.fixture(scope="session")
def salt_factories_default_root_dir():
    """The test minions' directories (their keys among them), private to this run and removed after it.

    Short, as Salt's unix sockets live below it; the plugin's default leaves a
    directory per minion in /tmp after every run.
    """
    root = tempfile.mkdtemp(prefix="ss-salt.")
    yield Path(root)
    shutil.rmtree(root, ignore_errors=True)


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


def _loaders(salt_factories, minion_id, cluster_dir):
    yield from loaders_of(minion_opts(salt_factories, minion_id, cluster_dir))


def loaders_of(opts):
    """Salt's real loaders for ``opts``, their state and cache removed afterwards (a fixture's body)."""
    loaders = Loaders(opts)
    try:
        yield loaders
    finally:
        loaders.reset_state()
        shutil.rmtree(opts["cachedir"], ignore_errors=True)


@pytest.fixture(scope="module")
def master_loaders(salt_factories, sample_cluster):
    """Loaders of the sample cluster's first master alone, for tests of modules rather than of rendering."""
    yield from _loaders(salt_factories, "master", sample_cluster)


@pytest.fixture(scope="module", params=["master", "node1", "node2"])
def loaders(request, salt_factories, sample_cluster):
    yield from _loaders(salt_factories, request.param, sample_cluster)
