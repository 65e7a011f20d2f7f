"""`saltsphere node add` and `./install.sh --add-nodes`: which hosts, refusals, confirmation, steps (no host)."""

import io
import json
import re
from unittest.mock import Mock

import pytest

from saltsphere import cli, cluster, etcdbackup, installer, nodeadd, nodes
from saltsphere.errors import ActionableError

from sample_inputs import ROOT, SEED_HOSTS_INI, SEED_VARS_YML

WITH_NODE3 = SEED_HOSTS_INI.replace(
    "node2  ansible_host=192.168.0.3  ip=192.168.0.3  ansible_ssh_pass=PASSWORD\n",
    "node2  ansible_host=192.168.0.3  ip=192.168.0.3  ansible_ssh_pass=PASSWORD\n"
    "node3  ansible_host=192.168.0.4  ip=192.168.0.4  ansible_ssh_pass=PASSWORD\n").replace(
    "node1\nnode2\n\n[etcd]", "node1\nnode2\nnode3\n\n[etcd]")
MEMBERS = {"master": ["https://192.168.0.1:2380"]}
# A worker's addition adds no etcd member: its etcd step is not run.
WORKER_STEPS = tuple(step for step in nodeadd.STEPS if step != "etcd")


def _node(ready=True):
    return {"ready": ready, "ip": "192.168.0.9", "roles": []}


def _nodes(*names, not_ready=()):
    return {name: _node(name not in not_ready) for name in names}


@pytest.fixture(autouse=True)
def backups(monkeypatch):
    """The etcd backup each add takes first (the hosts it asks are not there)."""
    taken = Mock(return_value="/c/.saltsphere/backups/etcd-x.db")
    monkeypatch.setattr(etcdbackup, "backup", taken)
    return taken


@pytest.fixture
def loaded(write_cluster):
    return cluster.load(write_cluster(WITH_NODE3, SEED_VARS_YML))


def test_none_named_adds_every_host_not_yet_a_member(loaded):
    plan = nodes.add_plan(loaded, [], _nodes("master", "node1", "node2"), MEMBERS)
    assert {key: plan[key] for key in ("add", "members", "waiting")} == {
        "add": ["node3"], "members": ["master", "node1", "node2"], "waiting": []}
    assert plan["etcd_add"] == [] and plan["masters_add"] == [] and plan["first_master"] == "master"


def test_a_named_host_leaves_the_other_new_ones_waiting(loaded):
    plan = nodes.add_plan(loaded, ["node3"], _nodes("master", "node1"), MEMBERS)
    assert {key: plan[key] for key in ("add", "members", "waiting")} == {
        "add": ["node3"], "members": ["master", "node1"], "waiting": ["node2"]}


def test_nothing_to_add(loaded):
    plan = nodes.add_plan(loaded, [], _nodes("master", "node1", "node2", "node3"), MEMBERS)
    assert plan["add"] == [] and plan["waiting"] == []


def test_a_named_node_that_is_not_ready_is_added_again(loaded):
    plan = nodes.add_plan(loaded, ["node3"], _nodes("master", "node1", "node2", "node3", not_ready=["node3"]), MEMBERS)
    assert plan["add"] == ["node3"] and "node3" not in plan["members"]


@pytest.mark.parametrize("named, reason", [
    (["node1"], "node1 is a member of the cluster already (its Node is Ready): nothing to add"),
    (["node9"], "node9 is not a host of"),
])
def test_refusals_name_the_host_and_the_reason(loaded, named, reason):
    with pytest.raises(ActionableError) as caught:
        nodes.add_plan(loaded, named, _nodes("master", "node1", "node2"), MEMBERS)
    assert reason in str(caught.value) and "nothing was changed" in str(caught.value)


def test_a_later_step_accepts_a_named_host_that_joined_already(loaded):
    plan = nodes.add_plan(loaded, ["node3"], _nodes("master", "node1", "node2", "node3"), MEMBERS, again=True)
    assert plan["add"] == ["node3"]


