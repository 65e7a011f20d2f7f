"""`saltsphere artifact fetch --plan`: what a fetch would download, printed without opening a connection."""

import json

import pytest

from saltsphere import bom, cli, releases
from saltsphere.artifacts import fetch as fe

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML


def no_network(request, timeout=None):
    raise AssertionError(f"the plan opened {getattr(request, 'full_url', request)}")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(fe, "default_opener", lambda: no_network)


def plan_json(capsys, *argv) -> dict:
    assert cli.main(["artifact", "fetch", "--plan", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("minor", releases.supported_minors())
def test_the_plan_of_every_supported_minor_lists_kubesphere_coredns_and_its_calico(capsys, offline, minor, tmp_path):
    version = f"v{minor[0]}.{minor[1]}.3"
    document = plan_json(capsys, "--kube-version", version, "--out", str(tmp_path / "b"))
    refs = {image["ref"]: image for image in document["images"]}
    coredns = releases.resolve_versions(version).coredns
    assert [ref for ref in refs if "/coredns" in ref and ref.endswith(f":{coredns}")]
    calico = releases.CALICO[minor]
    assert document["calico"] == calico
    assert f"docker.io/calico/node:{calico}" in refs and refs[f"docker.io/calico/node:{calico}"]["part"] == "network"
    for ref in ("kubesphere/ks-installer:v3.4.1", "kubesphere/ks-apiserver:v3.4.1", "kubesphere/ks-console:v3.4.1",
                "kubesphere/ks-controller-manager:v3.4.1", "prom/prometheus:v2.39.1", "redis:5.0.14-alpine"):
        assert bom.normalize(ref) in refs
    kubeadm = document["binaries"][0]
    assert kubeadm["url"].endswith(f"/{version}/bin/linux/amd64/kubeadm")
    assert kubeadm["sha256_from"] == kubeadm["url"] + ".sha256"
    assert not (tmp_path / "b").exists()


def test_the_plan_as_text_says_where_each_checksum_comes_from(capsys, offline):
    assert cli.main(["artifact", "fetch", "--plan", "--kube-version", "v1.20.2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Kubernetes v1.20.2 for linux/amd64, calico v3.17.6"
    k8s = "https://dl.k8s.io/release/v1.20.2/bin/linux/amd64"
    assert f"{k8s}/kubeadm\tsha256 from {k8s}/kubeadm.sha256" in out
    assert (f"k8s.gcr.io/kube-apiserver:v1.20.2\t{k8s}/kube-apiserver.tar, sha256 from "
            f"{k8s}/kube-apiserver.tar.sha256") in out
    pull = "registry-1.docker.io/calico/node:v3.17.6"
    assert f"docker.io/calico/node:v3.17.6\tfrom {pull}, digests named by registry-1.docker.io" in out
    assert out[-1].endswith("nothing was downloaded")


def test_the_plan_follows_the_cluster_of_an_inventory(capsys, offline, write_cluster):
    hosts = write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + "kube_network_plugin: bridge\n")
    document = plan_json(capsys, "--kube-version", "v1.20.2", "-i", str(hosts))
    parts = {image["part"] for image in document["images"]}
    assert "network" not in parts and "kubesphere" in parts
    # The seed has one master: ks-apiserver keeps its sessions without redis.
    assert "docker.io/library/redis:5.0.14-alpine" not in {image["ref"] for image in document["images"]}


def test_the_plan_follows_a_vars_file_alone_for_any_number_of_masters(capsys, offline, tmp_path):
    vars_yml = tmp_path / "vars.yml"
    vars_yml.write_text("nfs_server_enable: true\nkube_image_repository: registry.example/k8s\n")
    vars_yml.chmod(0o600)
    document = plan_json(capsys, "--kube-version", "v1.20.2", "--vars", str(vars_yml))
    refs = {image["ref"]: image for image in document["images"]}
    assert "registry.example/k8s/kube-apiserver:v1.20.2" in refs
    assert any(image["part"] == "storage" for image in document["images"])
    assert "docker.io/library/redis:5.0.14-alpine" in refs
    assert "nfs-common" in document["packages"]["Debian"]


def test_a_bad_vars_file_is_reported_before_any_plan(capsys, offline, tmp_path):
    vars_yml = tmp_path / "vars.yml"
    vars_yml.write_text("kube_network_plugin: [calico\n")
    assert cli.main(["artifact", "fetch", "--plan", "--kube-version", "v1.20.2", "--vars", str(vars_yml)]) != 0
    assert "vars.yml" in capsys.readouterr().err
