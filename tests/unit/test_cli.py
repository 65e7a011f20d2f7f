"""Every problem at once, rendered with place and fix; the CLI reports them without a traceback and never
prints a password."""

import json

import pytest

from saltsphere import cli, cluster
from saltsphere.problems import InvalidInput, Problem, Problems

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML, line_number

BROKEN_HOSTS = """\
[all]
Master ansible_connection=local ip=192.168.0.1
node1  ansible_host=192.168.0.2  ip=192.168.0.300
node2  ansible_host=192.168.0.3  ip=192.168.0.3  ansible_port=0
node3  ansible_host=192.168.0.4  ip=192.168.0.4  ansible_ssh_pass="never closed

[kube-master
Master

[kube-node]
node1
node2
node4

[etcd]
Master
node1
"""

EXPECTED = [
    ("host name 'Master' is not a lowercase RFC 1123 name", 2),
    ("ip='192.168.0.300' of host 'node1' is not an IP address", 3),
    ("port '0' of host 'node2' is not between 1 and 65535", 4),
    ("the quote \" opened on this line is never closed", 5),
    ("cannot read the section header '[kube-master'", 7),
    ("'node4' in [kube-node] is not defined as a host", 13),
    ("[etcd] has 2 members", 15),
    ("no host in [kube-master]", None),
]

PASSWORDS = ("Login-Pw-node1", "Sudo-Pw-node2", "Root-Pw-node3")
HOSTS_WITH_PASSWORDS = f"""\
[all]
master ansible_connection=local ip=192.168.0.1
node1 ansible_host=192.168.0.2 ip=192.168.0.2 ansible_ssh_pass={PASSWORDS[0]}
node2 ansible_host=node2.example.com ip=192.168.0.3 ansible_user=deploy ansible_port=2222 ansible_become_pass={PASSWORDS[1]}
node3 ansible_host=192.168.0.4 ip=192.168.0.4 ansible_ssh_pass="{PASSWORDS[2]}"

[kube-master]
master

[kube-node]
node1
node2
node3

[etcd]
master
"""


def test_all_problems_come_in_one_invalid_input(write_cluster):
    path = write_cluster(BROKEN_HOSTS)
    with pytest.raises(InvalidInput) as raised:
        cluster.load(path)

    errors = raised.value.problems.errors
    found = {(p.message, p.line) for p in errors}
    for fragment, line in EXPECTED:
        assert any(fragment in message and where == line for message, where in found), (fragment, line, found)
    assert all(p.fix for p in errors)
    assert all(p.path == str(path) for p in errors)


def test_render_names_file_line_and_fix(write_cluster):
    path = write_cluster(BROKEN_HOSTS)
    with pytest.raises(InvalidInput) as raised:
        cluster.load(path)

    text = raised.value.render()
    errors = raised.value.problems.errors
    assert text.splitlines()[0] == f"{len(errors)} problem(s) in the cluster's inventory or config:"
    assert text.count("fix: ") == len(errors)
    for fragment, line in EXPECTED:
        where = f"{path}:{line}: " if line else f"{path}: "
        assert any(where in row and fragment in row for row in text.splitlines()), (where, fragment)
    assert str(raised.value) == text


def test_inventory_and_config_problems_are_reported_together(write_cluster):
    path = write_cluster(BROKEN_HOSTS, "nfs_server_enabled: true\n")
    with pytest.raises(InvalidInput) as raised:
        cluster.load(path)

    problems = raised.value.problems.errors
    assert any(p.key == "nfs_server_enabled" and p.path.endswith("vars.yml") for p in problems)
    assert any("'Master'" in p.message for p in problems)
    assert "vars.yml:1: unknown key nfs_server_enabled" in raised.value.render()


def test_render_orders_by_file_then_line_and_leaves_out_warnings():
    problems = Problems()
    problems.error("b.ini", "third", "fix c", line=2)
    problems.error("a.yml", "on a key", "fix k", key="kube_version")
    problems.warn("a.yml", "just a warning", "ignore")
    problems.error("b.ini", "second", "fix b", line=1)
    problems.error("a.yml", "first", line=3)

    assert InvalidInput(problems).render().splitlines() == [
        "4 problem(s) in the cluster's inventory or config:",
        "  - a.yml: kube_version: on a key",
        "      fix: fix k",
        "  - a.yml:3: first",
        "  - b.ini:1: second",
        "      fix: fix b",
        "  - b.ini:2: third",
        "      fix: fix c",
    ]


@pytest.mark.parametrize("problem, text", [
    (Problem("h.ini", "bad", "do this", line=4), "h.ini:4: bad -> do this"),
    (Problem("v.yml", "bad", key="nfs_path"), "v.yml: nfs_path: bad"),
    (Problem("v.yml", "bad", "fix", line=2, key="k"), "v.yml:2: bad -> fix"),
])
def test_problem_text(problem, text):
    assert str(problem) == text


def test_check_of_a_bad_inventory_exits_2_without_traceback(write_cluster, capsys):
    path = write_cluster(BROKEN_HOSTS)
    assert cli.main(["check", "-i", str(path)]) == cli.EXIT_INVALID == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert "problem(s) in the cluster's inventory or config" in err
    for fragment, line in EXPECTED:
        assert fragment in err
        if line:
            assert f"{path}:{line}: " in err
    assert err.count("fix: ") >= len(EXPECTED)


