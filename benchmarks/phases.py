"""Time each install phase on a fresh sandbox (booted hosts to all nodes Ready), then the no-op re-run.

Run as root: python benchmarks/phases.py [--profile multi-node|ha]
Prints one line per phase with its wall time and whether it succeeded.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from saltsphere.sandbox import Sandbox



def salt_run(cluster_dir, *args):
    tool = Path(sys.executable).parent / "salt-run"
    cmd = [str(tool) if tool.exists() else shutil.which("salt-run"), "--saltfile", str(cluster_dir / "Saltfile"),
           "--out=quiet", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cluster_dir, stdin=subprocess.DEVNULL, capture_output=True, timeout=1800)
    return time.perf_counter() - start, proc.returncode


def _all_ready(sandbox):
    from saltsphere import cluster, status

    report = status.kubernetes(cluster.load(sandbox.cluster_dir / "hosts.ini"))
    return bool(report["nodes"]) and all(state == "Ready" for state in report["nodes"].values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="multi-node")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    # The phases in the order the whole orchestration includes them.
    init = (root / "orchestrate" / "kubesphere" / "init.sls").read_text()
    available = re.findall(r"^\s*-\s*kubesphere\.(\w+)\s*$", init, re.MULTILINE)
    sandbox = Sandbox(f"bench-{os.getpid()}", log=lambda *_: None)
    try:
        start = time.perf_counter()
        sandbox.up(profile=args.profile)
        print(f"{'sandbox up (' + args.profile + ')':<32} {time.perf_counter() - start:8.1f} s")
        total = 0.0
        for phase in available:
            seconds, code = salt_run(sandbox.cluster_dir, "state.orchestrate", f"kubesphere.{phase}")
            total += seconds
            print(f"{'phase ' + phase:<32} {seconds:8.1f} s  {'ok' if code == 0 else f'FAILED (exit {code})'}")
        print(f"{'all phases':<32} {total:8.1f} s")
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline and not _all_ready(sandbox):
            time.sleep(2)
        print(f"{'booted hosts to all nodes Ready':<32} {time.perf_counter() - start:8.1f} s  (incl. sandbox up)")
        seconds, code = salt_run(sandbox.cluster_dir, "state.orchestrate", "kubesphere")
        print(f"{'no-op re-run (kubesphere)':<32} {seconds:8.1f} s  {'ok' if code == 0 else f'FAILED (exit {code})'}")
    finally:
        sandbox.down()


if __name__ == "__main__":
    main()
