"""`saltsphere node remove` and the dry runs of node add/remove: plan, refusals, steps, states (no host)."""

import contextlib
import importlib.util
import io
import json
import re
from unittest.mock import Mock

import pytest
from salt.exceptions import CommandExecutionError

from saltsphere import cli, cluster, etcdbackup, installer, nodeadd, noderemove, plan
from saltsphere.errors import ActionableError

from sample_inputs import ROOT, SEED_HOSTS_INI, SEED_VARS_YML
from test_node_add import MEMBERS, WITH_NODE3, _step

LINES = WITH_NODE3.splitlines()
ALL_LINE = LINES.index("node3  ansible_host=192.168.0.4  ip=192.168.0.4  ansible_ssh_pass=PASSWORD") + 1
NODE_LINE = LINES.index("[kube-node]") + 4


def _node(ready=True, ip="192.168.0.9", roles=()):
    return {"ready": ready, "ip": ip, "roles": list(roles)}


def _nodes(*names, **extra):
    found = {name: _node() for name in names}
    found.update(extra)
    return found


EVERY_NODE = _nodes("master", "node1", "node2", "node3")


@pytest.fixture(autouse=True)
def backups(monkeypatch):
    taken = Mock(return_value="/c/.saltsphere/backups/etcd-x.db")
    monkeypatch.setattr(etcdbackup, "backup", taken)
    return taken


@pytest.fixture
def hosts_ini(write_cluster, tmp_path):
    return write_cluster(WITH_NODE3, SEED_VARS_YML, directory=tmp_path / "cluster")


@pytest.fixture
def loaded(hosts_ini):
    return cluster.load(hosts_ini)


# --- the plan ---------------------------------------------------------------------------------------------------


def test_a_worker_of_hosts_ini_is_removed_and_its_lines_named(loaded, hosts_ini):
    found = noderemove.remove_plan(loaded, ["node3"], EVERY_NODE, MEMBERS)
    assert found == {
        "remove": ["node3"], "removed": {"node3": "192.168.0.4"}, "in_hosts_ini": ["node3"],
        "members": ["master", "node1", "node2"], "k8s_members": ["master", "node1", "node2"],
        "waiting": ["node3"], "lines": {"node3": [f"{hosts_ini}:{ALL_LINE}", f"{hosts_ini}:{NODE_LINE}"]},
    }


def test_a_node_no_longer_in_hosts_ini_is_removed_but_cannot_be_cleaned(write_cluster):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML))
    found = noderemove.remove_plan(loaded, ["node3"], {**EVERY_NODE, "node3": _node(ip="192.168.0.4")}, MEMBERS)
    assert (found["removed"], found["in_hosts_ini"], found["lines"]) == ({"node3": "192.168.0.4"}, [], {"node3": []})
    assert noderemove.not_cleaned(loaded, found, {}) == {"node3": f"not in {loaded.hosts_ini}, so salt-ssh has no "
                                                                  "way to it"}


def test_a_worker_that_is_no_node_any_more_is_planned_again_so_a_stopped_removal_finishes(loaded):
    found = noderemove.remove_plan(loaded, ["node3"], _nodes("master", "node1", "node2"), MEMBERS)
    assert found["remove"] == ["node3"] and found["k8s_members"] == ["master", "node1", "node2"]


def test_hosts_of_hosts_ini_that_are_no_nodes_are_not_expected_to_have_routes(loaded):
    found = noderemove.remove_plan(loaded, ["node3"], _nodes("master", "node1", "node3"), MEMBERS)
    assert found["waiting"] == ["node3", "node2"] and found["k8s_members"] == ["master", "node1"]


def test_a_host_that_does_not_answer_is_not_cleaned(loaded):
    found = noderemove.remove_plan(loaded, ["node2", "node3"], EVERY_NODE, MEMBERS)
    assert noderemove.not_cleaned(loaded, found, {"node3": "connection refused", "node1": "down"}) == {
        "node3": "connection refused"}


