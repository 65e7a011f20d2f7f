"""`saltsphere reset` and `./install.sh --uninstall`: confirmation, phases, failures, --purge."""

import json
from unittest.mock import Mock

import pytest

from saltsphere import cli, installer, reset

from sample_inputs import SEED_HOSTS_INI

BROKEN = SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=192.168.0.300")


def _step(phase, hosts, failed=None, cause="kubeadm reset failed", test=False):
    """One phase's ``salt-run --out=json`` return: every host done, or ``failed`` naming one (under test: would do)."""
    ret = {}
    for host in hosts:
        result = False if host == failed else (None if test else True)
        state = {"__id__": f"{phase}-clean", "result": result, "comment": cause if host == failed else "",
                 "changes": {}, "__run_num__": 0, "name": f"/etc/{phase}"}
        ret[host] = {f"cmd_|-{phase}-clean_|-x_|-run": state}
    sid = f"{reset.RESET_PREFIX}{phase}"
    step = {"__id__": sid, "result": failed is None, "__run_num__": 0, "changes": {"ret": ret},
            "comment": f"Run failed on minions: {failed}" if failed else "States ran successfully."}
    return 1 if failed else 0, json.dumps({"data": {"taskbox_master": {f"salt_|-{sid}_|-{sid}_|-state": step}},
                                           "retcode": 1 if failed else 0}), ""


def _runner(failed=None, failing_phase="kubernetes"):
    """One phase's run, or with ``phase`` None the whole reset's (every phase, none failhard)."""
    hosts = ("master", "node1", "node2")

    def run(directory, phase, test=False):
        if phase is not None:
            return _step(phase, hosts, failed if phase == failing_phase else None, test=test)
        merged, code = {}, 0
        for each in reset.PHASES:
            one_code, stdout, _ = _step(each, hosts, failed if each == failing_phase else None, test=test)
            merged.update(json.loads(stdout)["data"]["taskbox_master"])
            code = code or one_code
        return code, json.dumps({"data": {"taskbox_master": merged}, "retcode": code}), ""
    return Mock(side_effect=run)


@pytest.fixture
def cluster_dir(write_cluster, tmp_path):
    hosts = write_cluster(directory=tmp_path / "cluster")
    directory = hosts.parent
    (directory / ".saltsphere" / "pki").mkdir(parents=True)
    (directory / ".saltsphere" / "pki" / "ca.key").write_text("key")
    (directory / "kubesphere").mkdir()
    (directory / "kubesphere" / "kubesphere_running").write_text("banner")
    (directory / "kept.txt").write_text("operator's")
    return hosts


def _reset(*argv, runner=None, answer=None, interactive=True):
    args = cli.build_parser().parse_args(["reset", *argv])
    runner = runner or _runner()
    ask = Mock(return_value=answer) if answer is not None else Mock(side_effect=AssertionError("asked"))
    return reset.reset(args, runner=runner, ask=ask, interactive=interactive, clock=iter(range(0, 1000, 3)).__next__), \
        runner, ask


def test_yes_runs_every_phase_in_order_with_a_line_each(cluster_dir, capsys):
    code, runner, _ = _reset("-i", str(cluster_dir), "--yes")
    out = capsys.readouterr().out
    assert code == reset.EXIT_OK
    assert [call.args[1] for call in runner.call_args_list] == list(reset.PHASES)
    assert "[1/7] ks          ok      3 hosts done, 0 failed, " in out
    assert "[7/7] os" in out
    assert (cluster_dir.parent / ".saltsphere" / "pki" / "ca.key").exists(), "the PKI stays without --purge"
    assert (cluster_dir.parent / "kubesphere" / "kubesphere_running").exists()
    assert (cluster_dir.parent / "Saltfile").is_file()


def test_it_asks_first_and_no_changes_nothing(cluster_dir, capsys):
    code, runner, ask = _reset("-i", str(cluster_dir), answer="no")
    assert code == reset.EXIT_OK
    runner.assert_not_called()
    ask.assert_called_once()
    assert "master, node1, node2" in capsys.readouterr().out


def test_yes_at_the_prompt_resets(cluster_dir):
    code, runner, _ = _reset("-i", str(cluster_dir), answer="yes")
    assert code == reset.EXIT_OK and runner.call_count == len(reset.PHASES)


def test_without_a_terminal_it_refuses_and_says_to_pass_yes(cluster_dir, capsys):
    code, runner, _ = _reset("-i", str(cluster_dir), interactive=False)
    assert code == reset.EXIT_INVALID
    runner.assert_not_called()
    assert "--yes" in capsys.readouterr().err


