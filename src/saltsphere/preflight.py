"""Judge what every host reported for the preflight phase, and the hosts against each other.

The hosts only measure (``extension_modules/modules/saltsphere_preflight.py``);
this module, on the taskbox, turns those facts and the cluster's thresholds
into one row per host and check, each with its status, what was found and what
to do about it.  A failure means the install cannot succeed as things are; a
warning means something to look at that does not block it: an untested OS
release is one (salt/preflight/parameters/os.yaml says which are).
"""

import functools
import os
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import yaml

from saltsphere import paths, validate

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
CHECKS = (
    "ssh", "os", "arch", "cpu", "memory", "disk", "swap", "commands", "modules", "sysctl", "ports",
    "hostname", "ip", "mac", "uuid", "clock", "reach", "bundle",
)
# The row of checks made on the taskbox itself.
TASKBOX = "taskbox"
CELLS = {OK: "ok", WARN: "warn", FAIL: "FAIL", SKIP: "-"}
GB = 1000 ** 3
DISK_PATH = "/var/lib"
# Connection outcomes that prove a TCP path to the target (see the host module's reach()).
REACHED = ("open", "refused")


@dataclass(frozen=True)
class Row:
    host: str
    check: str
    status: str
    detail: str = ""
    fix: str = ""

    def public(self) -> dict:
        return {"host": self.host, "check": self.check, "detail": self.detail, "fix": self.fix}


@dataclass
class Answer:
    """What one host returned: its gathered facts, or why it could not."""

    facts: dict | None = None
    reach: dict | None = None
    error: str | None = None
    seconds: float | None = None
    # Taskbox clock when the run started and when this answer arrived.
    started: float | None = None
    received: float | None = None


@functools.lru_cache(maxsize=1)
def parameters() -> dict:
    """The OS table and the ports table (salt/preflight/parameters/)."""
    data = {}
    for name in ("os.yaml", "ports.yaml"):
        with open(paths.project_root() / "salt" / "preflight" / "parameters" / name, encoding="utf-8") as handle:
            data.update(yaml.safe_load(handle))
    return data


# --- what the hosts are asked --------------------------------------------------


def port_specs(config, roles=None, params=None) -> list:
    """The ports table with every port resolved, for hosts with ``roles`` (all hosts if None)."""
    params = params or parameters()
    specs, seen = [], set()
    for entry in params["ports"]:
        if any(config[key] != value for key, value in (entry.get("when") or {}).items()):
            continue
        if roles is not None and not set(entry["roles"]) & set(roles):
            continue
        port = entry["port"]
        port = int(config[port]) if isinstance(port, str) else int(port)
        if port in seen:
            continue
        seen.add(port)
        specs.append({**entry, "port": port, "key": entry["port"] if isinstance(entry["port"], str) else None})
    return specs


def facts_arguments(config, params=None) -> dict:
    """Keyword arguments of the host module's facts() for this cluster."""
    return {
        "commands": list(config["preflight_required_commands"]) + list(config["preflight_installable_commands"]),
        "kernel_modules": list(config["preflight_kernel_modules"]),
        "sysctls": list(config["preflight_sysctls"]),
        "ports": [spec["port"] for spec in port_specs(config, params=params)],
    }


def reach_targets(cluster, params=None) -> list:
    """Every host with the ports others must reach on it: its sshd, and the ports with ``from``."""
    targets = []
    for name, spec in cluster.hosts.items():
        ports = [{"port": spec.port}]
        for entry in port_specs(cluster.config, spec.roles, params):
            if entry.get("from"):
                ports.append({"port": entry["port"], "from": list(entry["from"])})
        targets.append({"name": name, "ip": spec.ip, "roles": list(spec.roles), "ports": ports})
    return targets


def _sshd_error(spec, timeout):
    try:
        socket.create_connection((spec.host, spec.port), timeout=timeout).close()
    except (socket.timeout, TimeoutError):
        return f"sshd gave no answer within {timeout} s (the host is down, or a firewall drops it)"
    except OSError as exc:
        return f"cannot connect to sshd: {exc.strerror or exc}"
    return None


