"""`saltsphere install`: orchestrate returns read into progress lines, the storage question, exit codes."""

import json
import stat
from pathlib import Path
from unittest.mock import Mock

import pytest

from saltsphere import bom, cli, cluster, installer, kubesphere, storage
from saltsphere.artifacts import manifest as mf

from sample_inputs import issue_secrets, SEED_HOSTS_INI, SEED_VARS_YML, hosts_ini

# --- returns of `salt-run --out=json state.orchestrate kubesphere.<phase>` -----


def _state(sid, result=True, comment="", changes=None, run_num=0, module="file", fun="managed"):
    key = f"{module}_|-{sid}_|-{sid}_|-{fun}"
    return key, {"__id__": sid, "name": sid, "result": result, "comment": comment, "changes": changes or {},
                 "__run_num__": run_num, "duration": 12.5, "start_time": "21:40:01.000001"}


def _host(*states):
    return dict(states)


def _step(sid, result, comment, ret=None, run_num=0, changes=None):
    step = {"name": sid, "__id__": sid, "result": result, "comment": comment, "__run_num__": run_num,
            "duration": 20123.4, "start_time": "21:40:00.000001", "changes": changes or {}}
    if ret:
        step["changes"] = {"out": "highstate", "ret": ret}
    return f"salt_|-{sid}_|-{sid}_|-state", step


def _orchestrate(*steps, retcode=0):
    return {"outputter": "highstate", "data": {"taskbox_master": dict(steps)}, "retcode": retcode}


OS_OK = _orchestrate(_step(
    "kubesphere-os-salt-state", True, "States ran successfully. Updating node1. No changes made to master, node2.",
    ret={"node1": _host(_state("os-hosts-host-only-master", changes={"diff": "new"}), _state("os-swap", run_num=1))},
))

KUBERNETES_FAILED = _orchestrate(
    _step("kubesphere-kubernetes-prepare-salt-state", True,
          "States ran successfully. No changes made to master, node1, node2.", run_num=0),
    _step("kubesphere-kubernetes-init-salt-state", True, "States ran successfully. No changes made to master.",
          run_num=1),
    _step("kubesphere-kubernetes-join-nodes-salt-state", False,
          "Run failed on minions: node2\nFailures:\n    node2: ...",
          ret={
              "node1": _host(_state("kubernetes-node-join", changes={"joined": True}, module="saltsphere_kubernetes",
                                    fun="joined")),
              "node2": _host(
                  _state("kubernetes-node-kubelet-running", False, "One or more requisite failed: kubernetes.node.join",
                         run_num=3, module="service", fun="running"),
                  _state("kubernetes-node-join", False, "kubeadm join failed: could not reach 192.168.0.1:6443",
                         run_num=2, module="saltsphere_kubernetes", fun="joined"),
                  _state("kubernetes-node-config", run_num=1),
              ),
          }, run_num=2),
    _step("kubesphere-kubernetes-kubeconfig-salt-runner", False,
          "One or more requisite failed: kubesphere.kubernetes.kubesphere-kubernetes-join-nodes-salt-state",
          run_num=3),
    retcode=1,
)


def _preflight(failures):
    summary = "preflight failed: 1 checks failed on node2 (3 hosts)" if failures else "preflight passed on 3 hosts"
    return _orchestrate((
        "saltsphere_cluster_|-kubesphere-preflight-saltsphere-cluster-preflight-passed_|-conf/hosts.ini_|-"
        "preflight_passed", {
            "name": "conf/hosts.ini", "result": not failures, "__run_num__": 1, "changes": {},
            "comment": f"HOST  os  swap\nnode2 ok  FAIL\n\nFAIL node2 memory: ...\n\n{summary}",
            "failures": failures, "warnings": [],
        }), retcode=1 if failures else 0)


HOSTS = ("master", "node1", "node2")


def test_a_successful_phase_counts_every_host():
    result = installer.phase_result(OS_OK)
    assert result == installer.PhaseResult(ok=True, done=("node1", "master", "node2"), failed=(), comment="", changed=1)


