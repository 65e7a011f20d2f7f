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


def test_secrets_reach_control_plane_only(loaders):
    pillar = loaders.modules.pillar.items(unmask=True)
    rendered = json.dumps(pillar)
    for secret in ("SECRET-NODE1", "SECRET-NODE2"):
        assert secret not in rendered, "an SSH password reached the pillar"
    is_master = "kube-master" in pillar["saltsphere"]["host"]["roles"]
    assert ("SECRET-ADMIN" in rendered) == is_master


EXPECTED_TOP = {"master": ["os", "etcd", "containerd"], "node1": ["os", "containerd"], "node2": ["os", "containerd"]}


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


def test_every_sls_in_the_top_renders(loaders, sample_cluster):
    highstate = _highstate(loaders)
    expected_hosts = cluster.load(sample_cluster / "hosts.ini").hosts
    for name, spec in expected_hosts.items():
        state_id = f"os-hosts-host-only-{name}"
        assert state_id in highstate, f"{state_id} missing from {sorted(highstate)}"
        args = highstate[state_id]["host"]
        assert {"name": spec.ip} in args and {"hostnames": [name]} in args


@pytest.mark.parametrize("sls", ["os", "os.hosts", "os.kernel", "os.swap", "os.time"])
def test_sls_renders_alone(loaders, sls):
    ret = loaders.modules.state.show_sls(sls)
    assert isinstance(ret, dict) and ret, f"{sls} did not render: {ret}"


def test_unknown_etcd_install_source_stops_rendering_with_the_fix(loaders):
    pillar = {"saltsphere": {"lookup": {"etcd": {"install_source": "bundle"}}}}
    ret = loaders.modules.state.show_sls("etcd", pillar=pillar)
    assert isinstance(ret, list) and 'install_source "bundle" is not known' in " ".join(ret), ret
