"""The views Salt gets of a validated cluster: roster entries, per-host pillar, no password out of place."""

import os

import pytest

from saltsphere import cluster, config
from saltsphere.cluster import TARGET_PATH

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML

HOSTS = """\
[all]
master ansible_connection=local ip=192.168.0.1
node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_ssh_pass=Ssh-Pw-1
node2 ansible_host=10.0.0.3 ip=192.168.0.3 ansible_user=deploy ansible_port=2202 ansible_become_pass=Sudo-Pw-2
node3 ansible_host=node3.example.com ip=192.168.0.4 ansible_user=ops ansible_ssh_pass=Same-Pw-3 ansible_sudo_pass=Same-Pw-3
node4 ansible_host=192.168.0.5 ansible_user=ops ansible_ssh_private_key_file=keys/id_node4 ansible_ssh_pass=Key-Pw-4 ansible_become_pass=Other-Pw-4
etcd1 ansible_host=192.168.0.6 ip=192.168.0.6 ansible_ssh_private_key_file=~/.ssh/id_etcd1

[kube-master]
master

[kube-node]
node1
node2
node3
node4

[etcd]
master
etcd1
node1

[k8s-cluster:children]
kube-master
kube-node
"""
HOST_PASSWORDS = ("Ssh-Pw-1", "Sudo-Pw-2", "Same-Pw-3", "Key-Pw-4", "Other-Pw-4")

VARS = """\
nfs_server_enable: false
nfs_server_is_default_class: false
ceph_rbd_enabled: true
ceph_rbd_is_default_class: true
ceph_rbd_monitors:
  - 192.168.0.20:6789
ceph_rbd_admin_secret: Ceph-Admin-Secret
ceph_rbd_user_secret: Ceph-User-Secret
ks_admin_password: Ks-Admin-Pw
"""
CONFIG_SECRETS = ("Ceph-Admin-Secret", "Ceph-User-Secret", "Ks-Admin-Pw")