def test_master_and_etcd_hosts_are_refused_with_their_line_and_the_rules_to_come(write_cluster):
    text = WITH_NODE3.replace("[etcd]\nmaster\n", "[etcd]\nmaster\nnode1\nnode2\n")
    hosts_ini = write_cluster(text, SEED_VARS_YML)
    lines = text.splitlines()
    with pytest.raises(ActionableError) as caught:
        noderemove.remove_plan(cluster.load(hosts_ini), ["master", "node2"], EVERY_NODE, MEMBERS)
    message = str(caught.value)
    assert message.startswith("node remove refused; nothing was changed:")
    assert f"{hosts_ini}:{lines.index('[kube-master]') + 2}: master is in [kube-master]" in message
    assert f"{hosts_ini}:{lines.index('[etcd]') + 2}: master is in [etcd]" in message
    assert f"{hosts_ini}:{lines.index('[etcd]') + 4}: node2 is in [etcd]" in message
    assert "not built yet" in message and "the last master" in message and "quorum" in message


@pytest.mark.parametrize("named, found, members, reason", [
    (["node7"], EVERY_NODE, MEMBERS, "node7 is neither a host of"),
    (["cp9"], {**EVERY_NODE, "cp9": _node(roles=["control-plane", "master"])}, MEMBERS,
     "cp9 is a control-plane Node (not in"),
    (["etcd9"], EVERY_NODE, {**MEMBERS, "etcd9": []}, "etcd9 is a member of etcd (not in"),
    ([], EVERY_NODE, MEMBERS, "node remove needs the hosts to remove"),
])
def test_names_that_are_no_worker_are_refused(loaded, named, found, members, reason):
    with pytest.raises(ActionableError) as caught:
        noderemove.remove_plan(loaded, named, found, members)
    assert reason in str(caught.value)


def test_a_host_in_no_group_and_no_node_is_not_a_member(write_cluster):
    text = WITH_NODE3.replace("node1\nnode2\nnode3\n\n[etcd]", "node1\nnode2\n\n[etcd]")
    with pytest.raises(ActionableError) as caught:
        noderemove.remove_plan(cluster.load(write_cluster(text, SEED_VARS_YML)), ["node3"],
                               _nodes("master", "node1", "node2"), MEMBERS)
    assert "node3 is in no group of the cluster" in str(caught.value) and "not a member" in str(caught.value)


def test_every_refusal_at_once(loaded):
    with pytest.raises(ActionableError) as caught:
        noderemove.remove_plan(loaded, ["master", "node7", "node3"], EVERY_NODE, MEMBERS)
    assert str(caught.value).count("\n  ") == 3  # master twice ([kube-master], [etcd]), node7


# --- the command ------------------------------------------------------------------------------------------------


def _args(hosts_ini, hosts=("node3",), yes=True, dry_run=False):
    return type("Args", (), {"inventory": str(hosts_ini), "hosts": list(hosts), "yes": yes, "dry_run": dry_run})()


def _remove(hosts_ini, runner=None, unanswering=None, **kwargs):
    kwargs.setdefault("out", io.StringIO())
    kwargs.setdefault("err", io.StringIO())
    return noderemove.remove(_args(hosts_ini, **kwargs.pop("args", {})),
                             runner=runner or Mock(side_effect=lambda d, step, hosts: _step(step, hosts)),
                             ask_nodes=lambda loaded: EVERY_NODE, ask_etcd=lambda loaded: MEMBERS,
                             probe_hosts=lambda loaded, plan: unanswering or {}, **kwargs)


def test_yes_backs_up_then_runs_every_step_in_order_and_names_the_lines_to_delete(hosts_ini, backups):
    order = []
    backups.side_effect = lambda loaded, out=None: order.append("backup")
    runner = Mock(side_effect=lambda directory, step, hosts: order.append(step) or _step(step, hosts))
    out = io.StringIO()
    assert _remove(hosts_ini, runner, out=out) == 0
    assert order == ["backup", *noderemove.STEPS]
    assert [call.args[1:] for call in runner.call_args_list] == [(step, ["node3"]) for step in noderemove.STEPS]
    lines = out.getvalue().splitlines()
    assert [re.sub(r"\s+", " ", line) for line in lines[:5]] == [
        f"[{i}/5] {step} ok 1 hosts done, 0 failed, 1 changed 0 s" for i, step in enumerate(noderemove.STEPS, 1)]
    assert lines[5].startswith("1 host(s) removed from the cluster in")
    assert lines[6] == f"Delete these lines from {hosts_ini} (each names a removed host): {hosts_ini}:{ALL_LINE}, " \
                       f"{hosts_ini}:{NODE_LINE}"
    assert "not cleaned" not in out.getvalue()


