"""Every host-side state of ours under test=True: ``result`` None with the change it would make (True when none),
never a failure because an earlier state of the run has not run yet, never a wait, never a write.

Loaded from the tree with a mocked ``__salt__``, as salt-ssh ships them.  Each
mock that would act (import, install, apply, kubeadm, a route) fails the test
when called.
"""

import hashlib
import importlib.util
import json
from unittest.mock import Mock

import pytest
from salt.exceptions import CommandExecutionError

from sample_inputs import ROOT


def _load(kind, name):
    path = ROOT / "extension_modules" / kind / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_{kind}_dry", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wire(module, salt, pillar=None, test=True):
    module.__salt__ = salt
    module.__pillar__ = pillar or {}
    module.__opts__ = {"test": test}
    return module


def _never(what):
    return Mock(side_effect=AssertionError(f"{what} was called under test=True"))


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    """Any sleep in a state under test is a poll: fail."""
    import time

    monkeypatch.setattr(time, "sleep", _never("time.sleep"))


# --- saltsphere_bundle.fetched --------------------------------------------------------------------------------

bundle = _load("states", "saltsphere_bundle")


def test_fetched_under_test_writes_no_record_for_a_file_found_right(tmp_path):
    target, record = tmp_path / "kubelet", tmp_path / "record" / "bundle-files.json"
    target.write_bytes(b"kubelet")
    target.chmod(0o755)
    _wire(bundle, {})
    ret = bundle.fetched(str(target), "http://127.0.0.1:9/x/bin/kubelet", hashlib.sha256(b"kubelet").hexdigest(),
                         mode="0755", record=str(record))
    assert ret["result"] is True and ret["changes"] == {}
    assert not record.exists() and not record.parent.exists()


def test_fetched_under_test_predicts_the_download_of_a_missing_file(tmp_path):
    target, record = tmp_path / "bin" / "kubeadm", tmp_path / "record.json"
    _wire(bundle, {})
    ret = bundle.fetched(str(target), "http://127.0.0.1:9/x/bin/kubeadm", "ab" * 32, record=str(record))
    assert ret["result"] is None and ret["changes"] == {"sha256": {"old": None, "new": "ab" * 32}}
    assert not target.parent.exists() and not record.exists()


# --- saltsphere_containerd --------------------------------------------------------------------------------------

containerd = _load("states", "saltsphere_containerd")
PAUSE = "k8s.gcr.io/pause:3.2"


def _containerd_salt(archive_images=None, missing=None, listed=None, file_hash=None):
    return {
        "saltsphere_containerd.normalize_name": lambda name: name,
        "saltsphere_containerd.archive_images": archive_images or Mock(return_value=[{"name": PAUSE}]),
        "saltsphere_containerd.missing_images": missing or Mock(return_value=[PAUSE]),
        "saltsphere_containerd.list_images": listed or Mock(return_value={}),
        "saltsphere_containerd.import_image": _never("import_image"),
        "saltsphere_containerd.plugin_status": Mock(side_effect=CommandExecutionError("ctr is not installed")),
        "file.get_hash": file_hash or Mock(return_value="bundles"),
    }


def test_an_archive_not_fetched_yet_is_a_predicted_import(tmp_path):
    salt = _wire(containerd, _containerd_salt(archive_images=_never("archive_images"))).__salt__
    ret = containerd.image_present(PAUSE, str(tmp_path / "pause.tar"), sha256="bundles")
    assert ret["result"] is None
    assert ret["changes"] == {PAUSE: {"old": None, "new": f"imported from {tmp_path}/pause.tar"}}
    assert "fetched earlier in the run" in ret["comment"]
    assert not salt["file.get_hash"].called


