"""Container images for an offline cluster, made on this machine without a registry or a container runtime.

Each image is one layer made from a staged directory, written as an OCI image
layout archive whose index names the image with the annotation ``ctr images
import`` reads. Archives are byte-for-byte reproducible (fixed order, times,
owners and modes; no creation dates) because hosts skip the copy of an archive
whose sha256 they already hold.

Staging directories, archives and their stamps live in a cache directory: an
image whose inputs (the files copied from this machine, the package versions,
this module) are unchanged is not made again.
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from saltsphere.artifacts import debian_source
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError
from saltsphere.artifacts.run import run

REGISTRY = "k8s.gcr.io"
TEST_REGISTRY = "saltsphere.local"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
HOST_PACKAGES = ("gcc", "libc6-dev", "iptables", "conntrack")
BUSYBOX_PACKAGE = "busybox-static"
# kubeadm 1.20 keeps the Linux pause tag in constants_unix.go; later releases moved it to constants.go.
PAUSE_CONSTANTS = ("cmd/kubeadm/app/constants/constants_unix.go", "cmd/kubeadm/app/constants/constants.go")
PAUSE_SOURCES = ("build/pause/linux/pause.c", "build/pause/pause.c")
PAUSE_MAKEFILE = "build/pause/Makefile"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
IPTABLES_BACKENDS = ("nft", "legacy")
# Debian's alternatives point the plain names at nft; kube-proxy must write rules the same way the host does.
IPTABLES_DEFAULT = "nft"

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
GZIP_LEVEL = 6
STAMP_NAME = "stamp.json"
# As Linux's MAXSYMLINKS: more links than this on one path is a loop.
MAX_LINKS = 40
TIMEOUT_QUERY = 120
TIMEOUT_DOWNLOAD = 600
TIMEOUT_COMPILE = 300

PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
# Go's resolver reads this to decide between /etc/hosts and DNS; without it, it guesses.
NSSWITCH = "hosts: files dns\n"

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]+)?")
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


# --- references ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str

    @property
    def name(self) -> str:
        """The last path component: ``kube-apiserver`` for ``k8s.gcr.io/kube-apiserver:v1.20.2``."""
        return self.repository.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


def parse_ref(ref: str) -> ImageRef:
    """``registry/path:tag`` as containerd stores it.

    The registry host is required: ``ctr images import`` keeps the annotated
    name as written, while kubelet asks for the normalized one, so a short name
    like ``busybox:1`` would import under a name nothing looks up.
    """
    if "@" in ref:
        raise ArtifactError(f"image reference {ref!r}: digests are not supported; an archive names its image by tag")
    repository, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag:
        raise ArtifactError(f"image reference {ref!r} has no tag; write it as registry/name:tag")
    domain, slash, path = repository.partition("/")
    if not slash or not ("." in domain or ":" in domain or domain == "localhost"):
        raise ArtifactError(f"image reference {ref!r} names no registry host; write it in full, "
                            f"e.g. docker.io/library/{repository}:{tag}")
    if not (_DOMAIN.fullmatch(domain) and all(_COMPONENT.fullmatch(part) for part in path.split("/"))
            and _TAG.fullmatch(tag)):
        raise ArtifactError(f"image reference {ref!r} is not valid: the path must be lowercase letters, digits and "
                            "separators (. _ -), the tag at most 128 of letters, digits, _ . -")
    return ImageRef(repository, tag)


# --- layers and archives ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    path: Path
    digest: str
    size: int
    diff_id: str


class _Hashing:
    """A write-only stream that measures what passes through it on the way to ``target``."""

    def __init__(self, target):
        self.target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.target.write(data)

    def tell(self):
        return self.size


def _walk(root: Path, prefix=""):
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        relative = prefix + entry.name
        yield relative, Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), relative + "/")


def _member(relative: str, path: Path) -> tarfile.TarInfo:
    status = os.lstat(path)
    info = tarfile.TarInfo(relative)
    info.mode = stat.S_IMODE(status.st_mode)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISLNK(status.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISDIR(status.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISREG(status.st_mode):
        info.type = tarfile.REGTYPE
        info.size = status.st_size
    else:
        raise ArtifactError(f"{path}: only files, directories and symbolic links can go into an image layer")
    return info


def layer_from_dir(directory, dest) -> Layer:
    """Write the tree under ``directory`` as a gzip-compressed layer tar to ``dest``.

    Only the tree's names, contents, link targets and permission bits count:
    owners become root, times 0, entries go in name order, and the gzip header
    carries neither a file name nor a time.
    """
    directory, dest = Path(directory), Path(dest)
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: not a directory, cannot make an image layer of it")
    with open(dest, "wb") as raw:
        blob = _Hashing(raw)
        with gzip.GzipFile(filename="", mode="wb", fileobj=blob, mtime=0, compresslevel=GZIP_LEVEL) as zipped:
            plain = _Hashing(zipped)
            with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for relative, path in _walk(directory):
                    info = _member(relative, path)
                    if info.isreg():
                        with open(path, "rb") as handle:
                            tar.addfile(info, handle)
                    else:
                        tar.addfile(info)
    return Layer(dest, f"sha256:{blob.sha.hexdigest()}", blob.size, f"sha256:{plain.sha.hexdigest()}")


def _json(document) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _descriptor(media_type: str, data: bytes) -> dict:
    return {"mediaType": media_type, "digest": f"sha256:{hashlib.sha256(data).hexdigest()}", "size": len(data)}


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def write_oci_archive(path, ref, rootfs, *, arch, entrypoint=(), cmd=(), env=DEFAULT_ENV, workdir="/") -> str:
    """Write the image ``ref`` with the single layer ``rootfs`` (a staged directory) as an OCI layout tar.

    Returns the manifest digest: the value containerd points the image name
    at once the archive is imported.
    """
    image = parse_ref(str(ref))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}-", dir=path.parent) as work:
        layer = layer_from_dir(rootfs, Path(work) / "layer")
        settings = {"Env": list(env), "WorkingDir": workdir}
        if entrypoint:
            settings["Entrypoint"] = list(entrypoint)
        if cmd:
            settings["Cmd"] = list(cmd)
        platform = {"architecture": arch, "os": "linux"}
        config = _json({**platform, "config": settings, "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}})
        manifest = _json({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": _descriptor(MEDIA_CONFIG, config),
            "layers": [{"mediaType": MEDIA_LAYER, "digest": layer.digest, "size": layer.size}],
        })
        manifest_descriptor = {
            **_descriptor(MEDIA_MANIFEST, manifest),
            "platform": platform,
            "annotations": {NAME_ANNOTATION: str(image), REF_ANNOTATION: image.tag},
        }
        index = _json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [manifest_descriptor]})
        layer_name = _blob_name(layer.digest)
        members = {
            _blob_name(_descriptor(MEDIA_CONFIG, config)["digest"]): config,
            _blob_name(manifest_descriptor["digest"]): manifest,
            "index.json": index,
            "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
        }
        tmp = Path(work) / "image.tar"
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted([*members, layer_name]):
                info = tarfile.TarInfo(name)
                info.mode = 0o644
                if name == layer_name:
                    info.size, handle = layer.size, open(layer.path, "rb")
                else:
                    info.size, handle = len(members[name]), io.BytesIO(members[name])
                with handle:
                    tar.addfile(info, handle)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return manifest_descriptor["digest"]


# --- staging ---------------------------------------------------------------------------------------------------

def parse_ldd(text: str, binary) -> list[str]:
    """The files that ``ldd binary`` (whose output is ``text``) says it loads, the dynamic loader included.

    Empty for a static binary. A library ldd cannot find fails here, naming the
    binary: an image missing it would fail only when the program first runs.
    """
    paths, missing = [], []
    for line in text.splitlines():
        line = line.strip()
        name, arrow, target = line.partition("=>")
        if arrow:
            target = target.strip()
            if target.startswith("not found"):
                missing.append(name.strip())
                continue
            candidate = target.split(" (", 1)[0].strip()
        else:
            candidate = line.split(" (", 1)[0].strip()
        # The vDSO and the "statically linked" notes name no file.
        if candidate.startswith("/") and candidate not in paths:
            paths.append(candidate)
    if missing:
        raise ArtifactError(f"{binary} needs {', '.join(missing)}, which ldd cannot find on this machine; "
                            "install the package that ships it and run again")
    return paths


def _query(argv, step) -> str:
    try:
        # Untranslated output: apt-cache policy's "Candidate:" is parsed.
        result = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True, timeout=TIMEOUT_QUERY,
                                env=dict(os.environ, LC_ALL="C"))
    except FileNotFoundError:
        raise ArtifactError(f"{step}: {argv[0]} is not installed") from None
    if result.returncode != 0:
        raise ArtifactError(f"{step}: {' '.join(map(str, argv))} failed (exit {result.returncode}): "
                            f"{(result.stderr or result.stdout).strip() or 'no output'}")
    return result.stdout


def _libraries(binary) -> list[str]:
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=TIMEOUT_QUERY)
    text = result.stdout + result.stderr
    # ldd exits 1 for a static binary; anything else it fails on is a real error.
    if result.returncode != 0 and "not a dynamic executable" not in text:
        raise ArtifactError(f"ldd {binary} failed (exit {result.returncode}): {text.strip() or 'no output'}")
    return parse_ldd(text, binary)


class _Tree:
    """A staging directory for one layer, remembering every file of this machine that went into it.

    Symbolic links in the tree may be absolute (they are meant for the
    image's root), so nothing here ever follows one inside the tree.
    """

    def __init__(self, root: Path):
        self.root = root
        self.sources: dict[str, str] = {}

    def _inside(self, path) -> Path:
        return self.root / PurePosixPath(path).relative_to("/")

    def directory(self, path, mode=0o755) -> Path:
        target = self.root
        for part in PurePosixPath(path).relative_to("/").parts:
            target = target / part
            if target.is_symlink():
                raise ArtifactError(f"{target}: a symbolic link where the image needs a directory")
            if not target.exists():
                target.mkdir()
                os.chmod(target, 0o755)
        os.chmod(target, mode)
        return target

    def _file(self, path) -> Path:
        target = self._inside(path)
        self.directory(PurePosixPath(path).parent)
        if target.is_symlink():
            raise ArtifactError(f"{target}: a symbolic link where the image needs a file")
        return target

    def write(self, path, text: str, mode=0o644):
        target = self._file(path)
        target.write_text(text, encoding="utf-8")
        os.chmod(target, mode)

    def symlink(self, path, link_target: str):
        target = self._inside(path)
        self.directory(PurePosixPath(path).parent)
        if target.is_symlink() and os.readlink(target) == link_target:
            return
        if os.path.lexists(target):
            raise ArtifactError(f"{target}: already in the image as something other than a link to {link_target}")
        os.symlink(link_target, target)

    def note(self, host_path):
        """Count a file of this machine as an input of the image without copying it."""
        self.sources[str(host_path)] = mf.sha256_of(host_path)

    def install(self, host_path, path, mode):
        target = self._file(path)
        shutil.copyfile(host_path, target)
        os.chmod(target, mode)
        self.note(host_path)

    def copy_from_host(self, host_path):
        """Copy a file of this machine to the same path in the tree, recreating every symbolic link on the way.

        ``/lib64/ld-linux-x86-64.so.2`` on Debian 12 is three links deep
        (``/lib64``, then an absolute link to ``/lib/...``, then ``/lib``);
        the image gets the same links, so every name the programs were built
        with resolves the same way inside it.
        """
        pending = os.path.normpath(host_path)
        for _ in range(MAX_LINKS):
            current = PurePosixPath("/")
            parts = PurePosixPath(pending).parts[1:]
            for index, part in enumerate(parts):
                current = current / part
                if os.path.islink(current):
                    link_target = os.readlink(current)
                    self.symlink(current, link_target)
                    self.sources[str(current)] = "link:" + link_target
                    # ``current.parent`` has no links left in it, so '..' in the target can be resolved by name.
                    pending = os.path.normpath(os.path.join(current.parent, link_target, *parts[index + 1:]))
                    break
                if index < len(parts) - 1:
                    self.directory(current)
            else:
                if not os.path.isfile(current):
                    raise ArtifactError(f"{host_path}: {current} is not a regular file, cannot copy it into an image")
                self.install(current, current, stat.S_IMODE(os.stat(current).st_mode))
                return
        raise ArtifactError(f"{host_path}: more than {MAX_LINKS} symbolic links, a loop?")


def _sources_unchanged(sources: dict) -> bool:
    for path, expected in sources.items():
        try:
            if expected.startswith("link:"):
                if not os.path.islink(path) or os.readlink(path) != expected[len("link:"):]:
                    return False
            elif mf.sha256_of(path) != expected:
                return False
        except OSError:
            return False
    return True


# --- the images ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Recipe:
    ref: ImageRef
    stage: Callable[[_Tree], None]
    # What decides the content besides the files of this machine the staging copies or notes.
    inputs: dict = field(default_factory=dict)
    entrypoint: tuple = ()
    cmd: tuple = ()


def _stage_base(tree: _Tree):
    tree.write("/etc/passwd", PASSWD)
    tree.write("/etc/group", GROUP)
    tree.write("/etc/nsswitch.conf", NSSWITCH)
    tree.directory("/tmp", 0o1777)


def _stage_static_binary(tree: _Tree, binary: Path, name: str):
    if not binary.is_file():
        raise ArtifactError(f"{binary} is missing; build the Kubernetes binaries first")
    if _libraries(binary):
        raise ArtifactError(f"{binary} is dynamically linked, but the {name} image holds no C library; "
                            "it needs the static (CGO_ENABLED=0) build")
    tree.install(binary, f"/usr/local/bin/{name}", 0o755)
    _stage_base(tree)


def _read_tree_file(build, candidates, what) -> tuple[Path, str]:
    for relative in candidates:
        path = build.tree / relative
        if path.is_file():
            return path, path.read_text(encoding="utf-8", errors="replace")
    raise ArtifactError(f"no {what} in {build.tree} (looked for {', '.join(candidates)})")


def pause_version(build) -> str:
    """The pause tag kubeadm of this tree asks for (its Linux ``PauseVersion``)."""
    path, text = _read_tree_file(build, PAUSE_CONSTANTS, "kubeadm constants")
    match = re.search(r'^\s*PauseVersion\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        raise ArtifactError(f"{path}: no PauseVersion; cannot tell which pause image kubeadm expects")
    return match.group(1)


def _pause(build, log_file, log) -> _Recipe:
    source, _ = _read_tree_file(build, PAUSE_SOURCES, "pause source")
    makefile, text = _read_tree_file(build, (PAUSE_MAKEFILE,), "pause Makefile")
    match = re.search(r"^TAG\s*\??=\s*(\S+)", text, re.MULTILINE)
    if not match:
        raise ArtifactError(f"{makefile}: no TAG; cannot name the pause build")
    # Upstream defines VERSION as v$(TAG)-$(git describe); the Kubernetes release stands in for the git part.
    flags = ("-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{match.group(1)}-{build.kube_version}")

    def stage(tree: _Tree):
        tree.note(source)
        run(("gcc", *flags, "-o", tree.root / "pause", source.name), "compile pause", timeout=TIMEOUT_COMPILE,
            log_file=log_file, log=log, cwd=source.parent)
        os.chmod(tree.root / "pause", 0o755)

    toolchain = {
        "gcc": _query(("gcc", "--version"), "read the gcc version").splitlines()[0],
        "libc6-dev": _query(("dpkg-query", "-W", "-f", "${Version}", "libc6-dev"), "read the libc6-dev version"),
        "flags": list(flags),
    }
    return _Recipe(ImageRef(f"{REGISTRY}/pause", pause_version(build)), stage, toolchain, entrypoint=("/pause",))


def _control_plane(build, name) -> _Recipe:
    return _Recipe(ImageRef(f"{REGISTRY}/{name}", build.kube_version),
                   lambda tree: _stage_static_binary(tree, build.bin_dir / name, name),
                   entrypoint=(f"/usr/local/bin/{name}",))


def _which(program) -> str:
    found = shutil.which(program, path=SYSTEM_PATH)
    if not found:
        raise ArtifactError(f"{program} is not installed on this machine; kube-proxy's image needs it")
    return found


def _xtables_dir() -> str:
    """The directory iptables loads its match and target modules from, as the iptables package installs it."""
    listed = _query(("dpkg-query", "-L", "iptables"), "list the files of iptables").splitlines()
    directories = [line for line in listed if line.endswith("/xtables") and os.path.isdir(line)]
    if len(directories) != 1:
        raise ArtifactError(f"expected one xtables module directory in the iptables package, found {directories}")
    return directories[0]


def _stage_kube_proxy(tree: _Tree, binary: Path):
    _stage_static_binary(tree, binary, "kube-proxy")
    # iptables-legacy takes its lock in /run; kube-proxy's DaemonSet mounts the host's lock file there.
    tree.directory("/run")
    programs = []
    for family in ("iptables", "ip6tables"):
        for suffix in ("", "-save", "-restore"):
            for backend in IPTABLES_BACKENDS:
                programs.append(_which(f"{family}-{backend}{suffix}"))
            tree.symlink(f"/usr/sbin/{family}{suffix}", f"{family}-{IPTABLES_DEFAULT}{suffix}")
    programs.append(_which("conntrack"))
    modules = _xtables_dir()
    programs += [os.path.join(modules, name) for name in sorted(os.listdir(modules))]
    libraries = []
    for program in programs:
        tree.copy_from_host(program)
        libraries += [library for library in _libraries(program) if library not in libraries]
    for library in libraries:
        tree.copy_from_host(library)


def _kube_proxy(build) -> _Recipe:
    return _Recipe(ImageRef(f"{REGISTRY}/kube-proxy", build.kube_version),
                   lambda tree: _stage_kube_proxy(tree, build.bin_dir / "kube-proxy"),
                   entrypoint=("/usr/local/bin/kube-proxy",))


def _candidate(package) -> str:
    text = _query(("apt-cache", "policy", package), f"look up {package}")
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Candidate" and value.strip() not in ("", "(none)"):
            return value.strip()
    raise ArtifactError(f"apt has no installable {package}; run apt-get update, or check the mirror carries it")


def _busybox(cache: Path, log_file, log) -> _Recipe:
    version = _candidate(BUSYBOX_PACKAGE)
    upstream = re.match(r"\d+(?:\.\d+)*", debian_source.upstream_version(version))
    if not upstream:
        raise ArtifactError(f"cannot read an upstream release from {BUSYBOX_PACKAGE} {version}")
    work = cache / "busybox"

    def stage(tree: _Tree):
        downloads = work / "deb" / version.replace(":", "_")
        debs = sorted(downloads.glob("*.deb"))
        if not debs:
            downloads.mkdir(parents=True, exist_ok=True)
            # apt's download user cannot write to a root-only cache; the package is checked by apt either way.
            run(("apt-get", "download", "-o", "APT::Sandbox::User=root", f"{BUSYBOX_PACKAGE}={version}"),
                f"download {BUSYBOX_PACKAGE}", timeout=TIMEOUT_DOWNLOAD, log_file=log_file, log=log, cwd=downloads)
            debs = sorted(downloads.glob("*.deb"))
        if len(debs) != 1:
            raise ArtifactError(f"expected one {BUSYBOX_PACKAGE} package in {downloads}, found {len(debs)}")
        unpacked = work / "package"
        shutil.rmtree(unpacked, ignore_errors=True)
        run(("dpkg-deb", "-x", debs[0], unpacked), f"unpack {debs[0].name}", timeout=TIMEOUT_QUERY,
            log_file=log_file, log=log)
        busybox = unpacked / "bin" / "busybox"
        if _libraries(busybox):
            raise ArtifactError(f"{busybox} from {debs[0].name} is not static; the image holds no C library")
        tree.install(busybox, "/bin/busybox", 0o755)
        for applet in _query((busybox, "--list-full"), "list the busybox applets").split():
            if applet != "bin/busybox":
                tree.symlink(f"/{applet}", "/bin/busybox")
        _stage_base(tree)

    return _Recipe(ImageRef(f"{TEST_REGISTRY}/busybox", upstream.group(0)), stage,
                   {"package": BUSYBOX_PACKAGE, "version": version}, entrypoint=("/bin/sh",))


# --- the build -------------------------------------------------------------------------------------------------

def _archive(recipe: _Recipe, work: Path, arch: str, log) -> Path:
    """The archive of ``recipe`` in ``work``: the one made before when nothing it was made from changed."""
    archive = work / f"{recipe.ref.name}.tar"
    stamp_path = work / STAMP_NAME
    inputs = {
        "ref": str(recipe.ref), "arch": arch, "entrypoint": list(recipe.entrypoint), "cmd": list(recipe.cmd),
        # An archive made by other code would not be what this code makes.
        "code": mf.sha256_of(__file__), **recipe.inputs,
    }
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = None
    if (stamp and stamp.get("inputs") == inputs and _sources_unchanged(stamp.get("sources", {}))
            and archive.is_file() and mf.sha256_of(archive) == stamp.get("sha256")):
        log(f"image {recipe.ref}: unchanged, reusing {archive}")
        return archive
    started = time.monotonic()
    stamp_path.unlink(missing_ok=True)
    rootfs = work / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.mkdir(parents=True)
    tree = _Tree(rootfs)
    recipe.stage(tree)
    digest = write_oci_archive(archive, recipe.ref, rootfs, arch=arch, entrypoint=recipe.entrypoint, cmd=recipe.cmd)
    stamp = {"inputs": inputs, "sources": tree.sources, "manifest": digest, "sha256": mf.sha256_of(archive)}
    tmp = stamp_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, stamp_path)
    log(f"image {recipe.ref}: built in {time.monotonic() - started:.1f} s, "
        f"{archive.stat().st_size / 1e6:.1f} MB, manifest {digest}")
    return archive


def build_images(build: debian_source.BuildPlan, out_dir: Path, log,
                 cache_dir: Path | None = None) -> list[mf.FileEntry]:
    """Make the images a cluster needs and put them into ``out_dir/images/<name>.tar``.

    ``build`` is the :class:`~saltsphere.artifacts.debian_source.BuildPlan`
    whose binaries are built. Returns the manifest entries of the archives.
    Installs gcc, libc6-dev, iptables and conntrack on this machine when they
    are absent (needs root then). The caller holds the build cache's lock.
    """
    out_dir = Path(out_dir)
    cache = Path(cache_dir) if cache_dir else build.cache_dir / "images"
    cache.mkdir(parents=True, exist_ok=True)
    log_file = cache / "images.log"
    missing = debian_source._missing_packages(HOST_PACKAGES)
    if missing:
        log(f"installing what the images are made from: {' '.join(missing)}")
        command = debian_source.install_command(missing)
        run(command.argv, command.step, timeout=command.timeout, log_file=log_file, log=log,
            env=dict(os.environ, **command.env))
    recipes = [
        _pause(build, log_file, log),
        *(_control_plane(build, name) for name in CONTROL_PLANE),
        _kube_proxy(build),
        _busybox(cache, log_file, log),
    ]
    target = out_dir / "images"
    target.mkdir(parents=True, exist_ok=True)
    entries = []
    for recipe in recipes:
        archive = _archive(recipe, cache / recipe.ref.name, build.arch, log)
        relative = f"images/{recipe.ref.name}.tar"
        tmp = target / f".{recipe.ref.name}.tar.tmp"
        shutil.copyfile(archive, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_dir / relative)
        entries.append(mf.entry_for(out_dir, relative, name=recipe.ref.name, version=recipe.ref.tag,
                                    arch=build.arch, kind="image", ref=str(recipe.ref)))
    return entries
