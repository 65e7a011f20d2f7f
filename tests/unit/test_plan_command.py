"""`saltsphere plan` and `install --dry-run`: dry-run returns read into tables, and a plan that changes nothing.

salt-run and salt-ssh are replaced by stand-ins returning what `state.orchestrate
kubesphere.preflight test=True` and `state.apply test=True` return; everything on
the taskbox is real (the prepare step, its certificates and gpg, the bundle server).
"""

import gzip
import hashlib
import json
import shutil
import socket
from pathlib import Path
from unittest.mock import Mock

import pytest

from saltsphere import cli, cluster, installer, plan, planreport, prepare
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML

pytestmark = pytest.mark.skipif(not shutil.which("gpg") or not shutil.which("gpgv"),
                                reason="needs gnupg (tools/setup installs it)")

HOSTS = ("master", "node1", "node2")
SECRET_KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n"


def _state(sid, result=None, changes=None, module="file", fun="managed", name=None, run_num=0, comment="", sls=None):
    return f"{module}_|-{sid}_|-{name or sid}_|-{fun}", {
        "__id__": sid, "name": name or sid, "result": result, "changes": changes or {}, "comment": comment,
        "__run_num__": run_num, "duration": 1.0, "__sls__": sls or sid.split("-")[0] + ".init"}


def _step(sid, ret=None, result=None, comment="States ran successfully.", run_num=0):
    step = {"__id__": sid, "name": sid, "result": result, "comment": comment, "__run_num__": run_num, "changes": {}}
    if ret:
        step["changes"] = {"out": "highstate", "ret": ret}
    return f"salt_|-{sid}_|-{sid}_|-state", step


def _prepared(run_num=0):
    return ("saltsphere_cluster_|-kubesphere-prepare-saltsphere-cluster-prepared_|-hosts.ini_|-prepared",
            {"__id__": "kubesphere-prepare-saltsphere-cluster-prepared", "name": "hosts.ini", "result": True,
             "comment": "the prepare step has nothing to make; the bundle is served", "changes": {},
             "__run_num__": run_num})


def _orchestrate(*steps, retcode=0):
    return {"outputter": "highstate", "data": {"taskbox_master": dict(steps)}, "retcode": retcode}


def _preflight(ok=True):
    failures = [] if ok else [{"host": "node2", "check": "swap", "detail": "swap is on", "fix": "swapoff -a"}]
    return _orchestrate((
        "saltsphere_cluster_|-kubesphere-preflight-saltsphere-cluster-preflight-passed_|-hosts.ini_|-"
        "preflight_passed", {"name": "hosts.ini", "result": ok, "__run_num__": 0, "changes": {},
                             "comment": "preflight passed" if ok else "preflight failed: 1 check failed on node2",
                             "failures": failures, "warnings": []}), retcode=0 if ok else 1)


# What a fresh host's containerd phase predicts: a package, a file (with its diff), a secret, a service start.
FRESH = {
    "master": dict([
        _state("transport-wipe-saltsphere-transport-wiped", True, module="saltsphere_transport", fun="wiped"),
        _state("containerd-package-saltsphere-packages-installed", changes={"installed": ["containerd", "runc"]},
               module="saltsphere_packages", fun="installed", run_num=1),
        _state("containerd-config-file-managed", changes={"diff": "New file\n+sandbox_image = \"pause:3.2\""},
               name="/etc/containerd/config.toml", run_num=2),
        _state("etcd-config-file-managed-peer-key", changes={"diff": "<show_changes=False>"},
               name="/etc/etcd/pki/peer.key", run_num=3),
        _state("containerd-service-service-running", module="service", fun="running", name="containerd",
               comment="Service containerd not present; if created in this state run, it would have been started",
               run_num=4),
        _state("containerd-health-saltsphere-containerd-plugin-loaded", module="saltsphere_containerd",
               fun="plugin_loaded", name="io.containerd.grpc.v1.cri", run_num=5),
        _state("kubernetes-config-saltsphere-kubernetes-kubeadm-config", name="/etc/kubernetes/saltsphere/kubeadm.yaml",
               changes={"/etc/kubernetes/saltsphere/kubeadm.yaml": "removed"}, module="saltsphere_kubernetes",
               fun="kubeadm_config", run_num=6),
    ]),
}


