"""The bundle server: exact paths under its token, no link or directory, its own addresses, a proven identity,
a lifetime bound to its owners, and one server per cluster."""

import concurrent.futures
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve
from saltsphere.artifacts.errors import ArtifactError
from saltsphere.artifacts.serve import daemon, procs, state

KUBELET = b"kubelet bytes\n" * 100
DEB = "debs/debian-12/a+b~1_amd64.deb"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _servers_of(state_dir):
    """Pids of every bundle server process of ``state_dir``, whatever its record says."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and procs.cmdline(int(entry))[-2:] == ["--state-dir", str(state_dir)]:
            if procs.start_time(int(entry)) is not None:
                pids.append(int(entry))
    return pids


def _gone(pid, timeout=6.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if procs.start_time(pid) is None:
            return True
        time.sleep(0.1)
    return False


def _cleanup(state_dir):
    serve.stop(state_dir)
    for pid in _servers_of(state_dir):
        os.kill(pid, signal.SIGKILL)


def _make_bundle(directory):
    (directory / "bin").mkdir(parents=True)
    (directory / "debs" / "debian-12").mkdir(parents=True)
    (directory / "bin" / "kubelet").write_bytes(KUBELET)
    (directory / "secret.txt").write_text("not listed")
    (directory / "debs" / "debian-12" / "Packages").write_text("Package: a\n")
    (directory / "debs" / "debian-12" / "Release").write_text("unsigned\n")
    (directory / DEB).write_bytes(b"deb")
    for name in ("link", "dir", "fifo"):
        (directory / "bin" / name).write_text(name)
    (directory / "linked").mkdir()
    (directory / "linked" / "kubelet").write_bytes(KUBELET)
    paths = ["bin/kubelet", "debs/debian-12/Packages", "debs/debian-12/Release", DEB, "bin/link", "bin/dir",
             "bin/fifo", "linked/kubelet"]
    entries = [mf.entry_for(directory, p, name=p, version="v1", arch="amd64", kind="binary") for p in paths]
    # Listed in the manifest, but no longer regular files reached without a link:
    (directory / "bin" / "link").unlink()
    (directory / "bin" / "link").symlink_to("/etc/passwd")
    (directory / "bin" / "dir").unlink()
    (directory / "bin" / "dir").mkdir()
    (directory / "bin" / "fifo").unlink()
    os.mkfifo(directory / "bin" / "fifo")
    (directory / "linked" / "kubelet").unlink()
    (directory / "linked").rmdir()
    (directory / "linked").symlink_to("bin")
    mf.write_manifest(directory, entries, kube_version="v1", arch="amd64", distributions=["debian-12"])
    return directory


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One server for the request tests: (record, state dir)."""
    top = tmp_path_factory.mktemp("serve")
    bundle = _make_bundle(top / "bundle")
    (top / "Release").write_text("signed for this cluster\n")
    (top / "InRelease").symlink_to("/etc/passwd")
    overlay = {"debs/debian-12/Release": str(top / "Release"), "debs/debian-12/InRelease": str(top / "InRelease")}
    state_dir = top / "state"
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir, overlay=overlay)
    yield rec, state_dir
    _cleanup(state_dir)


@pytest.fixture
def state_dir(tmp_path):
    path = tmp_path / "state"
    yield path
    _cleanup(path)


@pytest.fixture
def bundle(tmp_path):
    directory = tmp_path / "bundle"
    (directory / "bin").mkdir(parents=True)
    (directory / "bin" / "kubelet").write_bytes(KUBELET)
    entry = mf.entry_for(directory, "bin/kubelet", name="kubelet", version="v1", arch="amd64", kind="binary")
    mf.write_manifest(directory, [entry], kube_version="v1", arch="amd64", distributions=["debian-12"])
    return directory


def _request(port, target, method="GET", address="127.0.0.1", headers=()):
    """(status, headers, body) of one request sent byte for byte as given."""
    with socket.create_connection((address, port), timeout=5) as connection:
        lines = [f"{method} {target} HTTP/1.1", "Host: taskbox", "Connection: close", *headers, "", ""]
        connection.sendall("\r\n".join(lines).encode("latin-1"))
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), fields, body


