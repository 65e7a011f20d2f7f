"""The storage formula and phase render for every host of the sample cluster (nfs_server is its default class).

Uses Salt's real loaders (see conftest.py): the same map.jinja and pillar that
salt-ssh renders on a host.
"""

import yaml

FIRST_MASTER = "master"
CLASSES_IDS = {"storage-classes-file-managed-manifest", "storage-classes-saltsphere-manifest-applied"}


def _show(loaders, sls, **kwargs):
    ret = loaders.modules.state.show_sls(sls, **kwargs)
    assert isinstance(ret, dict), f"{sls} did not render: {ret}"
    return ret


def _args(state) -> dict:
    """The arguments of a rendered state, as one mapping."""
    found = {}
    for arg in next(value for name, value in state.items() if not name.startswith("__")):
        if isinstance(arg, dict):
            found.update(arg)
    return found


def _storage_pillar(loaders):
    return loaders.modules.pillar.items(unmask=True)["saltsphere"].get("storage", {})


def test_only_the_first_master_receives_the_manifest(loaders):
    storage = _storage_pillar(loaders)
    assert storage["default_class"] == "nfs-server"
    assert storage["client_packages"]["Debian"] == ["nfs-common"]
    if loaders.opts["id"] == FIRST_MASTER:
        kinds = {doc["kind"] for doc in yaml.safe_load_all(storage["manifest"])}
        assert {"StorageClass", "StatefulSet", "Service", "ServiceAccount"} <= kinds
    else:
        assert "manifest" not in storage, "a worker received the storage manifest"


def test_storage_applies_the_classes_on_the_first_master_only(loaders):
    ids = set(_show(loaders, "storage"))
    assert "storage-clients-saltsphere-packages-installed" in ids
    if loaders.opts["id"] == FIRST_MASTER:
        assert CLASSES_IDS <= ids
        assert "kubernetes-control-plane-saltsphere-kubernetes-initialized" in ids
    else:
        assert not CLASSES_IDS & ids


def test_clients_install_the_mount_tools_of_the_enabled_classes(loaders):
    installed = _show(loaders, "storage.clients")["storage-clients-saltsphere-packages-installed"]
    assert _args(installed)["pkgs"] == ["nfs-common"]


def test_clients_say_so_when_no_class_needs_packages(loaders):
    pillar = {"saltsphere": {"storage": {"client_packages": {"Debian": [], "RedHat": []}}}}
    ret = _show(loaders, "storage.clients", pillar=pillar)
    assert list(ret) == ["storage-clients-test-succeed-without-changes"]


def test_the_manifest_is_private_never_diffed_and_applied_after_kubernetes(loaders):
    if loaders.opts["id"] != FIRST_MASTER:
        ret = loaders.modules.state.show_sls("storage.classes")
        assert isinstance(ret, list) and f"from the first master ({FIRST_MASTER})" in " ".join(ret), ret
        return
    ret = _show(loaders, "storage.classes")
    managed = _args(ret["storage-classes-file-managed-manifest"])
    assert managed["name"] == "/etc/kubernetes/saltsphere/storage.yaml"
    assert managed["contents_pillar"] == "saltsphere:storage:manifest"
    assert managed["mode"] == "0600" and managed["show_changes"] is False
    applied = _args(ret["storage-classes-saltsphere-manifest-applied"])
    assert applied["name"] == managed["name"]
    assert applied["require"] == [{"file": "storage-classes-file-managed-manifest"}, {"sls": "kubernetes"}]


def test_clean_deletes_the_objects_before_the_manifest(loaders):
    ret = _show(loaders, "storage.clean")
    delete = _args(ret["storage-clean-cmd-run-kubectl-delete"])
    assert "delete --ignore-not-found" in delete["name"]
    assert delete["name"].endswith(" -f /etc/kubernetes/saltsphere/storage.yaml")
    assert any("get --raw=/readyz" in check for check in delete["onlyif"]), "only through an API that answers"
    absent = _args(ret["storage-clean-file-absent-manifest"])
    assert absent["require"] == [{"cmd": "storage-clean-cmd-run-kubectl-delete"}]


def test_a_host_without_storage_pillar_stops_with_the_reason(loaders):
    ret = loaders.modules.state.show_sls("storage", pillar={"saltsphere": {"storage": None}})
    assert isinstance(ret, list) and "neither kube-master nor kube-node" in " ".join(ret), ret


def test_the_storage_phase_runs_on_every_kubernetes_host(loaders):
    ret = _show(loaders, "kubesphere.storage")
    phase = _args(ret["kubesphere-storage-salt-state"])
    assert sorted(phase["tgt"].split(",")) == ["master", "node1", "node2"]
    assert (phase["tgt_type"], phase["sls"], phase["ssh"], phase["failhard"]) == ("list", "storage", True, True)
