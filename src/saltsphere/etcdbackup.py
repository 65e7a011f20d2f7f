"""``saltsphere etcd backup``: a snapshot of the cluster's etcd, kept on the taskbox.

A healthy member takes the snapshot over mTLS with its own client certificate
and checks it with ``snapshot status`` (``saltsphere_etcd_snapshot.save``); the
bytes come back xz-compressed in salt-ssh's return, never printed, and nothing stays on the
host.  On the taskbox a snapshot is ``.saltsphere/backups/etcd-<UTC time>.db``
(directory 0700, file 0600) with ``<name>.sha256`` beside it in sha256sum's
format, and ``<name>.status.json``: what ``snapshot status`` said of it on the
member (its revision and key count) and which member took it.  Only the newest
``etcd_backup_keep`` are kept.  A snapshot holds every
Secret of the cluster, so neither file is ever readable by another user.
"""

import base64
import datetime
import functools
import hashlib
import json
import lzma
import os
import re
import sys
from pathlib import Path

import yaml

from saltsphere import paths
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD

HOST_FUNCTION = "saltsphere_etcd_snapshot.save"
STATUS_FUNCTION = "saltsphere_etcd_snapshot.endpoint_status"
BACKUPS = Path(".saltsphere") / "backups"
NAME_RE = re.compile(r"^etcd-\d{8}T\d{6}Z\.db$")
SUFFIX = ".sha256"
STATUS_SUFFIX = ".status.json"


@functools.lru_cache(maxsize=1)
def etcd_parameters() -> dict:
    """The etcd role's paths and ports, as its parameters name them (salt/etcd/parameters)."""
    return yaml.safe_load((paths.project_root() / "salt" / "etcd" / "parameters" / "defaults.yaml").read_text())


def backup_dir(directory, create=False) -> Path:
    """The cluster directory's backups; made private (0700) when ``create``."""
    path = Path(directory) / BACKUPS
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def snapshot_name(now) -> str:
    """``etcd-20261207T063000Z.db`` for an aware ``now``: names sort as the times they were taken."""
    return f"etcd-{now.astimezone(datetime.timezone.utc):%Y%m%dT%H%M%SZ}.db"


def _write_private(path, data):
    temporary = path.with_name(f".{path.name}.tmp")
    if temporary.exists():
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def store(directory, data, sha256, now, status=None) -> Path:
    """Write a snapshot, its sha256 and its ``status`` (when given) into the backups.

    Refuses bytes that do not match ``sha256``.
    """
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ActionableError("the snapshot received does not match the sha256 the host computed: nothing was "
                              "kept; run the backup again")
    folder = backup_dir(directory, create=True)
    path = folder / snapshot_name(now)
    if path.exists():
        raise ActionableError(f"{path} exists already: wait a second and run the backup again")
    _write_private(path, data)
    _write_private(path.with_name(path.name + SUFFIX), f"{sha256}  {path.name}\n".encode("ascii"))
    if status is not None:
        _write_private(path.with_name(path.name + STATUS_SUFFIX), json.dumps(status, sort_keys=True).encode())
    return path


def recorded_status(path) -> dict | None:
    """What the backup recorded of the snapshot at ``path`` (revision, total_keys, host); None when nothing was."""
    path = Path(path)
    try:
        status = json.loads(path.with_name(path.name + STATUS_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def taken_at(path) -> datetime.datetime | None:
    """When the snapshot was taken, read from its name (:func:`snapshot_name`); None for another name."""
    name = Path(path).name
    if not NAME_RE.match(name):
        return None
    return datetime.datetime.strptime(name, "etcd-%Y%m%dT%H%M%SZ.db").replace(tzinfo=datetime.timezone.utc)


def snapshots(directory) -> list:
    """The backups' snapshots, oldest first."""
    folder = backup_dir(directory)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if NAME_RE.match(path.name))


def prune(directory, keep) -> list:
    """Remove all but the newest ``keep`` snapshots (with their sha256 files); the removed paths."""
    found = snapshots(directory)
    removed = found[:max(len(found) - int(keep), 0)]
    for path in removed:
        path.unlink()
        path.with_name(path.name + SUFFIX).unlink(missing_ok=True)
        path.with_name(path.name + STATUS_SUFFIX).unlink(missing_ok=True)
    return removed


def verify(path) -> str:
    """The sha256 of the snapshot at ``path`` when it matches the one recorded beside it; else ActionableError."""
    path = Path(path)
    recorded_at = path.with_name(path.name + SUFFIX)
    try:
        recorded = recorded_at.read_text(encoding="ascii").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError):
        raise ActionableError(f"{recorded_at} is missing or unreadable: a snapshot without its recorded sha256 is "
                              "not restored; restore one that `saltsphere etcd backup` took") from None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ActionableError(f"cannot read {path}: {exc}") from exc
    if digest.hexdigest() != recorded:
        raise ActionableError(f"{path} does not match the sha256 recorded in {recorded_at}: the file changed since "
                              "the backup; nothing was touched")
    return recorded


