"""`artifact fetch --release-url/--registry-mirror/--kubernetes-only`, checked before any connection."""

import json

import pytest

from saltsphere import bom, cli
from saltsphere.artifacts import fetch as fe
from saltsphere.artifacts import mirrors
from saltsphere.artifacts.errors import ArtifactError


def no_network(request, timeout=None):
    raise AssertionError(f"the plan opened {getattr(request, 'full_url', request)}")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(fe, "default_opener", lambda: no_network)


def plan_json(capsys, *argv) -> dict:
    assert cli.main(["artifact", "fetch", "--plan", "--json", "--kube-version", "v1.20.2", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("upstream, mirrored", [
    ("https://dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubeadm",
     "https://mirror.example/k8s/release/v1.20.2/bin/linux/amd64/kubeadm"),
    ("https://github.com/etcd-io/etcd/releases/download/v3.4.13/SHA256SUMS",
     "https://mirror.example/k8s/etcd-io/etcd/releases/download/v3.4.13/SHA256SUMS"),
])
def test_a_mirror_keeps_upstreams_path_below_its_url(upstream, mirrored):
    assert mirrors.mirrored(upstream, mirrors.check_release_url("https://mirror.example/k8s/")) == mirrored


def test_every_release_file_and_checksum_comes_from_the_release_mirror(capsys, offline):
    document = plan_json(capsys, "--release-url", "https://mirror.example")
    urls = [item["url"] for item in document["binaries"]] + [item["sha256_from"] for item in document["binaries"]]
    urls += [item[key] for item in document["images"] if "url" in item for key in ("url", "sha256_from")]
    assert len(urls) == 2 * (len(document["binaries"]) + 4)
    assert all(url.startswith("https://mirror.example/") for url in urls), urls
    assert "https://mirror.example/release/v1.20.2/bin/linux/amd64/kube-proxy.tar.sha256" in urls
    assert "https://mirror.example/opencontainers/runc/releases/download/v1.1.12/runc.sha256sum" in urls


def test_every_image_is_pulled_from_the_registry_mirror_under_its_repository_path(capsys, offline):
    document = plan_json(capsys, "--registry-mirror", "mirror.example:5000")
    pulled = {item["ref"]: item["pull"] for item in document["images"] if "pull" in item}
    assert pulled["k8s.gcr.io/pause:3.2"] == "mirror.example:5000/pause:3.2"
    assert pulled["docker.io/calico/node:v3.17.6"] == "mirror.example:5000/calico/node:v3.17.6"
    assert {item["digest_from"] for item in document["images"] if "pull" in item} == {"mirror.example:5000"}


def test_the_text_plan_shows_both_mirrors(capsys, offline):
    argv = ["artifact", "fetch", "--plan", "--kube-version", "v1.20.2", "--kubernetes-only",
            "--release-url", "http://127.0.0.1:8080/m", "--registry-mirror", "http://127.0.0.1:5000"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8080/m/release/v1.20.2/bin/linux/amd64/kubelet\tsha256 from " \
           "http://127.0.0.1:8080/m/release/v1.20.2/bin/linux/amd64/kubelet.sha256" in out
    assert "k8s.gcr.io/pause:3.2\tfrom http://127.0.0.1:5000/pause:3.2, digests named by http://127.0.0.1:5000" in out


def test_kubernetes_only_keeps_kubernetes_own_releases_and_images(capsys, offline):
    document = plan_json(capsys, "--kubernetes-only")
    assert [item["name"] for item in document["binaries"]] == list(bom.KUBE_BINARIES)
    assert sorted(item["ref"] for item in document["images"]) == [
        "k8s.gcr.io/kube-apiserver:v1.20.2", "k8s.gcr.io/kube-controller-manager:v1.20.2",
        "k8s.gcr.io/kube-proxy:v1.20.2", "k8s.gcr.io/kube-scheduler:v1.20.2", "k8s.gcr.io/pause:3.2",
    ]
    assert document["calico"] is None


@pytest.mark.parametrize("flag, value, says", [
    ("--release-url", "http://mirror.example/k8s", "plain http is accepted on a loopback address only"),
    ("--release-url", "ftp://mirror.example/k8s", "must be an https:// URL"),
    ("--release-url", "mirror.example/k8s", "must be an https:// URL"),
    ("--release-url", "https://mirror.example/k8s?x=1", "must be an https:// URL"),
    ("--registry-mirror", "http://10.0.0.5:5000", "plain http is accepted on a loopback address only"),
    ("--registry-mirror", "mirror.example:5000/path", "must be HOST[:PORT]"),
    ("--registry-mirror", "mirror.example:port", "must be HOST[:PORT]"),
    ("--registry-mirror", "ftp://mirror.example", "must be HOST[:PORT]"),
])
def test_a_mirror_that_would_downgrade_tls_or_is_no_address_is_refused(capsys, offline, flag, value, says):
    assert cli.main(["artifact", "fetch", "--plan", "--kube-version", "v1.20.2", flag, value]) != 0
    assert says in capsys.readouterr().err


@pytest.mark.parametrize("value, base", [
    ("mirror.example:5000", "https://mirror.example:5000"),
    ("https://mirror.example", "https://mirror.example"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("http://[::1]:5000", "http://[::1]:5000"),
    ("http://localhost:5000", "http://localhost:5000"),
])
def test_the_registry_client_speaks_https_unless_told_http_on_loopback(value, base):
    assert fe.Registry(fe.Http(no_network), value).base == base


def test_the_registry_client_refuses_plain_http_elsewhere():
    with pytest.raises(ArtifactError, match="loopback address only"):
        fe.Registry(fe.Http(no_network), "http://registry.example")
