"""The OS packages the hosts install, as a flat apt repository inside the bundle.

Hosts install from it through the taskbox's bundle server with no mirror, checked against a
key of their cluster's own: the taskbox signs the repository's index for each cluster
(:mod:`saltsphere.artifacts.aptrepo`), and the ``Release`` written here stays unsigned. The
repository holds the candidate version apt on the build machine picks for each package, closed under
Depends and Pre-Depends. What every Debian host already has (the Essential and
``Priority: required`` packages with their dependencies: exactly what a debootstrap minbase
installs) is left out unless asked for by name.
"""

import contextlib
import email.utils
import fcntl
import gzip
import hashlib
import os
import re
import shutil
import subprocess
from collections import deque
from pathlib import Path

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.debian_source import distribution
from saltsphere.artifacts import cachelock
from saltsphere.artifacts.errors import ArtifactError
from saltsphere.artifacts.run import run

DEFAULT_PACKAGES = (
    "conntrack", "socat", "ipset", "ebtables", "iptables", "ethtool", "ca-certificates", "curl", "chrony",
    "etcd-server", "etcd-client", "containerd", "runc", "containernetworking-plugins", "haproxy", "nfs-common",
    # The OS states load modules and set sysctls with these; a minbase host has neither.
    "kmod", "procps",
    # Mount tools of the storage classes that need them on every host (NFS is above).
    "ceph-common", "glusterfs-client",
    # salt-ssh runs its thin minion with the host's python3, which a minbase host lacks.
    "python3",
)
CACHE_ROOT = Path("/var/cache/saltsphere/debs")
REPO_DIR = "debs"
PACKAGES_INDEX = "Packages"
PACKAGES_GZ = "Packages.gz"
RELEASE = "Release"
ORIGIN = "saltsphere"
MERGED_USR = "usr-is-merged"
CLOSURE_FIELDS = ("Version", "Depends", "Pre-Depends", "Provides", "Essential", "Priority")

TIMEOUT_QUERY = 300
TIMEOUT_UPDATE = 600
TIMEOUT_DOWNLOAD = 1800

_RELATION = re.compile(r"([A-Za-z0-9][A-Za-z0-9+.~-]*)(?::[A-Za-z0-9-]+)?\s*(?:\([^)]*\))?")


# --- apt's records -----------------------------------------------------------------------------------------

def parse_apt_cache_show(text: str, architectures=None, fields=None) -> dict[str, dict[str, str]]:
    """The records of ``apt-cache show --no-all-versions`` output by package name, each field in file order.

    A multi-line field keeps its continuation lines after newlines, without
    their leading blank. With ``architectures``, records of other ones (a
    multiarch machine's foreign packages) are skipped; with ``fields``, only
    those (and Package and Architecture) are kept.
    """
    keep = None if fields is None else {"Package", "Architecture", *fields}
    records = {}
    for stanza in _stanzas(text, keep):
        name = stanza.get("Package")
        if not name:
            raise ArtifactError(f"apt printed a record without a Package field: {_first_line(stanza)}")
        if architectures is not None and stanza.get("Architecture") not in architectures:
            continue
        records.setdefault(name, stanza)
    return records


def _stanzas(text, keep):
    stanza, key = {}, None
    for line in text.splitlines():
        if not line.strip():
            if stanza:
                yield stanza
            stanza, key = {}, None
        elif line[0] in " \t":
            if key is None:
                raise ArtifactError(f"apt printed a continuation line outside any field: {line!r}")
            if key in stanza:
                stanza[key] += "\n" + line[1:]
        else:
            key, colon, value = line.partition(":")
            if not colon:
                raise ArtifactError(f"apt printed a line that is not 'Field: value': {line!r}")
            if keep is None or key in keep:
                stanza[key] = value.strip()
    if stanza:
        yield stanza


def _first_line(stanza):
    return next((f"{key}: {value}" for key, value in stanza.items()), "")


def relations(value: str) -> list[list[str]]:
    """``a (>= 1) | b:any, c`` -> ``[["a", "b"], ["c"]]``: the alternatives of each relation, by name only."""
    groups = []
    for part in value.split(","):
        if not part.strip():
            continue
        group = []
        for alternative in part.split("|"):
            match = _RELATION.fullmatch(alternative.strip())
            if not match:
                raise ArtifactError(f"cannot read the package relation {alternative.strip()!r} in {value!r}")
            group.append(match.group(1))
        groups.append(group)
    return groups


