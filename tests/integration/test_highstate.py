"""The declarative mode: `salt-ssh '*' state.apply` on every host at once builds the same cluster.

A worker that loses power in the middle fails the run clearly; the master's
run is cut while etcd's package is installing (the moment the package's own
start of etcd is held back); after both, one more run converges and the next
changes nothing.
"""

import concurrent.futures
import json
import subprocess
import time

import pytest

import hostscan
from saltsphere import cli

pytestmark = pytest.mark.sandbox

APPLY_TIMEOUT = 1500
# Hosts wait this long for a neighbour, so the run with a dead worker ends soon.
WAIT_SECONDS = 60
WATCH_SECONDS = 300
# Returns as soon as dpkg has begun changing the package database.
DPKG_AT_WORK = (
    f"for i in $(seq {WATCH_SECONDS * 50}); do "
    "[ -n \"$(ls -A /var/lib/dpkg/updates 2>/dev/null)\" ] && exit 0; sleep 0.02; done; exit 1"
)


# Returns once etcd's package is installing behind its runtime mask, and then
# cuts the master's run there: its state run dies, the package install goes on.
ETCD_HELD = (
    f"for i in $(seq {WATCH_SECONDS * 50}); do "
    "if [ -L /run/systemd/system/etcd.service ]; then pkill -9 -f 'salt-cal[l]'; exit 0; fi; sleep 0.02; done; exit 1"
)


def failures(data):
    """{host: [comments of failed states]} of a salt-ssh state.apply return."""
    found = {}
    for host, states in data.items():
        if not isinstance(states, dict):
            found[host] = [str(states)]
            continue
        if "retcode" in states and not any(isinstance(v, dict) and "__run_num__" in v for v in states.values()):
            found[host] = [json.dumps(states)[-500:]]
            continue
        bad = [s.get("comment", "") for s in states.values() if isinstance(s, dict) and s.get("result") is False]
        if bad:
            found[host] = bad
    return found


def changed(data):
    return sorted((host, sid) for host, states in data.items() if isinstance(states, dict)
                  for sid, s in states.items() if isinstance(s, dict) and s.get("changes"))


@pytest.fixture(scope="module")
def hosts(sandbox_hosts):
    vars_yml = sandbox_hosts.cluster_dir / "vars.yml"
    vars_yml.write_text(vars_yml.read_text() + f"\nkube_wait_seconds: {WAIT_SECONDS}\n")
    return sandbox_hosts


