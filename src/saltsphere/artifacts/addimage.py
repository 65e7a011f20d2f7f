"""``artifact add-image``: an image archive made elsewhere, checked and put into a bundle.

The archive is an OCI image layout tar (``ctr images export``, ``skopeo copy
oci-archive:``) or a ``docker save`` tar. Every blob its index or manifest
refers to must be in it with the content its digest names. Hosts import the
archive with ``ctr images import`` and find the image by the name containerd
gives it (the ``io.containerd.image.name`` annotation, or docker's
``RepoTags``), so an archive that names the image otherwise, or names several,
is copied with only its naming file rewritten: its blobs stay as they are.
With ``--pull`` the archive is first pulled from the image's registry (or a
mirror) by the registry client ``artifact fetch`` uses.
"""

import copy
import hashlib
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from saltsphere import bom
from saltsphere.artifacts import fetch, images
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError

OCI_INDEX = "index.json"
DOCKER_MANIFEST = "manifest.json"
DOCKER_REPOSITORIES = "repositories"
NESTED_INDEX_TYPES = (images.MEDIA_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveImage:
    """One image of an archive: its manifest (OCI) or ``manifest.json`` entry (docker) and the names it carries."""

    position: int
    names: tuple[str, ...]
    # The names hosts will see after ``ctr images import``, written as the archive writes them.
    host_names: tuple[str, ...]
    arch: str


@dataclass(frozen=True)
class ImageArchive:
    path: Path
    format: str
    images: tuple[ArchiveImage, ...]


class _Reader:
    def __init__(self, path: Path, tar: tarfile.TarFile):
        self.path = path
        self.tar = tar
        self.members = {}
        for member in tar.getmembers():
            name = member.name[2:] if member.name.startswith("./") else member.name
            self.members[name] = member

    def fail(self, what: str):
        raise ArtifactError(f"{self.path}: {what}")

    def data(self, name: str, what: str) -> bytes:
        member = self.members.get(name)
        if member is None or not member.isreg():
            self.fail(f"missing {what} {name}")
        return self.tar.extractfile(member).read()

    def json(self, name: str, what: str):
        try:
            return json.loads(self.data(name, what))
        except ValueError as exc:
            self.fail(f"{what} {name} is not valid JSON ({exc})")

    def sha256(self, name: str, what: str) -> str:
        member = self.members.get(name)
        if member is None or not member.isreg():
            self.fail(f"missing {what} {name}")
        digest = hashlib.sha256()
        with self.tar.extractfile(member) as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def blob(self, descriptor, what: str) -> str:
        """Check the blob ``descriptor`` points at; its member name."""
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
            self.fail(f"a {what} descriptor has no digest")
        algorithm, _, hexdigest = descriptor["digest"].partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64:
            self.fail(f"{what} digest {descriptor['digest']!r} is not a sha256 digest")
        name = f"blobs/sha256/{hexdigest}"
        actual = self.sha256(name, f"{what} blob")
        if actual != hexdigest:
            self.fail(f"{what} blob {name} has sha256 {actual}, not the digest its name and descriptor give")
        size = descriptor.get("size")
        if size is not None and size != self.members[name].size:
            self.fail(f"{what} blob {name} is {self.members[name].size} bytes, its descriptor says {size}")
        return name

    def blob_json(self, descriptor, what: str):
        name = self.blob(descriptor, what)
        return self.json(name, what)


def _oci_manifest(reader: _Reader, descriptor, depth=0) -> str:
    """Check the manifest (or nested index) ``descriptor`` names and every blob under it; its architecture."""
    if not isinstance(descriptor, dict):
        reader.fail("an index entry is not a descriptor")
    if descriptor.get("mediaType") in NESTED_INDEX_TYPES:
        if depth > 2:
            reader.fail("image indexes nested too deep")
        index = reader.blob_json(descriptor, "index")
        for child in index.get("manifests") or []:
            _oci_manifest(reader, child, depth + 1)
        # Several platforms: the host imports its own.
        return ""
    manifest = reader.blob_json(descriptor, "manifest")
    if not isinstance(manifest, dict) or "config" not in manifest:
        reader.fail(f"manifest {descriptor['digest']} has no config")
    config = reader.blob_json(manifest["config"], "config")
    for layer in manifest.get("layers") or []:
        reader.blob(layer, "layer")
    return config.get("architecture", "") if isinstance(config, dict) else ""


def _is_name(value: str) -> bool:
    # org.opencontainers.image.ref.name may be a whole reference or only a tag.
    return "/" in value or ":" in value


def _read_oci(reader: _Reader) -> list[ArchiveImage]:
    index = reader.json(OCI_INDEX, "index")
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not entries:
        reader.fail(f"{OCI_INDEX} lists no image")
    found = []
    for position, descriptor in enumerate(entries):
        if not isinstance(descriptor, dict):
            reader.fail(f"{OCI_INDEX} manifests[{position}] is not a descriptor")
        arch = _oci_manifest(reader, descriptor)
        annotations = descriptor.get("annotations") or {}
        containerd = annotations.get(images.NAME_ANNOTATION, "")
        oci = annotations.get(images.REF_ANNOTATION, "")
        names = [containerd] if containerd else [oci] if _is_name(oci) else []
        found.append(ArchiveImage(position, tuple(bom.normalize(n) for n in names),
                                  (containerd,) if containerd else (), arch))
    return found


def _read_docker(reader: _Reader) -> list[ArchiveImage]:
    entries = reader.json(DOCKER_MANIFEST, "docker manifest")
    if not isinstance(entries, list) or not entries:
        reader.fail(f"{DOCKER_MANIFEST} lists no image")
    found = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            reader.fail(f"{DOCKER_MANIFEST}[{position}] has no Config")
        config_name = entry["Config"]
        config_hash = reader.sha256(config_name, "config")
        expected = Path(config_name).name.removesuffix(".json")
        if len(expected) == 64 and config_hash != expected:
            reader.fail(f"config {config_name} has sha256 {config_hash}, not the digest its name gives")
        config = reader.json(config_name, "config")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") if isinstance(config, dict) else None
        if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
            reader.fail(f"config {config_name} has no rootfs.diff_ids list")
        layers = entry.get("Layers") or []
        if not isinstance(layers, list) or not all(isinstance(layer, str) for layer in layers):
            reader.fail(f"{DOCKER_MANIFEST}[{position}] Layers is not a list of file names")
        if len(layers) != len(diff_ids):
            reader.fail(f"{DOCKER_MANIFEST}[{position}] lists {len(layers)} layers, its config {len(diff_ids)}")
        for layer, diff_id in zip(layers, diff_ids):
            actual = reader.sha256(layer, "layer")
            named = layer.split("/")[-1] if layer.startswith("blobs/sha256/") else None
            if actual != (named or diff_id.partition(":")[2]):
                reader.fail(f"layer {layer} has sha256 {actual}, not the digest "
                            f"{'its name' if named else 'the config'} gives")
        tags = [tag for tag in entry.get("RepoTags") or [] if isinstance(tag, str)]
        normalized = tuple(bom.normalize(tag) for tag in tags)
        found.append(ArchiveImage(position, normalized, normalized, config.get("architecture", "")))
    return found


def read_archive(path) -> ImageArchive:
    """The images of the archive ``path``, after checking every blob they refer to."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file")
    try:
        with tarfile.open(path, "r:*") as tar:
            reader = _Reader(path, tar)
            if OCI_INDEX in reader.members:
                found = _read_oci(reader)
                # As hosts do: an index without containerd names leaves docker's manifest.json to name the image.
                if not any(image.host_names for image in found) and DOCKER_MANIFEST in reader.members:
                    return ImageArchive(path, "docker", tuple(_read_docker(reader)))
                return ImageArchive(path, "oci", tuple(found))
            if DOCKER_MANIFEST in reader.members:
                return ImageArchive(path, "docker", tuple(_read_docker(reader)))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArtifactError(f"{path}: not a readable tar file ({exc})") from None
    raise ArtifactError(f"{path}: not an image archive (it has neither an OCI {OCI_INDEX} nor a docker "
                        f"{DOCKER_MANIFEST}); write it with `docker save`, `ctr images export` or `skopeo copy`")


def choose(archive: ImageArchive, name: str | None) -> tuple[ArchiveImage, str]:
    """The image to add and the reference it goes under, from the archive's names or ``name``."""
    if name:
        ref = bom.normalize(name)
        named = [image for image in archive.images if ref in image.names]
        if named:
            return named[0], ref
        if len(archive.images) == 1:
            return archive.images[0], ref
        raise ArtifactError(f"{archive.path}: holds {len(archive.images)} images and none is named {ref}")
    names = sorted({n for image in archive.images for n in image.names})
    if not names:
        raise ArtifactError(f"{archive.path}: names no image; give the name to store it under with --name REF")
    if len(names) > 1:
        raise ArtifactError(f"{archive.path}: names several images ({', '.join(names)}); choose one with --name REF")
    return next(image for image in archive.images if names[0] in image.names), names[0]


# --- into the bundle -------------------------------------------------------------------------------------------

def _naming_file(archive: ImageArchive) -> str:
    return OCI_INDEX if archive.format == "oci" else DOCKER_MANIFEST


def _renamed(document, archive: ImageArchive, image: ArchiveImage, ref: str) -> bytes:
    """The archive's naming file naming only ``image``, as ``ref``."""
    if archive.format == "oci":
        descriptor = dict(document["manifests"][image.position])
        tag = images.parse_ref(ref).tag
        descriptor["annotations"] = {**(descriptor.get("annotations") or {}),
                                     images.NAME_ANNOTATION: ref, images.REF_ANNOTATION: tag}
        return json.dumps({**document, "manifests": [descriptor]}, sort_keys=True, separators=(",", ":")).encode()
    entry = {**document[image.position], "RepoTags": [ref]}
    return json.dumps([entry], separators=(",", ":")).encode()


def _write_renamed(archive: ImageArchive, image: ArchiveImage, ref: str, handle):
    """Copy the archive to ``handle`` with its naming file rewritten; docker's legacy ``repositories`` dropped."""
    naming = _naming_file(archive)
    with tarfile.open(archive.path, "r:*") as source, \
            tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member in source.getmembers():
            name = member.name[2:] if member.name.startswith("./") else member.name
            if name == DOCKER_REPOSITORIES and archive.format == "docker":
                continue
            if name == naming and member.isreg():
                data = _renamed(json.loads(source.extractfile(member).read()), archive, image, ref)
                info = copy.copy(member)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
            else:
                out.addfile(member, source.extractfile(member) if member.isreg() else None)


def _copy(path: Path, handle):
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            handle.write(chunk)


def _clashes(entries, entry: mf.FileEntry):
    """Entries ``entry`` takes the place of: the same image, or another one under its name or path."""
    same, other = [], []
    for existing in entries:
        if existing.kind == "image" and existing.ref and bom.normalize(existing.ref) == entry.ref:
            same.append(existing)
        elif existing.path == entry.path or (existing.kind == "image" and existing.name == entry.name):
            other.append(existing)
    return same, other


def add_image(bundle_dir, archive_path, *, name=None, replace=False) -> mf.FileEntry:
    """Check the image archive ``archive_path`` and put it into ``bundle_dir`` with its manifest entry.

    The archive goes to ``images/<name>.tar`` (or the file the bundle already
    lists the image in) through a temporary file in the bundle, and the
    manifest is rewritten whole; if anything fails, the bundle is left as it was.
    """
    bundle = Path(bundle_dir)
    manifest = mf.read_manifest(bundle)
    archive = read_archive(archive_path)
    image, ref = choose(archive, name)
    parsed = images.parse_ref(ref)
    if image.arch and image.arch != manifest.arch:
        raise ArtifactError(f"{archive.path}: the image {ref} is for {image.arch}, the bundle for {manifest.arch}")
    # The same image already listed keeps its file name, so that `artifact fetch` finds it where it put it.
    same_ref = [e for e in manifest.files if e.kind == "image" and e.ref and bom.normalize(e.ref) == ref]
    entry_name = same_ref[0].name if same_ref else parsed.name
    relative = same_ref[0].path if same_ref else f"images/{parsed.name}.tar"
    target = bundle / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    backup = None
    try:
        with os.fdopen(fd, "wb") as handle:
            if len(archive.images) == 1 and image.host_names == (ref,):
                _copy(archive.path, handle)
            else:
                _write_renamed(archive, image, ref, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        entry = mf.FileEntry(name=entry_name, version=parsed.tag, arch=manifest.arch, kind="image", path=relative,
                             sha256=mf.sha256_of(tmp), size=tmp.stat().st_size, ref=ref)
        same, other = _clashes(manifest.files, entry)
        if other and not replace:
            taken = ", ".join(f"{e.path} ({e.ref or e.kind})" for e in other)
            raise ArtifactError(f"{archive.path}: {ref} would take the place of {taken} in {bundle}; "
                                "add it with --replace to drop that, or give another name with --name")
        dropped = [*same, *other]
        if target.exists():
            backup = target.with_name(tmp.name.replace(".tmp", ".old"))
            os.replace(target, backup)
        kept = [e for e in manifest.files if e not in dropped]
        try:
            os.replace(tmp, target)
            mf.write_manifest(bundle, [*kept, entry], kube_version=manifest.kube_version, arch=manifest.arch,
                              distributions=manifest.distributions, created=manifest.created)
        except BaseException:
            if backup:
                os.replace(backup, target)
                backup = None
            else:
                target.unlink(missing_ok=True)
            raise
    finally:
        tmp.unlink(missing_ok=True)
    if backup:
        backup.unlink(missing_ok=True)
    for old in dropped:
        if old.path != relative:
            (bundle / old.path).unlink(missing_ok=True)
    return entry


def pull_and_add(bundle_dir, ref, *, mirror=None, replace=False, opener=None, log=print) -> mf.FileEntry:
    """Pull ``ref`` for the bundle's architecture (from ``mirror`` when given) and add it as :func:`add_image` does.

    The pulled archive is written in a temporary directory beside the bundle,
    so that only :func:`add_image` ever writes into it.
    """
    bundle = Path(bundle_dir)
    manifest = mf.read_manifest(bundle)
    normalized = bom.normalize(ref)
    parsed = images.parse_ref(normalized)
    domain, _, source = parsed.repository.partition("/")
    host = mirror or fetch.REGISTRY_HOSTS.get(domain, domain)
    hint = f"check that {normalized} exists for linux/{manifest.arch}" + (f" on the mirror {mirror}" if mirror else "")
    image = fetch.Image(name=parsed.name, source=source, tag=parsed.tag, reference=normalized, hint=hint,
                        registry=host)
    with tempfile.TemporaryDirectory(prefix=f".{bundle.name}-pull-", dir=bundle.parent) as work:
        archive = Path(work) / f"{parsed.name}.tar"
        fetch.pull_image(fetch.Registry(fetch.Http(opener), host), image, manifest.arch, archive, log=log)
        return add_image(bundle, archive, name=normalized, replace=replace)