def test_a_host_that_does_not_answer_is_removed_and_said_not_cleaned(hosts_ini):
    out = io.StringIO()
    assert _remove(hosts_ini, unanswering={"node3": "no route to host"}, out=out) == 0
    text = out.getvalue()
    assert "node3 was removed from the cluster but the host itself was not cleaned (no route to host)" in text
    assert "salt-ssh node3 state.sls kubernetes.clean,network.clean,containerd.clean,os.clean" in text


def test_a_failed_backup_changes_no_host(hosts_ini, backups):
    backups.side_effect = ActionableError("no etcd member answered")
    runner, err = Mock(), io.StringIO()
    assert _remove(hosts_ini, runner, err=err) == 1
    assert not runner.called and "no host was changed: the etcd backup taken before removing hosts" in err.getvalue()


def test_a_failed_step_stops_the_run_and_says_how_to_go_on(hosts_ini):
    runner = Mock(side_effect=lambda d, step, hosts: _step(step, hosts, "master" if step == "delete" else None))
    out = io.StringIO()
    assert _remove(hosts_ini, runner, out=out) == 1
    assert runner.call_count == 3
    assert "phase delete failed on master" in out.getvalue() and "run the same command again" in out.getvalue()


def test_a_refusal_exits_2_before_anything(hosts_ini, backups):
    runner, err = Mock(), io.StringIO()
    assert _remove(hosts_ini, runner, err=err, args={"hosts": ["master"]}) == 2
    assert not runner.called and not backups.called and "master is in [kube-master]" in err.getvalue()


def test_it_asks_first_and_no_changes_nothing(hosts_ini, backups):
    runner, out = Mock(), io.StringIO()
    assert _remove(hosts_ini, runner, out=out, args={"yes": False}, ask=lambda prompt: "no", interactive=True) == 0
    assert not runner.called and not backups.called
    assert "This drains node3" in out.getvalue() and "Nothing was changed." in out.getvalue()


def test_without_a_terminal_it_refuses_and_says_to_pass_yes(hosts_ini):
    runner, err = Mock(), io.StringIO()
    assert _remove(hosts_ini, runner, err=err, args={"yes": False}, interactive=False) == 2
    assert not runner.called and "pass --yes" in err.getvalue()


def test_the_dry_run_runs_every_step_under_test_and_takes_no_backup(hosts_ini, backups):
    runner = Mock(side_effect=lambda directory, step, hosts, test=False: _step(step, hosts))
    dry_run = Mock(return_value=0)
    assert _remove(hosts_ini, runner, args={"yes": False, "dry_run": True}, dry_run=dry_run) == 0
    assert not backups.called and not runner.called
    (loaded, verb, steps, targets), kwargs = dry_run.call_args
    assert (verb, steps, targets) == ("node remove", noderemove.STEPS, ["node3"])
    kwargs["runner"]("/c", "drain")
    runner.assert_called_once_with("/c", "drain", ["node3"], test=True)


