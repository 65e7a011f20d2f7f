"""The bundle server's state file, its lock, and the identity proof both sides compute.

The state file (mode 0600, in the cluster's state directory) is how the
callers of :mod:`saltsphere.artifacts.serve` and the server process talk:
callers write what to serve, the token, the secret and the owners; the server
reads it at start and every second after.
"""

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
from pathlib import Path

STATE_FILE = "bundle-server.json"
LOCK_FILE = "bundle-server.lock"
LOG_FILE = "bundle-server.log"
CHALLENGE_HEADER = "X-Saltsphere-Challenge"
PROOF_HEADER = "X-Saltsphere-Proof"
# What callers get back; the secret, owners and timers stay between the callers and the server.
PUBLIC_KEYS = ("token", "port", "addresses", "pid", "bundle_dir", "overlay")
_KEYS = PUBLIC_KEYS + ("secret", "started", "owners", "idle_seconds", "idle_from")


def read(state_dir):
    """The whole state, None when there is none (or it is not one this code wrote)."""
    try:
        with open(Path(state_dir) / STATE_FILE, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or any(key not in data for key in _KEYS):
        return None
    return data


def public(data) -> dict:
    return {key: data[key] for key in PUBLIC_KEYS}


def write(state_dir, data):
    """Replace the state at once: the server never reads half a file."""
    path = Path(state_dir) / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove(state_dir):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(Path(state_dir) / STATE_FILE)


@contextlib.contextmanager
def locked(state_dir, wait=True):
    """One writer of the state at a time: starting, stopping and the server's own exit.

    Yields False, without the lock, when ``wait`` is false and another holds it.
    """
    fd = os.open(Path(state_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)


def proof(secret: str, nonce: str, address: str, port: int) -> str:
    """The server's answer to ``nonce``: bound to the address and port it is asked on, so it cannot be relayed."""
    message = f"{nonce} {address} {port}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def valid_nonce(nonce: str) -> bool:
    return 32 <= len(nonce) <= 128 and all(c in "0123456789abcdef" for c in nonce)
