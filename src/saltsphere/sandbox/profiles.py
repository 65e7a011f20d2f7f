"""Which hosts a sandbox profile boots, their inventory groups and how each is logged into."""

from dataclasses import dataclass

from saltsphere.sandbox.errors import SandboxError

# How the taskbox logs into a host, so that every way hosts.ini allows is exercised:
KEY = "key"            # root with the sandbox's private key
PASSWORD = "password"  # root with a password, no key accepted
SUDO = "sudo"          # user `deploy` by key; sudo asks for deploy's password

SUDO_USER = "deploy"

PROFILES = ("multi-node", "all-in-one", "ha")
DEFAULT_HOSTS = {"multi-node": 3, "all-in-one": 1, "ha": 5}
MIN_HOSTS = {"multi-node": 2, "all-in-one": 1, "ha": 4}
MAX_HOSTS = 60


@dataclass(frozen=True)
class HostSpec:
    name: str
    groups: tuple
    auth: str


def hosts_for(profile, count=None):
    """The hosts of ``profile``, in boot and inventory order."""
    if profile not in PROFILES:
        raise SandboxError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    count = DEFAULT_HOSTS[profile] if count is None else count
    if profile == "all-in-one" and count != 1:
        raise SandboxError(f"profile all-in-one has exactly one host, not {count}")
    if not MIN_HOSTS[profile] <= count <= MAX_HOSTS:
        raise SandboxError(
            f"profile {profile} needs between {MIN_HOSTS[profile]} and {MAX_HOSTS} hosts, not {count}"
        )
    if profile == "all-in-one":
        return [HostSpec("master", ("kube-master", "kube-node", "etcd"), KEY)]
    if profile == "ha":
        masters = [f"master{i}" for i in (1, 2, 3)]
        nodes = [f"node{i}" for i in range(1, count - 2)]
    else:
        masters = ["master"]
        nodes = [f"node{i}" for i in range(1, count)]
    specs = [HostSpec(name, ("kube-master", "etcd"), KEY) for name in masters]
    specs += [HostSpec(name, ("kube-node",), _node_auth(name)) for name in nodes]
    return specs


def _node_auth(name):
    return {"node1": PASSWORD, "node2": SUDO}.get(name, KEY)
