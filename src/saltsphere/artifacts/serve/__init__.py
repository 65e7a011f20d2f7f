"""Serve a bundle to the hosts over HTTP while they install.

Hosts download each file by its sha256 from the manifest, so a re-run
transfers nothing whatever the bundle's size.  The server is started by the
prepare step (never by rendering) for one orchestration: it runs detached,
listens only on the taskbox addresses the hosts reach it by, sends only the
files the manifest lists (and a per-cluster overlay), each under
``/<token>/<path>`` with a token that is new for every server, and exits when
the processes that asked for it have exited.

Callers and the server process share the state file (:mod:`.state`); the
server's identity is checked by a challenge only the holder of that file's
secret answers, never by what a server says about itself.
"""

import contextlib
import errno
import hmac
import http.client
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError
from saltsphere.artifacts.serve import procs, state
from saltsphere.artifacts.serve.state import STATE_FILE

__all__ = ["STATE_FILE", "IDLE_EXIT_SECONDS", "start", "record", "running", "stop", "release", "base_url",
           "source_address_for", "url_host"]

IDLE_EXIT_SECONDS = 900
START_TIMEOUT = 10
STOP_TIMEOUT = 5
CHALLENGE_TIMEOUT = 2
MODULE = "saltsphere.artifacts.serve"


def source_address_for(ip: str) -> str:
    """The taskbox address a host at ``ip`` reaches it by (the source of the route towards it)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((ip, 9))  # UDP connect sends nothing; it only picks the route
        except OSError as exc:
            raise ArtifactError(f"the taskbox has no route to {ip} ({exc.strerror}); "
                                "check the host's ip in hosts.ini and the taskbox's network") from None
        return probe.getsockname()[0]


def url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def base_url(address, port, token) -> str:
    """Where a host finds the bundle: it fetches ``<base_url>/<path in the manifest>``."""
    return f"http://{url_host(address)}:{port}/{token}"


def record(state_dir):
    """What the state file says is served, without contacting anything; None when there is no record."""
    data = state.read(state_dir)
    return state.public(data) if data else None


def running(state_dir):
    """The record, only when the server it names answers the identity challenge on every address."""
    data = state.read(state_dir)
    return state.public(data) if data and _genuine(data) else None


def start(bundle_dir, port: int, addresses, state_dir, overlay=None, owner_pid=None,
          idle_seconds=IDLE_EXIT_SECONDS) -> dict:
    """Serve ``bundle_dir`` on ``port`` of each of ``addresses``; reuse this cluster's server when it serves that.

    ``overlay`` maps paths to files served in addition to (or in place of) the
    bundle's.  The server exits once ``owner_pid`` and the owners of every
    start() that reused it have exited; with no owner at all, after
    ``idle_seconds`` without requests.
    """
    wanted = _wanted(bundle_dir, port, addresses, overlay)
    owner = _owner(owner_pid)
    state_dir = Path(os.path.abspath(state_dir))
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with state.locked(state_dir):
        current = state.read(state_dir)
        if current and all(current[key] == value for key, value in wanted.items()) and _genuine(current):
            current = _lease(current, owner, idle_seconds)
            state.write(state_dir, current)
            return state.public(current)
        if current:
            _terminate(current, state_dir)
        state.remove(state_dir)
        for address in wanted["addresses"]:
            _check_free(address, wanted["port"], state_dir)
        config = dict(wanted, token=secrets.token_urlsafe(24), secret=secrets.token_hex(32), pid=None,
                      started=None, owners=[], idle_from=None, idle_seconds=idle_seconds)
        config = _lease(config, owner, idle_seconds)
        state.write(state_dir, config)
        try:
            config["pid"] = _spawn(state_dir)
            config["started"] = procs.start_time(config["pid"])
            state.write(state_dir, config)
            _wait_until_genuine(config, state_dir)
        except BaseException:
            if config["pid"]:
                _terminate(config, state_dir)
            state.remove(state_dir)
            raise
        return state.public(config)


def stop(state_dir) -> bool:
    """Stop this cluster's server (the pid checked first) and remove its record; True when one ran."""
    state_dir = Path(os.path.abspath(state_dir))
    if not (state_dir / STATE_FILE).exists():
        return False
    with state.locked(state_dir):
        current = state.read(state_dir)
        ran = bool(current) and _terminate(current, state_dir)
        state.remove(state_dir)
    return ran


