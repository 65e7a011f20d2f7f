"""
Read what the preflight checks need from this host, and test TCP paths from it
to the other cluster hosts.  Nothing on the host is changed.

The taskbox judges the results (``salt-run saltsphere_preflight.run``): this
module only measures, so that one host's facts can be compared with the
others'.  It runs on every cluster host through salt-ssh and needs Salt and the
Python standard library only.
"""

import errno
import fcntl
import os
import platform
import re
import shutil
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

__virtualname__ = "saltsphere_preflight"

# sudo and non-login shells often drop the sbin directories, where most of the
# required commands live.
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DISK_PATHS = ("/", "/var/lib")
TCP_LISTEN = "0A"
SIOCGIFADDR = 0x8915
# A built-in module without parameters leaves no trace in /sys/module; these
# files exist exactly when the module's code is in the running kernel.
MODULE_TRACES = {
    "br_netfilter": "/proc/sys/net/bridge/bridge-nf-call-iptables",
}
MAX_PROBES_AT_ONCE = 32


def __virtual__():
    if platform.system() != "Linux" or not os.path.isdir("/proc/net"):
        return False, "saltsphere_preflight reads /proc and /sys: it runs on Linux hosts only"
    return __virtualname__


def _config(key, default):
    return __pillar__.get("saltsphere", {}).get("config", {}).get(key, default)


def _read(path, default=None):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return default


def parse_os_release(text):
    """The key=value pairs of an os-release file, quotes removed."""
    values = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _os_facts():
    release = parse_os_release(_read("/etc/os-release") or _read("/usr/lib/os-release"))
    version = release.get("VERSION_ID", "")
    # CentOS and RHEL-likes give only the major release in os-release; the
    # minor one (the seed names CentOS 7.5) is in /etc/system-release.
    full = version
    match = re.search(r"\b(\d+(?:\.\d+)+)", _read("/etc/system-release", ""))
    if match and version and match.group(1).split(".")[0] == version.split(".")[0]:
        full = max(version, match.group(1), key=len)
    return {
        "id": release.get("ID", "").lower(),
        "id_like": release.get("ID_LIKE", "").lower().split(),
        "version_id": version,
        "version": full,
        "pretty_name": release.get("PRETTY_NAME", ""),
    }


def _memory_bytes():
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _disks(paths):
    result = {}
    for path in paths:
        try:
            stat = os.statvfs(path)
            device = os.stat(path).st_dev
        except OSError:
            result[path] = None
            continue
        result[path] = {"free_bytes": stat.f_bavail * stat.f_frsize, "device": device}
    return result


def parse_swaps(text):
    """Active swap areas listed in /proc/swaps."""
    swaps = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3:
            swaps.append({"device": fields[0], "size_kb": int(fields[2])})
    return swaps


def _kernel_module(name, release):
    canonical = name.replace("-", "_")
    loaded = {line.split()[0] for line in (_read("/proc/modules") or "").splitlines() if line.strip()}
    if canonical in loaded:
        return "loaded"
    trace = MODULE_TRACES.get(canonical)
    if os.path.isdir(f"/sys/module/{canonical}") or (trace and os.path.exists(trace)):
        return "built-in"
    if canonical in (_read("/proc/filesystems") or "").split():
        return "built-in"
    base = f"/lib/modules/{release}"
    if canonical in {_module_name(line) for line in (_read(f"{base}/modules.builtin") or "").splitlines()}:
        return "built-in"
    if canonical in {_module_name(line.split(":", 1)[0]) for line in (_read(f"{base}/modules.dep") or "").splitlines()}:
        return "loadable"
    return "missing"


def _module_name(path):
    """``kernel/net/bridge/br_netfilter.ko.zst`` -> ``br_netfilter``."""
    name = os.path.basename(path.strip()).split(".ko", 1)[0]
    return name.replace("-", "_")


def _sysctl(name):
    value = _read("/proc/sys/" + name.replace(".", "/"))
    return None if value is None else value.strip()


