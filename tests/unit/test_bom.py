"""The bill of materials: one list of what a cluster takes from its bundle."""

import importlib.util
from pathlib import Path

import pytest

from saltsphere import bom, config, kubesphere, storage

DEFAULTS = config.defaults()
REPO = Path(__file__).resolve().parents[2]


def values(**changes) -> dict:
    return {**DEFAULTS, **changes}


@pytest.mark.parametrize("ref, normalized", [
    ("redis:5.0.14-alpine", "docker.io/library/redis:5.0.14-alpine"),
    ("docker.io/redis:5.0.14-alpine", "docker.io/library/redis:5.0.14-alpine"),
    ("docker.io/library/redis:5.0.14-alpine", "docker.io/library/redis:5.0.14-alpine"),
    ("kubesphere/ks-console:v3.4.1", "docker.io/kubesphere/ks-console:v3.4.1"),
    ("index.docker.io/kubesphere/ks-console:v3.4.1", "docker.io/kubesphere/ks-console:v3.4.1"),
    ("calico/node:v3.17.6", "docker.io/calico/node:v3.17.6"),
    ("k8s.gcr.io/pause:3.2", "k8s.gcr.io/pause:3.2"),
    ("localhost:5000/ks-console:v3.4.1", "localhost:5000/ks-console:v3.4.1"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("quay.io/k8scsi/csi-attacher@sha256:abc", "quay.io/k8scsi/csi-attacher@sha256:abc"),
])
def test_references_are_compared_as_containerd_names_them(ref, normalized):
    assert bom.normalize(ref) == normalized


@pytest.mark.parametrize("ref", [
    "redis:5.0.14-alpine", "docker.io/library/redis:5.0.14-alpine", "kubesphere/ks-console:v3.4.1",
    "calico/node:v3.17.6", "k8s.gcr.io/pause:3.2", "localhost:5000/ks-console:v3.4.1", "busybox",
    "quay.io/k8scsi/csi-attacher@sha256:abc",
])
def test_the_hosts_name_images_as_the_bill_does(ref):
    # Host modules import Salt and the standard library only, so containerd's module keeps its own copy.
    spec = importlib.util.spec_from_file_location(
        "saltsphere_containerd_module", REPO / "extension_modules" / "modules" / "saltsphere_containerd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.normalize_name(ref) == bom.normalize(ref)


def test_the_default_cluster_needs_kubernetes_calico_and_kubesphere():
    bill = bom.compute(values(), masters=1)
    assert [i.ref for i in bill.images_of(bom.KUBERNETES)] == [
        "k8s.gcr.io/kube-apiserver:v1.20.2", "k8s.gcr.io/kube-controller-manager:v1.20.2",
        "k8s.gcr.io/kube-scheduler:v1.20.2", "k8s.gcr.io/kube-proxy:v1.20.2", "k8s.gcr.io/pause:3.2"]
    assert [i.ref for i in bill.images_of(bom.DNS)] == ["k8s.gcr.io/coredns:1.7.0"]
    assert bill.calico == "v3.17.6"
    assert [i.name for i in bill.images_of(bom.NETWORK)] == [
        "calico-cni", "calico-node", "calico-kube-controllers", "calico-pod2daemon-flexvol"]
    assert bill.images_of(bom.STORAGE) == []
    ks = bill.images_of(bom.KUBESPHERE)
    assert [i.ref for i in ks] == [bom.normalize(ref) for ref in kubesphere.images(DEFAULTS, masters=1)]
    assert [i.ref for i in ks if i.console] == [
        f"docker.io/kubesphere/{name}:v3.4.1" for name in ("ks-installer", "ks-apiserver", "ks-console",
                                                           "ks-controller-manager")]
    assert len({i.path for i in bill.images}) == len(bill.images)


def test_what_the_vars_enable_is_what_is_listed():
    bill = bom.compute(values(kube_network_plugin="bridge", nfs_server_enable=True), masters=3)
    assert bill.images_of(bom.NETWORK) == []
    assert [i.ref for i in bill.images_of(bom.STORAGE)] == [
        bom.normalize(ref) for ref in storage.images(values(nfs_server_enable=True))]
    assert "docker.io/library/redis:5.0.14-alpine" in [i.ref for i in bill.images_of(bom.KUBESPHERE)]
    assert "nfs-common" in bill.packages["Debian"]
    one = bom.compute(values(), masters=1)
    assert "docker.io/library/redis:5.0.14-alpine" not in [i.ref for i in one.images]


def test_missing_names_what_the_bundle_lacks_in_order():
    bill = bom.compute(values(), masters=1)
    held = ["kubesphere/ks-installer:v3.4.1", "k8s.gcr.io/pause:3.2", None]
    missing = bill.missing(held, bom.KUBESPHERE)
    assert "docker.io/kubesphere/ks-installer:v3.4.1" not in missing
    assert missing == [i.ref for i in bill.images_of(bom.KUBESPHERE)][1:]
    assert bill.missing([i.ref for i in bill.images]) == []


def test_held_refs_reads_manifest_entries_and_the_bundle_pillar():
    files = {"images/a.tar": {"kind": "image", "ref": "calico/node:v3.17.6"},
             "bin/kubelet": {"kind": "binary", "ref": None}}
    assert bom.held_refs(files) == ["calico/node:v3.17.6"]


def test_outside_the_version_table_only_what_every_bundle_holds_is_known():
    bill = bom.compute(values(kube_version="v1.40.0"), masters=1)
    assert bill.versions is None and bill.images_of(bom.DNS) == []
    assert [b.name for b in bill.binaries] == list(bom.KUBE_BINARIES)


def test_an_unknown_kubesphere_release_lists_no_kubesphere_images():
    assert bom.compute(values(ks_version="v2.1.1")).images_of(bom.KUBESPHERE) == []
