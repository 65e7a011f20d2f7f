"""`artifact export` and `artifact import`: a bundle as one file, unpacked only when it checks out."""

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from saltsphere import cli
from saltsphere.artifacts import ArtifactError, entry_for, read_manifest, verify, write_manifest
from saltsphere.artifacts import bundlefile

FILES = {
    "bin/kubeadm": b"kubeadm-binary",
    "bin/kubelet": b"kubelet-binary",
    "images/pause.tar": b"pause-archive",
}


def make_bundle(root: Path, files=FILES):
    entries = []
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if relative.startswith("bin/"):
            path.chmod(0o755)
        kind = "image" if relative.startswith("images/") else "binary"
        entries.append(entry_for(root, relative, name=Path(relative).name, version="v1.20.2", arch="amd64", kind=kind))
    return write_manifest(root, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"],
                          created="2026-12-07T00:00:00+00:00")


@pytest.fixture
def bundle(tmp_path):
    root = tmp_path / "bundle"
    make_bundle(root)
    return root


def exported(bundle, tmp_path) -> Path:
    out = tmp_path / "export" / "bundle.tar"
    bundlefile.export_bundle(bundle, out)
    return out


def rewrite(archive: Path, change):
    """Rewrite ``archive`` member by member through ``change(info, data) -> [(info, data)]``, dropping its checksum."""
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isreg() else b"") for m in tar.getmembers()]
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            for new_info, new_data in change(info, data):
                new_info.size = len(new_data) if new_info.isreg() else 0
                tar.addfile(new_info, io.BytesIO(new_data) if new_info.isreg() else None)
    archive.with_name(archive.name + ".sha256").unlink(missing_ok=True)


def run(*argv):
    return cli.main(list(argv))


# --- export ----------------------------------------------------------------------------------------------------

