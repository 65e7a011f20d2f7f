"""Per-host cgroup directories, one in every hierarchy, so a host can be counted and killed whole.

Each host's directories sit under the cgroups of the process that boots it (so
the taskbox's own limits still apply); nspawn gives the host a cgroup
namespace rooted there, which keeps containerd's and kubelet's cgroups inside.
"""

import errno
import os
import time
from pathlib import Path

from saltsphere.sandbox.errors import SandboxError

# The folder under the caller's cgroup that holds one folder per sandbox.
PARENT = "saltsphere-sandbox"


def hierarchies():
    """Return the directories of this process's cgroup in every mounted hierarchy."""
    mounts = _cgroup_mounts()
    dirs = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        key = frozenset(controllers.split(",")) if controllers else frozenset({"cgroup2"})
        if key in mounts:
            mount_root, mountpoint = mounts[key]
            dirs.append(str(Path(mountpoint) / os.path.relpath(path, mount_root)))
    if not dirs:
        raise SandboxError("cgroups: no cgroup hierarchy is mounted under /sys/fs/cgroup")
    return dirs


def sandbox_dirs(name):
    return [str(Path(base) / PARENT / name) for base in hierarchies()]


def host_dirs(sandbox_parents, host):
    return [str(Path(parent) / host) for parent in sandbox_parents]


def create(dirs):
    for path in dirs:
        _makedirs(Path(path))


def _makedirs(path):
    if path.is_dir():
        return
    _makedirs(path.parent)
    path.mkdir()
    # A v1 cpuset starts with no CPUs or memory nodes and refuses tasks until given some.
    for name in ("cpuset.cpus", "cpuset.mems"):
        mine = path / name
        if mine.is_file() and not mine.read_text().strip():
            mine.write_text((path.parent / name).read_text())


def join(dirs):
    """Move the calling process into ``dirs``; runs in the child just before exec."""
    for path in dirs:
        with open(os.path.join(path, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))


def pids(dirs):
    """Every process in ``dirs`` or below them."""
    found = set()
    for top in dirs:
        for root, _, _ in os.walk(top):
            try:
                found.update(int(p) for p in Path(root, "cgroup.procs").read_text().split())
            except OSError as exc:
                # A cgroup that a host's systemd removes while we walk is gone
                # (ENOENT) or dying (ENODEV): it holds no process either way.
                if exc.errno not in (errno.ENOENT, errno.ENODEV):
                    raise
    return found


def kill(dirs, sig, wait=10.0):
    """Send ``sig`` to every process in ``dirs`` until none is left; False if some outlive ``wait``."""
    deadline = time.monotonic() + wait
    while True:
        alive = pids(dirs)
        if not alive:
            return True
        if time.monotonic() >= deadline:
            return False
        for pid in alive:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def wait_empty(dirs, wait):
    """True once no process is left in ``dirs``, False if some still are after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while pids(dirs):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def remove(dirs, what):
    """Remove ``dirs`` and every cgroup the host created below them."""
    for top in dirs:
        if not os.path.isdir(top):
            continue
        for root, _, _ in os.walk(top, topdown=False):
            _rmdir(root, what)


def remove_if_empty(dirs):
    """Remove the shared parent folders once the last sandbox has left them."""
    for path in dirs:
        try:
            os.rmdir(path)
        except OSError:
            continue


def memory_bytes(dirs):
    """The memory a host's cgroup is charged with (cgroup v1 or v2), or None if not counted."""
    for path in dirs:
        for name in ("memory.current", "memory.usage_in_bytes"):
            counter = Path(path, name)
            if counter.is_file():
                return int(counter.read_text())
    return None


def _rmdir(path, what):
    # A cgroup is removable only once the kernel has reaped its last task.
    deadline = time.monotonic() + 5
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                raise SandboxError(f"{what}: cannot remove cgroup {path}: {exc.strerror}") from None
            time.sleep(0.1)


def _cgroup_mounts():
    """Map each hierarchy's controller set to (root inside the hierarchy, mountpoint)."""
    known = {line.split()[0] for line in Path("/proc/cgroups").read_text().splitlines()[1:]}
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        fields = left.split()
        fstype, _, super_options = right.split()
        if fstype == "cgroup2":
            mounts.setdefault(frozenset({"cgroup2"}), (fields[3], fields[4]))
        elif fstype == "cgroup":
            options = super_options.split(",")
            controllers = frozenset(o for o in options if o in known or o.startswith("name="))
            mounts.setdefault(controllers, (fields[3], fields[4]))
    return mounts
