"""Every SLS the top file gives a host renders with that host's real pillar."""

import json

import pytest

from saltsphere import cluster


def _highstate(loaders):
    ret = loaders.modules.state.show_highstate()
    assert isinstance(ret, dict), f"highstate did not render: {ret}"
    return ret


def test_pillar_comes_from_the_inventory(loaders):
    pillar = loaders.modules.pillar.items(unmask=True)
    host = pillar["saltsphere"]["host"]
    assert host["name"] == loaders.opts["id"]
    assert set(pillar["saltsphere"]["cluster"]["hosts"]) == {"master", "node1", "node2"}


def test_no_pillar_holds_a_password_in_the_clear(loaders):
    pillar = loaders.modules.pillar.items(unmask=True)
    rendered = json.dumps(pillar)
    for secret in ("SECRET-NODE1", "SECRET-NODE2"):
        assert secret not in rendered, "an SSH password reached the pillar"
    assert "SECRET-ADMIN" not in rendered, "KubeSphere gets the administrator's password as its bcrypt hash only"
    first_master = pillar["saltsphere"]["cluster"]["kube-master"][0]["name"]
    if loaders.opts["id"] == first_master:
        assert "$2a$" in pillar["saltsphere"]["ks"]["manifest"]


EXPECTED_TOP = {
    "master": ["os", "etcd", "containerd", "kubernetes", "network", "storage", "ks"],
    "node1": ["os", "containerd", "kubernetes", "network", "storage"],
    "node2": ["os", "containerd", "kubernetes", "network", "storage"],
}


def test_top_gives_each_host_the_states_of_its_roles(loaders):
    top = loaders.modules.state.show_top()
    assert top == {"base": EXPECTED_TOP[loaders.opts["id"]]}


def test_tls_material_only_for_the_roles_that_use_it(loaders):
    etcd = loaders.modules.pillar.items(unmask=True)["saltsphere"].get("etcd", {})
    if loaders.opts["id"] == "master":
        assert "BEGIN CERTIFICATE" in etcd["server"]["cert"]
        assert "PRIVATE KEY" in etcd["peer"]["key"]
        assert "PRIVATE KEY" in etcd["apiserver_client"]["key"]
    else:
        assert etcd == {}, "a worker received etcd key material"


def test_etcd_renders_for_its_member_only(loaders):
    highstate = _highstate(loaders)
    if loaders.opts["id"] != "master":
        assert not [sid for sid in highstate if sid.startswith("etcd-")]
        return
    env = highstate["etcd-config-file-managed-env"]["file"]
    context = next(arg["context"] for arg in env if isinstance(arg, dict) and "context" in arg)
    assert context["etcd"]["endpoints"] == ["https://192.168.50.10:2379"]
    assert context["etcd"]["members"] == [{"name": "master", "ip": "192.168.50.10"}]
    key = highstate["etcd-config-file-managed-server-key"]["file"]
    assert {"show_changes": False} in key and {"mode": "0640"} in key
    assert context["bootstrap"] == {"cluster": "master=https://192.168.50.10:2380", "state": "new"}


def test_an_etcd_member_joining_a_running_cluster_starts_with_existing(loaders):
    if loaders.opts["id"] != "master":
        return
    joining = {"saltsphere_orchestration": {"etcd_join": {"master": {"initial_cluster": "m0=https://10.0.0.9:2380,"
                                                                                          "master=https://x:2380"}}}}
    ret = loaders.modules.state.show_sls("etcd.config", pillar=joining)
    assert isinstance(ret, dict), ret
    env = ret["etcd-config-file-managed-env"]["file"]
    context = next(arg["context"] for arg in env if isinstance(arg, dict) and "context" in arg)
    assert context["bootstrap"] == {"cluster": "m0=https://10.0.0.9:2380,master=https://x:2380", "state": "existing"}


def test_every_sls_in_the_top_renders(loaders, sample_cluster):
    highstate = _highstate(loaders)
    expected_hosts = cluster.load(sample_cluster / "hosts.ini").hosts
    for name, spec in expected_hosts.items():
        state_id = f"os-hosts-host-only-{name}"
        assert state_id in highstate, f"{state_id} missing from {sorted(highstate)}"
        args = highstate[state_id]["host"]
        assert {"name": spec.ip} in args and {"hostnames": [name]} in args


def _arg(args, key):
    return next(arg[key] for arg in args if isinstance(arg, dict) and key in arg)


def _states(highstate):
    """(state id, module, function, arguments) of every state in a rendered highstate."""
    for sid, body in highstate.items():
        for module, args in body.items():
            if module.startswith("__"):
                continue
            function = next(arg for arg in args if isinstance(arg, str))
            yield sid, module, function, [arg for arg in args if isinstance(arg, dict)]


