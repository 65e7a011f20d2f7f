"""Kubernetes binaries built from Debian's ``kubernetes`` source package.

Debian ships the full upstream tree (with vendor/) as a source package only, so
this is the one way to get kubelet and the control-plane binaries from a Debian
mirror alone. The build runs the upstream ``make WHAT=...`` from a GOPATH that
links the tree in as ``src/k8s.io/kubernetes``, as Debian's own rules do, and
keeps everything under a cache directory keyed by the Debian version: a second
build of the same version copies the binaries it already has.
"""

import contextlib
import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import cachelock
from saltsphere.artifacts.errors import ArtifactError
from saltsphere.artifacts.run import run

CACHE_ROOT = Path("/var/cache/saltsphere/build")
SOURCE_PACKAGE = "kubernetes"
BINARIES = (
    "kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
)
BUILD_DEPENDS = (
    "golang-go", "rsync", "make", "dpkg-dev", "golang-github-modern-go-reflect2-dev",
)
# Vendored reflect2 1.0.1 reads runtime internals that Go 1.18 changed: kubeadm built with it dies with a
# nil pointer in Type2. Debian's 1.0.2 has the same API and works with Debian's Go.
REFLECT2_IMPORT = "github.com/modern-go/reflect2"
GOCODE = Path("/usr/share/gocode/src")
DEB_SRC_FILE = Path("/etc/apt/sources.list.d/saltsphere-deb-src.sources")
STAMP_NAME = "build.json"
SOURCE_STAMP = ".saltsphere-source-complete"
GOPATH_LINK = "../../.."

TIMEOUT_APT_UPDATE = 600
TIMEOUT_APT_INSTALL = 1800
TIMEOUT_APT_SOURCE = 1800
TIMEOUT_MAKE = 5400
TIMEOUT_QUERY = 120
TIMEOUT_VERSION = 60

_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
           "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass(frozen=True)
class Command:
    step: str
    argv: tuple
    timeout: int
    cwd: Path | None = None
    env: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BuildPlan:
    """Every path and command of one build, computed from the Debian version alone."""

    debian_version: str
    kube_version: str
    arch: str
    cache_dir: Path
    source_dir: Path
    gopath: Path
    tree: Path
    output_dir: Path
    bin_dir: Path
    stamp: Path
    log_file: Path
    version_file: Path
    reflect2_vendored: Path
    reflect2_debian: Path
    fetch: Command
    make: Command


def upstream_version(debian_version: str) -> str:
    """``1:1.20.5+really1.20.2-3`` -> ``1.20.5+really1.20.2``: what dpkg-source names the tree after."""
    version = debian_version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def kube_version(debian_version: str) -> str:
    """The Kubernetes release inside the package: ``+reallyX`` marks a rollback to X."""
    upstream = upstream_version(debian_version)
    real = upstream.split("+really", 1)[1] if "+really" in upstream else upstream
    match = re.match(r"\d+\.\d+\.\d+", real)
    if not match:
        raise ArtifactError(f"cannot read a Kubernetes release from Debian version {debian_version!r}")
    return f"v{match.group(0)}"


def goarch(machine: str | None = None) -> str:
    machine = machine or platform.machine()
    try:
        return _GOARCH[machine]
    except KeyError:
        raise ArtifactError(f"no Go architecture known for machine type {machine!r}") from None