@pytest.fixture
def loaded(write_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_etcd1").write_text("key\n")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "id_node4").write_text("key\n")
    return cluster.load(write_cluster(HOSTS, VARS))


def test_roster_entries(loaded, tmp_path):
    roster = loaded.roster()

    assert list(roster) == ["master", "node1", "node2", "node3", "node4", "etcd1"]
    assert roster["master"] == {"host": "127.0.0.1", "port": 22, "user": "root", "set_path": TARGET_PATH}
    assert roster["node1"] == {"host": "192.168.0.2", "port": 22, "user": "root", "set_path": TARGET_PATH,
                               "passwd": "Ssh-Pw-1"}
    assert roster["node2"] == {"host": "10.0.0.3", "port": 2202, "user": "deploy", "set_path": TARGET_PATH,
                               "sudo": True, "tty": True, "passwd": "Sudo-Pw-2"}
    assert roster["node3"] == {"host": "node3.example.com", "port": 22, "user": "ops", "set_path": TARGET_PATH,
                               "sudo": True, "tty": True, "passwd": "Same-Pw-3"}
    assert roster["node4"] == {"host": "192.168.0.5", "port": 22, "user": "ops", "set_path": TARGET_PATH,
                               "priv": str(tmp_path / "keys" / "id_node4"), "sudo": True, "tty": True,
                               "passwd": "Other-Pw-4"}
    assert roster["etcd1"] == {"host": "192.168.0.6", "port": 22, "user": "root", "set_path": TARGET_PATH,
                               "priv": str(tmp_path / "home" / ".ssh" / "id_etcd1")}


def test_target_path_is_the_hosts_own(loaded):
    assert all(entry["set_path"].split(":")[0] == "/usr/local/sbin" for entry in loaded.roster().values())
    assert not any("pyenv" in part or "venv" in part for part in TARGET_PATH.split(":"))


def test_relative_private_key_is_resolved_against_the_inventory_not_the_cwd(write_cluster, tmp_path, monkeypatch):
    directory = tmp_path / "site" / "prod"
    (directory / "keys").mkdir(parents=True)
    (directory / "keys" / "id_ed25519").write_text("key\n")
    text = SEED_HOSTS_INI.replace("ansible_ssh_pass=PASSWORD", "ansible_ssh_private_key_file=keys/id_ed25519")
    write_cluster(text, SEED_VARS_YML, directory=directory)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    roster = cluster.load(os.path.join("..", "site", "prod", "hosts.ini")).roster()

    expected = os.path.realpath(directory / "keys" / "id_ed25519")
    assert os.path.isabs(roster["node1"]["priv"])
    assert os.path.realpath(roster["node1"]["priv"]) == expected
    assert os.path.realpath(roster["node2"]["priv"]) == expected
    assert "passwd" not in roster["node1"]


def test_host_specs(loaded):
    node4 = loaded.hosts["node4"]
    assert node4.ip == "192.168.0.5"  # taken from an address ansible_host
    assert node4.sudo and not node4.local
    assert loaded.hosts["master"].local and not loaded.hosts["master"].sudo
    assert loaded.hosts["node1"].roles == ("etcd", "kube-node")
    assert loaded.hosts["etcd1"].roles == ("etcd",)
    assert [h.name for h in loaded.role_members("etcd")] == ["master", "node1", "etcd1"]


def test_host_spec_repr_never_shows_passwords(loaded):
    for spec in loaded.hosts.values():
        for text in (repr(spec), str(spec), repr(loaded.hosts), f"{spec}", str([spec])):
            for password in HOST_PASSWORDS:
                assert password not in text
    assert repr(loaded.hosts["node2"]) == "HostSpec('node2', '10.0.0.3', ip='192.168.0.3', roles=('kube-node',))"
    assert loaded.hosts["node2"].become_password == "Sudo-Pw-2"


def test_public_view_of_a_host_has_no_secret(loaded):
    for spec in loaded.hosts.values():
        assert set(spec.public()) == {"host", "port", "user", "sudo", "local", "ip", "roles"}
    assert not any(password in repr(loaded.inventory()) for password in HOST_PASSWORDS)


def test_even_the_first_master_gets_no_secret_with_the_config(loaded):
    pillar = loaded.pillar("master")["saltsphere"]

    assert not set(config.SECRET_KEYS) & set(pillar["config"])
    for secret in ("Ceph-Admin-Secret", "Ceph-User-Secret", "Ks-Admin-Pw"):
        assert secret not in repr(pillar)
    assert pillar["host"] == {"name": "master", "ip": "192.168.0.1", "roles": ["etcd", "kube-master"]}


@pytest.mark.parametrize("minion", ["node1", "node2", "etcd1", "not-in-inventory"])
def test_other_hosts_get_no_config_secret(loaded, minion):
    pillar = loaded.pillar(minion)
    config_view = pillar["saltsphere"]["config"]

    assert not set(config.SECRET_KEYS) & set(config_view)
    assert config_view["ceph_rbd_monitors"] == ["192.168.0.20:6789"]
    assert config_view["ceph_rbd_enabled"] is True
    for secret in CONFIG_SECRETS:
        assert secret not in repr(pillar)


HA_HOSTS = """\
[all]
m1 ansible_host=10.1.0.1 ip=10.1.0.1
m2 ansible_host=10.1.0.2 ip=10.1.0.2
m3 ansible_host=10.1.0.3 ip=10.1.0.3
w1 ansible_host=10.1.0.4 ip=10.1.0.4

[kube-master]
m1
m2
m3

[kube-node]
w1
m3

[etcd]
m1
m2
m3
"""


@pytest.mark.parametrize("minion", ["m1", "m2", "m3", "w1"])
def test_no_host_gets_the_config_secrets_with_the_config(write_cluster, minion):
    """They reach the first master only in the manifests that hold them (see the ext_pillar)."""
    loaded = cluster.load(write_cluster(HA_HOSTS, VARS))
    pillar = loaded.pillar(minion)
    assert not set(config.SECRET_KEYS) & set(pillar["saltsphere"]["config"])
    for secret in CONFIG_SECRETS:
        assert secret not in repr(pillar)


@pytest.mark.parametrize("minion", ["master", "node1", "node2", "node3", "node4", "etcd1", "nobody"])
def test_no_host_password_reaches_any_pillar(loaded, minion):
    text = repr(loaded.pillar(minion))
    for password in HOST_PASSWORDS:
        assert password not in text


def test_pillar_has_the_host_roles_and_the_topology(loaded):
    pillar = loaded.pillar("node1")["saltsphere"]

    assert pillar["host"] == {"name": "node1", "ip": "192.168.0.2", "roles": ["etcd", "kube-node"]}
    topology = pillar["cluster"]
    assert topology["etcd"] == [{"name": "master", "ip": "192.168.0.1"}, {"name": "node1", "ip": "192.168.0.2"},
                                {"name": "etcd1", "ip": "192.168.0.6"}]
    assert topology["kube-master"] == [{"name": "master", "ip": "192.168.0.1"}]
    assert [h["name"] for h in topology["kube-node"]] == ["node1", "node2", "node3", "node4"]
    assert topology["hosts"]["node4"] == {"ip": "192.168.0.5", "roles": ["kube-node"]}
    assert set(topology["hosts"]) == {"master", "node1", "node2", "node3", "node4", "etcd1"}


def test_unknown_minion_gets_topology_but_no_host(loaded):
    pillar = loaded.pillar("stranger")["saltsphere"]
    assert "host" not in pillar
    assert set(pillar["cluster"]["hosts"]) == set(loaded.hosts)


def test_load_cached_reloads_when_a_file_changes(write_cluster):
    path = write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)
    first = cluster.load_cached(path)
    assert cluster.load_cached(path) is first

    path.write_text(SEED_HOSTS_INI.replace("192.168.0.3", "192.168.0.33"))
    second = cluster.load_cached(path)
    assert second is not first
    assert second.hosts["node2"].ip == "192.168.0.33"

    (path.parent / "vars.yml").write_text(SEED_VARS_YML + "kube_network_plugin: bridge\n")
    assert cluster.load_cached(path).config["kube_network_plugin"] == "bridge"