@pytest.mark.parametrize("make", [
    lambda tmp_path, write_cluster: write_cluster(BROKEN, directory=tmp_path / "bad"),
    lambda tmp_path, write_cluster: tmp_path / "nope" / "hosts.ini",
])
def test_bad_input_stops_before_any_host_is_touched(make, tmp_path, write_cluster, capsys):
    code, runner, _ = _reset("-i", str(make(tmp_path, write_cluster)), "--yes")
    assert code == reset.EXIT_INVALID
    runner.assert_not_called()
    assert capsys.readouterr().err


def test_bad_input_exits_2_through_the_cli(tmp_path, write_cluster):
    assert cli.main(["reset", "-i", str(write_cluster(BROKEN, directory=tmp_path / "bad")), "--yes"]) == 2


def test_purge_removes_only_the_taskbox_state_and_the_banner(cluster_dir, capsys):
    code, _, _ = _reset("-i", str(cluster_dir), "--yes", "--purge")
    directory = cluster_dir.parent
    assert code == reset.EXIT_OK
    assert not (directory / ".saltsphere").exists()
    assert not (directory / "kubesphere").exists()
    assert cluster_dir.exists() and (directory / "vars.yml").exists() and (directory / "kept.txt").exists()
    assert f"removed {directory / '.saltsphere'}" in capsys.readouterr().out


def test_purge_keeps_other_files_beside_the_banner(cluster_dir):
    (cluster_dir.parent / "kubesphere" / "notes").write_text("mine")
    _reset("-i", str(cluster_dir), "--yes", "--purge")
    assert (cluster_dir.parent / "kubesphere" / "notes").exists()
    assert not (cluster_dir.parent / "kubesphere" / "kubesphere_running").exists()


def test_a_host_that_fails_is_named_the_others_go_on_and_nothing_is_purged(cluster_dir, capsys):
    runner = _runner(failed="node2", failing_phase="kubernetes")
    code, runner, _ = _reset("-i", str(cluster_dir), "--yes", "--purge", runner=runner)
    out = capsys.readouterr().out
    assert code == reset.EXIT_FAILED
    assert runner.call_count == len(reset.PHASES), "a failed phase does not stop the reset of the other hosts"
    assert "[3/7] kubernetes  FAILED  2 hosts done, 1 failed, " in out
    assert "phase kubernetes failed on node2:" in out and "kubeadm reset failed" in out
    assert (cluster_dir.parent / ".saltsphere" / "pki" / "ca.key").exists(), "--purge waits for every host"


