"""Look inside a sandbox host from the taskbox, as root, without sending anything to it.

Sandbox hosts are containers on this machine: their files are read in their
own mount namespace (``nsenter``), so the secrets a test searches for never
travel to a host, its logs or its process table.
"""

import subprocess
from pathlib import Path

from saltsphere.sandbox import cgroups, host as hostctl

# What is searched: everywhere a run could leave a file, not the read-only
# system trees.
SCAN_ROOTS = ("/etc", "/root", "/home", "/tmp", "/var", "/opt", "/usr/local", "/srv", "/run")


def host_init_pid(sandbox, name) -> int:
    """The pid of the host's systemd (pid 1 inside it)."""
    state = sandbox.layout.load()
    for pid in sorted(cgroups.pids(hostctl.cgroup_dirs(state, name))):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        parent = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        try:
            parent_comm = Path(f"/proc/{parent}/comm").read_text().strip()
        except OSError:
            continue
        if comm == "systemd" and parent_comm == "systemd-nspawn":
            return pid
    raise AssertionError(f"no running systemd found for sandbox host {name}")


def run_inside(sandbox, name, argv, input_text=None, timeout=300):
    """``argv`` in the host's mount namespace (its files, its binaries) as root: (returncode, stdout, stderr)."""
    pid = host_init_pid(sandbox, name)
    proc = subprocess.run(["nsenter", f"--target={pid}", "--mount", "--", *argv], input=input_text,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def files_holding(sandbox, name, needles) -> list:
    """Every file under SCAN_ROOTS on host ``name`` that holds one of ``needles`` (fixed strings)."""
    needles = [n for n in needles if n]
    code, out, err = run_inside(sandbox, name, ["grep", "-rlF", "-f", "-", *SCAN_ROOTS],
                                input_text="\n".join(needles) + "\n")
    # 2: some file could not be read; only files that vanish while grep walks (a run's own), sockets and
    # network namespace handles (/run/netns) may be.
    unreadable = [line for line in err.splitlines() if line.strip() and "No such file or directory" not in line
                  and "No such device or address" not in line and not line.startswith("grep: /run/netns/")]
    assert code in (0, 1, 2) and not unreadable, f"grep on {name} could not read everything: {unreadable[:10]}"
    return sorted(line for line in out.splitlines() if line)


def find(sandbox, name, *args) -> list:
    code, out, err = run_inside(sandbox, name, ["find", *args])
    return sorted(line for line in out.splitlines() if line)
