"""The bundle's apt repositories, signed with a key of the cluster's own.

The bundle is built once and may serve many clusters; what a host's apt trusts
must come from its own cluster.  So every cluster has an OpenPGP signing key,
made on the taskbox the first time it is needed and kept in the cluster's state
directory (``<state_dir>/apt``, mode 0700; the key has no passphrase: that
directory is its protection).  For every flat repository ``debs/<dist>/`` of the
bundle the taskbox writes a ``Release`` listing the indexes the manifest vouches
for, signed as ``InRelease`` and ``Release.gpg``, under ``<state_dir>/apt/repo/``.
The bundle server serves those files in place of the bundle's own unsigned
``Release``; hosts get the public key through pillar and accept nothing else
signed, so whoever answers on the taskbox's address cannot feed them packages.
"""

import base64
import contextlib
import email.utils
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from saltsphere.artifacts import debs
from saltsphere.artifacts.errors import ArtifactError

APT_DIR = "apt"
GNUPG_DIR = "gnupg"
REPO_DIR = "repo"
KEYRING = "keyring.gpg"
LOCK = ".lock"
INRELEASE = "InRelease"
RELEASE_GPG = "Release.gpg"
INDEXES = (debs.PACKAGES_INDEX, debs.PACKAGES_GZ)
KEY_UID = "saltsphere cluster package signing key"
# ed25519: small and fast, and bookworm's gpgv (2.2) verifies it.
KEY_ALGO = "ed25519"
DIGEST = "SHA512"
# Making a key or a signature takes well under a second; a stuck gpg-agent
# (a full disk, a broken socket) must not hang the prepare step.
TIMEOUT = 120


def public_keyring(state_dir) -> str | None:
    """base64 of the binary public key if the key exists; reads only (no key is made)."""
    try:
        data = (Path(state_dir) / APT_DIR / KEYRING).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ArtifactError(f"cannot read the cluster's package signing key {exc.filename} ({exc.strerror})") from None
    return base64.b64encode(data).decode("ascii") if data else None


def ensure_signed(state_dir, bundle_dir, manifest) -> dict:
    """A per-cluster OpenPGP signing key, made once under state_dir/'apt' (dir 0700, private material 0600),
    and for every flat repository debs/<dist>/ of the bundle a Release listing its index files (Packages,
    Packages.gz) with sizes and SHA256 -- each index first checked against the manifest's sha256, ArtifactError
    naming the file and `saltsphere artifact verify` if it differs -- signed as InRelease (clearsigned) and
    Release.gpg, written under state_dir/'apt'/'repo'/<same relative path>.  Idempotent: unchanged indexes leave
    the files byte-identical (keep the previous Date).  Returns {"keyring": <base64 of the binary public key>,
    "fingerprint": <hex>, "overlay": {"debs/debian-12/InRelease": "/abs/path", "debs/debian-12/Release": ...,
    "debs/debian-12/Release.gpg": ...}}."""
    apt_dir = Path(state_dir).resolve() / APT_DIR
    _private_dir(apt_dir)
    repositories = {repo: _checked_indexes(Path(bundle_dir), repo, entries)
                    for repo, entries in _repositories(manifest).items()}
    with _locked(apt_dir / LOCK), _gnupg(apt_dir / GNUPG_DIR) as gpg:
        fingerprint = _ensure_key(gpg)
        keyring = apt_dir / KEYRING
        _write(keyring, gpg.run("--export", fingerprint, step="exporting the public key").stdout, 0o644)
        overlay = {}
        for repo, files in repositories.items():
            overlay.update(_sign(gpg, fingerprint, keyring, apt_dir / REPO_DIR / repo, repo, files))
    return {"keyring": public_keyring(state_dir), "fingerprint": fingerprint, "overlay": overlay}


def pending(state_dir, bundle_dir, manifest) -> list:
    """The files :func:`ensure_signed` would write (paths), writing nothing.

    Raises :class:`ArtifactError` where it would (an index that is not the
    manifest's).  The signatures are checked with ``gpgv`` and a scratch home
    directory, so the cluster's own gpg home is not touched.
    """
    apt_dir = Path(state_dir).resolve() / APT_DIR
    repositories = {repo: _checked_indexes(Path(bundle_dir), repo, entries)
                    for repo, entries in _repositories(manifest).items()}
    keyring = apt_dir / KEYRING
    has_key = keyring.is_file() and any((apt_dir / GNUPG_DIR / "private-keys-v1.d").glob("*.key"))
    made = [] if has_key else [apt_dir / GNUPG_DIR, keyring]
    with tempfile.TemporaryDirectory(prefix="saltsphere-gpgv.") as scratch:
        gpg = _Gpg(scratch)
        for repo, files in repositories.items():
            out_dir = apt_dir / REPO_DIR / repo
            release, inrelease, detached = out_dir / debs.RELEASE, out_dir / INRELEASE, out_dir / RELEASE_GPG
            previous = release.read_text(encoding="utf-8") if release.is_file() else None
            text = debs.release_text(files, email.utils.formatdate(usegmt=True), previous)
            if not has_key or text != previous or not _signs(gpg, keyring, text, inrelease, detached, release):
                made += [release, inrelease, detached]
    return made


# --- the bundle's indexes ----------------------------------------------------------------------------------

def _repositories(manifest) -> dict[str, dict]:
    """The manifest's index entries by repository directory (``debs/<dist>``), by file name."""
    found = {}
    for entry in manifest.files:
        path = PurePosixPath(entry.path)
        if len(path.parts) == 3 and path.parts[0] == debs.REPO_DIR and path.name in INDEXES:
            found.setdefault(str(path.parent), {})[path.name] = entry
    return dict(sorted(found.items()))