def test_the_phase_runner_asks_salt_run_for_one_phase(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(installer, "run_group", lambda argv, cwd, timeout: calls.append((argv, cwd)) or (0, "", ""))
    reset.run_phase(tmp_path, "network")
    argv, cwd = calls[0]
    assert argv[-3:] == ["state.orchestrate", "kubesphere.reset", 'pillar={"reset_phase": "network"}']
    assert argv[argv.index("--saltfile") + 1] == str(tmp_path / "Saltfile") and cwd == tmp_path


def test_the_phase_runner_without_a_phase_runs_the_whole_reset(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(installer, "run_group", lambda argv, cwd, timeout: calls.append(argv) or (0, "", ""))
    reset.run_phase(tmp_path, None, test=True)
    assert calls[0][-3:] == ["state.orchestrate", "kubesphere.reset", "test=True"]


def test_the_phase_runner_passes_test_for_a_dry_run(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(installer, "run_group", lambda argv, cwd, timeout: calls.append(argv) or (0, "", ""))
    reset.run_phase(tmp_path, "os", test=True)
    assert calls[0][-2:] == ['pillar={"reset_phase": "os"}', "test=True"]


def test_a_dry_run_asks_nothing_plans_every_phase_and_changes_nothing(cluster_dir, capsys):
    before = sorted(str(path) for path in cluster_dir.parent.rglob("*") if ".salt" not in path.parts)
    code, runner, _ = _reset("-i", str(cluster_dir), "--dry-run")
    assert code == reset.EXIT_OK
    assert [call.args[1:] for call in runner.call_args_list] == [(None,)], "one run of the whole reset"
    assert all(call.kwargs == {"test": True} for call in runner.call_args_list)
    out = capsys.readouterr().out
    assert "[3/7] kubernetes  ok      3 of 3 host(s) would change" in out
    assert "  master: ks, storage, kubernetes, network, containerd, etcd, os" in out
    assert out.rstrip().endswith("No state would fail. Nothing was changed (every clean state ran with test=True).")
    after = sorted(str(path) for path in cluster_dir.parent.rglob("*") if ".salt" not in path.parts)
    assert [path for path in after if path not in before] == [str(cluster_dir.parent / "Saltfile")]
    assert (cluster_dir.parent / ".saltsphere" / "pki" / "ca.key").exists()


def test_a_dry_run_names_what_would_fail_and_exits_1(cluster_dir, capsys):
    runner = _runner(failed="node2", failing_phase="network")
    code, runner, _ = _reset("-i", str(cluster_dir), "--dry-run", runner=runner)
    assert code == reset.EXIT_FAILED and runner.call_count == 1
    out = capsys.readouterr().out
    assert "[7/7] os          ok      3 of 3 host(s) would change" in out, "the phases after a failing one are planned"
    assert "would FAIL on node2: network-clean: kubeadm reset failed" in out and "Would FAIL in: network." in out


def test_install_uninstall_is_the_reset(monkeypatch, cluster_dir):
    seen = Mock(return_value=0)
    monkeypatch.setattr(reset, "reset", seen)
    args = cli.build_parser().parse_args(["install", "--uninstall", "-i", str(cluster_dir), "--yes"])
    assert installer.install(args) == 0
    passed = seen.call_args.args[0]
    assert (passed.inventory, passed.yes, passed.purge) == (str(cluster_dir), True, False)


def test_install_uninstall_excludes_the_install_modes():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["install", "--uninstall", "--multi-node"])


def test_install_uninstall_without_a_terminal_refuses(cluster_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", None)
    assert cli.main(["install", "--uninstall", "-i", str(cluster_dir)]) == reset.EXIT_INVALID
    assert "pass --yes" in capsys.readouterr().err


# --- saltsphere_cluster.cleaned: one phase of the reset on its hosts -------------

def _cleaned_module(monkeypatch, loaded, answers, unanswering=None, test=False):
    from sample_inputs import fake_ssh_client, load_extension

    module = load_extension("states", "saltsphere_cluster")
    module.__opts__ = {"test": test}
    monkeypatch.setattr(module, "_loaded", lambda: loaded)
    monkeypatch.setattr(module.preflight, "unanswering", lambda cluster, timeout, names=None: {
        host: why for host, why in (unanswering or {}).items() if names is None or host in names})
    return module, fake_ssh_client(monkeypatch, answers)


def _states(changes=None, result=True):
    return {"return": {"cmd_|-x_|-x_|-run": {"result": result, "changes": changes or {}, "comment": "boom"}},
            "retcode": 0 if result else 2}


def test_cleaned_forces_the_clean_states_past_pillar_errors_with_the_reset_pillar(monkeypatch, cluster_dir):
    from saltsphere import cluster

    module, calls = _cleaned_module(monkeypatch, cluster.load(str(cluster_dir)),
                                    {"master": _states(), "node1": _states({"x": 1}), "node2": _states()})
    ret = module.cleaned("kubernetes.clean", ["master", "node1", "node2"])
    assert ret["result"] is True and ret["comment"] == "kubernetes.clean: Updating node1."
    assert calls[0][1] == "state.sls"
    assert calls[0][2] == {"mods": "kubernetes.clean", "force": True, "test": False,
                           "pillar": {"saltsphere_orchestration": {"phase": "reset"}}}
    assert installer.phase_result({"data": {"m": {"s": {**ret, "__run_num__": 0}}}}).done == \
        ("master", "node1", "node2")


def test_cleaned_with_nothing_left_changes_nothing(monkeypatch, cluster_dir):
    from saltsphere import cluster

    module, _ = _cleaned_module(monkeypatch, cluster.load(str(cluster_dir)), {"master": _states()})
    ret = module.cleaned("etcd.clean", ["master"])
    assert ret["result"] is True and ret["changes"] == {}


def test_cleaned_names_an_unreachable_host_and_cleans_the_others(monkeypatch, cluster_dir):
    from saltsphere import cluster

    module, calls = _cleaned_module(monkeypatch, cluster.load(str(cluster_dir)),
                                    {"master": _states({"x": 1}), "node1": _states(result=False)},
                                    unanswering={"node2": "cannot connect to sshd: No route to host"})
    ret = module.cleaned("os.clean", ["master", "node1", "node2"])
    assert calls[0][0] == ["master", "node1"], "an unreachable host is not waited for"
    assert ret["result"] is False and ret["comment"] == "Run failed on minions: node1, node2"
    result = installer.phase_result({"data": {"m": {"s": {**ret, "__run_num__": 0}}}})
    assert sorted(result.failed) == ["node1", "node2"] and result.done == ("master",)
    assert result.comment == "node2: cannot connect to sshd: No route to host"
