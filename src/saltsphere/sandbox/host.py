"""Boot, find and kill one host: systemd-nspawn on its own overlay, in its own cgroups.

The overlay is mounted in a private mount namespace that exists only for the
host's lifetime, so a host that dies, however it dies, leaves no mount behind
on the taskbox.
"""

import os
import shutil
import signal
from pathlib import Path

from saltsphere.sandbox import cgroups, network
from saltsphere.sandbox.errors import SandboxError
from saltsphere.sandbox.run import detach

# nspawn's default filter blocks what container runtimes need: keyrings for
# runc's session keys, bpf for cgroup v2 device rules, and the privileged
# groups that kubelet and kube-proxy touch.
SYSCALLS = "@keyring @privileged @mount @module @raw-io @clock @swap @cpu-emulation @debug @obsolete bpf"

MOUNT_AND_EXEC = 'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" && shift 4 && exec "$@"'


def machine(sandbox, name):
    """nspawn's machine name: unique across sandboxes, since nspawn keeps per-machine state in /run."""
    return f"{sandbox.name}-{name}"[-64:]


def _forget_machine(sandbox, name):
    # nspawn removes its propagation directory on a clean exit only, and on
    # the next boot refuses to delete it itself when /run is not a tmpfs (as
    # on a machine without systemd): after a kill it is ours to remove.
    shutil.rmtree(f"/run/systemd/nspawn/propagate/{machine(sandbox, name)}", ignore_errors=True)


def cgroup_dirs(sandbox, name):
    return cgroups.host_dirs(sandbox.cgroup_parents, name)


def running(sandbox, name):
    return bool(cgroups.pids(cgroup_dirs(sandbox, name)))


def boot(layout, sandbox, host):
    """Start the host in the background; it lives in its own cgroups, not as our child."""
    dirs = cgroup_dirs(sandbox, host.name)
    _forget_machine(sandbox, host.name)
    nspawn = [
        "systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
        f"--directory={layout.merged(host.name)}",
        f"--machine={machine(sandbox, host.name)}", f"--hostname={host.name}", f"--uuid={host.machine_id}",
        f"--network-bridge={network.BRIDGE}",
        "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=read-only",
        "--capability=all", f"--system-call-filter={SYSCALLS}",
        f"--bind={layout.containerd(host.name)}:/var/lib/containerd",
        "--bind=/dev/kmsg",
    ]
    cmd = [
        "nsenter", f"--net={network.netns_path(sandbox.name)}", "--",
        "unshare", "--mount", "--propagation", "private", "--",
        "/bin/sh", "-c", MOUNT_AND_EXEC, "sh",
        sandbox.rootfs, str(layout.upper(host.name)), str(layout.work(host.name)), str(layout.merged(host.name)),
        *nspawn,
    ]
    layout.console_log(host.name).unlink(missing_ok=True)
    detach(cmd, f"host {host.name}: boot", layout.console_log(host.name), dirs)


def power_off(sandbox, name):
    """Ask the host's systemd to shut down (nspawn turns SIGTERM into a poweroff request)."""
    for pid in cgroups.pids(cgroup_dirs(sandbox, name)):
        if _comm(pid) == "systemd-nspawn":
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def kill(sandbox, name, grace=0.0):
    """Kill every process of the host, waiting ``grace`` seconds for a clean exit first."""
    dirs = cgroup_dirs(sandbox, name)
    if grace and cgroups.wait_empty(dirs, grace):
        cgroups.remove(dirs, f"host {name}: stop")
        return
    if not cgroups.kill(dirs, signal.SIGKILL):
        left = ",".join(str(pid) for pid in sorted(cgroups.pids(dirs)))
        raise SandboxError(f"host {name}: processes survived SIGKILL; inspect them with `ps -o pid,stat,cmd -p {left}`")
    cgroups.remove(dirs, f"host {name}: stop")
    _forget_machine(sandbox, name)


def exited_early(layout, sandbox, name):
    """If the host's nspawn is gone, the tail of its console log says why."""
    if running(sandbox, name):
        return None
    log = Path(layout.console_log(name))
    lines = log.read_text(errors="replace").strip().splitlines() if log.is_file() else []
    return " | ".join(lines[-5:]) or "no output"


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
