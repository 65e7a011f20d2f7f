"""Every inventory rule of saltsphere.validate: it fires where it should, with a fix, and its valid neighbour passes."""

import pytest

from saltsphere import cluster

from sample_inputs import SEED_HOSTS_INI, hosts_ini, line_number, matching, only

MASTER_LINE = "master ansible_connection=local ip=192.168.0.1"
NODE2_LINE = "node2 ansible_host=192.168.0.3 ip=192.168.0.3"
SEED_HOST_LINES = tuple(SEED_HOSTS_INI.splitlines()[1:4])


def with_node1(line, node_name="node1"):
    """The seed's cluster with node1's line (line 3) replaced."""
    return hosts_ini(lines=(MASTER_LINE, line, NODE2_LINE), nodes=(node_name, "node2"))


def test_seed_inventory_and_storage_example_are_valid(check):
    problems = check(SEED_HOSTS_INI)
    assert list(problems) == []


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("Node1", "node1"),
        ("node_1", "node-1"),
        ("node1-", "node1"),
        ("-node1", "node1"),
        ("NODE.One", "node.one"),
        ("n" * 64, "n" * 64),
    ],
)
def test_host_name_must_be_lowercase_rfc1123(check, name, suggestion):
    problems = check(with_node1(f"{name} ansible_host=192.168.0.2 ip=192.168.0.2", name))

    problem = only(problems, "is not a lowercase RFC 1123 name")
    assert f"{name!r}" in problem.message
    assert problem.line == 3
    assert f"e.g. {suggestion!r}" in problem.fix


@pytest.mark.parametrize("name", ["node-1", "n1", "worker1.example.com", "a" * 63])
def test_valid_host_names_pass(check, name):
    problems = check(with_node1(f"{name} ansible_host=192.168.0.2 ip=192.168.0.2", name))
    assert problems.errors == []


def test_host_without_ip_and_with_dns_ansible_host(check):
    problems = check(with_node1("node1 ansible_host=node1.example.com"))

    problem = only(problems, "host 'node1' has no ip=")
    assert problem.line == 3
    assert "add ip=" in problem.fix


def test_local_host_without_ip(check):
    text = hosts_ini(lines=("master ansible_connection=local", NODE2_LINE), nodes=("node2",))
    problem = only(check(text), "host 'master' has no ip=")
    assert problem.line == 2


def test_ip_defaults_to_an_address_ansible_host(check):
    problems = check(with_node1("node1 ansible_host=192.168.0.2"))
    assert problems.errors == []


@pytest.mark.parametrize("ip", ["192.168.0.300", "192.168.0", "node1", "10.0.0.1/24", ""])
def test_ip_must_be_an_address(check, ip):
    text = hosts_ini(lines=(
        MASTER_LINE,
        "node1 ansible_host=192.168.0.2",
        f"node2 ansible_host=192.168.0.3 ansible_port=22 ip={ip}",
    ))
    problem = only(check(text), "is not an IP address")
    assert f"ip={ip!r}" in problem.message
    assert problem.line == 4
    assert "e.g. ip=" in problem.fix


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.1.2.3", "0.0.0.0", "224.0.0.5", "::1"])
def test_ip_cannot_be_loopback_unspecified_or_multicast(check, ip):
    problems = check(with_node1(f"node1 ansible_host=192.168.0.2 ip={ip}"))

    problem = only(problems, "cannot be a cluster address")
    assert problem.line == 3
    assert "other hosts reach" in problem.fix


def test_duplicate_ips(check):
    text = hosts_ini(lines=(MASTER_LINE, "node1 ansible_host=192.168.0.2 ip=192.168.0.2",
                            "node2 ansible_host=192.168.0.3 ip=192.168.0.2"))
    problem = only(check(text), "has the same ip")

    assert problem.message == "host 'node2' has the same ip 192.168.0.2 as 'node1' (line 3)"
    assert problem.line == 4
    assert problem.fix == "give every host its own address"


def test_ip_set_in_group_vars_is_reported_where_it_is_set(check):
    text = hosts_ini(lines=(MASTER_LINE, "node1 ansible_host=192.168.0.2", "node2 ansible_host=192.168.0.3"),
                     extra="[kube-node:vars]\nip=192.168.0.7\n")
    problem = only(check(text), "has the same ip")
    assert problem.line == line_number(text, "ip=192.168.0.7")


@pytest.mark.parametrize("address", ["node_1.example.com", "bad host", "-node1", "node1..example"])
def test_ansible_host_must_be_an_address_or_dns_name(check, address):
    problems = check(with_node1(f'node1 ansible_host="{address}" ip=192.168.0.2'))

    problem = only(problems, "is neither an address nor a DNS name")
    assert f"ansible_host={address!r}" in problem.message
    assert problem.line == 3
    assert problem.fix


