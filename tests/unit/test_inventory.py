"""The hosts.ini parser: layout it tolerates, meaning it rejects, and where it says so."""

import pytest

from saltsphere import inventory
from saltsphere.inventory import ETCD, MASTER, NODE, CLUSTER

from sample_inputs import SEED_HOSTS_INI, hosts_ini, line_number, only


def parse_file(tmp_path, text, name="hosts.ini"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return inventory.parse(path)


def hosts_ini_lines():
    return (
        "master ansible_connection=local  ip=192.168.0.1",
        "node1  ansible_host=192.168.0.2  ip=192.168.0.2",
        "node2  ansible_host=192.168.0.3  ip=192.168.0.3",
    )


def test_seed_inventory_parses_without_problems(tmp_path):
    inv, problems = parse_file(tmp_path, SEED_HOSTS_INI)

    assert list(problems) == []
    assert list(inv.hosts) == ["master", "node1", "node2"]
    assert inv.roles("master") == [ETCD, MASTER]
    assert inv.roles("node1") == [NODE]
    assert inv.roles("node2") == [NODE]
    assert inv.cluster_members() == ["node1", "node2", "master"]
    master = inv.merged_host("master")
    assert master.local and master.get("ip") == "192.168.0.1" and master.user == "root"
    node1 = inv.merged_host("node1")
    assert node1.get("host") == "192.168.0.2" and node1.get("password") == "PASSWORD"
    assert node1.line == 3


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("node1 ip=10.0.0.2", ["node1", "ip=10.0.0.2"]),
        ('node1 ansible_ssh_pass="two words" ip=10.0.0.2', ["node1", "ansible_ssh_pass=two words", "ip=10.0.0.2"]),
        ("node1 ansible_ssh_pass='it has # and ;' ip=1", ["node1", "ansible_ssh_pass=it has # and ;", "ip=1"]),
        ('node1 ansible_ssh_pass="a#b;c"', ["node1", "ansible_ssh_pass=a#b;c"]),
        ("node1 ansible_ssh_pass=a#b", ["node1", "ansible_ssh_pass=a#b"]),
        ("node1 ip=10.0.0.2 # the first node", ["node1", "ip=10.0.0.2"]),
        ("node1 ip=10.0.0.2 ; the first node", ["node1", "ip=10.0.0.2"]),
        ("node1\tip=10.0.0.2\t \t", ["node1", "ip=10.0.0.2"]),
        ('key=""', ["key="]),
        ("# a comment", []),
        ("", []),
    ],
)
def test_tokenize(text, tokens):
    assert inventory.tokenize(text) == (tokens, None)


@pytest.mark.parametrize("text", ['node1 ansible_ssh_pass="open', "node1 ansible_ssh_pass='open"])
def test_tokenize_reports_an_unterminated_quote(text):
    _, error = inventory.tokenize(text)
    assert error is not None and "never closed" in error


def test_quoted_values_keep_spaces_and_comment_characters(tmp_path):
    text = hosts_ini(lines=(
        "master ansible_connection=local ip=192.168.0.1",
        'node1 ip=192.168.0.2 ansible_ssh_pass="pa ss#word" ansible_user=\'de;ploy\'',
        "node2 ip=192.168.0.3",
    ))
    inv, problems = parse_file(tmp_path, text)

    assert list(problems) == []
    node1 = inv.merged_host("node1")
    assert node1.get("password") == "pa ss#word"
    assert node1.user == "de;ploy"


