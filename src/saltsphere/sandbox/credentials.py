"""The sandbox's ssh keypair and passwords: made once per sandbox, stored mode 0600, never printed."""

import os
import secrets
from pathlib import Path

from saltsphere.sandbox.run import run

# ssh reads a password from this helper when SSH_ASKPASS_REQUIRE=force, so a
# password host is reached without a terminal and without the password on a
# command line.
ASKPASS = """\
#!/bin/sh
exec cat "$SALTSPHERE_SANDBOX_PASSWORD_FILE"
"""


def create_keypair(layout):
    layout.ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not layout.private_key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"saltsphere-sandbox-{layout.name}",
             "-f", str(layout.private_key)], step=f"sandbox {layout.name}: ssh keypair")
    _write_private(layout.askpass, ASKPASS, mode=0o700)


def public_key(layout):
    return Path(f"{layout.private_key}.pub").read_text().strip()


def password(layout, host):
    """The host's password, made on first use; letters, digits, '-' and '_' so hosts.ini needs no quoting."""
    path = layout.password_file(host)
    if not path.exists():
        layout.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, secrets.token_urlsafe(18))
    return path.read_text()


def password_hash(layout, host):
    """A SHA-512 crypt hash for /etc/shadow; the password goes to openssl on stdin only."""
    proc = run(["openssl", "passwd", "-6", "-stdin"], input=password(layout, host),
               step=f"host {host}: password hash")
    return proc.stdout.strip()


def _write_private(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, mode)
