"""saltsphere_packages against this machine's real apt and dpkg, from a signed flat repository on loopback.

A one-file package is built with dpkg-deb, indexed and signed by the
taskbox's own code (debs.packages_index, aptrepo.ensure_signed), and served
behind a token path as the bundle server serves it.  Every test leaves the
machine as it found it: the package purged, nothing added under /etc/apt or
to apt's lists, no temporary directory and no URL left behind.
"""

import gzip
import hashlib
import http.server
import os
import posixpath
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from pathlib import Path

import pytest

from saltsphere.artifacts import aptrepo, debs
from saltsphere.artifacts import manifest as mf

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="installs a package with apt and dpkg, which needs root"),
    pytest.mark.skipif(not shutil.which("apt-get") or not shutil.which("dpkg-deb"), reason="needs apt and dpkg"),
]

PACKAGE = "saltsphere-functional-probe"
VERSION = "1.0"
REPO = "debs/debian-12"
DEB = f"{REPO}/{PACKAGE}_{VERSION}_all.deb"
TOKEN = "run-token-7f3a9c"


def _build_deb(directory: Path) -> Path:
    root = directory / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share/doc" / PACKAGE).mkdir(parents=True)
    (root / "usr/share/doc" / PACKAGE / "README").write_text("installed by saltsphere's functional tests\n")
    (root / "DEBIAN/control").write_text(
        f"Package: {PACKAGE}\nVersion: {VERSION}\nArchitecture: all\nMaintainer: saltsphere <root@localhost>\n"
        "Description: a package that installs one text file\n")
    out = directory / Path(DEB).name
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(out)], check=True,
                   capture_output=True, timeout=60)
    return out


class Server:
    """The bundle behind /<token>/, the signed overlay in place of the bundle's files; ``tamper`` replaces bytes."""

    def __init__(self, bundle, overlay):
        self.tamper, self.requests = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                relative = posixpath.normpath(urllib.parse.unquote(self.path)).lstrip("/")
                server.requests.append(relative)
                prefix, _, relative = relative.partition("/")
                path = Path(overlay.get(relative, bundle / relative))
                if prefix != TOKEN or not path.is_file():
                    self.send_error(404)
                    return
                data = server.tamper.get(relative, path.read_bytes())
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{TOKEN}/{REPO}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    directory = tmp_path_factory.mktemp("aptrepo")
    bundle = directory / "bundle"
    (bundle / REPO).mkdir(parents=True)
    deb = _build_deb(directory)
    shutil.copy(deb, bundle / DEB)
    data = deb.read_bytes()
    record = {"Package": PACKAGE, "Version": VERSION, "Architecture": "all",
              "Maintainer": "saltsphere <root@localhost>",
              "Filename": f"pool/{deb.name}", "Size": str(len(data)), "SHA256": hashlib.sha256(data).hexdigest(),
              "Description": "a package that installs one text file"}
    index = debs.packages_index([record]).encode()
    (bundle / REPO / "Packages").write_bytes(index)
    (bundle / REPO / "Packages.gz").write_bytes(gzip.compress(index, mtime=0))
    entries = [mf.entry_for(bundle, f"{REPO}/{name}", name=name, version="debian-12", arch="all", kind="deb")
               for name in ("Packages", "Packages.gz", Path(DEB).name)]
    mf.write_manifest(bundle, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])
    signed = aptrepo.ensure_signed(directory / "state", bundle, mf.read_manifest(bundle))
    other = aptrepo.ensure_signed(directory / "other-cluster", bundle, mf.read_manifest(bundle))
    server = Server(bundle, signed["overlay"])
    yield {"server": server, "keyring": signed["keyring"], "other_keyring": other["keyring"], "index": index,
           "deb": data, "overlay": signed["overlay"]}
    server.close()


def _installed():
    done = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", PACKAGE], capture_output=True, text=True)
    return done.stdout == "installed"


def _snapshot():
    listed = {}
    for top in ("/etc/apt", "/var/lib/apt/lists"):
        for dirpath, _, files in os.walk(top):
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                listed[os.path.join(dirpath, name)] = (st.st_size, st.st_mtime_ns)
    return listed