def test_a_failed_phase_names_its_host_and_the_first_real_failure():
    result = installer.phase_result(KUBERNETES_FAILED)
    assert not result.ok
    assert result.failed == ("node2",)
    assert set(result.done) == {"master", "node1"}
    assert result.comment == "node2: kubernetes-node-join: kubeadm join failed: could not reach 192.168.0.1:6443"


def test_preflight_names_the_failing_hosts_among_all():
    assert installer.phase_result(_preflight([]), HOSTS) == installer.PhaseResult(ok=True, done=HOSTS)
    failure = {"host": "node2", "check": "memory", "detail": "1 GB, at least 8 GB", "fix": "add memory"}
    result = installer.phase_result(_preflight([failure]), HOSTS)
    assert (result.ok, result.done, result.failed) == (False, ("master", "node1"), ("node2",))
    assert result.comment == "preflight failed: 1 checks failed on node2 (3 hosts)"
    assert result.rows == (failure,)


def test_a_preflight_failure_shows_each_failing_row_and_its_fix():
    failure = {"host": "node2", "check": "memory", "detail": "1 GB, at least 8 GB", "fix": "add memory"}
    message = installer.failure_message("preflight", installer.phase_result(_preflight([failure]), HOSTS))
    assert "node2 memory: 1 GB, at least 8 GB" in message
    assert "fix: add memory" in message


def test_an_orchestration_that_does_not_render_is_a_failure():
    data = {"outputter": "highstate", "retcode": 1,
            "data": {"taskbox_master": ["Rendering SLS 'base:kubesphere.ks' failed: Jinja error: no masters"]}}
    result = installer.phase_result(data)
    assert (result.ok, result.done, result.failed) == (False, (), ())
    assert result.comment == "Rendering SLS 'base:kubesphere.ks' failed: Jinja error: no masters"


@pytest.mark.parametrize("host_return, expected", [
    (["Pillar failed to render with the following messages:", "no bundle at /var/lib/saltsphere/bundle"],
     "node1: Pillar failed to render with the following messages:; no bundle at /var/lib/saltsphere/bundle"),
    ({"_error": "Failed to return clean data", "retcode": 255, "stderr": "ssh: connect to host 192.168.0.2 port 22"},
     "node1: Failed to return clean data"),
    ({"stderr": "Permission denied (publickey,password).", "retcode": 255},
     "node1: Permission denied (publickey,password)."),
])
def test_a_host_without_state_results_is_a_failure(host_return, expected):
    data = _orchestrate(_step("kubesphere-os-salt-state", False, "Run failed on minions: node1",
                              ret={"node1": host_return}), retcode=1)
    result = installer.phase_result(data)
    assert (result.ok, result.failed, result.comment) == (False, ("node1",), expected)


def test_json_documents_printed_one_after_another_are_merged():
    text = json.dumps({"outputter": "highstate"}) + "\n" + json.dumps({"data": {}, "retcode": 0}) + "\n"
    assert installer.parse_json_stream(text) == {"outputter": "highstate", "data": {}, "retcode": 0}


def test_no_json_is_a_failure_with_salts_words():
    result = installer.outcome(2, "", "[ERROR   ] No such file: Saltfile\n")
    assert not result.ok and result.comment == "salt-run printed no result (exit 2): [ERROR   ] No such file: Saltfile"


def test_a_nonzero_exit_with_a_clean_return_is_a_failure():
    result = installer.outcome(1, json.dumps(OS_OK), "Killed")
    assert not result.ok and result.comment == "salt-run exited 1: Killed"


def test_progress_lines():
    ok = installer.PhaseResult(ok=True, done=HOSTS)
    failed = installer.PhaseResult(ok=False, done=("master", "node1"), failed=("node2",), comment="x")
    assert installer.progress_line(2, 8, "os", ok, 41.6) == (
        "[2/8] os          ok      3 hosts done, 0 failed, 0 changed   42 s")
    assert installer.progress_line(5, 8, "kubernetes", failed, 301.2) == (
        "[5/8] kubernetes  FAILED  2 hosts done, 1 failed, 0 changed   301 s")