NEW_MASTERS = WITH_NODE3.replace("[kube-master]\nmaster\n", "[kube-master]\nmaster\nnode2\nnode3\n").replace(
    "[etcd]\nmaster\n", "[etcd]\nmaster\nnode2\nnode3\n")


def test_new_masters_and_etcd_members_join_one_after_the_other(write_cluster):
    loaded = cluster.load(write_cluster(NEW_MASTERS, SEED_VARS_YML))
    plan = nodes.add_plan(loaded, ["node2", "node3"], _nodes("master", "node1"), MEMBERS)
    assert plan["masters_add"] == ["node2", "node3"] and plan["etcd_add"] == ["node2", "node3"]
    assert plan["etcd_peer"] == "master" and plan["first_master"] == "master" and plan["masters"] == ["master"]
    assert plan["etcd_join"] == {
        "node2": {"initial_cluster": "master=https://192.168.0.1:2380,node2=https://192.168.0.3:2380"},
        "node3": {"initial_cluster": "master=https://192.168.0.1:2380,node2=https://192.168.0.3:2380,"
                                     "node3=https://192.168.0.4:2380"}}
    assert plan["etcd_servers"] == [f"https://192.168.0.{i}:2379" for i in (1, 3, 4)]


def test_an_add_stopped_after_etcd_member_add_finishes_with_the_same_initial_cluster(write_cluster):
    loaded = cluster.load(write_cluster(NEW_MASTERS, SEED_VARS_YML))
    added = {**MEMBERS, "https://192.168.0.3:2380": ["https://192.168.0.3:2380"]}
    plan = nodes.add_plan(loaded, ["node2", "node3"], _nodes("master", "node1"), added)
    assert plan["etcd_join"]["node2"] == {
        "initial_cluster": "master=https://192.168.0.1:2380,node2=https://192.168.0.3:2380"}


def test_the_first_master_and_an_unknown_unstarted_member_are_refused_with_why(write_cluster):
    loaded = cluster.load(write_cluster(NEW_MASTERS, SEED_VARS_YML))
    with pytest.raises(ActionableError) as caught:
        nodes.add_plan(loaded, ["master"], _nodes("node1", "node2"),
                       {"node2": ["https://192.168.0.3:2380"], "https://10.9.9.9:2380": ["https://10.9.9.9:2380"]})
    message = str(caught.value)
    assert "master is the first master of" in message and "kubeadm init" in message
    assert "etcd has a member added but never started (https://10.9.9.9:2380)" in message


def test_an_etcd_host_with_no_running_member_to_join_is_refused(write_cluster):
    loaded = cluster.load(write_cluster(NEW_MASTERS, SEED_VARS_YML))
    with pytest.raises(ActionableError) as caught:
        nodes.add_plan(loaded, ["master", "node2", "node3"], _nodes("node1"), {})
    assert "can only join a running etcd cluster" in str(caught.value)


def _step(step, hosts, failed=None):
    ret = {host: {f"cmd_|-{step}_|-x_|-run": {"__id__": step, "result": host != failed, "changes": {"x": 1},
                                                 "comment": "broke" if host == failed else "", "__run_num__": 0}}
           for host in hosts}
    sid = f"kubesphere-node-add-{step}-salt-state"
    state = {"__id__": sid, "result": failed is None, "__run_num__": 0, "changes": {"ret": ret},
             "comment": f"Run failed on minions: {failed}" if failed else "States ran successfully."}
    return (1 if failed else 0), json.dumps({"data": {"taskbox_master": {f"salt_|-{sid}_|-{sid}_|-state": state}},
                                             "retcode": 1 if failed else 0}), ""


def _args(hosts_ini, hosts=(), yes=True):
    return type("Args", (), {"inventory": str(hosts_ini), "hosts": list(hosts), "yes": yes})()