def _containerd_phase(ret=FRESH, unchanged=("node1", "node2")):
    comment = f"States ran successfully. Updating {', '.join(ret)}."
    if unchanged:
        comment += f" No changes made to {', '.join(unchanged)}."
    return _orchestrate(_prepared(), _step("kubesphere-containerd-salt-state", ret=ret, comment=comment, run_num=1))


def test_a_dry_run_phase_becomes_one_row_per_host_with_names_only():
    data = _containerd_phase()
    result = planreport.phase_plan("containerd", 0, json.dumps(data), "", HOSTS, 3.0)
    assert result.ok and list(result.hosts) == list(HOSTS)
    master = result.hosts["master"]
    assert master.states == ["containerd-package-saltsphere-packages-installed", "containerd-config-file-managed",
                             "etcd-config-file-managed-peer-key", "containerd-service-service-running",
                             "containerd-health-saltsphere-containerd-plugin-loaded",
                             "kubernetes-config-saltsphere-kubernetes-kubeadm-config"]
    assert master.services == ["containerd"]
    assert master.files == ["/etc/containerd/config.toml", "/etc/etcd/pki/peer.key",
                            "/etc/kubernetes/saltsphere/kubeadm.yaml (removed)"]
    assert result.hosts["node1"].states == [] and result.changing == ["master"]
    shown = json.dumps(result.as_dict()) + "\n".join(planreport.phase_lines(result, 4, 8))
    assert "sandbox_image" not in shown and "show_changes" not in shown, "a change's content reached the report"


def test_the_table_names_each_host_its_changes_services_and_files():
    result = planreport.phase_plan("containerd", 0, json.dumps(_containerd_phase()), "", HOSTS, 3.0)
    lines = planreport.phase_lines(result, 4, 8)
    assert lines[0] == "[4/8] containerd  ok      1 of 3 host(s) would change   3 s"
    assert lines[1].split() == ["HOST", "CHANGES", "SERVICES", "FILES"]
    assert lines[2].split()[:3] == ["master", "6", "containerd"]
    assert lines[2].rstrip().endswith("/etc/kubernetes/saltsphere/kubeadm.yaml (removed)")
    assert lines[3].split() == ["node1", "0", "-", "-"]


def test_a_state_that_would_fail_names_the_host_and_its_own_failure():
    ret = {"node1": dict([
        _state("containerd-config-file-managed", False, comment="Unable to manage file: template error", run_num=1),
        _state("containerd-service-service-running", False, module="service", fun="running", run_num=2,
               comment="One or more requisite failed: containerd.config.containerd-config-file-managed"),
    ])}
    data = _orchestrate(_prepared(), _step("kubesphere-containerd-salt-state", ret=ret, result=False,
                                           comment="Run failed on minions: node1", run_num=1), retcode=1)
    result = planreport.phase_plan("containerd", 1, json.dumps(data), "", HOSTS)
    assert not result.ok and result.result.failed == ("node1",)
    assert result.hosts["node1"].failures == [("containerd-config-file-managed",
                                               "Unable to manage file: template error")]
    assert "    would FAIL on node1: containerd-config-file-managed: Unable to manage file: template error" in \
        planreport.phase_lines(result, 4, 8)


