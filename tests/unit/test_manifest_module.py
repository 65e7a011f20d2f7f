"""saltsphere_manifest.compare: what `kubectl diff` says, and when the cluster cannot take a manifest yet."""

import importlib.util
import subprocess
from unittest.mock import Mock

import pytest
from salt.exceptions import CommandExecutionError

from sample_inputs import ROOT

spec = importlib.util.spec_from_file_location("saltsphere_manifest_module",
                                              ROOT / "extension_modules" / "modules" / "saltsphere_manifest.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """A host with kubectl and admin.conf; ``cluster.answer(code, stdout, stderr)`` sets what kubectl diff says."""
    kubectl, kubeconfig = tmp_path / "kubectl", tmp_path / "admin.conf"
    kubectl.write_text("")
    kubeconfig.write_text("")
    monkeypatch.setattr(module, "KUBECTL", str(kubectl))
    run = Mock()
    monkeypatch.setattr(module.subprocess, "run", run)

    class Cluster:
        config = str(kubeconfig)

        @staticmethod
        def answer(code, stdout="", stderr=""):
            run.return_value = subprocess.CompletedProcess([], code, stdout, stderr)
            return run

    return Cluster


def test_no_kubeconfig_or_kubectl_yet_is_unserved(tmp_path, monkeypatch):
    monkeypatch.setattr(module.subprocess, "run", Mock(side_effect=AssertionError("kubectl was run")))
    found = module.compare("/m.yaml", kubeconfig=str(tmp_path / "admin.conf"))
    assert found["differing"] is None and "admin.conf is not on this host yet" in found["unserved"]
    (tmp_path / "admin.conf").write_text("")
    monkeypatch.setattr(module, "KUBECTL", str(tmp_path / "kubectl"))
    assert "kubectl is not on this host yet" in module.compare("/m.yaml", kubeconfig=str(tmp_path / "admin.conf"))[
        "unserved"]
    with pytest.raises(CommandExecutionError, match="apply the kubernetes states"):
        module.differing("/m.yaml", kubeconfig=str(tmp_path / "admin.conf"))


@pytest.mark.parametrize("stderr", [
    'Error from server (NotFound): namespaces "kubesphere-system" not found',
    'error: unable to recognize "/m.yaml": no matches for kind "ClusterConfiguration" in version '
    '"installer.kubesphere.io/v1alpha1"',
    'error: resource mapping not found for name: "ks-installer": no matches for kind "ClusterConfiguration"\n'
    "ensure CRDs are installed first",
])
def test_a_namespace_or_kind_not_there_yet_is_unserved(cluster, stderr):
    cluster.answer(2, stderr=stderr)
    found = module.compare("/m.yaml", kubeconfig=cluster.config)
    assert found["differing"] is None and "kubectl diff -f /m.yaml failed" in found["unserved"]


def test_other_diff_failures_raise(cluster):
    cluster.answer(2, stderr="The connection to the server 10.0.0.1:6443 was refused")
    with pytest.raises(CommandExecutionError, match="was refused"):
        module.compare("/m.yaml", kubeconfig=cluster.config)


def test_differing_objects_are_named_and_contents_go_on_stdin(cluster):
    run = cluster.answer(1, stdout="diff -u -N /tmp/LIVE-1/v1.Secret.kube-system.nfs "
                                   "/tmp/MERGED-1/v1.Secret.kube-system.nfs\n")
    found = module.compare("/m.yaml", kubeconfig=cluster.config, contents="kind: Secret\n")
    assert found == {"differing": ["v1.Secret.kube-system.nfs"], "unserved": None}
    argv = run.call_args.args[0]
    assert argv[-2:] == ["-f", "-"] and "kind: Secret" not in " ".join(argv)
    assert run.call_args.kwargs["input"] == "kind: Secret\n"
    cluster.answer(0)
    assert module.compare("/m.yaml", kubeconfig=cluster.config) == {"differing": [], "unserved": None}
