"""``saltsphere etcd restore``: the cluster's etcd back to a snapshot that ``saltsphere etcd backup`` took.

The snapshot is checked against its recorded sha256 before anything else;
then, once confirmed, the ``kubesphere.etcd_restore`` orchestration parks the
masters' control planes, restores every member at once from the snapshot (the
ext_pillar gives it to etcd members only, in that phase's restore step:
:func:`host_pillar`), waits for a healthy etcd, brings the control planes
back and waits for the API.  Each run uses a new cluster token; a run cut
short is simply run again.

``--dry-run`` (:func:`dry_run`) checks the snapshot the same way, then says
what the restore would do and asks one member, read-only, for etcd's current
revision, to set beside the snapshot's (recorded by the backup): the
difference is what the restore would lose.  The orchestration cannot run
under ``test=True``: its members' step needs the snapshot handed over.
"""

import base64
import datetime
import json
import sys
from pathlib import Path

from saltsphere import etcdbackup, installer
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER

ORCHESTRATION = "etcd_restore"
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_DECLINED = 0, 1, 2, 3


def host_pillar(loaded, spec, orchestration) -> dict:
    """``{"etcd_restore": {data, sha256, token}}`` for an etcd member in the restore step; ``{}`` otherwise.

    Reads only; the snapshot is checked against its recorded sha256 again.
    """
    snapshot, token = orchestration.get("snapshot"), orchestration.get("token")
    if ETCD not in spec.roles or not snapshot:
        return {}
    if not token:
        raise ActionableError("the etcd_restore phase names a snapshot but no cluster token")
    digest = etcdbackup.verify(snapshot)
    data = Path(snapshot).read_bytes()
    return {"etcd_restore": {"data": base64.b64encode(data).decode("ascii"), "sha256": digest, "token": token}}


def new_token(now) -> str:
    return f"saltsphere-restore-{now.astimezone(datetime.timezone.utc):%Y%m%dT%H%M%SZ}"


def run_orchestration(loaded, snapshot, token, timeout=installer.PHASE_TIMEOUT):
    """``salt-run state.orchestrate kubesphere.etcd_restore`` with the snapshot's pillar: (code, stdout, stderr)."""
    directory = Path(loaded.directory)
    pillar = json.dumps({"saltsphere_etcd_restore": {"snapshot": str(snapshot), "token": token}})
    argv = [installer.salt_run(), "--saltfile", str(directory / "Saltfile"), "--out=json",
            "state.orchestrate", f"kubesphere.{ORCHESTRATION}", f"pillar={pillar}"]
    return installer.run_group(argv, directory, timeout)


