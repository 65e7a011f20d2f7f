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
from test_node_add import WORKER_STEPS as WORKER_ADD_STEPS

# A worker's removal changes neither etcd nor the control plane: those steps are not run.
WORKER_STEPS = tuple(step for step in noderemove.STEPS if step not in ("etcd", "control-plane"))

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
        "first_master": "master", "masters": ["master"], "masters_removed": [], "etcd_removed": {},
        "etcd_peer": "master", "etcd_servers": ["https://192.168.0.1:2379"],
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


HA = SEED_HOSTS_INI.replace(
    "node1  ansible_host=192.168.0.2  ip=192.168.0.2  ansible_ssh_pass=PASSWORD\n",
    "master2  ansible_host=192.168.0.5  ip=192.168.0.5  ansible_ssh_pass=PASSWORD\n"
    "master3  ansible_host=192.168.0.6  ip=192.168.0.6  ansible_ssh_pass=PASSWORD\n"
    "node1  ansible_host=192.168.0.2  ip=192.168.0.2  ansible_ssh_pass=PASSWORD\n").replace(
    "[kube-master]\nmaster\n", "[kube-master]\nmaster\nmaster2\nmaster3\n").replace(
    "[etcd]\nmaster\n", "[etcd]\nmaster\nmaster2\nmaster3\n")
HA_MEMBERS = {name: [f"https://192.168.0.{i}:2380"] for name, i in (("master", 1), ("master2", 5), ("master3", 6))}
HA_NODES = _nodes("master", "master2", "master3", "node1", "node2")


@pytest.fixture
def ha(write_cluster):
    return cluster.load(write_cluster(HA, SEED_VARS_YML))


def test_a_master_and_etcd_member_leaves_and_the_next_master_acts_for_the_cluster(ha):
    found = noderemove.remove_plan(ha, ["master"], HA_NODES, HA_MEMBERS)
    assert found["first_master"] == "master2" and found["masters"] == ["master2", "master3"]
    assert found["masters_removed"] == ["master"] and found["etcd_removed"] == {"master": "192.168.0.1"}
    assert found["etcd_peer"] == "master2"
    assert found["etcd_servers"] == ["https://192.168.0.5:2379", "https://192.168.0.6:2379"]


def test_a_dead_master_that_hosts_ini_no_longer_names_is_removed_from_etcd_by_name(ha):
    nodes_found = {**HA_NODES, "master4": _node(ready=False, ip="192.168.0.7", roles=["control-plane", "master"])}
    members = {**HA_MEMBERS, "master4": ["https://192.168.0.7:2380"]}
    found = noderemove.remove_plan(ha, ["master4"], nodes_found, members)
    assert found["in_hosts_ini"] == [] and found["masters_removed"] == ["master4"]
    assert found["etcd_removed"] == {"master4": "192.168.0.7"} and found["etcd_peer"] == "master"
    assert found["masters"] == ["master", "master2", "master3"]


def test_a_worker_leaves_etcd_and_the_control_plane_alone(ha):
    found = noderemove.remove_plan(ha, ["node2"], HA_NODES, HA_MEMBERS)
    assert found["etcd_removed"] == {} and found["masters_removed"] == []


@pytest.mark.parametrize("named, members, why", [
    (["master2", "master3"], HA_MEMBERS, "removing master2, master3 leaves 1 of the 3 etcd members"),
    (["master2"], {name: HA_MEMBERS[name] for name in ("master", "master2")},
     "removing master2 leaves 1 of the 2 etcd members"),
    (["master"], {"master": HA_MEMBERS["master"]}, "removing master leaves 0 of the 1 etcd members"),
])
def test_etcd_members_whose_loss_costs_quorum_are_refused_and_say_why(ha, named, members, why):
    with pytest.raises(ActionableError) as caught:
        noderemove.remove_plan(ha, named, HA_NODES, members)
    message = str(caught.value)
    assert message.startswith("node remove refused; nothing was changed:") and why in message
    assert "majority" in message and "quorum" in message


def test_the_last_master_is_refused(loaded):
    with pytest.raises(ActionableError) as caught:
        noderemove.remove_plan(loaded, ["master"], EVERY_NODE, {})
    assert "the last master cannot be removed" in str(caught.value)


