"""One cluster: its validated inventory and config, and the views Salt needs of it.

Everything here runs on the taskbox.  The roster module, the ext_pillar and the
CLI all go through :func:`load`, so a cluster is parsed and checked the same way
whatever the entry point, and a bad one stops before any host is contacted.
"""

import copy
import functools
import hashlib
import os
from dataclasses import dataclass

from saltsphere import config as cfg
from saltsphere import inventory as inv_mod
from saltsphere import registries, validate
from saltsphere.inventory import ETCD, MASTER, NODE
from saltsphere.problems import InvalidInput, Problems

# The PATH salt-ssh's shim runs with on every host: a taskbox-side shim
# directory (pyenv and the like) must never leak into it.
TARGET_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# One SSH connection per host is shared by the several ssh and scp commands of a
# salt-ssh call, and kept 60 s for the next call (as Ansible does): a phase
# then costs one handshake per host instead of four.  The longest Unix socket
# path is 107 bytes, and ssh adds 17 while it creates the socket.
MULTIPLEX_PERSIST = "60s"
_SOCKET_PATH_MAX = 107 - 17


def multiplex_options(spec, directory) -> list:
    """ssh ``-o`` options sharing one connection to ``spec``'s host through a socket in ``directory``.

    None when the host's own ssh arguments already say how to multiplex, or
    when the socket's path would be too long for a Unix socket.
    """
    if not directory or any(option.lower().startswith("control") for option in spec.ssh_options):
        return []
    name = hashlib.sha256(f"{spec.user}@{spec.host}:{spec.port}".encode()).hexdigest()[:12]
    path = os.path.join(directory, name)
    if len(path.encode()) > _SOCKET_PATH_MAX:
        return []
    return ["ControlMaster=auto", f"ControlPath={path}", f"ControlPersist={MULTIPLEX_PERSIST}"]


@dataclass(frozen=True)
class HostSpec:
    name: str
    host: str
    port: int
    user: str
    local: bool
    ip: str
    roles: tuple
    password: str | None = None
    become_password: str | None = None
    private_key: str | None = None
    ssh_options: tuple = ()

    @property
    def sudo(self) -> bool:
        return self.user != "root"

    def public(self) -> dict:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "sudo": self.sudo,
            "local": self.local,
            "ip": self.ip,
            "roles": list(self.roles),
        }

    def __repr__(self):  # never show passwords in a log or a traceback
        return f"HostSpec({self.name!r}, {self.host!r}, ip={self.ip!r}, roles={self.roles!r})"


@dataclass(repr=False)
class Cluster:
    hosts_ini: str
    vars_yml: str
    hosts: dict
    config: cfg.Config
    warnings: list

    def __repr__(self):
        return f"Cluster({self.hosts_ini!r}, {len(self.hosts)} hosts)"

    @property
    def directory(self) -> str:
        return os.path.dirname(os.path.abspath(self.hosts_ini))

    def role_members(self, role) -> list:
        return [h for h in self.hosts.values() if role in h.roles]

    def inventory(self) -> dict:
        return {"hosts": {name: spec.public() for name, spec in self.hosts.items()}}

    def roster(self, multiplex_dir=None) -> dict:
        """salt-ssh roster entries, one per host; connections shared through sockets in ``multiplex_dir``."""
        entries = {}
        for name, spec in self.hosts.items():
            entry = {
                "host": spec.host,
                "port": spec.port,
                "user": spec.user,
                "set_path": TARGET_PATH,
            }
            if spec.private_key:
                entry["priv"] = spec.private_key
            ssh_options = list(spec.ssh_options) + multiplex_options(spec, multiplex_dir)
            if ssh_options:
                entry["ssh_options"] = ssh_options
            if spec.sudo:
                entry.update(sudo=True, tty=True)
            # salt-ssh has one password field: it answers the SSH prompt and,
            # with sudo, sudo's prompt (validation rejects two different ones).
            password = spec.become_password or spec.password
            if password:
                entry["passwd"] = password
            entries[name] = entry
        return entries

    @functools.cached_property
    def topology(self) -> dict:
        def members(role):
            return [{"name": h.name, "ip": h.ip} for h in self.role_members(role)]

        return {
            "hosts": {name: {"ip": h.ip, "roles": list(h.roles)} for name, h in self.hosts.items()},
            "etcd": members(ETCD),
            "kube-master": members(MASTER),
            "kube-node": members(NODE),
        }

    def pillar(self, minion_id) -> dict:
        """The pillar of one host: its own facts, the topology, the config.

        Credentials from vars.yml are never part of it: no state reads them.
        They reach the first master only inside the manifests that hold them
        (the storage classes' Secrets), in the phase that applies them, and the
        KubeSphere password only as its hash.
        """
        spec = self.hosts.get(minion_id)
        data = {
            "cluster": copy.deepcopy(self.topology),
            "config": self.config.public(),
        }
        if spec is not None:
            data["host"] = {"name": spec.name, "ip": spec.ip, "roles": list(spec.roles)}
            if {MASTER, NODE} & set(spec.roles):
                # containerd's registry files (a CA certificate at most: nothing secret).
                data["registries"] = registries.host_files(self.config.values, os.path.dirname(self.vars_yml))
        return {"saltsphere": data}


