"""Every config rule of saltsphere.validate (addresses, choices, storage): it fires on the key, with a fix,
and its valid neighbour passes."""

import pytest

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML, hosts_ini, line_number, matching, only

NFS_SERVER_OFF = "nfs_server_enable: false\nnfs_server_is_default_class: false\n"


def vars_with(extra, base=SEED_VARS_YML):
    return base + extra


def assert_on_key(problem, vars_text, key, line_text=None):
    assert problem.key == key
    assert problem.path.endswith("vars.yml")
    expected_line = line_number(vars_text, line_text) if line_text else None
    assert problem.line == expected_line
    assert problem.fix


# --- addresses ---------------------------------------------------------------


@pytest.mark.parametrize(
    "ip, key",
    [("10.233.0.5", "kube_service_addresses"), ("10.233.100.7", "kube_pods_subnet")],
)
def test_host_ip_inside_a_cluster_range(check, ip, key):
    text = SEED_HOSTS_INI.replace("ip=192.168.0.2", f"ip={ip}")
    problem = only(check(text), "lies inside")

    assert problem.message.startswith(f"ip {ip} of host 'node1' lies inside {key}")
    assert problem.path.endswith("hosts.ini")
    assert problem.line == 3
    assert f"move {key}" in problem.fix


def test_host_ip_from_ansible_host_inside_a_range(check):
    text = SEED_HOSTS_INI.replace("ansible_host=192.168.0.2  ip=192.168.0.2", "ansible_host=10.233.70.2")
    assert only(check(text), "lies inside kube_pods_subnet").line == 3


def test_moving_the_ranges_away_from_the_hosts_passes(check):
    text = SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=10.233.0.5")
    vars_text = vars_with("kube_service_addresses: 172.30.0.0/18\nkube_pods_subnet: 172.30.64.0/18\n")
    assert check(text, vars_text).errors == []


@pytest.mark.parametrize("value", ["10.233.0.0", "10.233.0.0/33", "nonsense", "10.233/18", "'300.1.1.0/24'"])
@pytest.mark.parametrize("key", ["kube_service_addresses", "kube_pods_subnet"])
def test_invalid_cidr(check, key, value):
    line = f"{key}: {value}"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "is not a network in CIDR form")

    assert problem.message.startswith(f"{key} ")
    assert_on_key(problem, vars_text, key, line)
    assert "write it like 10.233." in problem.fix


@pytest.mark.parametrize("key, value, network", [
    ("kube_service_addresses", "10.233.0.1/18", "10.233.0.0/18"),
    ("kube_pods_subnet", "10.233.65.0/18", "10.233.64.0/18"),
])
def test_cidr_with_host_bits(check, key, value, network):
    line = f"{key}: {value}"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "has host bits set")

    assert_on_key(problem, vars_text, key, line)
    assert problem.fix == f"write the network address: {network}"


@pytest.mark.parametrize("pods", ["10.233.0.0/17", "10.233.32.0/19", "10.0.0.0/8"])
def test_overlapping_ranges(check, pods):
    line = f"kube_pods_subnet: {pods}"
    vars_text = vars_with(line + "\nkube_network_node_prefix: 24\n")
    problem = only(check(vars_text=vars_text), "overlap")

    assert problem.message == f"kube_service_addresses 10.233.0.0/18 and kube_pods_subnet {pods} overlap"
    assert_on_key(problem, vars_text, "kube_pods_subnet", line)


def test_adjacent_ranges_pass(check):
    vars_text = vars_with("kube_service_addresses: 10.233.0.0/18\nkube_pods_subnet: 10.233.64.0/18\n")
    assert check(vars_text=vars_text).errors == []


@pytest.mark.parametrize("service", ["10.0.0.0/11", "10.0.0.0/8"])
def test_service_range_larger_than_12(check, service):
    line = f"kube_service_addresses: {service}"
    vars_text = vars_with(line + "\nkube_pods_subnet: 172.16.0.0/16\n")
    problem = only(check(vars_text=vars_text), "larger than kube-apiserver accepts")

    assert_on_key(problem, vars_text, "kube_service_addresses", line)
    assert problem.fix == "use a /12 or smaller range"