@pytest.mark.parametrize("target, content", [
    ("/{t}/bin/kubelet", KUBELET),
    ("/{t}/bin/%6Bubelet", KUBELET),
    ("/{t}/debs/debian-12/./Packages", b"Package: a\n"),
    ("/{t}/debs/debian-12/./a%2Bb%7E1_amd64.deb", b"deb"),
    ("/{t}/debs/debian-12/Release", b"signed for this cluster\n"),
])
def test_listed_and_overlay_files_are_sent(site, target, content):
    rec, _ = site
    status, headers, body = _request(rec["port"], target.format(t=rec["token"]))
    assert (status, body, headers["Content-Length"]) == (200, content, str(len(content)))


def test_the_manifest_itself_is_served(site):
    rec, _ = site
    status, _, body = _request(rec["port"], f"/{rec['token']}/manifest.json")
    assert status == 200 and json.loads(body)["kube_version"] == "v1"


def test_head_has_the_length_and_no_body(site):
    rec, _ = site
    status, headers, body = _request(rec["port"], f"/{rec['token']}/bin/kubelet", method="HEAD")
    assert (status, headers["Content-Length"], body) == (200, str(len(KUBELET)), b"")


def test_one_connection_carries_several_requests(site):
    rec, _ = site
    connection = http.client.HTTPConnection("127.0.0.1", rec["port"], timeout=5)
    try:
        for path in ("bin/kubelet", "nothing", "manifest.json"):
            connection.request("GET", f"/{rec['token']}/{path}")
            response = connection.getresponse()
            response.read()
            assert response.status == (404 if path == "nothing" else 200)
    finally:
        connection.close()


@pytest.mark.parametrize("target", [
    "/x#/../manifest.json",
    "/sub/#/../../manifest.json",
    "/{t}/x#/../manifest.json",
    "/{t}/sub/#/../../manifest.json",
    "/x/../{t}/manifest.json",
    "/{t}/bin/../manifest.json",
    "/{t}/bin/%2e%2e/manifest.json",
    "/{t}/bin/%2E%2E/%2E%2E/{t}/manifest.json",
    "/{t}/..",
    "/{t}//manifest.json",
    "/{t}/bin//kubelet",
    "//{t}/manifest.json",
    "/{t}/manifest.json?",
    "/{t}/bin/kubelet?x=1",
    "/{t}/manifest.json#",
    "/{t}/bin\\kubelet",
    "/{t}/bin%5Ckubelet",
    "/{t}/bin%2Fkubelet",
    "/{t}/manifest.json%00",
    "/{t}/./manifest.json/.",
    "/{t}/./bin/./kubelet",
    "/{t}/debs/./debian-12/Packages",
    "/{t}/debs/debian-12/%2e/Packages",
    "/{t}/debs/debian-12/Packages/.",
    "/{t}/secret.txt",
    "/{t}/bin/link",
    "/{t}/bin/dir",
    "/{t}/bin/fifo",
    "/{t}/linked/kubelet",
    "/{t}/debs/debian-12/InRelease",
    "/{t}/bin/",
    "/{t}/bin",
    "/{t}/",
    "/{t}",
    "/",
    "/manifest.json",
    "/bin/kubelet",
    "/{t}x/manifest.json",
    "/{short}/manifest.json",
    "/{T}/manifest.json",
    "http://127.0.0.1/{t}/manifest.json",
    "*",
])
def test_anything_but_an_exact_listed_path_under_the_token_is_not_found(site, target):
    rec, _ = site
    token = rec["token"]
    target = target.format(t=token, short=token[:-1], T=token.swapcase())
    status, _, body = _request(rec["port"], target)
    assert (status, body) == (404, b"404 Not Found\n")


def test_a_wrong_token_does_not_tell_whether_the_path_exists(site):
    rec, _ = site
    wrong = "A" * len(rec["token"])
    assert _request(rec["port"], f"/{wrong}/bin/kubelet")[::2] == _request(rec["port"], f"/{wrong}/nothing")[::2]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_only_get_and_head_are_answered(site, method):
    rec, _ = site
    assert _request(rec["port"], f"/{rec['token']}/bin/kubelet", method=method)[0] == 501


