"""The sandbox gives real, reachable, distinct hosts, and removes them without a trace."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from saltsphere import cluster
from saltsphere.sandbox import network, rootfs
from saltsphere.sandbox.locations import CACHE_ROOT

pytestmark = pytest.mark.sandbox


def test_up_boots_every_host_reachable(sandbox_hosts):
    assert list(sandbox_hosts.hosts) == ["master", "node1", "node2"]
    for row in sandbox_hosts.sandbox.status():
        assert row["state"] == "running"
    for host in sandbox_hosts.hosts:
        code, out, err = sandbox_hosts.ssh(host, "hostname")
        assert (code, out.strip()) == (0, host), err


def test_hosts_ini_and_vars_pass_saltsphere_validation(sandbox_hosts):
    loaded = cluster.load(sandbox_hosts.hosts_ini)
    roles = {name: set(spec.roles) for name, spec in loaded.hosts.items()}
    assert roles["master"] >= {"kube-master", "etcd"}
    assert "kube-node" in roles["node1"] and "kube-node" in roles["node2"]
    assert loaded.hosts["node2"].user == "deploy"
    assert loaded.config["kube_network_plugin"] == "bridge"
    assert loaded.config["nfs_server_is_default_class"] is True
    assert os.stat(sandbox_hosts.hosts_ini).st_mode & 0o777 == 0o600
    assert os.stat(sandbox_hosts.cluster_dir).st_mode & 0o777 == 0o700


def test_salt_ssh_pings_every_host_including_password_and_sudo_hosts(sandbox_hosts):
    code, data, err = sandbox_hosts.salt_ssh("*", "test.ping")
    assert code == 0, err
    assert data == {"master": True, "node1": True, "node2": True}


def test_sudo_host_runs_salt_as_root(sandbox_hosts):
    code, data, err = sandbox_hosts.salt_ssh("node2", "cmd.run", "id -un")
    assert code == 0, err
    assert data == {"node2": "root"}


def test_hosts_are_distinct_machines(sandbox_hosts):
    seen = {}
    for host in sandbox_hosts.hosts:
        code, out, err = sandbox_hosts.ssh(host, "cat /etc/machine-id /sys/class/net/host0/address")
        assert code == 0, err
        seen[host] = tuple(out.split())
    machine_ids = {ids[0] for ids in seen.values()}
    macs = {ids[1] for ids in seen.values()}
    assert len(machine_ids) == len(macs) == len(seen)


def test_hosts_can_run_kubelet_without_touching_the_taskbox_kernel(sandbox_hosts):
    before = _taskbox_sysctls()
    script = (
        "cat /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops; "
        "echo 1 > /proc/sys/vm/overcommit_memory; "
        "mkdir /sys/fs/cgroup/memory/sandbox-test && rmdir /sys/fs/cgroup/memory/sandbox-test && echo cgroup-ok; "
        "stat -f -c %T /var/lib/containerd; test -c /dev/kmsg && echo kmsg-ok"
    )
    code, out, err = sandbox_hosts.ssh("master", script)
    assert code == 0, err
    assert out.split() == ["1", "10", "1", "cgroup-ok", "ext2/ext3", "kmsg-ok"]
    assert _taskbox_sysctls() == before


def test_hosts_reach_the_package_mirror(sandbox_hosts):
    code, out, err = sandbox_hosts.ssh("node1", "apt-get -q update", timeout=120)
    assert code == 0, out + err


def test_up_twice_changes_nothing(sandbox_hosts):
    before = sandbox_hosts.hosts_ini.read_text()
    started = time.monotonic()
    assert sandbox_hosts.sandbox.up() == sandbox_hosts.hosts_ini
    assert time.monotonic() - started < 10
    assert sandbox_hosts.hosts_ini.read_text() == before
    assert all(row["state"] == "running" for row in sandbox_hosts.sandbox.status())


def test_stop_cuts_a_host_off_and_start_brings_it_back(sandbox_hosts):
    sandbox_hosts.sandbox.stop("node1")
    states = {row["name"]: row["state"] for row in sandbox_hosts.sandbox.status()}
    assert states == {"master": "running", "node1": "stopped", "node2": "running"}
    code, data, _ = sandbox_hosts.salt_ssh("node1", "test.ping", timeout=120)
    assert data.get("node1") is not True
    sandbox_hosts.sandbox.start("node1")
    code, data, err = sandbox_hosts.salt_ssh("node1", "test.ping")
    assert (code, data) == (0, {"node1": True}), err


def test_reset_wipes_a_host(sandbox_hosts):
    code, _, err = sandbox_hosts.ssh("master", "touch /root/left-behind")
    assert code == 0, err
    sandbox_hosts.sandbox.reset("master")
    code, out, _ = sandbox_hosts.ssh("master", "test -e /root/left-behind && echo kept || echo wiped")
    assert out.strip() == "wiped"


def test_ha_profile_inventory(fresh_sandbox):
    loaded = cluster.load(fresh_sandbox("-ha").up(profile="ha"))
    masters = {n for n, spec in loaded.hosts.items() if "kube-master" in spec.roles}
    etcd = {n for n, spec in loaded.hosts.items() if "etcd" in spec.roles}
    nodes = {n for n, spec in loaded.hosts.items() if "kube-node" in spec.roles}
    assert masters == etcd == {"master1", "master2", "master3"}
    assert nodes == {"node1", "node2"}


def test_down_leaves_no_trace_even_when_a_host_will_not_power_off(fresh_sandbox):
    firewall_before = _firewall()
    sandbox = fresh_sandbox("-down")
    name = sandbox.name
    loaded = cluster.load(sandbox.up(profile="all-in-one"))
    assert loaded.config["local_volume_is_default_class"] is True
    cgroup_dirs = sandbox.host_cgroups("master")
    state_dir = sandbox.layout.root
    # A service whose stop never finishes holds systemd's shutdown for minutes.
    argv, env = sandbox.ssh_command(
        "master",
        "systemd-run --unit=stubborn -p TimeoutStopSec=infinity -p KillSignal=SIGCONT "
        "-p ExecStop='/bin/sleep 600' /bin/sleep 600",
    )
    subprocess.run(argv, env=env, check=True, timeout=30, stdin=subprocess.DEVNULL, capture_output=True)
    started = time.monotonic()
    sandbox.down()
    assert time.monotonic() - started < 30
    assert not state_dir.exists()
    assert not any(Path(d).exists() for d in cgroup_dirs)
    assert not network.netns_path(name).exists()
    assert not Path(f"/sys/class/net/{network.uplink(name)}").exists()
    assert not [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if name in line]
    assert not _live_processes_mentioning(name)
    assert _firewall() == firewall_before
    assert any(CACHE_ROOT.glob(f"{rootfs.mirror.SUITE}-*"))


def _taskbox_sysctls():
    return [Path(f"/proc/sys/{p}").read_text() for p in ("vm/overcommit_memory", "kernel/panic",
                                                          "kernel/panic_on_oops", "net/ipv4/ip_forward")]


def _firewall():
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, timeout=30, check=True).stdout
    return [line for line in rules.splitlines() if not line.startswith(("#", ":"))]


def _live_processes_mentioning(name):
    """Processes of the sandbox still running; exited ones waiting for init to reap them don't count."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cgroup = (proc / "cgroup").read_text()
        except OSError:
            continue
        if name in cmdline or name in cgroup:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_status_json_lists_hosts(sandbox_hosts):
    out = subprocess.run(
        [sys.executable, "-m", "saltsphere.cli", "sandbox", "status", "--json", "--name", sandbox_hosts.sandbox.name],
        capture_output=True, text=True, timeout=30, check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    ).stdout
    rows = json.loads(out)
    assert {row["name"]: row["ip"] for row in rows} == sandbox_hosts.hosts