def index(records: dict[str, dict]):
    """``lookup`` for :func:`dependency_closure` over ``records``.

    ``lookup(name)`` is the list of records that can stand for ``name``: the
    package's own when there is one, else those of the packages that provide
    it, in name order; empty when nothing does.
    """
    providers = {}
    for name in sorted(records):
        for group in relations(records[name].get("Provides", "")):
            for provided in group:
                providers.setdefault(provided, []).append(records[name])

    def lookup(name):
        if name in records:
            return [records[name]]
        return list(providers.get(name, ()))

    return lookup


# --- the closure -------------------------------------------------------------------------------------------

def on_every_host(record: dict) -> bool:
    """Whether the package is one debootstrap's minbase starts from: Essential or ``Priority: required``."""
    return record.get("Essential", "").lower() == "yes" or record.get("Priority", "").lower() == "required"


def dependency_closure(packages, lookup, base=()) -> list[str]:
    """The names of ``packages`` and everything they need that a minimal Debian host lacks, sorted.

    Depends and Pre-Depends are followed; of alternatives the first that apt
    knows is taken, and a virtual package is stood for by a provider already
    taken (or on every host) if there is one. Versions are not compared: the
    repository holds apt's candidates, which satisfy each other.

    ``base`` names what every host has installed (:func:`on_every_host`); with
    what they depend on they are what a minbase host consists of. Those, and
    any package marked as on every host, are left out unless asked for by
    name, and what they depend on is not followed.
    """
    packages = list(dict.fromkeys(packages))
    everywhere = set(_reach(base, lookup, follow=lambda record: True, prefer=()))
    asked = set(packages)

    def needed(record):
        return record["Package"] in asked or not (record["Package"] in everywhere or on_every_host(record))

    return sorted(name for name, record in _reach(packages, lookup, follow=needed, prefer=everywhere).items()
                  if needed(record))


def _reach(names, lookup, follow, prefer) -> dict[str, dict]:
    """Every record reached from ``names`` along Depends and Pre-Depends, by package name."""
    taken = {}
    queue = deque()

    def choose(group):
        # As apt does: an or-group that something taken (or installed) satisfies needs nothing new.
        found = [records for records in map(lookup, group) if records]
        if not found:
            return None
        offered = [record for records in found for record in records]
        return (next((r for r in offered if r["Package"] in taken), None)
                or next((r for r in offered if r["Package"] in prefer), None)
                or found[0][0])

    def take(record):
        if record["Package"] not in taken:
            taken[record["Package"]] = record
            if follow(record):
                queue.append(record)

    for name in dict.fromkeys(names):
        record = choose([name])
        if record is None:
            raise ArtifactError(f"apt knows no package {name!r}, which is asked for by name: check the name, "
                                "or run apt-get update if the machine's package lists are old")
        take(record)
    while queue:
        record = queue.popleft()
        for field in ("Pre-Depends", "Depends"):
            for group in relations(record.get(field, "")):
                chosen = choose(group)
                if chosen is None:
                    raise ArtifactError(
                        f"apt knows no package {' or '.join(map(repr, group))}, which {record['Package']} "
                        f"{record.get('Version', '')} needs ({field}: {record[field]}); run apt-get update, "
                        "or add the apt source that carries it"
                    )
                take(chosen)
    return taken


# --- the repository ----------------------------------------------------------------------------------------

def stale_files(present, wanted) -> list[str]:
    """What a repository directory holds that the new build does not: earlier versions and interrupted writes."""
    return sorted(set(present) - set(wanted))


def deb_name(record: dict) -> str:
    """The pool's file name, which has no epoch: an epoch's colon would not survive a URL."""
    return Path(record["Filename"]).name


def download_name(record: dict) -> str:
    """The name ``apt-get download`` gives the file: its version keeps the epoch, with the colon quoted."""
    return f"{record['Package']}_{record['Version'].replace(':', '%3a')}_{record['Architecture']}.deb"


