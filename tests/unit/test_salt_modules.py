"""The roster and ext_pillar modules, loaded by Salt's own loader from the repository's Salt configuration."""

import os
import stat

import pytest
import salt.config
import salt.exceptions
import salt.loader
import salt.roster

from saltsphere import cluster

from sample_inputs import issue_secrets, ROOT, SEED_HOSTS_INI, SEED_VARS_YML

BAD_HOSTS = SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=192.168.0.300").replace(
    "[etcd]\nmaster\n", "[etcd]\nmaster\nnode1\n")


@pytest.fixture
def opts(tmp_path, monkeypatch):
    """The master options salt-ssh reads through the repository's Saltfile, aimed at a cluster in tmp_path."""
    monkeypatch.chdir(ROOT)
    options = salt.config.master_config(str(ROOT / "etc" / "salt" / "master"))
    options["cachedir"] = str(tmp_path / "cache")
    options["roster_file"] = str(tmp_path / "hosts.ini")
    return options


@pytest.fixture
def rosters(opts):
    loader = salt.loader.roster(opts, utils=salt.loader.utils(opts))
    yield loader
    if hasattr(loader, "destroy"):
        loader.destroy()


def test_repository_config_selects_the_module(opts):
    assert opts["roster"] == "saltsphere"
    assert opts["ext_pillar"] == [{"saltsphere": {}}]
    assert opts["extension_modules"] == str(ROOT / "extension_modules")


def test_targets_all_returns_the_roster_entries(write_cluster, rosters, opts):
    path = write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)

    targets = rosters["saltsphere.targets"]("*")

    mux = os.path.join(opts["cachedir"], "ssh-mux")
    assert targets == cluster.load(path).roster(mux)
    assert stat.S_IMODE(os.stat(mux).st_mode) == 0o700
    assert all(f"ControlPath={mux}/" in " ".join(entry["ssh_options"]) for entry in targets.values())
    assert sorted(targets) == ["master", "node1", "node2"]
    assert targets["master"]["host"] == "127.0.0.1"
    assert targets["node1"]["host"] == "192.168.0.2" and targets["node1"]["passwd"] == "PASSWORD"


@pytest.mark.parametrize("tgt, tgt_type, names", [
    ("node*", "glob", ["node1", "node2"]),
    ("master", "glob", ["master"]),
    ("node[2-9]", "glob", ["node2"]),
    ("nothing*", "glob", []),
    (["master", "node2"], "list", ["master", "node2"]),
    ("node1,node2", "list", ["node1", "node2"]),
    ("^node", "pcre", ["node1", "node2"]),
])
def test_targets_filter(write_cluster, rosters, tgt, tgt_type, names):
    write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)
    assert sorted(rosters["saltsphere.targets"](tgt, tgt_type)) == names


def test_salt_ssh_roster_class_reads_hosts_ini(write_cluster, opts):
    write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)
    roster = salt.roster.Roster(opts, opts["roster"])
    try:
        targets = roster.targets("node*", "glob")
    finally:
        roster.destroy()
    assert sorted(targets) == ["node1", "node2"]
    assert targets["node2"]["port"] == 22


def test_bad_inventory_raises_salt_client_error_listing_every_problem(write_cluster, rosters):
    path = write_cluster(BAD_HOSTS, SEED_VARS_YML)

    with pytest.raises(salt.exceptions.SaltClientError) as raised:
        rosters["saltsphere.targets"]("*")

    message = str(raised.value)
    assert message.startswith("2 problem(s) in the cluster's inventory or config:")
    assert f"{path}:3: ip='192.168.0.300' of host 'node1' is not an IP address" in message
    assert f"{path}:13: [etcd] has 2 members" in message
    assert message.count("fix: ") == 2
    assert "Traceback" not in message


def test_bad_config_beside_the_inventory_stops_the_roster(write_cluster, rosters):
    write_cluster(SEED_HOSTS_INI, "nfs_server_enabled: true\n")
    with pytest.raises(salt.exceptions.SaltClientError, match="did you mean nfs_server_enable"):
        rosters["saltsphere.targets"]("*")


def test_saltsphere_vars_option_names_the_config(write_cluster, opts, tmp_path):
    write_cluster(SEED_HOSTS_INI, None)
    other = tmp_path / "elsewhere.yml"
    other.write_text(SEED_VARS_YML + "kube_network_plugin: bridge\n")
    opts["saltsphere_vars"] = str(other)

    cluster_of_opts = salt.loader.roster(opts, utils=salt.loader.utils(opts))["saltsphere.load_cluster"](opts)
    assert cluster_of_opts.config["kube_network_plugin"] == "bridge"
    assert cluster_of_opts.vars_yml == str(other)