def decode_address(hex_address, byteorder=sys.byteorder):
    """An address of /proc/net/tcp{,6}: 32-bit words in the kernel's byte order."""
    raw = bytes.fromhex(hex_address)
    if byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw)


def parse_listening(text, byteorder=sys.byteorder):
    """[(address, port, inode)] of the LISTEN sockets in a /proc/net/tcp{,6} text."""
    sockets = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != TCP_LISTEN:
            continue
        address, _, port = fields[1].partition(":")
        sockets.append((decode_address(address, byteorder), int(port, 16), int(fields[9])))
    return sockets


def _socket_owners(inodes):
    """{inode: (pid, process name)} for the sockets wanted, from every /proc/PID/fd."""
    wanted = {f"socket:[{inode}]": inode for inode in inodes if inode}
    owners = {}
    if not wanted:
        return owners
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target in wanted and wanted[target] not in owners:
                owners[wanted[target]] = (int(pid), (_read(f"/proc/{pid}/comm") or "").strip() or None)
        if len(owners) == len(wanted):
            break
    return owners


def _listeners(ports):
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        found += parse_listening(_read(path))
    if ports is not None:
        wanted = {int(port) for port in ports}
        found = [entry for entry in found if entry[1] in wanted]
    owners = _socket_owners(inode for _, _, inode in found)
    result = {}
    for address, port, inode in found:
        pid, process = owners.get(inode, (None, None))
        result.setdefault(str(port), []).append({"address": address, "pid": pid, "process": process})
    return result


def parse_fib_trie(text):
    """The local IPv4 addresses listed in /proc/net/fib_trie."""
    addresses, last = set(), None
    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            last = stripped[3:].strip()
        elif stripped.startswith("/32 host LOCAL") and last:
            addresses.add(last)
    return sorted(addresses)


def parse_if_inet6(text):
    """[(interface, address)] from /proc/net/if_inet6."""
    entries = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) >= 6:
            entries.append((fields[5], decode_address(fields[0], "big")))
    return entries


def _primary_ipv4(interface):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", interface.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def _is_host_address(address):
    return not (address.startswith("127.") or address == "::1" or address.lower().startswith("fe80:"))


def _network():
    ipv6 = parse_if_inet6(_read("/proc/net/if_inet6"))
    interfaces = {}
    try:
        names = sorted(os.listdir("/sys/class/net"))
    except OSError:
        names = []
    for name in names:
        if name == "lo":
            continue
        mac = (_read(f"/sys/class/net/{name}/address") or "").strip().lower() or None
        primary = _primary_ipv4(name)
        interfaces[name] = {
            "mac": mac,
            "ipv4": [primary] if primary else [],
            "ipv6": [addr for ifname, addr in ipv6 if ifname == name and _is_host_address(addr)],
            "physical": os.path.exists(f"/sys/class/net/{name}/device"),
        }
    addresses = parse_fib_trie(_read("/proc/net/fib_trie")) + [addr for _, addr in ipv6]
    return interfaces, sorted({addr for addr in addresses if _is_host_address(addr)})


