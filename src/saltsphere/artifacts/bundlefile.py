"""A bundle as one file: ``artifact export`` writes it, ``artifact import`` unpacks and checks it.

The file is a plain tar holding ``manifest.json`` and every file the manifest
lists, nothing else: no directories, links or owners, fixed times, sorted
names. Exporting the same bundle twice gives the same bytes, so its sha256
(written beside it as ``FILE.sha256`` in ``sha256sum`` format) names the bundle.

An import trusts nothing in the file until the whole bundle is unpacked beside
its destination and matches its manifest; only then does it take the
destination's place.
"""

import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError

CHECKSUM_SUFFIX = ".sha256"
_CHUNK = 1 << 20
_EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


@dataclass(frozen=True)
class Exported:
    path: Path
    size: int
    sha256: str
    files: int


class _HashingReader:
    """Reads ``handle`` for tarfile while hashing what it hands over."""

    def __init__(self, handle):
        self.handle = handle
        self.sha = hashlib.sha256()

    def read(self, size=-1):
        data = self.handle.read(size)
        self.sha.update(data)
        return data


def _tar_info(name: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o755 if executable else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _open_inside(bundle: Path, relative: str):
    """``bundle/relative`` opened for reading, refused when it is not a regular file inside the bundle.

    A symlink anywhere on the path could point out of the bundle and put
    another file of this machine into the export.
    """
    full = bundle / relative
    real_root = os.path.realpath(bundle)
    if os.path.realpath(full) != os.path.join(real_root, *PurePosixPath(relative).parts):
        raise ArtifactError(f"{full}: a symbolic link is on its path; export copies only regular files of the "
                            "bundle, replace the link by the file")
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ArtifactError(f"{full}: missing; run `saltsphere artifact verify {bundle}`") from None
    except OSError as exc:
        raise ArtifactError(f"{full}: cannot read ({exc.strerror})") from None
    handle = os.fdopen(fd, "rb")
    status = os.fstat(handle.fileno())
    if not stat.S_ISREG(status.st_mode):
        handle.close()
        raise ArtifactError(f"{full}: not a regular file; export copies only regular files")
    return handle, status


def _replace_atomically(tmp: Path, path: Path):
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_checksum(path: Path, sha256: str) -> Path:
    """Write ``path.sha256`` as ``sha256sum`` does, so that ``sha256sum -c`` checks it too."""
    target = path.with_name(path.name + CHECKSUM_SUFFIX)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{sha256}  {path.name}\n")
        _replace_atomically(Path(tmp), target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def export_bundle(bundle_dir, out) -> Exported:
    """Write ``bundle_dir`` as the tar ``out`` (and ``out.sha256``); refuse if a file differs from the manifest.

    Each file is hashed as it is copied, so what the tar holds is what was
    checked, even if the bundle changes meanwhile.
    """
    bundle = Path(bundle_dir)
    out = Path(out)
    mf.read_manifest(bundle)
    # The tar holds the very bytes the files are checked against.
    manifest_bytes = (bundle / mf.MANIFEST_NAME).read_bytes()
    manifest = mf.Manifest.from_json(manifest_bytes.decode("utf-8"), str(bundle / mf.MANIFEST_NAME))
    if out.resolve().is_relative_to(bundle.resolve()):
        raise ArtifactError(f"{out}: inside the bundle {bundle}; write the export somewhere else")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}-", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_tar_info(mf.MANIFEST_NAME, len(manifest_bytes), False), io.BytesIO(manifest_bytes))
                for entry in sorted(manifest.files, key=lambda e: e.path):
                    _add_file(tar, bundle, entry)
            raw.flush()
            os.fsync(raw.fileno())
        sha256 = mf.sha256_of(tmp)
        _replace_atomically(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    write_checksum(out, sha256)
    return Exported(out, out.stat().st_size, sha256, len(manifest.files))


def _add_file(tar: tarfile.TarFile, bundle: Path, entry: mf.FileEntry):
    handle, status = _open_inside(bundle, entry.path)
    with handle:
        if status.st_size != entry.size:
            raise ArtifactError(f"{bundle / entry.path}: size is {status.st_size} bytes, the manifest says "
                                f"{entry.size}; run `saltsphere artifact verify {bundle}`")
        reader = _HashingReader(handle)
        tar.addfile(_tar_info(entry.path, entry.size, bool(status.st_mode & _EXECUTABLE)), reader)
    if reader.sha.hexdigest() != entry.sha256:
        raise ArtifactError(f"{bundle / entry.path}: sha256 is {reader.sha.hexdigest()}, the manifest says "
                            f"{entry.sha256}; run `saltsphere artifact verify {bundle}`")


# --- import ----------------------------------------------------------------------------------------------------

def check_checksum_file(path: Path) -> str | None:
    """The sha256 ``path.sha256`` gives, after checking that ``path`` has it; None when there is no such file."""
    checksum = path.with_name(path.name + CHECKSUM_SUFFIX)
    try:
        text = checksum.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{checksum}: cannot read ({exc})") from None
    fields = text.split()
    expected = fields[0].lower() if fields else ""
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise ArtifactError(f"{checksum}: does not start with a sha256 (64 hex digits)")
    actual = mf.sha256_of(path)
    if actual != expected:
        raise ArtifactError(f"{path}: sha256 is {actual}, {checksum.name} says {expected}; the file is damaged "
                            "or not the one exported, copy it again")
    return actual


def _member_problem(member: tarfile.TarInfo) -> str | None:
    if not member.isreg():
        kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk() else
                "a directory" if member.isdir() else "a device or pipe")
        return f"{member.name}: {kind}; a bundle file holds only regular files"
    pure = PurePosixPath(member.name)
    if pure.is_absolute() or ".." in pure.parts or member.name != pure.as_posix():
        return f"{member.name}: a path outside the bundle (absolute, '..' or not normalized)"
    return None


def _read_members(archive: Path, tar: tarfile.TarFile) -> tuple[mf.Manifest, list[tarfile.TarInfo]]:
    members = tar.getmembers()
    problems = [p for p in map(_member_problem, members) if p]
    names = [m.name for m in members]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    problems += [f"{name}: more than one member has this name" for name in duplicates]
    if problems:
        raise ArtifactError(f"{archive}: refused, not a bundle written by `saltsphere artifact export`:\n  "
                            + "\n  ".join(problems))
    if mf.MANIFEST_NAME not in names:
        raise ArtifactError(f"{archive}: holds no {mf.MANIFEST_NAME}; is it a file written by "
                            "`saltsphere artifact export`?")
    manifest_member = members[names.index(mf.MANIFEST_NAME)]
    text = tar.extractfile(manifest_member).read().decode("utf-8", errors="replace")
    manifest = mf.Manifest.from_json(text, f"{archive}:{mf.MANIFEST_NAME}")
    listed = {entry.path for entry in manifest.files}
    extra = [name for name in names if name != mf.MANIFEST_NAME and name not in listed]
    if extra:
        raise ArtifactError(f"{archive}: refused, members not listed in its {mf.MANIFEST_NAME}: {', '.join(extra)}")
    return manifest, members


def _unpack(tar: tarfile.TarFile, members, root: Path):
    for member in members:
        target = root.joinpath(*PurePosixPath(member.name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o755 if member.mode & _EXECUTABLE else 0o644
        # O_EXCL and O_NOFOLLOW: nothing unpacked so far can redirect this write.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out, tar.extractfile(member) as source:
            shutil.copyfileobj(source, out, _CHUNK)
        os.chmod(target, mode)


def import_bundle(archive, out_dir) -> mf.Manifest:
    """Unpack the export ``archive`` into ``out_dir``; ``out_dir`` changes only if the result matches its manifest."""
    archive = Path(archive)
    out = Path(out_dir)
    if not archive.is_file():
        raise ArtifactError(f"{archive}: no such file")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ArtifactError(f"{out}: exists and is not a directory; move it away or import elsewhere with --out")
    check_checksum_file(archive)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-import-", dir=out.parent))
    try:
        try:
            with tarfile.open(archive, "r:") as tar:
                manifest, members = _read_members(archive, tar)
                _unpack(tar, members, work)
        except tarfile.TarError as exc:
            raise ArtifactError(f"{archive}: not a readable tar file ({exc})") from None
        except OSError as exc:
            raise ArtifactError(f"{archive}: cannot unpack into {work} ({exc})") from None
        problems = mf.verify(work)
        if problems:
            raise ArtifactError(f"{archive}: the bundle it holds does not match its manifest; nothing was changed "
                                f"in {out}:\n  " + "\n  ".join(problems))
        os.chmod(work, 0o755)
        _swap_in(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _swap_in(new: Path, out: Path):
    """Put the directory ``new`` at ``out``, keeping the old ``out`` until the new one is there."""
    if not out.exists() and not out.is_symlink():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
    os.rename(out, old / "bundle")
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old / "bundle", out)
        raise
    shutil.rmtree(old, ignore_errors=True)
