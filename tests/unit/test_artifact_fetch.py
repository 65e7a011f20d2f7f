"""`saltsphere artifact fetch` against a fake web: no test opens a socket.

The fake opener serves fixed URLs and records every request, so a test can
say exactly what would have been downloaded, and that nothing was.
"""

import email.message
import gzip
import hashlib
import http.client
import importlib.util
import io
import json
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import urllib.response
from pathlib import Path

import pytest

from saltsphere import bom, cli, releases
from saltsphere.artifacts import fetch as fe
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError

REPO = Path(__file__).resolve().parents[2]
REALM = "https://registry.k8s.io/token"
TOKEN = "anonymous-token"
DOCKER_HUB = "registry-1.docker.io"
DOCKER_REALM = "https://auth.docker.io/token"
# Each registry's token service: its realm and service name, and the token it hands out for a scope.
# Docker Hub's tokens hold one repository only, as the real ones do.
TOKEN_SERVICES = {
    "registry.k8s.io": (REALM, "registry.k8s.io", lambda scope: TOKEN),
    DOCKER_HUB: (DOCKER_REALM, "registry.docker.io", lambda scope: f"hub-token-for-{scope}"),
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def headers_of(values=None) -> email.message.Message:
    message = email.message.Message()
    for key, value in (values or {}).items():
        message[key] = value
    return message


def http_error(url, code, reason, headers=None):
    return urllib.error.HTTPError(url, code, reason, headers_of(headers), io.BytesIO(b""))


class Response(io.BytesIO):
    def __init__(self, body: bytes, headers=None):
        super().__init__(body)
        self.headers = headers_of(headers)


class FakeWeb:
    """An opener for fixed URLs; every other URL is a 404."""

    def __init__(self):
        self.routes = {}
        self.requests = []

    def serve(self, url, body: bytes, headers=None):
        self.routes[url] = lambda request: Response(body, headers)

    def handle(self, url, handler):
        self.routes[url] = handler

    def __call__(self, request, timeout):
        assert timeout == fe.TIMEOUT_SECONDS
        self.requests.append(request)
        route = self.routes.get(request.full_url)
        if route is None:
            raise http_error(request.full_url, 404, "Not Found")
        return route(request)

    @property
    def urls(self):
        return [request.full_url for request in self.requests]


def no_network(request, timeout):
    raise AssertionError(f"the network was used: {request.full_url}")


def make_tar(members: dict, gz=False) -> bytes:
    """A tar of ``{name: data}`` or ``{name: (data, mode)}``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as tar:
        for name, value in members.items():
            data, mode = value if isinstance(value, tuple) else (value, 0o755)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- the fake release servers ------------------------------------------------------------------------------

def checksum_file(item: bom.Binary, body: bytes) -> bytes:
    if item.checksum_url.endswith(("SHA256SUMS", "runc.sha256sum")):
        return f"{'0' * 64}  other-file.tar.gz\n{sha(body)}  {item.filename}\n".encode()
    if item.checksum_url.endswith(".sha256sum"):
        return f"{sha(body)}  {item.filename}\n".encode()
    return f"{sha(body)}\n".encode()


def archive_body(archive: fe.Archive) -> bytes:
    if archive.into:
        return make_tar({"./bridge": b"bridge", "./loopback": b"loopback", "./LICENSE": (b"license", 0o644)}, gz=True)
    members = {name: f"{name} program".encode() for name, _ in archive.members}
    members["extra/README.md"] = b"not taken"
    return make_tar(members, gz=True)


def docker_archive(name, version, arch) -> bytes:
    layer = make_tar({"usr/local/bin/" + name: name.encode()})
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha(layer)}"]}}).encode()
    manifest = [{"Config": f"{sha(config)}.json", "RepoTags": [f"registry.k8s.io/{name}-{arch}:{version}"],
                 "Layers": [f"{sha(layer)}/layer.tar"]}]
    return make_tar({"manifest.json": json.dumps(manifest).encode(), f"{sha(config)}.json": config,
                     f"{sha(layer)}/layer.tar": layer})


def image_parts(source, tag, arch):
    layer = gzip.compress(f"{source}:{tag} layer for {arch}".encode(), mtime=0)
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha(layer)}"]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": fe.OCI_MANIFEST,
        "config": {"mediaType": fe.OCI_CONFIG, "digest": f"sha256:{sha(config)}", "size": len(config)},
        "layers": [{"mediaType": fe.OCI_LAYER_GZIP, "digest": f"sha256:{sha(layer)}", "size": len(layer)}],
    }).encode()
    return manifest, config, layer


def token_url(registry, scope):
    realm, service, _ = TOKEN_SERVICES[registry]
    return f"{realm}?service={service}&scope={scope.replace(':', '%3A').replace('/', '%2F')}"


def protected(body, headers, scope, registry="registry.k8s.io"):
    """A registry route that answers 401 with a Bearer challenge until the anonymous token comes along."""
    realm, service, token = TOKEN_SERVICES[registry]

    def handler(request):
        if request.get_header("Authorization") != f"Bearer {token(scope)}":
            challenge = f'Bearer realm="{realm}",service="{service}",scope="{scope}"'
            raise http_error(request.full_url, 401, "Unauthorized", {"WWW-Authenticate": challenge})
        return Response(body, headers)

    return handler


def serve_image(web, source, tag, arches=("amd64", "arm64"), registry="registry.k8s.io") -> dict:
    """Serve ``registry/source:tag`` as an index over ``arches``; the parts of each, by arch."""
    base = f"https://{registry}/v2/{source}"
    scope = f"repository:{source}:pull"
    web.serve(token_url(registry, scope), json.dumps({"token": TOKEN_SERVICES[registry][2](scope)}).encode())
    parts, entries = {}, []
    for arch in arches:
        manifest, config, layer = image_parts(source, tag, arch)
        parts[arch] = (manifest, config, layer)
        entries.append({"mediaType": fe.OCI_MANIFEST, "digest": f"sha256:{sha(manifest)}", "size": len(manifest),
                        "platform": {"architecture": arch, "os": "linux"}})
        web.handle(f"{base}/manifests/sha256:{sha(manifest)}",
                   protected(manifest, {"Content-Type": fe.OCI_MANIFEST}, scope, registry))
        for blob in (config, layer):
            web.handle(f"{base}/blobs/sha256:{sha(blob)}", protected(blob, {}, scope, registry))
    index = json.dumps({"schemaVersion": 2, "mediaType": fe.OCI_INDEX, "manifests": entries}).encode()
    web.handle(f"{base}/manifests/{tag}", protected(
        index, {"Content-Type": fe.OCI_INDEX, "Docker-Content-Digest": f"sha256:{sha(index)}"}, scope, registry))
    return parts


def release_web(bundle: fe.Plan) -> FakeWeb:
    """Every URL ``bundle`` needs, with bodies whose published checksums match."""
    web = FakeWeb()
    items = [(item, f"{item.name} {item.version} {bundle.arch}".encode()) for item in bundle.files]
    items += [(archive.download, archive_body(archive)) for archive in bundle.archives]
    items += [(image.download, docker_archive(image.download.name, bundle.kube_version, bundle.arch))
              for image in bundle.release_images]
    for item, body in items:
        web.serve(item.url, body)
        web.serve(item.checksum_url, checksum_file(item, body))
    for image in bundle.images:
        serve_image(web, image.source, image.tag, registry=image.registry)
    return web


def oci_contents(path: Path) -> dict:
    with tarfile.open(path) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}


def check_oci_archive(path: Path, reference: str, tag: str, arch: str) -> dict:
    """Assert ``path`` is a well-formed OCI layout naming ``reference``; its manifest."""
    contents = oci_contents(path)
    assert json.loads(contents["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in contents.items():
        if name.startswith("blobs/"):
            assert name == f"blobs/sha256/{sha(data)}"
    (entry,) = json.loads(contents["index.json"])["manifests"]
    assert entry["annotations"] == {"io.containerd.image.name": reference, "org.opencontainers.image.ref.name": tag}
    assert entry["platform"] == {"architecture": arch, "os": "linux"}
    manifest_data = contents[f"blobs/sha256/{entry['digest'].partition(':')[2]}"]
    assert entry["size"] == len(manifest_data)
    manifest = json.loads(manifest_data)
    for descriptor in [manifest["config"]] + manifest["layers"]:
        blob = contents[f"blobs/sha256/{descriptor['digest'].partition(':')[2]}"]
        assert descriptor["size"] == len(blob)
    config = json.loads(contents[f"blobs/sha256/{manifest['config']['digest'].partition(':')[2]}"])
    assert (config["os"], config["architecture"]) == ("linux", arch)
    return manifest


# --- versions and URLs -------------------------------------------------------------------------------------

def test_urls_of_a_recent_release():
    bundle = fe.plan(fe.bill_of_materials("v1.28.4", "amd64"))
    urls = {item.url: item.checksum_url for item in bundle.files}
    urls.update({archive.download.url: archive.download.checksum_url for archive in bundle.archives})
    urls.update({image.download.url: image.download.checksum_url for image in bundle.release_images})
    k8s = "https://dl.k8s.io/release/v1.28.4/bin/linux/amd64"
    github = "https://github.com"
    assert urls == {
        f"{k8s}/kubeadm": f"{k8s}/kubeadm.sha256",
        f"{k8s}/kubelet": f"{k8s}/kubelet.sha256",
        f"{k8s}/kubectl": f"{k8s}/kubectl.sha256",
        f"{k8s}/kube-apiserver.tar": f"{k8s}/kube-apiserver.tar.sha256",
        f"{k8s}/kube-controller-manager.tar": f"{k8s}/kube-controller-manager.tar.sha256",
        f"{k8s}/kube-scheduler.tar": f"{k8s}/kube-scheduler.tar.sha256",
        f"{k8s}/kube-proxy.tar": f"{k8s}/kube-proxy.tar.sha256",
        f"{github}/opencontainers/runc/releases/download/v1.2.6/runc.amd64":
            f"{github}/opencontainers/runc/releases/download/v1.2.6/runc.sha256sum",
        f"{github}/etcd-io/etcd/releases/download/v3.5.15/etcd-v3.5.15-linux-amd64.tar.gz":
            f"{github}/etcd-io/etcd/releases/download/v3.5.15/SHA256SUMS",
        f"{github}/containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz":
            f"{github}/containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz.sha256sum",
        f"{github}/kubernetes-sigs/cri-tools/releases/download/v1.28.0/crictl-v1.28.0-linux-amd64.tar.gz":
            f"{github}/kubernetes-sigs/cri-tools/releases/download/v1.28.0/crictl-v1.28.0-linux-amd64.tar.gz.sha256",
        f"{github}/containernetworking/plugins/releases/download/v1.4.0/cni-plugins-linux-amd64-v1.4.0.tgz":
            f"{github}/containernetworking/plugins/releases/download/v1.4.0/cni-plugins-linux-amd64-v1.4.0.tgz.sha256",
    }
    assert [image.reference for image in bundle.release_images] == [
        f"registry.k8s.io/{name}:v1.28.4" for name in bom.CONTROL_PLANE_IMAGES]
    assert [(i.source, i.tag, i.reference) for i in bundle.images[:2]] == [
        ("pause", "3.9", "registry.k8s.io/pause:3.9"),
        ("coredns/coredns", "v1.10.1", "registry.k8s.io/coredns/coredns:v1.10.1"),
    ]
    binaries = {path for path in bundle.bundle_paths() if path.startswith("bin/")}
    assert binaries == {f"bin/{name}" for name in ("kubeadm", "kubelet", "kubectl", "runc", "etcd", "etcdctl",
                                                   "containerd", "containerd-shim-runc-v2", "ctr", "crictl")}
    assert {f"images/{name}.tar" for name in bom.CONTROL_PLANE_IMAGES + ("pause", "coredns", "calico-node")} \
        <= bundle.bundle_paths()


def test_urls_of_kubernetes_1_20_on_arm64():
    bundle = fe.plan(fe.bill_of_materials("v1.20.4", "arm64"))
    urls = [item.url for item in bundle.files] + [archive.download.url for archive in bundle.archives]
    assert "https://dl.k8s.io/release/v1.20.4/bin/linux/arm64/kubelet" in urls
    assert "https://github.com/etcd-io/etcd/releases/download/v3.4.13/etcd-v3.4.13-linux-arm64.tar.gz" in urls
    assert "https://github.com/opencontainers/runc/releases/download/v1.1.12/runc.arm64" in urls
    cni = "https://github.com/containernetworking/plugins/releases/download/v1.1.1"
    assert f"{cni}/cni-plugins-linux-arm64-v1.1.1.tgz" in urls
    etcd = bundle.archives[0]
    assert etcd.members == (("etcd-v3.4.13-linux-arm64/etcd", "bin/etcd"),
                            ("etcd-v3.4.13-linux-arm64/etcdctl", "bin/etcdctl"))
    # kubeadm 1.20 pulls from k8s.gcr.io and still names CoreDNS 'coredns:1.7.0'.
    assert [(i.source, i.reference) for i in bundle.images[:2]] == [
        ("pause", "k8s.gcr.io/pause:3.2"), ("coredns", "k8s.gcr.io/coredns:1.7.0")]
    assert bundle.release_images[0].reference == "k8s.gcr.io/kube-apiserver:v1.20.4"


def test_kubernetes_1_20_bundles_calico_from_docker_hub():
    bundle = fe.plan(fe.bill_of_materials("v1.20.4", "amd64"))
    hub = "registry-1.docker.io"
    assert [(i.name, i.source, i.tag, i.reference, i.registry) for i in bundle.images[2:6]] == [
        ("calico-cni", "calico/cni", "v3.17.6", "docker.io/calico/cni:v3.17.6", hub),
        ("calico-node", "calico/node", "v3.17.6", "docker.io/calico/node:v3.17.6", hub),
        ("calico-kube-controllers", "calico/kube-controllers", "v3.17.6",
         "docker.io/calico/kube-controllers:v3.17.6", hub),
        ("calico-pod2daemon-flexvol", "calico/pod2daemon-flexvol", "v3.17.6",
         "docker.io/calico/pod2daemon-flexvol:v3.17.6", hub),
    ]
    assert {i.registry for i in bundle.images[:2]} == {"registry.k8s.io"}
    assert {"images/calico-node.tar", "images/calico-cni.tar"} <= bundle.bundle_paths()
    assert "kube_network_plugin: bridge" in bundle.images[2].hint


def test_a_minor_without_a_calico_release_bundles_none():
    chosen = {"pause": "3.10", "coredns": "1.12.0", "etcd": "3.5.21", "containerd": "2.0.5", "runc": "1.2.6",
              "crictl": "1.33.0", "cni": "1.6.2"}
    bill = fe.bill_of_materials("v1.33.1", "amd64", chosen)
    assert bill.calico is None and bill.images_of(bom.NETWORK) == []


@pytest.mark.parametrize("version, registry", [
    ("v1.21.14", "k8s.gcr.io"), ("v1.22.16", "k8s.gcr.io"), ("v1.22.17", "registry.k8s.io"),
    ("v1.23.14", "k8s.gcr.io"), ("v1.23.15", "registry.k8s.io"), ("v1.24.8", "k8s.gcr.io"),
    ("v1.24.9", "registry.k8s.io"), ("v1.25.0", "registry.k8s.io"), ("v1.32.0", "registry.k8s.io"),
])
def test_image_registry_follows_kubeadm_default(version, registry):
    assert releases.image_registry(version) == registry


@pytest.mark.parametrize("version, pause, coredns, etcd", [
    ("v1.20.15", "3.2", "1.7.0", "3.4.13"),
    ("v1.21.0", "3.4.1", "v1.8.0", "3.4.13"),
    ("v1.24.17", "3.7", "v1.8.6", "3.5.6"),
    ("v1.30.4", "3.9", "v1.11.1", "3.5.16"),
    ("v1.30.5", "3.9", "v1.11.3", "3.5.16"),
    ("v1.31.0", "3.10", "v1.11.1", "3.5.24"),
    ("v1.31.1", "3.10", "v1.11.3", "3.5.24"),
    ("v1.32.3", "3.10", "v1.11.3", "3.5.24"),
])
def test_versions_kubeadm_expects(version, pause, coredns, etcd):
    versions = releases.resolve_versions(version)
    assert (versions.pause, versions.coredns, versions.etcd) == (pause, coredns, etcd)


def test_version_table_covers_every_minor_from_1_20_to_1_32():
    assert sorted(releases.VERSION_TABLE) == [(1, minor) for minor in range(20, 33)]
    for (_, minor), versions in releases.VERSION_TABLE.items():
        assert versions.crictl == f"1.{minor}.0"
        assert versions.coredns.startswith("v") == (minor >= 21)
        for component in ("etcd", "containerd", "runc", "crictl", "cni"):
            assert not getattr(versions, component).startswith("v")


def test_overrides_replace_table_versions_and_get_coredns_tag_style():
    versions = releases.resolve_versions("v1.28.4", {"etcd": "v3.5.16", "coredns": "1.11.1", "cni": None})
    assert (versions.etcd, versions.coredns, versions.cni) == ("3.5.16", "v1.11.1", "1.4.0")
    assert releases.resolve_versions("v1.20.4", {"coredns": "v1.6.9"}).coredns == "1.6.9"


def test_a_minor_outside_the_table_needs_every_version_given():
    with pytest.raises(ArtifactError) as caught:
        releases.resolve_versions("v1.33.1", {"etcd": "3.5.21"})
    message = str(caught.value)
    assert "1.20 to 1.32" in message
    assert "--pause-version" in message and "--cni-version" in message and "--etcd-version" not in message
    chosen = {"pause": "3.10", "coredns": "1.12.0", "etcd": "3.5.21", "containerd": "2.0.5", "runc": "1.2.6",
              "crictl": "1.33.0", "cni": "1.6.2"}
    versions = releases.resolve_versions("v1.33.1", chosen)
    assert versions.coredns == "v1.12.0" and versions.containerd == "2.0.5"
    bundle = fe.plan(fe.bill_of_materials("v1.33.1", "amd64", chosen))
    assert bundle.images[1].reference == "registry.k8s.io/coredns/coredns:v1.12.0"


@pytest.mark.parametrize("version", ["1.28.4", "v1.28", "v1.28.4-rc.1", "latest", ""])
def test_kube_version_must_be_a_release(version):
    with pytest.raises(ArtifactError, match="must be a release like v1.28.4"):
        releases.resolve_versions(version)


def test_arch_and_override_values_are_checked():
    with pytest.raises(ArtifactError, match="--arch 's390x' is not supported; use one of amd64, arm64"):
        fe.plan(fe.bill_of_materials("v1.28.4", "s390x"))
    with pytest.raises(ArtifactError, match="--runc-version 'main' is not a version"):
        releases.resolve_versions("v1.28.4", {"runc": "main"})


# --- checksum files ----------------------------------------------------------------------------------------

HEX = "ab" * 32


@pytest.mark.parametrize("text", [
    f"{HEX}\n", f"{HEX}", f"{HEX.upper()}\n", f"{HEX}  kubeadm\n", f"{HEX} *kubeadm\n",
    f"{'0' * 64}  kubelet\n{HEX}  kubeadm\n\n", f"{HEX}  ./bin/kubeadm\n",
])
def test_checksum_file_formats(text):
    assert fe.parse_checksum(text, "kubeadm", "kubeadm.sha256") == HEX


@pytest.mark.parametrize("text, message", [
    (f"{'0' * 64}  kubelet\n{HEX}  kubectl\n", "SHA256SUMS lists no sha256 for kubeadm"),
    (f"{HEX}\n{'0' * 64}\n", "SHA256SUMS lists no sha256 for kubeadm"),
    ("", "SHA256SUMS is empty"),
    ("<html>Not Found</html>\n", "SHA256SUMS is not a sha256 checksum file"),
    ("abc123  kubeadm\n", "SHA256SUMS is not a sha256 checksum file"),
])
def test_checksum_file_problems(text, message):
    with pytest.raises(ArtifactError, match=message):
        fe.parse_checksum(text, "kubeadm", "SHA256SUMS")


# --- verified downloads ------------------------------------------------------------------------------------

URL = "https://dl.k8s.io/release/v1.28.4/bin/linux/amd64/kubeadm"


def test_download_keeps_a_file_whose_sha256_matches(tmp_path):
    web = FakeWeb()
    web.serve(URL, b"kubeadm")
    dest = tmp_path / "bin" / "kubeadm"
    assert fe.download(fe.Http(web), URL, dest, sha(b"kubeadm").upper(), hint="h", mode=0o755, log=lambda _: None)
    assert dest.read_bytes() == b"kubeadm"
    assert dest.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in dest.parent.iterdir()] == ["kubeadm"]


def test_download_with_the_wrong_sha256_keeps_nothing(tmp_path):
    web = FakeWeb()
    web.serve(URL, b"tampered")
    dest = tmp_path / "bin" / "kubeadm"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(ArtifactError) as caught:
        fe.download(fe.Http(web), URL, dest, sha(b"kubeadm"), hint="h", log=lambda _: None)
    message = str(caught.value)
    assert URL in message and sha(b"kubeadm") in message and sha(b"tampered") in message
    assert [p.name for p in dest.parent.iterdir()] == ["kubeadm"]
    assert dest.read_bytes() == b"old"


def test_a_file_already_in_place_is_not_downloaded_again(tmp_path):
    web = FakeWeb()
    dest = tmp_path / "kubeadm"
    dest.write_bytes(b"kubeadm")
    assert not fe.download(fe.Http(web), URL, dest, sha(b"kubeadm"), hint="h", mode=0o755)
    assert web.requests == []
    assert dest.stat().st_mode & 0o777 == 0o755


def test_http_errors_name_the_url_and_the_fix(tmp_path):
    with pytest.raises(ArtifactError) as caught:
        fe.download(fe.Http(FakeWeb()), URL, tmp_path / "kubeadm", HEX, hint="check --kube-version",
                    log=lambda _: None)
    assert str(caught.value) == f"could not download {URL}: 404 Not Found; check --kube-version"
    assert list(tmp_path.iterdir()) == []


def test_network_errors_say_to_check_the_network(tmp_path):
    def unreachable(request, timeout):
        raise urllib.error.URLError(TimeoutError("timed out"))

    with pytest.raises(ArtifactError, match=f"could not download {URL}: timed out; check the network"):
        fe.download(fe.Http(unreachable), URL, tmp_path / "kubeadm", HEX, hint="h", log=lambda _: None)


def test_a_connection_broken_mid_download_leaves_nothing(tmp_path):
    class Broken(Response):
        def read(self, size=-1):
            raise http.client.IncompleteRead(b"kube")

    web = FakeWeb()
    web.handle(URL, lambda request: Broken(b""))
    with pytest.raises(ArtifactError, match=f"could not download {URL}: IncompleteRead.*check the network"):
        fe.download(fe.Http(web), URL, tmp_path / "kubeadm", HEX, hint="h", log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_redirects_are_followed_and_a_token_goes_only_to_its_host():
    web = FakeWeb()
    start = "https://registry.k8s.io/v2/pause/blobs/sha256:" + HEX

    def redirect(request):
        assert request.get_header("Authorization") == "Bearer t"
        raise http_error(request.full_url, 307, "Temporary Redirect", {"Location": "https://storage.example/b?x=1"})

    def storage(request):
        assert request.get_header("Authorization") is None
        return Response(b"blob")

    web.handle(start, redirect)
    web.handle("https://storage.example/b?x=1", storage)
    with fe.Http(web).get(start, tokens={"registry.k8s.io": "t"}) as response:
        assert response.read() == b"blob"
    assert web.urls == [start, "https://storage.example/b?x=1"]


def test_the_default_opener_hands_redirects_back_to_http():
    class Canned(urllib.request.BaseHandler):
        handler_order = 100  # before the real HTTPS handler: nothing leaves this process

        def https_open(self, request):
            response = urllib.response.addinfourl(io.BytesIO(b""), headers_of({"Location": "https://b.example/x"}),
                                                  request.full_url, 302)
            response.msg = "Found"
            return response

    opener = fe.default_opener()
    opener.__self__.add_handler(Canned())
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener(urllib.request.Request("https://a.example/x"), timeout=1)
    assert (caught.value.code, caught.value.headers["Location"]) == (302, "https://b.example/x")


def test_a_redirect_loop_ends():
    def loop(request):
        raise http_error(request.full_url, 302, "Found", {"Location": "/again"})

    web = FakeWeb()
    web.handle("https://dl.k8s.io/again", loop)
    web.handle("https://dl.k8s.io/start", loop)
    with pytest.raises(ArtifactError, match="more than 10 redirects"):
        fe.Http(web).get("https://dl.k8s.io/start")


# --- registry images ---------------------------------------------------------------------------------------

PAUSE = fe.Image("pause", "pause", "3.9", "registry.k8s.io/pause:3.9", "check --pause-version (3.9)")


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_pull_gets_an_anonymous_token_picks_the_arch_and_writes_an_oci_archive(tmp_path, arch):
    web = FakeWeb()
    parts = serve_image(web, "pause", "3.9")
    dest = tmp_path / "images" / "pause.tar"
    fe.pull_image(fe.Registry(fe.Http(web)), PAUSE, arch, dest, log=lambda _: None)

    token = token_url("registry.k8s.io", "repository:pause:pull")
    assert web.urls.count(token) == 1
    assert web.urls[:3] == ["https://registry.k8s.io/v2/pause/manifests/3.9", token,
                            "https://registry.k8s.io/v2/pause/manifests/3.9"]
    assert web.requests[0].get_header("Accept") == ", ".join(fe.INDEX_TYPES + fe.MANIFEST_TYPES)
    manifest_data, config, layer = parts[arch]
    manifest = check_oci_archive(dest, "registry.k8s.io/pause:3.9", "3.9", arch)
    assert manifest == json.loads(manifest_data)
    contents = oci_contents(dest)
    assert contents[f"blobs/sha256/{sha(config)}"] == config
    assert contents[f"blobs/sha256/{sha(layer)}"] == layer
    assert sorted(contents) == sorted(["oci-layout", "index.json"] + [
        f"blobs/sha256/{sha(blob)}" for blob in (manifest_data, config, layer)])
    assert fe.oci_archive_matches(dest, "registry.k8s.io/pause:3.9", arch)
    assert not fe.oci_archive_matches(dest, "registry.k8s.io/pause:3.10", arch)
    assert [p.name for p in dest.parent.iterdir()] == ["pause.tar"]


def test_the_archive_is_what_the_installer_imports(tmp_path):
    web = FakeWeb()
    parts = serve_image(web, "pause", "3.9")
    dest = tmp_path / "pause.tar"
    fe.pull_image(fe.Registry(fe.Http(web)), PAUSE, "amd64", dest, log=lambda _: None)
    spec = importlib.util.spec_from_file_location(
        "saltsphere_containerd_module", REPO / "extension_modules" / "modules" / "saltsphere_containerd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.archive_images(str(dest)) == [
        {"name": "registry.k8s.io/pause:3.9", "target": f"sha256:{sha(parts['amd64'][0])}", "config": None}]


def test_the_same_image_makes_the_same_archive(tmp_path):
    web = FakeWeb()
    serve_image(web, "pause", "3.9")
    registry = fe.Registry(fe.Http(web))
    fe.pull_image(registry, PAUSE, "amd64", tmp_path / "a.tar", log=lambda _: None)
    fe.pull_image(registry, PAUSE, "amd64", tmp_path / "b.tar", log=lambda _: None)
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_a_tampered_blob_is_refused_and_nothing_is_left(tmp_path):
    web = FakeWeb()
    parts = serve_image(web, "pause", "3.9")
    _, _, layer = parts["amd64"]
    layer_url = f"https://registry.k8s.io/v2/pause/blobs/sha256:{sha(layer)}"
    web.serve(layer_url, b"something else")
    dest = tmp_path / "images" / "pause.tar"
    with pytest.raises(ArtifactError) as caught:
        fe.pull_image(fe.Registry(fe.Http(web)), PAUSE, "amd64", dest, log=lambda _: None)
    assert layer_url in str(caught.value) and sha(b"something else") in str(caught.value)
    assert list(dest.parent.iterdir()) == []


def test_a_tampered_manifest_is_refused(tmp_path):
    web = FakeWeb()
    parts = serve_image(web, "pause", "3.9")
    manifest_data, _, _ = parts["amd64"]
    web.serve(f"https://registry.k8s.io/v2/pause/manifests/sha256:{sha(manifest_data)}", manifest_data + b" ",
              {"Content-Type": fe.OCI_MANIFEST})
    with pytest.raises(ArtifactError, match="but it was asked for as sha256:"):
        fe.pull_image(fe.Registry(fe.Http(web)), PAUSE, "amd64", tmp_path / "pause.tar", log=lambda _: None)


def test_an_image_without_the_arch_is_refused(tmp_path):
    web = FakeWeb()
    serve_image(web, "pause", "3.9", arches=("amd64",))
    with pytest.raises(ArtifactError, match="registry.k8s.io/pause:3.9 has no linux/arm64 image"):
        fe.pull_image(fe.Registry(fe.Http(web)), PAUSE, "arm64", tmp_path / "pause.tar", log=lambda _: None)


def test_a_single_manifest_for_another_arch_is_refused(tmp_path):
    web = FakeWeb()
    manifest, config, layer = image_parts("pause", "3.9", "amd64")
    base = "https://registry.k8s.io/v2/pause"
    web.serve(f"{base}/manifests/3.9", manifest, {"Content-Type": fe.OCI_MANIFEST})
    for blob in (config, layer):
        web.serve(f"{base}/blobs/sha256:{sha(blob)}", blob)
    with pytest.raises(ArtifactError, match="is for linux/amd64, not linux/arm64"):
        fe.pull_image(fe.Registry(fe.Http(web)), PAUSE, "arm64", tmp_path / "pause.tar", log=lambda _: None)
    fe.pull_image(fe.Registry(fe.Http(web)), PAUSE, "amd64", tmp_path / "pause.tar", log=lambda _: None)
    check_oci_archive(tmp_path / "pause.tar", "registry.k8s.io/pause:3.9", "3.9", "amd64")


def test_a_registry_that_wants_credentials_is_refused():
    def basic(request):
        raise http_error(request.full_url, 401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="x"'})

    web = FakeWeb()
    web.handle("https://registry.k8s.io/v2/pause/manifests/3.9", basic)
    with pytest.raises(ArtifactError, match="asks for Basic authentication; saltsphere pulls public images"):
        fe.Registry(fe.Http(web)).manifest("pause", "3.9", "h")


def test_a_token_that_does_not_help_ends_in_the_401():
    def always(request):
        challenge = f'Bearer realm="{REALM}",service="registry.k8s.io",scope="repository:pause:pull"'
        raise http_error(request.full_url, 401, "Unauthorized", {"WWW-Authenticate": challenge})

    web = FakeWeb()
    web.handle("https://registry.k8s.io/v2/pause/manifests/3.9", always)
    web.serve(f"{REALM}?service=registry.k8s.io&scope=repository%3Apause%3Apull", b'{"access_token": "t"}')
    with pytest.raises(ArtifactError, match="could not download .*/manifests/3.9: 401 Unauthorized; h"):
        fe.Registry(fe.Http(web)).manifest("pause", "3.9", "h")
    assert len(web.requests) == 3


def test_a_docker_archive_becomes_an_oci_archive_under_the_name_kubeadm_uses(tmp_path):
    source = tmp_path / "kube-apiserver.tar"
    source.write_bytes(docker_archive("kube-apiserver", "v1.28.4", "amd64"))
    dest = tmp_path / "images" / "kube-apiserver.tar"
    fe.docker_archive_to_oci(source, dest, "registry.k8s.io/kube-apiserver:v1.28.4", "v1.28.4", "amd64")
    manifest = check_oci_archive(dest, "registry.k8s.io/kube-apiserver:v1.28.4", "v1.28.4", "amd64")
    with tarfile.open(source) as tar:
        original = json.loads(tar.extractfile("manifest.json").read())[0]
    assert manifest["config"]["digest"] == f"sha256:{original['Config'].removesuffix('.json')}"
    assert manifest["layers"][0]["mediaType"] == fe.OCI_LAYER
    with pytest.raises(ArtifactError, match="not linux/arm64"):
        fe.docker_archive_to_oci(source, dest, "registry.k8s.io/kube-apiserver:v1.28.4", "v1.28.4", "arm64")
    source.write_bytes(make_tar({"index.json": b"{}"}))
    with pytest.raises(ArtifactError, match="is not a docker archive"):
        fe.docker_archive_to_oci(source, dest, "registry.k8s.io/kube-apiserver:v1.28.4", "v1.28.4", "amd64")


# --- a whole bundle ----------------------------------------------------------------------------------------

def test_fetch_writes_a_bundle_that_verifies_and_a_second_run_downloads_nothing(tmp_path):
    bundle = fe.plan(fe.bill_of_materials("v1.28.4", "amd64"))
    web = release_web(bundle)
    out, cache = tmp_path / "bundle", tmp_path / "cache"
    (out / "cni").mkdir(parents=True)
    (out / "cni" / "plugin-of-an-older-release").write_bytes(b"old")
    lines = []
    written = fe.fetch(out, "v1.28.4", "amd64", cache_dir=cache, opener=web, log=lines.append)

    assert mf.verify(out) == []
    loaded = mf.read_manifest(out)
    assert (loaded.kube_version, loaded.arch) == ("v1.28.4", "amd64")
    assert loaded.distributions == list(fe.DISTRIBUTIONS)
    entries = {entry.path: entry for entry in loaded.files}
    assert sorted(entries) == sorted(bundle.bundle_paths() | {"cni/bridge", "cni/loopback"})
    assert {entry.kind for path, entry in entries.items() if path.startswith("images/")} == {"image"}
    assert {entry.kind for path, entry in entries.items() if not path.startswith("images/")} == {"binary"}
    assert entries["bin/etcd"].version == "v3.5.15" and entries["bin/ctr"].version == "v1.7.27"
    assert entries["bin/kubeadm"].version == "v1.28.4" and entries["images/coredns.tar"].version == "v1.10.1"
    assert (out / "bin" / "etcd").read_bytes() == b"etcd-v3.5.15-linux-amd64/etcd program"
    assert (out / "bin" / "kubelet").stat().st_mode & 0o777 == 0o755
    assert (out / "cni" / "bridge").stat().st_mode & 0o777 == 0o755
    assert sorted(written.files, key=lambda e: e.path) == loaded.files
    assert lines[0].startswith("Kubernetes v1.28.4 for linux/amd64 with pause 3.9, coredns v1.10.1, etcd 3.5.15")
    assert lines[0].endswith(", calico v3.28.2")
    for image in bundle.release_images:
        assert entries[image.path].ref == image.reference
        check_oci_archive(out / image.path, image.reference, "v1.28.4", "amd64")
    for image in bundle.images:
        assert entries[image.path].ref == image.reference
        check_oci_archive(out / image.path, image.reference, image.tag, "amd64")
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part") or p.name.startswith(".blobs")]

    again = fe.fetch(out, "v1.28.4", "amd64", cache_dir=cache, opener=no_network, log=lambda _: None)
    assert sorted(again.files, key=lambda e: e.path) == loaded.files
    assert mf.verify(out) == []


def test_fetch_pulls_calico_from_docker_hub_with_a_token_per_repository(tmp_path):
    bundle = fe.plan(fe.bill_of_materials("v1.20.4", "amd64"))
    web = release_web(bundle)
    out, cache = tmp_path / "bundle", tmp_path / "cache"
    lines = []
    fe.fetch(out, "v1.20.4", "amd64", cache_dir=cache, opener=web, log=lines.append)

    assert lines[0].endswith(", calico v3.17.6")
    assert mf.verify(out) == []
    entries = {entry.path: entry for entry in mf.read_manifest(out).files}
    for image in bundle.images[2:6]:
        assert entries[image.path].ref == image.reference and entries[image.path].version == "v3.17.6"
        check_oci_archive(out / image.path, image.reference, "v3.17.6", "amd64")
    for source in ("calico/cni", "calico/node", "calico/kube-controllers", "calico/pod2daemon-flexvol"):
        assert web.urls.count(token_url(DOCKER_HUB, f"repository:{source}:pull")) == 1
    for request in web.requests:
        host = urllib.parse.urlsplit(request.full_url).hostname
        token = (request.get_header("Authorization") or "").removeprefix("Bearer ")
        if host == DOCKER_HUB:
            assert token in ("", *(f"hub-token-for-repository:{i.source}:pull" for i in bundle.images[2:]))
        else:
            assert not token.startswith("hub-token"), f"a Docker Hub token went to {request.full_url}"

    fe.fetch(out, "v1.20.4", "amd64", cache_dir=cache, opener=no_network, log=lambda _: None)


def test_fetch_replaces_a_damaged_file_and_keeps_the_rest(tmp_path):
    bundle = fe.plan(fe.bill_of_materials("v1.28.4", "arm64"))
    out, cache = tmp_path / "bundle", tmp_path / "cache"
    fe.fetch(out, "v1.28.4", "arm64", cache_dir=cache, opener=release_web(bundle), log=lambda _: None)
    (out / "bin" / "kubelet").write_bytes(b"damaged")
    web = release_web(bundle)
    fe.fetch(out, "v1.28.4", "arm64", cache_dir=cache, opener=web, log=lambda _: None)
    assert web.urls == ["https://dl.k8s.io/release/v1.28.4/bin/linux/arm64/kubelet"]
    assert mf.verify(out) == []


def test_fetch_refuses_a_directory_holding_other_files_before_any_download(tmp_path):
    out = tmp_path / "bundle"
    (out / "bin").mkdir(parents=True)
    (out / "bin" / "kube-apiserver").write_bytes(b"from a build")
    with pytest.raises(ArtifactError, match="holds files a fetched bundle would not list: bin/kube-apiserver"):
        fe.fetch(out, "v1.28.4", cache_dir=tmp_path / "cache", opener=no_network)


def test_fetch_stops_at_a_download_that_does_not_match(tmp_path):
    bundle = fe.plan(fe.bill_of_materials("v1.28.4", "amd64"))
    web = release_web(bundle)
    web.serve(bundle.files[1].url, b"not kubelet")
    out = tmp_path / "bundle"
    with pytest.raises(ArtifactError, match="kubelet: sha256 is"):
        fe.fetch(out, "v1.28.4", cache_dir=tmp_path / "cache", opener=web, log=lambda _: None)
    assert sorted(p.name for p in (out / "bin").iterdir()) == ["kubeadm"]
    assert not (out / mf.MANIFEST_NAME).exists()


# --- the command line --------------------------------------------------------------------------------------

def run_cli(*argv):
    return cli.main(["artifact", "fetch", *argv])


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(fe, "default_opener", lambda: no_network)


@pytest.mark.parametrize("argv, message", [
    (["--kube-version", "1.28.4"], "--kube-version '1.28.4' must be a release like v1.28.4"),
    (["--kube-version", "v1.28.4", "--arch", "s390x"], "--arch 's390x' is not supported"),
    (["--kube-version", "v1.40.0"], "Kubernetes 1.40 is not in saltsphere's version table"),
    (["--kube-version", "v1.28.4", "--etcd-version", "latest"], "--etcd-version 'latest' is not a version"),
])
def test_cli_rejects_bad_arguments_before_any_download(tmp_path, capsys, offline, argv, message):
    assert run_cli(*argv, "--out", str(tmp_path / "b"), "--cache", str(tmp_path / "c")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_cli_needs_the_kube_version(capsys):
    with pytest.raises(SystemExit):
        run_cli()
    assert "--kube-version" in capsys.readouterr().err


def test_cli_fetches_with_overrides_and_lists_the_files(tmp_path, capsys, monkeypatch):
    web = release_web(fe.plan(fe.bill_of_materials("v1.27.3", "arm64", {"etcd": "3.5.16", "cni": "1.5.1"})))
    monkeypatch.setattr(fe, "default_opener", lambda: web)
    out = tmp_path / "bundle"
    assert run_cli("--kube-version", "v1.27.3", "--arch", "arm64", "--etcd-version", "v3.5.16", "--cni-version",
                   "1.5.1", "--out", str(out), "--cache", str(tmp_path / "cache")) == 0
    printed = capsys.readouterr().out
    assert "https://github.com/etcd-io/etcd/releases/download/v3.5.16/etcd-v3.5.16-linux-arm64.tar.gz" in web.urls
    assert "bin/etcd\tv3.5.16\t" in printed and "cni/bridge\tv1.5.1\t" in printed
    assert printed.rstrip().endswith(f"bundle: {out.resolve()}")
    assert cli.main(["artifact", "verify", str(out)]) == 0
