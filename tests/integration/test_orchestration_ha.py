"""The whole orchestration so far (preflight, OS baseline, a 3-member TLS etcd cluster, containerd) on an ha sandbox."""

import concurrent.futures
import json
import time

import pytest

from saltsphere import cli

pytestmark = pytest.mark.sandbox

ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt "
    "--cert=/etc/etcd/pki/healthcheck.crt --key=/etc/etcd/pki/healthcheck.key"
)


def changed_states(data):
    """(host, state id) of every state that changed something in an orchestrate return."""
    found = []
    for result in data.get("data", data).values():
        for step in result.values():
            for host, states in (step.get("changes") or {}).get("ret", {}).items():
                if isinstance(states, dict):
                    found += [(host, sid) for sid, s in states.items() if isinstance(s, dict) and s.get("changes")]
    return found


def orchestrate(hosts, sls, timeout=900):
    return hosts.salt_run("state.orchestrate", sls, timeout=timeout)


@pytest.fixture(scope="module")
def installed(ha_hosts):
    code, data, err = orchestrate(ha_hosts, "kubesphere")
    assert code == 0, f"the orchestration failed: {json.dumps(data)[-3000:]} {err[-2000:]}"
    return ha_hosts


def test_containerd_runs_on_every_kubernetes_host(installed):
    for host in installed.hosts:
        code, out, err = installed.ssh(host, "systemctl is-active containerd")
        assert (code, out.strip()) == (0, "active"), f"{host}: {out} {err}"


def test_etcd_cluster_is_healthy_over_mutual_tls(installed):
    code, out, err = installed.ssh("master1", f"{ETCDCTL} endpoint health --cluster")
    assert code == 0, out + err
    assert (out + err).count("is healthy") == 3, out + err
    code, out, err = installed.ssh("master2", f"{ETCDCTL} member list")
    assert code == 0, err
    assert sorted(line.split(", ")[2] for line in out.splitlines()) == ["master1", "master2", "master3"]


def test_client_without_certificate_is_refused(installed):
    ip = installed.hosts["master1"]
    command = f"curl -s --max-time 5 --cacert /etc/etcd/pki/ca.crt https://{ip}:2379/health; echo rc=$?"
    code, out, err = installed.ssh("master2", command)
    assert "rc=0" not in out and '"health"' not in out, out


def test_os_baseline_is_in_place(installed):
    for host in installed.hosts:
        code, out, err = installed.ssh(host, "cat /proc/sys/net/ipv4/ip_forward; hostname; tail -n +2 /proc/swaps")
        assert code == 0, err
        assert out.split() == ["1", host]


def test_status_reports_etcd_from_the_taskbox(installed, capsys):
    assert cli.main(["status", "-i", str(installed.hosts_ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["etcd"]["healthy"] is True
    assert report["etcd"]["members"] == 3


def test_second_run_changes_nothing(installed):
    code, data, err = orchestrate(installed, "kubesphere")
    assert code == 0, err[-2000:]
    assert changed_states(data) == []


def test_member_stopped_mid_run_fails_clearly_and_rerun_converges(installed):
    """master3 loses power while the etcd phase works through master1 and master2."""
    sandbox = installed.sandbox
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(orchestrate, installed, "kubesphere.etcd")
        time.sleep(2)
        sandbox.stop("master3")
        try:
            code, data, err = running.result(timeout=900)
        finally:
            sandbox.start("master3")
    assert code != 0
    failed = [step for result in data.get("data", data).values() for step in result.values()
              if isinstance(step, dict) and step.get("result") is False]
    assert failed and "master3" in json.dumps(failed), json.dumps(data)[-3000:]
    code, data, err = orchestrate(installed, "kubesphere.etcd")
    assert code == 0, json.dumps(data)[-3000:]
    code, out, err = installed.ssh("master1", f"{ETCDCTL} endpoint health --cluster")
    assert (out + err).count("is healthy") == 3, out + err