def facts(commands=None, kernel_modules=None, sysctls=None, ports=None, disk_paths=None):
    """
    Return what the preflight checks need from this host, read without changing anything.

    The lists default to the ``saltsphere:config`` pillar (preflight_* keys),
    which a minion of a Salt master has; a plain salt-ssh call carries no
    pillar to the host, so pass them (the runner does).

    commands
        Commands to look for; default: preflight_required_commands and
        preflight_installable_commands.
    kernel_modules
        Modules to report as loaded, built-in, loadable or missing; default:
        preflight_kernel_modules.
    sysctls
        Sysctls to read (``name`` or ``name=value``); default: preflight_sysctls.
    ports
        TCP ports whose listeners (address, pid, process) are reported; default:
        every listening port.
    disk_paths
        Paths whose free space is reported; default: / and /var/lib.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' saltsphere_preflight.facts
        salt-ssh master saltsphere_preflight.facts commands='[conntrack, socat]' ports='[6443, 2379]'
    """
    if commands is None:
        commands = _config("preflight_required_commands", []) + _config("preflight_installable_commands", [])
    if kernel_modules is None:
        kernel_modules = _config("preflight_kernel_modules", [])
    if sysctls is None:
        sysctls = _config("preflight_sysctls", [])
    release = platform.release()
    interfaces, addresses = _network()
    try:
        cpus = len(os.sched_getaffinity(0))
    except OSError:
        cpus = os.cpu_count()
    product_uuid = _read("/sys/class/dmi/id/product_uuid")
    return {
        "os": _os_facts(),
        "kernel": release,
        "arch": platform.machine(),
        "cpu_count": cpus,
        "memory_bytes": _memory_bytes(),
        "disks": _disks(disk_paths or DISK_PATHS),
        "swaps": parse_swaps(_read("/proc/swaps")),
        "commands": {name: shutil.which(name, path=SEARCH_PATH) for name in commands},
        "kernel_modules": {name: _kernel_module(name, release) for name in kernel_modules},
        "sysctls": {name: _sysctl(name) for name in (s.split("=", 1)[0].strip() for s in sysctls)},
        "listening": _listeners(ports),
        "hostname": socket.gethostname(),
        "addresses": addresses,
        "interfaces": interfaces,
        "product_uuid": product_uuid.strip().lower() if product_uuid else None,
        "machine_id": (_read("/etc/machine-id") or "").strip() or None,
        "time": time.time(),
    }


def _probe(ip, port, timeout):
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((ip, int(port)))
        except ConnectionRefusedError:
            return {"result": "refused"}
        except (socket.timeout, TimeoutError):
            return {"result": "timeout"}
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
                return {"result": "unreachable", "error": exc.strerror}
            return {"result": "error", "error": exc.strerror or str(exc)}
    return {"result": "open"}


def reach(targets, roles=None, timeout=3.0):
    """
    Try a TCP connection from this host to each port of each target, and say how it ended.

    ``open``: something accepted it.  ``refused``: the target answered with a
    reset (or a REJECT rule), so packets get there and back; nothing listens
    yet.  ``timeout``: no answer, a firewall drops the packets or the host is
    down.  ``unreachable``: no route to the target.

    targets
        A list of ``{name, ip, roles, ports: [{port, from}]}``.  A port with
        ``from`` (a list of roles) is tried only from hosts with one of those
        roles.  This host is skipped, and its own roles are taken from its entry
        (the one named as this host's minion id) unless ``roles`` is given.
    timeout
        Seconds to wait for each connection.

    CLI Example:

    .. code-block:: bash

        salt-ssh node1 saltsphere_preflight.reach '[{"name": "master", "ip": "192.168.0.2", "ports": [{"port": 22}, {"port": 6443}]}]'
    """
    me = __opts__.get("id")
    if roles is None:
        roles = next((t.get("roles") for t in targets if t.get("name") == me), None)
    own = set(_network()[1])
    probes = []
    for target in targets:
        if target.get("name") == me or target["ip"] in own:
            continue
        for entry in target.get("ports", []):
            allowed = entry.get("from")
            if allowed and roles is not None and not set(allowed) & set(roles):
                continue
            probes.append((target["name"], target["ip"], str(entry["port"])))
    result = {}
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PROBES_AT_ONCE, len(probes)))) as pool:
        outcomes = pool.map(lambda probe: _probe(probe[1], probe[2], float(timeout)), probes)
        for (name, ip, port), outcome in zip(probes, outcomes):
            result.setdefault(name, {"ip": ip, "ports": {}})["ports"][port] = outcome
    return result


def gather(reach_targets=None, reach_timeout=3.0, **kwargs):
    """
    Return ``{facts, reach}`` in one call: :func:`reach` first, so that the
    clock reading in the facts is taken last, just before the answer leaves.

    Keyword arguments other than ``reach_*`` go to :func:`facts`.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' saltsphere_preflight.gather
    """
    options = {key: value for key, value in kwargs.items() if not key.startswith("__")}
    paths = reach(reach_targets, timeout=reach_timeout) if reach_targets else {}
    return {"reach": paths, "facts": facts(**options)}