def test_service_range_of_12_passes(check):
    vars_text = vars_with("kube_service_addresses: 10.0.0.0/12\nkube_pods_subnet: 172.16.0.0/16\n")
    assert check(vars_text=vars_text).errors == []


@pytest.mark.parametrize("prefix", [18, 17, 31, 32])
def test_node_prefix_must_fit_in_the_pod_range(check, prefix):
    line = f"kube_network_node_prefix: {prefix}"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "does not fit inside kube_pods_subnet")

    assert problem.message == f"kube_network_node_prefix /{prefix} does not fit inside kube_pods_subnet 10.233.64.0/18"
    assert_on_key(problem, vars_text, "kube_network_node_prefix", line)
    assert problem.fix == "choose a prefix between /19 and /30"


@pytest.mark.parametrize("prefix", [20, 26, 30])
def test_node_prefix_inside_the_pod_range_passes(check, prefix):
    assert check(vars_text=vars_with(f"kube_network_node_prefix: {prefix}\n")).errors == []


def test_too_many_nodes_for_the_pod_range(check):
    line = "kube_pods_subnet: 10.233.64.0/23"
    vars_text = vars_with(line + "\nkube_network_node_prefix: 24\n")
    problem = only(check(vars_text=vars_text), "holds 2 nodes, the inventory has 3")

    assert problem.key == "kube_network_node_prefix"
    assert problem.line == line_number(vars_text, "kube_network_node_prefix: 24")
    assert "widen kube_pods_subnet" in problem.fix


def test_pod_range_with_room_for_every_node_passes(check):
    vars_text = vars_with("kube_pods_subnet: 10.233.64.0/22\nkube_network_node_prefix: 24\n")
    assert check(vars_text=vars_text).errors == []


# --- choices -------------------------------------------------------------------


@pytest.mark.parametrize("key, value, choices", [
    ("kube_network_plugin", "flannel", "calico, bridge"),
    ("kube_network_plugin", "Calico", "calico, bridge"),
    ("kube_proxy_mode", "nftables", "iptables, ipvs"),
    ("kube_proxy_mode", "userspace", "iptables, ipvs"),
    ("containerd_cgroup_driver", "systemd.slice", "systemd, cgroupfs"),
])
def test_unsupported_choice(check, key, value, choices):
    line = f"{key}: {value}"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "is not supported")

    assert problem.message == f"{key} {value!r} is not supported"
    assert_on_key(problem, vars_text, key, line)
    assert problem.fix == f"use one of: {choices}"


@pytest.mark.parametrize("line", [
    "kube_network_plugin: calico", "kube_network_plugin: bridge",
    "kube_proxy_mode: iptables", "kube_proxy_mode: ipvs",
    "containerd_cgroup_driver: systemd", "containerd_cgroup_driver: cgroupfs",
])
def test_supported_choice_passes(check, line):
    assert check(vars_text=vars_with(line + "\n")).errors == []


@pytest.mark.parametrize("version", ["1.20.2", "v1.20", "v1.20.2-rc.0", "latest", "v1.20.x"])
def test_bad_kube_version(check, version):
    line = f"kube_version: {version}"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "is not a release version")

    assert_on_key(problem, vars_text, "kube_version", line)
    assert problem.fix == "write it like v1.20.2"


@pytest.mark.parametrize("version", ["v1.20.2", "v1.28.15"])
def test_release_kube_version_passes(check, version):
    assert check(vars_text=vars_with(f"kube_version: {version}\n")).errors == []


@pytest.mark.parametrize("port", [80, 29999, 32768, 0])
def test_console_nodeport_outside_the_nodeport_range(check, port):
    line = f"ks_console_nodeport: {port}"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "outside the NodePort range 30000-32767")

    assert problem.message.startswith(f"ks_console_nodeport {port} ")
    assert_on_key(problem, vars_text, "ks_console_nodeport", line)
    assert "32130" in problem.fix


@pytest.mark.parametrize("port", [30000, 32130, 32767])
def test_console_nodeport_inside_the_range_passes(check, port):
    assert check(vars_text=vars_with(f"ks_console_nodeport: {port}\n")).errors == []


