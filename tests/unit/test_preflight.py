"""Preflight: the host module's readers of /proc, and the taskbox's judgement of facts against thresholds and each other."""

import importlib.util
import socket
import threading

import pytest

from saltsphere.artifacts import manifest as mf
from saltsphere import cluster, preflight
from saltsphere.preflight import FAIL, OK, SKIP, WARN, Answer

from sample_inputs import ROOT, SEED_HOSTS_INI, SEED_VARS_YML

spec = importlib.util.spec_from_file_location(
    "saltsphere_preflight_module", ROOT / "extension_modules" / "modules" / "saltsphere_preflight.py")
host_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(host_module)

# /proc/net/tcp of a little-endian host: sshd on 0.0.0.0:22, something on 127.0.0.1:6443,
# an established connection (not a listener) from port 2379.
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1065 1 0000000000000000 100 0 0 10 0
   1: 0100007F:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4798165 1 0000000000000000 100 0 0 10 0
   2: 0B011DAC:094B 0C011DAC:D19F 01 00000000:00000000 00:00000000 00000000     0        0 4798170 1 0000000000000000 20 4 30 10 -1
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:094B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4798166 1 0000000000000000 100 0 0 10 0
   1: 000080FE00000000FF0300AA01EFCDAB:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0
"""
FIB_TRIE = """\
Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 172.29.1.0/24 2 0 2
        |-- 172.29.1.0
           /24 link UNICAST
        |-- 172.29.1.11
           /32 host LOCAL
        |-- 172.29.1.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
        |-- 172.29.1.11
           /32 host LOCAL
        |-- 10.0.0.5
           /32 host LOCAL