def unanswering(cluster, timeout, names=None) -> dict:
    """{host: why} for hosts (of ``names``, default every host) whose sshd does not accept a TCP connection from the
    taskbox.

    Salt-ssh would wait for such a host once per connection it tries; this
    names the host and the reason at once.  Only the hosts a caller will
    contact are asked: a host that just died can hold a connection attempt for
    tens of seconds before the kernel gives up on it.
    """
    specs = [spec for spec in cluster.hosts.values() if not spec.local and (names is None or spec.name in names)]
    if not specs:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(32, len(specs)))) as pool:
        errors = pool.map(lambda spec: _sshd_error(spec, timeout), specs)
        return {spec.name: error for spec, error in zip(specs, errors) if error}


def answer_from_return(data, secrets=()) -> Answer:
    """Read one host's salt-ssh return into an :class:`Answer`, never raising."""
    value = data.get("return") if isinstance(data, dict) and "return" in data else data
    if isinstance(data, dict) and data.get("retcode", 0) == 0 and isinstance(value, dict) and "facts" in value:
        return Answer(facts=value["facts"], reach=value.get("reach") or {})
    if isinstance(data, dict) and "_error" in data:
        parts = [str(data["_error"]), str(data.get("stderr") or ""), str(data.get("stdout") or "")]
    elif isinstance(data, dict):
        parts = [str(value if value is not None else data)]
    else:
        parts = [str(data)]
    return Answer(error=_redact(_last_lines(" ".join(parts)), secrets))


def _last_lines(text, limit=400) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    joined = " | ".join(lines[-4:])
    return joined if len(joined) <= limit else "..." + joined[-limit:]


def _redact(text, secrets) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


# --- the checks of one host ----------------------------------------------------


def _numbers(version) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", str(version)))


def version_matches(pattern, version) -> bool:
    """Whether os-release VERSION_ID ``version`` is covered by a table entry ``pattern``."""
    pattern, version = str(pattern), str(version)
    if pattern.endswith("+"):
        base, have = _numbers(pattern[:-1]), _numbers(version)
        if not have or have[0] != base[0]:
            return False
        # Only the major release known (CentOS's os-release): it may be any minor one.
        return len(have) < len(base) or have[:len(base)] >= base
    return version == pattern or version.startswith(pattern + ".")


SUPPORTED, UNTESTED, UNSUPPORTED = "supported", "untested", "unsupported"


def release_status(entry) -> tuple:
    """``(status, reason)`` of a release in the OS table: ``supported``, ``untested`` or ``unsupported`` and why."""
    if isinstance(entry, dict) and set(entry) == {UNSUPPORTED}:
        return UNSUPPORTED, str(entry[UNSUPPORTED])
    if entry in (SUPPORTED, UNTESTED):
        return entry, None
    raise ValueError(f"OS table entry {entry!r} is neither supported, untested nor {{unsupported: reason}}")


def _supported_list(params) -> str:
    names = []
    for info in params["os"].values():
        versions = [v for v, entry in info["versions"].items() if release_status(entry)[0] == SUPPORTED]
        if versions:
            names.append(f"{info['name']} {'/'.join(versions)}")
    return ", ".join(names)


def distribution(os_facts) -> str:
    """The host's distribution as bundles name theirs (os-release ``ID-VERSION_ID``: debian-12, ubuntu-22.04)."""
    return f"{os_facts.get('id', '')}-{os_facts.get('version_id') or os_facts.get('version', '')}"


def bundle_distributions(cluster):
    """``(bundle directory, the distributions its manifest lists)``, or None when it has no readable manifest.

    The bundle row names that problem; the OS rows then judge the release alone.
    """
    from saltsphere.artifacts import manifest as mf
    from saltsphere.artifacts.errors import ArtifactError

    directory = cluster.config["artifact_bundle"]
    try:
        return directory, list(mf.read_manifest(directory).distributions)
    except ArtifactError:
        return None


