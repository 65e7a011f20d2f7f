"""prepare.would_make: what the prepare step would make on the taskbox, named without making anything.

Checked against the prepare step itself (real certificates, bcrypt, gpg): on
a fresh taskbox, after a change, and once nothing is left to make.
"""

import gzip
import os
import shutil
import socket
import time
from unittest.mock import Mock

import pytest

from saltsphere import cluster, pki, prepare
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve
from saltsphere.errors import ActionableError

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML

pytestmark = pytest.mark.skipif(not shutil.which("gpg") or not shutil.which("gpgv"),
                                reason="needs gnupg (tools/setup installs it)")

INDEX = b"Package: socat\nVersion: 1.7.4.4-2\nArchitecture: amd64\nFilename: ./socat_1.7.4.4-2_amd64.deb\n"


@pytest.fixture
def bundle(tmp_path):
    directory = tmp_path / "bundle"
    repo = directory / "debs" / "debian-12"
    repo.mkdir(parents=True)
    (repo / "Packages").write_bytes(INDEX)
    (repo / "Packages.gz").write_bytes(gzip.compress(INDEX, mtime=0))
    entries = [mf.entry_for(directory, f"debs/debian-12/{name}", name="Packages", version="debian-12", arch="amd64",
                            kind="deb") for name in ("Packages", "Packages.gz")]
    mf.write_manifest(directory, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])
    return directory


@pytest.fixture
def write(write_cluster, bundle, tmp_path):
    def make(hosts=SEED_HOSTS_INI, extra=""):
        path = write_cluster(hosts, SEED_VARS_YML + f"artifact_bundle: {bundle}\n" + extra,
                             directory=tmp_path / "cluster")
        return cluster.load(str(path))
    return make


def _no_ca_anywhere(loaded):
    return lambda paths: {name: {path: None for path in paths} for name in loaded.hosts}


def _prepare(loaded):
    return prepare.prepare(loaded, probe=_no_ca_anywhere(loaded), serve_bundle=False)


def test_on_a_fresh_taskbox_it_names_what_prepare_then_makes_and_makes_nothing(write):
    loaded = write()
    state = os.path.join(loaded.directory, ".saltsphere")
    made = prepare.would_make(loaded)
    assert not os.path.exists(state), "a dry run made the state directory"
    assert {"pki/kubernetes/ca.crt", "pki/etcd/ca.key", "pki/etcd/peer-master.crt", "pki/kubernetes/bootstrap-token",
            "ks-admin-password", "ks-jwt-secret", "admin.conf", "apt/keyring.gpg",
            "apt/repo/debs/debian-12/InRelease"} <= set(made)
    done = _prepare(loaded)
    # gpg's own home (apt/gnupg) is the signing key: named as one entry, never listed file by file.
    assert sorted(set(made) - {"apt/gnupg"}) == done.changed
    assert prepare.would_make(loaded) == [], "prepare left something to make"


def test_after_a_change_it_names_exactly_what_prepare_changes(write):
    loaded = write()
    _prepare(loaded)
    loaded = write(extra="ks_admin_password: Another-Pw-1\n")
    assert prepare.would_make(loaded) == ["ks-admin-password.bcrypt"]
    assert _prepare(loaded).changed == ["ks-admin-password.bcrypt"]

    loaded = write(SEED_HOSTS_INI.replace("[etcd]\nmaster\n", "[etcd]\nmaster\nnode1\nnode2\n"),
                   extra="ks_admin_password: Another-Pw-1\n")
    expected = sorted(f"pki/etcd/{kind}-{host}.{ext}" for kind in ("peer", "server", "healthcheck")
                      for host in ("node1", "node2") for ext in ("crt", "key"))
    assert prepare.would_make(loaded) == expected
    assert _prepare(loaded).changed == expected


def test_a_certificate_it_cannot_sign_is_refused_as_prepare_refuses(write):
    loaded = write()
    _prepare(loaded)
    pki_dir = pki.pki_dir_of(loaded.directory)
    (pki_dir / "kubernetes" / "ca.key").unlink()
    (pki_dir / "kubernetes" / "admin.crt").unlink()
    with pytest.raises(pki.PKIError, match="the key of the CA"):
        prepare.would_make(loaded)
    with pytest.raises(pki.PKIError, match="the key of the CA"):
        _prepare(loaded)


def test_a_bundle_index_that_is_not_the_manifests_is_refused(write, bundle):
    loaded = write()
    _prepare(loaded)
    (bundle / "debs" / "debian-12" / "Packages").write_bytes(INDEX + b"\n")
    with pytest.raises(ActionableError, match="saltsphere artifact verify"):
        prepare.would_make(loaded)


