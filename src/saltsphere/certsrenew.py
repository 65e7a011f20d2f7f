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

``--dry-run`` (:func:`dry_run`) makes the same checks, then only asks: the
hosts for the certificates they hold, the taskbox's PKI for what
:func:`saltsphere.pki.renew` would issue.  It lists, per host, the files the
renewal would issue again with their expiry now and the validity they would
get, and the order of the restarts; it takes no snapshot, signs nothing and
restarts nothing.  The orchestration cannot run under ``test=True``: its
first step signs on the taskbox, and the hosts' steps need what it signed.
"""

import datetime
import json
import sys
from pathlib import Path

from saltsphere import certs, etcdbackup, hostpki, installer, kubeconfig, pki, validate
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER

ORCHESTRATION = "certs_renew"
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
# Who issues a renewed file again.
BY_TASKBOX, BY_KUBEADM = "taskbox", "kubeadm"
# `kubeadm certs renew all` with an external etcd: its certificates without etcd's, and the control plane's
# kubeconfigs (kubernetes.certs_renewed).  kubelet rotates its own client certificate.
KUBEADM_RENEWED = (*(f"{hostpki.KUBE_PKI}/{name}.crt" for name in ("apiserver", "apiserver-kubelet-client",
                                                                    "front-proxy-client")),
                   *(f"{certs.KUBECONFIG_DIR}/{name}" for name in certs.CONTROL_PLANE_KUBECONFIGS))


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


def renewed_files(spec) -> dict:
    """``{path on the host: (who issues it again, days it will last)}`` for one host, by its roles."""
    renewed = {}
    if ETCD in spec.roles:
        renewed.update({f"{hostpki.etcd_pki_dir()}/{name}.crt": (BY_TASKBOX, pki.CERT_DAYS)
                        for name in ("peer", "server", "healthcheck")})
    if MASTER in spec.roles:
        renewed[f"{hostpki.KUBE_PKI}/apiserver-etcd-client.crt"] = (BY_TASKBOX, pki.CERT_DAYS)
        renewed.update({path: (BY_KUBEADM, validate.CERT_YEAR) for path in KUBEADM_RENEWED})
    return renewed


def taskbox_renewed(loaded) -> dict:
    """The same for the taskbox's files (relative to the cluster directory): what :func:`pki.renew` would issue."""
    root = Path(loaded.directory)
    hosts = [(spec.name, spec.roles, spec.ip) for spec in loaded.hosts.values()]
    renewed = {str(Path(path).relative_to(root)): (BY_TASKBOX, pki.CERT_DAYS)
               for path in pki.renewal_pending(root, hosts)}
    # saltsphere_pki.renew writes the administrator's kubeconfig anew around the renewed client pair.
    renewed[str(kubeconfig.path(root).relative_to(root))] = (BY_TASKBOX, pki.CERT_DAYS)
    return renewed


def restarts(loaded) -> list:
    """``[(service, host)]`` in the orchestration's order: each etcd member, then each master's control plane."""
    return [("etcd", spec.name) for spec in loaded.role_members(ETCD)] + \
           [("control plane", spec.name) for spec in loaded.role_members(MASTER)]


def dry_report(loaded, answers, taskbox, taskbox_plan, now) -> dict:
    """What the renewal would do, from the hosts' answers (:func:`certs.ask_hosts`) and the taskbox's files; pure.

    ``taskbox_plan`` is :func:`taskbox_renewed`'s answer.  Only file names,
    dates and counts: never a certificate's content.
    """
    found = certs.rows(answers, taskbox, now, loaded.config["certs_warn_days"])
    plans = {certs.TASKBOX: taskbox_plan}
    plans.update({host: renewed_files(loaded.hosts[host]) for host in answers})
    hosts = {}
    for host, plan in plans.items():
        answer = answers.get(host, taskbox)
        if not isinstance(answer, dict):
            hosts[host] = {"answered": False, "error": f"did not answer: {answer or 'no answer'}", "renewed": [],
                           "kept": []}
            continue
        renewed, kept = [], []
        for row in (row for row in found if row.host == host):
            if row.file not in plan:
                kept.append(row.file)
                continue
            by, days = plan[row.file]
            renewed.append({"file": row.file, "not_after": row.not_after, "days_left": row.days_left,
                            "error": row.error, "by": by, "days": days,
                            "new_not_after": (now + datetime.timedelta(days=days)).date().isoformat()})
        hosts[host] = {"answered": True, "error": None, "renewed": renewed, "kept": kept}
    return {"snapshot_first": True, "backups": str(etcdbackup.backup_dir(loaded.directory)),
            "restarts": [{"service": service, "host": host} for service, host in restarts(loaded)],
            "hosts": hosts, "unanswered": [host for host, entry in hosts.items() if not entry["answered"]]}


def _file_line(entry) -> str:
    who = "signed on the taskbox from the same CA" if entry["by"] == BY_TASKBOX else "renewed by kubeadm on the host"
    now = (f"error: {entry['error']}" if entry["error"]
           else f"expires {entry['not_after'][:10]} ({entry['days_left']} days left)")
    return (f"    {entry['file']}: {now} -> renewed for {entry['days']} days (until about {entry['new_not_after']}), "
            f"{who}")


def dry_lines(loaded, report) -> list:
    """The report for people."""
    etcd = [entry["host"] for entry in report["restarts"] if entry["service"] == "etcd"]
    masters = [entry["host"] for entry in report["restarts"] if entry["service"] == "control plane"]
    lines = [f"Dry run of certs renew on {loaded.hosts_ini}: no snapshot is taken, nothing is signed, written or "
             "restarted.", "The renewal would:",
             f"  1. take an etcd snapshot into {report['backups']} first",
             "  2. issue the taskbox's certificates again from the same CAs (no CA is made or replaced)",
             f"  3. restart etcd on {', then '.join(etcd)}, one member at a time, each healthy before the next",
             f"  4. restart the control plane on {', then '.join(masters)}, one master at a time, each API "
             "answering before the next",
             "Certificates it would issue again (expiry now -> after the renewal):"]
    for host, entry in report["hosts"].items():
        if not entry["answered"]:
            lines.append(f"  {host}: {entry['error']}")
            continue
        kept = f"; {len(entry['kept'])} kept (CAs; kubelet renews its own)" if entry["kept"] else ""
        lines.append(f"  {host}: {len(entry['renewed'])} renewed{kept}")
        lines += [_file_line(renewed) for renewed in entry["renewed"]]
    if report["unanswered"]:
        lines.append(f"{', '.join(report['unanswered'])} did not answer: what it holds could not be listed; check "
                     "with `salt-ssh HOST test.ping`.")
    return lines


def dry_run(loaded, *, call=None, now=None, as_json=False, out=None, err=None) -> int:
    """What the renewal would do, asked of the hosts; 1 when a host did not answer, 2 when it could not run."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        check(loaded)
        plan = taskbox_renewed(loaded)
    except ActionableError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INVALID
    answers = certs.ask_hosts(loaded, call or certs.salt_call(loaded))
    report = dry_report(loaded, answers, certs.taskbox_files(loaded.directory), plan, now or certs.now_utc())
    if as_json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print("\n".join(dry_lines(loaded, report)), file=out)
    return EXIT_FAILED if report["unanswered"] else EXIT_OK