def test_comments_tabs_and_trailing_spaces_are_ignored(tmp_path):
    text = (
        "# full-line hash comment\n"
        "; full-line semicolon comment\n"
        "   # indented comment\n"
        "[all]   \n"
        "master\tansible_connection=local\tip=192.168.0.1   # the taskbox\n"
        "node1   ansible_host=192.168.0.2 ip=192.168.0.2 ; a worker\t\n"
        "\n"
        "[kube-master]\n"
        "master  # control plane\n"
        "[kube-node]\n"
        "node1 ; worker\n"
        "[etcd]\n"
        "\tmaster\t\n"
        "[all:vars]\n"
        "ansible_user=ubuntu # sudo user\n"
    )
    inv, problems = parse_file(tmp_path, text)

    assert list(problems) == []
    assert list(inv.hosts) == ["master", "node1"]
    assert inv.hosts["master"].vars == {"ansible_connection": "local", "ip": "192.168.0.1"}
    assert inv.hosts["node1"].vars == {"ansible_host": "192.168.0.2", "ip": "192.168.0.2"}
    assert inv.hosts["node1"].line == 6
    assert inv.roles("master") == [ETCD, MASTER]
    assert inv.roles("node1") == [NODE]
    assert inv.merged_host("node1").user == "ubuntu"


def test_variable_precedence_all_vars_then_parent_then_child_then_host_line(tmp_path):
    text = (
        "[all]\n"
        "master ip=10.0.0.1 ansible_port=2201\n"
        "node1 ip=10.0.0.2\n"
        "[kube-master]\n"
        "master\n"
        "[kube-node]\n"
        "node1\n"
        "[etcd]\n"
        "master\n"
        "[k8s-cluster:children]\n"
        "kube-node\n"
        "kube-master\n"
        "[kube-node:vars]\n"
        "ansible_user=child\n"
        "[all:vars]\n"
        "ansible_user=everyone\n"
        "ansible_port=2200\n"
        "ansible_become_method=sudo\n"
        "[k8s-cluster:vars]\n"
        "ansible_user = parent\n"
        "ansible_port=2202\n"
    )
    inv, problems = parse_file(tmp_path, text)
    assert list(problems) == []

    node1, master = inv.merged_host("node1"), inv.merged_host("master")
    # child group over its parent, which wins over [all:vars] even though written later
    assert node1.user == "child" and node1.line_of("user") == 14
    assert node1.get("port") == "2202" and node1.line_of("port") == 21
    # parent group over [all:vars]; the host line over every group
    assert master.user == "parent" and master.line_of("user") == 20
    assert master.get("port") == "2201" and master.line_of("port") == 2
    assert master.vars["ansible_become_method"] == "sudo"
    assert inv.groups_of("node1").index(CLUSTER) < inv.groups_of("node1").index(NODE)


def test_children_are_followed_recursively(tmp_path):
    text = (
        "[all]\n"
        "a ip=10.0.0.1\n"
        "b ip=10.0.0.2\n"
        "c ip=10.0.0.3\n"
        "[kube-master]\n"
        "a\n"
        "[workers-east]\n"
        "b\n"
        "[workers-west]\n"
        "c\n"
        "[workers:children]\n"
        "workers-east\n"
        "workers-west\n"
        "[kube-node:children]\n"
        "workers\n"
        "[etcd]\n"
        "a\n"
        "[k8s-cluster:children]\n"
        "kube-master\n"
        "kube-node\n"
    )
    inv, problems = parse_file(tmp_path, text)

    assert list(problems) == []
    assert inv.members(NODE) == ["b", "c"]
    assert inv.members(CLUSTER) == ["a", "b", "c"]
    assert inv.roles("c") == [NODE]


def test_kubespray_group_names_are_aliases(tmp_path):
    text = (
        "[all]\n"
        "cp ip=10.0.0.1\n"
        "w1 ip=10.0.0.2\n"
        "[kube_control_plane]\n"
        "cp\n"
        "[kube_node]\n"
        "w1\n"
        "[etcd]\n"
        "cp\n"
        "[k8s_cluster:children]\n"
        "kube_control_plane\n"
        "kube_node\n"
        "[kube_node:vars]\n"
        "ansible_user=worker\n"
    )
    inv, problems = parse_file(tmp_path, text)

    assert list(problems) == []
    assert set(inv.groups) == {"all", MASTER, NODE, ETCD, CLUSTER}
    assert inv.roles("cp") == [ETCD, MASTER]
    assert inv.roles("w1") == [NODE]
    assert inv.groups[CLUSTER].children == [(MASTER, 11), (NODE, 12)]
    assert inv.merged_host("w1").user == "worker"