def test_the_states_that_changed_something_are_counted():
    assert installer.phase_result(OS_OK).changed == 1
    # node1 joined; node2's states changed nothing.
    assert installer.phase_result(KUBERNETES_FAILED).changed == 1
    taskbox_step = _orchestrate(_step("kubesphere-prepare-saltsphere-cluster-prepared", True, "made 3 files",
                                      changes={"made": ["a", "b", "c"]}))
    assert installer.phase_result(taskbox_step).changed == 1


def test_failure_message_names_hosts_and_cause():
    result = installer.phase_result(KUBERNETES_FAILED)
    assert installer.failure_message("kubernetes", result) == (
        "phase kubernetes failed on node2:\n"
        "  node2: kubernetes-node-join: kubeadm join failed: could not reach 192.168.0.1:6443\n"
        "Fix the cause and run the same command again: every phase converges.")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _runner(returns, clock=None, seconds=10):
    """A salt-run stand-in: ``returns`` by phase (default: a clean os-like return), each taking ``seconds``.

    Each phase starts with the prepare step: the stand-in leaves the taskbox as it would.
    """
    def run(directory, phase):
        hosts_ini = Path(directory) / "hosts.ini"
        if hosts_ini.is_file():
            issue_secrets(cluster.load(str(hosts_ini)))
        if clock:
            clock.now += seconds
        data = returns.get(phase, OS_OK)
        return (data.get("retcode", 0), json.dumps(data), "")
    return Mock(side_effect=run)


def test_phases_run_in_order_one_line_each(tmp_path, capsys):
    clock = Clock()
    runner = _runner({"preflight": _preflight([])}, clock)
    assert installer.run_phases(tmp_path, HOSTS, runner, clock=clock) is True
    assert [c.args[1] for c in runner.call_args_list] == list(installer.PHASES)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[1/8] preflight   ok      3 hosts done, 0 failed, 0 changed   10 s"
    assert lines[-1] == "[8/8] ks          ok      3 hosts done, 0 failed, 1 changed   10 s"
    assert len(lines) == 8


def test_the_first_failed_phase_stops_the_run(tmp_path, capsys):
    runner = _runner({"kubernetes": KUBERNETES_FAILED})
    assert installer.run_phases(tmp_path, HOSTS, runner, clock=Clock()) is False
    assert [c.args[1] for c in runner.call_args_list] == ["preflight", "os", "etcd", "containerd", "kubernetes"]
    out = capsys.readouterr().out.splitlines()
    assert out[4].startswith("[5/8] kubernetes  FAILED  2 hosts done, 1 failed")
    assert out[5:7] == ["phase kubernetes failed on node2:",
                        "  node2: kubernetes-node-join: kubeadm join failed: could not reach 192.168.0.1:6443"]


def test_waiting_for_the_console_reports_every_30_seconds(capsys):
    clock = Clock()
    answers = iter(["connection refused"] * 14 + [None])
    assert installer.wait_for_console("http://192.168.0.1:32130", 1800, lambda url: next(answers), clock,
                                      clock.sleep) is True
    assert capsys.readouterr().out.splitlines() == [
        "waiting for the KubeSphere console at http://192.168.0.1:32130: 30 s (connection refused)",
        "waiting for the KubeSphere console at http://192.168.0.1:32130: 60 s (connection refused)",
    ]


def test_waiting_for_the_console_is_bounded(capsys):
    clock = Clock()
    probe = Mock(return_value="HTTP 502")
    assert installer.wait_for_console("http://h:1", 100, probe, clock, clock.sleep) is False
    assert clock.now - 1000 == 100
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "the KubeSphere console at http://h:1 did not answer within 100 s (last: HTTP 502)"
    assert len(out) == 4


