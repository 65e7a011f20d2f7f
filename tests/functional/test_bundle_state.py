"""saltsphere_bundle.fetched, run by Salt's loader against the bundle server on loopback.

A file is fetched once and checked by sha256; a further run neither fetches
nor reads it unless it was touched since; a wrong or missing download never
replaces what is there.  A fetch always puts a new file in place, so a target
that keeps its inode was not fetched.
"""

import hashlib
import os
import socket

import pytest

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve

CONTENT = b"kubelet binary stand-in\n" * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def bundle(tmp_path):
    """The record of a bundle server on 127.0.0.1 serving bin/kubelet and bin/damaged."""
    served = tmp_path / "bundle"
    (served / "bin").mkdir(parents=True)
    (served / "bin" / "kubelet").write_bytes(CONTENT)
    (served / "bin" / "damaged").write_bytes(CONTENT + b"x")
    entries = [mf.entry_for(served, path, name=path, version="v1", arch="amd64", kind="binary")
               for path in ("bin/kubelet", "bin/damaged")]
    mf.write_manifest(served, entries, kube_version="v1", arch="amd64", distributions=["debian-12"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state_dir = tmp_path / "state"
    yield serve.start(served, port, ["127.0.0.1"], state_dir, owner_pid=os.getpid())
    serve.stop(state_dir)


@pytest.fixture
def fetch(master_loaders, bundle, tmp_path):
    record = str(tmp_path / "record" / "bundle-files.json")
    url = serve.base_url("127.0.0.1", bundle["port"], bundle["token"])

    def run(target, path="bin/kubelet", sha256=SHA, mode="0755"):
        return master_loaders.states.saltsphere_bundle.fetched(
            name=str(target), source=f"{url}/{path}", sha256=sha256, mode=mode, record=record)

    return run


def _inode(path):
    return os.stat(path).st_ino


def test_fetches_once_then_neither_fetches_nor_reads(fetch, bundle, tmp_path):
    target = tmp_path / "host" / "usr" / "local" / "bin" / "kubelet"
    ret = fetch(target)
    assert ret.result is True and ret.changes["sha256"] == {"old": None, "new": SHA}
    assert ret.changes["size"] == len(CONTENT)
    assert target.read_bytes() == CONTENT and (target.stat().st_mode & 0o7777) == 0o755
    fetched = _inode(target)

    ret = fetch(target)
    assert ret.result is True and ret.changes == {} and _inode(target) == fetched

    # The record alone decides while the file is untouched: an edited record
    # is believed (proof that the file was not read) ...
    record = tmp_path / "record" / "bundle-files.json"
    record.write_text(record.read_text().replace(SHA, "0" * 64))
    ret = fetch(target)
    assert ret.changes["sha256"] == {"old": "0" * 64, "new": SHA} and _inode(target) != fetched
    fetched = _inode(target)
    # ... and a file touched since is read again rather than trusted.
    record.write_text(record.read_text().replace(SHA, "0" * 64))
    os.utime(target)
    ret = fetch(target)
    assert ret.result is True and ret.changes == {} and _inode(target) == fetched


def test_the_record_on_the_host_keeps_no_url(fetch, bundle, tmp_path):
    fetch(tmp_path / "kubelet")
    record = (tmp_path / "record" / "bundle-files.json").read_text()
    assert bundle["token"] not in record and "http" not in record


def test_a_changed_file_is_fetched_again(fetch, bundle, tmp_path):
    target = tmp_path / "kubelet"
    fetch(target)
    target.write_bytes(b"tampered")
    tampered = _inode(target)
    ret = fetch(target)
    assert ret.result is True and ret.changes["sha256"]["old"] == hashlib.sha256(b"tampered").hexdigest()
    assert target.read_bytes() == CONTENT and _inode(target) != tampered


def test_a_wrong_mode_is_set_without_fetching(fetch, bundle, tmp_path):
    target = tmp_path / "kubelet"
    fetch(target)
    fetched = _inode(target)
    target.chmod(0o600)
    ret = fetch(target)
    assert ret.result is True and ret.changes == {"mode": {"old": "0600", "new": "0755"}}
    assert (target.stat().st_mode & 0o7777) == 0o755 and _inode(target) == fetched
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