@pytest.mark.parametrize(
    "variables, field, value",
    [
        ("ansible_ssh_host=10.1.1.1", "host", "10.1.1.1"),
        ("ansible_ssh_port=2222", "port", "2222"),
        ("ansible_ssh_user=deploy", "user", "deploy"),
        ("ansible_sudo_pass=s3", "become_password", "s3"),
        ("ansible_become_password=s4", "become_password", "s4"),
        ("ansible_password=s5", "password", "s5"),
        ("ansible_host=10.1.1.1", "host", "10.1.1.1"),
        ("ansible_port=2200", "port", "2200"),
    ],
)
def test_old_and_new_spellings_of_host_variables(tmp_path, variables, field, value):
    text = hosts_ini(lines=(
        "master ansible_connection=local ip=192.168.0.1",
        f"node1 ip=192.168.0.2 {variables}",
        "node2 ip=192.168.0.3",
    ))
    inv, problems = parse_file(tmp_path, text)

    assert list(problems) == []
    node1 = inv.merged_host("node1")
    assert node1.get(field) == value
    assert node1.line_of(field) == 3


def test_unterminated_quote_is_reported_on_its_line(tmp_path):
    text = hosts_ini(lines=(
        "master ansible_connection=local ip=192.168.0.1",
        'node1 ip=192.168.0.2 ansible_ssh_pass="unterminated',
        "node2 ip=192.168.0.3",
    ))
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "never closed")
    assert problem.line == 3
    assert "quote" in problem.fix


@pytest.mark.parametrize("header", ["[kube-master", "[kube-master:hosts]", "[kube-master]x", "[:vars]"])
def test_bad_section_header(tmp_path, header):
    text = hosts_ini().replace("[kube-master]\n", header + "\n", 1)
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "cannot read the section header")
    assert problem.line == line_number(text, header)
    assert "[group:children]" in problem.fix


@pytest.mark.parametrize(
    "variable, hint",
    [
        ("ansible_ssh_passwd=x", "did you mean 'ansible_ssh_pass'?"),
        ("ansible_usr=x", "did you mean 'ansible_user'?"),
        ("ansible_ssh_private_key=x", "did you mean 'ansible_ssh_private_key_file'?"),
        ("ansible_xyzzy_frobnicate_qq=x", "remove it"),
    ],
)
def test_unknown_ansible_variable_gets_a_hint(tmp_path, variable, hint):
    text = hosts_ini(lines=(
        "master ansible_connection=local ip=192.168.0.1",
        f"node1 ip=192.168.0.2 {variable}",
        "node2 ip=192.168.0.3",
    ))
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "unknown host variable")
    assert problem.line == 3
    assert problem.fix == hint


def test_unknown_ansible_variable_in_group_vars(tmp_path):
    text = hosts_ini(extra="[kube-node:vars]\nansible_ssh_usr=deploy\n")
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "unknown host variable 'ansible_ssh_usr'")
    assert problem.line == line_number(text, "ansible_ssh_usr=deploy")
    assert problem.fix == "did you mean 'ansible_ssh_user'?"


@pytest.mark.parametrize("line", ["ansible_become=true", "ansible_python_interpreter=/usr/bin/python3", "foo=bar"])
def test_known_or_non_ansible_variables_are_accepted(tmp_path, line):
    _, problems = parse_file(tmp_path, hosts_ini(extra=f"[all:vars]\n{line}\n"))
    assert list(problems) == []


def test_group_vars_need_key_value(tmp_path):
    text = hosts_ini(extra="[all:vars]\nansible_user deploy\n")
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "expected key=value in [all:vars]")
    assert problem.line == line_number(text, "ansible_user deploy")


def test_vars_on_a_host_line_outside_all(tmp_path):
    text = hosts_ini(nodes=("node1 ansible_user=deploy", "node2"))
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "host 'node1' has variables in [kube-node]")
    assert problem.line == line_number(text, "node1 ansible_user=deploy")
    assert "[all]" in problem.fix


