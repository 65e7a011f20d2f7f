"""What a no-op `salt-run state.orchestrate kubesphere` costs, step by step, with and without shared SSH connections.

Run as root: python benchmarks/noop.py [--profile multi-node|ha] [--runs 2]
Boots a sandbox and installs it (not timed), then times the whole no-op
orchestration --runs times with each host's SSH connection shared across a
salt-ssh call (the default), and --runs times with sharing turned off through
the hosts' own ssh arguments (`-o ControlPath=none`).  Prints each run's wall
time, the changes Salt reports (0 expected) and the median of every step.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from saltsphere.sandbox import Sandbox


def orchestrate(cluster_dir):
    tool = Path(sys.executable).parent / "salt-run"
    cmd = [str(tool) if tool.exists() else shutil.which("salt-run"), "--saltfile", str(cluster_dir / "Saltfile"),
           "--out=json", "state.orchestrate", "kubesphere"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cluster_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=3600)
    seconds = time.perf_counter() - start
    data = json.loads(proc.stdout) if proc.stdout.strip() else {}
    steps, changed = {}, 0
    for returner in data.get("data", {}).values():
        for key, step in returner.items():
            steps[key.split("_|-")[1]] = step.get("duration", 0) / 1000
            for states in (step.get("changes") or {}).get("ret", {}).values():
                if isinstance(states, dict):
                    changed += sum(1 for s in states.values() if isinstance(s, dict) and s.get("changes"))
    return seconds, proc.returncode, changed, steps


def without_sharing(hosts_ini: Path):
    """hosts.ini with `-o ControlPath=none` added to every host's ssh arguments (the [all:vars] line)."""
    lines = hosts_ini.read_text().splitlines()
    out = []
    for line in lines:
        if line.startswith("ansible_ssh_common_args="):
            line = line.rstrip('"') + ' -o ControlPath=none"'
        out.append(line)
    if not any(line.startswith("ansible_ssh_common_args=") for line in lines):
        out += ["", "[all:vars]", 'ansible_ssh_common_args="-o ControlPath=none"']
    hosts_ini.write_text("\n".join(out) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="multi-node")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    sandbox = Sandbox(f"bench-{os.getpid()}", log=lambda *_: None)
    try:
        sandbox.up(profile=args.profile)
        seconds, code, _, _ = orchestrate(sandbox.cluster_dir)
        print(f"install ({args.profile}): {seconds:.1f} s, exit {code}")
        results = {}
        for mode in ("shared connections", "a connection per command"):
            if mode == "a connection per command":
                without_sharing(sandbox.cluster_dir / "hosts.ini")
            runs = []
            for _ in range(args.runs):
                seconds, code, changed, steps = orchestrate(sandbox.cluster_dir)
                print(f"no-op, {mode}: {seconds:.1f} s, exit {code}, {changed} changed", flush=True)
                runs.append((seconds, steps))
            results[mode] = runs
        print()
        modes = list(results)
        print(f"{'step (median s)':<60}" + "".join(f"{mode:>26}" for mode in modes))
        for step in results[modes[0]][0][1]:
            cells = [statistics.median(steps.get(step, 0) for _, steps in results[mode]) for mode in modes]
            print(f"{step:<60}" + "".join(f"{cell:>26.1f}" for cell in cells))
        totals = [statistics.median(seconds for seconds, _ in results[mode]) for mode in modes]
        print(f"{'whole no-op orchestration (wall)':<60}" + "".join(f"{total:>26.1f}" for total in totals))
    finally:
        sandbox.down()


if __name__ == "__main__":
    main()
