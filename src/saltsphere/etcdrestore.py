"""``saltsphere etcd restore``: the cluster's etcd back to a snapshot that ``saltsphere etcd backup`` took.

The snapshot is checked against its recorded sha256 before anything else;
then, once confirmed, the ``kubesphere.etcd_restore`` orchestration parks the
masters' control planes, restores every member at once from the snapshot (the
ext_pillar gives it to etcd members only, in that phase's restore step:
:func:`host_pillar`), waits for a healthy etcd, brings the control planes
back and waits for the API.  Each run uses a new cluster token; a run cut
short is simply run again.
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
EXIT_OK, EXIT_FAILED, EXIT_DECLINED = 0, 1, 3


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
