"""The sandbox's own network: a bridge in a private network namespace, NATed to the outside.

Hosts plug into a bridge inside a network namespace that belongs to the
sandbox.  Forwarding and MASQUERADE are switched on in that namespace only, and
slirp4netns carries its outbound traffic through ordinary sockets of the
taskbox, so the taskbox's own sysctls and firewall are never touched.  A veth
pair gives the taskbox an address on the bridge to reach the hosts directly.
"""

import hashlib
import ipaddress
import json
import os
import time
from pathlib import Path

from saltsphere.sandbox import cgroups
from saltsphere.sandbox.errors import SandboxError
from saltsphere.sandbox.run import detach, run

BRIDGE = "br0"
POOL = ipaddress.ip_network("172.29.0.0/16")
# Kubernetes' default service and pod ranges, and slirp4netns' own network.
RESERVED = [ipaddress.ip_network(n) for n in ("10.233.0.0/18", "10.233.64.0/18", "10.0.2.0/24")]
SLIRP_DNS = "10.0.2.3"
TAP = "tap0"
FIRST_HOST = 11


def netns(name):
    return f"saltsphere-{name}"


def netns_path(name):
    return Path("/run/netns") / netns(name)


def uplink(name):
    # Interface names are at most 15 characters; a hash keeps long sandbox names apart.
    return "ss-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def choose_subnet(taken):
    """The first /24 of the pool that overlaps no route or address of the taskbox nor ``taken``."""
    used = [*RESERVED, *map(ipaddress.ip_network, taken), *_taskbox_networks()]
    for subnet in POOL.subnets(new_prefix=24):
        if not any(subnet.overlaps(other) for other in used):
            return subnet
    raise SandboxError(f"network: every /24 of {POOL} is in use on this taskbox; remove a sandbox first")


def host_ip(subnet, index):
    return str(ipaddress.ip_network(subnet)[FIRST_HOST + index])


def gateway_ip(subnet):
    return str(ipaddress.ip_network(subnet)[1])


def taskbox_ip(subnet):
    return str(ipaddress.ip_network(subnet)[-2])


def cgroup_dirs(sandbox):
    return [str(Path(parent) / "network") for parent in sandbox.cgroup_parents]


def ensure(sandbox, layout):
    """Create the namespace, bridge, uplink, NAT and slirp4netns helper if missing."""
    if not netns_path(sandbox.name).exists():
        _create(sandbox)
    if not cgroups.pids(cgroup_dirs(sandbox)):
        _start_slirp(sandbox, layout)


def destroy(sandbox_name, cgroup_parents):
    step = f"sandbox {sandbox_name}: network teardown"
    dirs = [str(Path(parent) / "network") for parent in cgroup_parents]
    if not cgroups.kill(dirs, 9):
        raise SandboxError(f"{step}: slirp4netns in {dirs[0]} did not exit after SIGKILL")
    cgroups.remove(dirs, step)
    if netns_path(sandbox_name).exists():
        run(["ip", "netns", "delete", netns(sandbox_name)], step=step)
    if _link_exists(uplink(sandbox_name)):
        run(["ip", "link", "delete", uplink(sandbox_name)], step=step)


def _create(sandbox):
    step = f"sandbox {sandbox.name}: network setup"
    ns, link = netns(sandbox.name), uplink(sandbox.name)
    prefix = ipaddress.ip_network(sandbox.subnet).prefixlen
    in_ns = ["nsenter", f"--net={netns_path(sandbox.name)}", "--"]
    for cmd in (
        ["ip", "netns", "add", ns],
        ["ip", "-n", ns, "link", "set", "lo", "up"],
        ["ip", "-n", ns, "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "-n", ns, "addr", "add", f"{sandbox.gateway}/{prefix}", "dev", BRIDGE],
        ["ip", "-n", ns, "link", "set", BRIDGE, "up"],
        ["ip", "link", "add", link, "type", "veth", "peer", "name", "uplink", "netns", ns],
        ["ip", "-n", ns, "link", "set", "uplink", "master", BRIDGE, "up"],
        ["ip", "addr", "add", f"{sandbox.taskbox_ip}/{prefix}", "dev", link],
        ["ip", "link", "set", link, "up"],
        [*in_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
        [*in_ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", sandbox.subnet, "-o", TAP,
         "-j", "MASQUERADE"],
    ):
        run(cmd, step=step)


def _outbound_rule(sandbox):
    # REJECT rather than DROP: a host trying to reach out learns it at once.
    return ["FORWARD", "-s", sandbox.subnet, "-o", TAP, "-j", "REJECT", "--reject-with", "icmp-net-unreachable"]


def set_outbound(sandbox, enabled: bool):
    """Let the hosts reach beyond the sandbox (the mirror) or not; the taskbox always reaches them."""
    in_ns = ["nsenter", f"--net={netns_path(sandbox.name)}", "--", "iptables"]
    rule = _outbound_rule(sandbox)
    present = run([*in_ns, "-C", *rule], step="network: check outbound", check=False).returncode == 0
    if enabled and present:
        run([*in_ns, "-D", *rule], step=f"sandbox {sandbox.name}: allow outbound")
    elif not enabled and not present:
        run([*in_ns, "-I", *rule], step=f"sandbox {sandbox.name}: cut outbound")


def outbound(sandbox) -> bool:
    in_ns = ["nsenter", f"--net={netns_path(sandbox.name)}", "--", "iptables"]
    return run([*in_ns, "-C", *_outbound_rule(sandbox)], step="network: check outbound", check=False).returncode != 0


def _start_slirp(sandbox, layout):
    step = f"sandbox {sandbox.name}: outbound network (slirp4netns)"
    dirs = cgroup_dirs(sandbox)
    # slirp4netns' sandbox pivots and unmounts inside its own mount namespace;
    # a private one keeps those unmounts from reaching the taskbox's /run/netns.
    cmd = ["unshare", "--mount", "--propagation", "private", "--",
           "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
           "--enable-sandbox", "--enable-seccomp", "--netns-type=path",
           str(netns_path(sandbox.name)), TAP]
    detach(cmd, step, layout.slirp_log, dirs)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _tap_ready(sandbox.name):
            return
        if not cgroups.pids(dirs):
            raise SandboxError(f"{step}: slirp4netns exited; see {layout.slirp_log}")
        time.sleep(0.1)
    raise SandboxError(f"{step}: {TAP} did not come up; see {layout.slirp_log}")


def _tap_ready(name):
    proc = run(["ip", "-n", netns(name), "-j", "-4", "addr", "show", "dev", TAP],
               step="network: check tap", check=False)
    return proc.returncode == 0 and any(a.get("addr_info") for a in json.loads(proc.stdout or "[]"))


def _link_exists(link):
    return os.path.exists(f"/sys/class/net/{link}")


def _taskbox_networks():
    networks = []
    routes = run(["ip", "-j", "-4", "route", "show", "table", "all"], step="network: read routes")
    for route in json.loads(routes.stdout or "[]"):
        dst = route.get("dst", "default")
        if dst != "default":
            networks.append(ipaddress.ip_network(dst, strict=False))
    addrs = run(["ip", "-j", "-4", "addr"], step="network: read addresses")
    for link in json.loads(addrs.stdout or "[]"):
        for info in link.get("addr_info", []):
            networks.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    resolv = Path("/etc/resolv.conf")
    for line in resolv.read_text().splitlines() if resolv.is_file() else []:
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver" and ":" not in words[1]:
            networks.append(ipaddress.ip_network(words[1]))
    return networks
