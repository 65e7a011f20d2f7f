"""How long `sandbox up` takes on a warm rootfs cache, and what an idle host costs in memory.

Run as root: python benchmarks/sandbox_up.py [--hosts 3 20] [--settle 20]
Each size boots a fresh sandbox, waits for every ssh login, lets the hosts
settle, reads each host's cgroup memory and the PSS of its processes, then
removes the sandbox.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from saltsphere.sandbox import Sandbox, cgroups, rootfs


def pss_bytes(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def measure(count, settle):
    sandbox = Sandbox(f"bench-{os.getpid()}-{count}", log=lambda _: None)
    try:
        started = time.monotonic()
        sandbox.up(profile="multi-node", hosts=count)
        elapsed = time.monotonic() - started
        time.sleep(settle)
        charged, pss = [], []
        for row in sandbox.status():
            dirs = sandbox.host_cgroups(row["name"])
            charged.append(cgroups.memory_bytes(dirs) or 0)
            pss.append(pss_bytes(cgroups.pids(dirs)))
    finally:
        sandbox.down()
    return elapsed, charged, pss


def mib(values):
    return f"median {statistics.median(values) / 2**20:.1f} MiB (min {min(values) / 2**20:.1f}, max {max(values) / 2**20:.1f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[3, 20])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds of idling before memory is read")
    args = parser.parse_args()
    started = time.monotonic()
    rootfs.ensure(log=lambda _: None)
    print(f"rootfs cache ready in {time.monotonic() - started:.1f} s (a cold build takes about a minute)")
    for count in args.hosts:
        elapsed, charged, pss = measure(count, args.settle)
        print(f"{count:>3} hosts: up {elapsed:.1f} s (to every ssh login); per idle host: "
              f"cgroup memory {mib(charged)}; PSS {mib(pss)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