def _bundle(loaders):
    return loaders.modules.pillar.items(unmask=True)["saltsphere"]["bundle"]


def test_every_package_install_waits_for_a_ready_package_manager_and_reads_the_signed_bundle(loaders):
    highstate = _highstate(loaders)
    bundle = _bundle(loaders)
    assert bundle["apt_keyring"], "the sample cluster is prepared: its key must reach the pillar"
    installs = {sid: args for sid, module, function, args in _states(highstate)
                if module == "saltsphere_packages" and function == "installed"}
    assert {"os-packages-saltsphere-packages-installed", "containerd-package-saltsphere-packages-installed",
            "storage-clients-saltsphere-packages-installed"} <= set(installs)
    if loaders.opts["id"] == "master":
        assert "etcd-package-saltsphere-packages-installed" in installs
    for sid, args in installs.items():
        assert {"sls": "os.pkgdb"} in _arg(args, "require"), sid
        assert _arg(args, "source") == {"url": bundle["url"] + "/debs/debian-12", "keyring": bundle["apt_keyring"]}
        assert _arg(args, "install_recommends") is False, sid
    assert not [sid for sid, module, _, _ in _states(highstate) if module == "pkg"], "a package bypasses the bundle"


def test_no_state_configures_an_apt_source_and_nothing_is_trusted_unsigned(loaders):
    highstate = _highstate(loaders)
    for sid, module, function, args in _states(highstate):
        if module == "file" and function != "absent":
            names = [arg["name"] for arg in args if "name" in arg] + [sid]
            assert not [n for n in names if str(n).startswith("/etc/apt/")], (sid, names)
    assert "trusted=yes" not in json.dumps(highstate)


def test_the_previous_versions_bundle_source_is_removed_and_interrupted_installs_finished(loaders):
    highstate = _highstate(loaders)
    removed = {_arg(args, "name") for sid, module, function, args in _states(highstate)
               if module == "file" and function == "absent" and sid.startswith("os-pkgdb-")}
    assert removed == {"/etc/apt/sources.list.d/saltsphere-bundle.list", "/etc/apt/saltsphere-bundle.conf",
                       "/var/lib/saltsphere/bundle-packages.sha256"}
    finish = highstate["os-pkgdb-cmd-run-finish-interrupted"]["cmd"]
    assert {"name": "dpkg --configure -a --force-confold"} in finish
    assert any("onlyif" in arg and "/var/lib/dpkg/updates" in arg["onlyif"] for arg in finish if isinstance(arg, dict))


def test_every_requisite_names_a_state_that_exists(loaders):
    # Salt finds a requisite naming no state only when it runs the state.
    highstate = _highstate(loaders)
    known = {(module, sid) for sid, module, _, _ in _states(highstate)}
    for sid, _, _, args in _states(highstate):
        for arg in args:
            for kind in ("require", "watch", "onchanges", "prereq", "onfail"):
                for target in arg.get(kind, []):
                    (module, name), = target.items()
                    assert module == "sls" or (module, name) in known, (sid, kind, target)


def test_without_the_clusters_key_the_bundle_is_still_the_source(loaders):
    pillar = {"saltsphere": {"bundle": {"apt_keyring": None}}}
    rendered = loaders.modules.state.show_sls("os.packages", pillar=pillar)
    installed = rendered["os-packages-saltsphere-packages-installed"]
    # The state fails with "run salt-run saltsphere.prepare" rather than reach for a mirror.
    assert _arg(installed["saltsphere_packages"], "source")["keyring"] is None


def test_etcd_is_held_by_a_runtime_mask_only_while_its_package_installs(loaders):
    if loaders.opts["id"] != "master":
        return
    states = {sid: (module, function, args) for sid, module, function, args in _states(_highstate(loaders))}
    _, _, mask = states["etcd-package-cmd-run-mask"]
    assert _arg(mask, "name") == "systemctl mask --runtime etcd.service"
    assert _arg(mask, "prereq") == [{"saltsphere_packages": "etcd-package-saltsphere-packages-installed"}]
    _, _, unmask = states["etcd-package-cmd-run-unmask"]
    assert _arg(unmask, "name") == "systemctl unmask --runtime etcd.service"
    assert _arg(unmask, "onchanges") == [{"saltsphere_packages": "etcd-package-saltsphere-packages-installed"}]
    _, _, left = states["etcd-package-cmd-run-unmask-interrupted"]
    assert _arg(left, "name") == "systemctl unmask --runtime etcd.service"
    assert _arg(left, "onlyif") == [{"fun": "file.is_link", "path": "/run/systemd/system/etcd.service"}]
    assert _arg(left, "unless") == [{"fun": "saltsphere_packages.missing", "pkgs": ["etcd-server", "etcd-client"]}]
    assert {"sls": "etcd.package"} in _arg(states["etcd-service-service-running"][2], "require")
    retired = states["etcd-package-file-absent-retired-policy-rc"]
    assert retired[:2] == ("file", "absent") and _arg(retired[2], "name") == "/usr/sbin/policy-rc.d"
    assert "exit 101" in _arg(retired[2], "onlyif")
    assert not [sid for sid, (module, function, args) in states.items()
                if module == "file" and function != "absent" and "policy-rc.d" in str(_arg(args, "name"))]