def check_os(host, os_facts, params=None, bundle=None) -> Row:
    """The release against the OS table and, with ``bundle`` (see :func:`bundle_distributions`), the bundle."""
    params = params or parameters()
    os_id, version = os_facts.get("id", ""), os_facts.get("version") or os_facts.get("version_id", "")
    shown = os_facts.get("pretty_name") or f"{os_id} {version}".strip() or "an unknown OS"
    info = params["os"].get(os_id)
    supported = _supported_list(params)
    fix = f"install {supported}, the release saltsphere's CI installs"
    if info is None:
        return Row(host, "os", FAIL, f"{shown} is not an OS saltsphere knows (ID={os_id or '?'})", fix)
    for pattern, entry in info["versions"].items():
        if not version_matches(pattern, version):
            continue
        status, reason = release_status(entry)
        if status == UNSUPPORTED:
            return Row(host, "os", FAIL, f"{shown} is unsupported: {reason}", fix)
        dist = distribution(os_facts)
        if bundle is not None and dist not in bundle[1]:
            directory, carried = bundle
            return Row(host, "os", FAIL,
                       f"{shown}: the bundle {directory} has no packages for {dist} "
                       f"(it carries {', '.join(carried) or 'none'})",
                       f"build the bundle on a {dist} machine, or fetch one whose manifest lists {dist} "
                       f"(saltsphere artifact build/fetch --out {directory}); or {fix}")
        if status == SUPPORTED:
            return Row(host, "os", OK, f"{shown}: supported")
        return Row(host, "os", WARN, f"{shown}: untested: saltsphere's CI installs {supported} only",
                   f"expect problems CI has not met; {fix}")
    return Row(host, "os", FAIL, f"{info['name']} {version} is not supported "
                                 f"(releases known: {', '.join(info['versions'])})", fix)


def _family(facts, params):
    info = params["os"].get((facts.get("os") or {}).get("id", ""))
    return params["families"].get(info["family"] if info else "", None)


def _install_command(commands, facts, params) -> str:
    family = _family(facts, params)
    if family is None:
        return f"install the packages that provide {' '.join(commands)}"
    packages = sorted({family["packages"].get(command, command) for command in commands})
    return f"{family['install']} {' '.join(packages)}"


def check_resources(host, facts, config) -> list:
    rows = []
    cores, minimum = facts.get("cpu_count") or 0, config["preflight_min_cpu_cores"]
    rows.append(Row(host, "cpu", OK, f"{cores} cores (minimum {minimum})") if cores >= minimum else
                Row(host, "cpu", FAIL, f"{cores} CPU cores, fewer than the minimum {minimum}",
                    f"give the host at least {minimum} cores, or lower preflight_min_cpu_cores in vars.yml"))
    memory, minimum = (facts.get("memory_bytes") or 0) / GB, config["preflight_min_memory_gb"]
    rows.append(Row(host, "memory", OK, f"{memory:.1f} GB (minimum {minimum})") if memory >= minimum else
                Row(host, "memory", FAIL, f"{memory:.1f} GB of memory, less than the minimum {minimum} GB",
                    f"give the host at least {minimum} GB of memory, or lower preflight_min_memory_gb in vars.yml"))
    disks, minimum = facts.get("disks") or {}, config["preflight_min_disk_gb"]
    data, root = disks.get(DISK_PATH) or disks.get("/"), disks.get("/")
    if data is None:
        rows.append(Row(host, "disk", FAIL, f"cannot read the free space of {DISK_PATH}",
                        f"check that {DISK_PATH} exists and is mounted"))
    else:
        free = data["free_bytes"] / GB
        detail = f"{DISK_PATH}: {free:.1f} GB free (minimum {minimum})"
        if root and root.get("device") != data.get("device"):
            detail += f"; /: {root['free_bytes'] / GB:.1f} GB free"
        rows.append(Row(host, "disk", OK, detail) if free >= minimum else
                    Row(host, "disk", FAIL, f"{DISK_PATH} has {free:.1f} GB free, less than the minimum {minimum} GB "
                                            "(images, etcd and kubelet data go there)",
                        f"free or add space on the filesystem of {DISK_PATH}, "
                        "or lower preflight_min_disk_gb in vars.yml"))
    return rows


