"""``saltsphere certs renew``: every leaf certificate of the cluster issued again from the same CAs.

Bad input stops before any host is contacted: hosts.ini and vars.yml (which
must name [etcd] and [kube-master] hosts), and the CAs and their keys on the
taskbox (:func:`check`).  Once the operator said yes (or
passed ``--yes``), a snapshot of etcd is taken (:func:`saltsphere.etcdbackup.backup`),
then ``salt-run state.orchestrate kubesphere.certs_renew`` renews the
taskbox's certificates and ``.saltsphere/admin.conf``, each etcd member's one
member at a time, and each master's one master at a time (see the
orchestration).  The end is a short summary per host, asked of the hosts
themselves (:mod:`saltsphere.certs`), and the soonest expiry now.  A CA is
never made or replaced.
"""

import json
import sys
from pathlib import Path

from saltsphere import certs, etcdbackup, installer, pki
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER

ORCHESTRATION = "certs_renew"
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def check(loaded):
    """Raise :class:`ActionableError` naming the file and the fix when the renewal cannot run; touches nothing."""
    problems = pki.renewal_problems(loaded.directory)
    if problems:
        raise ActionableError("nothing was touched: " + "; ".join(problems))


def run_orchestration(loaded, backup, timeout=installer.PHASE_TIMEOUT):
    """``salt-run state.orchestrate kubesphere.certs_renew``, naming the backup just taken: (code, stdout, stderr)."""
    directory = Path(loaded.directory)
    pillar = json.dumps({"saltsphere_certs_renew": {"backup": str(backup)}})
    argv = [installer.salt_run(), "--saltfile", str(directory / "Saltfile"), "--out=json",
            "state.orchestrate", f"kubesphere.{ORCHESTRATION}", f"pillar={pillar}"]
    return installer.run_group(argv, directory, timeout)


def confirm(loaded, ask, interactive, out, err) -> bool:
    members = ", ".join(spec.name for spec in loaded.role_members(ETCD))
    masters = ", ".join(spec.name for spec in loaded.role_members(MASTER))
    if not interactive:
        print(f"error: the renewal restarts etcd on {members} and the control plane on {masters}, one host at a "
              "time, and there is no terminal to ask on; pass --yes to renew", file=err)
        return False
    print(f"Every leaf certificate is issued again from the same CAs: etcd restarts on {members} and the control "
          f"plane on {masters}, one host at a time; an etcd snapshot is taken first.", file=out)
    return installer.confirmed(ask, "Renew them?", out)


def summary(loaded, answers, taskbox, now) -> list:
    """One line per host (and the taskbox): how many certificates, the soonest to expire; then the soonest of all."""
    warn_days = loaded.config["certs_warn_days"]
    found = certs.rows(answers, taskbox, now, warn_days)
    lines = []
    for host in [certs.TASKBOX, *answers]:
        own = [row for row in found if row.host == host]
        errors = [row for row in own if row.error]
        first = certs.soonest(own)
        line = f"  {host}: {len(own) - len(errors)} certificates"
        if first:
            line += f", the soonest to expire {first.file} on {first.not_after} ({first.days_left} days left)"
        if errors:
            line += f"; {len(errors)} could not be checked: {errors[0].file}: {errors[0].error}"
        lines.append(line)
    first = certs.soonest(found)
    if first:
        lines.append(f"The soonest to expire now: {first.file} on {first.host}, {first.not_after} "
                     f"({first.days_left} days left).")
    return lines


def run(loaded, *, assume_yes=False, ask=input, interactive=None, backup=etcdbackup.backup,
        runner=run_orchestration, call=None, now=None, out=None, err=None) -> int:
    """Check, confirm, back up, renew, summarise; 0 once every host has its new certificates."""
    out, err = out or sys.stdout, err or sys.stderr
    check(loaded)
    if not assume_yes:
        if interactive is None:
            interactive = sys.stdin is not None and sys.stdin.isatty()
        if not confirm(loaded, ask, interactive, out, err):
            return EXIT_INVALID if not interactive else EXIT_OK
    snapshot = backup(loaded, out=out)
    result = installer.outcome(*runner(loaded, snapshot), hosts=list(loaded.hosts))
    if not result.ok:
        print(installer.failure_message(ORCHESTRATION, result), file=out)
        print(f"The CAs are unchanged and certificates not yet renewed stay valid; fix the cause and run the same "
              f"command again. etcd was backed up to {snapshot}.", file=out)
        return EXIT_FAILED
    print("Certificates renewed; each host now holds:", file=out)
    answers = certs.ask_hosts(loaded, call or certs.salt_call(loaded))
    lines = summary(loaded, answers, certs.taskbox_files(loaded.directory), now or certs.now_utc())
    print("\n".join(lines), file=out)
    return EXIT_OK