def test_export_holds_the_manifest_and_every_listed_file_and_nothing_else(bundle, tmp_path):
    (bundle / "notes.txt").write_text("not in the manifest")
    out = exported(bundle, tmp_path)
    with tarfile.open(out) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["manifest.json", "bin/kubeadm", "bin/kubelet", "images/pause.tar"]
        assert all(m.isreg() and m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
        assert tar.extractfile("bin/kubelet").read() == b"kubelet-binary"
        assert tar.getmember("bin/kubelet").mode == 0o755
        assert tar.getmember("images/pause.tar").mode == 0o644


def test_export_is_reproducible_and_writes_its_checksum(bundle, tmp_path):
    first = exported(bundle, tmp_path)
    data = first.read_bytes()
    os.utime(bundle / "bin/kubeadm", (1, 1))
    second = tmp_path / "again.tar"
    result = bundlefile.export_bundle(bundle, second)
    assert second.read_bytes() == data
    assert result.sha256 == hashlib.sha256(data).hexdigest() and result.size == len(data)
    assert (tmp_path / "again.tar.sha256").read_text() == f"{result.sha256}  again.tar\n"
    assert not [p for p in second.parent.iterdir() if p.name.endswith(".tmp")]


def test_export_refuses_a_file_that_differs_from_the_manifest(bundle, tmp_path):
    (bundle / "bin/kubeadm").write_bytes(b"kubeadm-binarX")
    with pytest.raises(ArtifactError, match="bin/kubeadm: sha256 is .* the manifest says"):
        exported(bundle, tmp_path)
    assert not list((tmp_path / "export").iterdir())


def test_export_refuses_a_truncated_file(bundle, tmp_path):
    (bundle / "bin/kubeadm").write_bytes(b"kube")
    with pytest.raises(ArtifactError, match="bin/kubeadm: size is 4 bytes, the manifest says 14"):
        exported(bundle, tmp_path)


def test_export_does_not_follow_a_symlink_out_of_the_bundle(bundle, tmp_path):
    outside = tmp_path / "secret"
    outside.write_bytes(b"kubeadm-binary")
    (bundle / "bin/kubeadm").unlink()
    (bundle / "bin/kubeadm").symlink_to(outside)
    with pytest.raises(ArtifactError, match="symbolic link"):
        exported(bundle, tmp_path)


def test_export_does_not_follow_a_symlinked_directory(bundle, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (bundle / "images").rename(elsewhere)
    (bundle / "images").symlink_to(elsewhere)
    with pytest.raises(ArtifactError, match="symbolic link"):
        exported(bundle, tmp_path)


def test_export_refuses_to_write_into_the_bundle(bundle):
    with pytest.raises(ArtifactError, match="inside the bundle"):
        bundlefile.export_bundle(bundle, bundle / "self.tar")


# --- import ----------------------------------------------------------------------------------------------------

def test_round_trip_gives_the_same_bundle(bundle, tmp_path):
    archive = exported(bundle, tmp_path)
    target = tmp_path / "imported"
    bundlefile.import_bundle(archive, target)
    assert verify(target) == []
    assert read_manifest(target) == read_manifest(bundle)
    for relative, data in FILES.items():
        assert (target / relative).read_bytes() == data
    assert os.stat(target / "bin/kubeadm").st_mode & 0o777 == 0o755
    assert os.stat(target / "images/pause.tar").st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "export", "imported"]


def test_import_replaces_an_existing_bundle(bundle, tmp_path):
    archive = exported(bundle, tmp_path)
    target = tmp_path / "imported"
    make_bundle(target, {"bin/old": b"old"})
    bundlefile.import_bundle(archive, target)
    assert not (target / "bin/old").exists()
    assert verify(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "export", "imported"]


def keeps_old_bundle(tmp_path, archive, match):
    target = tmp_path / "imported"
    make_bundle(target, {"bin/old": b"old"})
    with pytest.raises(ArtifactError, match=match):
        bundlefile.import_bundle(archive, target)
    assert (target / "bin/old").read_bytes() == b"old" and verify(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "export", "imported"]


def test_import_refuses_a_checksum_mismatch(bundle, tmp_path):
    archive = exported(bundle, tmp_path)
    data = bytearray(archive.read_bytes())
    data[-1] ^= 1
    archive.write_bytes(bytes(data))
    keeps_old_bundle(tmp_path, archive, r"bundle.tar: sha256 is .* bundle.tar.sha256 says")


def test_import_refuses_a_file_that_differs_from_the_manifest(bundle, tmp_path):
    archive = exported(bundle, tmp_path)

    def tamper(info, data):
        return [(info, b"kubeadm-binarX" if info.name == "bin/kubeadm" else data)]

    rewrite(archive, tamper)
    keeps_old_bundle(tmp_path, archive, "does not match its manifest(.|\n)*bin/kubeadm: sha256 is")


def test_import_refuses_a_missing_file(bundle, tmp_path):
    archive = exported(bundle, tmp_path)
    rewrite(archive, lambda info, data: [] if info.name == "images/pause.tar" else [(info, data)])
    keeps_old_bundle(tmp_path, archive, "images/pause.tar: missing")


@pytest.mark.parametrize("name", ["../escape", "/etc/escape", "bin/../../escape", "./bin/kubeadm"])
def test_import_refuses_paths_outside_the_bundle(bundle, tmp_path, name):
    archive = exported(bundle, tmp_path)

    def add(info, data):
        extra = tarfile.TarInfo(name) if info.name == "manifest.json" else None
        return [(info, data)] + ([(extra, b"x")] if extra else [])

    rewrite(archive, add)
    keeps_old_bundle(tmp_path, archive, "a path outside the bundle")
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("kind, message", [
    (tarfile.SYMTYPE, "a symbolic link"), (tarfile.LNKTYPE, "a hard link"),
    (tarfile.CHRTYPE, "a device or pipe"), (tarfile.DIRTYPE, "a directory"),
])
def test_import_refuses_anything_but_regular_files(bundle, tmp_path, kind, message):
    archive = exported(bundle, tmp_path)

    def replace(info, data):
        if info.name != "bin/kubeadm":
            return [(info, data)]
        link = tarfile.TarInfo("bin/kubeadm")
        link.type, link.linkname = kind, "/etc/passwd"
        return [(link, b"")]

    rewrite(archive, replace)
    keeps_old_bundle(tmp_path, archive, f"bin/kubeadm: {message}")


def test_import_refuses_members_the_manifest_does_not_list(bundle, tmp_path):
    archive = exported(bundle, tmp_path)

    def add(info, data):
        return [(info, data)] + ([(tarfile.TarInfo("bin/extra"), b"x")] if info.name == "bin/kubelet" else [])

    rewrite(archive, add)
    keeps_old_bundle(tmp_path, archive, "not listed in its manifest.json: bin/extra")


def test_import_refuses_duplicate_members(bundle, tmp_path):
    archive = exported(bundle, tmp_path)

    def twice(info, data):
        return [(info, data), (tarfile.TarInfo(info.name), b"other")] if info.name == "bin/kubelet" else [(info, data)]

    rewrite(archive, twice)
    keeps_old_bundle(tmp_path, archive, "bin/kubelet: more than one member")


def test_import_refuses_a_file_without_manifest(bundle, tmp_path):
    archive = exported(bundle, tmp_path)
    rewrite(archive, lambda info, data: [] if info.name == "manifest.json" else [(info, data)])
    keeps_old_bundle(tmp_path, archive, "holds no manifest.json")


def test_import_refuses_what_is_not_a_tar(bundle, tmp_path):
    (tmp_path / "export").mkdir()
    archive = tmp_path / "export" / "bundle.tar"
    archive.write_bytes(b"\x01" * 2048)
    keeps_old_bundle(tmp_path, archive, "not a readable tar file")


# --- the commands ----------------------------------------------------------------------------------------------

def test_cli_export_then_import(bundle, tmp_path, capsys):
    out = tmp_path / "bundle.tar"
    assert run("artifact", "export", "--bundle", str(bundle), "--out", str(out)) == 0
    sha256 = hashlib.sha256(out.read_bytes()).hexdigest()
    printed = capsys.readouterr().out
    assert sha256 in printed and str(out.stat().st_size) in printed
    assert run("artifact", "import", str(out), "--out", str(tmp_path / "copy")) == 0
    assert "3 files match manifest.json" in capsys.readouterr().out
    assert run("artifact", "verify", str(tmp_path / "copy")) == 0


def test_cli_import_reports_a_damaged_file(bundle, tmp_path, capsys):
    out = tmp_path / "bundle.tar"
    bundlefile.export_bundle(bundle, out)
    out.write_bytes(out.read_bytes()[:-1] + b"\x01")
    assert run("artifact", "import", str(out), "--out", str(tmp_path / "copy")) != 0
    assert "sha256 is" in capsys.readouterr().err
    assert not (tmp_path / "copy").exists()


def test_import_refuses_to_replace_what_is_not_a_directory(bundle, tmp_path):
    archive = exported(bundle, tmp_path)
    target = tmp_path / "imported"
    target.write_text("a file")
    with pytest.raises(ArtifactError, match="exists and is not a directory"):
        bundlefile.import_bundle(archive, target)
    assert target.read_text() == "a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "export", "imported"]
