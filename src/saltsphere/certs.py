"""``saltsphere certs check``: every certificate the cluster depends on, and how long each has left.

Three sources, one table: the taskbox's own PKI (``.saltsphere/pki`` and the
administrator's kubeconfig), and what the hosts hold, asked through salt-ssh
(``saltsphere_certs.certificates``, which returns certificates only — never a
key): each master's kubeadm certificates and kubeconfigs, each kubelet's client
certificate, each etcd member's certificates.  :func:`rows` turns the answers
into rows and is pure; reading the taskbox's files and asking the hosts are
separate (:func:`taskbox_files`, :func:`ask_hosts`).

A certificate is *due* when it has ``certs_warn_days`` whole days or fewer
left (an expired one has a negative count).  A host that did not answer, or a
file it should hold and does not, is a row of its own with the reason; either
makes the check fail.
"""

import base64
import datetime
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from cryptography import x509

from saltsphere import hostpki, kubeconfig, pki
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER, NODE

EXIT_OK, EXIT_DUE = 0, 1
TASKBOX = "taskbox"
HOST_FUNCTION = "saltsphere_certs.certificates"

# kubeadm's fixed layout: its kubeconfigs, and the client pair kubelet rotates itself.
KUBECONFIG_DIR = "/etc/kubernetes"
CONTROL_PLANE_KUBECONFIGS = ("admin.conf", "controller-manager.conf", "scheduler.conf")
KUBELET_KUBECONFIG = f"{KUBECONFIG_DIR}/kubelet.conf"
KUBELET_CLIENT = "/var/lib/kubelet/pki/kubelet-client-current.pem"
# What kubeadm 1.20 makes on a master with an external etcd, and what the kubernetes role adds to it.
KUBEADM_CERTS = ("ca", "apiserver", "apiserver-kubelet-client", "front-proxy-ca", "front-proxy-client",
                 "apiserver-etcd-client", "etcd/ca")
# The etcd role's files (salt/etcd/config.sls).
ETCD_CERTS = ("ca", "peer", "server", "healthcheck")


@dataclass(frozen=True)
class Row:
    host: str
    file: str
    subject: str | None = None
    issuer: str | None = None
    not_after: str | None = None
    days_left: int | None = None
    due: bool = False
    error: str | None = None


def host_paths(loaded) -> dict:
    """``{host: (path or pattern, ...)}``: what each host holds by its roles; hosts with none are left out."""
    etcd_dir = hostpki.etcd_pki_dir()
    wanted = {}
    for spec in loaded.hosts.values():
        paths = []
        if MASTER in spec.roles:
            paths += [f"{hostpki.KUBE_PKI}/{name}.crt" for name in KUBEADM_CERTS]
            # Patterns: whatever else kubeadm put there is listed too.
            paths += [f"{hostpki.KUBE_PKI}/*.crt", f"{hostpki.KUBE_PKI}/etcd/*.crt"]
            paths += [f"{KUBECONFIG_DIR}/{name}" for name in CONTROL_PLANE_KUBECONFIGS]
        if MASTER in spec.roles or NODE in spec.roles:
            paths += [KUBELET_KUBECONFIG, KUBELET_CLIENT]
        if ETCD in spec.roles:
            paths += [f"{etcd_dir}/{name}.crt" for name in ETCD_CERTS]
        if paths:
            wanted[spec.name] = tuple(dict.fromkeys(paths))
    return wanted