def check_swap(host, facts) -> Row:
    swaps = facts.get("swaps") or []
    if not swaps:
        return Row(host, "swap", OK, "off")
    devices = ", ".join(s["device"] for s in swaps)
    return Row(host, "swap", WARN, f"swap is on ({devices}); kubelet does not start with swap on",
               "the OS phase (state os.swap) turns it off; by hand: swapoff -a, and comment out the swap entries "
               "of /etc/fstab")


def check_commands(host, facts, config, params=None) -> Row:
    params = params or parameters()
    found = facts.get("commands") or {}
    required = [c for c in config["preflight_required_commands"] if not found.get(c)]
    installable = [c for c in config["preflight_installable_commands"] if not found.get(c)]
    if required:
        detail = f"missing: {', '.join(required)}"
        if installable:
            detail += f"; also missing: {', '.join(installable)}"
        return Row(host, "commands", FAIL, detail, _install_command(required + installable, facts, params))
    if installable:
        return Row(host, "commands", WARN, f"not installed yet: {', '.join(installable)} (kubelet and kube-proxy "
                                           "need them)",
                   f"the OS phase (state os.packages) installs them; by hand: "
                   f"{_install_command(installable, facts, params)}")
    return Row(host, "commands", OK, f"all {len(found)} present")


def check_modules(host, facts) -> Row:
    modules = facts.get("kernel_modules") or {}
    missing = [name for name, state in modules.items() if state == "missing"]
    detail = ", ".join(f"{name} {state}" for name, state in modules.items())
    if missing:
        kernel = facts.get("kernel", "$(uname -r)")
        return Row(host, "modules", FAIL,
                   f"kernel {kernel} has no {', '.join(missing)} (neither loaded, built in, nor under /lib/modules)",
                   f"install the modules of the running kernel (linux-modules-extra-{kernel} on Ubuntu, "
                   "kernel-modules-extra on RHEL-likes) or boot a kernel that has them")
    return Row(host, "modules", OK, detail or "none required")


def check_sysctls(host, facts, config) -> Row:
    values = facts.get("sysctls") or {}
    modules = facts.get("kernel_modules") or {}
    wrong = []
    for item in config["preflight_sysctls"]:
        name, _, wanted = (part.strip() for part in item.partition("="))
        actual = values.get(name)
        if actual is None:
            # net.bridge.* appear once br_netfilter is loaded.
            if name.startswith("net.bridge.") and modules.get("br_netfilter") in ("loaded", "built-in", "loadable"):
                continue
            wrong.append((name, wanted, "absent"))
        elif wanted and actual != wanted:
            wrong.append((name, wanted, actual))
    if not wrong:
        return Row(host, "sysctl", OK, ", ".join(f"{k}={v}" for k, v in values.items() if v is not None))
    detail = "; ".join(f"{name} is {actual}, the cluster needs {wanted}" for name, wanted, actual in wrong)
    commands = " ".join(f"{name}={wanted}" for name, wanted, _ in wrong)
    return Row(host, "sysctl", WARN, detail,
               f"the OS phase (state os.kernel) sets it; by hand: sysctl -w {commands}, and the same in a file "
               "of /etc/sysctl.d/ so that it survives a reboot")


def check_ports(host, facts, config, roles, params=None) -> Row:
    listening = facts.get("listening") or {}
    problems, held = [], []
    fixes = []
    for spec in port_specs(config, roles, params):
        port = spec["port"]
        for listener in listening.get(str(port), []):
            process, pid = listener.get("process"), listener.get("pid")
            if process == spec["owner"]:
                held.append(f"{port} by {process}")
                continue
            who = f"{process} (pid {pid})" if process else "a process preflight cannot see"
            problems.append(f"Port {port} ({spec['component']}) is in use by {who} on {listener.get('address')}")
            move = f", or set {spec['key']} in vars.yml to a free port" if spec.get("key") else ""
            if process:
                fixes.append(f"stop {process} (pid {pid}) or move it off port {port}{move}")
            else:
                fixes.append(f"find it with `ss -ltnp 'sport = :{port}'` and stop it{move}")
            break
    if problems:
        return Row(host, "ports", FAIL, "; ".join(problems), "; ".join(fixes))
    detail = "all free" + (f" except those held by the cluster itself: {', '.join(held)}" if held else "")
    return Row(host, "ports", OK, detail)


