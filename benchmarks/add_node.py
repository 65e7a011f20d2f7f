"""How long `saltsphere node add` of one worker takes on a small and on a larger installed sandbox cluster.

Run as root: python benchmarks/add_node.py [--sizes 3 7]
For each size N, boots N+1 sandbox hosts, keeps the last one out of hosts.ini,
installs the N (the orchestration, untimed here), then puts the host back in
hosts.ini and times `saltsphere node add HOST --yes`, the operator's command.
Prints the seconds for each size and their ratio: only what a new node changes
runs on the hosts already in the cluster, so the larger cluster should cost
little more than the smaller one.  For comparison it then removes the host
again (`node remove`), wipes it (`sandbox reset`) and times the same change
made the old way: the whole orchestration re-run with the host in hosts.ini
(--no-compare skips this).  Every command must exit 0.
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


def _run(argv, cwd):
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print((proc.stdout + proc.stderr)[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(argv[:3])} exited {proc.returncode}")
    return seconds


def add_one(size, compare=True) -> float:
    """Seconds of `node add` of one worker to an installed cluster of ``size`` hosts."""
    sandbox = Sandbox(f"bench-add-{size}-{os.getpid()}", log=lambda *_: None)
    try:
        hosts_ini = sandbox.up(profile="multi-node", hosts=size + 1)
        full = hosts_ini.read_text()
        new = [line.split()[0] for line in full.splitlines() if line.split()[:1] and "ansible_host=" in line][-1]
        hosts_ini.write_text("".join(line for line in full.splitlines(keepends=True) if line.split()[:1] != [new]))
        cluster = sandbox.cluster_dir
        _run([_tool("salt-run"), "--saltfile", str(cluster / "Saltfile"), "--out=quiet", "state.orchestrate",
              "kubesphere"], cluster)
        hosts_ini.write_text(full)
        seconds = _run([_tool("saltsphere"), "node", "add", new, "-i", str(hosts_ini), "--yes"], cluster)
        print(f"node add of {new} to {size} hosts   {seconds:8.1f} s", flush=True)
        if compare:
            _run([_tool("saltsphere"), "node", "remove", new, "-i", str(hosts_ini), "--yes"], cluster)
            sandbox.reset(new)
            full_run = _run([_tool("salt-run"), "--saltfile", str(cluster / "Saltfile"), "--out=quiet",
                             "state.orchestrate", "kubesphere"], cluster)
            print(f"  the same change as a full re-run (salt-run state.orchestrate kubesphere)   {full_run:8.1f} s"
                  f"   ({full_run / seconds:.1f}x node add)", flush=True)
        return seconds
    finally:
        sandbox.down()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs=2, default=(3, 7), metavar=("SMALL", "LARGE"))
    parser.add_argument("--no-compare", action="store_true", help="skip the full re-run of the same change")
    args = parser.parse_args()
    small, large = (add_one(size, compare=not args.no_compare) for size in args.sizes)
    print(f"ratio {args.sizes[1]} hosts / {args.sizes[0]} hosts: {large / small:.2f}")


if __name__ == "__main__":
    main()