def test_host_line_token_without_equals(tmp_path):
    text = hosts_ini(lines=(
        "master ansible_connection=local ip=192.168.0.1",
        "node1 192.168.0.2",
        "node2 ip=192.168.0.3",
    ))
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "expected key=value after host 'node1'")
    assert problem.line == 3


def test_wrapped_host_line(tmp_path):
    text = hosts_ini(lines=(
        "master ansible_connection=local ip=192.168.0.1",
        "node1  ansible_host=192.168.0.2",
        "       ip=192.168.0.2  ansible_ssh_pass=PASSWORD",
        "node2  ansible_host=192.168.0.3  ip=192.168.0.3",
    ))
    inv, problems = parse_file(tmp_path, text)

    problem = only(problems, "has variables but no host name")
    assert problem.line == 4
    assert "the host on line 3" in problem.message
    assert "join it to the line above" in problem.fix
    assert list(inv.hosts) == ["master", "node1", "node2"]


def test_continuation_line_before_any_host(tmp_path):
    text = "[all]\nip=192.168.0.2\n"
    _, problems = parse_file(tmp_path, text)
    problem = only(problems, "has variables but no host name")
    assert problem.line == 2 and "no host" in problem.message


def test_trailing_backslash(tmp_path):
    text = hosts_ini(lines=(
        "master ansible_connection=local ip=192.168.0.1",
        "node1  ansible_host=192.168.0.2 \\",
        "       ip=192.168.0.2",
        "node2  ansible_host=192.168.0.3  ip=192.168.0.3",
    ))
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "ends with a backslash")
    assert problem.line == 3
    assert "remove the backslash" in problem.fix
    assert only(problems, "has variables but no host name").line == 4


def test_duplicate_host_definition(tmp_path):
    text = hosts_ini(lines=(*hosts_ini_lines(), "node1  ansible_host=192.168.0.9  ip=192.168.0.9"))
    inv, problems = parse_file(tmp_path, text)

    problem = only(problems, "host 'node1' is defined twice")
    assert problem.line == 5
    assert "(first on line 3)" in problem.message
    assert inv.hosts["node1"].get("ip") == "192.168.0.2"


def test_missing_file(tmp_path):
    inv, problems = inventory.parse(tmp_path / "nope" / "hosts.ini")

    problem = only(problems, "does not exist")
    assert problem.path == str(tmp_path / "nope" / "hosts.ini")
    assert "-i PATH" in problem.fix
    assert inv.hosts == {}


def test_children_line_names_one_group(tmp_path):
    text = hosts_ini(children=("kube-node kube-master",))
    _, problems = parse_file(tmp_path, text)

    problem = only(problems, "names one group, found 2 words")
    assert problem.line == line_number(text, "kube-node kube-master")


def test_section_header_with_inline_comment(tmp_path):
    text = hosts_ini().replace("[kube-master]\n", "[kube-master]  # control plane\n").replace(
        "[etcd]\n", "[etcd] ; members\n")
    inv, problems = parse_file(tmp_path, text)

    assert list(problems) == []
    assert inv.roles("master") == [ETCD, MASTER]


def test_host_line_wins_over_group_vars_whatever_the_spelling(tmp_path):
    text = hosts_ini(
        lines=(
            "master ansible_connection=local ip=192.168.0.1",
            "node1 ip=192.168.0.2 ansible_ssh_user=root ansible_sudo_pass=from-host",
            "node2 ip=192.168.0.3",
        ),
        extra="[all:vars]\nansible_user=ubuntu\nansible_become_pass=from-group\n",
    )
    inv, problems = parse_file(tmp_path, text)
    assert list(problems) == []

    node1 = inv.merged_host("node1")
    assert node1.user == "root"
    assert node1.get("become_password") == "from-host"


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_bytes(b"\xef\xbb\xbf" + SEED_HOSTS_INI.encode())
    inv, problems = inventory.parse(path)

    assert list(problems) == []
    assert list(inv.hosts) == ["master", "node1", "node2"]
