"""The calico network plugin renders for every host of the sample cluster, and refuses a bundle without its images.

Uses Salt's real loaders (see conftest.py); the sample cluster runs the bridge
plugin, so each test switches to calico and gives the calico pillar (as the
taskbox computes it for the first master) as a pillar override.
"""

from saltsphere import calico

FIRST_MASTER = "master"
IMAGES = calico.images("v3.17.6")
APPLY_IDS = {"network-calico-file-managed-manifest", "network-calico-saltsphere-manifest-applied"}
READY_ID = "network-calico-saltsphere-network-node-ready"


def _bundle_images(refs) -> dict:
    return {f"images/{ref.split('/')[-1].split(':')[0]}.tar": {
        "name": ref, "kind": "image", "version": "v3.17.6", "sha256": "0" * 64, "ref": ref} for ref in refs}


def _pillar(loaders, refs=IMAGES, **calico_pillar) -> dict:
    """The pillar override of a calico cluster whose bundle holds ``refs``."""
    saltsphere = {"kubernetes": {"network_plugin": "calico"}, "bundle": {"files": _bundle_images(refs)}}
    if loaders.opts["id"] == FIRST_MASTER:
        saltsphere["calico"] = {"version": "v3.17.6", "manifest": "---\n", "missing_images": [], **calico_pillar}
    return {"saltsphere": saltsphere}


def _args(state) -> dict:
    found = {}
    for arg in next(value for name, value in state.items() if not name.startswith("__")):
        if isinstance(arg, dict):
            found.update(arg)
    return found


def test_the_first_master_applies_the_manifest_and_every_host_waits_for_its_node(loaders):
    ret = loaders.modules.state.show_sls("network", pillar=_pillar(loaders))
    assert isinstance(ret, dict), ret
    ids = set(ret)
    assert "network-bridge-saltsphere-network-cni-bridge" not in ids
    ready = _args(ret[READY_ID])
    assert ready["name"] == loaders.opts["id"] and ready["wait"] == 300
    if loaders.opts["id"] != FIRST_MASTER:
        assert not APPLY_IDS & ids, "a worker would apply calico's manifest"
        assert ready["require"] == [{"sls": "kubernetes"}]
        return
    assert APPLY_IDS <= ids
    managed = _args(ret["network-calico-file-managed-manifest"])
    assert managed["name"] == "/etc/kubernetes/saltsphere/calico.yaml"
    assert managed["contents_pillar"] == "saltsphere:calico:manifest" and managed["mode"] == "0644"
    applied = _args(ret["network-calico-saltsphere-manifest-applied"])
    assert (applied["name"], applied["kubeconfig"]) == (managed["name"], "/etc/kubernetes/admin.conf")
    assert applied["require"] == [{"file": "network-calico-file-managed-manifest"}, {"sls": "kubernetes"}]
    assert ready["require"] == [{"saltsphere_manifest": "network-calico-saltsphere-manifest-applied"}]


def test_images_missing_from_the_bundle_stop_rendering_with_the_fix(loaders):
    pillar = _pillar(loaders, refs=IMAGES[:1], missing_images=IMAGES[1:])
    ret = loaders.modules.state.show_sls("network", pillar=pillar)
    assert isinstance(ret, list), ret
    message = " ".join(ret)
    assert "`saltsphere artifact fetch --kube-version v1.20.2`" in message
    assert "set kube_network_plugin: bridge" in message
    if loaders.opts["id"] == FIRST_MASTER:
        assert ", ".join(IMAGES[1:]) in message
    else:
        assert "lacks calico/node, calico/kube-controllers, calico/pod2daemon-flexvol;" in message


def test_a_bundle_without_any_calico_image_stops_every_host(loaders):
    pillar = _pillar(loaders, refs=(), missing_images=IMAGES)
    ret = loaders.modules.state.show_sls("network", pillar=pillar)
    assert isinstance(ret, list) and "lacks " in " ".join(ret), ret


def test_the_first_master_without_its_manifest_says_where_it_comes_from(loaders):
    if loaders.opts["id"] != FIRST_MASTER:
        return
    pillar = _pillar(loaders)
    del pillar["saltsphere"]["calico"]
    ret = loaders.modules.state.show_sls("network", pillar=pillar)
    assert isinstance(ret, list) and "no saltsphere:calico:manifest for master" in " ".join(ret), ret


def test_a_kubernetes_minor_without_calico_stops_with_the_taskbox_message(loaders):
    if loaders.opts["id"] != FIRST_MASTER:
        return
    error = ("saltsphere pairs calico with Kubernetes 1.20 only, and kube_version is v1.28.4; "
             "set kube_network_plugin: bridge in vars.yml")
    ret = loaders.modules.state.show_sls("network", pillar=_pillar(loaders, error=error))
    assert isinstance(ret, list) and error in " ".join(ret), ret