def test_a_host_that_returned_no_states_is_a_failure():
    data = _orchestrate(_step("kubesphere-os-salt-state", result=False, comment="Run failed on minions: node2",
                              ret={"node2": {"_error": "ssh: connect to host 192.168.0.3 port 22: No route to host",
                                             "retcode": 255}}), retcode=1)
    result = planreport.phase_plan("os", 1, json.dumps(data), "", HOSTS)
    assert not result.ok
    assert result.hosts["node2"].failures == [("(the host)", "ssh: connect to host 192.168.0.3 port 22: No route "
                                                             "to host")]


def test_one_run_of_every_hosts_states_is_split_by_role_into_the_phases():
    data = _highstate()
    data["master"].update([_state("estate-own-file-managed", name="/etc/own.conf", changes={"diff": "x"},
                                  sls="estate.own", run_num=40)])
    plans = planreport.states_plans(installer.PHASES[1:], 0, json.dumps(data), "", HOSTS)
    assert [p.phase for p in plans] == list(installer.PHASES[1:])
    by_phase = {p.phase: p for p in plans}
    assert by_phase["containerd"].hosts["master"].services == ["containerd"]
    assert by_phase["containerd"].changing == ["master"] and list(by_phase["containerd"].hosts) == list(HOSTS)
    assert list(by_phase["etcd"].hosts) == ["master"], "a phase lists the hosts that have its role's states"
    assert by_phase["os"].hosts["master"].states == ["os-file-managed"]
    shown = [sid for p in plans for host in p.hosts.values() for sid in host.states]
    assert "estate-own-file-managed" not in shown and not any(sid.startswith("transport") for sid in shown)
    assert all(p.ok and p.seconds is None for p in plans)
    assert "   " not in planreport.phase_lines(by_phase["os"], 2, 8)[0].split("would change")[1], "no time of its own"


def test_a_host_that_returned_no_states_fails_the_first_phase_it_belongs_to():
    data = _highstate()
    data["node2"] = {"_error": "ssh: connect to host 192.168.0.3 port 22: No route to host", "retcode": 255}
    targets = {"os": list(HOSTS), "etcd": ["master"], "containerd": list(HOSTS)}
    plans = {p.phase: p for p in planreport.states_plans(installer.PHASES[1:], 2, json.dumps(data), "", HOSTS,
                                                         targets)}
    assert not plans["os"].ok and plans["os"].result.failed == ("node2",)
    assert plans["os"].hosts["node2"].failures == [("(the host)", "ssh: connect to host 192.168.0.3 port 22: No "
                                                                  "route to host")]
    assert plans["containerd"].ok and "node2" not in plans["containerd"].hosts


def test_salt_ssh_stopped_or_silent_fails_every_phase_with_its_words():
    plans = planreport.states_plans(installer.PHASES[1:], None, "", "salt-ssh did not finish within 900 s", HOSTS)
    assert not any(p.ok for p in plans)
    assert plans[0].result.comment == "salt-ssh did not finish within 900 s"
    assert plans[1].result.comment.startswith("not planned: ")
    plans = planreport.states_plans(installer.PHASES[1:], 2, "", "Permission denied (publickey)", HOSTS)
    assert plans[0].result.comment == "salt-ssh printed no result (exit 2): Permission denied (publickey)"


def test_phase_targets_follow_the_roles_as_the_top_file_does(write_cluster):
    loaded = cluster.load(str(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)))
    targets = plan.phase_targets(loaded)
    assert targets["etcd"] == ["master"] and targets["ks"] == ["master"]
    assert targets["os"] == targets["kubernetes"] == ["master", "node1", "node2"]


# --- the whole plan ------------------------------------------------------------------------------------------


INDEX = b"Package: socat\nVersion: 1.7.4.4-2\nArchitecture: amd64\nFilename: ./socat_1.7.4.4-2_amd64.deb\n"


