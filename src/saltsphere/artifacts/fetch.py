"""A bundle from the official release downloads, for a machine with internet access.

Every file is checked against the checksum its project publishes next to it
(or, for registry images, against the digests the registry names it by)
before it takes its place in the bundle, and a file already in place with the
right sha256 is not downloaded again. Release archives and checksum files are
kept in a cache directory, so that a second run over a complete bundle opens
no connection at all.
"""

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from http.client import HTTPException
from pathlib import Path, PurePosixPath

from saltsphere import bom, releases
from saltsphere import config as cfg
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import mirrors
from saltsphere.artifacts.errors import ArtifactError

CACHE_ROOT = Path("/var/cache/saltsphere/fetch")
ARCHES = ("amd64", "arm64")
# Upstream binaries are static and the images run in containerd, so one bundle serves every distribution
# saltsphere installs on; a fetched bundle carries no .deb.
DISTRIBUTIONS = ("debian-11", "debian-12", "ubuntu-20.04", "ubuntu-22.04")
# The host that serves each image domain's registry API.
REGISTRY_HOSTS = {"docker.io": "registry-1.docker.io"}

TIMEOUT_SECONDS = 60
MAX_REDIRECTS = 10
# Checksum files, manifests and tokens are read whole; nothing legitimate comes near this.
MAX_DOCUMENT = 4 << 20
_CHUNK = 1 << 20
_REDIRECTS = (301, 302, 303, 307, 308)
# A connection that breaks mid-answer raises either, depending on where http.client notices.
_NETWORK_ERRORS = (OSError, HTTPException)
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Archive:
    """A release archive kept in the cache; ``members`` (name inside, bundle path) or every program into ``into``."""

    download: bom.Binary
    members: tuple = ()
    into: str | None = None


@dataclass(frozen=True)
class Image:
    """An image pulled from ``registry`` by ``source:tag`` and stored under the name its users look for."""

    name: str
    source: str
    tag: str
    reference: str
    hint: str
    registry: str = bom.SOURCE_REGISTRY

    @property
    def path(self) -> str:
        return f"images/{self.name}.tar"


@dataclass(frozen=True)
class ReleaseImage:
    """A control-plane image published as a docker archive, stored under the name kubeadm looks for.

    The published archives are tagged ``<registry>/<name>-<arch>:<version>``,
    a name kubeadm never asks for, so they are rewritten rather than copied.
    """

    download: bom.Binary
    reference: str

    @property
    def path(self) -> str:
        return f"images/{self.download.name}.tar"


@dataclass(frozen=True)
class Plan:
    kube_version: str
    arch: str
    versions: releases.Versions
    files: tuple
    archives: tuple
    release_images: tuple
    images: tuple

    def bundle_paths(self) -> set:
        paths = {item.path for item in self.files} | {image.path for image in self.release_images + self.images}
        return paths | {path for archive in self.archives for _, path in archive.members}


# --- what to fetch ---------------------------------------------------------------------------------------

def check_arch(arch: str):
    if arch not in ARCHES:
        raise ArtifactError(f"--arch {arch!r} is not supported; use one of {', '.join(ARCHES)}")


def bill_of_materials(kube_version: str, arch: str = "amd64", overrides: dict | None = None, config=None,
                      masters: int | None = None, kubernetes_only: bool = False) -> bom.Bom:
    """What a bundle for ``kube_version`` holds: for the cluster ``config`` describes, or for any with the defaults.

    ``config`` is a loaded ``vars.yml`` (``saltsphere.config.Config``); without
    it every default applies, and with ``masters`` None the bundle serves any
    number of masters.  Image names vars.yml leaves unset are those kubeadm
    of ``kube_version`` asks for.  ``kubernetes_only`` keeps Kubernetes' own
    release files and images only (see :meth:`saltsphere.bom.Bom.kubernetes_only`).
    """
    check_arch(arch)
    # Outside the version table every version must be given: this says which are missing.
    versions = releases.resolve_versions(kube_version, overrides)
    values = dict(config.values) if config is not None else dict(cfg.defaults())
    given = config.given if config is not None else set()
    values["kube_version"] = kube_version
    registry = releases.image_registry(kube_version)
    if "kube_image_repository" not in given:
        values["kube_image_repository"] = registry
    if "containerd_sandbox_image" not in given:
        values["containerd_sandbox_image"] = f"{registry}/pause:{versions.pause}"
    bill = bom.compute(values, masters=masters, arch=arch, overrides=overrides)
    return bill.kubernetes_only() if kubernetes_only else bill