def test_without_containerd_yet_an_import_is_predicted(tmp_path):
    archive = tmp_path / "pause.tar"
    archive.write_bytes(b"archive")
    _wire(containerd, _containerd_salt(missing=Mock(side_effect=CommandExecutionError(
        "ctr is not installed on this host; apply the containerd state first"))))
    ret = containerd.image_present(PAUSE, str(archive), sha256="bundles")
    assert ret["result"] is None and PAUSE in ret["changes"] and "ctr is not installed" in ret["comment"]


@pytest.mark.parametrize("held, readable", [([{"name": "k8s.gcr.io/pause:3.1"}], True), (None, False)])
def test_an_archive_the_fetch_replaces_is_a_predicted_import(tmp_path, held, readable):
    archive = tmp_path / "pause.tar"
    archive.write_bytes(b"an older bundle's archive")
    images = Mock(return_value=held) if readable else Mock(side_effect=CommandExecutionError("cannot be read"))
    _wire(containerd, _containerd_salt(archive_images=images, file_hash=Mock(return_value="older")))
    ret = containerd.image_present(PAUSE, str(archive), sha256="bundles")
    assert ret["result"] is None and "not the bundle's yet" in ret["comment"]


def test_the_bundles_own_archive_lacking_the_image_still_fails(tmp_path):
    archive = tmp_path / "pause.tar"
    archive.write_bytes(b"archive")
    _wire(containerd, _containerd_salt(archive_images=Mock(return_value=[{"name": "k8s.gcr.io/pause:3.1"}])))
    ret = containerd.image_present(PAUSE, str(archive), sha256="bundles")
    assert ret["result"] is False and "does not hold" in ret["comment"]


def test_an_image_present_is_no_change_and_one_missing_is_predicted(tmp_path):
    archive = tmp_path / "pause.tar"
    archive.write_bytes(b"archive")
    _wire(containerd, _containerd_salt(missing=Mock(return_value=[])))
    assert containerd.image_present(PAUSE, str(archive))["result"] is True
    _wire(containerd, _containerd_salt(listed=Mock(return_value={PAUSE: "sha256:old"})))
    ret = containerd.image_present(PAUSE, str(archive))
    assert ret["result"] is None and ret["changes"][PAUSE]["old"] == "sha256:old"


def test_the_plugin_gate_is_checked_once_containerd_runs():
    _wire(containerd, _containerd_salt())
    ret = containerd.plugin_loaded("io.containerd.grpc.v1.cri")
    assert ret["result"] is None and ret["changes"] == {} and "ctr is not installed" in ret["comment"]
    containerd.__salt__["saltsphere_containerd.plugin_status"] = Mock(return_value={"loaded": True, "error": None})
    assert containerd.plugin_loaded("io.containerd.grpc.v1.cri")["result"] is True


# --- saltsphere_etcd ------------------------------------------------------------------------------------------

etcd = _load("states", "saltsphere_etcd")
PKI = ("/etc/etcd/pki/ca.crt", "/etc/etcd/pki/healthcheck.crt", "/etc/etcd/pki/healthcheck.key")


@pytest.mark.parametrize("healthy, result", [(True, True), (False, None)])
def test_the_member_gate_probes_once(healthy, result):
    probe = Mock(return_value={"healthy": healthy, "error": None if healthy else "connection refused"})
    _wire(etcd, {"saltsphere_etcd.endpoint_health": probe, "saltsphere_etcd.wait_member": _never("wait_member")})
    ret = etcd.member_ready("https://10.0.0.1:2379", ["https://10.0.0.1:2379"], *PKI)
    assert ret["result"] is result and ret["changes"] == {} and probe.call_count == 1


def test_the_cluster_gate_asks_without_waiting():
    wait = Mock(return_value={"https://10.0.0.1:2379": {"healthy": False, "error": "no such file"}})
    _wire(etcd, {"saltsphere_etcd.wait_cluster": wait, "saltsphere_etcd.wait_member": _never("wait_member")})
    ret = etcd.cluster_healthy("etcd", ["https://10.0.0.1:2379"], *PKI, timeout=180)
    assert ret["result"] is None and wait.call_args.kwargs["timeout"] == 0