@pytest.fixture
def hosts_ini(write_cluster, tmp_path):
    return write_cluster(WITH_NODE3, SEED_VARS_YML, directory=tmp_path / "cluster")


def _asking(joined=()):
    asked = {"count": 0}

    def ask_nodes(loaded):
        asked["count"] += 1
        return _nodes("master", "node1", "node2", *(joined if asked["count"] > 1 else ()))
    return ask_nodes


def test_yes_runs_every_step_in_order_with_a_line_each_then_the_table(hosts_ini):
    runner = Mock(side_effect=lambda directory, step, hosts: _step(step, hosts))
    out = io.StringIO()
    code = nodeadd.add(_args(hosts_ini), runner=runner, out=out, err=io.StringIO(), ask_nodes=_asking(["node3"]),
                       ask_etcd=lambda loaded: MEMBERS)
    assert code == 0
    assert [call.args[1:] for call in runner.call_args_list] == [(step, ["node3"]) for step in WORKER_STEPS]
    lines = out.getvalue().splitlines()
    total = len(WORKER_STEPS)
    assert [re.sub(r"\s+", " ", line) for line in lines[:total]] == [
        f"[{i}/{total}] {step} ok 1 hosts done, 0 failed, 1 changed 0 s" for i, step in enumerate(WORKER_STEPS, 1)]
    assert lines[total].startswith("1 host(s) added in")
    assert lines[-1].split()[:4] == ["node3", "192.168.0.4", "kube-node", "Ready"]


def test_an_etcd_backup_comes_before_the_first_step(hosts_ini, backups):
    order = []
    backups.side_effect = lambda loaded, out=None: order.append("backup")
    runner = Mock(side_effect=lambda directory, step, hosts: order.append(step) or _step(step, hosts))
    assert nodeadd.add(_args(hosts_ini), runner=runner, out=io.StringIO(), err=io.StringIO(),
                       ask_nodes=_asking(["node3"]), ask_etcd=lambda loaded: MEMBERS) == 0
    assert order == ["backup", *WORKER_STEPS]


def test_a_failed_backup_changes_no_host(hosts_ini, backups):
    backups.side_effect = ActionableError("no etcd member answered")
    runner, err = Mock(), io.StringIO()
    assert nodeadd.add(_args(hosts_ini), runner=runner, out=io.StringIO(), err=err, ask_nodes=_asking(),
                       ask_etcd=lambda loaded: MEMBERS) == 1
    assert not runner.called
    assert "no host was changed: the etcd backup taken before adding hosts failed: no etcd member answered" in \
        err.getvalue()


def test_a_failed_step_stops_the_run_and_says_how_to_go_on(hosts_ini):
    runner = Mock(side_effect=lambda d, step, hosts: _step(step, hosts, "node3" if step == "kubernetes" else None))
    out = io.StringIO()
    assert nodeadd.add(_args(hosts_ini), runner=runner, out=out, err=io.StringIO(), ask_nodes=_asking(),
                       ask_etcd=lambda loaded: MEMBERS) == 1
    assert runner.call_count == WORKER_STEPS.index("kubernetes") + 1
    assert "phase kubernetes failed on node3" in out.getvalue() and "run the same command again" in out.getvalue()


def test_nothing_to_add_runs_nothing(hosts_ini, backups):
    runner = Mock()
    out = io.StringIO()
    assert nodeadd.add(_args(hosts_ini), runner=runner, out=out, err=io.StringIO(),
                       ask_nodes=lambda loaded: _nodes("master", "node1", "node2", "node3"),
                       ask_etcd=lambda loaded: MEMBERS) == 0
    assert not runner.called and not backups.called and "Nothing to add" in out.getvalue()


def test_a_refusal_exits_2_before_any_host_is_touched(hosts_ini):
    runner, err = Mock(), io.StringIO()
    assert nodeadd.add(_args(hosts_ini, ["node1", "node7"]), runner=runner, out=io.StringIO(), err=err,
                       ask_nodes=_asking(), ask_etcd=lambda loaded: MEMBERS) == 2
    assert not runner.called
    assert "node1 is a member" in err.getvalue() and "node7 is not a host of" in err.getvalue()


