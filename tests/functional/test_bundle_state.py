"""saltsphere_bundle.fetched, run by Salt's loader against a bundle served on loopback.

A file is fetched once and checked by sha256; a further run neither fetches
nor reads it unless it was touched since; a wrong or missing download never
replaces what is there.
"""

import functools
import hashlib
import http.server
import os
import socket
import threading

import pytest

CONTENT = b"kubelet binary stand-in\n" * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()


class Bundle:
    """A directory served over HTTP on 127.0.0.1, counting the GET requests it answers."""

    def __init__(self, directory):
        self.directory = directory
        self.gets = 0
        bundle = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                bundle.gets += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"


@pytest.fixture
def bundle(tmp_path):
    served = tmp_path / "bundle"
    (served / "bin").mkdir(parents=True)
    (served / "bin" / "kubelet").write_bytes(CONTENT)
    (served / "bin" / "damaged").write_bytes(CONTENT + b"x")
    server = Bundle(served)
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def fetch(master_loaders, bundle, tmp_path):
    record = str(tmp_path / "record" / "bundle-files.json")

    def run(target, path="bin/kubelet", sha256=SHA, mode="0755"):
        return master_loaders.states.saltsphere_bundle.fetched(
            name=str(target), source=bundle.url(path), sha256=sha256, mode=mode, record=record)

    return run


def test_fetches_once_then_neither_fetches_nor_reads(fetch, bundle, tmp_path):
    target = tmp_path / "host" / "usr" / "local" / "bin" / "kubelet"
    ret = fetch(target)
    assert ret.result is True and ret.changes["sha256"] == {"old": None, "new": SHA}
    assert ret.changes["size"] == len(CONTENT)
    assert target.read_bytes() == CONTENT and (target.stat().st_mode & 0o7777) == 0o755
    assert bundle.gets == 1

    ret = fetch(target)
    assert ret.result is True and ret.changes == {} and bundle.gets == 1

    # The record alone decides while the file is untouched: an edited record
    # is believed (proof that the file was not read) ...
    record = tmp_path / "record" / "bundle-files.json"
    record.write_text(record.read_text().replace(SHA, "0" * 64))
    ret = fetch(target)
    assert ret.changes["sha256"] == {"old": "0" * 64, "new": SHA} and bundle.gets == 2
    # ... and a file touched since is read again rather than trusted.
    record.write_text(record.read_text().replace(SHA, "0" * 64))
    os.utime(target)
    ret = fetch(target)
    assert ret.result is True and ret.changes == {} and bundle.gets == 2


def test_a_changed_file_is_fetched_again(fetch, bundle, tmp_path):
    target = tmp_path / "kubelet"
    fetch(target)
    target.write_bytes(b"tampered")
    ret = fetch(target)
    assert ret.result is True and ret.changes["sha256"]["old"] == hashlib.sha256(b"tampered").hexdigest()
    assert target.read_bytes() == CONTENT and bundle.gets == 2


def test_a_wrong_mode_is_set_without_fetching(fetch, bundle, tmp_path):
    target = tmp_path / "kubelet"
    fetch(target)
    target.chmod(0o600)
    ret = fetch(target)
    assert ret.result is True and ret.changes == {"mode": {"old": "0600", "new": "0755"}}
    assert (target.stat().st_mode & 0o7777) == 0o755 and bundle.gets == 1
    assert fetch(target).changes == {}


def test_wrong_content_never_replaces_the_file(fetch, tmp_path):
    target = tmp_path / "kubelet"
    target.write_bytes(b"old")
    ret = fetch(target, path="bin/damaged")
    assert ret.result is False
    assert "not the manifest's" in ret.comment and "saltsphere artifact verify" in ret.comment
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".saltsphere-fetch")) == []


def test_a_file_missing_from_the_bundle_is_named(fetch, tmp_path):
    ret = fetch(tmp_path / "kubelet", path="bin/missing")
    assert ret.result is False and "answered 404" in ret.comment and "/bin/missing" in ret.comment
    assert not (tmp_path / "kubelet").exists()


def test_an_unreachable_bundle_server_is_named(master_loaders, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    ret = master_loaders.states.saltsphere_bundle.fetched(
        name=str(tmp_path / "kubelet"), source=f"http://127.0.0.1:{port}/bin/kubelet", sha256=SHA,
        record=str(tmp_path / "record.json"))
    assert ret.result is False and "reachable from this host" in ret.comment
    assert not (tmp_path / "kubelet").exists()