@pytest.mark.parametrize("sls", ["os", "os.pkgdb", "os.hosts", "os.kernel", "os.swap", "os.time"])
def test_sls_renders_alone(loaders, sls):
    ret = loaders.modules.state.show_sls(sls)
    assert isinstance(ret, dict) and ret, f"{sls} did not render: {ret}"


def test_unknown_etcd_install_source_stops_rendering_with_the_fix(loaders):
    pillar = {"saltsphere": {"lookup": {"etcd": {"install_source": "bundle"}}}}
    ret = loaders.modules.state.show_sls("etcd", pillar=pillar)
    assert isinstance(ret, list) and 'install_source "bundle" is not known' in " ".join(ret), ret


def test_calico_without_its_images_stops_rendering_with_the_fix(loaders):
    pillar = {"saltsphere": {"kubernetes": {"network_plugin": "calico"}}}
    ret = loaders.modules.state.show_sls("network", pillar=pillar)
    assert isinstance(ret, list) and "set kube_network_plugin: bridge" in " ".join(ret), ret


@pytest.mark.parametrize("sls", ["kubernetes", "kubernetes.prepare", "network"])
def test_kubernetes_renders_for_every_role(loaders, sls):
    ret = loaders.modules.state.show_sls(sls)
    assert isinstance(ret, dict) and ret, f"{sls} did not render: {ret}"
    ids = set(ret)
    if loaders.opts["id"] == "master":
        assert "kubernetes-control-plane-saltsphere-kubernetes-initialized" in ids or sls != "kubernetes"
        assert "kubernetes-pki-file-managed-ca.key" in ids
    else:
        assert not [i for i in ids if i.startswith("kubernetes-pki-")], "a worker received the CA keys"
        assert "kubernetes-node-saltsphere-kubernetes-joined" in ids or sls != "kubernetes"


def test_the_kubeadm_file_comes_from_the_pillar_by_key_never_as_an_argument(loaders):
    state = loaders.modules.state.show_sls("kubernetes.config")["kubernetes-config-saltsphere-kubernetes-kubeadm-config"]
    args = state["saltsphere_kubernetes"]
    assert {"contents_pillar": "saltsphere:kubernetes:kubeadm_config"} in args
    assert "bootstrap" not in json.dumps(args) and "token" not in json.dumps(args).replace("kubeadm_config", "")


@pytest.mark.parametrize("phase", ["os", "etcd", "containerd", "network", "storage", "ks"])
def test_ca_keys_and_the_token_stay_out_of_phases_that_do_not_sign(loaders, phase):
    pillar = loaders.modules.pillar.items(pillar={"saltsphere_orchestration": {"phase": phase}})
    own = pillar["saltsphere"]
    assert "PRIVATE KEY" not in json.dumps(own.get("kubernetes_pki", {}))
    assert own["kubernetes"]["kubeadm_config"] is None and own["kubernetes_pki"]["token"] is None
    if phase != "storage":
        assert own["storage"].get("manifest") is None
    if phase != "ks":
        assert own["ks"] is None


def test_the_kubernetes_phase_gives_a_master_its_ca_keys(loaders):
    pillar = loaders.modules.pillar.items(pillar={"saltsphere_orchestration": {"phase": "kubernetes"}})
    material = pillar["saltsphere"]["kubernetes_pki"]
    # (pillar.items masks the values it prints: only their presence can be seen here)
    if loaders.opts["id"] == "master":
        assert material["ca"]["key"] and material["sa"]["key"]
    else:
        assert "ca" not in material
    assert material["token"]


CONVERGED = {"saltsphere_orchestration": {"kubernetes_converged": True}}


