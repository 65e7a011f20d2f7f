"""``manifest.json``: what a bundle holds, and the check that a directory matches it."""

import datetime
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from saltsphere.artifacts.errors import ArtifactError

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
KINDS = ("binary", "image", "deb")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    name: str
    version: str
    arch: str
    kind: str
    path: str
    sha256: str
    size: int
    # Images only: the reference containerd stores the archive's image under.
    ref: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ArtifactError(f"file {self.path!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        _check_relative(self.path)


@dataclass
class Manifest:
    kube_version: str
    arch: str
    distributions: list[str]
    files: list[FileEntry]
    created: str = field(default_factory=lambda: _now())
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = {
            "format": self.format,
            "created": self.created,
            "kube_version": self.kube_version,
            "arch": self.arch,
            "distributions": list(self.distributions),
            "files": [asdict(entry) for entry in sorted(self.files, key=lambda e: e.path)],
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = MANIFEST_NAME) -> "Manifest":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ArtifactError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ArtifactError(f"{source}: expected a JSON object at the top")
        if data.get("format") != FORMAT_VERSION:
            raise ArtifactError(
                f"{source}: format {data.get('format')!r} is not supported (this saltsphere reads format "
                f"{FORMAT_VERSION}); rebuild the bundle with this saltsphere"
            )
        missing = [key for key in ("created", "kube_version", "arch", "distributions", "files") if key not in data]
        if missing:
            raise ArtifactError(f"{source}: missing key(s) {', '.join(missing)}")
        files = []
        for index, item in enumerate(data["files"]):
            try:
                files.append(FileEntry(**item))
            except TypeError as exc:
                raise ArtifactError(f"{source}: files[{index}] is malformed ({exc})") from None
        paths = [entry.path for entry in files]
        duplicates = sorted({p for p in paths if paths.count(p) > 1})
        if duplicates:
            raise ArtifactError(f"{source}: listed more than once: {', '.join(duplicates)}")
        return cls(
            kube_version=data["kube_version"], arch=data["arch"], distributions=list(data["distributions"]),
            files=files, created=data["created"], format=data["format"],
        )


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _check_relative(path: str):
    # A manifest is data from another machine: a path must never reach outside the bundle.
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or path != pure.as_posix() or path == MANIFEST_NAME:
        raise ArtifactError(f"file path {path!r} must be relative to the bundle root, without '..'")


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def entry_for(bundle_dir, path, *, name, version, arch, kind, ref="") -> FileEntry:
    """The manifest entry for ``path`` (relative to ``bundle_dir``), measured from the file itself."""
    full = Path(bundle_dir) / path
    return FileEntry(name=name, version=version, arch=arch, kind=kind, path=PurePosixPath(path).as_posix(),
                     sha256=sha256_of(full), size=full.stat().st_size, ref=ref)


def write_manifest(bundle_dir, entries, *, kube_version, arch, distributions, created=None) -> Manifest:
    """Write ``manifest.json`` for ``entries`` so that readers see either the old file or the whole new one."""
    manifest = Manifest(kube_version=kube_version, arch=arch, distributions=list(distributions), files=list(entries))
    if created:
        manifest.created = created
    bundle = Path(bundle_dir)
    bundle.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=bundle)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(manifest.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, bundle / MANIFEST_NAME)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return manifest


def read_manifest(bundle_dir) -> Manifest:
    path = Path(bundle_dir) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no manifest; is {bundle_dir} a bundle made by 'saltsphere artifact build'?") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror})") from None
    return Manifest.from_json(text, str(path))


def verify(bundle_dir) -> list[str]:
    """Every way ``bundle_dir`` differs from its manifest, one message per file; empty when it matches.

    Sizes are compared before hashing so that a truncated download is named
    without reading it whole.
    """
    bundle = Path(bundle_dir)
    if not bundle.is_dir():
        raise ArtifactError(f"{bundle}: not a directory")
    manifest = read_manifest(bundle)
    problems = []
    listed = set()
    for entry in sorted(manifest.files, key=lambda e: e.path):
        listed.add(entry.path)
        full = bundle / entry.path
        if not full.is_file():
            problems.append(f"{entry.path}: missing (the manifest lists {entry.size} bytes)")
            continue
        size = full.stat().st_size
        if size != entry.size:
            problems.append(f"{entry.path}: size is {size} bytes, the manifest says {entry.size}")
            continue
        actual = sha256_of(full)
        if actual != entry.sha256:
            problems.append(f"{entry.path}: sha256 is {actual}, the manifest says {entry.sha256}")
    for full in sorted(bundle.rglob("*")):
        if full.is_dir():
            continue
        relative = full.relative_to(bundle).as_posix()
        if relative != MANIFEST_NAME and relative not in listed:
            problems.append(f"{relative}: not in the manifest (extra file)")
    return problems
