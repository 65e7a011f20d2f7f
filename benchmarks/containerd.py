"""How long the containerd phase takes on a fresh 3-host sandbox: the first run and a no-op re-run.

Run as root: python benchmarks/containerd.py [--runs 2] [--timeout 600]
Boots a new multi-node sandbox, applies the containerd state to every host with
salt-ssh (wall time, as an operator sees it), re-applies it --runs times, and
removes the sandbox.  The first run includes downloading the packages from the
Debian mirror.
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


def salt_ssh():
    sibling = Path(sys.executable).parent / "salt-ssh"
    return str(sibling) if sibling.exists() else shutil.which("salt-ssh") or "salt-ssh"


def results(stdout):
    """salt-ssh prints one JSON document per host; yield (host, states)."""
    decoder, index, text = json.JSONDecoder(), 0, stdout.strip()
    while index < len(text):
        doc, index = decoder.raw_decode(text, index)
        yield from doc.items()
        while index < len(text) and text[index].isspace():
            index += 1


def apply(cluster_dir, timeout):
    """Apply the containerd state everywhere: (seconds, changed states, slowest state per host)."""
    cmd = [salt_ssh(), "--saltfile", str(cluster_dir / "Saltfile"), "--out=json", "-i", "*",
           "state.apply", "containerd"]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cluster_dir,
                          stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    changed, slowest = 0, {}
    for host, states in results(proc.stdout):
        if proc.returncode != 0 or not isinstance(states, dict) or any(r["result"] is False for r in states.values()):
            raise SystemExit(f"containerd state failed on {host} (exit {proc.returncode}): "
                             f"{json.dumps(states)[:2000]} {proc.stderr[-2000:]}")
        changed += sum(1 for r in states.values() if r["changes"])
        top = max(states.values(), key=lambda r: r.get("duration", 0))
        slowest[host] = (top["__id__"], top.get("duration", 0) / 1000)
    return elapsed, changed, slowest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="no-op re-runs to time after the first run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed for one salt-ssh call")
    args = parser.parse_args()
    sandbox = Sandbox(f"bench-containerd-{os.getpid()}", log=lambda _: None)
    try:
        started = time.monotonic()
        sandbox.up(profile="multi-node")
        print(f"sandbox of 3 hosts up in {time.monotonic() - started:.1f} s")
        elapsed, changed, slowest = apply(sandbox.cluster_dir, args.timeout)
        print(f"first run:  {elapsed:6.1f} s, {changed} states changed; slowest state per host: "
              + ", ".join(f"{h} {sid} {sec:.1f} s" for h, (sid, sec) in sorted(slowest.items())))
        noop = []
        for _ in range(args.runs):
            elapsed, changed, _ = apply(sandbox.cluster_dir, args.timeout)
            if changed:
                raise SystemExit(f"a re-run changed {changed} states; the containerd state is not idempotent")
            noop.append(elapsed)
        if noop:
            print(f"no-op run:  {statistics.median(noop):6.1f} s median of {len(noop)} "
                  f"(min {min(noop):.1f}, max {max(noop):.1f}), 0 states changed")
    finally:
        sandbox.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