def packages_index(records) -> str:
    """The ``Packages`` file of a flat repository holding ``records``' files, sorted so that it is reproducible."""
    stanzas = []
    for record in sorted(records, key=lambda r: (r["Package"], r["Version"], r["Architecture"])):
        fields = dict(record, Filename=f"./{deb_name(record)}")
        stanzas.append("".join(_field(key, value) for key, value in fields.items()))
    return "\n".join(stanzas)


def _field(key, value):
    continued = value.replace("\n", "\n ")
    return f"{key}: {continued}\n"


def release_text(files: dict[str, bytes], date: str, previous: str | None = None) -> str:
    """The ``Release`` file listing ``files`` ({name: content}); ``previous`` when it already lists them.

    apt keeps its copy of a Release file whose Date is older than the one it
    fetched before, and with it the old package list: the date must move
    forward with every change. Keeping it when nothing changed makes a rebuild
    reproduce the same bytes.
    """
    hashes = "".join(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}\n"
                     for name, data in sorted(files.items()))
    text = f"Origin: {ORIGIN}\nLabel: {ORIGIN}\nDate: {date}\nSHA256:\n{hashes}"
    if previous is not None and _without_date(previous) == _without_date(text):
        return previous
    return text


def _without_date(text):
    return [line for line in text.splitlines() if not line.startswith("Date:")]


# --- the build ---------------------------------------------------------------------------------------------

def build_deb_repo(out_dir: Path, log, packages=DEFAULT_PACKAGES, cache_dir: Path | None = None) -> list[mf.FileEntry]:
    """Put ``packages`` and their dependencies into ``out_dir/debs/<distribution>/`` as a flat apt repository.

    Returns the manifest entries of the repository's files. Packages are
    downloaded into ``cache_dir`` once and reused while apt's candidate
    version stays the same.
    """
    dist = distribution()
    cache = Path(cache_dir) if cache_dir else CACHE_ROOT / dist
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtifactError(f"cannot create the package cache {cache} ({exc.strerror}); run as root or pass "
                            "another cache directory") from None
    with cachelock.exclusive(cache / ".lock"):
        return _build(Path(out_dir), dist, cache, cache / "apt.log", list(packages), log)




def _build(out_dir, dist, cache, log_file, packages, log):
    native = _query(("dpkg", "--print-architecture"), "read the machine's architecture").strip()
    architectures = (native, "all")
    candidates = _candidates(architectures, log, log_file)
    names = dependency_closure(packages, index(candidates), minbase(candidates))
    chosen = _records(names, architectures)
    log(f"{len(packages)} packages asked for, {len(chosen)} with their dependencies "
        f"({sum(int(r['Size']) for r in chosen) / (1 << 20):.0f} MiB)")
    _download(chosen, cache, log, log_file)
    repo = out_dir / REPO_DIR / dist
    repo.mkdir(parents=True, exist_ok=True)
    for record in chosen:
        _place(cache / download_name(record), repo / deb_name(record))
    index_text = packages_index(chosen).encode()
    index_files = {PACKAGES_INDEX: index_text, PACKAGES_GZ: gzip.compress(index_text, compresslevel=9, mtime=0)}
    previous = repo / RELEASE
    release = release_text(index_files, email.utils.formatdate(usegmt=True),
                           previous.read_text(encoding="utf-8") if previous.is_file() else None)
    for name, data in [*index_files.items(), (RELEASE, release.encode())]:
        _write(repo / name, data)
    wanted = [deb_name(record) for record in chosen] + [*index_files, RELEASE]
    stale = stale_files((path.name for path in repo.iterdir() if not path.is_dir()), wanted)
    for name in stale:
        (repo / name).unlink()
    if stale:
        log(f"removed {len(stale)} files from {repo} that this build no longer holds")
    prefix = f"{REPO_DIR}/{dist}"
    entries = [mf.entry_for(out_dir, f"{prefix}/{deb_name(r)}", name=r["Package"], version=r["Version"],
                            arch=r["Architecture"], kind="deb") for r in chosen]
    entries += [mf.entry_for(out_dir, f"{prefix}/{name}", name=PACKAGES_INDEX, version=dist, arch=native, kind="deb")
                for name in index_files]
    entries.append(mf.entry_for(out_dir, f"{prefix}/{RELEASE}", name=RELEASE, version=dist, arch=native, kind="deb"))
    log(f"apt repository {repo}: {len(chosen)} packages")
    return entries