def _split(rendered, role):
    """(the role's own state ids, the ids of the other roles it brought in)."""
    own, other = set(), set()
    for sid, state in rendered.items():
        sls = state["__sls__"]
        if sls == role or sls.startswith(role + "."):
            own.add(sid)
        elif sls not in ("os.pkgdb", "transport.wipe", "kubernetes.token"):
            other.add(sid)
    return own, other


@pytest.mark.parametrize("sls", ["network", "storage", "ks"])
def test_roles_after_kubernetes_converge_it_unless_the_orchestration_did(loaders, sls):
    if sls == "ks" and loaders.opts["id"] != "master":
        return  # applied from the first master only
    alone = loaders.modules.state.show_sls(sls)
    orchestrated = loaders.modules.state.show_sls(sls, pillar=CONVERGED)
    assert isinstance(alone, dict) and isinstance(orchestrated, dict), (alone, orchestrated)
    own, brought = _split(alone, sls.split(".")[0])
    own_orchestrated, brought_orchestrated = _split(orchestrated, sls.split(".")[0])
    assert own == own_orchestrated
    if sls == "storage" and loaders.opts["id"] != "master":
        # Workers only get the mount tools: nothing to wait for.
        assert not brought and not brought_orchestrated
        return
    # Alone (or in the highstate) the whole kubernetes role, with containerd.
    assert {"kubernetes-control-plane-service-running-kubelet", "kubernetes-node-service-running-kubelet"} & brought
    assert not {sid for sid in brought if sid.startswith("kubernetes-joined-")}
    assert "containerd-service-service-running" in brought
    # After the orchestration's kubernetes phase: only that this host is a member.
    assert brought_orchestrated == {"kubernetes-joined-saltsphere-kubernetes-member",
                                    "kubernetes-joined-service-running-kubelet"}
    requires = [arg["require"] for state in orchestrated.values()
                for arg in next(v for k, v in state.items() if not k.startswith("__"))
                if isinstance(arg, dict) and "require" in arg]
    assert any({"sls": "kubernetes.joined"} in require for require in requires), requires
    assert not any({"sls": "kubernetes"} in require for require in requires), requires


def _image_states(ret):
    return {k: v["saltsphere_containerd"] for k, v in ret.items()
            if k.startswith("kubernetes-images-saltsphere-containerd-image-present-")}


def test_image_imports_take_the_roles_timeout(loaders):
    states = _image_states(loaders.modules.state.show_sls("kubernetes.images"))
    assert states and all({"timeout": 600} in args for args in states.values())
    pillar = {"saltsphere": {"lookup": {"kubernetes": {"image_import_timeout": 1800}}}}
    states = _image_states(loaders.modules.state.show_sls("kubernetes.images", pillar=pillar))
    assert all({"timeout": 1800} in args for args in states.values())


@pytest.mark.parametrize("sls", ["os", "etcd", "etcd.cluster", "containerd", "kubernetes", "kubernetes.prepare",
                                 "kubernetes.control_plane", "kubernetes.node", "kubernetes.joined", "network",
                                 "storage", "ks"])
def test_every_run_of_the_project_states_wipes_salt_ssh_copy_first(loaders, sls):
    """Every SLS the orchestration or a highstate applies on its own removes salt-ssh's copy of the run."""
    host = loaders.opts["id"]
    if (sls == "ks" or sls.startswith("kubernetes.control_plane") or sls.startswith("etcd")) and host != "master":
        return
    if sls == "kubernetes.node" and host == "master":
        return
    rendered = loaders.modules.state.show_sls(sls)
    assert isinstance(rendered, dict), rendered
    wipe = rendered.get("transport-wipe-saltsphere-transport-wiped")
    assert wipe is not None, sorted(rendered)[:10]
    args = wipe["saltsphere_transport"]
    assert {"order": "first"} in args or wipe.get("order") in ("first", 0), wipe


@pytest.mark.parametrize("sls", ["os", "etcd", "etcd.cluster", "containerd", "kubernetes", "kubernetes.joined",
                                 "network", "storage", "ks"])
def test_every_state_function_the_sls_name_is_loaded(loaders, sls):
    """A state module renamed or split leaves no SLS naming a function that does not exist."""
    host = loaders.opts["id"]
    if (sls == "ks" or sls.startswith("etcd")) and host != "master":
        return
    rendered = loaders.modules.state.show_sls(sls, pillar=CONVERGED if sls == "kubernetes.joined" else None)
    assert isinstance(rendered, dict), rendered
    missing = set()
    for sid, state in rendered.items():
        for module, args in state.items():
            if module.startswith("__"):
                continue
            function = next(arg for arg in args if isinstance(arg, str))
            if f"{module}.{function}" not in loaders.states:
                missing.add(f"{sid}: {module}.{function}")
    assert missing == set()