def test_bad_input_exits_2_before_the_cluster_is_asked(write_cluster, tmp_path):
    hosts_ini = write_cluster(WITH_NODE3.replace("ip=192.168.0.4", "ip=192.168.0.400"), SEED_VARS_YML)
    ask, err = Mock(), io.StringIO()
    assert nodeadd.add(_args(hosts_ini), runner=Mock(), out=io.StringIO(), err=err, ask_nodes=ask,
                       ask_etcd=ask) == 2
    assert not ask.called and "hosts.ini:" in err.getvalue()


def test_it_asks_first_and_no_changes_nothing(hosts_ini):
    runner, out = Mock(), io.StringIO()
    assert nodeadd.add(_args(hosts_ini, yes=False), runner=runner, ask=lambda prompt: "no", interactive=True,
                       out=out, err=io.StringIO(), ask_nodes=_asking(), ask_etcd=lambda loaded: MEMBERS) == 0
    assert not runner.called
    assert "joins them to the cluster;" in out.getvalue() and "Nothing was changed." in out.getvalue()


def test_without_a_terminal_it_refuses_and_says_to_pass_yes(hosts_ini):
    runner, err = Mock(), io.StringIO()
    assert nodeadd.add(_args(hosts_ini, yes=False), runner=runner, interactive=False, out=io.StringIO(), err=err,
                       ask_nodes=_asking(), ask_etcd=lambda loaded: MEMBERS) == 2
    assert not runner.called and "pass --yes" in err.getvalue()


def test_the_step_runner_asks_salt_run_for_one_step_of_node_add(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(installer, "run_group", lambda argv, cwd, timeout: seen.update(argv=argv) or (0, "{}", ""))
    nodeadd.run_step(tmp_path, "network", ["node3"])
    assert seen["argv"][-2:] == ["kubesphere.node_add",
                                 'pillar={"saltsphere_node_add": {"hosts": ["node3"], "step": "network"}}']


def test_the_cli_parses_node_add(monkeypatch):
    seen = {}
    monkeypatch.setattr(nodeadd, "add", lambda args: seen.update(vars(args)) or 0)
    assert cli.main(["node", "add", "node3", "node4", "-i", "x/hosts.ini", "--yes"]) == 0
    assert (seen["hosts"], seen["inventory"], seen["yes"]) == (["node3", "node4"], "x/hosts.ini", True)


@pytest.mark.parametrize("argv, hosts", [
    (["--add-nodes", "-i", "x/hosts.ini", "--yes"], []),
    (["--add-nodes", "node3", "-i", "x/hosts.ini"], ["node3"]),
])
def test_install_add_nodes_is_node_add(monkeypatch, argv, hosts):
    seen = {}
    monkeypatch.setattr(nodeadd, "add", lambda args, out=None, err=None: seen.update(vars(args)) or 0)
    assert cli.main(["install", *argv]) == 0
    assert seen["hosts"] == hosts and seen["inventory"] == "x/hosts.ini"


def test_install_add_nodes_excludes_the_install_modes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["install", "--multi-node", "--add-nodes", "-i", "x/hosts.ini"])


def test_the_steps_are_the_orchestrations():
    text = (ROOT / "orchestrate" / "kubesphere" / "node_add.sls").read_text()
    listed = re.search(r"set steps = \[([^\]]*)\]", text).group(1)
    assert tuple(name.strip(" '") for name in listed.split(",")) == nodeadd.STEPS


def test_only_an_addition_of_etcd_members_runs_the_etcd_step():
    assert nodeadd.steps_for({"etcd_add": []}) == WORKER_STEPS
    assert nodeadd.steps_for({"etcd_add": ["node3"]}) == nodeadd.STEPS
