"""The one step that makes what a run needs on the taskbox, before any host is touched.

Pillar, status and the renderers only read; everything that creates lives
here, so a reader sees every side effect of an install in one place:

- the cluster's PKI (:func:`saltsphere.pki.issue`): a CA only when no host
  holds one (asked through ``probe``), never replacing one;
- the KubeSphere administrator's password (generated unless vars.yml sets
  one), the bcrypt hash the cluster receives instead of it, and the console's
  JWT secret (:mod:`saltsphere.kubesphere`);
- the per-cluster signing key and the signed index of the bundle's apt
  repositories (:mod:`saltsphere.artifacts.aptrepo`);
- the administrator's kubeconfig, ``.saltsphere/admin.conf``;
- the bundle server, listening only on the taskbox addresses that face the
  hosts, with a new token in its URLs, living as long as ``owner_pid``.

:func:`prepare` reports the persistent files it created or changed (the
server is not one: it lives for the run).  :func:`would_make` names them
beforehand and makes nothing: the same decisions, every write recorded
instead (what a dry run of the orchestration reports).
"""

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from saltsphere import kube, kubeconfig, kubesphere, pki
from saltsphere.artifacts import aptrepo, serve
from saltsphere.artifacts.serve import state as serve_state
from saltsphere.errors import ActionableError
from saltsphere.hostpki import ca_files_on_hosts

# Files of the state directory that belong to one run, not to the cluster.
_TRANSIENT = {serve.STATE_FILE, serve_state.LOCK_FILE, ".lock"}


@dataclass
class Prepared:
    changed: list = field(default_factory=list)
    server: dict | None = None

    def summary(self) -> str:
        made = f"{len(self.changed)} file(s) made or changed in .saltsphere/" if self.changed else "nothing to make"
        if self.server:
            listening = ", ".join(f"{a}:{self.server['port']}" for a in self.server["addresses"])
            return f"{made}; bundle served on {listening}"
        return made


def _snapshot(directory: Path) -> dict:
    if not directory.is_dir():
        return {}
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.name not in _TRANSIENT and path.suffix != ".log" \
                and "gnupg" not in path.relative_to(directory).parts[:2]:
            found[str(path.relative_to(directory))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def server_addresses(loaded) -> list:
    """The taskbox's addresses facing the hosts: the source of the route towards each one."""
    addresses = []
    for spec in loaded.hosts.values():
        address = "127.0.0.1" if spec.local else serve.source_address_for(spec.ip)
        if address not in addresses:
            addresses.append(address)
    return addresses


def ca_holders(loaded, probe) -> dict:
    """``{host: [path of a CA certificate found there]}`` for every host holding one; raises when a host cannot tell."""
    answers = probe(sorted({path for paths in ca_files_on_hosts().values() for path in paths}))
    holders, silent = {}, []
    for name in loaded.hosts:
        answer = answers.get(name)
        if not isinstance(answer, dict):
            silent.append(f"{name} ({answer or 'no answer'})")
            continue
        found = sorted(path for path, fp in answer.items() if fp)
        if found:
            holders[name] = found
    if silent:
        raise ActionableError(
            "the taskbox has no CA for this cluster yet, and before making one it must know that no host holds one; "
            f"these hosts did not say: {'; '.join(silent)}. Bring them up (or take them out of hosts.ini) and run "
            "again.")
    return holders


def _refuse_new_ca(loaded, missing, holders):
    listing = "; ".join(f"{host}: {', '.join(paths)}" for host, paths in holders.items())
    raise ActionableError(
        f"the taskbox has no {', '.join(missing)} CA in {pki.pki_dir_of(loaded.directory)}, but the cluster's hosts "
        f"hold one ({listing}). A new CA would make them reject each other, so nothing was made and no host was "
        "touched. Restore .saltsphere/ beside hosts.ini from a backup, or import the hosts' CAs with "
        f"`saltsphere pki import -i {loaded.hosts_ini}`, then run again.")


def prepare(loaded, *, probe=None, owner_pid=None, serve_bundle=True) -> Prepared:
    """Make everything a run of ``loaded`` needs on the taskbox; see the module's documentation.

    ``probe(paths)`` asks every host which of ``paths`` it holds:
    ``{host: {path: sha256 or None} | error}``; it is called only when a CA
    would be made.  Raises :class:`ActionableError` naming the fix.
    """
    directory = Path(loaded.directory)
    config = loaded.config.values
    state = directory / ".saltsphere"
    before = _snapshot(state)
    manifest = kube.bundle_manifest(config["artifact_bundle"])

    missing = pki.missing_cas(pki.pki_dir_of(directory))
    if missing:
        if probe is None:
            raise ActionableError(f"the taskbox has no {', '.join(missing)} CA; run `salt-run saltsphere.prepare`, "
                                  "which first asks the hosts whether they hold one")
        holders = ca_holders(loaded, probe)
        if holders:
            _refuse_new_ca(loaded, missing, holders)
    hosts = [(spec.name, spec.roles, spec.ip) for spec in loaded.hosts.values()]
    pki.issue(directory, hosts, create_cas=bool(missing))

    password = kubesphere.ensure_admin_password(directory, config["ks_admin_password"])
    kubesphere.ensure_admin_password_hash(directory, password)
    kubesphere.ensure_jwt_secret(directory)
    kubeconfig.write(directory, f"https://{kube.endpoint_from_taskbox(loaded)}")
    signed = aptrepo.ensure_signed(pki.state_dir(directory), config["artifact_bundle"], manifest)

    result = Prepared()
    if serve_bundle:
        result.server = serve.start(config["artifact_bundle"], config["artifact_port"], server_addresses(loaded),
                                    pki.state_dir(directory), overlay=signed["overlay"], owner_pid=owner_pid)
    after = _snapshot(state)
    result.changed = sorted(name for name, digest in after.items() if before.get(name) != digest)
    return result


def would_make(loaded) -> list:
    """The files under ``.saltsphere/`` that :func:`prepare` would create or change (relative paths), making nothing.

    A CA is among them only when the taskbox has none; :func:`prepare` then
    first asks the hosts whether they hold one.  Raises
    :class:`ActionableError` where :func:`prepare` would (a certificate to
    issue whose CA key is not here, a bundle index that is not the
    manifest's); starts no server.
    """
    directory = Path(loaded.directory)
    config = loaded.config.values
    state = directory / ".saltsphere"
    manifest = kube.bundle_manifest(config["artifact_bundle"])
    hosts = [(spec.name, spec.roles, spec.ip) for spec in loaded.hosts.values()]
    made = pki.pending(directory, hosts, create_cas=bool(pki.missing_cas(pki.pki_dir_of(directory))))
    made += kubesphere.pending_secrets(directory, config["ks_admin_password"])
    admin = pki.pki_dir_of(directory) / "kubernetes" / "admin.crt"
    if admin in made or not kubeconfig.is_current(directory, f"https://{kube.endpoint_from_taskbox(loaded)}"):
        made.append(kubeconfig.path(directory))
    made += aptrepo.pending(state, config["artifact_bundle"], manifest)
    return sorted({str(Path(path).resolve().relative_to(state.resolve())) for path in made})


def owner_of_this_run() -> int:
    """The process whose end ends the run: this one (salt-run runs orchestration states in its own process)."""
    return os.getpid()
