"""aptrepo: the cluster's package signing key and the bundle's repositories signed with it (real gpg)."""

import base64
import gzip
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from saltsphere.artifacts import aptrepo
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError

pytestmark = pytest.mark.skipif(not shutil.which("gpg") or not shutil.which("gpgv"),
                                reason="needs gnupg (tools/setup installs it)")

INDEX = b"Package: socat\nVersion: 1.7.4.4-2\nArchitecture: amd64\nFilename: ./socat_1.7.4.4-2_amd64.deb\n"


def _bundle(directory: Path, index=INDEX):
    repo = directory / "debs" / "debian-12"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "Packages").write_bytes(index)
    (repo / "Packages.gz").write_bytes(gzip.compress(index, mtime=0))
    (repo / "Release").write_text("unsigned, left as the build wrote it\n")
    entries = [mf.entry_for(directory, f"debs/debian-12/{name}", name="Packages", version="debian-12", arch="amd64",
                            kind="deb") for name in ("Packages", "Packages.gz", "Release")]
    mf.write_manifest(directory, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])
    return mf.read_manifest(directory)


@pytest.fixture
def bundle(tmp_path):
    directory = tmp_path / "bundle"
    return directory, _bundle(directory)


@pytest.fixture
def state_dir(tmp_path):
    # Deeper than a socket path may be: gpg-agent must still work.
    return tmp_path / ("cluster-" + "x" * 90) / ".saltsphere"


def _agents():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if b"gpg-agent" in cmdline and b"saltsphere-gpg." in cmdline:
            found.append(cmdline)
    return found


def test_signs_every_repository_with_a_key_made_once(bundle, state_dir):
    directory, manifest = bundle
    assert aptrepo.public_keyring(state_dir) is None and not state_dir.exists(), "reading must create nothing"

    signed = aptrepo.ensure_signed(state_dir, directory, manifest)

    apt_dir = state_dir / "apt"
    assert set(signed["overlay"]) == {f"debs/debian-12/{name}" for name in ("InRelease", "Release", "Release.gpg")}
    assert all(Path(path).is_absolute() and Path(path).is_relative_to(apt_dir / "repo")
               for path in signed["overlay"].values())
    assert len(signed["fingerprint"]) == 40 and int(signed["fingerprint"], 16)
    assert signed["keyring"] == aptrepo.public_keyring(state_dir)
    assert (apt_dir.stat().st_mode & 0o777) == 0o700
    private = list((apt_dir / "gnupg" / "private-keys-v1.d").iterdir())
    assert private and all((path.stat().st_mode & 0o777) == 0o600 for path in private)

    release = Path(signed["overlay"]["debs/debian-12/Release"]).read_text()
    assert "Packages.gz" in release and f" {len(INDEX)} Packages\n" in release
    assert mf.sha256_of(directory / "debs/debian-12/Packages") in release
    assert "Release\n" not in release.split("SHA256:")[1], "the bundle's unsigned Release is not an index"
    keyring = state_dir.parent / "keyring.gpg"
    keyring.write_bytes(base64.b64decode(signed["keyring"]))
    clear = subprocess.run(["gpgv", "--keyring", str(keyring), "--output", "-",
                            signed["overlay"]["debs/debian-12/InRelease"]], capture_output=True, check=True)
    assert clear.stdout.decode() == release
    subprocess.run(["gpgv", "--keyring", str(keyring), signed["overlay"]["debs/debian-12/Release.gpg"],
                    signed["overlay"]["debs/debian-12/Release"]], capture_output=True, check=True)
    assert _agents() == [], "gpg-agent was left running"
    assert not [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("saltsphere-gpg.")]


def test_unchanged_indexes_leave_every_file_as_it_was(bundle, state_dir):
    directory, manifest = bundle
    first = aptrepo.ensure_signed(state_dir, directory, manifest)
    before = {path: Path(path).read_bytes() for path in first["overlay"].values()}
    again = aptrepo.ensure_signed(state_dir, directory, manifest)
    assert again == first
    assert {path: Path(path).read_bytes() for path in again["overlay"].values()} == before


def test_a_changed_index_is_signed_again_with_the_same_key(bundle, state_dir):
    directory, manifest = bundle
    first = aptrepo.ensure_signed(state_dir, directory, manifest)
    old = Path(first["overlay"]["debs/debian-12/InRelease"]).read_bytes()
    second = aptrepo.ensure_signed(state_dir, directory, _bundle(directory, INDEX + b"Priority: optional\n"))
    assert second["fingerprint"] == first["fingerprint"] and second["keyring"] == first["keyring"]
    assert Path(second["overlay"]["debs/debian-12/InRelease"]).read_bytes() != old
    assert mf.sha256_of(directory / "debs/debian-12/Packages") in Path(
        second["overlay"]["debs/debian-12/Release"]).read_text()


def test_an_index_that_is_not_the_manifests_is_never_signed(bundle, state_dir):
    directory, manifest = bundle
    (directory / "debs/debian-12/Packages.gz").write_bytes(b"tampered")
    with pytest.raises(ArtifactError) as raised:
        aptrepo.ensure_signed(state_dir, directory, manifest)
    message = str(raised.value)
    assert str(directory / "debs/debian-12/Packages.gz") in message and "saltsphere artifact verify" in message
    assert not (state_dir / "apt" / "repo").exists()


def test_signatures_by_another_key_are_replaced(bundle, state_dir, tmp_path):
    directory, manifest = bundle
    other = aptrepo.ensure_signed(tmp_path / "other", directory, manifest)
    ours = aptrepo.ensure_signed(state_dir, directory, manifest)
    for name in ("InRelease", "Release.gpg", "Release"):
        shutil.copy(other["overlay"][f"debs/debian-12/{name}"], ours["overlay"][f"debs/debian-12/{name}"])
    again = aptrepo.ensure_signed(state_dir, directory, manifest)
    keyring = tmp_path / "ours.gpg"
    keyring.write_bytes(base64.b64decode(again["keyring"]))
    subprocess.run(["gpgv", "--keyring", str(keyring), again["overlay"]["debs/debian-12/InRelease"]],
                   capture_output=True, check=True)