def plan(debian_version: str, cache_root=CACHE_ROOT, arch: str | None = None) -> BuildPlan:
    arch = arch or goarch()
    release = kube_version(debian_version)
    cache_dir = Path(cache_root) / f"{SOURCE_PACKAGE}-{debian_version.replace(':', '_')}"
    source_dir = cache_dir / f"{SOURCE_PACKAGE}-{upstream_version(debian_version)}"
    # debian/rules: GOPATH=$(CURDIR)/.go with .go/src/k8s.io/kubernetes -> ../../.., make run from the tree.
    gopath = source_dir / ".go"
    tree = gopath / "src" / "k8s.io" / "kubernetes"
    version_file = cache_dir / "version.env"
    env = {
        "GOPATH": str(gopath),
        "HOME": str(cache_dir),
        # As Debian builds it: static binaries, so kubelet runs on any glibc the bundle meets.
        "CGO_ENABLED": "0",
        # Everything comes from vendor/; a build that wants the network is a broken build.
        "GOPROXY": "off",
        "GOFLAGS": "",
        "KUBE_GIT_VERSION_FILE": str(version_file),
        "KUBE_BUILD_PLATFORMS": f"linux/{arch}",
        "KUBE_VERBOSE": "1",
        "PATH": "/usr/lib/go/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    }
    return BuildPlan(
        debian_version=debian_version,
        kube_version=release,
        arch=arch,
        cache_dir=cache_dir,
        source_dir=source_dir,
        gopath=gopath,
        tree=tree,
        output_dir=source_dir / "_output" / "local" / "bin" / "linux" / arch,
        bin_dir=cache_dir / "bin",
        stamp=cache_dir / STAMP_NAME,
        log_file=cache_dir / "build.log",
        version_file=version_file,
        reflect2_vendored=source_dir / "vendor" / REFLECT2_IMPORT,
        reflect2_debian=GOCODE / REFLECT2_IMPORT,
        fetch=Command("download the source package",
                      ("apt-get", "source", "--only-source", f"{SOURCE_PACKAGE}={debian_version}"),
                      TIMEOUT_APT_SOURCE, cwd=cache_dir),
        make=Command("build the binaries",
                     ("make", "WHAT=" + " ".join(f"cmd/{name}" for name in BINARIES)),
                     TIMEOUT_MAKE, cwd=source_dir, env=env),
    )


def install_command(packages) -> Command:
    return Command("install build dependencies",
                   ("apt-get", "install", "-y", "--no-install-recommends", *packages),
                   TIMEOUT_APT_INSTALL, env={"DEBIAN_FRONTEND": "noninteractive"})


def _missing_packages(packages) -> list[str]:
    # Installing only what is absent leaves the operator's installed versions alone (no silent upgrades).
    missing = []
    for package in packages:
        status = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True,
                                timeout=TIMEOUT_QUERY)
        if status.returncode != 0 or not status.stdout.endswith(" installed"):
            missing.append(package)
    return missing


def version_env(build: BuildPlan) -> str:
    """The file ``hack/lib/version.sh`` reads in place of git: the tarball has no history to describe."""
    major, minor = build.kube_version[1:].split(".")[:2]
    return (f"KUBE_GIT_VERSION='{build.kube_version}'\nKUBE_GIT_TREE_STATE='clean'\nKUBE_GIT_COMMIT=''\n"
            f"KUBE_GIT_MAJOR='{major}'\nKUBE_GIT_MINOR='{minor}'\n")


# --- deb-src -----------------------------------------------------------------------------------------------

def _stanzas(text):
    stanza = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza = {}
            continue
        if line[:1].isspace() and stanza:
            continue
        key, _, value = line.partition(":")
        stanza[key.strip().lower()] = value.strip()
    if stanza:
        yield stanza


def _one_line_entries(text):
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] in ("deb", "deb-src"):
            yield words


def has_deb_src(sources: dict) -> bool:
    """Whether any of ``sources`` ({file name: text}) enables a deb-src entry."""
    for name, text in sources.items():
        if name.endswith(".sources"):
            for stanza in _stanzas(text):
                if "deb-src" in stanza.get("types", "").split() and stanza.get("enabled", "yes").lower() != "no":
                    return True
        elif any(words[0] == "deb-src" for words in _one_line_entries(text)):
            return True
    return False


def deb_src_for(sources: dict) -> str:
    """A deb822 file enabling deb-src for the same mirrors, suites and components as the ``deb`` entries."""
    out = []
    for name, text in sources.items():
        if name.endswith(".sources"):
            for stanza in _stanzas(text):
                if "deb" in stanza.get("types", "").split() and stanza.get("enabled", "yes").lower() != "no":
                    entry = {"Types": "deb-src", "URIs": stanza.get("uris", ""), "Suites": stanza.get("suites", ""),
                             "Components": stanza.get("components", "")}
                    if "signed-by" in stanza:
                        entry["Signed-By"] = stanza["signed-by"]
                    out.append(entry)
        else:
            for words in _one_line_entries(text):
                if words[0] != "deb":
                    continue
                options = {}
                if words[1].startswith("["):
                    end = next(i for i, word in enumerate(words) if word.endswith("]"))
                    for option in " ".join(words[1:end + 1]).strip("[]").split():
                        key, _, value = option.partition("=")
                        options[key.lower()] = value
                    words = [words[0]] + words[end + 1:]
                if len(words) < 3:
                    continue
                entry = {"Types": "deb-src", "URIs": words[1], "Suites": words[2], "Components": " ".join(words[3:])}
                if "signed-by" in options:
                    entry["Signed-By"] = options["signed-by"]
                out.append(entry)
    return "\n".join("".join(f"{key}: {value}\n" for key, value in entry.items() if value) for entry in out)