def _leftovers():
    return sorted(name for name in os.listdir(tempfile.gettempdir()) if name.startswith("saltsphere-apt."))


@pytest.fixture
def clean_machine(repo):
    assert not _installed(), f"{PACKAGE} is installed before the test: purge it"
    before, leftovers = _snapshot(), _leftovers()
    logs = {path: os.path.getsize(path) for path in ("/var/log/apt/history.log", "/var/log/apt/term.log")
            if os.path.exists(path)}
    repo["server"].tamper.clear()
    repo["server"].requests.clear()
    yield
    subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True, timeout=120)
    assert not _installed()
    assert _snapshot() == before, "the test changed /etc/apt or apt's package lists"
    assert _leftovers() == leftovers, "an install left its temporary apt configuration"
    for path, size in logs.items():
        with open(path, "rb") as handle:
            handle.seek(size)
            assert TOKEN.encode() not in handle.read(), f"the repository's URL reached {path}"


def _install(master_loaders, repo, keyring=None, **kwargs):
    source = {"url": repo["server"].url, "keyring": keyring or repo["keyring"]}
    return master_loaders.states.saltsphere_packages.installed(name="probe", pkgs=[PACKAGE], source=source, **kwargs)


def test_installs_from_the_signed_repository_then_does_nothing(master_loaders, repo, clean_machine):
    ret = _install(master_loaders, repo, test=True)
    assert ret.result is None and ret.changes == {"installed": [PACKAGE]}
    assert repo["server"].requests == [] and not _installed()

    ret = _install(master_loaders, repo)
    assert ret.result is True, ret.comment
    assert ret.changes == {"installed": {PACKAGE: VERSION}}
    assert _installed()
    assert f"{TOKEN}/{REPO}/InRelease" in repo["server"].requests

    repo["server"].requests.clear()
    for test in (False, True):
        ret = _install(master_loaders, repo, test=test)
        assert ret.result is True and ret.changes == {}, ret.comment
    assert repo["server"].requests == [], "an installed package must cost no apt call"


def _fails(master_loaders, repo, keyring=None):
    ret = _install(master_loaders, repo, keyring=keyring)
    assert ret.result is False and ret.changes == {}
    assert not _installed(), "a package that failed apt's checks was installed"
    assert TOKEN not in ret.comment, "the comment shows the run's token"
    return ret.comment


def test_a_tampered_package_index_is_named(master_loaders, repo, clean_machine):
    tampered = repo["index"].replace(b"Description: a package", b"Description: another package")
    repo["server"].tamper.update({f"{REPO}/Packages": tampered, f"{REPO}/Packages.gz": gzip.compress(tampered)})
    comment = _fails(master_loaders, repo)
    assert f"package index {REPO}/Packages" in comment and "saltsphere artifact verify" in comment
    assert "Hash Sum mismatch" in comment or "unexpected size" in comment


@pytest.mark.parametrize("how", ["tampered", "other-key"])
def test_an_index_not_signed_by_the_clusters_key_is_named(master_loaders, repo, clean_machine, how):
    keyring = None
    if how == "tampered":
        signed = Path(repo["overlay"][f"{REPO}/InRelease"]).read_bytes()
        repo["server"].tamper[f"{REPO}/InRelease"] = signed.replace(b"Label: saltsphere", b"Label: saltspherX")
    else:
        keyring = repo["other_keyring"]
    comment = _fails(master_loaders, repo, keyring)
    assert f"signed index {REPO}/InRelease does not verify with this cluster's key" in comment
    assert ("BADSIG" if how == "tampered" else "NO_PUBKEY") in comment


def test_a_tampered_package_file_is_named_and_nothing_installed(master_loaders, repo, clean_machine):
    repo["server"].tamper[DEB] = repo["deb"][:-4] + b"XXXX"
    comment = _fails(master_loaders, repo)
    assert f"package file {DEB} does not match" in comment and "nothing was installed" in comment
