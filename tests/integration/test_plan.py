"""`saltsphere plan` on a 3-host sandbox before the install: fresh hosts, then a half-installed cluster.

In order, on one sandbox: a plan on fresh hosts predicts changes on every host
of every phase and leaves hosts and taskbox as they were; a plan of a
half-installed cluster (os and etcd done) predicts the rest and fails nothing.
The plan of an installed cluster (nothing predicted; one setting changed: exactly
what the install then changes) runs on test_install's cluster.
"""

import pytest

import planning

pytestmark = pytest.mark.sandbox

INSTALL_TIMEOUT = 3000
PHASES = ("preflight", "os", "etcd", "containerd", "kubernetes", "network", "storage", "ks")
# The hosts each phase targets on the multi-node sandbox (master: etcd and the first master).
TARGETS = {phase: {"master"} if phase in ("etcd", "ks") else {"master", "node1", "node2"} for phase in PHASES[1:]}


@pytest.fixture(scope="module")
def fresh_plan(sandbox_hosts):
    before = planning.footprint(sandbox_hosts)
    code, report, out, err, seconds = planning.run_plan(sandbox_hosts)
    print(f"saltsphere plan on 3 fresh hosts: {seconds:.1f} s, exit {code}")
    return sandbox_hosts, before, code, report, err


def test_a_plan_on_fresh_hosts_predicts_changes_on_every_host_of_every_phase(fresh_plan):
    _, _, code, report, err = fresh_plan
    assert code == 0 and report is not None, err[-3000:]
    assert planning.failures(report) == []
    assert [phase["phase"] for phase in report["phases"]] == list(PHASES)
    for phase in report["phases"][1:]:
        assert set(phase["hosts"]) == TARGETS[phase["phase"]], phase["phase"]
        idle = [host for host, plan in phase["hosts"].items() if plan["changes"] == 0]
        assert idle == [], f"{phase['phase']}: no change predicted on {idle}"
    master = {phase["phase"]: phase["hosts"].get("master", {}) for phase in report["phases"]}
    assert "containerd" in master["containerd"]["services"]
    assert "/etc/containerd/config.toml" in master["containerd"]["files"]
    assert report["taskbox"]["throwaway_copy"] is True
    assert {"pki/kubernetes/ca.crt", "pki/etcd/ca.crt", "admin.conf"} <= set(report["taskbox"]["would_make"])


def test_a_plan_on_fresh_hosts_leaves_hosts_and_taskbox_as_they_were(fresh_plan):
    hosts, before, _, _, _ = fresh_plan
    after = planning.footprint(hosts)
    assert after == before
    for host, found in after.items():
        assert found["kubelet"][0] != 0 and found["/etc/kubernetes"][0] != 0, f"{host}: {found}"
        assert "install ok installed" not in found["containerd"][1], f"{host}: containerd was installed"
        assert found["bundle record"][0] != 0, f"{host}: the bundle record was written"
    assert not (hosts.cluster_dir / ".saltsphere").exists()


@pytest.fixture(scope="module")
def half_installed(fresh_plan):
    """The os and etcd phases for real, then a plan: what is done predicts nothing, the rest is predicted."""
    hosts = fresh_plan[0]
    for phase in ("os", "etcd"):
        code, data, err = hosts.salt_run("state.orchestrate", f"kubesphere.{phase}", timeout=INSTALL_TIMEOUT)
        assert code == 0, f"kubesphere.{phase}: {err[-3000:]}"
    code, report, out, err, seconds = planning.run_plan(hosts)
    print(f"saltsphere plan of a half-installed cluster: {seconds:.1f} s, exit {code}")
    return hosts, code, report, err


def test_a_plan_of_a_half_installed_cluster_predicts_the_rest_and_fails_nothing(half_installed):
    hosts, code, report, err = half_installed
    assert code == 0 and report is not None, err[-3000:]
    assert planning.failures(report) == []
    by_phase = {phase["phase"]: phase["hosts"] for phase in report["phases"]}
    for done in ("os", "etcd"):
        assert {host: plan["states"] for host, plan in by_phase[done].items() if plan["changes"]} == {}, done
    for phase in ("containerd", "kubernetes"):
        idle = [host for host in TARGETS[phase] if by_phase[phase][host]["changes"] == 0]
        assert idle == [], f"{phase}: no change predicted on {idle}"
    # Still nothing of the later phases on any host.
    for host, found in planning.footprint(hosts).items():
        assert found["kubelet"][0] != 0 and "install ok installed" not in found["containerd"][1], f"{host}: {found}"