def test_a_refusal_runs_no_step_and_takes_no_backup(ha, backups):
    runner, err = Mock(), io.StringIO()
    args = _args(ha.hosts_ini, hosts=["master", "master2", "master3"])
    assert noderemove.remove(args, runner=runner, out=io.StringIO(), err=err, ask_nodes=lambda c: HA_NODES,
                             ask_etcd=lambda c: HA_MEMBERS) == noderemove.EXIT_INVALID
    assert not runner.called and not backups.called
    assert "leaves 0 of the 3 etcd members" in err.getvalue() and "the last master" in err.getvalue()


@pytest.mark.parametrize("named, found, members, reason", [
    (["node7"], EVERY_NODE, MEMBERS, "node7 is neither a host of"),
    ([], EVERY_NODE, MEMBERS, "node remove needs the hosts to remove"),
])
def test_names_that_are_no_member_are_refused(loaded, named, found, members, reason):
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
    assert str(caught.value).count("\n  ") == 3  # node7, etcd's quorum, the last master


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
    assert order == ["backup", *WORKER_STEPS]
    assert [call.args[1:] for call in runner.call_args_list] == [(step, ["node3"]) for step in WORKER_STEPS]
    lines = out.getvalue().splitlines()
    total = len(WORKER_STEPS)
    assert [re.sub(r"\s+", " ", line) for line in lines[:total]] == [
        f"[{i}/{total}] {step} ok 1 hosts done, 0 failed, 1 changed 0 s" for i, step in enumerate(WORKER_STEPS, 1)]
    assert lines[total].startswith("1 host(s) removed from the cluster in")
    assert lines[total + 1] == f"Delete these lines from {hosts_ini} (each names a removed host): {hosts_ini}:{ALL_LINE}, " \
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
    assert runner.call_count == WORKER_STEPS.index("delete") + 1
    assert "phase delete failed on master" in out.getvalue() and "run the same command again" in out.getvalue()


def test_a_refusal_exits_2_before_anything(hosts_ini, backups):
    runner, err = Mock(), io.StringIO()
    assert _remove(hosts_ini, runner, err=err, args={"hosts": ["master"]}) == 2
    assert not runner.called and not backups.called and "the last master cannot be removed" in err.getvalue()


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
    assert (verb, steps, targets) == ("node remove", WORKER_STEPS, ["node3"])
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
    assert (verb, steps, targets) == ("node add", WORKER_ADD_STEPS, ["node3"])
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


def _one_run(returns, returncode=0):
    """The steps' returns as one salt-run of the whole orchestration prints them."""
    merged = {}
    for _, stdout, _ in returns:
        for returner, states in json.loads(stdout)["data"].items():
            merged.setdefault(returner, {}).update(states)
    return returncode, json.dumps({"data": merged, "retcode": returncode}), ""


def test_a_day_two_dry_run_runs_once_and_prints_a_table_per_step_and_who_would_change(loaded, in_place):
    answers = {"drain": {"master": 1}, "etcd": {"master": 0}, "clean": {"node3": 4}, "delete": {"master": 1},
               "control-plane": {"master": 0}, "routes": {"node1": 0}, "hosts": {"node1": 1, "master": 0}}
    out = io.StringIO()
    runner = Mock(return_value=_one_run([_dry_step(step, answers[step]) for step in noderemove.STEPS]))
    code = plan.run_steps(loaded, "node remove", noderemove.STEPS, ["node3"], out=out, err=io.StringIO(),
                          runner=runner)
    text = out.getvalue()
    assert code == 0, text
    runner.assert_called_once_with(loaded.directory, None)
    assert f"[3/{len(noderemove.STEPS)}] clean" in text and "1 of 1 host(s) would change" in text
    assert text.splitlines()[-5:] == ["Would change:", "  master: drain, delete", "  node3: clean", "  node1: hosts",
                                      "No state would fail. Nothing was changed (every state ran with test=True)."]