# --- saltsphere_kubernetes --------------------------------------------------------------------------------------

kubernetes = _load("states", "saltsphere_kubernetes")


def _kubernetes_salt(state="new", **more):
    return {"saltsphere_kubernetes.state": Mock(return_value=state),
            "saltsphere_kubernetes.kubeadm": _never("kubeadm"),
            "saltsphere_kubernetes.create_token": _never("create_token"),
            "saltsphere_kubernetes.delete_token": _never("delete_token"),
            "saltsphere_kubernetes.nodes": Mock(side_effect=CommandExecutionError("kubectl is not installed")),
            "saltsphere_kubernetes.token_listed": Mock(side_effect=CommandExecutionError("kubectl is not installed")),
            **more}


def test_init_on_a_fresh_host_is_predicted_without_waiting_for_the_api():
    _wire(kubernetes, _kubernetes_salt(**{"saltsphere_kubernetes.wait_api": _never("wait_api"),
                                          "saltsphere_kubernetes.api_ready": Mock(return_value=False)}))
    ret = kubernetes.initialized("/etc/kubernetes/saltsphere/kubeadm.yaml", "10.0.0.1:6443", wait=300)
    assert ret["result"] is None and ret["changes"] == {"kubeadm": "init"}


@pytest.mark.parametrize("test", [True, False])
def test_a_fresh_host_never_inits_a_second_cluster_where_an_api_answers_already(test):
    _wire(kubernetes, _kubernetes_salt(**{"saltsphere_kubernetes.wait_api": _never("wait_api"),
                                          "saltsphere_kubernetes.api_ready": Mock(return_value=True)}), test=test)
    ret = kubernetes.initialized("/etc/kubernetes/saltsphere/kubeadm.yaml", "127.0.0.1:6444", wait=300)
    assert ret["result"] is False and ret["changes"] == {} and "must join it" in ret["comment"]


@pytest.mark.parametrize("answers, result", [((True, ""), True), ((False, "connection refused"), False)])
def test_an_initialised_host_has_its_api_asked_once(answers, result):
    wait_api = Mock(return_value=answers)
    _wire(kubernetes, _kubernetes_salt("initialized", **{"saltsphere_kubernetes.wait_api": wait_api}))
    ret = kubernetes.initialized("/etc/kubernetes/saltsphere/kubeadm.yaml", "10.0.0.1:6443", wait=300)
    assert ret["result"] is result and wait_api.call_args.kwargs["seconds"] == 0


def test_a_join_is_predicted_without_waiting_for_the_api():
    _wire(kubernetes, _kubernetes_salt(**{"saltsphere_kubernetes.wait_api": _never("wait_api")}))
    ret = kubernetes.joined("/etc/kubernetes/saltsphere/kubeadm.yaml", "10.0.0.1:6443", wait=300)
    assert ret["result"] is None and ret["changes"] == {"kubeadm": "join"}


@pytest.mark.parametrize("state, test, result", [
    ("joined", True, True), ("initialized", False, True), ("new", True, None), ("partial", True, None),
    ("new", False, False),
])
def test_membership_gate(state, test, result):
    _wire(kubernetes, _kubernetes_salt(state), test=test)
    ret = kubernetes.member("node1")
    assert ret["result"] is result and ret["changes"] == {}
    if result is False:
        assert "kubesphere.kubernetes" in ret["comment"]


@pytest.mark.parametrize("create, changes", [(True, {}), (False, {"abcdef": "deleted"})])
def test_the_token_before_the_cluster_exists_is_predicted(create, changes):
    _wire(kubernetes, _kubernetes_salt("new"))
    ret = kubernetes.bootstrap_token("abcdef", needed_by=["master", "node1"], create=create, wait=300)
    assert ret["result"] is None and ret["changes"] == changes