def test_check_of_a_missing_inventory_exits_2(tmp_path, capsys):
    assert cli.main(["check", "-i", str(tmp_path / "hosts.ini")]) == 2
    _, err = capsys.readouterr()
    assert f"{tmp_path / 'hosts.ini'}: the inventory file does not exist" in err


def test_check_of_a_bad_config_exits_2(write_cluster, capsys):
    path = write_cluster(SEED_HOSTS_INI, "nfs_server_enable: true\nnfs_server_enable: true\n")
    assert cli.main(["check", "-i", str(path), "-c", str(path.parent / "vars.yml")]) == 2
    _, err = capsys.readouterr()
    assert "vars.yml:2: nfs_server_enable is set twice" in err


def test_check_of_the_seed_cluster_in_the_current_directory(write_cluster, tmp_path, monkeypatch, capsys):
    write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check"]) == 0

    out, err = capsys.readouterr()
    rows = out.splitlines()
    assert rows[0].split() == ["HOST", "IP", "CONNECT", "ROLES"]
    assert rows[1].split() == ["master", "192.168.0.1", "local", "etcd,kube-master"]
    assert rows[2].split() == ["node1", "192.168.0.2", "root@192.168.0.2:22", "kube-node"]
    assert rows[3].split() == ["node2", "192.168.0.3", "root@192.168.0.3:22", "kube-node"]
    assert "3 hosts; network calico, services 10.233.0.0/18, pods 10.233.64.0/18, " \
           "default storage: NFS server in Kubernetes" in out
    assert rows[-1] == "OK: hosts.ini and vars.yml are valid"
    assert "PASSWORD" not in out + err
    assert err == ""


def test_check_prints_warnings_and_sudo_users(write_cluster, capsys):
    path = write_cluster(HOSTS_WITH_PASSWORDS + "[all]\nspare ip=192.168.0.9\n",
                         SEED_VARS_YML, mode=0o644)
    assert cli.main(["check", "-i", str(path)]) == 0

    out, err = capsys.readouterr()
    assert "deploy@node2.example.com:2222 (sudo)" in out
    assert ["spare", "192.168.0.9", "root@192.168.0.9:22", "-"] in [row.split() for row in out.splitlines()]
    assert "warning: " in err and "'spare'" in err
    assert f"warning: {path}: holds passwords and is readable by other users -> chmod 600 {path}" in err
    for password in PASSWORDS:
        assert password not in out + err


def test_inventory_json_has_the_documented_shape_and_no_password(write_cluster, capsys):
    path = write_cluster(HOSTS_WITH_PASSWORDS, SEED_VARS_YML)
    assert cli.main(["inventory", "-i", str(path), "--json"]) == 0

    out, err = capsys.readouterr()
    for password in PASSWORDS:
        assert password not in out + err
    data = json.loads(out)
    assert list(data) == ["hosts"]
    assert list(data["hosts"]) == ["master", "node1", "node2", "node3"]
    types = {"host": str, "port": int, "user": str, "sudo": bool, "local": bool, "ip": str, "roles": list}
    for entry in data["hosts"].values():
        assert set(entry) == set(types)
        assert all(type(entry[key]) is kind for key, kind in types.items()), entry
    assert data["hosts"]["master"] == {"host": "127.0.0.1", "port": 22, "user": "root", "sudo": False,
                                       "local": True, "ip": "192.168.0.1", "roles": ["etcd", "kube-master"]}
    assert data["hosts"]["node2"] == {"host": "node2.example.com", "port": 2222, "user": "deploy", "sudo": True,
                                      "local": False, "ip": "192.168.0.3", "roles": ["kube-node"]}


def test_inventory_text_lists_name_ip_roles(write_cluster, capsys):
    path = write_cluster(HOSTS_WITH_PASSWORDS, SEED_VARS_YML)
    assert cli.main(["inventory", "-i", str(path)]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "master\t192.168.0.1\tetcd,kube-master",
        "node1\t192.168.0.2\tkube-node",
        "node2\t192.168.0.3\tkube-node",
        "node3\t192.168.0.4\tkube-node",
    ]
    for password in PASSWORDS:
        assert password not in out + err


def test_inventory_of_a_bad_cluster_exits_2(write_cluster, capsys):
    path = write_cluster(BROKEN_HOSTS)
    assert cli.main(["inventory", "-i", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert f"{path}:{line_number(BROKEN_HOSTS, '[kube-master')}: cannot read the section header" in err


def test_init_with_example_copies_the_example_files_once(tmp_path, capsys):
    target = tmp_path / "cluster"
    assert cli.main(["init", str(target), "--example"]) == 0
    out, _ = capsys.readouterr()

    assert (target / "Saltfile").is_file() and (target / ".salt" / "etc" / "master").is_file()
    assert (target / "hosts.ini").read_text() == (cli.paths.project_root() / "conf" / "hosts.ini").read_text()
    assert (target / "hosts.ini").stat().st_mode & 0o777 == 0o600
    assert f"wrote {target / 'hosts.ini'}" in out

    (target / "hosts.ini").write_text(SEED_HOSTS_INI)
    assert cli.main(["init", str(target), "--example"]) == 0
    out, _ = capsys.readouterr()
    assert "is already a cluster directory" in out
    assert (target / "hosts.ini").read_text() == SEED_HOSTS_INI