def test_worker_lost_mid_install_fails_clearly_and_a_rerun_converges(hosts, capsys):
    hosts.prepare()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        running = pool.submit(hosts.salt_ssh, "*", "state.apply", timeout=APPLY_TIMEOUT)
        held = pool.submit(hostscan.run_inside, hosts.sandbox, "master", ["sh", "-c", ETCD_HELD],
                           timeout=WATCH_SECONDS + 30)
        # node2 loses power while dpkg is in the middle of installing packages:
        # the worst moment, dpkg's journal holds work half done.
        caught, _, _ = hosts.ssh("node2", DPKG_AT_WORK, timeout=WATCH_SECONDS + 30)
        hosts.sandbox.stop("node2")
        try:
            code, data, err = running.result(timeout=APPLY_TIMEOUT)
        finally:
            hosts.sandbox.start("node2")
    assert caught == 0, f"dpkg never ran on node2 within {WATCH_SECONDS} s"
    assert held.result()[0] == 0, "the master's run was never seen installing etcd behind its mask"
    assert code != 0
    failed = failures(data)
    assert "node2" in failed, json.dumps(data)[-3000:]
    # What apt calls "dpkg was interrupted": the next install refuses to run
    # until that work is finished.
    code, out, _ = hosts.ssh("node2", "ls -A /var/lib/dpkg/updates; dpkg --audit")
    assert out.strip(), "node2's package database was left clean: the power cut came too late"

    started = time.monotonic()
    code, data, err = hosts.salt_ssh("*", "state.apply", timeout=APPLY_TIMEOUT)
    assert code == 0 and not failures(data), json.dumps(failures(data))[-4000:] + err[-2000:]
    print(f"converging run after the restart: {time.monotonic() - started:.1f} s")
    # The cut master can start services again: no mask, no policy-rc.d, etcd and ssh restart.
    assert hostscan.find(hosts.sandbox, "master", "/run/systemd/system", "-name", "etcd.service") == []
    assert hostscan.find(hosts.sandbox, "master", "/usr/sbin", "-name", "policy-rc.d") == []
    # Asked over ssh, as an operator would: systemd answers on its own bus only.
    code, out, err = hosts.ssh("master", "systemctl restart ssh && systemctl is-active etcd ssh")
    assert code == 0 and out.split() == ["active", "active"], out + err

    capsys.readouterr()  # the sandbox's own messages
    assert cli.main(["status", "-i", str(hosts.hosts_ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["kubernetes"]
    assert report["nodes"] == {"master": "Ready", "node1": "Ready", "node2": "Ready"}


def test_every_node_routes_to_every_other_nodes_pods(hosts):
    for host in hosts.hosts:
        # The sandbox's vars.yml keeps the default pod range, 10.233.64.0/18.
        code, out, err = hosts.ssh(host, "ip route show | grep -c '^10\\.233\\..* via '")
        assert out.strip() == "2", f"{host}: {out} {err}"


def test_a_further_run_changes_nothing(hosts):
    started = time.monotonic()
    code, data, err = hosts.salt_ssh("*", "state.apply", timeout=APPLY_TIMEOUT)
    assert code == 0, err[-2000:]
    assert changed(data) == []
    print(f"no-op highstate on 3 hosts: {time.monotonic() - started:.1f} s")


# --- reset: the cluster off its hosts, then a fresh install on the same hosts ---

RESET_TIMEOUT = 1500
# Inside a host: its processes (its /proc), its network namespace, its files.
LEFTOVERS = {
    # comm is cut at 15 characters: "containerd-shim" stands for every shim.
    "processes": "ps -e -o comm= | grep -xE 'kubelet|etcd|containerd|containerd-shim.*|kube-.*'",
    "interfaces": "ip -o link show | awk -F': ' '{print $2}' | grep -E '^(kube|cni|cali|flannel)'",
    "chains": "for save in iptables-nft-save iptables-legacy-save ip6tables-nft-save ip6tables-legacy-save; do "
              "command -v $save >/dev/null && $save | grep -E '^:(KUBE-|CNI-)|-j (KUBE|CNI)-' | sed \"s/^/$save /\"; "
              "done",
    # /var/lib/containerd may stay as an empty directory (the sandbox mounts it); nothing in it may.
    "files": "ls -d /etc/kubernetes /var/lib/kubelet /etc/cni/net.d /etc/containerd /etc/etcd /var/lib/saltsphere "
             "/usr/local/bin/kubelet 2>/dev/null; for dir in /var/lib/etcd /var/lib/containerd; do "
             "ls -A $dir 2>/dev/null | sed \"s|^|$dir/|\"; done",
}


def _inside(hosts, host, command):
    """``command`` in the host's mount and network namespaces, as root: (returncode, stdout, stderr)."""
    pid = hostscan.host_init_pid(hosts.sandbox, host)
    proc = subprocess.run(["nsenter", f"--target={pid}", "--mount", "--net", "--", "sh", "-c", command],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_reset_dry_run_names_what_would_go_on_every_host_and_removes_nothing(hosts, capsys):
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["reset", "-i", str(hosts.hosts_ini), "--dry-run"])
    out = capsys.readouterr().out
    print(f"reset --dry-run of 3 hosts: {time.monotonic() - started:.1f} s")
    assert code == 0, out
    assert "No state would fail. Nothing was changed" in out, out
    changing = {line.split(":")[0].strip(): line.split(":", 1)[1].split(", ")
                for line in out.split("Would change:", 1)[1].splitlines()[1:] if line.startswith("  ")}
    assert set(changing) == set(hosts.hosts), out
    assert all("kubernetes" in [phase.strip() for phase in phases] for phases in changing.values()), out
    for host in hosts.hosts:
        _, active, _ = hosts.ssh(host, "systemctl is-active kubelet containerd")
        assert active.split() == ["active", "active"], f"{host}: {active}"
        _, found, _ = _inside(hosts, host, "ls -d /etc/kubernetes /var/lib/kubelet /usr/local/bin/kubelet")
        assert len(found.split()) == 3, f"{host}: {found}"


def test_reset_leaves_nothing_of_the_cluster_on_any_host(hosts, capsys):
    capsys.readouterr()
    started = time.monotonic()
    assert cli.main(["reset", "-i", str(hosts.hosts_ini), "--yes"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    print(f"reset of 3 hosts: {time.monotonic() - started:.1f} s")
    assert out.count(" ok ") == 7 and "3 host(s) reset." in out, out
    for host in hosts.hosts:
        for what, command in LEFTOVERS.items():
            _, found, err = _inside(hosts, host, command)
            assert found.strip() == "", f"{host} still has {what}: {found} {err}"
        _, systemd, _ = hosts.ssh(host, "systemctl list-units --all --no-legend 'kubelet*' 'etcd*' 'containerd*'")
        assert systemd.strip() == "", f"{host} still has units: {systemd}"
    assert (hosts.cluster_dir / ".saltsphere" / "pki").is_dir(), "the taskbox keeps its PKI without --purge"


def test_a_second_reset_changes_nothing(hosts):
    code, data, err = hosts.salt_run("state.orchestrate", "kubesphere.reset", timeout=RESET_TIMEOUT)
    assert code == 0, err[-2000:]
    steps = [step for returner in data["data"].values() for step in returner.values()]
    assert len(steps) == 7 and all(step["result"] is True and step["changes"] == {} for step in steps), steps


def test_a_fresh_install_after_the_reset_succeeds_and_its_rerun_changes_nothing(hosts, capsys):
    hosts.prepare()
    started = time.monotonic()
    code, data, err = hosts.salt_ssh("*", "state.apply", timeout=APPLY_TIMEOUT)
    assert code == 0 and failures(data) == {}, (failures(data), err[-2000:])
    print(f"install after reset on 3 hosts: {time.monotonic() - started:.1f} s")
    capsys.readouterr()
    assert cli.main(["status", "-i", str(hosts.hosts_ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["kubernetes"]
    assert report["nodes"] == {"master": "Ready", "node1": "Ready", "node2": "Ready"}
    code, data, err = hosts.salt_ssh("*", "state.apply", timeout=APPLY_TIMEOUT)
    assert code == 0, err[-2000:]
    assert changed(data) == []