def release(state_dir, owner_pid) -> bool:
    """Give up ``owner_pid``'s lease now rather than when it exits; True when the server was stopped.

    The server stops when no other owner is alive and it was started for
    owners only; one started without an owner (it stops after a while
    without requests) goes on serving.
    """
    state_dir = Path(os.path.abspath(state_dir))
    if not (state_dir / STATE_FILE).exists():
        return False
    with state.locked(state_dir):
        current = state.read(state_dir)
        if not current:
            return False
        others = [owner for owner in current["owners"]
                  if owner["pid"] != owner_pid and procs.alive(owner["pid"], owner["start"])]
        if others or current["idle_from"] is not None:
            state.write(state_dir, dict(current, owners=others))
            return False
        ran = _terminate(current, state_dir)
        state.remove(state_dir)
    return ran


def _wanted(bundle_dir, port, addresses, overlay) -> dict:
    bundle = Path(bundle_dir).resolve()
    if not (bundle / mf.MANIFEST_NAME).is_file():
        raise ArtifactError(f"{bundle} is not a bundle (no {mf.MANIFEST_NAME}); build one with "
                            "`saltsphere artifact build --from-debian-source` or set artifact_bundle in vars.yml")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ArtifactError(f"artifact_port {port!r} is not a TCP port; set artifact_port in vars.yml to 1-65535")
    return {"bundle_dir": str(bundle), "port": port, "addresses": _addresses(addresses),
            "overlay": _overlay(overlay or {})}


def _addresses(addresses) -> list:
    if isinstance(addresses, str) or not addresses:
        raise ArtifactError(f"the bundle server needs a list of taskbox addresses to listen on, not {addresses!r}")
    normal = []
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            ip = None
        if ip is None or ip.is_unspecified:
            raise ArtifactError(f"{address!r} is not an address the bundle server can listen on: give the taskbox's "
                                "own IPv4 or IPv6 addresses towards the hosts, never a wildcard")
        if str(ip) not in normal:
            normal.append(str(ip))
    return normal


def _overlay(overlay) -> dict:
    checked = {}
    for relative, path in overlay.items():
        pure = PurePosixPath(relative)
        if not relative or pure.is_absolute() or pure.as_posix() != relative or ".." in pure.parts:
            raise ArtifactError(f"overlay path {relative!r} must be relative to the bundle root, without '..'")
        if not os.path.isabs(path):
            raise ArtifactError(f"overlay file {path!r} (for {relative}) must be an absolute path")
        checked[relative] = str(path)
    return checked


def _owner(pid):
    if pid is None:
        return None
    started = procs.start_time(pid)
    if started is None:
        raise ArtifactError(f"the bundle server's owner, process {pid}, is not running")
    return {"pid": pid, "start": started}


def _lease(config, owner, idle_seconds) -> dict:
    """``config`` with ``owner`` added (owners gone dropped), or with the idle clock restarted when there is none."""
    owners = [known for known in config["owners"] if procs.alive(known["pid"], known["start"])]
    if owner and owner not in owners:
        owners.append(owner)
    idle_from = config["idle_from"] if owner else time.time()
    return dict(config, owners=owners, idle_from=idle_from, idle_seconds=idle_seconds)


