"""Whether the whole install would change anything: the hosts' answers read into hosts and phases."""

from saltsphere import converged


def _state(sls, result=True, changes=None, sid="x", run=0, comment=""):
    return {"__sls__": sls, "__id__": sid, "result": result, "changes": changes or {}, "comment": comment,
            "__run_num__": run}


def _key(sid, module="file", fun="managed"):
    return f"{module}_|-{sid}_|-{sid}_|-{fun}"


def test_hosts_whose_states_change_nothing_leave_the_cluster_unchanged():
    returns = {"master": {_key("a"): _state("kubernetes.kubelet", sid="a"), _key("w"): _state("transport", sid="w")},
               "node1": {_key("b"): _state("os.sysctl", sid="b")}}
    found = converged.verdict(returns, ["master", "node1"])
    assert found.unchanged and found.changes() == {}


def test_a_state_that_would_run_names_its_host_and_phase_in_install_order():
    returns = {"master": {_key("a"): _state("network.bridge", result=None, sid="a", run=2),
                          _key("b"): _state("os.sysctl", changes={"diff": "secret=1"}, sid="b", run=1)},
               "node1": {_key("c"): _state("os.sysctl", sid="c")}}
    found = converged.verdict(returns, ["master", "node1"])
    assert not found.unchanged
    assert found.changes() == {"would change": {"master": ["os", "network"]}}
    assert found.summary() == "would change: master (os, network)"
    # Names only: never what a state would write.
    assert "secret" not in repr(found.changes())


def test_states_outside_the_phases_roles_do_not_count():
    returns = {"master": {_key("w"): _state("transport", result=None, sid="w")}}
    assert converged.verdict(returns, ["master"]).unchanged


def test_a_host_that_did_not_answer_or_would_fail_is_not_planned_and_the_phases_run():
    returns = {"master": "ssh: connect to host 10.0.0.1 port 22: No route to host",
               "node1": {_key("k"): _state("kubernetes.node", result=False, sid="k", comment="kubelet missing")}}
    found = converged.verdict(returns, ["master", "node1", "node2"])
    assert not found.unchanged
    assert found.unplanned["master"].endswith("No route to host")
    assert found.unplanned["node1"] == "k: kubelet missing"
    assert found.unplanned["node2"] == "(the host): no answer"
    assert set(found.changes()) == {"not planned"}


def test_the_check_asks_every_host_once_and_times_itself():
    class Loaded:
        hosts = {"master": type("S", (), {"password": "pw", "become_password": None})()}
        config = {"preflight_ssh_timeout_seconds": 7}

    asked = []

    def ask(opts, loaded):
        asked.append((opts, list(loaded.hosts)))
        return {"master": {_key("a"): _state("os.sysctl", sid="a")}}

    ticks = iter([10.0, 13.5])
    found, seconds = converged.check(Loaded(), {"o": 1}, clock=lambda: next(ticks), ask=ask)
    assert found.unchanged and seconds == 3.5
    assert asked == [({"o": 1}, ["master"])]


def test_the_hosts_are_asked_through_sshcall_and_a_failing_state_is_kept_to_be_named(monkeypatch, write_cluster,
                                                                                     tmp_path):
    from saltsphere import cluster, preflight

    from sample_inputs import fake_ssh_client

    failing = {_key("k"): _state("kubernetes.node", result=False, sid="k", comment="kubelet missing")}
    answers = {"master": {"return": {_key("a"): _state("os.sysctl", sid="a")}, "retcode": 0},
               "node1": {"return": failing, "retcode": 2},
               "node2": {"stderr": "Permission denied (publickey)", "retcode": 255}}
    calls = fake_ssh_client(monkeypatch, answers)
    monkeypatch.setattr(preflight, "unanswering", lambda loaded, timeout, names=None: {})
    returns = converged.ask_hosts({}, cluster.load(str(write_cluster(directory=tmp_path / "cluster"))))
    assert calls == [(["master", "node1", "node2"], "state.apply", {"test": True})]
    assert returns["node1"] == failing and isinstance(returns["node2"], str)
    found = converged.verdict(returns, ["master", "node1", "node2"])
    assert found.unplanned["node1"] == "k: kubelet missing" and "node2" in found.unplanned
