"""How the taskbox logs into a host by ssh, the same way hosts.ini tells salt-ssh to."""

import base64
import hashlib
import hmac
import os
import socket
import subprocess
import time
from pathlib import Path

from saltsphere.sandbox import profiles
from saltsphere.sandbox.errors import SandboxError


def user(host):
    return profiles.SUDO_USER if host.auth == profiles.SUDO else "root"


def command(layout, host, remote=None):
    """Return (argv, env) for ssh into ``host``; ``remote`` None means an interactive shell."""
    argv = [
        "ssh", "-o", f"UserKnownHostsFile={layout.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
    ]
    env = dict(os.environ)
    if host.auth == profiles.PASSWORD:
        argv += ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                 "-o", "NumberOfPasswordPrompts=1"]
        env.update(
            SSH_ASKPASS=str(layout.askpass),
            SSH_ASKPASS_REQUIRE="force",
            SALTSPHERE_SANDBOX_PASSWORD_FILE=str(layout.password_file(host.name)),
        )
    else:
        argv += ["-i", str(layout.private_key), "-o", "IdentitiesOnly=yes"]
        if remote is not None:
            argv += ["-o", "BatchMode=yes"]
    argv.append(f"{user(host)}@{host.ip}")
    if remote is not None:
        argv.append(remote)
    return argv, env


def wait_for_login(layout, host, is_alive, timeout):
    """Return once ssh logs into ``host``; raise naming the host when it does not in time.

    ``is_alive()`` returning a reason string means the host died while booting.
    """
    deadline = time.monotonic() + timeout
    last = "sshd did not answer on port 22"
    while time.monotonic() < deadline:
        reason = is_alive()
        if reason is not None:
            raise SandboxError(f"host {host.name}: exited while booting: {reason}")
        if _port_open(host.ip):
            argv, env = command(layout, host, remote="true")
            try:
                proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                      text=True, timeout=15)
            except subprocess.TimeoutExpired:
                last = "ssh login did not finish within 15 s"
            else:
                if proc.returncode == 0:
                    return
                last = f"ssh as {user(host)} failed: {proc.stderr.strip() or f'exit {proc.returncode}'}"
        time.sleep(0.3)
    raise SandboxError(
        f"host {host.name} ({host.ip}): no ssh login within {timeout:.0f} s ({last}); "
        f"see {layout.console_log(host.name)}"
    )


def _port_open(ip):
    try:
        with socket.create_connection((ip, 22), timeout=0.5):
            return True
    except OSError:
        return False


def forget_host_keys(ips, known_hosts=Path.home() / ".ssh" / "known_hosts"):
    """Drop ``ips`` from the taskbox user's known_hosts.

    `salt-ssh -i` records each host's key there.  A later sandbox reuses the
    addresses with new host keys, and ssh then refuses password logins to a
    host whose key changed, so the sandbox takes back the entries of its own
    addresses when it boots a fresh host and when it is removed.
    """
    if not known_hosts.is_file():
        return
    lines = known_hosts.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not any(_names(line, ip) for ip in ips)]
    if len(kept) != len(lines):
        tmp = known_hosts.with_name(f".{known_hosts.name}.saltsphere-tmp")
        tmp.write_text("".join(kept))
        os.chmod(tmp, known_hosts.stat().st_mode & 0o777)
        os.replace(tmp, known_hosts)


def _names(line, ip):
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return False
    patterns = fields[1] if fields[0].startswith("@") and len(fields) > 1 else fields[0]
    for pattern in patterns.split(","):
        if pattern.startswith("|1|"):
            salt, digest = pattern[3:].split("|", 1)
            mac = hmac.new(base64.b64decode(salt), ip.encode(), hashlib.sha1).digest()
            if base64.b64encode(mac).decode() == digest:
                return True
        elif pattern in (ip, f"[{ip}]:22"):
            return True
    return False
