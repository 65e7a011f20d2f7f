"""Time `saltsphere plan` on a fresh 3-host sandbox (goal: 60 s or less), then on the cluster installed there.

Run as root: python benchmarks/plan.py
Prints the plan's own progress lines and the wall time of each plan; the
install between them (./install.sh --yes, exit 3 where the bundle lacks
KubeSphere's images, as here) is timed too.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from saltsphere.sandbox import Sandbox

PROGRESS = re.compile(r"^\[\d+/\d+\] ")
GOAL_SECONDS = 60


def run(argv, timeout=3600):
    start = time.perf_counter()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    for line in proc.stdout.splitlines():
        if PROGRESS.match(line):
            print(f"  {line}")
    return seconds, proc.returncode


def main():
    root = Path(__file__).resolve().parents[1]
    sandbox = Sandbox(f"bench-plan-{os.getpid()}", log=lambda *_: None)
    try:
        start = time.perf_counter()
        hosts_ini = sandbox.up(profile="multi-node")
        print(f"{'sandbox up (3 hosts)':<34} {time.perf_counter() - start:8.1f} s")
        plan = [sys.executable, "-m", "saltsphere.cli", "plan", "-i", str(hosts_ini)]
        seconds, code = run(plan)
        verdict = "within" if seconds <= GOAL_SECONDS else "over"
        print(f"{'saltsphere plan, fresh hosts':<34} {seconds:8.1f} s  exit {code}  "
              f"({verdict} the {GOAL_SECONDS} s goal)")
        seconds, code = run([str(root / "install.sh"), "--multi-node", "-i", str(hosts_ini), "--yes"])
        print(f"{'./install.sh':<34} {seconds:8.1f} s  exit {code}")
        seconds, code = run(plan)
        print(f"{'saltsphere plan, installed':<34} {seconds:8.1f} s  exit {code}")
    finally:
        sandbox.down()


if __name__ == "__main__":
    main()