@pytest.mark.parametrize("port", [0, 65536])
def test_apiserver_port_out_of_range(check, port):
    line = f"kube_apiserver_port: {port}"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "kube_apiserver_port is not between 1 and 65535")
    assert_on_key(problem, vars_text, "kube_apiserver_port", line)


@pytest.mark.parametrize("key", ["preflight_min_cpu_cores", "preflight_min_memory_gb", "preflight_min_disk_gb"])
def test_negative_preflight_threshold(check, key):
    line = f"{key}: -1"
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), "cannot be negative")

    assert problem.message == f"{key} cannot be negative"
    assert_on_key(problem, vars_text, key, line)
    assert check(vars_text=vars_with(f"{key}: 0\n")).errors == []


# --- storage classes -------------------------------------------------------------

ONE_HOST = """\
[all]
aio ansible_connection=local ip=192.168.0.1

[kube-master]
aio

[kube-node]
aio

[etcd]
aio
"""
LOCAL_VOLUME = NFS_SERVER_OFF + "local_volume_provisioner_enabled: true\nlocal_volume_is_default_class: true\n"


def test_local_volume_with_more_than_one_cluster_host(check):
    problem = only(check(vars_text=LOCAL_VOLUME), "local volume storage works on all-in-one only")

    assert "the inventory has 3 cluster hosts" in problem.message
    assert_on_key(problem, LOCAL_VOLUME, "local_volume_provisioner_enabled", "local_volume_provisioner_enabled: true")
    assert "local_volume_provisioner_enabled: false" in problem.fix


def test_local_volume_counts_cluster_members_not_spare_hosts(check):
    text = ONE_HOST.replace("local ip=192.168.0.1\n", "local ip=192.168.0.1\nspare ip=192.168.0.9\n")
    problems = check(text, LOCAL_VOLUME)
    assert problems.errors == []
    assert [w for w in problems.warnings if "'spare'" in w.message]


def test_local_volume_on_one_host_passes(check):
    assert list(check(ONE_HOST, LOCAL_VOLUME)) == []


@pytest.mark.parametrize("vars_text", [
    "",
    NFS_SERVER_OFF,
    "nfs_server_enable: true\n",
    "local_volume_provisioner_enabled: false\n",
])
def test_no_default_storage_class(check, vars_text):
    problem = only(check(vars_text=vars_text), "no default storage class")

    assert problem.key == "*_is_default_class"
    assert problem.line is None
    assert "nfs_server_is_default_class: true" in problem.fix


def test_two_default_storage_classes(check):
    vars_text = vars_with(
        "nfs_client_enable: true\nnfs_client_is_default_class: true\n"
        "nfs_server: 192.168.0.10\nnfs_path: /srv/nfs\n"
    )
    problem = only(check(vars_text=vars_text), "storage classes are marked default")

    assert problem.message == ("2 storage classes are marked default "
                               "(nfs_server_is_default_class, nfs_client_is_default_class)")
    assert_on_key(problem, vars_text, "nfs_client_is_default_class", "nfs_client_is_default_class: true")
    assert problem.fix == "keep *_is_default_class: true on exactly one"


def test_two_enabled_classes_with_one_default_pass(check):
    vars_text = vars_with(
        "nfs_client_enable: true\nnfs_client_is_default_class: false\n"
        "nfs_server: 192.168.0.10\nnfs_path: /srv/nfs\n"
    )
    assert check(vars_text=vars_text).errors == []


@pytest.mark.parametrize("default_key, enable_key", [
    ("ceph_rbd_is_default_class", "ceph_rbd_enabled"),
    ("glusterfs_provisioner_is_default_class", "glusterfs_provisioner_enabled"),
    ("qingcloud_csi_is_default_class", "qingcloud_csi_enabled"),
    ("neonsan_csi_is_default_class", "neonsan_csi_enabled"),
    ("local_volume_is_default_class", "local_volume_provisioner_enabled"),
    ("nfs_client_is_default_class", "nfs_client_enable"),
])
def test_default_class_that_is_not_enabled(check, default_key, enable_key):
    line = f"{default_key}: true"
    vars_text = vars_with(line + "\n", base=SEED_VARS_YML.replace(f"{default_key}: false\n", ""))
    problem = only(check(vars_text=vars_text), "is true but")

    assert problem.message.startswith(f"{default_key} is true but ")
    assert problem.message.endswith(" is not enabled")
    assert_on_key(problem, vars_text, default_key, line)
    assert problem.fix == f"set {enable_key}: true, or {default_key}: false"