# --- the whole command ------------------------------------------------------------


def _bundle(directory, refs):
    entries = []
    for index, ref in enumerate(refs):
        path = f"images/{index}.tar"
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(ref)
        entries.append(mf.entry_for(directory, path, name=f"i{index}", version="1", arch="amd64", kind="image",
                                    ref=ref))
    mf.write_manifest(directory, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])
    return directory


@pytest.fixture
def seed(write_cluster, tmp_path):
    """The seed's cluster with a bundle holding every image it runs, but ``lacking``; returns hosts.ini."""
    def make(hosts=SEED_HOSTS_INI, extra="", lacking=()):
        bundle = tmp_path / "bundle"
        path = write_cluster(hosts, SEED_VARS_YML + extra + f"artifact_bundle: {bundle}\n",
                             directory=tmp_path / "cluster")
        _, config, problems = cluster.check(str(path))
        if not problems.errors and config["ks_version"] in kubesphere.RELEASES:
            wanted = storage.images(config.values) + kubesphere.images(config.values, masters=3)
            _bundle(bundle, [ref for ref in wanted if bom.normalize(ref) not in lacking])
        return path
    return make


def _args(*argv):
    return cli.build_parser().parse_args(["install", *argv])


def _install(argv, runner=None, answers=("yes",), probe=None, clock=None):
    clock = clock or Clock()
    runner = runner or _runner({"preflight": _preflight([])}, clock)
    replies = iter(answers)
    probe = probe or Mock(return_value=None)
    code = installer.install(_args(*argv), runner=runner, ask=lambda prompt: next(replies), probe=probe,
                             clock=clock, sleep=clock.sleep)
    return code, runner, probe


def test_a_full_install_prints_and_keeps_the_banner(seed, capsys):
    hosts = seed()
    code, runner, probe = _install(["--multi-node", "-i", str(hosts)])
    out = capsys.readouterr().out
    assert code == 0
    assert runner.call_count == len(installer.PHASES)
    directory = hosts.parent
    password = (directory / ".saltsphere" / "ks-admin-password").read_text().strip()
    banner = kubesphere.banner("http://192.168.0.1:32130", password)
    assert out.endswith(banner)
    running = directory / "kubesphere" / "kubesphere_running"
    assert running.read_text() == banner
    assert stat.S_IMODE(running.stat().st_mode) == 0o600
    probe.assert_called_with("http://192.168.0.1:32130")
    assert (directory / "Saltfile").is_file()


def test_a_configured_password_is_the_one_shown(seed, capsys):
    hosts = seed(extra="ks_admin_password: Mine-Pw-42\n")
    code, _, _ = _install(["--multi-node", "-i", str(hosts), "--yes"])
    assert code == 0 and "Password: Mine-Pw-42\n" in capsys.readouterr().out


BROKEN = SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=192.168.0.300")


def test_bad_input_stops_before_any_host_is_touched(seed, capsys):
    code, runner, probe = _install(["--multi-node", "-i", str(seed(hosts=BROKEN)), "--yes"])
    assert code == installer.EXIT_INVALID
    runner.assert_not_called()
    probe.assert_not_called()
    assert "192.168.0.300" in capsys.readouterr().err


def test_a_missing_inventory_is_bad_input(tmp_path, capsys):
    code, runner, _ = _install(["--multi-node", "-i", str(tmp_path / "nope" / "hosts.ini"), "--yes"])
    assert code == installer.EXIT_INVALID
    runner.assert_not_called()


def test_multi_node_needs_an_inventory(capsys):
    code, runner, _ = _install(["--multi-node", "--yes"])
    assert code == installer.EXIT_INVALID
    runner.assert_not_called()
    assert "-i HOSTS_INI" in capsys.readouterr().err


def test_an_unknown_release_is_bad_input(seed, capsys):
    code, runner, _ = _install(["--multi-node", "-i", str(seed(extra="ks_version: v2.1.1\n")), "--yes"])
    assert code == installer.EXIT_INVALID
    runner.assert_not_called()
    assert "ks_version v2.1.1" in capsys.readouterr().err