def _read_sources():
    """The machine's Debian mirror: the installer-managed list files (other vendors' repositories carry no source)."""
    found = {}
    for path in (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d/debian.sources")):
        if path.is_file():
            found[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    return found


def _all_sources():
    found = _read_sources()
    directory = Path("/etc/apt/sources.list.d")
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.suffix in (".list", ".sources") and path.is_file():
                found[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    return found


def ensure_deb_src(log, log_file) -> bool:
    """Enable deb-src for the configured Debian mirror unless some deb-src already is; True if a file was written."""
    if has_deb_src(_all_sources()):
        return False
    text = deb_src_for(_read_sources())
    if not text:
        raise ArtifactError("no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/debian.sources; "
                            "add a 'deb-src' entry for your mirror and run again")
    DEB_SRC_FILE.write_text(text, encoding="utf-8")
    log(f"no deb-src entry was configured: wrote {DEB_SRC_FILE} for the same mirror(s) as the deb entries")
    run(("apt-get", "update"), "apt-get update", timeout=TIMEOUT_APT_UPDATE, log_file=log_file, log=log)
    return True


def newest_source_version(log, log_file) -> str:
    def query():
        text = run(("apt-cache", "showsrc", "--only-source", SOURCE_PACKAGE), "look up the source package",
                   timeout=TIMEOUT_QUERY, log_file=log_file, log=log, capture=True)
        return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Version:")]

    versions = query()
    if not versions:
        log("apt has no source index yet: running apt-get update")
        run(("apt-get", "update"), "apt-get update", timeout=TIMEOUT_APT_UPDATE, log_file=log_file, log=log)
        versions = query()
    if not versions:
        raise ArtifactError(f"apt knows no source package {SOURCE_PACKAGE!r}; check that the deb-src entries point "
                            "at a Debian mirror carrying it (bookworm has 1.20.5+really1.20.2)")
    newest = versions[0]
    for candidate in versions[1:]:
        if subprocess.run(["dpkg", "--compare-versions", candidate, "gt", newest], timeout=TIMEOUT_QUERY).returncode == 0:
            newest = candidate
    return newest


# --- the build ---------------------------------------------------------------------------------------------

def _cached(build: BuildPlan) -> dict | None:
    """The stamp of a finished build whose binaries are all still there unchanged."""
    try:
        stamp = json.loads(build.stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for name in BINARIES:
        path = build.bin_dir / name
        if not path.is_file() or mf.sha256_of(path) != stamp.get("binaries", {}).get(name):
            return None
    return stamp


def _fetch(build: BuildPlan, log):
    if (build.source_dir / SOURCE_STAMP).is_file():
        log(f"source tree already unpacked: {build.source_dir}")
        return
    if build.source_dir.exists():
        log(f"removing an incompletely unpacked tree: {build.source_dir}")
        shutil.rmtree(build.source_dir)
    log(f"apt-get source {SOURCE_PACKAGE}={build.debian_version} into {build.cache_dir}")
    _run(build.fetch, build, log)
    if not (build.source_dir / "Makefile").is_file():
        raise ArtifactError(f"apt-get source did not unpack {build.source_dir}; see {build.log_file}")
    (build.source_dir / SOURCE_STAMP).touch()


def _replace_reflect2(build: BuildPlan, log):
    if not build.reflect2_debian.is_dir():
        raise ArtifactError(f"{build.reflect2_debian} is missing; install golang-github-modern-go-reflect2-dev")
    shutil.rmtree(build.reflect2_vendored, ignore_errors=True)
    # Copy as 'go mod vendor' would: sources only, no tests or module files.
    shutil.copytree(build.reflect2_debian, build.reflect2_vendored,
                    ignore=shutil.ignore_patterns("*_test.go", "test*", "go.mod", "go.sum", ".*"))
    log(f"vendored {REFLECT2_IMPORT} replaced by Debian's copy from {build.reflect2_debian}")


def _gopath(build: BuildPlan):
    build.tree.parent.mkdir(parents=True, exist_ok=True)
    if not build.tree.is_symlink():
        build.tree.symlink_to(GOPATH_LINK, target_is_directory=True)
    build.version_file.write_text(version_env(build), encoding="utf-8")


def _run(command: Command, build: BuildPlan, log, progress=None):
    env = dict(os.environ, **command.env) if command.env else None
    run(command.argv, command.step, timeout=command.timeout, log_file=build.log_file, log=log,
        cwd=command.cwd, env=env, progress=progress)


def _make_progress(line: str) -> bool:
    return line.startswith("+++") or line.startswith("!!!") or line.startswith("    k8s.io/")


def _compile(build: BuildPlan, log) -> dict:
    started = time.monotonic()
    log(f"make WHAT=... in {build.source_dir} (GOPATH {build.gopath}); this takes 5 to 11 minutes on 2 cores")
    _run(build.make, build, log, progress=_make_progress)
    build.bin_dir.mkdir(exist_ok=True)
    binaries = {}
    for name in BINARIES:
        built = build.output_dir / name
        if not built.is_file():
            raise ArtifactError(f"make finished but {built} is missing; see {build.log_file}")
        shutil.copy2(built, build.bin_dir / name)
        binaries[name] = mf.sha256_of(build.bin_dir / name)
    go = subprocess.run(["go", "version"], capture_output=True, text=True, timeout=TIMEOUT_VERSION,
                        env=dict(os.environ, PATH=build.make.env["PATH"]))
    stamp = {
        "debian_version": build.debian_version, "kube_version": build.kube_version, "arch": build.arch,
        "go": go.stdout.strip(), "seconds": round(time.monotonic() - started), "binaries": binaries,
    }
    tmp = build.stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, build.stamp)
    return stamp


def distribution() -> str:
    """``debian-12``: the system the bundle was built and tested on."""
    fields = {}
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            fields[key] = value.strip().strip('"')
    except OSError:
        return "unknown"
    return f"{fields.get('ID', 'linux')}-{fields.get('VERSION_ID', 'unknown')}"


def _install_into_bundle(build: BuildPlan, out_dir: Path, log) -> list:
    target = out_dir / "bin"
    target.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in BINARIES:
        destination = target / name
        if not (destination.is_file() and mf.sha256_of(destination) == mf.sha256_of(build.bin_dir / name)):
            tmp = target / f".{name}.tmp"
            shutil.copyfile(build.bin_dir / name, tmp)
            os.chmod(tmp, 0o755)
            os.replace(tmp, destination)
        entries.append(mf.entry_for(out_dir, f"bin/{name}", name=name, version=build.kube_version,
                                    arch=build.arch, kind="binary"))
    return entries


def _write(build: BuildPlan, out_dir: Path, entries, log):
    manifest = mf.write_manifest(out_dir, entries, kube_version=build.kube_version, arch=build.arch,
                                 distributions=[distribution()])
    log(f"wrote {out_dir / mf.MANIFEST_NAME}: {len(manifest.files)} files")
    return manifest


def build_from_debian_source(cache_dir=CACHE_ROOT, out_dir=None, log=print):
    """Build (or reuse) Kubernetes from Debian's source package and put the binaries into ``out_dir/bin``.

    Returns the manifest written to ``out_dir``. Needs root (apt) on a Debian
    machine with a reachable mirror.
    """
    if os.geteuid() != 0:
        raise ArtifactError("building from Debian's source package needs root (it runs apt-get); run it with sudo")
    if out_dir is None:
        raise ArtifactError("no output directory given")
    cache_root = Path(cache_dir)
    cache_root.mkdir(parents=True, exist_ok=True)
    with cachelock.exclusive(cache_root / ".lock"):
        return _build(cache_root, Path(out_dir).resolve(), log)




def _build(cache_root: Path, out_dir: Path, log):
    query_log = cache_root / "apt.log"
    ensure_deb_src(log, query_log)
    debian_version = newest_source_version(log, query_log)
    build = plan(debian_version, cache_root)
    build.cache_dir.mkdir(parents=True, exist_ok=True)
    log(f"Debian {SOURCE_PACKAGE} {debian_version} = Kubernetes {build.kube_version} ({build.arch}); "
        f"cache {build.cache_dir}")
    stamp = _cached(build)
    if stamp:
        log(f"binaries already built ({build.stamp}): skipping the build")
    else:
        missing = _missing_packages(BUILD_DEPENDS)
        if missing:
            log(f"installing build dependencies: {' '.join(missing)}")
            _run(install_command(missing), build, log)
        _fetch(build, log)
        _replace_reflect2(build, log)
        _gopath(build)
        stamp = _compile(build, log)
        log(f"built in {stamp['seconds'] // 60} min {stamp['seconds'] % 60} s with {stamp['go']}")
    from saltsphere.artifacts import debs, images  # both build on this module's plan

    entries = _install_into_bundle(build, out_dir, log)
    entries += images.build_images(build, out_dir, log)
    entries += debs.build_deb_repo(out_dir, log)
    return _write(build, out_dir, entries, log)