def test_a_day_two_dry_run_with_nothing_to_do_says_so_and_one_that_would_fail_exits_1(loaded, in_place):
    out = io.StringIO()
    assert plan.run_steps(loaded, "node remove", noderemove.STEPS, ["node3"], out=out, err=io.StringIO(),
                          runner=lambda directory, step: _one_run([_dry_step(s, {"master": 0})
                                                                   for s in noderemove.STEPS])) == 0
    assert "Nothing would change on any host." in out.getvalue()
    # failhard: the run stops at the step that would fail; the steps after it say they did not run.
    returns = [_step(step, ["master"], "master" if step == "clean" else None)
               for step in noderemove.STEPS[:noderemove.STEPS.index("clean") + 1]]
    merged = _one_run([(c, o.replace("kubesphere-node-add-", "kubesphere-node-remove-"), e) for c, o, e in returns],
                      returncode=1)
    out = io.StringIO()
    assert plan.run_steps(loaded, "node remove", noderemove.STEPS, ["node3"], out=out, err=io.StringIO(),
                          runner=lambda directory, step: merged) == 1
    text = out.getvalue()
    assert "Would FAIL in: clean." in text and "not run: step clean would fail" in text
    assert text.splitlines()[-1] == "Not planned (an earlier step would fail): delete, control-plane, routes, hosts."
    assert f"[{noderemove.STEPS.index('drain') + 1}/{len(noderemove.STEPS)}] drain       ok" in text


def test_a_day_two_dry_run_that_printed_nothing_fails_its_first_step(loaded, in_place):
    out = io.StringIO()
    assert plan.run_steps(loaded, "node add", nodeadd.STEPS, ["node3"], out=out, err=io.StringIO(),
                          runner=lambda directory, step: (1, "", "Rendering SLS failed: node3 is a member")) == 1
    assert "[1/7] preflight" in out.getvalue() and "node3 is a member" in out.getvalue()
    assert "[2/7]" not in out.getvalue()


def test_states_no_step_names_go_to_the_first_step_after_the_preflight():
    prepare = {"__id__": "kubesphere-prepare-saltsphere-cluster-prepared", "result": None, "changes": {"x": 1},
               "__run_num__": 0, "duration": 1500.0}
    _, stdout, _ = _one_run([_dry_step("os", {"node3": 2})])
    data = json.loads(stdout)
    data["data"]["taskbox_master"]["saltsphere_cluster_|-p_|-p_|-prepared"] = prepare
    plans = plan.step_plans(plan.step_prefix("node add"), ("preflight", "os"), 0, json.dumps(data), "", ["node3"])
    assert [p.phase for p in plans] == ["preflight", "os"]
    assert plans[0].ok and plans[0].hosts == {} and plans[1].seconds == 1.5


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


# --- etcd membership and the API server's etcd list (masters and etcd members) ----------------------------------


etcd_states = _load("states", "saltsphere_etcd")
LISTED = [{"id": "11", "name": "master", "peer_urls": ["https://192.168.0.1:2380"], "started": True},
          {"id": "33", "name": "master3", "peer_urls": ["https://192.168.0.6:2380"], "started": True}]
CLIENT = {"endpoint": "https://192.168.0.1:2379", "ca": "ca.crt", "cert": "h.crt", "key": "h.key"}


def _etcd(listed=LISTED, test=False, **more):
    etcd_states.__salt__ = {"saltsphere_etcd.member_list": Mock(return_value={"members": listed, "error": None}),
                            "saltsphere_etcd.member_remove": _never("member_remove"),
                            "saltsphere_etcd.member_add": _never("member_add"), **more}
    etcd_states.__opts__ = {"test": test}
    return etcd_states


@pytest.mark.parametrize("test", [True, False])
def test_a_member_gone_already_is_left_and_one_there_is_removed_by_its_id(test):
    assert _etcd(LISTED[:1], test).member_absent("master3", **CLIENT)["changes"] == {}
    remove = Mock(return_value={"removed": True, "error": None})
    ret = _etcd(test=test, **{"saltsphere_etcd.member_remove": remove if not test else _never("remove")}).member_absent(
        "master3", peer_url="https://192.168.0.6:2380", **CLIENT)
    assert ret["result"] is (None if test else True) and ret["changes"] == {"removed": ["33"]}
    if not test:
        remove.assert_called_once_with(CLIENT["endpoint"], "33", "ca.crt", "h.crt", "h.key")


def test_a_member_added_but_never_started_is_found_by_its_peer_url():
    unstarted = [LISTED[0], {"id": "44", "name": "", "peer_urls": ["https://192.168.0.6:2380"], "started": False}]
    remove = Mock(return_value={"removed": True, "error": None})
    ret = _etcd(unstarted, **{"saltsphere_etcd.member_remove": remove}).member_absent(
        "master3", peer_url="https://192.168.0.6:2380", **CLIENT)
    assert ret["changes"] == {"removed": ["44"]}


