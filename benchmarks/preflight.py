"""How long the preflight phase takes on sandbox clusters of several sizes.

Run as root: python benchmarks/preflight.py [--hosts 3 20] [--runs 2]
Each size boots a fresh sandbox, runs `salt-run saltsphere_preflight.run`
``--runs`` times (the first one also deploys Salt's thin bundle to every host),
prints the wall time of each run and what the run reported, then removes the
sandbox.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from saltsphere.sandbox import Sandbox

TIMEOUT = 900


def salt_run():
    sibling = Path(sys.executable).parent / "salt-run"
    return str(sibling) if sibling.exists() else shutil.which("salt-run")


def preflight(cluster_dir):
    cmd = [salt_run(), "--saltfile", str(cluster_dir / "Saltfile"), "--out=json",
           "saltsphere_preflight.run", "ignore_host_keys=True"]
    started = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=cluster_dir)
    elapsed = time.monotonic() - started
    try:
        comment = json.loads(proc.stdout)["comment"]
    except (ValueError, KeyError, TypeError):
        comment = f"no report (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    return elapsed, proc.returncode, comment


def measure(count, runs):
    sandbox = Sandbox(f"bench-preflight-{os.getpid()}-{count}", log=lambda _: None)
    try:
        started = time.monotonic()
        sandbox.up(profile="multi-node", hosts=count)
        print(f"{count:>3} hosts: sandbox up in {time.monotonic() - started:.1f} s", flush=True)
        for run in range(1, runs + 1):
            elapsed, code, comment = preflight(sandbox.cluster_dir)
            label = "first run (thin deploy)" if run == 1 else f"run {run}"
            print(f"{count:>3} hosts: preflight {label}: {elapsed:.1f} s, exit {code}: {comment}", flush=True)
    finally:
        sandbox.down()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[3, 20])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    for count in args.hosts:
        measure(count, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