def test_missing_roster_file_is_an_os_error(opts, rosters):
    with pytest.raises(OSError, match="not found"):
        rosters["saltsphere.targets"]("*")


@pytest.fixture
def pillars(opts):
    loader = salt.loader.pillars(opts, {})
    yield loader
    if hasattr(loader, "destroy"):
        loader.destroy()


def test_ext_pillar_never_gives_a_host_the_configured_password(write_cluster, pillars):
    issue_secrets(cluster.load(str(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + "ks_admin_password: Ks-Admin-Pw\n"))))

    master = pillars["saltsphere"]("master", {})["saltsphere"]
    node = pillars["saltsphere"]("node1", {})["saltsphere"]

    assert "Ks-Admin-Pw" not in repr(master), "the first master gets the password's hash only"
    assert master["host"]["roles"] == ["etcd", "kube-master"]
    assert "ks_admin_password" not in node["config"]
    assert node["host"] == {"name": "node1", "ip": "192.168.0.2", "roles": ["kube-node"]}
    assert node["cluster"]["kube-master"] == [{"name": "master", "ip": "192.168.0.1"}]
    for data in (master, node):
        assert "PASSWORD" not in repr(data)


def test_ext_pillar_of_a_bad_cluster_raises(write_cluster, pillars):
    write_cluster(BAD_HOSTS, SEED_VARS_YML)
    with pytest.raises(cluster.InvalidInput) as raised:
        pillars["saltsphere"]("master", {})
    assert "is not an IP address" in raised.value.render()


def test_pki_runner_lists_every_certificate_and_no_key(write_cluster, opts, tmp_path):
    issue_secrets(cluster.load(str(write_cluster())))
    runners = salt.loader.runner(opts, utils=salt.loader.utils(opts))
    listing = runners["saltsphere_pki.list"]()
    names = {"/".join(path.rsplit("/", 2)[1:]) for path in listing}
    assert names == {"etcd/ca.crt", "etcd/peer-master.crt", "etcd/server-master.crt", "etcd/healthcheck-master.crt",
                     "etcd/apiserver-etcd-client.crt", "etcd/admin.crt",
                     "kubernetes/ca.crt", "kubernetes/front-proxy-ca.crt", "kubernetes/admin.crt"}
    assert all(str(tmp_path) in path for path in listing)
    assert "PRIVATE KEY" not in repr(listing)
    assert runners["saltsphere_pki.list"]() == listing


def test_ext_pillar_of_the_reset_holds_no_key_and_needs_no_prepare_step(write_cluster, pillars):
    """The reset's clean states read parameters only: a taskbox without .saltsphere/ (purged) resets too."""
    write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)
    reset = {"saltsphere_orchestration": {"phase": "reset"}}
    master = pillars["saltsphere"]("master", reset)
    assert "_errors" not in master
    # registries: containerd's hosts.toml files, nothing secret (empty with the seed's vars.yml)
    assert set(master["saltsphere"]) == {"cluster", "config", "host", "registries"}
    assert master["saltsphere"]["registries"] == {}
    assert "_errors" in pillars["saltsphere"]("master", {}), "other phases still need the prepare step"


def test_a_multiplex_directory_others_can_write_is_not_used(write_cluster, rosters, opts):
    write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)
    mux = os.path.join(opts["cachedir"], "ssh-mux")
    os.makedirs(mux)
    os.chmod(mux, 0o777)

    targets = rosters["saltsphere.targets"]("*")

    assert not any("ssh_options" in entry for entry in targets.values())


def test_pki_runner_renews_every_leaf_and_admin_conf_or_fails_naming_the_missing_key(write_cluster, opts, tmp_path):
    from saltsphere import kubeconfig, pki

    loaded = issue_secrets(cluster.load(str(write_cluster())))
    kubeconfig.write(loaded.directory, "https://192.168.0.1:6443")
    admin = kubeconfig.path(loaded.directory).read_bytes()
    runners = salt.loader.runner(opts, utils=salt.loader.utils(opts))
    done = runners["saltsphere_pki.renew"]()
    assert done["result"] is True and "PRIVATE KEY" not in repr(done)
    names = {"/".join(path.rsplit("/", 2)[1:]) for path in done["renewed"]}
    assert names == {"etcd/peer-master.crt", "etcd/server-master.crt", "etcd/healthcheck-master.crt",
                     "etcd/apiserver-etcd-client.crt", "etcd/admin.crt", "kubernetes/admin.crt"}
    assert kubeconfig.path(loaded.directory).read_bytes() != admin
    (pki.pki_dir_of(loaded.directory) / "etcd" / "ca.key").unlink()
    failed = runners["saltsphere_pki.renew"]()
    assert failed["result"] is False and "etcd/ca.key is missing" in failed["comment"]
