"""`artifact fetch --release-url --registry-mirror` against real mirrors on this machine's loopback.

The release mirror is an HTTP server holding the locally built bundle's
kubeadm, kubelet and kubectl, and its control-plane images as the docker
archives upstream publishes, each with a `.sha256` file, in upstream's layout;
the registry mirror is Debian's docker-registry holding the bundle's pause
image, pushed there by skopeo.  What the built bundle lacks (etcd, containerd,
CoreDNS, ...) is left out with --kubernetes-only.  No sandbox host is needed.
"""

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from saltsphere import bom, cli
from saltsphere.artifacts import manifest as mf

BUNDLE = Path("/var/lib/saltsphere/bundle")
REGISTRY_BINARY = Path("/var/cache/saltsphere/docker-registry/usr/bin/docker-registry")


def _tool(name, fallback=None):
    found = shutil.which(name) or (str(fallback) if fallback and fallback.exists() else None)
    assert found, f"{name} is missing: tools/test installs it"
    return found


@pytest.fixture(scope="module")
def source():
    """The locally built bundle's manifest; tools/test builds the bundle when it runs as root."""
    if not (BUNDLE / mf.MANIFEST_NAME).is_file():
        if os.geteuid() != 0:
            pytest.skip(f"no built bundle at {BUNDLE}: tools/test builds it when run as root")
        pytest.fail(f"no built bundle at {BUNDLE}: run `saltsphere artifact build --from-debian-source`")
    return mf.read_manifest(BUNDLE)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sha256(path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def release_mirror(source, tmp_path_factory):
    """``(base URL, directory it serves, release directory)``: upstream's dl.k8s.io layout below the base URL."""
    root = tmp_path_factory.mktemp("release-mirror")
    release = root / "k8s" / "release" / source.kube_version / "bin" / "linux" / source.arch
    release.mkdir(parents=True)
    skopeo = _tool("skopeo")
    for entry in source.files:
        if entry.kind == "binary" and entry.name in bom.KUBE_BINARIES:
            os.symlink(BUNDLE / entry.path, release / entry.name)
        elif entry.kind == "image" and entry.name in bom.CONTROL_PLANE_IMAGES:
            # Upstream publishes these as `docker save` archives named <registry>/<name>-<arch>:<version>.
            subprocess.run([skopeo, "copy", "-q", f"oci-archive:{BUNDLE / entry.path}",
                            f"docker-archive:{release / entry.name}.tar:"
                            f"k8s.gcr.io/{entry.name}-{source.arch}:{source.kube_version}"],
                           check=True, capture_output=True, timeout=120)
    for program in sorted(release.iterdir()):
        # dl.k8s.io's checksum files hold the bare hex digest.
        (release / f"{program.name}.sha256").write_text(_sha256(program))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/k8s", root, release
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def registry_mirror(source, tmp_path_factory):
    """``(address, storage directory)`` of a docker-registry on loopback holding the bundle's pause image."""
    binary = _tool("docker-registry", REGISTRY_BINARY)
    skopeo = _tool("skopeo")
    root = tmp_path_factory.mktemp("registry-mirror")
    address = f"127.0.0.1:{_free_port()}"
    (root / "config.yml").write_text(f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: "
                                     f"{root / 'data'}}}}}\nhttp: {{addr: '{address}'}}\n")
    with open(root / "log", "w") as log:
        proc = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (root / "log").read_text()
                time.sleep(0.1)
        for entry in source.files:
            if entry.kind == "image" and entry.name == "pause":
                # The repository path below the registry is the image's own (k8s.gcr.io/pause:3.2 is pause:3.2).
                path = entry.ref.partition("/")[2]
                subprocess.run([skopeo, "copy", "-q", "--dest-tls-verify=false", f"oci-archive:{BUNDLE / entry.path}",
                                f"docker://{address}/{path}"], check=True, capture_output=True, timeout=120)
        yield address, root / "data"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _fetch(capsys, source, release, registry, out, cache):
    argv = ["artifact", "fetch", "--kube-version", source.kube_version, "--arch", source.arch, "--kubernetes-only",
            "--release-url", release, "--registry-mirror", f"http://{registry}", "--out", str(out),
            "--cache", str(cache)]
    started = time.monotonic()
    code = cli.main(argv)
    captured = capsys.readouterr()
    print(f"fetch from the loopback mirrors: {time.monotonic() - started:.1f} s, exit {code}")
    return code, captured.out, captured.err


def _image_identity(path: Path) -> tuple:
    """``(configuration digest, layer diff ids)`` of a one-image OCI archive: what containerd knows it by."""
    with tarfile.open(path) as tar:
        def read(name):
            return tar.extractfile(name).read()

        entry = json.loads(read("index.json"))["manifests"][0]
        manifest = json.loads(read(f"blobs/sha256/{entry['digest'].partition(':')[2]}"))
        digest = manifest["config"]["digest"]
        config = json.loads(read(f"blobs/sha256/{digest.partition(':')[2]}"))
    return digest, tuple(config["rootfs"]["diff_ids"])


def _leftovers(out: Path) -> list:
    return [str(path) for path in out.rglob(".*")] if out.exists() else []


def test_a_bundle_fetched_from_the_mirrors_is_the_built_bundles_kubernetes(capsys, source, release_mirror,
                                                                            registry_mirror, tmp_path):
    release, _, _ = release_mirror
    registry, _ = registry_mirror
    out = tmp_path / "bundle"
    code, stdout, stderr = _fetch(capsys, source, release, registry, out, tmp_path / "cache")
    assert code == 0, stdout + stderr
    assert cli.main(["artifact", "verify", str(out)]) == 0, capsys.readouterr()
    fetched = {entry.path: entry for entry in mf.read_manifest(out).files}
    built = {entry.ref or entry.path: entry for entry in source.files}
    assert sorted(fetched) == ["bin/kubeadm", "bin/kubectl", "bin/kubelet", "images/kube-apiserver.tar",
                               "images/kube-controller-manager.tar", "images/kube-proxy.tar",
                               "images/kube-scheduler.tar", "images/pause.tar"]
    for path, entry in fetched.items():
        if entry.kind == "binary":
            assert entry.sha256 == built[path].sha256, path
        else:
            assert _image_identity(out / path) == _image_identity(BUNDLE / built[entry.ref].path), path
    assert not _leftovers(out)


def test_a_wrong_checksum_on_the_mirror_keeps_nothing_of_that_file(capsys, source, release_mirror, registry_mirror,
                                                                     tmp_path):
    release, _, directory = release_mirror
    registry, _ = registry_mirror
    checksum = directory / "kubectl.sha256"
    right = checksum.read_text()
    checksum.write_text(hashlib.sha256(b"not kubectl").hexdigest())
    try:
        out = tmp_path / "bundle"
        code, _, stderr = _fetch(capsys, source, release, registry, out, tmp_path / "cache")
    finally:
        checksum.write_text(right)
    assert code != 0
    assert f"{release}/release/{source.kube_version}/bin/linux/{source.arch}/kubectl: sha256 is {right}" in stderr
    assert not (out / "bin" / "kubectl").exists()
    assert not (out / mf.MANIFEST_NAME).exists()
    assert not _leftovers(out)


def test_a_file_missing_on_the_mirror_is_named_by_its_url(capsys, source, release_mirror, registry_mirror, tmp_path):
    release, _, directory = release_mirror
    registry, _ = registry_mirror
    hidden = directory / "kubelet.hidden"
    (directory / "kubelet").rename(hidden)
    try:
        out = tmp_path / "bundle"
        code, _, stderr = _fetch(capsys, source, release, registry, out, tmp_path / "cache")
    finally:
        hidden.rename(directory / "kubelet")
    assert code != 0
    assert (f"could not download {release}/release/{source.kube_version}/bin/linux/{source.arch}/kubelet: "
            "404") in stderr
    assert not (out / "bin" / "kubelet").exists()
    assert not (out / mf.MANIFEST_NAME).exists()
    assert not _leftovers(out)


def test_a_blob_altered_in_the_registry_is_refused_naming_the_image(capsys, source, release_mirror, registry_mirror,
                                                                      tmp_path):
    release, _, _ = release_mirror
    registry, storage = registry_mirror
    pause = next(entry for entry in source.files if entry.kind == "image" and entry.name == "pause")
    with tarfile.open(BUNDLE / pause.path) as tar:
        entry = json.loads(tar.extractfile("index.json").read())["manifests"][0]
        manifest = json.loads(tar.extractfile(f"blobs/sha256/{entry['digest'].partition(':')[2]}").read())
    layer = manifest["layers"][0]["digest"].partition(":")[2]
    data = storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / layer[:2] / layer / "data"
    original = data.read_bytes()
    # Same length, one byte changed: only the digest can tell.
    data.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    try:
        out = tmp_path / "bundle"
        code, _, stderr = _fetch(capsys, source, release, registry, out, tmp_path / "cache")
    finally:
        data.write_bytes(original)
    assert code != 0
    assert f"{registry}/pause:{pause.ref.rpartition(':')[2]}:" in stderr
    assert f"but the registry names this blob sha256:{layer}" in stderr
    assert not (out / pause.path).exists()
    assert not (out / mf.MANIFEST_NAME).exists()
    assert not _leftovers(out)


def test_a_manifest_altered_in_the_registry_is_refused_naming_the_image(capsys, source, release_mirror,
                                                                          registry_mirror, tmp_path):
    release, _, _ = release_mirror
    registry, storage = registry_mirror
    pause = next(entry for entry in source.files if entry.kind == "image" and entry.name == "pause")
    tag = pause.ref.rpartition(":")[2]
    v2 = storage / "docker" / "registry" / "v2"
    digest = (v2 / "repositories" / "pause" / "_manifests" / "tags" / tag / "current" / "link").read_text().strip()
    data = v2 / "blobs" / "sha256" / digest[7:9] / digest[7:] / "data"
    original = data.read_bytes()
    # A layer's size one more, same length: still a valid manifest, no longer the one the registry names.
    size = re.search(rb'"size":\s*(\d+)', original)
    last = size.end(1) - 1
    data.write_bytes(original[:last] + bytes([ord("0") + (original[last] - ord("0") + 1) % 10]) + original[last + 1:])
    try:
        out = tmp_path / "bundle"
        code, _, stderr = _fetch(capsys, source, release, registry, out, tmp_path / "cache")
    finally:
        data.write_bytes(original)
    assert code != 0
    assert f"http://{registry}/v2/pause/manifests/{tag}: the manifest's sha256 is " in stderr
    assert f"but it was asked for as {digest}" in stderr
    assert not (out / pause.path).exists()
    assert not (out / mf.MANIFEST_NAME).exists()
    assert not _leftovers(out)
