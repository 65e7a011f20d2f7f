"""saltsphere_manifest's server-side comparison, with kubectl's answers mocked."""

import json
import subprocess
from unittest.mock import Mock

import pytest

from sample_inputs import load_extension

manifest = load_extension("modules", "saltsphere_manifest")


def _secret(value, managed_time="2026-12-03T10:00:00Z", version="100"):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "ceph", "namespace": "kube-system", "resourceVersion": version,
                         "managedFields": [{"manager": "saltsphere", "time": managed_time}]},
            "data": {"key": value}}


def _answers(dry, live):
    def run(args, kubeconfig, timeout=manifest.TIMEOUT, input_text=None):
        out = json.dumps(dry if "--dry-run=server" in args else live)
        return subprocess.CompletedProcess(args, 0, out, "")
    return Mock(side_effect=run)


@pytest.fixture(autouse=True)
def kubectl_present(monkeypatch):
    monkeypatch.setattr(manifest.os.path, "isfile", lambda path: True)


def test_an_applied_manifest_is_not_reported_for_the_dry_runs_timestamp(monkeypatch):
    live = {"kind": "List", "items": [_secret("c2VjcmV0")]}
    dry = {"kind": "List", "items": [_secret("c2VjcmV0", managed_time="2026-12-03T11:00:00Z", version="101")]}
    monkeypatch.setattr(manifest, "_kubectl", _answers(dry, live))
    assert manifest.differing("/m.yaml", server_side=True) == []


def test_a_changed_or_missing_object_is_named_never_shown(monkeypatch):
    live = {"kind": "List", "items": [_secret("b2xk")]}
    dry = {"kind": "List", "items": [_secret("bmV3"), {"kind": "StorageClass", "metadata": {"name": "rbd"}}]}
    monkeypatch.setattr(manifest, "_kubectl", _answers(dry, live))
    found = manifest.differing("/m.yaml", server_side=True)
    assert found == ["Secret/kube-system/ceph", "StorageClass/rbd"]
    assert "bmV3" not in repr(found)


def test_the_contents_of_a_dry_run_go_on_stdin(monkeypatch):
    calls = []

    def run(args, kubeconfig, timeout=manifest.TIMEOUT, input_text=None):
        calls.append((args, input_text))
        return subprocess.CompletedProcess(args, 0, json.dumps({"kind": "List", "items": []}), "")

    monkeypatch.setattr(manifest, "_kubectl", run)
    assert manifest.compare("/m.yaml", server_side=True, contents="kind: Secret\n") == {"differing": [],
                                                                                        "unserved": None}
    assert all(args[-2:] == ["-f", "-"] and text == "kind: Secret\n" for args, text in calls)
    assert "--server-side" in calls[0][0] and "kind: Secret" not in repr([a for a, _ in calls])


def test_a_namespace_not_there_yet_is_unserved_not_a_failure(monkeypatch):
    def run(args, kubeconfig, timeout=manifest.TIMEOUT, input_text=None):
        return subprocess.CompletedProcess(args, 1, "", 'Error from server (NotFound): namespaces "kubesphere-system" '
                                                        "not found")

    monkeypatch.setattr(manifest, "_kubectl", run)
    found = manifest.compare("/m.yaml", server_side=True)
    assert found["differing"] is None and "kubesphere-system" in found["unserved"]