def kubeconfig_client_pem(text) -> str:
    """The client certificates embedded in a kubeconfig (PEM); its keys are never looked at."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return ""
    users = document.get("users") if isinstance(document, dict) else None
    found = []
    for user in users or []:
        entry = user.get("user") if isinstance(user, dict) else None
        data = entry.get("client-certificate-data") if isinstance(entry, dict) else None
        if data:
            try:
                found.append(base64.b64decode(data, validate=True).decode("ascii", "replace"))
            except ValueError:
                continue
    return "".join(found)


def _row(host, file, pem, now, warn_days) -> Row:
    if pem is None:
        return Row(host, file, error="missing: the host has not been installed yet, or the file was removed")
    try:
        cert = x509.load_pem_x509_certificates(pem.encode())[0]
    except ValueError:
        return Row(host, file, error="holds no readable certificate")
    not_after = cert.not_valid_after_utc
    days_left = (not_after - now).days  # whole days, rounded down: an hour past expiry is -1
    return Row(host, file, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
               not_after.isoformat(), days_left, days_left <= warn_days)


def rows(answers, taskbox, now, warn_days) -> list:
    """One :class:`Row` per certificate: the taskbox's first, then each host's, files in name order.

    ``answers`` is ``{host: {path: PEM, "" or None} | "why it did not answer"}``
    (:func:`ask_hosts`), ``taskbox`` ``{file: PEM}`` (:func:`taskbox_files`),
    ``now`` an aware datetime.
    """
    found = [_row(TASKBOX, name, pem, now, warn_days) for name, pem in sorted(taskbox.items())]
    if not taskbox:
        found.append(Row(TASKBOX, ".saltsphere/pki", error="no certificates here: run `salt-run saltsphere.prepare` "
                                                           "(or `saltsphere pki import` if this taskbox lost them)"))
    for host, answer in answers.items():
        if not isinstance(answer, dict):
            found.append(Row(host, "-", error=f"did not answer: {answer or 'no answer'}"))
            continue
        found += [_row(host, path, pem, now, warn_days) for path, pem in sorted(answer.items())]
    return found


def taskbox_files(directory) -> dict:
    """``{file relative to the cluster directory: PEM}`` of the taskbox's certificates; reads only."""
    root = Path(directory)
    files = sorted(pki.pki_dir_of(root).rglob("*.crt"))
    admin = kubeconfig.path(root)
    try:
        found = {str(path.relative_to(root)): path.read_text(encoding="ascii", errors="replace") for path in files}
        if admin.is_file():
            found[str(admin.relative_to(root))] = kubeconfig_client_pem(admin.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ActionableError(f"cannot read the taskbox's certificates: {exc}; run saltsphere as the user that owns "
                              f"{root / '.saltsphere'}") from exc
    return found


def ask_hosts(loaded, call) -> dict:
    """``{host: {path: PEM, "" or None} | why not}``, hosts in inventory order.

    ``call(paths, hosts)`` asks ``hosts`` at once and returns ``{host: answer}``;
    hosts that need the same files are asked together.
    """
    groups = {}
    wanted = host_paths(loaded)
    for host, paths in wanted.items():
        groups.setdefault(paths, []).append(host)
    answers = {}
    for paths, hosts in groups.items():
        answers.update(call(list(paths), hosts))
    return {host: answers.get(host, "no answer") for host in wanted}


def salt_call(loaded):
    """``call`` for :func:`ask_hosts`: salt-ssh with the Salt configuration of the cluster directory."""
    import salt.config

    from saltsphere import clusterdir, sshcall

    clusterdir.init(loaded.directory, loaded.hosts_ini)
    opts = salt.config.master_config(str(Path(loaded.directory) / ".salt" / "etc" / "master"))

    def call(paths, hosts):
        return sshcall.call(opts, loaded, HOST_FUNCTION, kwarg={"paths": paths}, targets=hosts)

    return call


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def soonest(found) -> Row | None:
    """The readable certificate that expires first."""
    readable = [row for row in found if row.error is None]
    return min(readable, key=lambda row: row.not_after, default=None)


def table(found, warn_days) -> list:
    """The rows as aligned text lines (a row that could not be checked says why), then a summary line."""
    header = ("HOST", "FILE", "SUBJECT", "ISSUER", "NOT AFTER", "DAYS LEFT")
    cells = [header]
    for row in found:
        if row.error:
            cells.append((row.host, row.file, f"error: {row.error}"))
            continue
        left = f"{row.days_left}" + (" expired" if row.days_left < 0 else " due" if row.due else "")
        cells.append((row.host, row.file, row.subject, row.issuer, row.not_after, left))
    widths = [max(len(line[i]) for line in cells if len(line) > i + 1) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths)) + "  " + line[-1]
             for line in cells]
    due = sum(1 for row in found if row.due)
    errors = sum(1 for row in found if row.error)
    summary = f"{len(found) - errors} certificates, {due} with {warn_days} days or fewer left (certs_warn_days)"
    first = soonest(found)
    if first:
        summary += f"; the soonest to expire: {first.file} on {first.host}, {first.days_left} days left"
    if errors:
        summary += f"; {errors} could not be checked"
    return lines + ["", summary]


def run(loaded, *, call=None, now=None, as_json=False, out=None) -> int:
    """Print every certificate of ``loaded``; 1 when one is due, a host did not answer or a file is missing."""
    out = out or sys.stdout
    warn_days = loaded.config["certs_warn_days"]
    taskbox = taskbox_files(loaded.directory)
    answers = ask_hosts(loaded, call or salt_call(loaded))
    found = rows(answers, taskbox, now or now_utc(), warn_days)
    if as_json:
        print(json.dumps({"warn_days": warn_days, "certificates": [asdict(row) for row in found]}, indent=2),
              file=out)
    else:
        print("\n".join(table(found, warn_days)), file=out)
    return EXIT_DUE if any(row.due or row.error for row in found) else EXIT_OK