@pytest.mark.parametrize("address", ["192.168.0.2", "Node1.Example.COM", "node1", "fe80::1"])
def test_valid_ansible_host_passes(check, address):
    assert check(with_node1(f"node1 ansible_host={address} ip=192.168.0.2")).errors == []


def test_mistyped_address_in_ansible_host_is_reported(check):
    problems = check(with_node1("node1 ansible_host=192.168.0.300 ip=192.168.0.2"))
    assert only(problems, "is neither an address nor a DNS name").line == 3


@pytest.mark.parametrize("port", ["0", "65536", "abc", "-1", "22.5"])
def test_port_out_of_range(check, port):
    problems = check(with_node1(f"node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_port={port}"))

    problem = only(problems, "is not between 1 and 65535")
    assert f"port {port!r} of host 'node1'" in problem.message
    assert problem.line == 3
    assert "ansible_port=22" in problem.fix


def test_port_with_non_ascii_digits_is_reported_not_raised(check):
    problems = check(with_node1("node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_port=²²"))
    assert only(problems, "is not between 1 and 65535").line == 3


def test_port_from_old_spelling_in_group_vars(check):
    text = hosts_ini(extra="[kube-node:vars]\nansible_ssh_port=70000\n")
    found = matching(check(text), "is not between 1 and 65535")
    assert {p.line for p in found} == {line_number(text, "ansible_ssh_port=70000")}
    assert len(found) == 2  # node1 and node2


@pytest.mark.parametrize("port", ["1", "22", "2222", "65535"])
def test_valid_port_passes(check, port):
    assert check(with_node1(f"node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_port={port}")).errors == []


@pytest.mark.parametrize("connection", ["docker", "winrm", "SSH", "chroot"])
def test_unsupported_connection(check, connection):
    problems = check(with_node1(f"node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_connection={connection}"))

    problem = only(problems, "is not supported")
    assert f"ansible_connection={connection}" in problem.message
    assert problem.line == 3
    assert "ssh" in problem.fix and "local" in problem.fix


@pytest.mark.parametrize("connection", ["ssh", "smart", "paramiko"])
def test_supported_connection_passes(check, connection):
    line = f"node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_connection={connection}"
    assert check(with_node1(line)).errors == []


def test_only_one_local_host(check):
    problems = check(with_node1("node1 ansible_connection=local ip=192.168.0.2"))

    problem = only(problems, "hosts have ansible_connection=local")
    assert problem.message == "2 hosts have ansible_connection=local: master (line 2), node1 (line 3)"
    assert problem.line == 3
    assert "only the taskbox itself is local" in problem.fix


def test_missing_private_key_file(check):
    problems = check(with_node1("node1 ansible_host=192.168.0.2 ip=192.168.0.2 "
                                "ansible_ssh_private_key_file=keys/id_ed25519"))

    problem = only(problems, "does not exist on the taskbox")
    assert "'keys/id_ed25519'" in problem.message
    assert problem.line == 3
    assert "ansible_ssh_private_key_file" in problem.fix


def test_private_key_is_found_relative_to_the_inventory(check, tmp_path, monkeypatch):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "id_ed25519").write_text("key\n")
    monkeypatch.chdir(tmp_path.parent)
    problems = check(with_node1("node1 ansible_host=192.168.0.2 ip=192.168.0.2 "
                                "ansible_ssh_private_key_file=keys/id_ed25519"))
    assert problems.errors == []


def test_absolute_private_key_path(check, tmp_path):
    key = tmp_path / "elsewhere" / "id_rsa"
    key.parent.mkdir()
    key.write_text("key\n")
    line = f"node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_ssh_private_key_file={key}"
    assert check(with_node1(line)).errors == []


DIFFERENT_PASSWORDS = "node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_user=deploy " \
                      "ansible_ssh_pass=login-pw ansible_become_pass=sudo-pw"


def test_different_ssh_and_sudo_passwords_need_a_key(check):
    problem = only(check(with_node1(DIFFERENT_PASSWORDS)), "different SSH and sudo passwords")

    assert problem.message == "host 'node1' has different SSH and sudo passwords but no SSH key"
    assert problem.line == 3
    assert "ansible_ssh_private_key_file" in problem.fix and "equal" in problem.fix


def test_different_passwords_set_in_group_vars(check):
    text = hosts_ini(extra="[kube-node:vars]\nansible_user=deploy\nansible_sudo_pass=sudo-pw\n")
    found = matching(check(text), "different SSH and sudo passwords")
    assert sorted(p.message.split("'")[1] for p in found) == ["node1", "node2"]