def _checked_indexes(bundle_dir, repo, entries) -> dict[str, bytes]:
    files = {}
    for name, entry in sorted(entries.items()):
        path = bundle_dir / entry.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read the bundle's package index ({exc.strerror}); run "
                                f"`saltsphere artifact verify {bundle_dir}`") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise ArtifactError(f"{path}: sha256 {digest} is not the manifest's {entry.sha256}, so it is not signed "
                                f"for the hosts; run `saltsphere artifact verify {bundle_dir}` and rebuild or "
                                "restore the bundle")
        files[name] = data
    return files


def _sign(gpg, fingerprint, keyring, out_dir, repo, files) -> dict[str, str]:
    out_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    release = out_dir / debs.RELEASE
    inrelease, detached = out_dir / INRELEASE, out_dir / RELEASE_GPG
    previous = release.read_text(encoding="utf-8") if release.is_file() else None
    text = debs.release_text(files, email.utils.formatdate(usegmt=True), previous)
    # A signature carries its own time: signing again would change the bytes.
    if text != previous or not _signs(gpg, keyring, text, inrelease, detached, release):
        _write(release, text.encode(), 0o644)
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".sign.") as scratch:
            for target, mode in ((inrelease, "--clearsign"), (detached, "--detach-sign")):
                signed = Path(scratch) / target.name
                gpg.run("--local-user", f"{fingerprint}!", "--digest-algo", DIGEST, "--armor", mode,
                        "--output", str(signed), str(release), step=f"signing {repo}/{debs.RELEASE}")
                _write(target, signed.read_bytes(), 0o644)
    return {f"{repo}/{path.name}": str(path) for path in (inrelease, release, detached)}


def _signs(gpg, keyring, text, inrelease, detached, release) -> bool:
    """Whether the existing signatures are by the key in ``keyring`` and over exactly ``text``."""
    if not (inrelease.is_file() and detached.is_file()):
        return False
    clear = gpg.verify(keyring, "--output", "-", str(inrelease))
    return (clear is not None and clear.stdout.decode("utf-8", "replace").rstrip("\n") == text.rstrip("\n")
            and gpg.verify(keyring, str(detached), str(release)) is not None)


# --- gpg ---------------------------------------------------------------------------------------------------

class _Gpg:
    def __init__(self, home):
        self.home = home

    def run(self, *args, step=None) -> subprocess.CompletedProcess:
        argv = ("gpg", "--homedir", self.home, "--batch", "--no-tty", "--yes", "--pinentry-mode", "loopback",
                "--passphrase", "", *args)
        done = _call(argv)
        if done.returncode != 0:
            raise ArtifactError(f"{step or 'gpg ' + args[0]} failed (exit {done.returncode}): "
                                f"{_tail(done.stderr)}; the key is kept in {self.home}")
        return done

    def verify(self, keyring, *args) -> subprocess.CompletedProcess | None:
        done = _call(("gpgv", "--homedir", self.home, "--keyring", str(keyring), *args))
        return done if done.returncode == 0 else None


def _call(argv) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, check=False)
    except FileNotFoundError:
        raise ArtifactError(f"{argv[0]} is not installed on the taskbox: install Debian's gnupg package "
                            "(tools/setup does)") from None
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"{' '.join(argv[:1] + argv[-2:])} did not finish within {TIMEOUT} s; is "
                            "gpg-agent stuck? run `gpgconf --kill all` for that home directory and try again") from None


def _tail(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return " | ".join(lines[-4:]) or "no output"


@contextlib.contextmanager
def _gnupg(home: Path):
    """A gpg home directory for the body, with no gpg-agent left running after it.

    gpg-agent listens on a socket in the home directory, and a socket's path
    may hold only some 100 bytes: a cluster directory deep in the file system
    would make signing fail.  The body sees the home through a short symbolic
    link instead.
    """
    _private_dir(home)
    short = tempfile.mkdtemp(prefix="saltsphere-gpg.")
    link = os.path.join(short, "h")
    os.symlink(home, link)
    try:
        yield _Gpg(link)
    finally:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(("gpgconf", "--homedir", link, "--kill", "all"), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT, check=False)
        shutil.rmtree(short, ignore_errors=True)


def _ensure_key(gpg) -> str:
    fingerprint = _secret_fingerprint(gpg)
    if fingerprint is None:
        gpg.run("--quick-generate-key", KEY_UID, KEY_ALGO, "sign", "never", step="making the cluster's package "
                "signing key")
        fingerprint = _secret_fingerprint(gpg)
        if fingerprint is None:
            raise ArtifactError(f"gpg made no signing key in {gpg.home}; see `gpg --homedir {gpg.home} -K`")
    return fingerprint


def _secret_fingerprint(gpg) -> str | None:
    listing = gpg.run("--with-colons", "--list-secret-keys", step="listing the cluster's package signing key")
    records = [line.split(":") for line in listing.stdout.decode("utf-8", "replace").splitlines()]
    for index, fields in enumerate(records):
        if fields[0] == "sec":
            # The primary key's fingerprint is the record right after it.
            following = records[index + 1] if index + 1 < len(records) else []
            if following and following[0] == "fpr":
                return following[9]
    return None


# --- files -------------------------------------------------------------------------------------------------

def _private_dir(path: Path):
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise ArtifactError(f"cannot create {path} ({exc.strerror}); the cluster's state directory must be "
                            "writable by the user running saltsphere") from None


@contextlib.contextmanager
def _locked(path: Path):
    # Two prepare steps at once would each make a key: the second waits for the first.
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write(path: Path, data: bytes, mode: int):
    if path.is_file() and path.read_bytes() == data and (path.stat().st_mode & 0o777) == mode:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