def _port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def seed(write_cluster, tmp_path):
    """The seed's cluster with a small bundle (a signed apt repository) on a free port; returns hosts.ini."""
    bundle = tmp_path / "bundle"
    repo = bundle / "debs" / "debian-12"
    repo.mkdir(parents=True)
    (repo / "Packages").write_bytes(INDEX)
    (repo / "Packages.gz").write_bytes(gzip.compress(INDEX, mtime=0))
    entries = [mf.entry_for(bundle, f"debs/debian-12/{name}", name="Packages", version="debian-12", arch="amd64",
                            kind="deb") for name in ("Packages", "Packages.gz")]
    mf.write_manifest(bundle, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])

    def make(extra=""):
        return write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + f"artifact_bundle: {bundle}\nartifact_port: {_port()}\n"
                             + extra, directory=tmp_path / "cluster")
    return make


def _no_ca_anywhere(directory, loaded):
    return lambda paths: {name: {path: None for path in paths} for name in loaded.hosts}


def _highstate(master_extra=()):
    """What fresh hosts' ``state.apply test=True`` returns: master would change in every role, the nodes in none."""
    master = dict(_state(sid, result, changes, module, fun, name, run_num, comment, sls="containerd.init")
                  for sid, (result, changes, module, fun, name, run_num, comment) in (
                      (st["__id__"], (st["result"], st["changes"], key.split("_|-")[0], key.split("_|-")[-1],
                                      st["name"], st["__run_num__"], st["comment"]))
                      for key, st in FRESH["master"].items()) if not sid.startswith("transport"))
    master.update([_state("transport-wipe-saltsphere-transport-wiped", True, module="saltsphere_transport",
                          fun="wiped")])
    for number, phase in enumerate(("os", "etcd", "kubernetes", "network", "storage", "ks"), 10):
        master.update([_state(f"{phase}-file-managed", changes={"diff": "New file"}, name=f"/etc/{phase}.conf",
                              run_num=number)])
    master.update(master_extra)
    node = dict(_state(f"{phase}-file-managed", True, name=f"/etc/{phase}.conf", run_num=number)
                for number, phase in enumerate(("os", "containerd", "kubernetes", "network", "storage")))
    return {"master": master, "node1": node, "node2": dict(node)}


class Runner:
    """salt-run's and salt-ssh's stand-in: the preflight and the hosts' states; records where each ran."""

    def __init__(self, returns=None):
        self.returns = returns or {}
        self.calls = []

    def _record(self, directory, phase):
        state = Path(directory) / ".saltsphere"
        self.calls.append({"directory": Path(directory), "phase": phase,
                           "saltfile": (Path(directory) / "Saltfile").is_file(),
                           "served": serve.running(state) is not None, "pki": (state / "pki").is_dir()})

    def __call__(self, directory, phase):
        self._record(directory, phase)
        data = self.returns.get(phase) or _preflight()
        return data.get("retcode", 0), json.dumps(data), ""

    def states(self, directory):
        self._record(directory, "states")
        data = self.returns.get("states") or _highstate()
        return (1 if "failing" in self.returns else 0), json.dumps(data), ""


SERVER_FILES = ("bundle-server.lock", "bundle-server.log")