@pytest.mark.parametrize(
    "line",
    [
        "node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_user=deploy "
        "ansible_ssh_pass=same-pw ansible_become_pass=same-pw",
        "node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_user=deploy ansible_become_pass=only-sudo",
        DIFFERENT_PASSWORDS + " ansible_ssh_private_key_file=id_node1",
    ],
)
def test_equal_passwords_or_a_key_pass(check, tmp_path, line):
    (tmp_path / "id_node1").write_text("key\n")
    assert check(with_node1(line)).errors == []


def test_group_member_not_defined_as_host(check):
    text = hosts_ini(nodes=("node1", "node2", "node3"))
    problem = only(check(text), "'node3' in [kube-node] is not defined as a host")

    assert problem.line == line_number(text, "node3")
    assert "add a line for 'node3' in [all]" in problem.fix


def test_children_naming_an_unknown_group(check):
    text = hosts_ini(children=("kube-node", "kube-master", "kube-workers"))
    problem = only(check(text), "names the unknown group 'kube-workers'")

    assert problem.message == "[k8s-cluster:children] names the unknown group 'kube-workers'"
    assert problem.line == line_number(text, "kube-workers")
    assert problem.fix == "define [kube-workers] or remove the line"


@pytest.mark.parametrize(
    "extra, lines",
    [
        ("[a:children]\nb\n[b:children]\na\n", ["b", "a"]),
        ("[a:children]\na\n", ["a"]),
        ("[a:children]\nb\n[b:children]\nc\n[c:children]\na\n", ["b", "c", "a"]),
    ],
)
def test_cyclic_children(check, extra, lines):
    text = hosts_ini(extra=extra)
    found = matching(check(text), "contain each other")

    base = len(hosts_ini().splitlines())
    extra_lines = extra.splitlines()
    expected = sorted(base + 1 + extra_lines.index(line) for line in lines)
    assert sorted(p.line for p in found) == expected
    assert all(p.fix == "remove one of the :children lines" for p in found)


def test_nested_children_without_cycle_pass(check):
    assert check(hosts_ini(extra="[a:children]\nb\n[b:children]\nkube-node\n")).errors == []


def test_no_kube_master(check):
    text = hosts_ini(masters=(), etcd=("node1",))
    problem = only(check(text), "no host in [kube-master]")

    assert problem.line is None and problem.key is None
    assert problem.fix == "add a [kube-master] section listing at least one control-plane host"


def test_no_etcd(check):
    problem = only(check(hosts_ini(etcd=())), "no host in [etcd]")
    assert problem.fix == "add a [etcd] section listing an odd number of etcd members"


def test_missing_sections_are_both_reported(check):
    text = "[all]\nnode1 ansible_host=192.168.0.2 ip=192.168.0.2\n[kube-node]\nnode1\n"
    problems = check(text)
    assert only(problems, "no host in [kube-master]")
    assert only(problems, "no host in [etcd]")


FIVE_HOSTS = (MASTER_LINE, "node1 ip=192.168.0.2", "node2 ip=192.168.0.3",
              "node3 ip=192.168.0.4", "node4 ip=192.168.0.5")


@pytest.mark.parametrize("members", [("master", "node1"), ("master", "node1", "node2", "node3")])
def test_even_etcd_count(check, members):
    text = hosts_ini(lines=FIVE_HOSTS, nodes=("node1", "node2", "node3", "node4"), etcd=members)
    problem = only(check(text), "an even count tolerates")

    count = len(members)
    assert problem.message.startswith(f"[etcd] has {count} members")
    assert problem.line == line_number(text, "[etcd]")
    assert problem.fix == f"use {count - 1} or {count + 1} etcd members"


@pytest.mark.parametrize("members", [("master",), ("master", "node1", "node2")])
def test_odd_etcd_count_passes(check, members):
    text = hosts_ini(lines=FIVE_HOSTS, nodes=("node1", "node2", "node3", "node4"), etcd=members)
    assert check(text).errors == []


@pytest.mark.parametrize("children, missing, role", [
    (("kube-node",), "master", "kube-master"),
    (("kube-master",), "node1, node2", "kube-node"),
])
def test_k8s_cluster_must_include_masters_and_nodes(check, children, missing, role):
    text = hosts_ini(children=children)
    problem = only(check(text), "does not include")

    assert problem.message == f"[k8s-cluster] does not include {missing} of [{role}]"
    assert problem.line == line_number(text, "[k8s-cluster:children]")
    assert problem.fix == f"add {role} to [k8s-cluster:children]"


def test_inventory_without_k8s_cluster_group_passes(check):
    assert check(hosts_ini(children=None)).errors == []


