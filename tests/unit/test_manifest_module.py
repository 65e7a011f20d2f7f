"""saltsphere_manifest's server-side comparison, with kubectl's answers mocked."""

import json
import subprocess
from unittest.mock import Mock

from sample_inputs import load_extension

manifest = load_extension("modules", "saltsphere_manifest")


def _secret(value, managed_time="2026-12-03T10:00:00Z", version="100"):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "ceph", "namespace": "kube-system", "resourceVersion": version,
                         "managedFields": [{"manager": "saltsphere", "time": managed_time}]},
            "data": {"key": value}}


def _answers(dry, live):
    def run(args, kubeconfig, timeout=manifest.TIMEOUT):
        out = json.dumps(dry if "--dry-run=server" in args else live)
        return subprocess.CompletedProcess(args, 0, out, "")
    return Mock(side_effect=run)


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