def _snapshot(directory):
    """Every file's hash but the bundle server's lock and log (any run's server leaves them, as the install's does)."""
    found = {}
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file() and path.name not in SERVER_FILES and "gnupg" not in path.parts:
            found[str(path.relative_to(directory))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _run(hosts_ini, runner, probe_for=_no_ca_anywhere, as_json=False):
    return plan.run(cluster.load(str(hosts_ini)), as_json=as_json, runner=runner, states_runner=runner.states,
                    probe_for=probe_for)


def test_fresh_hosts_are_planned_on_a_throwaway_copy_that_goes_afterwards(seed, capsys):
    hosts_ini = seed()
    before = _snapshot(hosts_ini.parent)
    runner = Runner()
    assert _run(hosts_ini, runner) == plan.EXIT_OK
    assert [call["phase"] for call in runner.calls] == ["preflight", "states"]
    where = runner.calls[0]["directory"]
    assert where != hosts_ini.parent and not where.exists(), "the throwaway copy is removed afterwards"
    assert all(call["saltfile"] and call["served"] and call["pki"] for call in runner.calls)
    assert _snapshot(hosts_ini.parent) == before, "the plan wrote into the cluster directory"
    assert not (hosts_ini.parent / ".saltsphere").exists() and not (hosts_ini.parent / "Saltfile").exists()
    out = capsys.readouterr().out
    assert "fresh hosts: on a throwaway copy of the cluster directory" in out
    assert "[4/8] containerd  ok      1 of 3 host(s) would change" in out
    assert "  master: os, etcd, containerd, kubernetes, network, storage, ks" in out
    assert "  pki/kubernetes/ca.crt" in out and "  ks-admin-password" in out
    assert "bundle-server" not in out, "the server's own files are not the install's to make"
    assert out.rstrip().endswith("No state would fail. Nothing was changed (the plan ran every state with test=True).")


def test_hosts_holding_a_ca_stop_a_plan_without_state_as_they_stop_the_prepare_step(seed, capsys):
    hosts_ini = seed()
    runner = Runner()

    def holders(directory, loaded):
        return lambda paths: {name: {path: ("ab" * 32 if name == "master" and path.endswith("pki/ca.crt") else None)
                                     for path in paths} for name in loaded.hosts}

    assert _run(hosts_ini, runner, probe_for=holders) == plan.EXIT_FAILED
    assert runner.calls == []
    err = capsys.readouterr().err
    assert "the cluster's hosts hold one (master:" in err and "saltsphere pki import" in err
    assert not (hosts_ini.parent / ".saltsphere").exists()


def test_an_installed_cluster_is_planned_in_place_and_left_as_it_was(seed, capsys):
    hosts_ini = seed()
    loaded = cluster.load(str(hosts_ini))
    prepare.prepare(loaded, probe=_no_ca_anywhere(None, loaded), serve_bundle=False)
    from saltsphere import clusterdir

    clusterdir.init(hosts_ini.parent, hosts_ini)
    before = _snapshot(hosts_ini.parent)
    runner = Runner()
    asked = Mock(side_effect=AssertionError("no host is asked: the taskbox holds the CAs"))
    assert _run(hosts_ini, runner, probe_for=lambda directory, loaded: asked) == 0
    assert {call["directory"] for call in runner.calls} == {hosts_ini.parent}
    assert all(call["served"] for call in runner.calls)
    assert serve.running(hosts_ini.parent / ".saltsphere") is None, "the plan's bundle server ends with it"
    assert _snapshot(hosts_ini.parent) == before
    assert "the install's prepare step has nothing to make" in capsys.readouterr().out


def test_a_plan_refuses_to_run_where_the_prepare_step_would_make_something(seed, capsys):
    hosts_ini = seed()
    loaded = cluster.load(str(hosts_ini))
    prepare.prepare(loaded, probe=_no_ca_anywhere(None, loaded), serve_bundle=False)
    hosts_ini = seed(extra="ks_admin_password: Changed-Pw-9\n")
    before = _snapshot(hosts_ini.parent)
    runner = Runner()
    assert _run(hosts_ini, runner) == plan.EXIT_FAILED
    assert runner.calls == [] and _snapshot(hosts_ini.parent) == before
    err = capsys.readouterr().err
    assert "ks-admin-password.bcrypt" in err and "salt-run saltsphere.prepare" in err


def test_a_failed_preflight_ends_the_plan_and_a_failing_phase_does_not(seed, capsys):
    hosts_ini = seed()
    runner = Runner({"preflight": _preflight(ok=False)})
    assert _run(hosts_ini, runner) == plan.EXIT_FAILED
    assert [call["phase"] for call in runner.calls] == ["preflight"]
    assert "node2 swap: swap is on" in capsys.readouterr().out

    failing = _highstate([_state("etcd-config-saltsphere-certs-ca-kept", False, module="saltsphere_certs",
                                 fun="ca_kept", comment="/etc/etcd/pki/ca.crt holds another CA", run_num=30)])
    runner = Runner({"states": failing, "failing": True})
    assert _run(hosts_ini, runner) == plan.EXIT_FAILED
    assert [call["phase"] for call in runner.calls] == ["preflight", "states"]
    out = capsys.readouterr().out
    assert "[3/8] etcd        FAILED" in out and "Would FAIL in: etcd." in out
    assert "    would FAIL on master: etcd-config-saltsphere-certs-ca-kept: /etc/etcd/pki/ca.crt holds another CA" \
        in out
    assert "[4/8] containerd  ok      1 of 3 host(s) would change" in out, "the other phases are still planned"


def test_the_plan_as_json(seed, capsys):
    assert _run(seed(), Runner(), as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and [p["phase"] for p in report["phases"]] == list(installer.PHASES)
    containerd = report["phases"][3]["hosts"]["master"]
    assert containerd["changes"] == 6 and containerd["services"] == ["containerd"]
    assert report["changing"] == {"master": [p for p in installer.PHASES if p != "preflight"]}
    assert report["unchanged"] == ["node1", "node2"]
    assert report["taskbox"]["throwaway_copy"] is True and "pki/etcd/ca.crt" in report["taskbox"]["would_make"]


def test_bad_input_is_exit_2_before_anything(write_cluster, capsys):
    path = write_cluster(SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=192.168.0.300"))
    assert cli.main(["plan", "-i", str(path)]) == plan.EXIT_INVALID
    assert "192.168.0.300" in capsys.readouterr().err
    assert not (path.parent / ".saltsphere").exists()


def test_install_dry_run_is_the_plan_and_asks_nothing(seed):
    hosts_ini = seed()
    dry_run = Mock(return_value=0)
    args = cli.build_parser().parse_args(["install", "--multi-node", "-i", str(hosts_ini), "--dry-run"])
    runner = Mock(side_effect=AssertionError("the install ran a phase"))
    assert installer.install(args, runner=runner, ask=Mock(side_effect=AssertionError("asked")),
                             dry_run=dry_run) == 0
    assert dry_run.call_args.args[0].hosts_ini == str(hosts_ini)
    assert not (hosts_ini.parent / "Saltfile").exists()


def test_an_all_in_one_dry_run_writes_no_inventory_here(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(installer, "taskbox_ip", lambda: "10.20.30.40")
    seen = {}

    def dry_run(loaded, out=None, err=None):
        seen["hosts"] = Path(loaded.hosts_ini).read_text()
        seen["dir"] = Path(loaded.directory)
        return 0

    args = cli.build_parser().parse_args(["install", "--all-in-one", "--dry-run", "--dir", str(tmp_path / "aio")])
    assert installer.install(args, dry_run=dry_run) == 0
    assert "10.20.30.40" in seen["hosts"] and not seen["dir"].exists()
    assert not (tmp_path / "aio").exists()
    assert "the install would write" in capsys.readouterr().out


def test_an_all_in_one_dry_run_plans_the_inventory_there_and_adds_nothing_to_it(tmp_path, monkeypatch):
    monkeypatch.setattr(installer, "taskbox_ip", lambda: "10.20.30.40")
    installer.write_all_in_one(tmp_path / "aio", "10.20.30.40")
    (tmp_path / "aio" / "vars.yml").unlink()
    dry_run = Mock(return_value=0)
    args = cli.build_parser().parse_args(["install", "--all-in-one", "--dry-run", "--dir", str(tmp_path / "aio")])
    assert installer.install(args, dry_run=dry_run) == 0
    assert dry_run.call_args.args[0].hosts_ini == str(tmp_path / "aio" / "hosts.ini")
    assert sorted(p.name for p in (tmp_path / "aio").iterdir()) == ["hosts.ini"]
