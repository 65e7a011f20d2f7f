"""The host-side states that keep secrets off hosts: kubeadm's file, the bootstrap token, salt-ssh's run files.

Loaded from the tree with a mocked ``__salt__``, as salt-ssh ships them.
"""

import os
import time
from unittest.mock import Mock

import pytest

from sample_inputs import load_extension


kubernetes_states = load_extension("states", "saltsphere_kubernetes")
transport = load_extension("states", "saltsphere_transport")
certs_module = load_extension("modules", "saltsphere_certs")
certs_states = load_extension("states", "saltsphere_certs")

CONFIG = "apiVersion: kubeadm.k8s.io/v1beta2\nkind: JoinConfiguration\ndiscovery: {bootstrapToken: {token: abc}}\n"


def _wire(module, salt=None, pillar=None, test=False):
    module.__salt__ = salt or {}
    module.__pillar__ = pillar or {}
    module.__opts__ = {"test": test}


@pytest.fixture
def node_state():
    return Mock(return_value="new")


def test_kubeadm_config_is_written_private_from_the_pillar_by_key(tmp_path, node_state):
    path = tmp_path / "saltsphere" / "kubeadm.yaml"
    _wire(kubernetes_states, {"saltsphere_kubernetes.state": node_state},
          {"saltsphere": {"kubernetes": {"kubeadm_config": CONFIG}}})
    ret = kubernetes_states.kubeadm_config(str(path), "saltsphere:kubernetes:kubeadm_config")
    assert ret["result"] is True and path.read_text() == CONFIG
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert "abc" not in repr(ret)
    again = kubernetes_states.kubeadm_config(str(path), "saltsphere:kubernetes:kubeadm_config")
    assert again["changes"] == {} and again["result"] is True


def test_kubeadm_config_is_removed_once_kubeadm_has_run(tmp_path):
    path = tmp_path / "kubeadm.yaml"
    path.write_text(CONFIG)
    _wire(kubernetes_states, {"saltsphere_kubernetes.state": Mock(return_value="joined")}, {}, test=True)
    ret = kubernetes_states.kubeadm_config(str(path), "saltsphere:kubernetes:kubeadm_config")
    assert ret["result"] is None and path.exists(), "test=True writes nothing"
    kubernetes_states.__opts__ = {"test": False}
    ret = kubernetes_states.kubeadm_config(str(path), "saltsphere:kubernetes:kubeadm_config")
    assert ret["changes"] and not path.exists()
    assert kubernetes_states.kubeadm_config(str(path), "saltsphere:kubernetes:kubeadm_config")["changes"] == {}


def test_kubeadm_config_without_its_pillar_fails_naming_it(tmp_path, node_state):
    _wire(kubernetes_states, {"saltsphere_kubernetes.state": node_state},
          {"saltsphere": {"kubernetes": {"kubeadm_config": None}}})
    ret = kubernetes_states.kubeadm_config(str(tmp_path / "k.yaml"), "saltsphere:kubernetes:kubeadm_config")
    assert ret["result"] is False and "saltsphere:kubernetes:kubeadm_config" in ret["comment"]


@pytest.mark.parametrize("members, listed, create, expected", [
    ({"m"}, True, True, "kept"),
    ({"m"}, False, True, "created"),
    ({"m"}, False, False, "nothing"),
    ({"m", "w"}, True, False, "deleted"),
    ({"m", "w"}, False, True, "nothing"),
])
def test_the_token_exists_exactly_while_a_host_has_to_join(members, listed, create, expected):
    made, deleted = Mock(), Mock()
    _wire(kubernetes_states, {
        "saltsphere_kubernetes.nodes": Mock(return_value={name: {} for name in members}),
        "saltsphere_kubernetes.token_listed": Mock(return_value=listed),
        "saltsphere_kubernetes.create_token": made,
        "saltsphere_kubernetes.delete_token": deleted,
    })
    ret = kubernetes_states.bootstrap_token("abcdef", needed_by=["m", "w"], create=create)
    assert ret["result"] is True
    assert made.called == (expected == "created")
    assert deleted.called == (expected == "deleted")
    assert bool(ret["changes"]) == (expected in ("created", "deleted"))


def test_the_token_is_never_touched_under_test():
    made, deleted = Mock(), Mock()
    _wire(kubernetes_states, {
        "saltsphere_kubernetes.state": Mock(return_value="initialized"),
        "saltsphere_kubernetes.nodes": Mock(return_value={"m": {}, "w": {}}),
        "saltsphere_kubernetes.token_listed": Mock(return_value=True),
        "saltsphere_kubernetes.create_token": made, "saltsphere_kubernetes.delete_token": deleted,
    }, test=True)
    ret = kubernetes_states.bootstrap_token("abcdef", needed_by=["m", "w"], wait=300)
    assert ret["result"] is None and not deleted.called and not made.called


def test_salt_ssh_run_files_go_at_the_start_of_the_run(tmp_path, monkeypatch):
    thin = tmp_path / "thin"
    thin.mkdir()
    (thin / "salt_state.tgz").write_bytes(b"pillar inside")
    temp = tmp_path / "tmp"
    own = temp / "tmpown"
    stale = temp / "tmpstale"
    fresh = temp / "tmpfresh"
    for root in (own, stale, fresh):
        root.mkdir(parents=True)
        for name in ("lowstate.json", "pillar.json"):
            (root / name).write_text("{}")
        (root / "os").mkdir()
    old = time.time() - 3600
    for name in ("lowstate.json", "pillar.json"):
        os.utime(stale / name, (old, old))
    monkeypatch.setattr(transport.tempfile, "gettempdir", lambda: str(temp))
    transport.__opts__ = {"config_dir": str(thin), "file_roots": {"base": [str(own)]}, "test": True}
    ret = transport.wiped()
    assert ret["result"] is True and ret["changes"] == {}
    assert not (thin / "salt_state.tgz").exists()
    assert not (own / "pillar.json").exists() and not (own / "lowstate.json").exists()
    assert (own / "os").is_dir(), "the run's state files stay until Salt removes them"
    assert not stale.exists(), "what a killed run left goes"
    assert (fresh / "pillar.json").exists(), "another run may still be reading its own"


def _pem(seed: bytes) -> str:
    import base64

    body = base64.b64encode(seed * 20).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def test_a_host_holding_another_ca_is_never_given_this_one(tmp_path):
    path = tmp_path / "ca.crt"
    certs_states.__salt__ = {"saltsphere_certs.fingerprint_of": certs_module.fingerprint_of,
                             "saltsphere_certs.fingerprints": certs_module.fingerprints}
    ours = _pem(b"ours")
    assert certs_states.ca_kept(str(path), ours)["result"] is True  # not there yet
    path.write_text(ours)
    assert certs_states.ca_kept(str(path), ours)["result"] is True
    path.write_text(_pem(b"theirs"))
    ret = certs_states.ca_kept(str(path), ours)
    assert ret["result"] is False and "saltsphere pki import" in ret["comment"] and ret["changes"] == {}