def test_urllib_fetches_under_the_base_url(site):
    rec, _ = site
    with urllib.request.urlopen(serve.base_url("127.0.0.1", rec["port"], rec["token"]) + "/bin/kubelet") as answer:
        assert answer.read() == KUBELET


def test_the_state_and_log_files_are_private_and_the_log_has_no_secret(site):
    rec, state_dir = site
    assert (state_dir / serve.STATE_FILE).stat().st_mode & 0o777 == 0o600
    assert (state_dir / state.LOG_FILE).stat().st_mode & 0o777 == 0o600
    secret = json.loads((state_dir / serve.STATE_FILE).read_text())["secret"]
    log = (state_dir / state.LOG_FILE).read_text()
    assert "serves" in log and rec["token"] not in log and secret not in log


def test_record_and_running_return_the_public_record(site):
    rec, state_dir = site
    assert serve.record(state_dir) == serve.running(state_dir) == rec
    assert sorted(rec) == ["addresses", "bundle_dir", "overlay", "pid", "port", "token"]


def test_a_rebuilt_manifest_is_served_without_a_restart(bundle, state_dir):
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir)
    (bundle / "bin" / "kubeadm").write_bytes(b"kubeadm")
    entries = [mf.entry_for(bundle, p, name=p, version="v1", arch="amd64", kind="binary")
               for p in ("bin/kubelet", "bin/kubeadm")]
    assert _request(rec["port"], f"/{rec['token']}/bin/kubeadm")[0] == 404
    mf.write_manifest(bundle, entries, kube_version="v1", arch="amd64", distributions=["debian-12"])
    assert _request(rec["port"], f"/{rec['token']}/bin/kubeadm")[::2] == (200, b"kubeadm")


def test_only_the_given_addresses_are_listened_on(bundle, state_dir):
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", rec["port"]), timeout=2).close()
    assert _request(rec["port"], f"/{rec['token']}/bin/kubelet")[0] == 200


def test_ipv6_addresses_are_served(bundle, state_dir):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    rec = serve.start(bundle, _free_port(), ["::1", "127.0.0.1"], state_dir)
    assert rec["addresses"] == ["::1", "127.0.0.1"] and serve.running(state_dir) == rec
    assert _request(rec["port"], f"/{rec['token']}/bin/kubelet", address="::1")[0] == 200
    assert serve.base_url("::1", 1, "T") == "http://[::1]:1/T"


@pytest.mark.parametrize("addresses", [["0.0.0.0"], ["::"], ["127.0.0.1", "0.0.0.0"], [], "127.0.0.1", ["taskbox"]])
def test_a_wildcard_or_a_name_is_refused(bundle, state_dir, addresses):
    with pytest.raises(ArtifactError, match="listen on"):
        serve.start(bundle, _free_port(), addresses, state_dir)
    assert serve.record(state_dir) is None


@pytest.mark.parametrize("listen_on", ["127.0.0.1", "0.0.0.0"])
def test_a_port_taken_by_another_program_names_it(bundle, state_dir, listen_on):
    port = _free_port()
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind((listen_on, port))
        other.listen()
        with pytest.raises(ArtifactError) as raised:
            serve.start(bundle, port, ["127.0.0.1"], state_dir)
    message = str(raised.value)
    assert f"port {port} on 127.0.0.1 is taken by " in message and f"pid {os.getpid()}" in message
    assert "set artifact_port in vars.yml to a free port (or stop that program)" in message
    assert serve.record(state_dir) is None and _servers_of(state_dir.absolute()) == []


def test_a_program_of_another_process_is_named_by_its_command(bundle, state_dir, tmp_path):
    port = _free_port()
    other = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while procs.port_holder("127.0.0.1", port)[0] != other.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(ArtifactError, match=f"taken by .*pid {other.pid}: .* -m http.server"):
            serve.start(bundle, port, ["127.0.0.1"], state_dir)
    finally:
        other.kill()
        other.wait()