def minbase(records: dict[str, dict]) -> list[str]:
    """The names :func:`dependency_closure` takes as on every host: what debootstrap's minbase starts from."""
    names = [name for name, record in records.items() if on_every_host(record)]
    # debootstrap adds this to bookworm's minbase to mark its merged /usr; without it
    # init-system-helpers' 'usrmerge | usr-is-merged' would count usrmerge and perl as installed.
    if MERGED_USR in records:
        names.append(MERGED_USR)
    return names


def _candidates(architectures, log, log_file) -> dict[str, dict]:
    # One dump of every candidate costs what a single 'apt-cache show' does (apt may be set up without a
    # cache file and then rebuilds it on every call); the closure needs the providers of virtual packages
    # too, which only the whole list shows.
    def dump():
        text = _query(("apt-cache", "dumpavail"), "list apt's candidate packages")
        return parse_apt_cache_show(text, architectures, fields=CLOSURE_FIELDS)

    records = dump()
    if not records:
        log("apt has no package lists yet: running apt-get update")
        run(("apt-get", "update"), "apt-get update", timeout=TIMEOUT_UPDATE, log_file=log_file, log=log)
        records = dump()
    if not records:
        raise ArtifactError("apt knows no packages even after apt-get update; check /etc/apt/sources.list.d")
    return records


def _records(names, architectures) -> list[dict]:
    """The whole records of ``names``: the repository's index is made of them."""
    records = parse_apt_cache_show(_query(("apt-cache", "show", "--no-all-versions", *names),
                                          "read the packages' records"), architectures)
    missing = [name for name in names if name not in records]
    if missing:
        raise ArtifactError(f"apt-cache show printed no record for {', '.join(missing)}")
    # The hash is how a cached file is known to be the one apt means.
    unhashed = [name for name in names if "SHA256" not in records[name]]
    if unhashed:
        raise ArtifactError(f"apt's records of {', '.join(unhashed)} carry no SHA256; their apt source must "
                            "publish one")
    return [records[name] for name in names]


def _query(argv, step) -> str:
    # Not through run(): its log would keep apt's whole package list, some 50 MB, on every build.
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=TIMEOUT_QUERY)
    except FileNotFoundError:
        raise ArtifactError(f"{step}: {argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"{step}: {' '.join(argv)} did not finish within {TIMEOUT_QUERY} s") from None
    if done.returncode != 0:
        raise ArtifactError(f"{step}: {' '.join(argv)} failed (exit {done.returncode}): "
                            f"{done.stderr.strip() or 'no output'}")
    return done.stdout


def _cached(path: Path, record: dict) -> bool:
    return path.is_file() and path.stat().st_size == int(record["Size"]) and mf.sha256_of(path) == record["SHA256"]


def _download(chosen, cache, log, log_file):
    missing = [record for record in chosen if not _cached(cache / download_name(record), record)]
    if not missing:
        log(f"all {len(chosen)} packages already in {cache}")
        return
    log(f"downloading {len(missing)} of {len(chosen)} packages into {cache}")
    for record in missing:
        # Whatever is there failed the hash check: apt-get download is to write it afresh.
        (cache / download_name(record)).unlink(missing_ok=True)
    try:
        run(("apt-get", "download", *(f"{r['Package']}:{r['Architecture']}={r['Version']}" for r in missing)),
            "download the packages", timeout=TIMEOUT_DOWNLOAD, log_file=log_file, log=log, cwd=cache)
    except ArtifactError as exc:
        raise ArtifactError(f"{exc}; if the mirror has moved on to newer versions, run apt-get update and "
                            "build again") from None
    for record in missing:
        if not _cached(cache / download_name(record), record):
            raise ArtifactError(f"apt-get download left no intact {download_name(record)} in {cache} "
                                f"(expected sha256 {record['SHA256']}); see {log_file}")


def _place(source: Path, destination: Path):
    if destination.is_file() and os.path.samefile(source, destination):
        return
    tmp = destination.with_name(f".{destination.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        # The bundle is on another file system than the cache.
        shutil.copyfile(source, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, destination)


def _write(path: Path, data: bytes):
    if path.is_file() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
