"""Preflight on real sandbox hosts: it passes as they are, catches injected faults in one table, and changes nothing."""

import re
import shutil

import pytest

from saltsphere import clusterdir

from conftest import SandboxHosts

pytestmark = pytest.mark.sandbox

TIMEOUT = 180
MARKER = "/tmp/saltsphere-preflight-marker"
# Directories the install owns; logins and salt-ssh's own files (/tmp,
# /var/tmp, logs, the sudo user's home) may change, these must not.
WATCHED = "/etc /usr /opt /var/lib /boot"
PORT_HOLDER = (
    "nohup python3 -c 'import socket, time; s = socket.socket(); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"0.0.0.0\", 6443)); s.listen(); "
    "time.sleep(600)' >/dev/null 2>&1 & echo $!"
)


def preflight(hosts):
    code, data, err = hosts.salt_run("saltsphere_preflight.run", "ignore_host_keys=True", timeout=TIMEOUT)
    assert isinstance(data, dict) and "table" in data, f"exit {code}: {data!r} {err[-2000:]}"
    return code, data


def failed(data):
    return {(row["host"], row["check"]): row for row in data["failures"]}


def mark(hosts):
    for host in hosts.hosts:
        code, _, err = hosts.ssh(host, f"touch {MARKER}")
        assert code == 0, err


def changed_since_mark(hosts):
    changed = {}
    for host in hosts.hosts:
        code, out, err = hosts.ssh(host, f"sudo -n find {WATCHED} -xdev -newer {MARKER} 2>/dev/null "
                                         f"|| find {WATCHED} -xdev -newer {MARKER} 2>/dev/null; true")
        paths = out.split()
        if paths:
            changed[host] = paths
    return changed


def test_preflight_passes_on_the_sandbox_and_changes_nothing(sandbox_hosts):
    mark(sandbox_hosts)

    code, data = preflight(sandbox_hosts)

    assert code == 0, data["table"]
    assert data["result"] is True and data["failures"] == []
    assert data["table"].splitlines()[0].split()[:3] == ["HOST", "ssh", "os"]
    assert data["comment"].startswith("preflight passed on 3 hosts")
    assert changed_since_mark(sandbox_hosts) == {}


def test_orchestration_runs_preflight(sandbox_hosts):
    code, data, err = sandbox_hosts.salt_run("state.orchestrate", "kubesphere.preflight",
                                             'pillar={"ignore_host_keys": true}', timeout=TIMEOUT)
    assert code == 0, f"{data!r} {err[-2000:]}"
    states = next(iter(data["data"].values()))
    (state,) = states.values()
    assert state["result"] is True and state["failures"] == []
    # A check changes nothing, and Salt's summary says so.
    assert state["changes"] == {}
    assert not (sandbox_hosts.cluster_dir / ".saltsphere" / "pki").exists(), "the preflight makes nothing"


def test_a_taken_port_is_reported_with_its_process(sandbox_hosts):
    code, out, err = sandbox_hosts.ssh("master", PORT_HOLDER)
    assert code == 0, err
    pid = out.strip()
    try:
        mark(sandbox_hosts)
        code, data = preflight(sandbox_hosts)
    finally:
        sandbox_hosts.ssh("master", f"kill {pid}")

    assert code != 0
    rows = failed(data)
    assert list(rows) == [("master", "ports")], data["table"]
    assert f"Port 6443 (kube-apiserver) is in use by python3 (pid {pid})" in rows["master", "ports"]["detail"]
    assert f"stop python3 (pid {pid})" in rows["master", "ports"]["fix"]
    master_line = next(line for line in data["table"].splitlines() if line.startswith("master "))
    assert "FAIL" in master_line
    assert changed_since_mark(sandbox_hosts) == {}


def test_an_unmet_threshold_fails_the_orchestration(sandbox_hosts, tmp_path):
    clusterdir.init(tmp_path)
    shutil.copy(sandbox_hosts.hosts_ini, tmp_path / "hosts.ini")
    (tmp_path / "hosts.ini").chmod(0o600)
    vars_yml = (sandbox_hosts.cluster_dir / "vars.yml").read_text()
    vars_yml = re.sub(r"(?m)^preflight_min_memory_gb:.*$", "preflight_min_memory_gb: 100000", vars_yml)
    (tmp_path / "vars.yml").write_text(vars_yml)
    other = SandboxHosts(sandbox_hosts.sandbox, tmp_path / "hosts.ini", tmp_path, sandbox_hosts.hosts)

    code, data, err = other.salt_run("state.orchestrate", "kubesphere.preflight",
                                     'pillar={"ignore_host_keys": true}', timeout=TIMEOUT)

    assert code != 0, err[-2000:]
    (state,) = next(iter(data["data"].values())).values()
    assert state["result"] is False
    result = state
    assert set(failed(result)) == {(host, "memory") for host in sandbox_hosts.hosts}
    assert "less than the minimum 100000 GB" in failed(result)["node1", "memory"]["detail"]


def test_a_stopped_host_is_one_failed_row(sandbox_hosts):
    sandbox_hosts.sandbox.stop("node2")
    try:
        code, data = preflight(sandbox_hosts)
    finally:
        sandbox_hosts.sandbox.start("node2")

    assert code != 0
    rows = failed(data)
    assert list(rows) == [("node2", "ssh")], data["table"]
    assert rows["node2", "ssh"]["detail"].startswith(f"deploy@{sandbox_hosts.hosts['node2']}:22: ")
    assert "node2 is up" in rows["node2", "ssh"]["fix"]
    assert "Traceback" not in data["table"]