def plan(bill: bom.Bom, release_url: str | None = None, registry_mirror: str | None = None) -> Plan:
    """Every download of one bundle: the bill of materials as URLs, checksum URLs and where each file lands.

    ``release_url`` replaces the scheme and host of every release file's URL
    (see :func:`saltsphere.artifacts.mirrors.mirrored`); ``registry_mirror`` serves every image under its
    upstream repository path.
    """
    check_arch(bill.arch)
    binaries = bill.binaries
    if release_url:
        release_url = mirrors.check_release_url(release_url)
        binaries = tuple(mirrors.from_mirror(binary, release_url) for binary in binaries)
    if registry_mirror:
        registry_mirror = mirrors.check_registry_mirror(registry_mirror)
    files = tuple(binary for binary in binaries if not binary.is_archive)
    archives = tuple(Archive(binary, binary.members, binary.into) for binary in binaries if binary.is_archive)
    release_images = tuple(
        ReleaseImage(mirrors.from_mirror(image.archive, release_url) if release_url else image.archive, image.ref)
        for image in bill.images if image.archive
    )
    images = []
    for image in bill.images:
        if image.archive:
            continue
        repository, _, tag = image.source.rpartition(":")
        domain, _, source = repository.partition("/")
        hint = f"{image.hint}; and that the mirror {registry_mirror} holds it" if registry_mirror else image.hint
        images.append(Image(image.name, source, tag, image.ref, hint,
                            registry_mirror or REGISTRY_HOSTS.get(domain, domain)))
    return Plan(bill.kube_version, bill.arch, bill.versions, files, archives, release_images, tuple(images))


# --- HTTP --------------------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Redirects come back as errors so that Http decides, hop by hop, which credentials each host gets.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def default_opener():
    return urllib.request.build_opener(_NoRedirect()).open