def test_all_in_one_refuses_several_hosts(seed, capsys):
    code, runner, _ = _install(["--all-in-one", "-i", str(seed()), "--yes"])
    assert code == installer.EXIT_INVALID
    runner.assert_not_called()
    assert "3 host(s): master (etcd,kube-master), node1 (kube-node), node2 (kube-node)" in capsys.readouterr().err


ONE_HOST = hosts_ini(lines=("master ansible_connection=local ip=192.168.0.1",), nodes=("master",))


def test_all_in_one_installs_one_host_with_every_role_without_asking(seed, capsys):
    code, runner, _ = _install(["--all-in-one", "-i", str(seed(hosts=ONE_HOST))], answers=())
    assert code == 0
    assert runner.call_count == len(installer.PHASES)


def test_answering_no_explains_where_storage_is_configured(seed, capsys):
    hosts = seed()
    code, runner, probe = _install(["--multi-node", "-i", str(hosts)], answers=("no",))
    assert code == 0
    runner.assert_not_called()
    out = capsys.readouterr().out
    assert f"Default storage class in {hosts.parent / 'vars.yml'}: NFS server in Kubernetes" in out
    assert f"Configure the storage in {hosts.parent / 'vars.yml'}" in out
    assert "nfs_server_enable: true and nfs_server_is_default_class: true" in out
    assert "nfs_client_enable: true and nfs_client_is_default_class: true" in out
    assert "with nfs_server, nfs_path" in out
    assert out.rstrip().endswith("Nothing was installed.")
    assert not (hosts.parent / "Saltfile").exists()


def test_the_question_is_asked_again_until_answered(seed, capsys):
    code, runner, _ = _install(["--multi-node", "-i", str(seed())], answers=("maybe", "", "Y"))
    assert code == 0 and runner.call_count == len(installer.PHASES)


def test_end_of_input_is_a_no(seed, capsys):
    def closed(prompt):
        raise EOFError
    code = installer.install(_args("--multi-node", "-i", str(seed())), runner=Mock(), ask=closed)
    assert code == 0 and "Nothing was installed." in capsys.readouterr().out


def test_a_failed_phase_exits_1_naming_the_host(seed, capsys):
    clock = Clock()
    runner = _runner({"preflight": _preflight([]), "kubernetes": KUBERNETES_FAILED}, clock)
    code, _, probe = _install(["--multi-node", "-i", str(seed()), "--yes"], runner=runner, clock=clock)
    assert code == installer.EXIT_FAILED
    assert runner.call_count == 5
    probe.assert_not_called()
    assert "phase kubernetes failed on node2:\n  node2: kubernetes-node-join" in capsys.readouterr().out


def test_missing_kubesphere_images_end_truthfully_without_waiting(seed, capsys):
    lacking = ("docker.io/kubesphere/ks-installer:v3.4.1", "docker.io/kubesphere/ks-console:v3.4.1",
               "docker.io/prom/prometheus:v2.39.1")
    hosts = seed(lacking=lacking)
    code, runner, probe = _install(["--multi-node", "-i", str(hosts), "--yes"])
    captured = capsys.readouterr()
    assert code == installer.EXIT_NOT_RUNNING
    assert runner.call_count == len(installer.PHASES)
    probe.assert_not_called()
    for ref in lacking:
        assert f"warning:   {ref}" in captured.err
    assert "KubeSphere is not running" in captured.out
    assert "  docker.io/kubesphere/ks-installer:v3.4.1\n  docker.io/kubesphere/ks-console:v3.4.1\n" in captured.out
    assert "Also missing (their pods cannot start):\n  docker.io/prom/prometheus:v2.39.1" in captured.out
    assert "successful" not in captured.out.replace("successsful", "")
    assert "Welcome to KubeSphere" not in captured.out
    assert not (hosts.parent / "kubesphere" / "kubesphere_running").exists()