class _Impostor(http.server.ThreadingHTTPServer):
    """Answers every request as a bundle server would look from outside, without the secret."""

    def __init__(self, address, port, answer):
        impostor = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):
                self.send_response(204)
                self.send_header(state.PROOF_HEADER, answer(self.headers.get(state.CHALLENGE_HEADER, "")))
                self.send_header("Server", "saltsphere-bundle")
                self.end_headers()

            do_GET = do_HEAD

            def log_message(self, *args):
                pass

        super().__init__((address, port), Handler)
        threading.Thread(target=impostor.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()


def test_an_impostor_on_the_port_is_not_trusted(bundle, state_dir):
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir)
    saved = (state_dir / serve.STATE_FILE).read_text()
    serve.stop(state_dir)
    impostor = _Impostor("127.0.0.1", rec["port"], lambda nonce: nonce or "0" * 64)
    try:
        (state_dir / serve.STATE_FILE).write_text(saved)
        assert serve.record(state_dir) == rec  # the record alone is what it says
        assert serve.running(state_dir) is None
        with pytest.raises(ArtifactError, match=f"taken by .*pid {os.getpid()}"):
            serve.start(bundle, rec["port"], ["127.0.0.1"], state_dir)
    finally:
        impostor.close()


def test_a_proof_relayed_from_the_genuine_server_at_another_address_is_not_trusted(bundle, state_dir):
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir)
    config = json.loads((state_dir / serve.STATE_FILE).read_text())

    def relay(nonce):
        connection = http.client.HTTPConnection("127.0.0.1", rec["port"], timeout=5)
        connection.request("HEAD", f"/{rec['token']}", headers={state.CHALLENGE_HEADER: nonce})
        return connection.getresponse().getheader(state.PROOF_HEADER, "")

    impostor = _Impostor("127.0.0.2", rec["port"], relay)
    try:
        assert serve.running(state_dir) == rec
        state.write(state_dir, dict(config, addresses=["127.0.0.2"]))
        assert serve.running(state_dir) is None
    finally:
        impostor.close()
        state.write(state_dir, config)


def test_a_running_server_is_reused_with_its_token(bundle, state_dir):
    first = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir)
    again = serve.start(bundle, first["port"], ["127.0.0.1"], state_dir)
    assert again == first


@pytest.mark.parametrize("change", ["port", "addresses", "overlay", "bundle_dir"])
def test_a_server_serving_something_else_is_replaced_with_a_new_token(bundle, state_dir, tmp_path, change):
    port = _free_port()
    first = serve.start(bundle, port, ["127.0.0.1"], state_dir)
    (tmp_path / "Release").write_text("signed")
    other = tmp_path / "other"
    other.mkdir()
    (other / mf.MANIFEST_NAME).write_text((bundle / mf.MANIFEST_NAME).read_text())
    arguments = {"bundle_dir": bundle, "port": port, "addresses": ["127.0.0.1"], "overlay": None}
    arguments[change] = {"port": _free_port(), "addresses": ["127.0.0.1", "127.0.0.2"],
                         "overlay": {"Release": str(tmp_path / "Release")}, "bundle_dir": other}[change]
    second = serve.start(state_dir=state_dir, **arguments)
    assert second["token"] != first["token"] and second["pid"] != first["pid"]
    assert _gone(first["pid"], timeout=1) and serve.running(state_dir) == second
    assert _servers_of(state_dir.absolute()) == [second["pid"]]


def test_stop_ends_the_server_and_its_record(bundle, state_dir):
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir)
    assert serve.stop(state_dir) is True
    assert _gone(rec["pid"], timeout=1) and serve.record(state_dir) is None
    assert serve.stop(state_dir) is False
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", rec["port"]), timeout=2).close()


def test_stop_never_signals_a_pid_that_is_no_longer_the_server(bundle, state_dir):
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir)
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        config = json.loads((state_dir / serve.STATE_FILE).read_text())
        state.write(state_dir, dict(config, pid=bystander.pid, started=procs.start_time(bystander.pid)))
        assert serve.stop(state_dir) is False and bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
    assert _gone(rec["pid"]), "the server exits by itself once its record is gone"


def test_the_server_exits_when_its_owners_have_exited(bundle, state_dir):
    first, second = subprocess.Popen(["sleep", "60"]), subprocess.Popen(["sleep", "60"])
    try:
        rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir, owner_pid=first.pid)
        assert serve.start(bundle, rec["port"], ["127.0.0.1"], state_dir, owner_pid=second.pid) == rec
        first.kill()  # left a zombie on purpose: an exited process is not an owner, reaped or not
        time.sleep(2.5)
        assert serve.running(state_dir) == rec
        second.kill()
        assert _gone(rec["pid"])
        assert serve.record(state_dir) is None
    finally:
        for owner in (first, second):
            owner.kill()
            owner.wait()