def _host_addresses(facts) -> set:
    addresses = set(facts.get("addresses") or [])
    for interface in (facts.get("interfaces") or {}).values():
        addresses.update(interface.get("ipv4") or [])
        addresses.update(interface.get("ipv6") or [])
    return addresses


def check_ip(host, facts, ip) -> Row:
    addresses = _host_addresses(facts)
    if ip in addresses:
        return Row(host, "ip", OK, f"{ip} is on this host")
    shown = ", ".join(sorted(addresses)) or "none"
    return Row(host, "ip", FAIL, f"ip={ip} from hosts.ini is not an address of this host (its addresses: {shown})",
               f"set ip= of {host} in hosts.ini to the address other hosts reach it on")


def cluster_interface(facts, ip):
    """(name, interface) holding ``ip``, or (None, None)."""
    for name, interface in (facts.get("interfaces") or {}).items():
        if ip in (interface.get("ipv4") or []) or ip in (interface.get("ipv6") or []):
            return name, interface
    return None, None


def check_hostname(host, facts) -> Row:
    hostname = facts.get("hostname") or ""
    if not validate.is_hostname(hostname):
        return Row(host, "hostname", FAIL, f"hostname {hostname!r} is not a lowercase RFC 1123 name; "
                                           "kubelet refuses to register it",
                   f"hostnamectl set-hostname {host}")
    if hostname != host:
        return Row(host, "hostname", WARN, f"the host calls itself {hostname!r}; Kubernetes will know it by that "
                                           f"name, hosts.ini by {host!r}",
                   f"hostnamectl set-hostname {host}, or rename the host in hosts.ini to {hostname}")
    return Row(host, "hostname", OK, hostname)


# --- checks across hosts -------------------------------------------------------


def _duplicates(values) -> dict:
    """{host: [other hosts with the same value]} for values shared by several hosts."""
    by_value = {}
    for host, value in values.items():
        if value:
            by_value.setdefault(value, []).append(host)
    shared = {}
    for hosts in by_value.values():
        if len(hosts) > 1:
            for host in hosts:
                shared[host] = [other for other in hosts if other != host]
    return shared


def check_unique(answered, cluster) -> dict:
    """hostname, mac and uuid rows of every answering host: {(host, check): Row}."""
    rows = {}
    hostnames = _duplicates({h: a.facts.get("hostname") for h, a in answered.items()})
    for host, others in hostnames.items():
        rows[host, "hostname"] = Row(host, "hostname", FAIL,
                                     f"hostname {answered[host].facts.get('hostname')!r} is also the hostname of "
                                     f"{', '.join(others)}; nodes must have distinct names",
                                     f"hostnamectl set-hostname {host}")
    macs = {}
    for host, answer in answered.items():
        name, interface = cluster_interface(answer.facts, cluster.hosts[host].ip)
        if interface is None:
            rows[host, "mac"] = Row(host, "mac", SKIP, "no interface holds the hosts.ini ip")
            continue
        macs[host] = interface.get("mac")
        rows[host, "mac"] = Row(host, "mac", OK, f"{name} {interface.get('mac')}")
    for host, others in _duplicates(macs).items():
        rows[host, "mac"] = Row(host, "mac", FAIL, f"MAC {macs[host]} of the cluster interface is also on "
                                                   f"{', '.join(others)} (a cloned machine?)",
                                "give each host's interface its own MAC address (regenerate it in the "
                                "hypervisor)")
    uuids = {h: a.facts.get("product_uuid") for h, a in answered.items()}
    machine_ids = {h: a.facts.get("machine_id") for h, a in answered.items()}
    same_uuid, same_id = _duplicates(uuids), _duplicates(machine_ids)
    for host in answered:
        problems, fixes = [], []
        if host in same_uuid:
            problems.append(f"product_uuid {uuids[host]} is also that of {', '.join(same_uuid[host])}")
            fixes.append("give each virtual machine its own UUID (regenerate it in the hypervisor)")
        if host in same_id:
            problems.append(f"/etc/machine-id is also that of {', '.join(same_id[host])}")
            fixes.append("rm /etc/machine-id && systemd-machine-id-setup, then reboot")
        if problems:
            rows[host, "uuid"] = Row(host, "uuid", FAIL, "; ".join(problems) + " (a cloned machine?)",
                                     "; ".join(fixes))
        else:
            shown = uuids[host] or "unreadable"
            rows[host, "uuid"] = Row(host, "uuid", OK, f"product_uuid {shown}, machine-id unique")
    return rows


