"""`saltsphere node list`: hosts.ini against the cluster's Nodes and etcd members (the cluster's answers given)."""

import io
import json

import pytest

from saltsphere import cli, cluster, nodes
from saltsphere.errors import ActionableError

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML


def _node(ready=True, ip="192.168.0.1", roles=()):
    return {"ready": ready, "ip": ip, "roles": list(roles)}


@pytest.fixture
def loaded(write_cluster):
    return cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML))


def test_every_host_a_member(loaded):
    rows = nodes.membership(loaded, {"master": _node(roles=["master"]), "node1": _node(ip="192.168.0.2"),
                                     "node2": _node(False, "192.168.0.3")}, {"master": ["https://192.168.0.1:2380"]})
    assert [(r["host"], r["state"], r["kubernetes"], r["etcd"]) for r in rows] == [
        ("master", "member", "Ready", True), ("node1", "member", "Ready", False),
        ("node2", "member", "NotReady", False)]
    assert nodes.advice(rows) == []


def test_hosts_not_added_partly_added_and_unknown(loaded):
    # master's Node exists but its etcd member does not; node2 is nothing yet; old1 and old2 left hosts.ini.
    rows = nodes.membership(loaded, {"master": _node(), "node1": _node(), "old1": _node(ip="192.168.0.9")},
                            {"old2": ["https://192.168.0.8:2380"]})
    by_host = {row["host"]: row for row in rows}
    assert by_host["master"]["state"] == "partly added" and by_host["master"]["missing"] == ["no etcd member"]
    assert by_host["node1"]["state"] == "member"
    assert by_host["node2"]["state"] == "not yet added" and by_host["node2"]["missing"] == ["no Node"]
    assert (by_host["old1"]["state"], by_host["old1"]["ip"], by_host["old1"]["etcd"]) == (
        "not in hosts.ini", "192.168.0.9", False)
    assert (by_host["old2"]["state"], by_host["old2"]["kubernetes"], by_host["old2"]["etcd"]) == (
        "not in hosts.ini", None, True)
    advice = "\n".join(nodes.advice(rows))
    assert "not members yet: master, node2." in advice
    assert "in the cluster but not in hosts.ini: old1, old2." in advice
    assert "`saltsphere node remove NAME` (the last master" in advice


def test_table_and_json(loaded):
    out = io.StringIO()
    assert nodes.run(loaded, out=out, ask_nodes=lambda c: {"master": _node(), "gone": _node(False, "10.0.0.9")},
                     ask_etcd=lambda c: {"master": []}) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["HOST", "IP", "ROLES", "(hosts.ini)", "KUBERNETES", "ETCD", "STATE"]
    assert lines[1].split() == ["master", "192.168.0.1", "etcd,kube-master", "Ready", "member", "member"]
    assert lines[2].split()[:5] == ["node1", "192.168.0.2", "kube-node", "-", "-"]
    assert lines[2].endswith("not yet added (no Node)")
    assert lines[4].split() == ["gone", "10.0.0.9", "-", "NotReady", "-", "not", "in", "hosts.ini"]

    out = io.StringIO()
    nodes.run(loaded, as_json=True, out=out, ask_nodes=lambda c: {}, ask_etcd=lambda c: {})
    report = json.loads(out.getvalue())
    assert [row["state"] for row in report["hosts"]] == ["not yet added"] * 3


def test_a_cluster_that_does_not_answer_is_named(loaded, monkeypatch):
    monkeypatch.setattr(nodes.status, "api_context", lambda c: None)

    def refuse(ip, port, context, path, timeout=5):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(nodes.status, "api_get", refuse)
    with pytest.raises(ActionableError, match=r"no Kubernetes API server of \[kube-master\] answered: "
                                              r"master \(192.168.0.1:6443\): .*Connection refused"):
        nodes.kubernetes_nodes(loaded)


def test_the_command_line(write_cluster, monkeypatch, capsys):
    path = write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)
    seen = {}

    def run(loaded, as_json=False):
        seen.update(hosts=list(loaded.hosts), as_json=as_json)
        return 0

    monkeypatch.setattr(nodes, "run", run)
    assert cli.main(["node", "list", "-i", str(path), "--json"]) == 0
    assert seen == {"hosts": ["master", "node1", "node2"], "as_json": True}
    assert cli.main(["node", "list", "-i", str(path.parent / "missing.ini")]) == 2
    assert "missing.ini" in capsys.readouterr().err