def test_missing_storage_images_are_warned_about_before_installing(seed, capsys):
    image = bom.normalize(storage.IMAGES["nfs-server-provisioner"])
    code, _, _ = _install(["--multi-node", "-i", str(seed(lacking=(image,))), "--yes"])
    err = capsys.readouterr().err
    assert code == 0
    assert "lacks 1 image(s)" in err and f"warning:   {image}" in err


def test_a_console_that_never_answers_is_not_running(seed, capsys):
    clock = Clock()
    hosts = seed()
    code, _, probe = _install(["--multi-node", "-i", str(hosts), "--yes", "--wait", "60"],
                              probe=Mock(return_value="connection refused"), clock=clock)
    out = capsys.readouterr().out
    assert code == installer.EXIT_NOT_RUNNING
    assert "did not answer within 60 s" in out and "Welcome to KubeSphere" not in out
    assert not (hosts.parent / "kubesphere" / "kubesphere_running").exists()


def test_all_in_one_files_for_this_taskbox(tmp_path):
    written = installer.write_all_in_one(tmp_path / "allinone", "10.20.30.40")
    assert [p.name for p in written] == ["hosts.ini", "vars.yml"]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    hosts = (tmp_path / "allinone" / "hosts.ini").read_text()
    assert hosts.splitlines()[:2] == ["[all]", "master ansible_connection=local  ip=10.20.30.40"]
    loaded = cluster.load(tmp_path / "allinone" / "hosts.ini")
    assert installer.all_in_one_problem(loaded) is None
    assert storage.default_class(loaded.config.values) == "local"
    assert loaded.config["kube_network_plugin"] == "bridge"
    (tmp_path / "allinone" / "vars.yml").write_text("ks_console_nodeport: 30880\n")
    assert installer.write_all_in_one(tmp_path / "allinone", "10.9.9.9") == []
    assert "10.20.30.40" in (tmp_path / "allinone" / "hosts.ini").read_text()


def test_cli_reports_bad_input_with_exit_2(tmp_path, capsys):
    assert cli.main(["install", "--multi-node", "-i", str(tmp_path / "hosts.ini"), "--yes"]) == 2


def test_a_phase_out_of_time_is_stopped_with_everything_it_started(tmp_path):
    import time

    marker = tmp_path / "child.pid"
    # A shell that starts a child of its own (as salt-run starts ssh) and outlives the timeout.
    script = f"sleep 300 & echo $! > {marker}; wait"
    started = time.monotonic()
    code, _, err = installer.run_group(["/bin/sh", "-c", script], tmp_path, timeout=2, grace=1)
    assert code is None and "did not finish within 2 s" in err
    assert time.monotonic() - started < 20
    child = int(marker.read_text())
    time.sleep(0.5)
    try:
        with open(f"/proc/{child}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z"), f"the phase's child {child} still runs (state {state})"


# --- a run after a complete one asks the hosts first -----------------------------------------------------------------


def _planned(changes, comment=""):
    state = {"__id__": "kubesphere-planned-saltsphere-cluster-planned", "result": True, "changes": changes,
             "comment": comment, "__run_num__": 1}
    prepared = {"__id__": "kubesphere-prepare-saltsphere-cluster-prepared", "result": True, "changes": {},
                "comment": "", "__run_num__": 0}
    return {"data": {"taskbox_master": {
        "saltsphere_cluster_|-kubesphere-prepare-saltsphere-cluster-prepared_|-h_|-prepared": prepared,
        "saltsphere_cluster_|-kubesphere-planned-saltsphere-cluster-planned_|-h_|-planned": state}}, "retcode": 0}


