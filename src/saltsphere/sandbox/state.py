"""What a sandbox is made of, kept as JSON in its state directory so every command sees the same."""

import json
import os
import re
from dataclasses import asdict, dataclass, field

from saltsphere.sandbox.errors import SandboxError
from saltsphere.sandbox.locations import STATE_ROOT

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass
class Host:
    name: str
    ip: str
    mac: str
    machine_id: str
    groups: list
    auth: str


@dataclass
class Sandbox:
    name: str
    profile: str
    subnet: str
    gateway: str
    taskbox_ip: str
    rootfs: str
    # This sandbox's cgroup folder in every hierarchy; hosts and the network helper live below.
    cgroup_parents: list
    hosts: list = field(default_factory=list)

    def host(self, name):
        for host in self.hosts:
            if host.name == name:
                return host
        raise SandboxError(
            f"sandbox {self.name} has no host {name!r}; its hosts are {', '.join(h.name for h in self.hosts)}"
        )


class Layout:
    """The files of one sandbox under its state directory (mode 0700: it holds passwords and keys)."""

    def __init__(self, name):
        if not NAME_RE.match(name):
            raise SandboxError(
                f"sandbox name {name!r} is not usable: use lowercase letters, digits and '-', "
                "starting with a letter or digit, at most 40 characters"
            )
        self.name = name
        self.root = STATE_ROOT / name
        self.state_file = self.root / "state.json"
        self.ssh_dir = self.root / "ssh"
        self.private_key = self.ssh_dir / "id_ed25519"
        self.known_hosts = self.ssh_dir / "known_hosts"
        self.askpass = self.ssh_dir / "askpass"
        self.secrets_dir = self.root / "secrets"
        self.cluster_dir = self.root / "cluster"
        self.hosts_ini = self.cluster_dir / "hosts.ini"
        self.slirp_log = self.root / "network.log"

    def password_file(self, host):
        return self.secrets_dir / f"{host}.password"

    def host_dir(self, host):
        return self.root / "hosts" / host

    def upper(self, host):
        return self.host_dir(host) / "upper"

    def work(self, host):
        return self.host_dir(host) / "work"

    def merged(self, host):
        return self.host_dir(host) / "root"

    def containerd(self, host):
        return self.host_dir(host) / "containerd"

    def console_log(self, host):
        return self.host_dir(host) / "console.log"

    def exists(self):
        return self.state_file.is_file()

    def load(self):
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            raise SandboxError(
                f"no sandbox named {self.name}; start one with `saltsphere sandbox up --name {self.name}`"
            ) from None
        except ValueError as exc:
            raise SandboxError(f"{self.state_file} is damaged ({exc}); remove the sandbox with `down`") from None
        data["hosts"] = [Host(**h) for h in data["hosts"]]
        return Sandbox(**data)

    def save(self, sandbox):
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(sandbox), indent=2) + "\n")
        os.replace(tmp, self.state_file)


def all_sandboxes():
    """Every sandbox with a state file, for choosing a subnet no other one uses."""
    found = []
    for path in sorted(STATE_ROOT.glob("*/state.json")) if STATE_ROOT.is_dir() else []:
        try:
            found.append(Layout(path.parent.name).load())
        except SandboxError:
            continue
    return found