class Http:
    """GET through ``opener(request, timeout=...)``, following redirects itself.

    A bearer token goes only to the host it was issued for: registries
    redirect blob downloads to storage hosts that refuse foreign credentials.
    """

    def __init__(self, opener=None, timeout=TIMEOUT_SECONDS):
        self.opener = opener or default_opener()
        self.timeout = timeout

    def get(self, url, headers=None, tokens=None):
        """The response to GET ``url``; an HTTP error status raises ``urllib.error.HTTPError`` for the last hop."""
        hop = url
        for _ in range(MAX_REDIRECTS + 1):
            request = urllib.request.Request(hop, headers=dict(headers or {}))
            token = (tokens or {}).get(urllib.parse.urlsplit(hop).hostname)
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                return self.opener(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if exc.code in _REDIRECTS else None
                if not location:
                    raise
                exc.close()
                hop = urllib.parse.urljoin(hop, location)
            except _NETWORK_ERRORS as exc:
                raise _network_error(url, exc) from None
        raise ArtifactError(f"could not download {url}: more than {MAX_REDIRECTS} redirects")

    def document(self, url, hint, headers=None, tokens=None) -> tuple:
        """``(body, headers)`` of a small document at ``url``."""
        try:
            response = self.get(url, headers, tokens)
        except urllib.error.HTTPError as exc:
            raise _status_error(url, exc, hint) from None
        return _read_document(response, url)


def _read_document(response, url) -> tuple:
    with response:
        try:
            body = response.read(MAX_DOCUMENT + 1)
        except _NETWORK_ERRORS as exc:
            raise _network_error(url, exc) from None
        if len(body) > MAX_DOCUMENT:
            raise ArtifactError(f"{url}: larger than {MAX_DOCUMENT} bytes; this is not the file expected there")
        return body, response.headers


def _reason(exc) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _network_error(url, exc) -> ArtifactError:
    return ArtifactError(
        f"could not download {url}: {_reason(exc)}; check the network connection "
        f"(a proxy is taken from https_proxy), then run fetch again"
    )


def _status_error(url, exc, hint) -> ArtifactError:
    exc.close()
    where = "" if exc.filename == url else f" (from {exc.filename})"
    return ArtifactError(f"could not download {url}: {exc.code} {exc.reason}{where}; {hint}")


# --- checksums and verified downloads ----------------------------------------------------------------------

def parse_checksum(text: str, filename: str, source: str) -> str:
    """The sha256 ``source`` publishes for ``filename``.

    A checksum file holds either the bare hex (maybe followed by a file
    name) or ``hex  name`` lines for several files.
    """
    named = {}
    bare = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if not _HEX64.match(parts[0]):
            raise ArtifactError(f"{source} is not a sha256 checksum file (line {line.strip()[:80]!r})")
        if len(parts) == 1:
            bare.append(parts[0].lower())
        else:
            named[PurePosixPath(parts[1].lstrip("*")).name] = parts[0].lower()
    if filename in named:
        return named[filename]
    if len(bare) == 1 and not named:
        return bare[0]
    if not named and not bare:
        raise ArtifactError(f"{source} is empty; it should hold the sha256 of {filename}")
    raise ArtifactError(f"{source} lists no sha256 for {filename}")


class Checksums:
    """Published checksums, kept in the cache once read so that a later run need not ask again."""

    def __init__(self, http: Http, cache_dir: Path):
        self.http = http
        self.cache_dir = Path(cache_dir) / "checksums"

    def sha256(self, item: bom.Binary) -> str:
        split = urllib.parse.urlsplit(item.checksum_url)
        cached = self.cache_dir / split.hostname / split.path.lstrip("/")
        if cached.is_file():
            try:
                return parse_checksum(cached.read_text(encoding="utf-8", errors="replace"), item.filename,
                                      item.checksum_url)
            except ArtifactError:
                pass
        body, _ = self.http.document(item.checksum_url, item.hint)
        digest = parse_checksum(body.decode("utf-8", errors="replace"), item.filename, item.checksum_url)
        _write_atomically(cached, io.BytesIO(body))
        return digest


def _write_atomically(path: Path, stream, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            shutil.copyfileobj(stream, handle, _CHUNK)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _save_verified(response, url: str, dest: Path, expected: str, mismatch, mode=0o644):
    """Stream ``response`` to ``dest`` through a temporary file beside it, hashing as it arrives.

    ``dest`` is only replaced when the sha256 is ``expected``; otherwise
    ``mismatch(actual)`` says why nothing was kept.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}-", suffix=".part", dir=dest.parent)
    try:
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, response:
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    hasher.update(chunk)
                    out.write(chunk)
            except _NETWORK_ERRORS as exc:
                raise _network_error(url, exc) from None
        if hasher.hexdigest() != expected:
            raise ArtifactError(mismatch(hasher.hexdigest()))
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def download(http: Http, url: str, dest, sha256: str, *, hint: str, mode=0o644, log=print) -> bool:
    """Put the file at ``url`` at ``dest`` if its sha256 is ``sha256``; False when ``dest`` already was that file.

    ``dest`` is either the old file or the whole verified new one.
    """
    dest = Path(dest)
    expected = sha256.lower()
    if dest.is_file() and mf.sha256_of(dest) == expected:
        os.chmod(dest, mode)
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"downloading {url}")
    try:
        response = http.get(url)
    except urllib.error.HTTPError as exc:
        raise _status_error(url, exc, hint) from None
    _save_verified(response, url, dest, expected, mode=mode, mismatch=lambda actual: (
        f"{url}: sha256 is {actual}, but {expected} is published for it; the download is damaged or not the "
        "released file, so it was not kept: run fetch again, and if it repeats, report it upstream"
    ))
    return True


# --- release archives --------------------------------------------------------------------------------------

def _member_name(member: tarfile.TarInfo) -> str:
    return member.name[2:] if member.name.startswith("./") else member.name


def extract(archive_path, archive: Archive, out: Path) -> list:
    """Copy the programs ``archive`` names out of ``archive_path`` into the bundle; their bundle paths.

    Only regular files are taken and each lands at a path the plan chose, never
    at one the archive names. A directory filled with ``into`` holds exactly the
    archive's programs afterwards.
    """
    source = archive.download.url
    with tarfile.open(archive_path, "r:*") as tar:
        regular = {_member_name(member): member for member in tar.getmembers() if member.isfile()}
        if archive.into:
            targets = [(name, f"{archive.into}/{name}") for name, member in sorted(regular.items())
                       if "/" not in name and member.mode & 0o111]
            if not targets:
                flag = releases.OVERRIDE_FLAGS[archive.download.name]
                raise ArtifactError(f"{source} holds no programs; check {flag}")
        else:
            missing = [name for name, _ in archive.members if name not in regular]
            if missing:
                raise ArtifactError(
                    f"{source} has no {', '.join(missing)}; this saltsphere does not know that release's layout: "
                    f"check {releases.OVERRIDE_FLAGS[archive.download.name]}"
                )
            targets = list(archive.members)
        for name, path in targets:
            _write_atomically(out / path, tar.extractfile(regular[name]), mode=0o755)
    paths = [path for _, path in targets]
    if archive.into:
        for stale in sorted((out / archive.into).iterdir()):
            if stale.relative_to(out).as_posix() not in paths and stale.is_file():
                stale.unlink()
    return paths


# --- registry images ---------------------------------------------------------------------------------------

def _media_type(headers, document: dict) -> str:
    header = (headers.get("Content-Type") or "").split(";")[0].strip()
    return document.get("mediaType") or header


def _digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check_digest(digest: str, where: str):
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or not _HEX64.match(hexdigest):
        raise ArtifactError(f"{where}: digest {digest!r} is not a sha256 digest; only sha256 content is supported")


class Registry:
    """An anonymous client of one registry's v2 API, enough to pull a single-platform image.

    A 401 with a ``Bearer`` challenge is answered with an anonymous token from
    the realm it names, for the host that asked (registries redirect to others).
    """

    def __init__(self, http: Http, host: str = bom.SOURCE_REGISTRY):
        self.http = http
        checked = mirrors.check_registry_mirror(host)
        # Plain http only where mirrors.check_registry_mirror allows it: a registry on this machine's loopback.
        self.base = checked if checked.startswith("http://") else f"https://{checked}"
        self.host = checked.partition("://")[2] or checked
        self.tokens = {}

    def _get(self, url, hint, accept=None):
        headers = {"Accept": accept} if accept else {}
        challenged = set()
        while True:
            try:
                return self.http.get(url, headers, self.tokens)
            except urllib.error.HTTPError as exc:
                host = urllib.parse.urlsplit(exc.filename).hostname
                if exc.code != 401 or host in challenged:
                    raise _status_error(url, exc, hint) from None
                challenged.add(host)
                challenge = exc.headers.get("WWW-Authenticate") or ""
                exc.close()
                self.tokens[host] = self._token(challenge, url)

    def _token(self, challenge: str, url: str) -> str:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() != "bearer":
            raise ArtifactError(
                f"{url}: the registry asks for {scheme or 'unnamed'} authentication; saltsphere pulls public "
                "images anonymously only"
            )
        params_ = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = params_.get("realm")
        if not realm:
            raise ArtifactError(f"{url}: the registry's Bearer challenge names no realm: {challenge!r}")
        query = urllib.parse.urlencode({key: params_[key] for key in ("service", "scope") if key in params_})
        token_url = f"{realm}{'&' if '?' in realm else '?'}{query}" if query else realm
        body, _ = self.http.document(token_url, "the registry refused an anonymous token")
        try:
            answer = json.loads(body)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise ArtifactError(f"{realm}: the token service answered without a token")
        return token

    def manifest(self, repository: str, reference: str, hint: str) -> tuple:
        """``(media type, exact bytes, document)`` of a manifest or index, its digest checked where one is known."""
        url = f"{self.base}/v2/{repository}/manifests/{reference}"
        body, headers = _read_document(self._get(url, hint, accept=", ".join(INDEX_TYPES + MANIFEST_TYPES)), url)
        expected = reference if reference.startswith("sha256:") else headers.get("Docker-Content-Digest")
        if expected and _digest_of(body) != expected:
            raise ArtifactError(
                f"{url}: the manifest's sha256 is {_digest_of(body)}, but it was asked for as {expected}"
            )
        try:
            document = json.loads(body)
        except ValueError:
            raise ArtifactError(f"{url}: the manifest is not JSON") from None
        if not isinstance(document, dict):
            raise ArtifactError(f"{url}: the manifest is not a JSON object")
        return _media_type(headers, document), body, document

    def blob(self, repository: str, digest: str, dest: Path, hint: str):
        """Store blob ``digest`` at ``dest``, refusing content whose sha256 is not the digest."""
        url = f"{self.base}/v2/{repository}/blobs/{digest}"
        _check_digest(digest, url)
        response = self._get(url, hint)
        _save_verified(response, url, dest, digest.partition(":")[2], mismatch=lambda actual: (
            f"{url}: sha256 is {actual}, but the registry names this blob {digest}; the download is damaged or "
            "not what the registry lists, so it was not kept: run fetch again"
        ))


def _platform_manifest(registry: Registry, image: Image, arch: str) -> tuple:
    source = f"{registry.host}/{image.source}:{image.tag}"
    media_type, body, document = registry.manifest(image.source, image.tag, image.hint)
    if media_type in INDEX_TYPES or "manifests" in document:
        for entry in document.get("manifests") or []:
            platform = entry.get("platform") or {}
            if platform.get("os") == "linux" and platform.get("architecture") == arch:
                digest = entry.get("digest") or ""
                _check_digest(digest, source)
                media_type, body, document = registry.manifest(image.source, digest, image.hint)
                break
        else:
            raise ArtifactError(f"{source} has no linux/{arch} image; {image.hint}")
    if media_type not in MANIFEST_TYPES:
        raise ArtifactError(
            f"{source}: manifest type {media_type!r} is not supported (only OCI and Docker v2 schema 2)"
        )
    return media_type, body, document


def pull_image(registry: Registry, image: Image, arch: str, dest: Path, log=print):
    """Write ``image`` for linux/``arch`` to ``dest`` as an OCI layout archive that ``ctr images import`` reads."""
    source = f"{registry.host}/{image.source}:{image.tag}"
    log(f"pulling {source} (linux/{arch})")
    media_type, body, document = _platform_manifest(registry, image, arch)
    config = document.get("config") or {}
    layers = document.get("layers") or []
    descriptors = [config] + list(layers)
    for descriptor in descriptors:
        _check_digest(descriptor.get("digest") or "", source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}-", dir=dest.parent) as staging:
        blobs = {}
        for descriptor in descriptors:
            path = Path(staging) / descriptor["digest"].partition(":")[2]
            try:
                registry.blob(image.source, descriptor["digest"], path, image.hint)
            except ArtifactError as exc:
                raise ArtifactError(f"{source}: {exc}") from None
            blobs[descriptor["digest"]] = path
        settings = json.loads(blobs[config["digest"]].read_bytes())
        if settings.get("os") != "linux" or settings.get("architecture") != arch:
            raise ArtifactError(
                f"{source} is for {settings.get('os')}/{settings.get('architecture')}, not linux/{arch}; {image.hint}"
            )
        write_oci_archive(dest, image.reference, image.tag, arch, media_type, body, blobs)


def _tar_entry(name: str, size: int) -> tarfile.TarInfo:
    # Fixed metadata: the same image always makes the same archive, byte for byte.
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    return info


def write_oci_archive(dest: Path, reference: str, tag: str, arch: str, media_type: str, manifest: bytes, blobs: dict):
    """An OCI image layout as a tar: ``oci-layout``, ``index.json`` naming the image, ``blobs/sha256/*``."""
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": media_type,
            "digest": _digest_of(manifest),
            "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {NAME_ANNOTATION: reference, REF_ANNOTATION: tag},
        }],
    }
    documents = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, indent=2).encode(),
        f"blobs/sha256/{_digest_of(manifest).partition(':')[2]}": manifest,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}-", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w") as tar:
            for name, data in documents.items():
                tar.addfile(_tar_entry(name, len(data)), io.BytesIO(data))
            for digest, path in sorted(blobs.items()):
                with open(path, "rb") as blob:
                    tar.addfile(_tar_entry(f"blobs/sha256/{digest.partition(':')[2]}", path.stat().st_size), blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise


def docker_archive_to_oci(source: Path, dest: Path, reference: str, tag: str, arch: str):
    """Rewrite the docker archive ``source`` (what ``docker save`` writes) as an OCI archive naming ``reference``.

    The configuration and layers are carried over unchanged, so the image
    keeps its identity (its configuration digest) under the new name.
    """
    try:
        with tarfile.open(source, "r:*") as tar:
            members = {_member_name(member): member for member in tar.getmembers()}

            def member(name):
                found = members.get(name[2:] if name.startswith("./") else name)
                if found is None:
                    raise ArtifactError(f"{source}: the docker archive lists {name} but does not hold it")
                return tar.extractfile(found)

            if "manifest.json" not in members:
                raise ArtifactError(f"{source} is not a docker archive (no manifest.json)")
            entries = json.loads(member("manifest.json").read())
            if not isinstance(entries, list) or len(entries) != 1:
                raise ArtifactError(f"{source}: expected one image in the docker archive")
            config = member(entries[0]["Config"]).read()
            settings = json.loads(config)
            if settings.get("os") != "linux" or settings.get("architecture") != arch:
                raise ArtifactError(
                    f"{source} is for {settings.get('os')}/{settings.get('architecture')}, not linux/{arch}"
                )
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=f".{dest.name}-", dir=dest.parent) as staging:
                config_path = Path(staging) / "config"
                config_path.write_bytes(config)
                blobs = {_digest_of(config): config_path}
                layers = []
                for index, name in enumerate(entries[0]["Layers"]):
                    path = Path(staging) / f"layer-{index}"
                    hasher = hashlib.sha256()
                    with member(name) as layer, open(path, "wb") as out:
                        for chunk in iter(lambda: layer.read(_CHUNK), b""):
                            hasher.update(chunk)
                            out.write(chunk)
                    with open(path, "rb") as written:
                        gzipped = written.read(2) == b"\x1f\x8b"
                    digest = f"sha256:{hasher.hexdigest()}"
                    blobs[digest] = path
                    layers.append({"mediaType": OCI_LAYER_GZIP if gzipped else OCI_LAYER, "digest": digest,
                                   "size": path.stat().st_size})
                manifest = json.dumps({
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": _digest_of(config), "size": len(config)},
                    "layers": layers,
                }, indent=2).encode()
                write_oci_archive(dest, reference, tag, arch, OCI_MANIFEST, manifest, blobs)
    except (tarfile.TarError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArtifactError(
            f"{source} is not a readable docker archive ({exc}); delete it and run fetch again"
        ) from None


def oci_archive_matches(path: Path, reference: str, arch: str) -> bool:
    """Whether ``path`` already holds image ``reference`` for linux/``arch``, every blob matching its digest.

    An OCI archive names its content by digest, so it proves itself complete
    without asking the registry.
    """
    try:
        with tarfile.open(path, "r:") as tar:
            members = {_member_name(m): m for m in tar.getmembers() if m.isfile()}

            def read(name):
                return tar.extractfile(members[name]).read()

            for name, member in members.items():
                if name.startswith("blobs/sha256/"):
                    hasher = hashlib.sha256()
                    handle = tar.extractfile(member)
                    for chunk in iter(lambda: handle.read(_CHUNK), b""):
                        hasher.update(chunk)
                    if hasher.hexdigest() != name.rpartition("/")[2]:
                        return False
            entries = json.loads(read("index.json"))["manifests"]
            if len(entries) != 1 or entries[0]["annotations"].get(NAME_ANNOTATION) != reference:
                return False
            manifest = json.loads(read(f"blobs/sha256/{entries[0]['digest'].partition(':')[2]}"))
            needed = [manifest["config"]] + manifest["layers"]
            if any(f"blobs/sha256/{d['digest'].partition(':')[2]}" not in members for d in needed):
                return False
            settings = json.loads(read(f"blobs/sha256/{manifest['config']['digest'].partition(':')[2]}"))
            return settings.get("os") == "linux" and settings.get("architecture") == arch
    except (OSError, tarfile.TarError, ValueError, KeyError, TypeError, AttributeError):
        return False


# --- the whole bundle --------------------------------------------------------------------------------------

def _foreign_files(out: Path, bundle: Plan) -> list:
    planned = bundle.bundle_paths()
    owned_dirs = {archive.into for archive in bundle.archives if archive.into}
    foreign = []
    for full in sorted(out.rglob("*")) if out.is_dir() else []:
        relative = full.relative_to(out).as_posix()
        if full.is_dir() or relative == mf.MANIFEST_NAME or relative in planned:
            continue
        if relative.split("/")[0] not in owned_dirs:
            foreign.append(relative)
    return foreign


def fetch(out_dir, kube_version: str, arch: str = "amd64", overrides: dict | None = None, *, config=None,
          masters: int | None = None, kubernetes_only: bool = False, release_url: str | None = None,
          registry_mirror: str | None = None, cache_dir=CACHE_ROOT, opener=None, log=print) -> mf.Manifest:
    """Download the bundle for ``kube_version`` into ``out_dir`` and write its manifest.

    ``overrides`` maps components (see ``releases.COMPONENTS``) to versions that
    replace the table's; ``config``, ``masters`` and ``kubernetes_only`` say
    what the bundle holds (see :func:`bill_of_materials`); ``release_url`` and
    ``registry_mirror`` name internal mirrors to take it from (see :func:`plan`).
    Everything is checked before the first connection.
    """
    bill = bill_of_materials(kube_version, arch, overrides, config, masters, kubernetes_only)
    bundle = plan(bill, release_url, registry_mirror)
    out = Path(out_dir)
    foreign = _foreign_files(out, bundle)
    if foreign:
        shown = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise ArtifactError(
            f"{out} holds files a fetched bundle would not list: {shown}; fetch into an empty directory "
            "(--out) or remove them"
        )
    chosen = ", ".join(f"{component} {value}" for component, value in asdict(bundle.versions).items())
    paired = releases.calico_version(kube_version)
    log(f"Kubernetes {kube_version} for linux/{arch} with {chosen}" + (f", calico {paired}" if paired else ""))
    if paired is None and not kubernetes_only:
        log(f"no calico release is paired with Kubernetes {kube_version}: the bundle carries no calico images, "
            "so clusters installed from it need kube_network_plugin: bridge")
    http = Http(opener)
    checksums = Checksums(http, cache_dir)
    entries = []
    for item in bundle.files:
        download(http, item.url, out / item.path, checksums.sha256(item), hint=item.hint, mode=0o755, log=log)
        entries.append(mf.entry_for(out, item.path, name=item.name, version=item.version, arch=arch, kind="binary"))
    for archive in bundle.archives:
        item = archive.download
        cached = Path(cache_dir) / item.path
        download(http, item.url, cached, checksums.sha256(item), hint=item.hint, log=log)
        for path in extract(cached, archive, out):
            entries.append(mf.entry_for(out, path, name=PurePosixPath(path).name, version=item.version, arch=arch,
                                        kind="binary"))
    for image in bundle.release_images:
        item = image.download
        if not oci_archive_matches(out / image.path, image.reference, arch):
            cached = Path(cache_dir) / item.path
            download(http, item.url, cached, checksums.sha256(item), hint=item.hint, log=log)
            docker_archive_to_oci(cached, out / image.path, image.reference, item.version, arch)
        entries.append(mf.entry_for(out, image.path, name=item.name, version=item.version, arch=arch, kind="image",
                                    ref=image.reference))
    registries = {}
    for image in bundle.images:
        if not oci_archive_matches(out / image.path, image.reference, arch):
            if image.registry not in registries:
                registries[image.registry] = Registry(http, image.registry)
            pull_image(registries[image.registry], image, arch, out / image.path, log=log)
        entries.append(mf.entry_for(out, image.path, name=image.name, version=image.tag, arch=arch, kind="image",
                                    ref=image.reference))
    manifest = mf.write_manifest(out, entries, kube_version=kube_version, arch=arch, distributions=DISTRIBUTIONS)
    log(f"wrote {out / mf.MANIFEST_NAME}: {len(manifest.files)} files")
    return manifest