def test_a_complete_run_is_recorded_and_the_next_skips_the_phases_when_no_host_would_change(tmp_path, capsys):
    from saltsphere import converged

    runner = _runner({"preflight": _preflight([])}, Clock())
    assert installer.run_phases(tmp_path, HOSTS, runner, clock=Clock()) is True
    assert converged.recorded(tmp_path)
    capsys.readouterr()
    clock = Clock()
    runner = _runner({"preflight": _preflight([]), "planned": _planned({})}, clock)
    assert installer.run_phases(tmp_path, HOSTS, runner, clock=clock) is True
    assert [c.args[1] for c in runner.call_args_list] == ["preflight", "planned"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/8] preflight   ok")
    assert lines[1] == ("[2-8/8] os to ks  skipped nothing would change on any host (every host's states under "
                        "test=True)   10 s")
    assert len(lines) == 2


def test_when_a_host_would_change_every_phase_after_the_preflight_runs(tmp_path, capsys):
    from saltsphere import converged

    converged.record(tmp_path)
    changes = {"would change": {"node1": ["os"]}}
    runner = _runner({"preflight": _preflight([]),
                      "planned": _planned(changes, "The phases run: would change: node1 (os)")}, Clock())
    assert installer.run_phases(tmp_path, HOSTS, runner, clock=Clock()) is True
    assert [c.args[1] for c in runner.call_args_list] == ["preflight", "planned", *installer.PHASES[1:]]
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "      The phases run: would change: node1 (os)"
    assert lines[2].startswith("[2/8] os ") and lines[-1].startswith("[8/8] ks ")


@pytest.mark.parametrize("changing, first, skipped", [
    ({"master": ["ks"], "node1": ["ks"]}, "ks", "[2-7/8] os to storage skipped nothing would change there on any "
                                                "host   10 s"),
    ({"master": ["network", "ks"], "node1": ["kubernetes"]}, "kubernetes",
     "[2-4/8] os to containerd skipped nothing would change there on any host   10 s"),
    ({"node1": ["etcd"]}, "etcd", "[2/8] os        skipped nothing would change there on any host   10 s"),
])
def test_the_phases_before_the_first_that_would_change_are_skipped_and_every_later_one_runs(tmp_path, capsys,
                                                                                            changing, first, skipped):
    from saltsphere import converged

    converged.record(tmp_path)
    clock = Clock()
    runner = _runner({"preflight": _preflight([]), "planned": _planned({"would change": changing}, "c")}, clock)
    assert installer.run_phases(tmp_path, HOSTS, runner, clock=clock) is True
    start = installer.PHASES.index(first)
    assert [c.args[1] for c in runner.call_args_list] == ["preflight", "planned", *installer.PHASES[start:]]
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == skipped
    assert lines[3].startswith(f"[{start + 1}/8] {first} ") and lines[-1].startswith("[8/8] ks ")


def test_a_host_that_could_not_be_planned_runs_every_phase():
    assert installer.first_changing({"would change": {"master": ["ks"]}, "not planned": {"node1": "no answer"}}) == 1
    assert installer.first_changing({"would change": "?"}) == 1
    assert installer.first_changing({"would change": {"master": ["ks"]}}) == installer.PHASES.index("ks")


def test_a_failed_question_stops_the_run_naming_it(tmp_path, capsys):
    from saltsphere import converged

    converged.record(tmp_path)
    runner = _runner({"preflight": _preflight([]), "planned": {"data": {"m": {"x": {
        "__id__": "kubesphere-prepare-saltsphere-cluster-prepared", "result": False, "changes": {},
        "comment": "the bundle server could not start"}}}, "retcode": 1}}, Clock())
    assert installer.run_phases(tmp_path, HOSTS, runner, clock=Clock()) is False
    out = capsys.readouterr().out
    assert "phase planned failed" in out and "the bundle server could not start" in out


def test_a_reset_forgets_the_complete_run(tmp_path):
    from saltsphere import converged

    assert converged.record(tmp_path) is True
    assert converged.record(tmp_path) is False
    assert oct(converged.record_path(tmp_path).stat().st_mode & 0o777) == "0o600"
    assert converged.forget(tmp_path) is True
    assert not converged.recorded(tmp_path) and converged.forget(tmp_path) is False
