"""Write what makes one host itself into its overlay's upper layer, before its first boot.

The shared rootfs stays untouched; everything here shadows a file of it.
Directories and files are created with the owner and mode the rootfs gives
them, because in an overlay the upper copy's attributes win.
"""

import os
import shutil
import time
from pathlib import Path

from saltsphere.sandbox import credentials, network, profiles
from saltsphere.sandbox.run import run

SUDO_UID = 1000


def host_key(layout, host):
    return (layout.upper(host) / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2]


def wipe(layout, host):
    """Forget everything the host wrote: its next boot is its first."""
    for path in (layout.upper(host), layout.work(host), layout.containerd(host)):
        shutil.rmtree(path, ignore_errors=True)


def prepare(layout, sandbox, host, lower):
    """Create the host's directories and, on a fresh upper layer, its identity and logins."""
    lower = Path(lower)
    for path in (layout.work(host.name), layout.merged(host.name), layout.containerd(host.name)):
        path.mkdir(parents=True, exist_ok=True)
    upper = layout.upper(host.name)
    if upper.is_dir():
        return
    tmp = upper.with_name("upper.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    files = _Files(tmp, lower)
    _identity(files, sandbox, host)
    _login(files, layout, host)
    # Only a complete upper layer counts: an interrupted prepare starts over.
    tmp.rename(upper)


def _identity(files, sandbox, host):
    prefix = sandbox.subnet.split("/")[1]
    files.write("etc/hostname", f"{host.name}\n")
    files.write("etc/machine-id", f"{host.machine_id}\n")
    files.write("etc/hosts", _etc_hosts(sandbox))
    files.write("etc/resolv.conf", f"nameserver {network.SLIRP_DNS}\n")
    files.write(
        "etc/systemd/network/10-host0.network",
        f"[Match]\nName=host0\n\n[Link]\nMACAddress={host.mac}\n\n"
        f"[Network]\nAddress={host.ip}/{prefix}\nGateway={sandbox.gateway}\nDNS={network.SLIRP_DNS}\n",
    )
    files.mkdirs("etc/ssh")
    key = files.upper / "etc/ssh/ssh_host_ed25519_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}", "-f", str(key)],
        step=f"host {host.name}: ssh host key")
    # Only an ed25519 host key is made; naming it keeps sshd from looking for the others.
    files.write("etc/ssh/sshd_config.d/10-host-key.conf", "HostKey /etc/ssh/ssh_host_ed25519_key\n")


def _login(files, layout, host):
    key = credentials.public_key(layout) + "\n"
    if host.auth == profiles.KEY:
        files.mkdirs("root/.ssh")
        (files.upper / "root/.ssh").chmod(0o700)
        files.write("root/.ssh/authorized_keys", key, mode=0o600)
    elif host.auth == profiles.PASSWORD:
        files.edit("etc/shadow", lambda lines: [
            _set_field(line, 1, credentials.password_hash(layout, host.name)) if line.startswith("root:") else line
            for line in lines
        ])
    else:
        _sudo_user(files, layout, host, key)


def _sudo_user(files, layout, host, key):
    user, uid, days = profiles.SUDO_USER, SUDO_UID, int(time.time() // 86400)
    secret = credentials.password_hash(layout, host.name)
    files.edit("etc/passwd", lambda lines: lines + [f"{user}:x:{uid}:{uid}:{user}:/home/{user}:/bin/bash"])
    files.edit("etc/shadow", lambda lines: lines + [f"{user}:{secret}:{days}:0:99999:7:::"])
    files.edit("etc/group", lambda lines: _add_member(lines, "sudo", user) + [f"{user}:x:{uid}:"])
    files.edit("etc/gshadow", lambda lines: _add_member(lines, "sudo", user) + [f"{user}:!::"])
    files.mkdirs("home")
    home = files.upper / "home" / user
    (home / ".ssh").mkdir(mode=0o700, parents=True)
    (home / ".ssh/authorized_keys").write_text(key)
    for path in (home, home / ".ssh", home / ".ssh/authorized_keys"):
        os.chown(path, uid, uid)
    home.chmod(0o700)
    (home / ".ssh/authorized_keys").chmod(0o600)


def _etc_hosts(sandbox):
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{h.ip}\t{h.name}" for h in sandbox.hosts]
    return "\n".join(lines) + "\n"


def _set_field(line, index, value):
    fields = line.split(":")
    fields[index] = value
    return ":".join(fields)


def _add_member(lines, group, user):
    out = []
    for line in lines:
        if line.split(":", 1)[0] == group:
            members = [m for m in line.split(":")[-1].split(",") if m]
            line = _set_field(line, len(line.split(":")) - 1, ",".join(members + [user]))
        out.append(line)
    return out


class _Files:
    """Writes into an upper layer, copying owner and mode from the rootfs where it has the path."""

    def __init__(self, upper, lower):
        self.upper = upper
        self.lower = lower

    def mkdirs(self, rel):
        current = Path()
        for part in Path(rel).parts:
            current /= part
            target = self.upper / current
            if not target.is_dir():
                target.mkdir()
                self._copy_attrs(current, target, default_mode=0o755)

    def write(self, rel, text, mode=None):
        self.mkdirs(Path(rel).parent)
        target = self.upper / rel
        target.write_text(text)
        self._copy_attrs(Path(rel), target, default_mode=0o644)
        if mode is not None:
            target.chmod(mode)

    def edit(self, rel, change):
        """Rewrite a rootfs file (or this layer's copy of it) line by line."""
        source = self.upper / rel if (self.upper / rel).exists() else self.lower / rel
        lines = source.read_text().splitlines()
        self.write(rel, "\n".join(change(lines)) + "\n")

    def _copy_attrs(self, rel, target, default_mode):
        source = self.lower / rel
        if source.exists():
            st = source.stat()
            os.chown(target, st.st_uid, st.st_gid)
            target.chmod(st.st_mode & 0o7777)
        else:
            target.chmod(default_mode)