def test_host_without_role_is_a_warning_not_an_error(check):
    text = hosts_ini(lines=(*SEED_HOST_LINES, "spare ansible_host=192.168.0.9 ip=192.168.0.9"))
    problems = check(text)

    assert problems.errors == []
    [warning] = [p for p in problems.warnings if "spare" in p.message]
    assert "host 'spare' is in no group of etcd, kube-master or kube-node" in warning.message
    assert warning.line == 5
    assert warning.fix == "add it to a group, or remove it"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_inventory_with_passwords_readable_by_others_is_a_warning(check_mode, mode):
    path, problems = check_mode(SEED_HOSTS_INI, mode)

    assert problems.errors == []
    [warning] = problems.warnings
    assert warning.message == "holds passwords and is readable by other users"
    assert warning.path == str(path)
    assert warning.fix == f"chmod 600 {path}"


@pytest.mark.parametrize(
    "text, mode",
    [
        (SEED_HOSTS_INI, 0o600),
        (SEED_HOSTS_INI, 0o400),
        (SEED_HOSTS_INI.replace("  ansible_ssh_pass=PASSWORD", ""), 0o644),
    ],
)
def test_private_inventory_or_one_without_passwords_gives_no_warning(check_mode, text, mode):
    _, problems = check_mode(text, mode)
    assert list(problems) == []


def test_sudo_password_in_group_vars_counts_as_a_password(check_mode):
    text = hosts_ini(lines=(MASTER_LINE, "node1 ip=192.168.0.2", NODE2_LINE),
                     extra="[kube-node:vars]\nansible_user=deploy\nansible_become_pass=pw\n")
    _, problems = check_mode(text, 0o644)
    assert [w.message for w in problems.warnings] == ["holds passwords and is readable by other users"]


@pytest.fixture
def check_mode(write_cluster):
    def run(text, mode):
        path = write_cluster(text, mode=mode)
        _, _, problems = cluster.check(str(path))
        return path, problems

    return run


# --- becoming root -----------------------------------------------------------------

NODE1 = "node1 ansible_host=192.168.0.2 ip=192.168.0.2"


@pytest.mark.parametrize("user", ["deploy", "postgres", "Root"])
def test_become_user_other_than_root_is_refused(check, user):
    problem = only(check(with_node1(f"{NODE1} ansible_user=ops ansible_become_user={user}")),
                   f"ansible_become_user={user}")
    assert problem.message == (f"ansible_become_user={user} of host 'node1': saltsphere needs root on every host, "
                               "and salt-ssh's sudo runs commands as root")
    assert problem.line == 3 and problem.path.endswith("hosts.ini")
    assert problem.fix == "remove ansible_become_user, or set it to root"


@pytest.mark.parametrize("method", ["su", "doas", "pbrun", "pfexec", "runas", "dzdo", "ksu", "machinectl"])
@pytest.mark.parametrize("user", ["", " ansible_user=ops ansible_become_pass=pw"])
def test_become_method_other_than_sudo_is_refused(check, method, user):
    problem = only(check(with_node1(f"{NODE1}{user} ansible_become_method={method}")),
                   f"ansible_become_method={method}")
    assert problem.line == 3
    assert problem.fix.startswith("salt-ssh becomes root only through sudo: use a user with sudo, or log in as root")


@pytest.mark.parametrize("value", ["false", "False", "no", "off", "0"])
def test_become_false_with_a_non_root_user_is_refused(check, value):
    problem = only(check(with_node1(f"{NODE1} ansible_user=ops ansible_become={value}")), "logs in as ops")
    assert problem.message == (f"host 'node1' logs in as ops with ansible_become={value}, but saltsphere needs "
                               "root on every host")
    assert problem.line == 3
    assert "log in as root" in problem.fix and "sudo" in problem.fix


def test_become_that_is_not_a_boolean_is_refused(check):
    problem = only(check(with_node1(f"{NODE1} ansible_user=ops ansible_become=sometimes")), "neither true nor false")
    assert problem.line == 3


def test_become_settings_in_group_vars_are_reported_where_they_are_set(check):
    text = hosts_ini(lines=(MASTER_LINE, NODE1, NODE2_LINE),
                     extra="[kube-node:vars]\nansible_user=ops\nansible_become_method=su\nansible_become_user=app\n")
    problems = check(text)
    method = only(problems, "ansible_become_method=su of host 'node1'")
    user = only(problems, "ansible_become_user=app of host 'node2'")
    assert method.line == line_number(text, "ansible_become_method=su")
    assert user.line == line_number(text, "ansible_become_user=app")


@pytest.mark.parametrize("variables", [
    "ansible_become_method=sudo",
    "ansible_become_user=root",
    "ansible_become=true ansible_become_method=sudo ansible_become_user=root",
    "ansible_user=ops ansible_become=yes ansible_become_method=sudo ansible_become_user=root",
    "ansible_user=ops ansible_become_pass=pw",
    "ansible_become=false",
    "ansible_user=root ansible_become=no",
])
def test_root_and_sudo_pass(check, variables):
    assert check(with_node1(f"{NODE1} {variables}")).errors == []
