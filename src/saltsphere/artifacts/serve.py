"""Serve a bundle to the hosts over HTTP while they install.

Hosts download each file with Salt's ``file.managed`` and its sha256 from the
manifest: a file already on a host with that hash is not downloaded again, so
a re-run transfers nothing whatever the bundle's size.  The server is started
on demand (the ext_pillar asks for it before any host renders its states),
runs detached, serves only the files the manifest lists, and exits after a
while without requests.
"""

import argparse
import http.server
import json
import posixpath
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError

IDLE_EXIT_SECONDS = 3600
START_TIMEOUT = 10
IDENTITY_HEADER = "X-Saltsphere-Bundle"


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


class _Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "saltsphere-bundle"

    def __init__(self, *args, directory=None, **kwargs):
        super().__init__(*args, directory=directory, **kwargs)

    def send_head(self):
        self.server.touch()
        # apt asks for "<repo>/./Packages" and quotes "+" and "~" in package names.
        relative = posixpath.normpath(urllib.parse.unquote(self.path.split("?", 1)[0])).lstrip("/")
        if relative not in self.server.allowed():
            self.send_error(404, "not in the bundle's manifest")
            return None
        return super().send_head()

    def end_headers(self):
        self.send_header(IDENTITY_HEADER, self.server.identity)
        super().end_headers()

    def log_message(self, *args):  # the hosts' downloads are not worth a log line each
        pass


class BundleServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, bundle_dir: Path, port: int, idle_seconds: int):
        self.bundle_dir = bundle_dir
        self.identity = str(bundle_dir)
        self.idle_seconds = idle_seconds
        self._last = time.monotonic()
        self._allowed = (None, frozenset())
        super().__init__(("", port), lambda *a, **k: _Handler(*a, directory=str(bundle_dir), **k))

    def touch(self):
        self._last = time.monotonic()

    def allowed(self):
        # Re-read the manifest when it changes: a rebuilt bundle is served without a restart.
        path = self.bundle_dir / mf.MANIFEST_NAME
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return frozenset()
        if self._allowed[0] != stamp:
            names = {entry.path for entry in mf.read_manifest(self.bundle_dir).files}
            self._allowed = (stamp, frozenset(names | {mf.MANIFEST_NAME}))
        return self._allowed[1]

    def watch_idle(self):
        while True:
            time.sleep(min(30, self.idle_seconds))
            if time.monotonic() - self._last > self.idle_seconds:
                self.shutdown()
                return


def _probe(port: int):
    """The bundle directory a server on ``port`` serves, None when nothing listens."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{mf.MANIFEST_NAME}", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.headers.get(IDENTITY_HEADER, "")
    except urllib.error.HTTPError as exc:
        return exc.headers.get(IDENTITY_HEADER, "")
    except (urllib.error.URLError, OSError):
        return None


def ensure_server(bundle_dir, port: int, log_dir) -> None:
    """Make sure ``bundle_dir`` is served on ``port``; start a detached server if not."""
    bundle_dir = Path(bundle_dir).resolve()
    if not (bundle_dir / mf.MANIFEST_NAME).is_file():
        raise ArtifactError(f"{bundle_dir} is not a bundle (no {mf.MANIFEST_NAME}); build one with "
                            "`saltsphere artifact build --from-debian-source` or set artifact_bundle in vars.yml")
    served = _probe(port)
    if served == str(bundle_dir):
        return
    if served is not None:
        raise ArtifactError(f"port {port} on the taskbox is taken by "
                            f"{'the bundle server of ' + served if served else 'another program'}; "
                            "set artifact_port in vars.yml to a free port")
    log_path = Path(log_dir) / "bundle-server.log"
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "saltsphere.artifacts.serve", "--dir", str(bundle_dir), "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        served = _probe(port)
        if served == str(bundle_dir):
            return
        time.sleep(0.1)
    raise ArtifactError(f"the bundle server did not start on port {port} within {START_TIMEOUT} s; see {log_path}")


def serve(bundle_dir, port: int, idle_seconds: int = IDLE_EXIT_SECONDS):
    server = BundleServer(Path(bundle_dir).resolve(), port, idle_seconds)
    threading.Thread(target=server.watch_idle, daemon=True).start()
    server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m saltsphere.artifacts.serve")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--idle-exit", type=int, default=IDLE_EXIT_SECONDS)
    args = parser.parse_args(argv)
    try:
        serve(args.dir, args.port, args.idle_exit)
    except OSError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