def _offset_window(answer):
    """(low, high): the host clock minus the taskbox clock lies between them.

    The host reads its clock after it was asked (at ``started`` or later) and
    before its answer arrived (``received``).
    """
    now = answer.facts.get("time")
    return now - answer.received, now - answer.started


def check_clocks(answered, max_skew) -> dict:
    """A skew is reported only when it is certain, whatever the answer took to arrive."""
    windows = {h: _offset_window(a) for h, a in answered.items()
               if a.facts.get("time") is not None and a.started is not None and a.received is not None}
    rows = {}
    for host, (low, high) in windows.items():
        problems = []
        if low > max_skew:
            problems.append(f"at least {low:.0f} s ahead of the taskbox")
        elif high < -max_skew:
            problems.append(f"at least {-high:.0f} s behind the taskbox")
        for other, (other_low, other_high) in windows.items():
            gap = max(low - other_high, other_low - high)
            if other != host and gap > max_skew:
                problems.append(f"at least {gap:.0f} s apart from {other}")
        if problems:
            rows[host] = Row(host, "clock", FAIL,
                             f"clock is {'; '.join(problems)} (allowed: {max_skew} s); certificates and etcd need "
                             "synchronised clocks",
                             "run a time service on every host (chrony or systemd-timesyncd) against the same "
                             "servers as the taskbox")
        else:
            rows[host] = Row(host, "clock", OK, f"{low:+.1f} s from the taskbox (measured within {high - low:.1f} s)")
    return rows


def check_reach(host, answer, answered, cluster) -> Row:
    failed, proven = [], 0
    for target, result in sorted((answer.reach or {}).items()):
        if target not in answered:
            continue
        for port, outcome in sorted(result.get("ports", {}).items(), key=lambda item: int(item[0])):
            if outcome.get("result") in REACHED:
                proven += 1
                continue
            reason = outcome.get("result", "?") + (f": {outcome['error']}" if outcome.get("error") else "")
            failed.append((target, result.get("ip"), port, reason))
    if failed:
        detail = "cannot reach " + "; ".join(f"{t} {ip}:{p} ({why})" for t, ip, p, why in failed)
        ports = sorted({p for _, _, p, _ in failed}, key=int)
        source = cluster.hosts[host].ip
        return Row(host, "reach", FAIL, detail,
                   f"allow TCP {','.join(ports)} from {source} on the targets' firewalls (e.g. firewall-cmd "
                   f"--permanent --add-port=PORT/tcp, or ufw allow from {source} to any port PORT proto tcp) and "
                   "check the route between the hosts")
    return Row(host, "reach", OK, f"{proven} TCP paths to other hosts answered" if proven else "no other host")


# --- the report ----------------------------------------------------------------


def _ssh_fix(spec, error) -> str:
    if "host key" in error.lower() or "authenticity" in error.lower():
        return (f"accept {spec.host}'s host key (ssh-keyscan -p {spec.port} {spec.host} >> ~/.ssh/known_hosts), "
                "or run with ignore_host_keys=True")
    return (f"check that {spec.name} is up, that sshd answers on {spec.host}:{spec.port} and that hosts.ini has "
            f"its credentials; then try `salt-ssh -i {spec.name} test.ping`")


# What a host of a running cluster is still checked for when others join it
# (``evaluate(..., joining=)``): it answers, and it agrees with the new hosts.
CROSS_CHECKS = ("ssh", "hostname", "mac", "uuid", "clock", "reach")