"""
IF_INET6 = """\
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
fd000000000000000000000000000002 04 40 00 82     eth0
00000000000000000000000000000001 01 80 10 80       lo
"""


# --- the host module -----------------------------------------------------------


def test_listening_sockets_are_decoded_from_proc_net_tcp():
    assert host_module.parse_listening(PROC_NET_TCP, "little") == [("0.0.0.0", 22, 1065), ("127.0.0.1", 6443, 4798165)]


def test_listening_ipv6_sockets_are_decoded_word_by_word():
    assert host_module.parse_listening(PROC_NET_TCP6, "little") == [
        ("::", 2379, 4798166), ("fe80::aa00:3ff:abcd:ef01", 80, 77)]


def test_big_endian_hosts_keep_the_byte_order():
    assert host_module.decode_address("7F000001", "big") == "127.0.0.1"


def test_local_ipv4_addresses_come_from_fib_trie_once_each():
    assert host_module.parse_fib_trie(FIB_TRIE) == ["10.0.0.5", "127.0.0.1", "172.29.1.11"]


def test_ipv6_addresses_come_with_their_interface():
    assert host_module.parse_if_inet6(IF_INET6) == [("eth0", "fe80::fc:ff:fe00:1"), ("eth0", "fd00::2"), ("lo", "::1")]


def test_swaps_and_os_release_are_parsed():
    swaps = "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 2097148 0 -2\n"
    assert host_module.parse_swaps(swaps) == [{"device": "/dev/sda2", "size_kb": 2097148}]
    assert host_module.parse_swaps("Filename\tType\tSize\tUsed\tPriority\n") == []
    release = 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\n# comment\nPRETTY_NAME=\'Ubuntu 22.04.4 LTS\'\n'
    assert host_module.parse_os_release(release) == {
        "NAME": "Ubuntu", "VERSION_ID": "22.04", "ID": "ubuntu", "PRETTY_NAME": "Ubuntu 22.04.4 LTS"}


def test_facts_name_the_process_holding_a_port():
    host_module.__pillar__ = {}
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        facts = host_module.facts(commands=["sh", "no-such-command"], kernel_modules=[], sysctls=[], ports=[port])
    assert facts["listening"][str(port)][0]["address"] == "127.0.0.1"
    assert facts["listening"][str(port)][0]["process"]
    assert facts["commands"]["sh"] and facts["commands"]["no-such-command"] is None
    assert facts["cpu_count"] >= 1 and facts["memory_bytes"] > 0 and facts["disks"]["/"]["free_bytes"] > 0


def test_reach_tells_open_refused_and_skips_itself_and_ports_for_other_roles():
    host_module.__opts__ = {"id": "node1"}
    with socket.socket() as server, socket.socket() as closed:
        server.bind(("127.0.0.1", 0))
        server.listen()
        closed.bind(("127.0.0.1", 0))
        open_port, closed_port = server.getsockname()[1], closed.getsockname()[1]
        targets = [
            {"name": "node1", "ip": "127.0.0.9", "roles": ["kube-node"], "ports": [{"port": 22}]},
            {"name": "master", "ip": "127.0.0.1", "roles": ["kube-master", "etcd"],
             "ports": [{"port": open_port}, {"port": closed_port}, {"port": 2380, "from": ["etcd"]}]},
        ]
        result = host_module.reach(targets, timeout=2)
    assert result == {"master": {"ip": "127.0.0.1", "ports": {
        str(open_port): {"result": "open"}, str(closed_port): {"result": "refused"}}}}


# --- the taskbox's judgement ---------------------------------------------------


KUBE_IMAGES = tuple(f"k8s.gcr.io/{name}:v1.20.2" for name in
                    ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")) + ("k8s.gcr.io/pause:3.2",)


def make_bundle(directory, refs=KUBE_IMAGES, binaries=("kubeadm", "kubelet", "kubectl"), kube_version="v1.20.2"):
    entries = []
    for name in binaries:
        (directory / "bin").mkdir(parents=True, exist_ok=True)
        (directory / "bin" / name).write_text(name)
        entries.append(mf.entry_for(directory, f"bin/{name}", name=name, version=kube_version, arch="amd64",
                                    kind="binary"))
    for index, ref in enumerate(refs):
        (directory / "images").mkdir(parents=True, exist_ok=True)
        (directory / "images" / f"{index}.tar").write_text(ref)
        entries.append(mf.entry_for(directory, f"images/{index}.tar", name=str(index), version="1", arch="amd64",
                                    kind="image", ref=ref))
    mf.write_manifest(directory, entries, kube_version=kube_version, arch="amd64", distributions=["debian-12"])
    return directory


@pytest.fixture
def loaded(write_cluster, tmp_path):
    """The seed's three-host cluster with thresholds lowered as the sandbox's are, and a complete bundle."""
    bundle = make_bundle(tmp_path / "bundle")
    vars_yml = SEED_VARS_YML + "preflight_min_cpu_cores: 2\npreflight_min_memory_gb: 4\npreflight_min_disk_gb: 20\n" \
        f"kube_network_plugin: bridge\nartifact_bundle: {bundle}\n"
    return cluster.load(write_cluster(SEED_HOSTS_INI, vars_yml))


def _bundle_row(write_cluster, tmp_path, extra):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + extra))
    return preflight.check_bundle(loaded)


def test_a_complete_bundle_passes(write_cluster, tmp_path):
    bundle = make_bundle(tmp_path / "b")
    row = _bundle_row(write_cluster, tmp_path, f"kube_network_plugin: bridge\nartifact_bundle: {bundle}\n")
    assert row.status == preflight.OK and row.host == preflight.TASKBOX


@pytest.mark.parametrize("make,extra,detail", [
    (lambda d: d, "", "no manifest"),
    (lambda d: make_bundle(d, kube_version="v1.21.0"), "", "holds Kubernetes v1.21.0, vars.yml asks for v1.20.2"),
    (lambda d: make_bundle(d, binaries=("kubeadm", "kubectl")), "", "lacks bin/kubelet"),
    (lambda d: make_bundle(d, refs=KUBE_IMAGES[1:]), "", "lacks k8s.gcr.io/kube-apiserver:v1.20.2"),
])
def test_a_bundle_that_cannot_serve_the_install_fails_with_the_fix(write_cluster, tmp_path, make, extra, detail):
    directory = tmp_path / "b"
    directory.mkdir()
    make(directory)
    row = _bundle_row(write_cluster, tmp_path, f"kube_network_plugin: bridge\nartifact_bundle: {directory}\n")
    assert row.status == preflight.FAIL and detail in row.detail, row
    assert "saltsphere artifact" in row.fix or "kube_version" in row.fix


def test_calico_without_its_images_is_caught_before_any_host_is_touched(write_cluster, tmp_path):
    bundle = make_bundle(tmp_path / "b")
    row = _bundle_row(write_cluster, tmp_path, f"artifact_bundle: {bundle}\n")  # calico: the default
    assert row.status == preflight.FAIL and "docker.io/calico/node:v3.17.6" in row.detail
    assert "kube_network_plugin: bridge" in row.fix


def test_a_bundle_with_every_calico_image_passes(write_cluster, tmp_path):
    refs = KUBE_IMAGES + tuple(f"calico/{name}:v3.17.6" for name in ("cni", "node", "kube-controllers",
                                                                      "pod2daemon-flexvol"))
    row = _bundle_row(write_cluster, tmp_path, f"artifact_bundle: {make_bundle(tmp_path / 'b', refs)}\n")
    assert row.status == preflight.OK


def test_calico_on_a_minor_whose_objects_are_not_built_says_to_use_the_bridge(write_cluster, tmp_path):
    bundle = make_bundle(tmp_path / "b", kube_version="v1.28.4")
    row = _bundle_row(write_cluster, tmp_path, f"kube_version: v1.28.4\nartifact_bundle: {bundle}\n")
    assert row.status == preflight.FAIL
    assert row.detail == "saltsphere installs calico with Kubernetes 1.20 only, and kube_version is v1.28.4"
    assert row.fix == "set kube_network_plugin: bridge in vars.yml"


def test_a_truncated_bundle_file_is_named(write_cluster, tmp_path):
    bundle = make_bundle(tmp_path / "b")
    (bundle / "bin" / "kubelet").write_text("k")
    row = _bundle_row(write_cluster, tmp_path, f"kube_network_plugin: bridge\nartifact_bundle: {bundle}\n")
    assert row.status == preflight.FAIL and "bin/kubelet" in row.detail and "artifact verify" in row.fix


def good_facts(name, ip, index):
    return {
        "os": {"id": "debian", "version_id": "12", "version": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
        "kernel": "6.1.0-18-amd64",
        "arch": "x86_64",
        "cpu_count": 4,
        "memory_bytes": 8 * 1024 ** 3,
        "disks": {"/": {"free_bytes": 50 * 10 ** 9, "device": 1}, "/var/lib": {"free_bytes": 50 * 10 ** 9, "device": 1}},
        "swaps": [],
        "commands": {c: f"/usr/sbin/{c}" for c in
                     ("ip", "modprobe", "mount", "iptables", "conntrack", "socat", "ipset", "ebtables")},
        "kernel_modules": {"br_netfilter": "loadable", "overlay": "loaded"},
        "sysctls": {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": None},
        "listening": {"22": [{"address": "0.0.0.0", "pid": 71, "process": "sshd"}]},
        "hostname": name,
        "addresses": [ip],
        "interfaces": {"eth0": {"mac": f"52:54:00:00:00:0{index}", "ipv4": [ip], "ipv6": [], "physical": True}},
        "product_uuid": f"uuid-{index}",
        "machine_id": f"machine-{index}",
        "time": 1000.0,
    }


@pytest.fixture
def answers(loaded):
    return {
        name: Answer(facts=good_facts(name, spec.ip, index), reach={}, started=999.5, received=1000.5, seconds=1.0)
        for index, (name, spec) in enumerate(loaded.hosts.items())
    }


def statuses(report, check):
    return {row.host: row.status for row in report.rows if row.check == check}


def row(report, host, check):
    return next(r for r in report.rows if r.host == host and r.check == check)


def test_good_hosts_pass_every_check(loaded, answers):
    report = preflight.evaluate(loaded, answers)
    assert report.passed, report.table()
    assert not report.warnings
    assert {r.check for r in report.rows} == set(preflight.CHECKS)
    assert report.as_dict()["retcode"] == 0


@pytest.mark.parametrize("field, value, check, words", [
    ("cpu_count", 1, "cpu", "1 CPU cores, fewer than the minimum 2"),
    ("memory_bytes", 3 * 10 ** 9, "memory", "3.0 GB of memory, less than the minimum 4 GB"),
    ("disks", {"/var/lib": {"free_bytes": 5 * 10 ** 9, "device": 1}}, "disk", "5.0 GB free, less than the minimum 20"),
    ("arch", "ppc64le", "arch", "ppc64le"),
    ("os", {"id": "ubuntu", "version_id": "14.04", "version": "14.04"}, "os", "Ubuntu 14.04 is not supported"),
    ("os", {"id": "arch", "version_id": "", "pretty_name": "Arch Linux"}, "os", "Arch Linux is not an OS"),
    ("commands", {"ip": None, "modprobe": "/sbin/modprobe", "mount": "/bin/mount", "iptables": "/sbin/iptables"},
     "commands", "missing: ip"),
    ("kernel_modules", {"br_netfilter": "missing", "overlay": "loaded"}, "modules", "has no br_netfilter"),
    ("hostname", "Node_1", "hostname", "not a lowercase RFC 1123 name"),
    ("addresses", ["10.9.9.9"], "ip", "is not an address of this host (its addresses: 10.9.9.9"),
])
def test_one_bad_fact_fails_its_check_with_a_fix(loaded, answers, field, value, check, words):
    answers["node1"].facts[field] = value
    if field == "addresses":
        answers["node1"].facts["interfaces"]["eth0"]["ipv4"] = value
    report = preflight.evaluate(loaded, answers)
    failed = row(report, "node1", check)
    assert failed.status == FAIL and words in failed.detail and failed.fix
    assert [r.host for r in report.failures] == ["node1"]
    assert report.as_dict()["retcode"] == 1


def test_a_threshold_from_vars_yml_is_the_one_applied(write_cluster, answers):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + "preflight_min_memory_gb: 64\n"))
    report = preflight.evaluate(loaded, answers)
    assert statuses(report, "memory") == {"master": FAIL, "node1": FAIL, "node2": FAIL}
    assert "lower preflight_min_memory_gb in vars.yml" in row(report, "master", "memory").fix


@pytest.mark.parametrize("os_id, version, status", [
    ("ubuntu", "24.04", WARN), ("ubuntu", "22.04", WARN), ("ubuntu", "20.04", WARN),
    ("ubuntu", "18.04", FAIL), ("ubuntu", "16.04", FAIL), ("ubuntu", "14.04", FAIL), ("ubuntu", "23.10", FAIL),
    ("debian", "12", OK), ("debian", "11", WARN), ("debian", "10", FAIL),
    ("rocky", "9.3", FAIL), ("almalinux", "8.9", FAIL), ("rhel", "9.4", FAIL), ("rhel", "8.10", FAIL),
    ("rhel", "7.4", FAIL), ("rhel", "7.9", FAIL), ("rhel", "7.3", FAIL),
    ("centos", "7.5.1804", FAIL), ("centos", "7", FAIL), ("centos", "7.4.1708", FAIL), ("centos", "8", FAIL),
    ("fedora", "40", FAIL),
])
def test_os_support_table(os_id, version, status):
    facts = {"id": os_id, "version_id": version if os_id == "ubuntu" else version.split(".")[0], "version": version}
    row = preflight.check_os("h", facts)
    assert row.status == status
    assert row.fix if status != OK else not row.fix


def test_only_the_release_ci_installs_is_supported():
    row = preflight.check_os("h", {"id": "debian", "version_id": "12", "version": "12",
                                   "pretty_name": "Debian GNU/Linux 12 (bookworm)"})
    assert (row.status, row.detail) == (OK, "Debian GNU/Linux 12 (bookworm): supported")
    assert preflight._supported_list(preflight.parameters()) == "Debian 12"


@pytest.mark.parametrize("os_id, version", [("ubuntu", "22.04"), ("ubuntu", "24.04"), ("debian", "11")])
def test_an_untested_release_warns_that_ci_installs_debian_12_only(os_id, version):
    row = preflight.check_os("h", {"id": os_id, "version_id": version, "version": version})
    assert row.status == WARN
    assert "untested: saltsphere's CI installs Debian 12 only" in row.detail
    assert "Debian 12" in row.fix


@pytest.mark.parametrize("os_id, version, reason", [
    ("rocky", "9", "no RedHat parameters for kubernetes"),
    ("almalinux", "8", "no RedHat parameters for kubernetes"),
    ("rhel", "7.9", "python3 is 3.6"),
    ("centos", "7.9.2009", "no RedHat parameters for kubernetes"),
    ("ubuntu", "18.04", "needs Python 3.8"),
])
def test_an_unsupported_release_fails_with_its_reason(os_id, version, reason):
    row = preflight.check_os("h", {"id": os_id, "version_id": version.split(".")[0], "version": version})
    assert row.status == FAIL and "is unsupported: " in row.detail and reason in row.detail
    assert "install Debian 12" in row.fix


def _os_answers(answers, os_facts):
    for answer in answers.values():
        answer.facts["os"] = dict(os_facts)
    return answers


UBUNTU_2204 = {"id": "ubuntu", "version_id": "22.04", "version": "22.04", "pretty_name": "Ubuntu 22.04.4 LTS"}


def test_an_untested_release_without_packages_in_the_bundle_fails_naming_it(loaded, answers):
    report = preflight.evaluate(loaded, _os_answers(answers, UBUNTU_2204))
    failed = row(report, "node1", "os")
    bundle = loaded.config["artifact_bundle"]
    assert failed.status == FAIL
    assert failed.detail == (f"Ubuntu 22.04.4 LTS: the bundle {bundle} has no packages for ubuntu-22.04 "
                             "(it carries debian-12)")
    assert "ubuntu-22.04" in failed.fix and bundle in failed.fix and "Debian 12" in failed.fix
    assert statuses(report, "os") == {"master": FAIL, "node1": FAIL, "node2": FAIL}


def test_an_untested_release_the_bundle_carries_is_a_warning_only(write_cluster, tmp_path, answers):
    bundle = make_bundle(tmp_path / "bundle")
    manifest = mf.read_manifest(bundle)
    mf.write_manifest(bundle, manifest.files, kube_version="v1.20.2", arch="amd64",
                      distributions=["debian-12", "ubuntu-22.04"])
    vars_yml = SEED_VARS_YML + "preflight_min_cpu_cores: 2\npreflight_min_memory_gb: 4\npreflight_min_disk_gb: 20\n" \
        f"kube_network_plugin: bridge\nartifact_bundle: {bundle}\n"
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, vars_yml))
    report = preflight.evaluate(loaded, _os_answers(answers, UBUNTU_2204))
    assert report.passed, report.table()
    assert {(r.host, r.check) for r in report.warnings} == {("master", "os"), ("node1", "os"), ("node2", "os")}
    assert "untested: saltsphere's CI installs Debian 12 only" in row(report, "node1", "os").detail


def test_even_debian_12_fails_when_the_bundle_has_no_packages_for_it(write_cluster, tmp_path, answers):
    bundle = make_bundle(tmp_path / "bundle")
    mf.write_manifest(bundle, mf.read_manifest(bundle).files, kube_version="v1.20.2", arch="amd64",
                      distributions=["ubuntu-22.04"])
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + f"kube_network_plugin: bridge\n"
                                        f"artifact_bundle: {bundle}\n"))
    failed = row(preflight.evaluate(loaded, answers), "node1", "os")
    assert failed.status == FAIL and "has no packages for debian-12 (it carries ubuntu-22.04)" in failed.detail


def test_without_a_readable_bundle_the_os_row_judges_the_release_alone(write_cluster, tmp_path, answers):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + f"artifact_bundle: {tmp_path / 'none'}\n"))
    report = preflight.evaluate(loaded, answers)
    assert statuses(report, "os") == {"master": OK, "node1": OK, "node2": OK}
    assert row(report, preflight.TASKBOX, "bundle").status == FAIL


def _roles_with_family_parameters():
    """Roles whose map.jinja (or the parameters.jinja it imports) reads parameters/os_family/<grain>.yaml: each
    needs one per family it runs on."""
    return sorted({path.parent.name for name in ("map.jinja", "parameters.jinja")
                   for path in (ROOT / "salt").glob(f"*/{name}") if "parameters/os_family/" in path.read_text()})


def test_the_os_table_says_what_the_tree_holds():
    params = preflight.parameters()
    roles = _roles_with_family_parameters()
    assert {"os", "etcd", "containerd", "kubernetes"} <= set(roles)
    for info in params["os"].values():
        grain = params["families"][info["family"]]["os_family"]
        missing = [r for r in roles if not (ROOT / "salt" / r / "parameters" / "os_family" / f"{grain}.yaml").exists()]
        for version, entry in info["versions"].items():
            status, reason = preflight.release_status(entry)
            if status == preflight.UNSUPPORTED:
                for role in ("kubernetes", "etcd", "containerd", "os"):
                    named = f"parameters for {role}" in reason
                    assert named == (role in missing), (info["name"], version, role, reason)
            else:
                assert not missing, f"{info['name']} {version} is {status} but lacks {grain} parameters for {missing}"


def test_swap_and_sysctls_and_installable_commands_only_warn(loaded, answers):
    facts = answers["node2"].facts
    facts["swaps"] = [{"device": "/swap.img", "size_kb": 1024}]
    facts["sysctls"]["net.ipv4.ip_forward"] = "0"
    facts["commands"]["conntrack"] = None
    report = preflight.evaluate(loaded, answers)
    assert report.passed
    assert {(r.host, r.check) for r in report.warnings} == {("node2", "swap"), ("node2", "sysctl"), ("node2", "commands")}
    assert row(report, "node2", "commands").fix.endswith("by hand: apt-get install -y conntrack")
    assert "sysctl -w net.ipv4.ip_forward=1" in row(report, "node2", "sysctl").fix


def test_redhat_hosts_get_their_package_names():
    facts = {"os": {"id": "rocky"}, "commands": {}}
    config = {"preflight_required_commands": [], "preflight_installable_commands": ["conntrack", "socat"]}
    assert preflight.check_commands("h", facts, config).fix.endswith("by hand: dnf install -y conntrack-tools socat")


def test_a_port_held_by_a_stranger_fails_naming_the_process(loaded, answers):
    answers["master"].facts["listening"]["6443"] = [{"address": "0.0.0.0", "pid": 4242, "process": "python3"}]
    answers["master"].facts["listening"]["2379"] = [{"address": "127.0.0.1", "pid": None, "process": None}]
    failed = row(preflight.evaluate(loaded, answers), "master", "ports")
    assert failed.status == FAIL
    assert "Port 6443 (kube-apiserver) is in use by python3 (pid 4242)" in failed.detail
    assert "Port 2379 (etcd (clients)) is in use by a process preflight cannot see" in failed.detail
    assert "stop python3 (pid 4242)" in failed.fix and "set kube_apiserver_port in vars.yml" in failed.fix
    assert "ss -ltnp 'sport = :2379'" in failed.fix


def test_ports_held_by_the_cluster_itself_pass_and_other_roles_ports_are_ignored(loaded, answers):
    answers["master"].facts["listening"]["6443"] = [{"address": "::", "pid": 9, "process": "kube-apiserver"}]
    answers["node1"].facts["listening"]["2379"] = [{"address": "0.0.0.0", "pid": 10, "process": "python3"}]
    report = preflight.evaluate(loaded, answers)
    assert report.passed, report.table()
    assert "6443 by kube-apiserver" in row(report, "master", "ports").detail


def test_the_api_server_port_follows_vars_yml(write_cluster):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + "kube_apiserver_port: 8443\n"))
    master_ports = [spec["port"] for spec in preflight.port_specs(loaded.config, ["kube-master"])]
    assert 8443 in master_ports and 6443 not in master_ports
    assert 179 in preflight.facts_arguments(loaded.config)["ports"]


def test_calico_ports_only_with_calico(write_cluster):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + "kube_network_plugin: bridge\n"))
    assert 179 not in preflight.facts_arguments(loaded.config)["ports"]


def test_duplicate_hostnames_macs_and_machine_ids_fail_on_each_host(loaded, answers):
    answers["node2"].facts["hostname"] = "node1"
    answers["node2"].facts["interfaces"]["eth0"]["mac"] = answers["node1"].facts["interfaces"]["eth0"]["mac"]
    answers["node2"].facts["product_uuid"] = answers["node1"].facts["product_uuid"]
    answers["node2"].facts["machine_id"] = answers["node1"].facts["machine_id"]
    report = preflight.evaluate(loaded, answers)
    for check in ("hostname", "mac", "uuid"):
        assert statuses(report, check) == {"master": OK, "node1": FAIL, "node2": FAIL}, check
    assert "also the hostname of node2" in row(report, "node1", "hostname").detail
    assert "machine-id" in row(report, "node2", "uuid").detail and "product_uuid" in row(report, "node2", "uuid").detail


def test_unreadable_product_uuids_are_not_duplicates(loaded, answers):
    for answer in answers.values():
        answer.facts["product_uuid"] = None
    assert statuses(preflight.evaluate(loaded, answers), "uuid") == {"master": OK, "node1": OK, "node2": OK}


def test_a_clock_skew_beyond_the_measuring_window_fails(loaded, answers):
    answers["node2"].facts["time"] = 1000.0 + 60
    report = preflight.evaluate(loaded, answers)
    assert statuses(report, "clock") == {"master": FAIL, "node1": FAIL, "node2": FAIL}
    assert "ahead of the taskbox" in row(report, "node2", "clock").detail
    assert "apart from node2" in row(report, "master", "clock").detail


def test_a_skew_within_the_measuring_window_is_not_reported(loaded, answers):
    # The answer took 20 s: a clock 10 s behind may be a slow answer.
    for answer in answers.values():
        answer.started, answer.received = 990.0, 1010.0
    answers["node2"].facts["time"] = 1000.0 - 10
    assert statuses(preflight.evaluate(loaded, answers), "clock") == {"master": OK, "node1": OK, "node2": OK}


def test_unreachable_ports_fail_on_the_source_host(loaded, answers):
    answers["node1"].reach = {
        "master": {"ip": "192.168.0.1", "ports": {"22": {"result": "open"}, "6443": {"result": "timeout"}}},
        "node2": {"ip": "192.168.0.3", "ports": {"22": {"result": "refused"}}},
    }
    failed = row(preflight.evaluate(loaded, answers), "node1", "reach")
    assert failed.status == FAIL
    assert failed.detail == "cannot reach master 192.168.0.1:6443 (timeout)"
    assert "allow TCP 6443 from 192.168.0.2" in failed.fix


def test_a_host_that_did_not_answer_is_one_failed_row_and_not_blamed_elsewhere(loaded, answers):
    answers["node2"] = preflight.answer_from_return(
        {"_error": "Failed to return clean data", "stderr": "ssh: connect to host 192.168.0.3 port 22: No route to host",
         "retcode": 255}, secrets=["PASSWORD"])
    answers["node1"].reach = {"node2": {"ip": "192.168.0.3", "ports": {"22": {"result": "timeout"}}}}
    report = preflight.evaluate(loaded, answers)
    assert [(r.host, r.check) for r in report.failures] == [("node2", "ssh")]
    assert "No route to host" in report.failures[0].detail
    assert statuses(report, "memory")["node2"] == SKIP
    assert row(report, "node1", "reach").status == OK
    lines = report.table().splitlines()
    assert lines[0].split() == ["HOST", *preflight.CHECKS]
    assert lines[1].split() == ["taskbox"] + ["-"] * (len(preflight.CHECKS) - 1) + ["ok"]
    assert lines[4].split() == ["node2", "FAIL"] + ["-"] * (len(preflight.CHECKS) - 1)


@pytest.mark.parametrize("data, words", [
    ("Target 'node1' did not return any data, probably due to an error.", "did not return any data"),
    ({"return": "'saltsphere_preflight.gather' is not available.", "retcode": 1}, "is not available"),
    ({"_error": "Permission denied", "stderr": "root@h: Permission denied (publickey,password). PASSWORD",
      "retcode": 255}, "Permission denied (publickey,password). ********"),
])
def test_salt_ssh_errors_become_readable_answers_without_secrets(data, words):
    answer = preflight.answer_from_return(data, secrets=["PASSWORD"])
    assert answer.facts is None and words in answer.error and "PASSWORD" not in answer.error


def test_a_successful_return_carries_facts_and_reach():
    answer = preflight.answer_from_return({"return": {"facts": {"hostname": "a"}, "reach": {}}, "retcode": 0})
    assert answer.facts == {"hostname": "a"} and answer.reach == {}


def test_hosts_whose_sshd_does_not_answer_are_named(write_cluster):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        hosts = SEED_HOSTS_INI.replace("node1  ansible_host=192.168.0.2", f"node1  ansible_host=127.0.0.1 ansible_port={port}")
        loaded = cluster.load(write_cluster(hosts, SEED_VARS_YML))
        assert preflight.unanswering(loaded, 0.2)["node1"] == "cannot connect to sshd: Connection refused"


def test_only_the_named_hosts_are_asked_whether_sshd_answers(write_cluster, monkeypatch):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML))
    asked = []
    monkeypatch.setattr(preflight, "_sshd_error", lambda spec, timeout: asked.append(spec.name) or "down")
    assert preflight.unanswering(loaded, 0.2, names=["node2"]) == {"node2": "down"}
    assert asked == ["node2"]
    assert preflight.unanswering(loaded, 0.2, names=[]) == {} and asked == ["node2"]


def test_reach_targets_list_sshd_and_the_ports_others_connect_to(loaded):
    targets = {t["name"]: t for t in preflight.reach_targets(loaded)}
    assert targets["master"]["ports"][0] == {"port": 22}
    assert {"port": 2380, "from": ["etcd"]} in targets["master"]["ports"]
    assert {"port": 10250, "from": ["kube-master"]} in targets["node1"]["ports"]
    assert all(p["port"] != 2379 for p in targets["node1"]["ports"])


def test_hosts_joining_a_running_cluster_alone_get_the_host_local_checks(loaded, answers):
    # The members run the cluster: their ports are taken, as a new host's must not be.
    answers["master"].facts["listening"]["6443"] = [{"address": "0.0.0.0", "pid": 4242, "process": "python3"}]
    answers["node1"].facts["listening"]["10250"] = [{"address": "0.0.0.0", "pid": 7, "process": "python3"}]
    answers["node2"].facts["listening"]["10250"] = [{"address": "0.0.0.0", "pid": 7, "process": "python3"}]
    assert not preflight.evaluate(loaded, answers).passed
    report = preflight.evaluate(loaded, answers, joining=["node2"])
    assert [(r.host, r.check) for r in report.failures] == [("node2", "ports")]
    assert row(report, "master", "ports").status == SKIP and row(report, "master", "ssh").status != SKIP
    # A member that shares the new host's machine id fails with it.
    answers["node1"].facts["machine_id"] = answers["node2"].facts["machine_id"]
    report = preflight.evaluate(loaded, answers, joining=["node2"])
    assert {(r.host, r.check) for r in report.failures} == {("node2", "ports"), ("node1", "uuid"), ("node2", "uuid")}
