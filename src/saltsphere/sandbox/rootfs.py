"""Build the Debian base rootfs once and cache it; every host overlays it read-only."""

import fcntl
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from saltsphere.sandbox import mirror
from saltsphere.sandbox.locations import CACHE_ROOT
from saltsphere.sandbox.run import run

# Bump when the recipe below changes in a way the hash cannot see.
RECIPE_VERSION = "1"

PACKAGES = (
    "openssh-server",
    # sshd's sftp subsystem: scp speaks SFTP, and salt-ssh's thin deploy retries forever without it.
    "openssh-sftp-server",
    "python3",
    # salt's pkgrepo states on Debian need the apt bindings.
    "python3-apt",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "sudo",
    "ca-certificates",
    "curl",
    "iproute2",
    "iputils-ping",
    "iptables",
    "kmod",
    "procps",
    "less",
)

SSHD_CONFIG = """\
# Sandbox hosts are reached as root by key or by password, as hosts.ini says.
PermitRootLogin yes
PasswordAuthentication yes
UseDNS no
"""

# systemd-nspawn mounts the cgroup hierarchies read-only; containerd and kubelet
# create cgroups, so each host reopens them for writing at boot.  The cgroup
# namespace keeps those writes inside the host's own cgroup directories, and a
# bind remount changes only this host's view, never the taskbox's mounts.
CGROUP_RW_SCRIPT = """\
#!/bin/sh
awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts |
while read -r mountpoint; do
    mount -o remount,bind,rw "$mountpoint"
done
"""

def _boot_unit(description, command):
    """A oneshot unit that runs before sysinit, inside containers only."""
    return f"""\
[Unit]
Description={description}
DefaultDependencies=no
Before=sysinit.target
ConditionVirtualization=container

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={command}

[Install]
WantedBy=sysinit.target
"""


CGROUP_RW_UNIT = _boot_unit("Make the cgroup hierarchies writable for container runtimes",
                            "/usr/local/sbin/saltsphere-cgroup-rw")

# kubelet refuses to start unless these read as below, but they are kernel-wide
# and read-only inside a host: each host lays a file over them instead, so the
# taskbox's own values never change.
SYSCTL_SHADOWS = {
    "vm.overcommit_memory": "1",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
}
SYSCTL_SHADOW_DIR = "/etc/saltsphere/sysctl-shadow"

SYSCTL_SHADOW_SCRIPT = f"""\
#!/bin/sh
set -e
for file in {SYSCTL_SHADOW_DIR}/*; do
    mount --bind "$file" "/proc/sys/$(basename "$file" | tr . /)"
done
"""

SYSCTL_SHADOW_UNIT = _boot_unit("Shadow kernel-wide sysctls with this host's own values",
                                "/usr/local/sbin/saltsphere-sysctl-shadow")

# Runs inside the new tree (nspawn without boot, sharing the taskbox's network),
# so the hosts start with current packages and fresh apt lists and need no
# network to boot.  Host keys and machine-id are removed here because each host
# gets its own.  Periodic jobs are off: a timer firing apt in a host would take
# the dpkg lock from under a Salt run, and every idle megabyte counts times the
# number of hosts; hosts are reached by ssh, so no console login either.
CONFIGURE_SCRIPT = """\
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get -y -o Dpkg::Options::=--force-confold dist-upgrade
apt-get clean
rm -f /etc/ssh/ssh_host_*
systemctl enable systemd-networkd.service saltsphere-cgroup-rw.service saltsphere-sysctl-shadow.service
systemctl disable apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \\
    fstrim.timer e2scrub_reap.service
systemctl mask console-getty.service getty@tty1.service
: > /etc/machine-id
"""


def ensure(log=print):
    """Return the cached rootfs for the current recipe, building it first if needed."""
    sources = mirror.debian_sources()
    final = CACHE_ROOT / f"{mirror.SUITE}-{_recipe_hash(sources)}"
    if final.is_dir():
        return final
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.is_dir():
            return final
        _remove_interrupted_builds()
        log(f"building the {mirror.SUITE} rootfs into {final} (once; takes a few minutes)")
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=CACHE_ROOT))
        try:
            _build(tmp, sources)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(f"rootfs built in {time.monotonic() - started:.0f} s")
    return final


def _recipe_hash(sources):
    recipe = "\n".join(
        [RECIPE_VERSION, " ".join(PACKAGES), SSHD_CONFIG, CGROUP_RW_SCRIPT, CGROUP_RW_UNIT,
         repr(SYSCTL_SHADOWS), SYSCTL_SHADOW_SCRIPT, SYSCTL_SHADOW_UNIT, CONFIGURE_SCRIPT,
         mirror.render_sources(sources)]
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def _remove_interrupted_builds():
    # Only called under the build lock, so no other build owns these.
    for leftover in CACHE_ROOT.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _build(root, sources):
    run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
         mirror.SUITE, str(root), mirror.main_mirror(sources)],
        step="rootfs: debootstrap",
        timeout=1800,
    )
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    _write(root / "etc/apt/sources.list.d/debian.sources", mirror.render_sources(sources))
    _write(root / "etc/ssh/sshd_config.d/saltsphere-sandbox.conf", SSHD_CONFIG)
    _write(root / "usr/local/sbin/saltsphere-cgroup-rw", CGROUP_RW_SCRIPT, mode=0o755)
    _write(root / "etc/systemd/system/saltsphere-cgroup-rw.service", CGROUP_RW_UNIT)
    for name, value in SYSCTL_SHADOWS.items():
        _write(root / SYSCTL_SHADOW_DIR.lstrip("/") / name, value + "\n")
    _write(root / "usr/local/sbin/saltsphere-sysctl-shadow", SYSCTL_SHADOW_SCRIPT, mode=0o755)
    _write(root / "etc/systemd/system/saltsphere-sysctl-shadow.service", SYSCTL_SHADOW_UNIT)
    (root / "etc/hostname").unlink(missing_ok=True)
    run(
        ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--pipe",
         "--resolv-conf=copy-host", f"--directory={root}", "/bin/sh", "-c", CONFIGURE_SCRIPT],
        step="rootfs: package upgrade and setup inside the new tree",
        timeout=1800,
    )


def _write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