def evaluate(cluster, answers, params=None, joining=None) -> "Report":
    """Every row of every host: ``answers`` maps each host of ``cluster`` to its :class:`Answer`.

    ``joining``: the hosts being added to a running cluster.  Only they get
    the host-local checks (the others run the cluster: their ports are taken
    and their swap is the install's); every host still answers and is
    compared with them.
    """
    report = _evaluate(cluster, answers, params)
    if joining is None:
        return report
    rows = [row if row.host in joining or row.host == TASKBOX or row.check in CROSS_CHECKS or row.status == SKIP
            else Row(row.host, row.check, SKIP, "not checked: a member of the running cluster")
            for row in report.rows]
    return Report(report.hosts, rows)


def _evaluate(cluster, answers, params=None) -> "Report":
    params = params or parameters()
    config = cluster.config
    bundle = bundle_distributions(cluster)
    rows = {}
    answered = {}
    for name, spec in cluster.hosts.items():
        answer = answers.get(name) or Answer(error="no answer")
        if answer.facts is None:
            rows[name, "ssh"] = Row(name, "ssh", FAIL, f"{spec.user}@{spec.host}:{spec.port}: {answer.error}",
                                    _ssh_fix(spec, answer.error or ""))
            for check in CHECKS[1:]:
                rows[name, check] = Row(name, check, SKIP, "not checked: the host did not answer")
            continue
        answered[name] = answer
        facts = answer.facts
        took = f" in {answer.seconds:.1f} s" if answer.seconds is not None else ""
        rows[name, "ssh"] = Row(name, "ssh", OK, f"answered{took}")
        rows[name, "os"] = check_os(name, facts.get("os") or {}, params, bundle)
        arch = facts.get("arch")
        rows[name, "arch"] = (Row(name, "arch", OK, arch) if arch in params["architectures"] else
                              Row(name, "arch", FAIL, f"{arch} has no Kubernetes/KubeSphere builds",
                                  f"use a host of one of: {', '.join(params['architectures'])}"))
        for row in check_resources(name, facts, config):
            rows[name, row.check] = row
        rows[name, "swap"] = check_swap(name, facts)
        rows[name, "commands"] = check_commands(name, facts, config, params)
        rows[name, "modules"] = check_modules(name, facts)
        rows[name, "sysctl"] = check_sysctls(name, facts, config)
        rows[name, "ports"] = check_ports(name, facts, config, spec.roles, params)
        rows[name, "hostname"] = check_hostname(name, facts)
        rows[name, "ip"] = check_ip(name, facts, spec.ip)
    rows.update(check_unique(answered, cluster))
    for host, row in check_clocks(answered, config["preflight_max_clock_skew_seconds"]).items():
        rows[host, "clock"] = row
    for host, answer in answered.items():
        rows[host, "reach"] = check_reach(host, answer, answered, cluster)
    rows[TASKBOX, "bundle"] = check_bundle(cluster)
    names = [TASKBOX, *cluster.hosts]
    ordered = [rows[host, check] for host in names for check in CHECKS if (host, check) in rows]
    return Report(names, ordered, certificates_line(cluster))


def certificates_line(cluster) -> str | None:
    """The soonest expiry among the taskbox's certificates, as ``saltsphere status`` finds it; None before any."""
    from saltsphere import status

    soonest = status.certificates(cluster)["soonest"]
    if soonest is None:
        return None
    return (f"certificates: the soonest to expire is {soonest['file']} on the taskbox, {soonest['not_after']} "
            f"({soonest['days_left']} days left; `saltsphere certs check` lists the hosts' too)")


