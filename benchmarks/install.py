"""Time `./install.sh` end to end on a fresh sandbox: every phase from its progress line, then the re-run.

Run as root: python benchmarks/install.py [--profile multi-node|all-in-one]
The first install converges every phase and ends with exit 3 where the
bundle lacks KubeSphere's images (as here); the second changes nothing.
Prints the installer's own progress lines and the wall time of each run.
"""

import argparse
import os
import re
import subprocess
import time
from pathlib import Path

from saltsphere.sandbox import Sandbox

PROGRESS = re.compile(r"^\[\d+/\d+\] ")


def install(root, profile, hosts_ini):
    mode = "--all-in-one" if profile == "all-in-one" else "--multi-node"
    start = time.perf_counter()
    proc = subprocess.run([str(root / "install.sh"), mode, "-i", str(hosts_ini), "--yes"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    for line in proc.stdout.splitlines():
        if PROGRESS.match(line):
            print(f"  {line}")
    return seconds, proc.returncode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="multi-node", choices=("multi-node", "all-in-one"))
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    sandbox = Sandbox(f"bench-install-{os.getpid()}", log=lambda *_: None)
    try:
        start = time.perf_counter()
        hosts_ini = sandbox.up(profile=args.profile)
        print(f"{'sandbox up (' + args.profile + ')':<32} {time.perf_counter() - start:8.1f} s")
        for label in ("./install.sh", "./install.sh again (no-op)"):
            seconds, code = install(root, args.profile, hosts_ini)
            print(f"{label:<32} {seconds:8.1f} s  exit {code}")
    finally:
        sandbox.down()


if __name__ == "__main__":
    main()