def test_the_kubeadm_file_is_predicted_not_written(tmp_path):
    path = tmp_path / "saltsphere" / "kubeadm.yaml"
    _wire(kubernetes, _kubernetes_salt(),
          {"saltsphere": {"kubernetes": {"kubeadm_config": "kind: InitConfiguration\n"}}})
    ret = kubernetes.kubeadm_config(str(path), "saltsphere:kubernetes:kubeadm_config")
    assert ret["result"] is None and not path.parent.exists()


# --- saltsphere_network ---------------------------------------------------------------------------------------

network = _load("states", "saltsphere_network")
NOT_JOINED = CommandExecutionError("kubectl is not installed; apply the kubernetes.binaries state first")


def _network_salt(nodes=None, cidr=None, routes=None):
    return {"saltsphere_kubernetes.nodes": nodes or Mock(side_effect=NOT_JOINED),
            "saltsphere_kubernetes.wait_pod_cidr": cidr or Mock(side_effect=NOT_JOINED),
            "saltsphere_kubernetes.routes": routes or Mock(return_value={}),
            "saltsphere_kubernetes.set_route": _never("set_route")}


def test_the_bridge_of_a_node_not_joined_yet_is_predicted(tmp_path):
    conf = tmp_path / "net.d" / "10-saltsphere-bridge.conflist"
    salt = _wire(network, _network_salt()).__salt__
    ret = network.cni_bridge(str(conf), "node1", wait=300)
    assert ret["result"] is None and ret["changes"] == {str(conf): "the pod range of node node1"}
    assert salt["saltsphere_kubernetes.wait_pod_cidr"].call_args.kwargs["seconds"] == 0
    assert not conf.parent.exists()


def test_the_bridge_of_a_joined_node_is_compared_not_written(tmp_path):
    conf = tmp_path / "10-saltsphere-bridge.conflist"
    _wire(network, _network_salt(cidr=Mock(return_value="10.233.65.0/24")))
    ret = network.cni_bridge(str(conf), "node1")
    assert ret["result"] is None and ret["changes"] == {str(conf): "10.233.65.0/24"} and not conf.exists()
    conf.write_text(json.dumps(network._bridge_conflist("10.233.65.0/24", "cni0", 1500), indent=2) + "\n")
    assert network.cni_bridge(str(conf), "node1")["result"] is True


def test_routes_before_the_cluster_exists_are_predicted_for_every_other_node(tmp_path):
    routes_file = tmp_path / "pod-routes"
    _wire(network, _network_salt())
    ret = network.pod_routes("10.233.64.0/18", "node1", expected=["master", "node1", "node2"], wait=300,
                             routes_file=str(routes_file))
    assert ret["result"] is None
    assert set(ret["changes"]) == {"pod range of master", "pod range of node2", str(routes_file)}
    assert not routes_file.exists()


def test_routes_to_a_node_still_to_join_are_predicted_beside_the_known_ones():
    nodes = Mock(return_value={"master": {"pod_cidr": "10.233.64.0/24", "ip": "10.0.0.1", "ready": True},
                               "node1": {"pod_cidr": "10.233.65.0/24", "ip": "10.0.0.2", "ready": True}})
    _wire(network, _network_salt(nodes=nodes, routes=Mock(return_value={"10.233.65.0/24": ""})))
    ret = network.pod_routes("10.233.64.0/18", "node1", expected=["master", "node1", "node2"], wait=300)
    assert ret["result"] is None and nodes.call_count == 1
    assert ret["changes"] == {"10.233.64.0/24": {"old": None, "new": "via 10.0.0.1"},
                              "pod range of node2": {"old": None, "new": "via node2, once it has joined"}}


