"""The bundle server process: ``python -m saltsphere.artifacts.serve --state-dir DIR``.

It reads what to serve from the state file, listens on each address given
there (never the wildcard), sends the files of :class:`files.Files` to
``GET``/``HEAD /<token>/<path>``, proves its identity to whoever knows the
secret, and exits once its owners have all exited, or after the idle time
without requests when it has none.
"""

import argparse
import hmac
import http.server
import logging
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from pathlib import Path

from saltsphere.artifacts.serve import files, procs, state, url_host

log = logging.getLogger("saltsphere.artifacts.serve")

TICK_SECONDS = 1.0
POLL_SECONDS = 0.2  # how soon a listener notices it is asked to stop


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "saltsphere-bundle"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 120

    def do_GET(self):
        self._answer(send_body=True)

    def do_HEAD(self):
        self._answer(send_body=False)

    def _answer(self, send_body):
        site = self.server.site
        # The request target as sent: parse_request() rewrites a leading "//" in self.path.
        target = self.requestline.split()[1]
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a body is not read, so the connection cannot carry another request
        nonce = self.headers.get(state.CHALLENGE_HEADER)
        if nonce is not None:
            self._challenge(target, nonce)
            return
        relative = files.relative_path(target, site.token)
        fd = site.files.open(relative) if relative else None
        if fd is None:
            self._reply(404, "Not Found")
            return
        site.touch()
        with open(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if send_body and size:
                sent = self.connection.sendfile(handle, 0, size)
                if sent < size:  # the file shrank while it was sent: the client must see a short body
                    self.close_connection = True

    def _challenge(self, target, nonce):
        site = self.server.site
        if not hmac.compare_digest(target.encode(), f"/{site.token}".encode()) or not state.valid_nonce(nonce):
            self._reply(404, "Not Found")
            return
        self.send_response(204)
        self.send_header(state.PROOF_HEADER, state.proof(site.secret, nonce, self.server.address, site.port))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _reply(self, code, text):
        body = f"{code} {text}\n".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        # Request lines carry the token; the hosts' downloads are not worth a line each anyway.
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, site):
        self.address = address
        self.site = site
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, site.port), _Handler)

    def server_bind(self):
        # HTTPServer's own would look the address up in DNS (getfqdn), which may hang on a taskbox without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.address, self.site.port

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            log.error("a request failed: %s: %s", type(exc).__name__, exc)


class _Site:
    """What every listening socket of the server shares."""

    def __init__(self, config):
        self.token = config["token"]
        self.secret = config["secret"]
        self.port = config["port"]
        self.files = files.Files(config["bundle_dir"], config["overlay"])
        self.last_request = 0.0

    def touch(self):
        self.last_request = time.time()


def exit_reason(config, last_request: float, now: float):
    """Why the server should exit now, None while it is still wanted."""
    owners = config["owners"]
    if any(procs.alive(owner["pid"], owner["start"]) for owner in owners):
        return None
    if owners and config["idle_from"] is None:
        return "every owner has exited"
    quiet = now - max(last_request, config["idle_from"] or 0)
    if quiet >= config["idle_seconds"]:
        return f"no request for {config['idle_seconds']} s"
    return None


def _watch(state_dir, site, stopping):
    while not stopping.wait(TICK_SECONDS):
        config = state.read(state_dir)
        if config is None or config["token"] != site.token:
            return "its record was removed or replaced"
        if exit_reason(config, site.last_request, time.time()) is None:
            continue
        # Decided again under the lock: a start() may have just added an owner.  Never
        # waiting for it: whoever holds it may be stopping this server.
        with state.locked(state_dir, wait=False) as held:
            if not held:
                continue
            config = state.read(state_dir)
            if config is None or config["token"] != site.token:
                return "its record was removed or replaced"
            reason = exit_reason(config, site.last_request, time.time())
            if reason:
                state.remove(state_dir)
                return reason
    return "terminated"


def serve(state_dir) -> int:
    state_dir = Path(state_dir)
    config = state.read(state_dir)
    if config is None:
        log.error("no bundle server state in %s", state_dir)
        return 1
    site = _Site(config)
    servers = []
    try:
        for address in config["addresses"]:
            servers.append(_Server(address, site))
    except OSError as exc:
        log.error("cannot listen on %s port %s: %s", address, site.port, exc.strerror or exc)
        for server in servers:
            server.server_close()
        return 1
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
    where = ", ".join(f"{url_host(address)}:{site.port}" for address in config["addresses"])
    log.info("pid %d serves %s on %s", os.getpid(), config["bundle_dir"], where)
    reason = _watch(state_dir, site, stopping)
    for server in servers:
        server.shutdown()
        server.server_close()
    log.info("pid %d stopped: %s", os.getpid(), reason)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m saltsphere.artifacts.serve")
    parser.add_argument("--state-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    # Fork once and let the parent exit: the server is then nobody's child, so a
    # long-lived caller of start() is never left with a zombie to reap.
    pid = os.fork()
    if pid:
        print(pid, flush=True)
        os._exit(0)
    os.dup2(2, 1)  # start() reads the pid until stdout closes; the log takes the rest
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    return serve(args.state_dir)
