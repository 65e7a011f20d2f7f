"""The bundle server: only manifest files, identified, reused, refused when the port is someone else's."""

import http.server
import socket
import threading
import urllib.error
import urllib.request

import pytest

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve
from saltsphere.artifacts.errors import ArtifactError


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def bundle(tmp_path):
    directory = tmp_path / "bundle"
    (directory / "bin").mkdir(parents=True)
    (directory / "bin" / "kubelet").write_bytes(b"kubelet bytes")
    (directory / "secret.txt").write_text("not listed")
    entry = mf.entry_for(directory, "bin/kubelet", name="kubelet", version="v1", arch="amd64", kind="binary")
    mf.write_manifest(directory, [entry], kube_version="v1", arch="amd64", distributions=["debian-12"])
    return directory


@pytest.fixture
def server(bundle):
    port = _free_port()
    instance = serve.BundleServer(bundle.resolve(), port, idle_seconds=600)
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield port
    instance.shutdown()
    instance.server_close()


def _get(port, path):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=5)


@pytest.mark.parametrize("path", ["bin/./kubelet", "bin//kubelet", "bin/%6Bubelet"])
def test_paths_are_normalised_the_way_apt_writes_them(server, path):
    with _get(server, path) as response:
        assert response.read() == b"kubelet bytes"


def test_listed_files_are_served_with_the_bundle_identity(server, bundle):
    with _get(server, "bin/kubelet") as response:
        assert response.read() == b"kubelet bytes"
        assert response.headers[serve.IDENTITY_HEADER] == str(bundle.resolve())


@pytest.mark.parametrize("path", ["secret.txt", "bin/", "", "../etc/passwd"])
def test_anything_not_in_the_manifest_is_not_served(server, path):
    with pytest.raises(urllib.error.HTTPError) as raised:
        _get(server, path)
    assert raised.value.code == 404


def test_a_running_server_of_the_same_bundle_is_reused(server, bundle, tmp_path):
    serve.ensure_server(bundle, server, tmp_path / "logs")  # returns without starting another
    assert not (tmp_path / "logs" / "bundle-server.log").exists()


def test_a_port_taken_by_another_program_is_named(bundle, tmp_path):
    port = _free_port()
    other = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ArtifactError, match=f"port {port} .* another program.*artifact_port"):
            serve.ensure_server(bundle, port, tmp_path)
    finally:
        other.shutdown()
        other.server_close()


def test_a_directory_without_manifest_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="not a bundle"):
        serve.ensure_server(tmp_path, _free_port(), tmp_path)


def test_the_route_source_towards_loopback_is_loopback():
    assert serve.source_address_for("127.0.0.1") == "127.0.0.1"