def test_load_cached_raises_for_a_bad_cluster_every_time(write_cluster):
    path = write_cluster(SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=nope"))
    for _ in range(2):
        with pytest.raises(cluster.InvalidInput):
            cluster.load_cached(path)


def test_multiplexed_roster_shares_one_connection_per_host(loaded, tmp_path):
    mux = str(tmp_path / "mux")
    roster = loaded.roster(mux)

    paths = set()
    for name, entry in roster.items():
        options = dict(option.split("=", 1) for option in entry["ssh_options"])
        assert options["ControlMaster"] == "auto" and options["ControlPersist"] == "60s", name
        assert os.path.dirname(options["ControlPath"]) == mux
        paths.add(options["ControlPath"])
        assert {key: value for key, value in entry.items() if key != "ssh_options"} == loaded.roster()[name]
    assert len(paths) == len(roster)


def test_own_control_options_or_a_long_socket_path_mean_no_multiplexing(write_cluster, tmp_path):
    text = SEED_HOSTS_INI.replace("ansible_ssh_pass=PASSWORD",
                                  "ansible_ssh_pass=PASSWORD ansible_ssh_common_args='-o ControlPath=none'")
    loaded = cluster.load(write_cluster(text, SEED_VARS_YML))

    roster = loaded.roster(str(tmp_path / "mux"))
    assert roster["node1"]["ssh_options"] == ["ControlPath=none"]
    assert "ControlMaster=auto" in roster["master"]["ssh_options"]
    long_path = loaded.roster("/" + "d" * 90)
    assert long_path["node1"]["ssh_options"] == ["ControlPath=none"] and "ssh_options" not in long_path["master"]
