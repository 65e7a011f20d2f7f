"""How long the day-2 verbs take on an installed sandbox, as an operator runs them.

Run as root: python benchmarks/day2.py [--profile multi-node|ha]
Boots a sandbox and installs it (the install is timed too), then runs, in
order and each as its own `saltsphere` command: node list, certs check, etcd
backup, etcd restore of that backup, certs renew (where this checkout has it),
reset, and the install again on the reset hosts.  Prints one line per command with its wall time and exit code;
every command must exit 0.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from saltsphere.sandbox import Sandbox


def _tool(name):
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else shutil.which(name)


def timed(label, argv, cwd):
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    print(f"{label:<36} {seconds:8.1f} s  exit {proc.returncode}", flush=True)
    if proc.returncode != 0:
        print((proc.stdout + proc.stderr)[-2000:], file=sys.stderr)
    return proc


def has_verb(*words) -> bool:
    return subprocess.run([_tool("saltsphere"), *words, "--help"], capture_output=True).returncode == 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="multi-node")
    args = parser.parse_args()
    sandbox = Sandbox(f"bench-{os.getpid()}", log=lambda *_: None)
    saltsphere = _tool("saltsphere")
    try:
        hosts_ini = str(sandbox.up(profile=args.profile))
        cluster = sandbox.cluster_dir
        inventory = ["-i", hosts_ini]
        timed(f"install ({args.profile}, orchestration)",
              [_tool("salt-run"), "--saltfile", str(cluster / "Saltfile"), "--out=quiet", "state.orchestrate",
               "kubesphere"], cluster)
        timed("saltsphere node list", [saltsphere, "node", "list", *inventory], cluster)
        timed("saltsphere certs check", [saltsphere, "certs", "check", *inventory], cluster)
        timed("saltsphere etcd backup", [saltsphere, "etcd", "backup", *inventory], cluster)
        snapshot = sorted((cluster / ".saltsphere" / "backups").glob("etcd-*.db"))[-1]
        timed("saltsphere etcd restore", [saltsphere, "etcd", "restore", str(snapshot), *inventory, "--yes"], cluster)
        if has_verb("certs", "renew"):
            timed("saltsphere certs renew", [saltsphere, "certs", "renew", *inventory, "--yes"], cluster)
        timed("saltsphere reset", [saltsphere, "reset", *inventory, "--yes"], cluster)
        timed("install again on the reset hosts",
              [_tool("salt-run"), "--saltfile", str(cluster / "Saltfile"), "--out=quiet", "state.orchestrate",
               "kubesphere"], cluster)
    finally:
        sandbox.down()


if __name__ == "__main__":
    main()
