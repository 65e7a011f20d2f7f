"""
etcd snapshots on a member: one taken for the taskbox, one restored into a fresh data directory.

Runs on etcd members with Salt and the standard library, and drives etcdctl
(v3 API) with the member's client certificate.  A snapshot holds every Secret
of the cluster: on a host it only ever lives in a private temporary directory
(0700, the file 0600) for as long as one function runs, and it leaves the host
only in this function's return, which salt-ssh hands to the taskbox.
"""

import base64
import hashlib
import json
import lzma
import os
import shutil
import tempfile
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_etcd_snapshot"

# Bigger than any sane Kubernetes store (etcd's own default quota is 2 GiB):
# the snapshot travels base64-encoded in one salt-ssh return.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
SNAPSHOT_FILE = "snapshot.db"


def __virtual__():
    return __virtualname__


def _etcdctl(argv, timeout=300):
    result = __salt__["cmd.run_all"](argv, env={"ETCDCTL_API": "3"}, python_shell=False, timeout=timeout,
                                     output_loglevel="quiet", ignore_retcode=True)
    if result["retcode"] != 0:
        text = (result.get("stderr") or result.get("stdout") or "").strip()[-1000:]
        raise CommandExecutionError(f"{' '.join(argv[:1] + [a for a in argv[1:] if not a.startswith('--')])} "
                                    f"failed (exit {result['retcode']}): {text}")
    return result.get("stdout", "")


def status(path, etcdctl="etcdctl"):
    """
    ``etcdctl snapshot status`` of the snapshot at ``path``: its hash, revision, keys and size.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd_snapshot.status /root/snapshot.db
    """
    out = _etcdctl([etcdctl, "snapshot", "status", path, "--write-out=json"], timeout=120)
    try:
        found = json.loads(out)
    except ValueError as exc:
        raise CommandExecutionError(f"etcdctl snapshot status of {path}: unexpected answer {out[:200]!r}") from exc
    return {"hash": found.get("hash"), "revision": found.get("revision"), "total_keys": found.get("totalKey"),
            "total_size": found.get("totalSize")}


def endpoint_status(endpoint, ca, cert, key, etcdctl="etcdctl", timeout=30):
    """
    ``etcdctl endpoint status`` of the member at ``endpoint``: its revision, version and database size; reads only.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd_snapshot.endpoint_status https://10.0.0.1:2379 /etc/etcd/pki/ca.crt \\
            /etc/etcd/pki/healthcheck.crt /etc/etcd/pki/healthcheck.key
    """
    out = _etcdctl([etcdctl, f"--endpoints={endpoint}", f"--cacert={ca}", f"--cert={cert}", f"--key={key}",
                    "endpoint", "status", "--write-out=json"], timeout=timeout)
    try:
        found = json.loads(out)[0]["Status"]
        revision = found["header"]["revision"]
    except (ValueError, LookupError, TypeError) as exc:
        raise CommandExecutionError(f"etcdctl endpoint status of {endpoint}: unexpected answer {out[:200]!r}") from exc
    return {"revision": revision, "version": found.get("version"), "db_size": found.get("dbSize")}


def save(endpoint, ca, cert, key, etcdctl="etcdctl", max_bytes=DEFAULT_MAX_BYTES, timeout=300):
    """
    A snapshot of the member at ``endpoint``, checked with ``snapshot status``, returned and removed from the host.

    Returns ``{"sha256", "size", "status", "data"}``: ``data`` is the snapshot
    xz-compressed (a store compresses tenfold or more, and salt-ssh carries a
    return at tens of kilobytes a second) in base64, ``sha256`` and ``size``
    those of the snapshot itself.  Refuses a member that is not healthy, and a
    snapshot larger than ``max_bytes``.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd_snapshot.save https://10.0.0.1:2379 /etc/etcd/pki/ca.crt \\
            /etc/etcd/pki/healthcheck.crt /etc/etcd/pki/healthcheck.key --out=quiet
    """
    health = __salt__["saltsphere_etcd.endpoint_health"](endpoint, ca, cert, key)
    if not health["healthy"]:
        raise CommandExecutionError(f"no snapshot from a member that is not healthy: {health['error']}")
    workdir = tempfile.mkdtemp(prefix="saltsphere-etcd-snapshot-")
    try:
        path = os.path.join(workdir, SNAPSHOT_FILE)
        _etcdctl([etcdctl, f"--endpoints={endpoint}", f"--cacert={ca}", f"--cert={cert}", f"--key={key}",
                  "snapshot", "save", path], timeout=timeout)
        os.chmod(path, 0o600)
        checked = status(path, etcdctl)
        size = os.path.getsize(path)
        if size > int(max_bytes):
            raise CommandExecutionError(f"the snapshot is {size} bytes, more than {int(max_bytes)}: compact and "
                                        "defragment etcd, or take this one with etcdctl by hand")
        with open(path, "rb") as handle:
            data = handle.read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "status": checked,
            "data": base64.b64encode(lzma.compress(data)).decode("ascii")}


def restore(data, sha256, data_dir, name, initial_cluster, peer_url, token, user="etcd", etcdctl="etcdctl"):
    """
    Restore a snapshot (``data`` in base64, checked against ``sha256``) into ``data_dir``, which must not exist.

    The member keeps its name and peer URL and joins the cluster
    ``initial_cluster`` under the new ``token``; ``data_dir`` ends up owned by
    ``user``, mode 0700.  The decoded snapshot is removed before this returns.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd_snapshot.restore "$(base64 -w0 s.db)" "$(sha256sum s.db | cut -c1-64)" \\
            /var/lib/etcd/saltsphere.restore master master=https://10.0.0.1:2380 https://10.0.0.1:2380 new-token
    """
    raw = base64.b64decode(data, validate=True)
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise CommandExecutionError("the snapshot received does not match its sha256: nothing was restored; "
                                    "run the restore again")
    if os.path.exists(data_dir):
        raise CommandExecutionError(f"{data_dir} exists already: remove it, it is not the member's data directory")
    workdir = tempfile.mkdtemp(prefix="saltsphere-etcd-restore-")
    try:
        path = os.path.join(workdir, SNAPSHOT_FILE)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(raw)
        del raw
        _etcdctl([etcdctl, "snapshot", "restore", path, f"--data-dir={data_dir}", f"--name={name}",
                  f"--initial-cluster={initial_cluster}", f"--initial-advertise-peer-urls={peer_url}",
                  f"--initial-cluster-token={token}"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    os.chmod(data_dir, 0o700)
    __salt__["file.chown"](data_dir, user, user)
    for root, dirs, files in os.walk(data_dir):
        for entry in dirs + files:
            __salt__["file.chown"](os.path.join(root, entry), user, user)
    return {"data_dir": data_dir, "name": name, "token": token}


def running(process):
    """
    Whether a process whose command name is ``process`` runs on the host (read from /proc).

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd_snapshot.running kube-apiserver
    """
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
                if handle.read().strip() == process:
                    return True
        except OSError:
            continue
    return False


def wait_stopped(process, timeout=120, interval=2):
    """
    Wait until no process named ``process`` runs; ``True`` when none does within ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd_snapshot.wait_stopped kube-apiserver
    """
    deadline = time.monotonic() + float(timeout)
    while running(process):
        if time.monotonic() >= deadline:
            return False
        time.sleep(float(interval))
    return True
