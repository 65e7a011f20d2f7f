"""The cluster's PKI as its hosts hold it: where the CAs are, and importing them back onto the taskbox.

The taskbox makes every CA, but once a cluster runs, its hosts hold what they
were given: the masters kubeadm's layout (``/etc/kubernetes/pki``: the
Kubernetes and front-proxy CAs with their keys, the service-account key, the
API server's etcd client pair), the etcd members their own certificates and
the etcd CA's certificate — never its key.  A taskbox that lost
``.saltsphere/`` can take the cluster's material back from there
(``saltsphere pki import``) instead of making a new CA that the hosts would
reject.
"""

import functools
from pathlib import Path

import yaml

from saltsphere import paths, pki
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER

KUBE_PKI = "/etc/kubernetes/pki"


@functools.lru_cache(maxsize=1)
def etcd_pki_dir() -> str:
    """The etcd role's certificate directory, as its parameters name it."""
    defaults = paths.project_root() / "salt" / "etcd" / "parameters" / "defaults.yaml"
    return yaml.safe_load(defaults.read_text())["pki_dir"]


def ca_files_on_hosts() -> dict:
    """Where each CA's certificate lives on a host that holds it."""
    return {
        "kubernetes": (f"{KUBE_PKI}/ca.crt",),
        "front-proxy-ca": (f"{KUBE_PKI}/front-proxy-ca.crt",),
        "etcd-ca": (f"{KUBE_PKI}/etcd/ca.crt", f"{etcd_pki_dir()}/ca.crt"),
    }


def import_plan(loaded, source=None) -> dict:
    """``{host: {host path: taskbox path}}``: what ``saltsphere pki import`` copies, from which host."""
    masters = loaded.role_members(MASTER)
    if not masters:
        raise ActionableError(f"{loaded.hosts_ini} has no [kube-master] host to import the CAs from")
    if source is None:
        source = masters[0].name
    elif source not in {m.name for m in masters}:
        raise ActionableError(f"--from {source}: not a host of [kube-master] in {loaded.hosts_ini}; "
                              f"choose one of {', '.join(m.name for m in masters)}")
    root = pki.pki_dir_of(loaded.directory)
    kube, etcd = root / "kubernetes", root / "etcd"
    plan = {source: {
        f"{KUBE_PKI}/ca.crt": kube / "ca.crt", f"{KUBE_PKI}/ca.key": kube / "ca.key",
        f"{KUBE_PKI}/front-proxy-ca.crt": kube / "front-proxy-ca.crt",
        f"{KUBE_PKI}/front-proxy-ca.key": kube / "front-proxy-ca.key",
        f"{KUBE_PKI}/sa.pub": kube / "sa.pub", f"{KUBE_PKI}/sa.key": kube / "sa.key",
        f"{KUBE_PKI}/etcd/ca.crt": etcd / "ca.crt",
        f"{KUBE_PKI}/apiserver-etcd-client.crt": etcd / "apiserver-etcd-client.crt",
        f"{KUBE_PKI}/apiserver-etcd-client.key": etcd / "apiserver-etcd-client.key",
    }}
    member_dir = etcd_pki_dir()
    for member in loaded.role_members(ETCD):
        files = plan.setdefault(member.name, {})
        for pair, name in (("peer", f"peer-{member.name}"), ("server", f"server-{member.name}"),
                           ("healthcheck", f"healthcheck-{member.name}")):
            files[f"{member_dir}/{pair}.crt"] = etcd / f"{name}.crt"
            files[f"{member_dir}/{pair}.key"] = etcd / f"{name}.key"
    return plan


def write_import(loaded, plan, contents) -> list:
    """Write what the hosts returned (``{host: {path: text}}``) onto the taskbox; the paths written.

    Refuses, before writing anything, when a file is missing on its host or
    when the taskbox already holds a CA: importing is for a taskbox that has
    none.
    """
    present = [kind for kind in pki.CAS if kind not in pki.missing_cas(pki.pki_dir_of(loaded.directory))]
    if present:
        raise ActionableError(f"the taskbox already holds the {', '.join(present)} CA in "
                              f"{pki.pki_dir_of(loaded.directory)}; importing replaces none: move that directory "
                              "away first if the hosts' CAs are the right ones")
    problems = []
    for host, files in plan.items():
        answer = contents.get(host)
        if not isinstance(answer, dict):
            problems.append(f"{host}: {answer or 'no answer'}")
            continue
        problems += [f"{host}: {path} is missing" for path in files if not answer.get(path)]
    if problems:
        raise ActionableError("cannot import the cluster's PKI, nothing was written: " + "; ".join(problems))
    written = []
    state = pki.state_dir(loaded.directory)
    with pki.locked(state / "pki"):
        for host, files in plan.items():
            for source, target in files.items():
                mode = 0o600 if target.suffix == ".key" else 0o644
                pki.write_private(Path(target), contents[host][source].encode(), mode)
                written.append(str(target))
    return written