# Each class enabled as the only default, with every required key set.
STORAGE = {
    "nfs client": (
        "nfs_client_enable: true\nnfs_client_is_default_class: true\n",
        {"nfs_server": "192.168.0.10", "nfs_path": "/srv/nfs/kubesphere"},
    ),
    "ceph rbd": (
        "ceph_rbd_enabled: true\nceph_rbd_is_default_class: true\n",
        {"ceph_rbd_monitors": "[192.168.0.20:6789]", "ceph_rbd_admin_secret": "AQBadmin==",
         "ceph_rbd_user_secret": "AQBuser==", "ceph_rbd_pool": "kube"},
    ),
    "glusterfs": (
        "glusterfs_provisioner_enabled: true\nglusterfs_provisioner_is_default_class: true\n"
        "glusterfs_provisioner_restauthenabled: false\n",
        {"glusterfs_provisioner_resturl": "http://192.168.0.4:8080",
         "glusterfs_provisioner_clusterid": "b9a8c3b4e5f6"},
    ),
    "qingcloud": (
        "qingcloud_csi_enabled: true\nqingcloud_csi_is_default_class: true\n",
        {"qingcloud_access_key_id": "QYACCESSKEY", "qingcloud_secret_access_key": "secretvalue",
         "qingcloud_zone": "pek3a"},
    ),
    "neonsan": (
        "neonsan_csi_enabled: true\nneonsan_csi_is_default_class: true\n",
        {"neonsan_server_address": "192.168.0.30:9999", "neonsan_cluster_name": "neonsan"},
    ),
}
PLACEHOLDER_VALUES = {
    "nfs_server": "SHOULD_BE_REPLACED",
    "nfs_path": "SHOULD_BE_REPLACED",
    "ceph_rbd_monitors": "[IP:PORT]",
    "ceph_rbd_admin_secret": "TYPE_ADMIN_ACCOUNT_HERE",
    "ceph_rbd_user_secret": "TYPE_ADMIN_SECRET_HERE",
    "ceph_rbd_pool": "SHOULD_BE_REPLACED",
    "glusterfs_provisioner_resturl": "SHOULD_BE_REPLACED",
    "glusterfs_provisioner_clusterid": "SHOULD_BE_REPLACED",
    "qingcloud_access_key_id": "ACCESS_KEY_ID",
    "qingcloud_secret_access_key": "ACCESS_KEY_SECRET",
    "qingcloud_zone": "ZONE",
    "neonsan_server_address": "IP:PORT",
    "neonsan_cluster_name": "CLUSTER_NAME",
}


def storage_vars(name, values):
    enable, _ = STORAGE[name]
    return NFS_SERVER_OFF + enable + "".join(f"{key}: {value}\n" for key, value in values.items())


@pytest.mark.parametrize("name", sorted(STORAGE))
def test_storage_class_with_every_required_key_passes(check, name):
    assert check(vars_text=storage_vars(name, STORAGE[name][1])).errors == []


@pytest.mark.parametrize("name, missing", [(n, k) for n in sorted(STORAGE) for k in STORAGE[n][1]])
def test_storage_class_missing_a_required_key(check, name, missing):
    values = dict(STORAGE[name][1])
    del values[missing]
    if missing == "ceph_rbd_pool":
        values[missing] = '""'  # it has a default; only an empty value unsets it
    vars_text = storage_vars(name, values)
    problem = only(check(vars_text=vars_text), f"but {missing} is not set")

    assert problem.key == missing
    assert problem.line == (line_number(vars_text, 'ceph_rbd_pool: ""') if missing == "ceph_rbd_pool" else None)
    assert problem.fix == f"set {missing} in vars.yml"