def member_kwarg(spec) -> dict:
    """The arguments of ``saltsphere_etcd_snapshot.save`` on the member ``spec``."""
    params = etcd_parameters()
    pki_dir = params["pki_dir"]
    return {"endpoint": f"https://{spec.ip}:{params['client_port']}", "ca": f"{pki_dir}/ca.crt",
            "cert": f"{pki_dir}/healthcheck.crt", "key": f"{pki_dir}/healthcheck.key", "etcdctl": params["etcdctl"]}


def take(loaded, call) -> dict:
    """The first member's snapshot that answers; ``call(host, kwarg)`` returns the host function's answer."""
    members = loaded.role_members(ETCD)
    if not members:
        raise ActionableError(f"{loaded.hosts_ini} has no [etcd] host to take a snapshot from")
    reasons = []
    for spec in members:
        answer = call(spec.name, member_kwarg(spec))
        if isinstance(answer, dict) and answer.get("data"):
            return {**answer, "host": spec.name}
        reasons.append(f"{spec.name}: {answer if isinstance(answer, str) else 'answered no snapshot'}")
    raise ActionableError("no etcd member gave a snapshot: " + "; ".join(reasons))


def current(loaded, call) -> dict:
    """``endpoint status`` of the first member that answers (revision, version, db_size, host); reads only.

    ``call(host, kwarg)`` returns the host function's answer.  Raises
    :class:`ActionableError` with every member's reason when none answers.
    """
    reasons = []
    for spec in loaded.role_members(ETCD):
        answer = call(spec.name, member_kwarg(spec))
        if isinstance(answer, dict) and answer.get("revision") is not None:
            return {**answer, "host": spec.name}
        reasons.append(f"{spec.name}: {answer if isinstance(answer, str) else 'answered no status'}")
    raise ActionableError("no etcd member answered: "
                          + ("; ".join(reasons) or f"{loaded.hosts_ini} has no [etcd] host"))


def salt_call(loaded, function=HOST_FUNCTION):
    """``call`` for :func:`take` (or :func:`current`, with its ``function``): salt-ssh with the cluster's Salt."""
    import salt.config

    from saltsphere import clusterdir, sshcall

    clusterdir.init(loaded.directory, loaded.hosts_ini)
    opts = salt.config.master_config(str(Path(loaded.directory) / ".salt" / "etc" / "master"))

    def call(host, kwarg):
        return sshcall.call(opts, loaded, function, kwarg=kwarg, targets=[host],
                            timeout=max(loaded.config["preflight_ssh_timeout_seconds"], 300))[host]

    return call


def backup(loaded, *, call=None, now=None, out=None) -> Path:
    """Take, check and keep one snapshot, then prune to ``etcd_backup_keep``; the snapshot's path."""
    out = out or sys.stdout
    answer = take(loaded, call or salt_call(loaded))
    try:
        data = lzma.decompress(base64.b64decode(answer["data"], validate=True))
    except (ValueError, lzma.LZMAError) as exc:
        raise ActionableError(f"the snapshot from {answer['host']} arrived damaged ({exc}): nothing was kept; "
                              "run the backup again") from exc
    if len(data) != answer["size"]:
        raise ActionableError(f"the snapshot from {answer['host']} arrived with {len(data)} of {answer['size']} "
                              "bytes: nothing was kept; run the backup again")
    status = answer.get("status") or {}
    path = store(loaded.directory, data, answer["sha256"], now or datetime.datetime.now(datetime.timezone.utc),
                 status={**status, "host": answer["host"]})
    removed = prune(loaded.directory, loaded.config["etcd_backup_keep"])
    print(f"{path} ({len(data)} bytes, revision {status.get('revision')}, {status.get('total_keys')} keys, "
          f"from {answer['host']}); sha256 {answer['sha256']}", file=out)
    for old in removed:
        print(f"removed {old.name} (etcd_backup_keep: {loaded.config['etcd_backup_keep']})", file=out)
    return path