def test_an_owner_that_is_not_running_is_refused(bundle, state_dir):
    gone = subprocess.Popen(["true"])
    gone.wait()
    with pytest.raises(ArtifactError, match=f"process {gone.pid}, is not running"):
        serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir, owner_pid=gone.pid)


def test_without_owner_the_server_exits_when_idle(bundle, state_dir):
    rec = serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir, idle_seconds=2)
    assert _gone(rec["pid"], timeout=8)
    assert serve.record(state_dir) is None
    assert "no request for 2 s" in (state_dir / state.LOG_FILE).read_text()


ME = {"pid": os.getpid(), "start": procs.start_time(os.getpid())}
REUSED_PID = dict(ME, start=ME["start"] + 1)


@pytest.mark.parametrize("owners, idle_from, last_request, now, expected", [
    ([ME], None, 0, 5000, None),
    ([REUSED_PID], None, 0, 5000, "every owner has exited"),
    ([REUSED_PID, ME], None, 0, 5000, None),
    ([REUSED_PID], 1000, 1050, 1100, None),  # an ownerless start() asked for the idle clock too
    ([REUSED_PID], 1000, 0, 1100, "no request for 100 s"),
    ([], 1000, 0, 1099, None),
    ([], 1000, 1050, 1149, None),
    ([], 1000, 1050, 1150, "no request for 100 s"),
])
def test_exit_reason(owners, idle_from, last_request, now, expected):
    config = {"owners": owners, "idle_from": idle_from, "idle_seconds": 100}
    assert daemon.exit_reason(config, last_request, now) == expected


def test_concurrent_starts_make_one_server(bundle, state_dir):
    port = _free_port()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        records = list(pool.map(lambda _: serve.start(bundle, port, ["127.0.0.1"], state_dir), range(4)))
    assert all(rec == records[0] for rec in records)
    assert _servers_of(state_dir.absolute()) == [records[0]["pid"]]


def test_a_directory_without_manifest_is_refused(tmp_path, state_dir):
    with pytest.raises(ArtifactError, match="not a bundle"):
        serve.start(tmp_path, _free_port(), ["127.0.0.1"], state_dir)


@pytest.mark.parametrize("overlay", [{"../Release": "/tmp/Release"}, {"a//b": "/tmp/b"}, {"Release": "Release"}])
def test_an_overlay_outside_the_bundle_or_relative_is_refused(bundle, state_dir, overlay):
    with pytest.raises(ArtifactError, match="overlay"):
        serve.start(bundle, _free_port(), ["127.0.0.1"], state_dir, overlay=overlay)


def test_the_route_source_towards_loopback_is_loopback():
    assert serve.source_address_for("127.0.0.1") == "127.0.0.1"


def test_a_port_released_while_it_is_looked_at_is_waited_for(bundle, state_dir, monkeypatch):
    # An earlier server that is exiting holds its socket a moment after no process names it any more.
    port = _free_port()
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.bind(("127.0.0.1", port))
    other.listen()
    monkeypatch.setattr(procs, "port_holder", lambda address, port: (None, "another program"))
    closer = threading.Timer(0.5, other.close)
    closer.start()
    try:
        rec = serve.start(bundle, port, ["127.0.0.1"], state_dir)
    finally:
        closer.join()
        other.close()
    try:
        assert rec["port"] == port and serve.running(state_dir) == rec
    finally:
        serve.stop(state_dir)


def test_a_port_no_process_gives_back_is_called_taken(bundle, state_dir, monkeypatch):
    port = _free_port()
    monkeypatch.setattr(serve, "STOP_TIMEOUT", 0.3)
    monkeypatch.setattr(procs, "port_holder", lambda address, port: (None, "another program"))
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        with pytest.raises(ArtifactError, match=f"port {port} on 127.0.0.1 is taken by another program"):
            serve.start(bundle, port, ["127.0.0.1"], state_dir)
    assert serve.record(state_dir) is None