def check_bundle(cluster) -> Row:
    """The bundle on the taskbox holds what this cluster's hosts will ask for."""
    from saltsphere import bom
    from saltsphere import calico as calico_objects
    from saltsphere.artifacts import manifest as mf
    from saltsphere.artifacts.errors import ArtifactError

    config = cluster.config
    directory = config["artifact_bundle"]
    fix = (f"build it with `saltsphere artifact build --from-debian-source --out {directory}` or fetch one with "
           f"`saltsphere artifact fetch --kube-version {config['kube_version']} --out {directory}`")
    try:
        manifest = mf.read_manifest(directory)
    except ArtifactError as exc:
        return Row(TASKBOX, "bundle", FAIL, str(exc), fix)
    if manifest.kube_version != config["kube_version"]:
        return Row(TASKBOX, "bundle", FAIL,
                   f"{directory} holds Kubernetes {manifest.kube_version}, vars.yml asks for {config['kube_version']}",
                   f"set kube_version: {manifest.kube_version} in vars.yml, or {fix}")
    bill = bom.of_cluster(cluster)
    paths = {entry.path for entry in manifest.files}
    missing = [binary.path for binary in bill.binaries if binary.name in bom.KUBE_BINARIES and binary.path not in paths]
    calico = config["kube_network_plugin"] == "calico"
    needed = (bom.KUBERNETES, bom.NETWORK) if calico else (bom.KUBERNETES,)
    missing += bill.missing(bom.held_refs(manifest.files), *needed)
    problem = calico_objects.unsupported(config["kube_version"]) if calico else None
    if problem:
        detail, _, fix = problem.partition("; ")
        return Row(TASKBOX, "bundle", FAIL, detail, fix)
    if missing:
        return Row(TASKBOX, "bundle", FAIL, f"{directory} lacks {', '.join(missing)}",
                   "fetch a bundle that has them" + (", or set kube_network_plugin: bridge in vars.yml"
                                                     if calico else f"; {fix}"))
    resized = [entry.path for entry in manifest.files
               if not os.path.isfile(os.path.join(directory, entry.path))
               or os.path.getsize(os.path.join(directory, entry.path)) != entry.size]
    if resized:
        return Row(TASKBOX, "bundle", FAIL, f"{len(resized)} file(s) of {directory} are missing or truncated "
                   f"({', '.join(resized[:3])}{', ...' if len(resized) > 3 else ''})",
                   f"check it with `saltsphere artifact verify {directory}`; {fix}")
    return Row(TASKBOX, "bundle", OK, f"Kubernetes {manifest.kube_version}, {len(manifest.files)} files")


@dataclass
class Report:
    hosts: list
    rows: list
    certificates: str | None = None

    @property
    def failures(self) -> list:
        return [row for row in self.rows if row.status == FAIL]

    @property
    def warnings(self) -> list:
        return [row for row in self.rows if row.status == WARN]

    @property
    def passed(self) -> bool:
        return not self.failures

    def status(self, host, check):
        return next((row.status for row in self.rows if row.host == host and row.check == check), SKIP)

    def summary(self) -> str:
        warned = f" ({len(self.warnings)} warnings)" if self.warnings else ""
        count = len([host for host in self.hosts if host != TASKBOX])
        if self.passed:
            return f"preflight passed on {count} hosts{warned}"
        hosts = sorted({row.host for row in self.failures}, key=self.hosts.index)
        return (f"preflight failed: {len(self.failures)} checks failed on {', '.join(hosts)} "
                f"({count} hosts){warned}")

    def table(self) -> str:
        """One line per host, one column per check; then each failure and warning with its fix."""
        width = max([len("HOST")] + [len(host) for host in self.hosts])
        widths = [max(len(check), 4) for check in CHECKS]
        lines = ["  ".join(["HOST".ljust(width)] + [c.ljust(w) for c, w in zip(CHECKS, widths)]).rstrip()]
        for host in self.hosts:
            cells = [CELLS[self.status(host, check)].ljust(w) for check, w in zip(CHECKS, widths)]
            lines.append("  ".join([host.ljust(width)] + cells).rstrip())
        for label, rows in (("FAIL", self.failures), ("warn", self.warnings)):
            if rows:
                lines.append("")
            for row in rows:
                lines.append(f"{label} {row.host} {row.check}: {row.detail}")
                if row.fix:
                    lines.append(f"     fix: {row.fix}")
        if self.certificates:
            lines += ["", self.certificates]
        lines += ["", self.summary()]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "result": self.passed,
            "retcode": 0 if self.passed else 1,
            "comment": self.summary(),
            "table": self.table(),
            "failures": [row.public() for row in self.failures],
            "warnings": [row.public() for row in self.warnings],
            "certificates": self.certificates,
        }
