"""
An etcd member's data restored from a snapshot, and the gates around a restore.

``restored`` takes the snapshot from the pillar (the taskbox gives it to etcd
members only, in the orchestration's ``etcd_restore`` phase), restores it into
a fresh directory beside the data directory, keeps the old data directory
aside (``<data dir>.before-restore``, dropped by ``aside_absent`` once the
cluster is healthy) and puts the fresh one in its place.  A file beside the
data directory records the restore's cluster token, so a run cut short and
started again restores only the members that are not restored yet.

.. code-block:: yaml

    etcd-restore-saltsphere-etcd-snapshot-restored:
      saltsphere_etcd_snapshot.restored:
        - name: /var/lib/etcd/saltsphere
        - snapshot_pillar: saltsphere:etcd_restore
        - member: master
        - initial_cluster: master=https://10.0.0.1:2380
        - peer_url: https://10.0.0.1:2380
"""

import os
import shutil

import salt.utils.data
from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_etcd_snapshot"

ASIDE, FRESH, MARKER = ".before-restore", ".restoring", ".restored-token"


def __virtual__():
    if "saltsphere_etcd_snapshot.restore" not in __salt__:
        return False, "the saltsphere_etcd_snapshot execution module is not available"
    return __virtualname__


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _token_of(name):
    try:
        with open(name + MARKER, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def restored(name, snapshot_pillar, member, initial_cluster, peer_url, user="etcd", etcdctl="etcdctl"):
    """
    The data directory ``name`` holds the snapshot of ``snapshot_pillar`` (``{data, sha256, token}``),
    restored for ``member`` under the snapshot's cluster token.  etcd must be stopped (require it).
    """
    ret = _ret(name)
    # From the pillar itself: pillar.get would hand back the masked text Salt prints.
    snapshot = salt.utils.data.traverse_dict_and_list(__pillar__, snapshot_pillar, None, delimiter=":") or {}
    token = snapshot.get("token")
    if not (token and snapshot.get("data") and snapshot.get("sha256")):
        ret.update(result=False, comment=f"no snapshot in the pillar {snapshot_pillar}: this state runs in the "
                                         "etcd_restore orchestration (`saltsphere etcd restore SNAPSHOT`)")
        return ret
    if _token_of(name) == token and os.path.isdir(os.path.join(name, "member")):
        ret["comment"] = f"{name} holds the snapshot {snapshot['sha256'][:12]} restored already (token {token})"
        return ret
    changes = {"restored": {"snapshot": snapshot["sha256"], "token": token, "member": member}}
    if os.path.exists(name):
        changes["aside"] = name + ASIDE
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"{name} would be restored from the snapshot")
        return ret
    fresh = name + FRESH
    try:
        shutil.rmtree(fresh, ignore_errors=True)
        __salt__["saltsphere_etcd_snapshot.restore"](snapshot["data"], snapshot["sha256"], fresh, member,
                                                    initial_cluster, peer_url, token, user=user, etcdctl=etcdctl)
        if os.path.exists(name):
            # The first restore keeps what was there; a later attempt's own result is simply replaced.
            if os.path.exists(name + ASIDE):
                shutil.rmtree(name)
            else:
                os.rename(name, name + ASIDE)
        os.rename(fresh, name)
        descriptor = os.open(name + MARKER, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
    except (CommandExecutionError, OSError, ValueError) as exc:
        ret.update(result=False, comment=f"restoring {name} failed: {exc}. The old data, if any, is in "
                                         f"{name}{ASIDE} or still in {name}; fix the cause and run the restore "
                                         "again")
        return ret
    ret.update(changes=changes, comment=f"{name} restored from the snapshot {snapshot['sha256'][:12]}")
    return ret


def aside_absent(name):
    """The data directory ``name`` kept aside by a restore (``<name>.before-restore``) is gone."""
    ret = _ret(name)
    aside = name + ASIDE
    if not os.path.exists(aside):
        ret["comment"] = "no data directory kept aside"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes={"removed": aside}, comment=f"{aside} would be removed")
        return ret
    shutil.rmtree(aside)
    ret.update(changes={"removed": aside}, comment=f"{aside} removed: the restored cluster is healthy")
    return ret


def process_gone(name, timeout=120):
    """A gate: no process named ``name`` runs (kubelet stops a static pod whose manifest was parked)."""
    ret = _ret(name)
    if not __salt__["saltsphere_etcd_snapshot.running"](name):
        ret["comment"] = f"{name} is not running"
        return ret
    if __opts__["test"]:
        ret.update(result=None, comment=f"{name} still runs; the run would wait up to {timeout} s for it to stop")
        return ret
    if not __salt__["saltsphere_etcd_snapshot.wait_stopped"](name, timeout=timeout):
        ret.update(result=False, comment=f"{name} still runs after {timeout} s: check that kubelet runs "
                                         "(`systemctl status kubelet`) and stops it, then run the restore again")
        return ret
    ret["comment"] = f"{name} stopped"
    return ret


def api_ready(name, timeout=300):
    """A gate: the Kubernetes API at ``name`` (``host:port``) answers ``/healthz``."""
    ret = _ret(name)
    if __opts__["test"]:
        ready = __salt__["saltsphere_kubernetes.api_ready"](name)
        ret.update(result=True if ready else None,
                   comment="the API answers" if ready else "the API does not answer yet; the run would wait for it")
        return ret
    ready, problem = __salt__["saltsphere_kubernetes.wait_api"](name, seconds=timeout)
    if not ready:
        ret.update(result=False, comment=f"the API at {name} did not answer within {timeout} s: {problem}. Check "
                                         "`crictl ps -a` and kubelet's log on this master, then run again")
        return ret
    ret["comment"] = "the API answers"
    return ret