@pytest.mark.parametrize("name", sorted(STORAGE))
def test_storage_class_with_nothing_set_lists_every_missing_key(check, name):
    vars_text = storage_vars(name, {"ceph_rbd_pool": '""'} if name == "ceph rbd" else {})
    problems = check(vars_text=vars_text)

    missing = {p.key for p in matching(problems, "is not set")}
    assert missing == set(STORAGE[name][1])


@pytest.mark.parametrize("name, key", [(n, k) for n in sorted(STORAGE) for k in STORAGE[n][1]])
def test_placeholder_counts_as_missing(check, name, key):
    values = dict(STORAGE[name][1], **{key: PLACEHOLDER_VALUES[key]})
    vars_text = storage_vars(name, values)
    problem = only(check(vars_text=vars_text), f"but {key} is not set")

    assert problem.key == key
    assert problem.line == line_number(vars_text, f"{key}: {PLACEHOLDER_VALUES[key]}")


def test_storage_keys_are_not_required_while_the_class_is_disabled(check):
    assert check(vars_text=vars_with("nfs_server: SHOULD_BE_REPLACED\nceph_rbd_monitors: []\n")).errors == []


@pytest.mark.parametrize("path", ["srv/nfs", "./srv/nfs", "~/nfs"])
def test_nfs_path_must_be_absolute(check, path):
    values = dict(STORAGE["nfs client"][1], nfs_path=path)
    vars_text = storage_vars("nfs client", values)
    problem = only(check(vars_text=vars_text), "is not an absolute path")

    assert_on_key(problem, vars_text, "nfs_path", f"nfs_path: {path}")
    assert "nfs_path: /srv/nfs/kubesphere" in problem.fix


@pytest.mark.parametrize("server", ["nfs_server_1", "'nfs server'", "192.168.0.10/24"])
def test_nfs_server_must_be_an_address_or_name(check, server):
    values = dict(STORAGE["nfs client"][1], nfs_server=server)
    vars_text = storage_vars("nfs client", values)
    problem = only(check(vars_text=vars_text), "is neither an address nor a DNS name")
    assert_on_key(problem, vars_text, "nfs_server", f"nfs_server: {server}")


@pytest.mark.parametrize("server", ["nfs.example.com", "192.168.0.10", "NFS1"])
def test_nfs_server_address_or_name_passes(check, server):
    values = dict(STORAGE["nfs client"][1], nfs_server=server)
    assert check(vars_text=storage_vars("nfs client", values)).errors == []


@pytest.mark.parametrize("monitor", ["192.168.0.20", "192.168.0.20:mon", "192.168.0.20:70000", ":6789",
                                     "192.168.0.20:0"])
def test_ceph_monitor_must_be_host_port(check, monitor):
    values = dict(STORAGE["ceph rbd"][1], ceph_rbd_monitors=f"['192.168.0.21:6789', '{monitor}']")
    vars_text = storage_vars("ceph rbd", values)
    problem = only(check(vars_text=vars_text), "is not host:port")

    assert problem.message == f"ceph_rbd_monitors entry {monitor!r} is not host:port"
    assert_on_key(problem, vars_text, "ceph_rbd_monitors",
                  f"ceph_rbd_monitors: ['192.168.0.21:6789', '{monitor}']")


@pytest.mark.parametrize("monitors", ["[ceph-mon1:6789, 192.168.0.21:3300]", "192.168.0.20:6789"])
def test_ceph_monitors_as_host_port_pass(check, monitors):
    values = dict(STORAGE["ceph rbd"][1], ceph_rbd_monitors=monitors)
    assert check(vars_text=storage_vars("ceph rbd", values)).errors == []


@pytest.mark.parametrize("url", ["192.168.0.4:8080", "ftp://192.168.0.4", "heketi:8080", "//heketi:8080"])
def test_glusterfs_resturl_must_be_http(check, url):
    values = dict(STORAGE["glusterfs"][1], glusterfs_provisioner_resturl=url)
    vars_text = storage_vars("glusterfs", values)
    problem = only(check(vars_text=vars_text), "is not an http(s) URL")

    assert_on_key(problem, vars_text, "glusterfs_provisioner_resturl", f"glusterfs_provisioner_resturl: {url}")
    assert "http://" in problem.fix