def test_routes_in_place_are_no_change(tmp_path):
    routes_file = tmp_path / "pod-routes"
    routes_file.write_text("10.233.64.0/24 10.0.0.1\n")
    nodes = Mock(return_value={"master": {"pod_cidr": "10.233.64.0/24", "ip": "10.0.0.1", "ready": True},
                               "node1": {"pod_cidr": "10.233.65.0/24", "ip": "10.0.0.2", "ready": True}})
    _wire(network, _network_salt(nodes=nodes, routes=Mock(return_value={"10.233.64.0/24": "10.0.0.1",
                                                                         "10.233.65.0/24": ""})))
    ret = network.pod_routes("10.233.64.0/18", "node1", expected=["master", "node1"], routes_file=str(routes_file))
    assert ret["result"] is True and ret["changes"] == {}


@pytest.mark.parametrize("nodes, result", [
    (Mock(return_value={"node1": {"ready": True}}), True),
    (Mock(return_value={"node1": {"ready": False}}), None),
    (Mock(side_effect=NOT_JOINED), None),
])
def test_the_ready_gate_asks_once(nodes, result):
    _wire(network, _network_salt(nodes=nodes))
    ret = network.node_ready("node1", wait=300)
    assert ret["result"] is result and ret["changes"] == {} and nodes.call_count == 1


# --- saltsphere_manifest ----------------------------------------------------------------------------------------

manifest = _load("states", "saltsphere_manifest")
MANIFEST = "/etc/kubernetes/saltsphere/kubesphere.yaml"


@pytest.mark.parametrize("test, result", [(True, None), (False, False)])
def test_a_cluster_that_cannot_take_the_manifest_yet(test, result):
    compare = Mock(return_value={"differing": None, "unserved": "/etc/kubernetes/admin.conf is not on this host yet"})
    _wire(manifest, {"saltsphere_manifest.compare": compare, "saltsphere_manifest.apply": _never("apply")}, test=test)
    ret = manifest.applied(MANIFEST)
    assert ret["result"] is result
    assert bool(ret["changes"]) == test


def test_a_dry_run_compares_the_pillars_text_not_the_file_on_disk():
    compare = Mock(return_value={"differing": ["ClusterConfiguration.kubesphere-system.ks-installer"],
                                 "unserved": None})
    pillar = {"saltsphere": {"ks": {"manifest": "kind: ClusterConfiguration\n"}}}
    _wire(manifest, {"saltsphere_manifest.compare": compare, "saltsphere_manifest.apply": _never("apply")}, pillar)
    ret = manifest.applied(MANIFEST, server_side=True, contents_pillar="saltsphere:ks:manifest")
    assert ret["result"] is None
    assert ret["changes"] == {"objects": ["ClusterConfiguration.kubesphere-system.ks-installer"]}
    assert compare.call_args.kwargs["contents"] == "kind: ClusterConfiguration\n"
    assert "ClusterConfiguration\n" not in json.dumps(ret)


# --- saltsphere_packages, saltsphere_certs --------------------------------------------------------------------

packages = _load("states", "saltsphere_packages")
certs = _load("states", "saltsphere_certs")


def test_packages_are_predicted_not_installed():
    _wire(packages, {"saltsphere_packages.missing": Mock(return_value=["etcd-server"]),
                     "saltsphere_packages.install": _never("install")})
    packages.__states__ = {"pkg.installed": _never("pkg.installed")}
    ret = packages.installed("etcd", ["etcd-server", "etcd-client"], source={"url": "http://h/debs", "keyring": "k"})
    assert ret["result"] is None and ret["changes"] == {"installed": ["etcd-server"]}


def test_the_ca_guard_only_reads():
    fingerprints = Mock(return_value={"/etc/etcd/pki/ca.crt": None})
    _wire(certs, {"saltsphere_certs.fingerprint_of": Mock(return_value="ours"),
                  "saltsphere_certs.fingerprints": fingerprints})
    assert certs.ca_kept("/etc/etcd/pki/ca.crt", "PEM")["result"] is True
    fingerprints.return_value = {"/etc/etcd/pki/ca.crt": "theirs"}
    assert certs.ca_kept("/etc/etcd/pki/ca.crt", "PEM")["result"] is False, "another CA is a real failure"