def test_a_damaged_signature_is_made_again(write):
    loaded = write()
    _prepare(loaded)
    detached = os.path.join(loaded.directory, ".saltsphere", "apt", "repo", "debs", "debian-12", "Release.gpg")
    with open(detached, "w", encoding="utf-8") as handle:
        handle.write("not a signature\n")
    assert set(prepare.would_make(loaded)) == {f"apt/repo/debs/debian-12/{name}"
                                               for name in ("InRelease", "Release", "Release.gpg")}
    assert "apt/repo/debs/debian-12/Release.gpg" in _prepare(loaded).changed


# --- the bundle server's leases ----------------------------------------------------------------------------


def _port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_started_for_its_owner_stops_when_the_owner_releases_it(bundle, tmp_path):
    state = tmp_path / "state"
    served = serve.start(bundle, _port(), ["127.0.0.1"], state, owner_pid=os.getpid())
    assert serve.running(state)["pid"] == served["pid"]
    assert serve.release(state, os.getpid()) is True
    assert serve.running(state) is None and serve.record(state) is None


def test_a_server_started_without_an_owner_goes_on_serving_after_a_release(bundle, tmp_path):
    state = tmp_path / "state"
    serve.start(bundle, _port(), ["127.0.0.1"], state)
    try:
        serve.start(bundle, serve.record(state)["port"], ["127.0.0.1"], state, owner_pid=os.getpid())
        assert serve.release(state, os.getpid()) is False
        time.sleep(1.5)
        assert serve.running(state) is not None
    finally:
        serve.stop(state)


# --- the orchestration's prepare step under test=True ------------------------------------------------------


@pytest.fixture
def prepared_state(monkeypatch):
    import importlib.util

    from sample_inputs import ROOT

    spec = importlib.util.spec_from_file_location("saltsphere_cluster_state_dry",
                                                  ROOT / "extension_modules" / "states" / "saltsphere_cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {"test": True}
    module.__salt__ = {}

    def wire(loaded):
        monkeypatch.setattr(module, "_loaded", lambda: loaded)
        monkeypatch.setattr(module.sshcall, "fingerprint_probe", Mock(side_effect=AssertionError("a host was asked")))
        return module
    return wire


def test_the_prepare_step_under_test_names_what_it_would_make_and_makes_nothing(write, prepared_state):
    loaded = write()
    module = prepared_state(loaded)
    ret = module.prepared("hosts.ini")
    assert ret["result"] is None and "pki/kubernetes/ca.crt" in ret["changes"]["would make"]
    assert "a CA only once the hosts say they hold none" in ret["comment"]
    assert not os.path.exists(os.path.join(loaded.directory, ".saltsphere"))


def test_the_prepare_step_under_test_passes_once_made_and_served(write, prepared_state):
    loaded = write(extra=f"artifact_port: {_port()}\n")
    _prepare(loaded)
    module = prepared_state(loaded)
    ret = module.prepared("hosts.ini")
    assert ret["result"] is None and ret["changes"] == {} and "no bundle server runs" in ret["comment"]
    state = os.path.join(loaded.directory, ".saltsphere")
    serve.start(loaded.config["artifact_bundle"], loaded.config["artifact_port"], ["127.0.0.1"], state,
                owner_pid=os.getpid())
    try:
        ret = module.prepared("hosts.ini")
    finally:
        serve.release(state, os.getpid())
    assert ret["result"] is True and ret["changes"] == {} and "the bundle is served" in ret["comment"]


def test_the_retirement_state_retires_once_and_under_test_only_names_the_files(write, prepared_state):
    loaded = write()
    pki.issue(loaded.directory, [("master", ("etcd",), "192.168.0.2")], create_cas=True)
    module = prepared_state(loaded)
    ret = module.certs_retired("master", ["master"])
    assert ret["result"] is None and len(ret["changes"]["retired"]) == 6 and "would be retired" in ret["comment"]
    assert all(path.is_file() for path in pki.host_files(pki.pki_dir_of(loaded.directory), "master"))
    module.__opts__ = {"test": False}
    ret = module.certs_retired("master", ["master"])
    assert ret["result"] is True and len(ret["changes"]["retired"]) == 6 and "keys deleted" in ret["comment"]
    assert not any(path.exists() for path in pki.host_files(pki.pki_dir_of(loaded.directory), "master"))
    assert module.certs_retired("master", ["master"]) == {
        "name": "master", "changes": {}, "result": True, "comment": "the taskbox holds no certificate of master"}
