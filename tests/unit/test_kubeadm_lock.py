"""One kubeadm at a time on a host, even after the salt-call that started one is gone."""

import fcntl
import os
import time

import pytest

from sample_inputs import load_extension

kubernetes = load_extension("modules", "saltsphere_kubernetes")


@pytest.fixture
def host(tmp_path, monkeypatch):
    lock = tmp_path / "kubeadm.lock"
    monkeypatch.setattr(kubernetes, "KUBEADM_LOCK", str(lock))
    monkeypatch.setattr(kubernetes, "KUBELET_CONF", str(tmp_path / "kubelet.conf"))
    monkeypatch.setattr(kubernetes, "ADMIN_CONF", str(tmp_path / "admin.conf"))
    monkeypatch.setattr(kubernetes, "LEFTOVERS", [])
    monkeypatch.setattr(kubernetes, "__pillar__", {}, raising=False)
    return tmp_path


def _fake_kubeadm(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _held(lock):
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_a_kubeadm_that_outlives_its_caller_keeps_the_lock(host, monkeypatch):
    # kubeadm goes on in the background after the call returns, as it does when
    # the salt-call that started it is killed: the lock must stay taken.
    marker = host / "still-running"
    monkeypatch.setattr(kubernetes, "KUBEADM", _fake_kubeadm(
        host / "kubeadm", f"touch {marker}; (sleep 3; rm -f {marker}) >/dev/null 2>&1 &\necho done\n"))
    kubernetes.kubeadm("join", str(host / "kubeadm.yaml"))
    assert marker.exists()
    assert _held(host / "kubeadm.lock"), "the lock ended with the call, while its kubeadm still runs"
    deadline = time.monotonic() + 10
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    assert not _held(host / "kubeadm.lock"), "the lock outlived the kubeadm that held it"


def test_a_finished_kubeadm_leaves_the_lock_free(host, monkeypatch):
    monkeypatch.setattr(kubernetes, "KUBEADM", _fake_kubeadm(host / "kubeadm", "echo done\n"))
    assert kubernetes.kubeadm("init", str(host / "kubeadm.yaml")) == "done"
    assert not _held(host / "kubeadm.lock")


def test_a_held_lock_makes_the_next_kubeadm_wait_and_then_fail_naming_it(host, monkeypatch):
    monkeypatch.setattr(kubernetes, "KUBEADM", _fake_kubeadm(host / "kubeadm", "echo done\n"))
    monkeypatch.setattr(kubernetes, "KUBEADM_TIMEOUT", 0)
    with open(host / "kubeadm.lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(kubernetes.CommandExecutionError, match="pgrep -a kubeadm"):
            kubernetes.kubeadm("join", str(host / "kubeadm.yaml"))
    assert os.path.exists(host / "kubeadm.lock")
