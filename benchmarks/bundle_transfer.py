"""How long hosts take to get the bundle's binaries and images, and what a re-run costs.

Run as root: python benchmarks/bundle_transfer.py
Boots a 3-host sandbox, prepares the OS and containerd (not timed), then times
`kubernetes.binaries` + `kubernetes.images` on all hosts twice: the first run
downloads every file from the taskbox once and imports the images; the second
finds every file by its record (one stat each: no transfer, no hashing).
Prints the bytes each host received, measured on the taskbox end of the
sandbox's link, and the time the slowest host spent in the fetch states.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from saltsphere.artifacts import manifest as mf
from saltsphere.sandbox import Sandbox, network

BUNDLE = Path("/var/lib/saltsphere/bundle")


def salt_ssh(cluster_dir, *args):
    tool = Path(sys.executable).parent / "salt-ssh"
    cmd = [str(tool) if tool.exists() else shutil.which("salt-ssh"), "--saltfile", str(cluster_dir / "Saltfile"),
           "--out=json", "-i", "*", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cluster_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=3600)
    return time.perf_counter() - start, proc.returncode, proc.stdout


def fetch_seconds(stdout):
    """The longest time any host spent in its saltsphere_bundle.fetched states, and how many states that was."""
    from saltsphere.installer import parse_json_stream

    per_host, count = [], 0
    for states in parse_json_stream(stdout).values():
        if isinstance(states, dict):
            fetched = [s for sid, s in states.items() if isinstance(s, dict) and "saltsphere_bundle_|" in sid]
            count = max(count, len(fetched))
            per_host.append(sum(s.get("duration", 0) for s in fetched) / 1000)
    return max(per_host, default=0.0), count


def served_bytes(sandbox):
    """Bytes the taskbox sent to the sandbox's hosts so far (its end of the sandbox's veth)."""
    return int(Path(f"/sys/class/net/{network.uplink(sandbox.name)}/statistics/tx_bytes").read_text())


def main():
    manifest = mf.read_manifest(BUNDLE)
    per_host = sum(e.size for e in manifest.files if e.kind in ("binary", "image") and
                   (e.kind == "image" or e.name in ("kubeadm", "kubelet", "kubectl")))
    sandbox = Sandbox(f"bench-{os.getpid()}", log=lambda *_: None)
    try:
        sandbox.up(profile="multi-node")
        seconds, code, _ = salt_ssh(sandbox.cluster_dir, "state.apply", "os,containerd")
        print(f"{'os + containerd (not timed)':<36} {seconds:8.1f} s  exit {code}")
        for label in ("first run (downloads)", "second run (nothing to transfer)"):
            before = served_bytes(sandbox)
            seconds, code, out = salt_ssh(sandbox.cluster_dir, "state.apply", "kubernetes.binaries,kubernetes.images")
            sent = served_bytes(sandbox) - before
            in_fetch, files = fetch_seconds(out)
            print(f"{label:<36} {seconds:8.1f} s  exit {code}  {sent / 3 / 2**20:8.1f} MiB per host over the link, "
                  f"{in_fetch:6.2f} s in {files} fetch states")
        print(json.dumps({"bundle_files_per_host_mib": round(per_host / 2**20, 1), "hosts": 3}))
    finally:
        sandbox.down()


if __name__ == "__main__":
    main()