@pytest.mark.parametrize("url", ["http://192.168.0.4:8080", "https://heketi.example.com"])
def test_glusterfs_http_resturl_passes(check, url):
    values = dict(STORAGE["glusterfs"][1], glusterfs_provisioner_resturl=url)
    assert check(vars_text=storage_vars("glusterfs", values)).errors == []


GLUSTER_AUTH = STORAGE["glusterfs"][0].replace("restauthenabled: false", "restauthenabled: true")


def test_glusterfs_rest_auth_needs_jwt_admin_key(check):
    vars_text = NFS_SERVER_OFF + GLUSTER_AUTH + "".join(f"{k}: {v}\n" for k, v in STORAGE["glusterfs"][1].items())
    problem = only(check(vars_text=vars_text), "jwt_admin_key is not set")

    assert problem.message == "glusterfs_provisioner_restauthenabled is true but jwt_admin_key is not set"
    assert problem.key == "jwt_admin_key" and problem.line is None
    assert "heketi's admin key" in problem.fix

    placeholder = vars_text + "jwt_admin_key: SHOULD_BE_REPLACED\n"
    assert only(check(vars_text=placeholder), "jwt_admin_key is not set").line == line_number(
        placeholder, "jwt_admin_key: SHOULD_BE_REPLACED")


def test_glusterfs_rest_auth_with_jwt_admin_key_passes(check):
    vars_text = NFS_SERVER_OFF + GLUSTER_AUTH + "".join(f"{k}: {v}\n" for k, v in STORAGE["glusterfs"][1].items())
    assert check(vars_text=vars_text + "jwt_admin_key: s3cr3t\n").errors == []


def test_config_problems_skip_the_cross_checks(check):
    text = hosts_ini(lines=("master ansible_connection=local ip=10.233.0.9",
                            "node1 ip=192.168.0.2", "node2 ip=192.168.0.3"))
    problems = check(text, vars_with("kube_network_plugin: [calico]\n"))

    assert [p.key for p in problems.errors] == ["kube_network_plugin"]


@pytest.mark.parametrize("text,key", [
    ('kube_control_plane_endpoint: "lb.example.com"\n', "kube_control_plane_endpoint"),
    ("kube_apiserver_lb_port: 6443\n", "kube_apiserver_lb_port"),
    ("artifact_port: 70000\n", "artifact_port"),
    ("kube_wait_seconds: 1\n", "kube_wait_seconds"),
])
def test_kubernetes_settings_are_checked(check, text, key):
    problems = check(vars_text=SEED_VARS_YML + text)
    assert [p.key for p in problems.errors] == [key]


def test_an_external_endpoint_with_a_port_is_accepted(check):
    assert not check(vars_text=SEED_VARS_YML + 'kube_control_plane_endpoint: "10.0.0.9:6443"\n').errors


# --- kube-proxy and kubeadm preflight --------------------------------------------


@pytest.mark.parametrize("line, key, words", [
    ("kube_proxy_conntrack_max_per_core: -1", "kube_proxy_conntrack_max_per_core", "cannot be negative"),
    ("kube_proxy_conntrack_min: -5", "kube_proxy_conntrack_min", "cannot be negative"),
    ("kube_proxy_conntrack_tcp_established_timeout: 1 day", "kube_proxy_conntrack_tcp_established_timeout",
     "is not a duration"),
    ("kube_proxy_conntrack_tcp_close_wait_timeout: 60", "kube_proxy_conntrack_tcp_close_wait_timeout",
     "is not a duration"),
    ("kube_proxy_oom_score_adj: -1001", "kube_proxy_oom_score_adj", "outside -1000..1000"),
    ("kube_proxy_oom_score_adj: 1001", "kube_proxy_oom_score_adj", "outside -1000..1000"),
    ("kube_proxy_oom_score_adj: low", "kube_proxy_oom_score_adj", "must be a whole number"),
    ("kube_proxy_conntrack_max_per_core: yes", "kube_proxy_conntrack_max_per_core", "must be a whole number"),
    ("kubeadm_ignore_preflight_errors: [all, Swap]", "kubeadm_ignore_preflight_errors", "'all' ignores every check"),
    ("kubeadm_ignore_preflight_errors: ['Port 10250']", "kubeadm_ignore_preflight_errors",
     "is not the name of a kubeadm preflight check"),
])
def test_kube_proxy_and_preflight_settings_are_checked(check, line, key, words):
    vars_text = vars_with(line + "\n")
    problem = only(check(vars_text=vars_text), words)
    assert problem.message.startswith(key)
    assert_on_key(problem, vars_text, key, line)