def vars_beside(hosts_ini) -> str:
    return os.path.join(os.path.dirname(str(hosts_ini)), "vars.yml")


def check(hosts_ini, vars_yml=None, overrides=None):
    """Parse and validate; return ``(inventory, config, problems)`` without raising."""
    vars_yml = vars_yml or vars_beside(hosts_ini)
    inv, problems = inv_mod.parse(hosts_ini)
    conf, config_problems = cfg.load(vars_yml, overrides=overrides)
    problems.extend(config_problems)
    if os.path.exists(hosts_ini):
        validate.check_inventory(inv, problems)
        validate.check_file_mode(inv, problems)
    if os.path.exists(vars_yml):
        validate.check_config_mode(conf, problems)
        if not config_problems.errors:
            validate.check_config(conf, inv, problems)
    return inv, conf, problems


def load(hosts_ini, vars_yml=None, overrides=None) -> Cluster:
    """The validated cluster, or :class:`InvalidInput` listing every problem."""
    hosts_ini = str(hosts_ini)
    vars_yml = str(vars_yml or vars_beside(hosts_ini))
    inv, conf, problems = check(hosts_ini, vars_yml, overrides)
    if problems.errors:
        raise InvalidInput(problems)
    hosts = {}
    for name in inv.hosts:
        merged = inv.merged_host(name)
        ip = merged.get("ip") or merged.get("host")
        key = merged.get("private_key")
        hosts[name] = HostSpec(
            name=name,
            host="127.0.0.1" if merged.local else (merged.get("host") or ip),
            port=int(merged.get("port") or 22),
            user=merged.user,
            local=merged.local,
            ip=str(validate.parse_ip(ip)),
            roles=tuple(inv.roles(name)),
            password=merged.get("password"),
            become_password=merged.get("become_password"),
            private_key=inv_mod.resolve_path(hosts_ini, key) if key else None,
            ssh_options=tuple(merged.ssh_options()[0]),
        )
    return Cluster(hosts_ini, vars_yml, hosts, conf, Problems(problems.warnings))


_cache = {}


def _stamp(path):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def load_cached(hosts_ini, vars_yml=None) -> Cluster:
    """:func:`load`, parsed once per process while the files stay unchanged.

    The ext_pillar is called once per host; without this a large inventory
    would be parsed and validated as many times as it has hosts.
    """
    hosts_ini = str(hosts_ini)
    vars_yml = str(vars_yml or vars_beside(hosts_ini))
    key = (os.path.abspath(hosts_ini), os.path.abspath(vars_yml), _stamp(hosts_ini), _stamp(vars_yml))
    if key not in _cache:
        _cache.clear()
        _cache[key] = load(hosts_ini, vars_yml)
    return _cache[key]