def run(loaded, snapshot, *, assume_yes=False, ask=input, runner=run_orchestration, now=None, out=None) -> int:
    """Check, confirm and restore; 0 once etcd and the API are back, 3 when the operator declined."""
    out = out or sys.stdout
    path = Path(snapshot).resolve()
    digest = etcdbackup.verify(path)
    members = [spec.name for spec in loaded.role_members(ETCD)]
    masters = [spec.name for spec in loaded.role_members(MASTER)]
    if not members:
        raise ActionableError(f"{loaded.hosts_ini} has no [etcd] host to restore")
    if len(members) > 1:
        # Supported means tested: the sandbox tests restore a one-member etcd.
        print(f"warning: untested: restoring {len(members)} etcd members at once is not yet proven by the sandbox "
              "tests (they restore one member); `saltsphere status` afterwards shows whether every member is back",
              file=sys.stderr)
    print(f"Restore {path} (sha256 {digest[:16]}...) onto etcd members {', '.join(members)}.\n"
          f"The API servers on {', '.join(masters)} stop until etcd is back; everything written to the cluster "
          "since this snapshot is lost.", file=out, flush=True)
    if not assume_yes:
        try:
            answer = ask("Type yes to restore: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("Nothing was changed.", file=out)
            return EXIT_DECLINED
    token = new_token(now or datetime.datetime.now(datetime.timezone.utc))
    result = installer.outcome(*runner(loaded, path, token), hosts=list(loaded.hosts))
    if not result.ok:
        print(installer.failure_message(ORCHESTRATION, result), file=out)
        return EXIT_FAILED
    print(f"etcd restored from {path.name} on {', '.join(members)} (cluster token {token}); the API answers.",
          file=out)
    return EXIT_OK


def dry_report(loaded, path, digest, recorded, current, why_not) -> dict:
    """What the restore would do; ``recorded``: the backup's record of the snapshot, ``current``: a member's status.

    ``current`` is None when no member answered (``why_not`` says why).  Pure.
    """
    taken = etcdbackup.taken_at(path)
    snapshot_revision = (recorded or {}).get("revision")
    revision = (current or {}).get("revision")
    return {
        "snapshot": {"path": str(path), "size": path.stat().st_size, "sha256": digest,
                     "taken": taken.isoformat() if taken else None, "revision": snapshot_revision,
                     "total_keys": (recorded or {}).get("total_keys"), "from": (recorded or {}).get("host")},
        "members": [spec.name for spec in loaded.role_members(ETCD)],
        "masters": [spec.name for spec in loaded.role_members(MASTER)],
        "cluster": {"answered": current is not None, "error": why_not, "host": (current or {}).get("host"),
                    "revision": revision, "version": (current or {}).get("version")},
        "revisions_lost": revision - snapshot_revision
        if isinstance(revision, int) and isinstance(snapshot_revision, int) else None,
    }


def dry_lines(report) -> list:
    snapshot, now = report["snapshot"], report["cluster"]
    taken = snapshot["taken"] or "unknown (not a name `saltsphere etcd backup` gives)"
    revision = snapshot["revision"] if snapshot["revision"] is not None else \
        "not recorded (the backup predates recorded revisions)"
    lines = ["Dry run of etcd restore: nothing is parked, restored or written.",
             f"Snapshot {snapshot['path']}: {snapshot['size']} bytes, sha256 {snapshot['sha256'][:16]}... (matches "
             f"the recorded one), taken {taken}, revision {revision}"
             + (f", {snapshot['total_keys']} keys" if snapshot["total_keys"] is not None else ""),
             "The restore would:",
             f"  1. park the control plane on {', '.join(report['masters'])}",
             f"  2. restore etcd members {', '.join(report['members'])} from the snapshot, all at once, "
             "with a new cluster token",
             "  3. wait for a healthy etcd, bring the control planes back and wait for the API"]
    if now["answered"]:
        lines.append(f"The cluster now (asked of {now['host']}, etcd {now['version']}): revision {now['revision']}.")
        lost = report["revisions_lost"]
        if lost is None:
            lines.append("How much would be lost is unknown: the snapshot's revision was not recorded.")
        elif lost >= 0:
            lines.append(f"Restoring would lose {lost} revision(s): every write to the cluster since the snapshot.")
        else:
            lines.append(f"The cluster's revision is {-lost} behind the snapshot's: it was restored from an older "
                         "snapshot since, or is another cluster's etcd; check the snapshot is the one meant.")
    else:
        lines.append(f"The cluster did not answer ({now['error']}): the restore is how it would come back; what "
                     "it held since the snapshot cannot be told.")
    return lines


def dry_run(loaded, snapshot, *, call=None, as_json=False, out=None, err=None) -> int:
    """Check the snapshot and say what the restore would do; 0 (also when the cluster is down), 2 for a bad snapshot."""
    out, err = out or sys.stdout, err or sys.stderr
    path = Path(snapshot).resolve()
    try:
        digest = etcdbackup.verify(path)
        if not loaded.role_members(ETCD):
            raise ActionableError(f"{loaded.hosts_ini} has no [etcd] host to restore")
    except ActionableError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INVALID
    try:
        current, why_not = etcdbackup.current(
            loaded, call or etcdbackup.salt_call(loaded, etcdbackup.STATUS_FUNCTION)), None
    except ActionableError as exc:
        current, why_not = None, str(exc)
    report = dry_report(loaded, path, digest, etcdbackup.recorded_status(path), current, why_not)
    if as_json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print("\n".join(dry_lines(report)), file=out)
    return EXIT_OK