@pytest.mark.parametrize("text", [
    "kube_proxy_conntrack_max_per_core: 0\nkube_proxy_conntrack_min: 0\n",
    "kube_proxy_conntrack_tcp_established_timeout: 0s\nkube_proxy_conntrack_tcp_close_wait_timeout: 0\n",
    "kube_proxy_conntrack_tcp_established_timeout: 12h\nkube_proxy_conntrack_tcp_close_wait_timeout: 1h30m\n",
    "kube_proxy_oom_score_adj: 0\n",
    "kube_proxy_oom_score_adj: -1000\n",
    "kubeadm_ignore_preflight_errors: [SystemVerification, Port-10250]\n",
    "kubeadm_ignore_preflight_errors: SystemVerification\n",
    "kubeadm_ignore_preflight_errors: [all]\n",
    "kubeadm_ignore_preflight_errors: [FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]\n",
])
def test_valid_kube_proxy_and_preflight_settings_pass(check, text):
    assert check(vars_text=vars_with(text)).errors == []


def test_defaults_are_upstream_kube_proxy_and_every_kubeadm_check():
    from saltsphere import config

    defaults = config.defaults()
    assert defaults["kube_proxy_conntrack_max_per_core"] == 32768
    assert defaults["kube_proxy_conntrack_min"] == 131072
    assert defaults["kube_proxy_conntrack_tcp_established_timeout"] == "24h0m0s"
    assert defaults["kube_proxy_conntrack_tcp_close_wait_timeout"] == "1h0m0s"
    assert defaults["kube_proxy_oom_score_adj"] == -999
    assert defaults["kubeadm_ignore_preflight_errors"] == []
    assert defaults["containerd_restrict_oom_score_adj"] is False


# --- a vars.yml that holds credentials -------------------------------------------

SECRETS_TEXT = vars_with("ks_admin_password: Admin-Pw-77\njwt_admin_key: Jwt-Key-77\nceph_rbd_user_secret: ''\n")


@pytest.fixture
def check_vars_mode(write_cluster):
    def run(vars_text, mode):
        path = write_cluster(SEED_HOSTS_INI, vars_text)
        vars_yml = path.parent / "vars.yml"
        vars_yml.chmod(mode)
        from saltsphere import cluster

        _, _, problems = cluster.check(str(path))
        return vars_yml, problems

    return run


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_vars_yml_with_credentials_readable_by_others_is_a_warning(check_vars_mode, mode):
    path, problems = check_vars_mode(SECRETS_TEXT, mode)

    assert problems.errors == []
    [warning] = [w for w in problems.warnings if w.path == str(path)]
    # names only, sorted, and only the keys that hold a value
    assert warning.message == "holds credentials (jwt_admin_key, ks_admin_password) and is readable by other users"
    assert warning.fix == f"chmod 600 {path}"
    assert "Admin-Pw-77" not in str(warning) and "Jwt-Key-77" not in str(warning)


@pytest.mark.parametrize("text, mode", [
    (SECRETS_TEXT, 0o600),
    (SECRETS_TEXT, 0o400),
    (SEED_VARS_YML, 0o644),
    (vars_with("ks_admin_password: ''\nceph_rbd_admin_secret: SHOULD_BE_REPLACED\n"), 0o644),
])
def test_private_vars_yml_or_one_without_credentials_gives_no_warning(check_vars_mode, text, mode):
    path, problems = check_vars_mode(text, mode)
    assert [w for w in problems.warnings if w.path == str(path)] == []