def test_the_step_runner_asks_salt_run_for_one_step_of_node_remove(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(installer, "run_group", lambda argv, cwd, timeout: seen.update(argv=argv) or (0, "{}", ""))
    noderemove.run_step(tmp_path, "drain", ["node3"], test=True)
    assert seen["argv"][-3:] == ["kubesphere.node_remove",
                                 'pillar={"saltsphere_node_remove": {"hosts": ["node3"], "step": "drain"}}',
                                 "test=True"]


def test_the_cli_parses_node_remove(monkeypatch):
    seen = {}
    monkeypatch.setattr(noderemove, "remove", lambda args: seen.update(vars(args)) or 0)
    assert cli.main(["node", "remove", "node3", "-i", "x/hosts.ini", "--yes", "--dry-run"]) == 0
    assert (seen["hosts"], seen["inventory"], seen["yes"], seen["dry_run"]) == (["node3"], "x/hosts.ini", True, True)
    with pytest.raises(SystemExit):
        cli.main(["node", "remove", "-i", "x/hosts.ini"])


def test_the_steps_are_the_orchestrations():
    text = (ROOT / "orchestrate" / "kubesphere" / "node_remove.sls").read_text()
    listed = re.search(r"set steps = \[([^\]]*)\]", text).group(1)
    assert tuple(name.strip(" '") for name in listed.split(",")) == noderemove.STEPS


# --- node add --dry-run -----------------------------------------------------------------------------------------


def test_node_add_dry_run_runs_every_step_under_test_and_takes_no_backup(hosts_ini, backups):
    runner = Mock(side_effect=lambda directory, step, hosts, test=False: _step(step, hosts))
    dry_run = Mock(return_value=1)
    args = type("Args", (), {"inventory": str(hosts_ini), "hosts": [], "yes": False, "dry_run": True})()
    assert nodeadd.add(args, runner=runner, out=io.StringIO(), err=io.StringIO(), dry_run=dry_run,
                       ask_nodes=lambda loaded: _nodes("master", "node1", "node2"),
                       ask_etcd=lambda loaded: MEMBERS) == 1
    assert not backups.called and not runner.called
    (loaded, verb, steps, targets), kwargs = dry_run.call_args
    assert (verb, steps, targets) == ("node add", nodeadd.STEPS, ["node3"])
    kwargs["runner"]("/c", "os")
    runner.assert_called_once_with("/c", "os", ["node3"], test=True)


def test_node_add_run_step_under_test(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(installer, "run_group", lambda argv, cwd, timeout: seen.update(argv=argv) or (0, "{}", ""))
    nodeadd.run_step(tmp_path, "os", ["node3"], test=True)
    assert seen["argv"][-1] == "test=True"


def test_install_add_nodes_dry_run_is_node_add_dry_run(monkeypatch):
    seen = {}
    monkeypatch.setattr(nodeadd, "add", lambda args, out=None, err=None: seen.update(vars(args)) or 0)
    assert cli.main(["install", "--add-nodes", "-i", "x/hosts.ini", "--dry-run"]) == 0
    assert seen["dry_run"] is True


# --- the dry run's report ---------------------------------------------------------------------------------------


def _dry_step(step, changes):
    """A step's test=True return: ``changes`` {host: number of states that would change}."""
    ret = {host: {f"cmd_|-{step}{i}_|-x_|-run": {"__id__": f"{step}{i}", "result": None, "changes": {},
                                                   "__run_num__": i} for i in range(count)}
           for host, count in changes.items()}
    for host in ret:
        ret[host][f"cmd_|-{step}-same_|-x_|-run"] = {"__id__": f"{step}-same", "result": True, "changes": {},
                                                      "__run_num__": 9}
    sid = f"kubesphere-node-remove-{step}-salt-state"
    state = {"__id__": sid, "result": None, "__run_num__": 0, "changes": {"ret": ret}, "comment": ""}
    return 0, json.dumps({"data": {"taskbox_master": {f"salt_|-{sid}_|-{sid}_|-state": state}}, "retcode": 0}), ""


@pytest.fixture
def in_place(monkeypatch, loaded, tmp_path):
    (tmp_path / "cluster" / ".saltsphere").mkdir()
    monkeypatch.setattr(plan, "_in_place", lambda loaded, probe_for: contextlib.nullcontext())


def test_a_day_two_dry_run_prints_a_table_per_step_and_who_would_change(loaded, in_place):
    answers = {"drain": {"master": 1}, "clean": {"node3": 4}, "delete": {"master": 1}, "routes": {"node1": 0},
               "hosts": {"node1": 1, "master": 0}}
    out = io.StringIO()
    code = plan.run_steps(loaded, "node remove", noderemove.STEPS, ["node3"], out=out, err=io.StringIO(),
                          runner=lambda directory, step: _dry_step(step, answers[step]))
    text = out.getvalue()
    assert code == 0, text
    assert "[2/5] clean" in text and "1 of 1 host(s) would change" in text
    assert text.splitlines()[-5:] == ["Would change:", "  master: drain, delete", "  node3: clean", "  node1: hosts",
                                      "No state would fail. Nothing was changed (every state ran with test=True)."]


def test_a_day_two_dry_run_with_nothing_to_do_says_so_and_one_that_would_fail_exits_1(loaded, in_place):
    out = io.StringIO()
    assert plan.run_steps(loaded, "node remove", noderemove.STEPS, ["node3"], out=out, err=io.StringIO(),
                          runner=lambda directory, step: _dry_step(step, {"master": 0})) == 0
    assert "Nothing would change on any host." in out.getvalue()
    failing = Mock(side_effect=lambda directory, step: _step(step, ["master"], "master" if step == "clean" else None))
    out = io.StringIO()
    assert plan.run_steps(loaded, "node remove", noderemove.STEPS, ["node3"], out=out, err=io.StringIO(),
                          runner=failing) == 1
    assert failing.call_count == 5 and "Would FAIL in: clean." in out.getvalue()


def test_a_day_two_dry_run_needs_the_installed_cluster_directory(loaded):
    err, runner = io.StringIO(), Mock()
    assert plan.run_steps(loaded, "node add", nodeadd.STEPS, ["node3"], runner=runner, out=io.StringIO(),
                          err=err) == 1
    assert not runner.called and ".saltsphere does not exist" in err.getvalue()


# --- the host-side states ---------------------------------------------------------------------------------------


def _load(kind, name):
    spec = importlib.util.spec_from_file_location(f"{name}_{kind}_remove", ROOT / "extension_modules" / kind /
                                                  f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kubernetes = _load("states", "saltsphere_kubernetes")


def _wire(salt, test=False):
    kubernetes.__salt__ = salt
    kubernetes.__opts__ = {"test": test}
    return kubernetes


def _never(what):
    return Mock(side_effect=AssertionError(f"{what} was called"))


@pytest.mark.parametrize("test", [True, False])
def test_a_node_already_gone_is_neither_drained_nor_deleted(test):
    salt = {"saltsphere_kubernetes.nodes": Mock(return_value={"master": {"ready": True}}),
            "saltsphere_kubernetes.drain": _never("drain"), "saltsphere_kubernetes.delete_node": _never("delete")}
    for ret in (_wire(salt, test).node_drained("node3"), _wire(salt, test).node_absent("node3")):
        assert ret["result"] is True and ret["changes"] == {}


def test_under_test_a_node_would_be_drained_and_deleted_and_nothing_is_done():
    salt = {"saltsphere_kubernetes.nodes": Mock(return_value={"node3": {"ready": False}}),
            "saltsphere_kubernetes.drain": _never("drain"), "saltsphere_kubernetes.delete_node": _never("delete")}
    drained = _wire(salt, test=True).node_drained("node3")
    assert drained["result"] is None and "its pods deleted without waiting" in drained["comment"]
    assert _wire(salt, test=True).node_absent("node3")["result"] is None


def test_a_node_is_drained_with_its_bound_then_deleted():
    salt = {"saltsphere_kubernetes.nodes": Mock(return_value={"node3": {"ready": True}}),
            "saltsphere_kubernetes.drain": Mock(return_value="drained"),
            "saltsphere_kubernetes.delete_node": Mock(return_value=True)}
    ret = _wire(salt).node_drained("node3", timeout=30, force=True)
    assert ret["result"] is True and ret["changes"] == {"node3": "drained"}
    salt["saltsphere_kubernetes.drain"].assert_called_once_with("node3", 30, True)
    ret = _wire(salt).node_absent("node3")
    assert ret["changes"] == {"node3": {"old": "present", "new": None}}
    salt["saltsphere_kubernetes.delete_node"].assert_called_once_with("node3")


def test_an_api_that_does_not_answer_fails_the_drain_with_what_to_do():
    salt = {"saltsphere_kubernetes.nodes": Mock(side_effect=CommandExecutionError("kubectl get nodes failed: x"))}
    ret = _wire(salt).node_drained("node3")
    assert ret["result"] is False and "run the removal again" in ret["comment"]


module = _load("modules", "saltsphere_kubernetes")


@pytest.mark.parametrize("ready, force, drain_fails, expect", [
    (True, False, False, ["cordon", "drain"]),
    (True, False, True, ["cordon", "drain", "delete"]),
    (False, False, False, ["cordon", "delete"]),
    (True, True, False, ["cordon", "delete"]),
])
def test_drain_evicts_a_ready_node_and_deletes_the_pods_of_one_that_cannot_answer(monkeypatch, ready, force,
                                                                                   drain_fails, expect):
    calls = []

    def kubectl(args, kubeconfig=None, timeout=30, input_text=None):
        calls.append(args[0])
        if args[0] == "drain" and drain_fails:
            raise CommandExecutionError("timed out")
        return ""
    monkeypatch.setattr(module, "_kubectl", kubectl)
    monkeypatch.setattr(module, "nodes", lambda: {"node3": {"ready": ready}})
    done = module.drain("node3", timeout=5, force=force)
    assert calls == expect
    assert done == "drained" if expect[-1] == "drain" else done.startswith("pods deleted without waiting")


def test_deleting_a_node_deletes_the_pods_still_bound_to_it(monkeypatch):
    calls = []
    monkeypatch.setattr(module, "_kubectl", lambda args, kubeconfig=None, timeout=30: calls.append(args) or "")
    assert module.delete_node("node3") is True
    assert calls[0][:3] == ["delete", "node", "node3"]
    assert calls[1][:2] == ["delete", "pods"] and "--field-selector=spec.nodeName=node3" in calls[1]