def _answers(address, port, token, secret) -> bool:
    nonce = secrets.token_hex(16)
    connection = http.client.HTTPConnection(address, port, timeout=CHALLENGE_TIMEOUT)
    try:
        connection.request("HEAD", f"/{token}", headers={state.CHALLENGE_HEADER: nonce})
        response = connection.getresponse()
        answer = response.getheader(state.PROOF_HEADER, "")
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    expected = state.proof(secret, nonce, address, port)
    return response.status == 204 and hmac.compare_digest(answer.encode("utf-8", "replace"), expected.encode())


def _genuine(config) -> bool:
    return all(_answers(address, config["port"], config["token"], config["secret"])
               for address in config["addresses"])


def _ours(pid, state_dir) -> bool:
    """``pid`` is the bundle server of ``state_dir`` (by its command line)."""
    args = procs.cmdline(pid)
    return MODULE in args and args[-2:] == ["--state-dir", str(state_dir)]


def _terminate(config, state_dir) -> bool:
    """Stop the server ``config`` names if that pid is still it; True when it ran."""
    pid, started = config["pid"], config["started"]
    if not (procs.alive(pid, started) and _ours(pid, state_dir)):
        return False
    _kill(pid, started)
    return True


def _kill(pid, started):
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not procs.alive(pid, started):
                return
            time.sleep(0.05)


def _check_free(address, port, state_dir):
    """Raise, naming the program, when ``port`` is taken on ``address`` by anything but this cluster's server.

    A listener that no process holds any more is a program in the middle of
    exiting (an earlier server of this cluster whose owner just ended, say):
    it is waited for, up to STOP_TIMEOUT, before the port is called taken.
    """
    deadline = time.monotonic() + STOP_TIMEOUT
    holder = "another program"
    while True:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As the server will: a connection of an earlier server in TIME_WAIT does not take the port.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
                return
            except OSError as exc:
                error = exc
        if error.errno != errno.EADDRINUSE:
            raise ArtifactError(f"the bundle server cannot listen on {url_host(address)}:{port} "
                                f"({error.strerror}); is {address} an address of this taskbox? "
                                "If the port is the problem, set artifact_port in vars.yml to a free port")
        pid, holder = procs.port_holder(address, port)
        if pid is not None and not _ours(pid, state_dir):
            break
        if time.monotonic() >= deadline:
            if pid is None:
                break
            raise ArtifactError(f"port {port} on {address} is still taken by this cluster's earlier bundle server; "
                                f"stop it (see {Path(state_dir) / state.LOG_FILE}) or set artifact_port in vars.yml")
        if pid is not None:
            # A server of this cluster whose record was lost (its starter was killed): stop it and look again.
            _kill(pid, procs.start_time(pid))
        else:
            time.sleep(0.1)
    raise ArtifactError(f"port {port} on {address} is taken by {holder}; set artifact_port in vars.yml "
                        "to a free port (or stop that program)")


def _log(state_dir):
    path = Path(state_dir) / state.LOG_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def _spawn(state_dir) -> int:
    """Start the server process detached; its pid."""
    # The server runs the code that starts it, wherever that was imported from.
    package_root = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    with _log(state_dir) as log:
        try:
            launched = subprocess.run(
                [sys.executable, "-m", MODULE, "--state-dir", str(state_dir)], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=log, start_new_session=True, close_fds=True, timeout=START_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            launched = None
    if launched is None or launched.returncode != 0 or not launched.stdout.strip().isdigit():
        raise ArtifactError(f"the bundle server did not start; see {Path(state_dir) / state.LOG_FILE}")
    return int(launched.stdout)


def _wait_until_genuine(config, state_dir):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _genuine(config):
            return
        if not procs.alive(config["pid"], config["started"]):
            break
        time.sleep(0.05)
    log_path = Path(state_dir) / state.LOG_FILE
    raise ArtifactError(f"the bundle server did not answer on port {config['port']} within {START_TIMEOUT} s"
                        f"{_last_line(log_path)}; see {log_path}")


def _last_line(path) -> str:
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" ({lines[-1]})" if lines else ""
