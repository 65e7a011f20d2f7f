"""Helpers for dry runs on sandbox hosts: `saltsphere plan`, what a host holds, and what a real run changed.

Module-free: they take the ``SandboxHosts`` of any module's fixture.
"""

import json
import subprocess
import sys
import time

import hostscan
from saltsphere import installer

PLAN_TIMEOUT = 900
# What an install leaves on a host that a plan must never leave.
FOOTPRINT = {
    "containerd": ["dpkg-query", "-W", "-f=${Status}", "containerd"],
    "kubelet": ["ls", "-d", "/usr/local/bin/kubelet"],
    "/etc/kubernetes": ["ls", "-d", "/etc/kubernetes"],
    "/etc/etcd": ["ls", "-d", "/etc/etcd"],
    "apt": ["sh", "-c", "ls -la /etc/apt /etc/apt/sources.list.d /etc/apt/trusted.gpg.d 2>&1; "
                        "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null"],
    "bundle record": ["ls", "-d", "/var/lib/saltsphere/bundle-files.json"],
    # The host's own package index: a refresh would change its files' times.
    "apt lists": ["sh", "-c", "ls -la --time-style=+%s /var/lib/apt/lists /var/lib/apt/lists/partial 2>&1"],
}


def run_plan(hosts, *extra, timeout=PLAN_TIMEOUT):
    """``saltsphere plan -i HOSTS_INI --json``: ``(returncode, report or None, stdout, stderr, seconds)``."""
    started = time.monotonic()
    argv = [sys.executable, "-m", "saltsphere.cli", "plan", "-i", str(hosts.hosts_ini), "--json", *extra]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    return proc.returncode, report, proc.stdout, proc.stderr, seconds


def predicted(report):
    """``{(phase, host, state id)}`` of every state the plan says would change."""
    return {(phase["phase"], host, sid) for phase in report["phases"]
            for host, plan in phase["hosts"].items() for sid in plan["states"]}


def failures(report):
    return [(phase["phase"], host, failure) for phase in report["phases"]
            for host, plan in phase["hosts"].items() for failure in plan["failures"]] + \
        [(phase["phase"], None, phase["comment"]) for phase in report["phases"] if not phase["ok"]]


def footprint(hosts):
    """``{host: {what: (returncode, output)}}`` for every item of FOOTPRINT, read inside each host."""
    found = {}
    for host in hosts.hosts:
        found[host] = {}
        for what, argv in FOOTPRINT.items():
            code, out, err = hostscan.run_inside(hosts.sandbox, host, argv)
            found[host][what] = (code, out.strip())
    return found


def changed_states(data):
    """``{(host, state id)}`` of every state that changed something in one phase's orchestrate return."""
    found = set()
    for result in data.get("data", data).values():
        for step in result.values() if isinstance(result, dict) else ():
            for host, states in ((step.get("changes") or {}).get("ret") or {}).items():
                if isinstance(states, dict):
                    found |= {(host, s.get("__id__", sid)) for sid, s in states.items()
                              if isinstance(s, dict) and s.get("changes")}
    return found


def install_phases(hosts):
    """Every phase for real, as ./install.sh runs them: ``(ok, {(phase, host, state id)} that changed)``."""
    changed = set()

    def runner(directory, phase):
        code, out, err = installer.run_phase(directory, phase)
        try:
            data = installer.parse_json_stream(out)
        except ValueError:
            data = {}
        changed.update((phase, host, sid) for host, sid in changed_states(data))
        return code, out, err

    ok = installer.run_phases(hosts.cluster_dir, list(hosts.hosts), runner=runner)
    return ok, changed