@pytest.mark.parametrize("fails", ["list", "remove"])
def test_a_removal_etcd_refuses_fails_with_what_to_do(fails):
    more = {"saltsphere_etcd.member_remove": Mock(return_value={"removed": False, "error": "re-configuration failed"})}
    if fails == "list":
        more["saltsphere_etcd.member_list"] = Mock(return_value={"members": None, "error": "connection refused"})
    ret = _etcd(**more).member_absent("master3", **CLIENT)
    assert ret["result"] is False and ret["changes"] == {} and "re-run" in ret["comment"]


@pytest.mark.parametrize("test", [True, False])
def test_a_new_member_is_added_once_and_an_added_one_is_left(test):
    peer = "https://192.168.0.6:2380"
    assert _etcd(test=test).member_present("master3", peer, **CLIENT)["changes"] == {}
    add = Mock(return_value={"members": LISTED, "error": None})
    ret = _etcd(LISTED[:1], test, **{"saltsphere_etcd.member_add": add if not test else _never("add")}).member_present(
        "master3", peer, **CLIENT)
    assert ret["result"] is (None if test else True) and ret["changes"] == {"added": peer}


def test_a_new_member_whose_name_etcd_knows_with_other_urls_is_refused():
    ret = _etcd().member_present("master3", "https://10.9.9.9:2380", **CLIENT)
    assert ret["result"] is False and "node remove master3" in ret["comment"]


MANIFEST = """apiVersion: v1
kind: Pod
spec:
  containers:
  - command:
    - kube-apiserver
    - --etcd-servers=https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379
    - --secure-port=6443
"""


def _apiserver(tmp_path, running, test=False):
    manifest = tmp_path / "manifests" / "kube-apiserver.yaml"
    manifest.parent.mkdir()
    manifest.write_text(MANIFEST)
    kubernetes.__salt__ = {"saltsphere_kubernetes.apiserver_flag": Mock(side_effect=running),
                           "saltsphere_kubernetes.wait_api": Mock(return_value=(True, ""))}
    kubernetes.__opts__ = {"test": test}
    return manifest


def test_the_api_server_drops_a_removed_member_and_waits_for_its_restart(tmp_path):
    two = ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
    manifest = _apiserver(tmp_path, ["x", "x", ",".join(two)])
    ret = kubernetes.apiserver_etcd_servers(str(manifest), two, "127.0.0.1:6443", wait=30)
    assert ret["result"] is True and ret["changes"]["etcd-servers"]["new"] == ",".join(two)
    assert manifest.read_text() == MANIFEST.replace(",https://10.0.0.3:2379", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifests"]


def test_the_api_server_list_unchanged_or_under_test_writes_nothing(tmp_path):
    three = [f"https://10.0.0.{i}:2379" for i in (1, 2, 3)]
    manifest = _apiserver(tmp_path, [",".join(three)])
    assert kubernetes.apiserver_etcd_servers(str(manifest), three, "127.0.0.1:6443")["changes"] == {}
    kubernetes.__opts__ = {"test": True}
    ret = kubernetes.apiserver_etcd_servers(str(manifest), three[:2], "127.0.0.1:6443")
    assert ret["result"] is None and manifest.read_text() == MANIFEST


def test_a_later_step_still_knows_an_etcd_host_of_hosts_ini_that_etcd_already_let_go(ha):
    found = noderemove.remove_plan(ha, ["master3"], HA_NODES, {k: v for k, v in HA_MEMBERS.items() if k != "master3"})
    assert found["etcd_removed"] == {"master3": "192.168.0.6"} and found["masters"] == ["master", "master2"]


@pytest.mark.parametrize("plan, steps", [
    ({"etcd_removed": {}, "masters_removed": []}, WORKER_STEPS),
    ({"etcd_removed": {"master3": "192.168.0.6"}, "masters_removed": []}, noderemove.STEPS),
    ({"etcd_removed": {}, "masters_removed": ["master3"]}, noderemove.STEPS),
])
def test_only_a_removal_of_etcd_members_or_masters_runs_their_steps(plan, steps):
    assert noderemove.steps_for(plan) == steps
