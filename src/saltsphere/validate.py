"""Checks of an inventory and a config against each other, all run before any host is contacted."""

import os
import re
from urllib.parse import urlparse

import netaddr

from saltsphere import config as cfg
from saltsphere import inventory as inv_mod
from saltsphere import kubeadm, registries
from saltsphere.inventory import ETCD, MASTER, NODE, CLUSTER

HOSTNAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
NETWORK_PLUGINS = ("calico", "bridge")
PROXY_MODES = ("iptables", "ipvs")
CGROUP_DRIVERS = ("systemd", "cgroupfs")
NODEPORT_RANGE = (30000, 32767)
# How long kubeadm's certificates last.
CERT_YEAR = 365
# How Ansible spells a boolean host variable.
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


def is_hostname(name) -> bool:
    # RFC 1123 keeps all-numeric dotted names out, so they cannot pass for addresses.
    if not (len(name) <= 253 and HOSTNAME_RE.match(name)):
        return False
    return not all(label.isdigit() for label in name.split("."))


def _suggest_hostname(name) -> str:
    fixed = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    return fixed or "node1"


def parse_ip(value):
    # INET_PTON: only the usual notations ("10" is not 0.0.0.10, "010.1.1.1" is refused).
    try:
        return netaddr.IPAddress(value, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def parse_cidr(value):
    try:
        network = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    return network if "/" in str(value) else None


def check_inventory(inv, problems):
    path = inv.path
    _check_groups(inv, problems)
    seen_ips = {}
    local = []
    for name in inv.hosts:
        host = inv.merged_host(name)
        if not is_hostname(name):
            problems.error(path, f"host name {name!r} is not a lowercase RFC 1123 name",
                           f"use lowercase letters, digits and '-' only, e.g. {_suggest_hostname(name)!r}",
                           line=host.line)
        ip_text = host.get("ip")
        if ip_text is None:
            fallback = host.get("host")
            if fallback and parse_ip(fallback):
                ip_text = fallback
            else:
                problems.error(path, f"host {name!r} has no ip=", "add ip=<the host's cluster address> to its line",
                               line=host.line)
        if ip_text is not None:
            ip = parse_ip(ip_text)
            if ip is None:
                problems.error(path, f"ip={ip_text!r} of host {name!r} is not an IP address",
                               "write the host's address, e.g. ip=192.168.0.2", line=host.line_of("ip"))
            elif ip.is_loopback() or ip.is_multicast() or str(ip) in ("0.0.0.0", "::"):
                problems.error(path, f"ip={ip_text} of host {name!r} cannot be a cluster address",
                               "use the address other hosts reach this host on", line=host.line_of("ip"))
            elif str(ip) in seen_ips:
                other, other_line = seen_ips[str(ip)]
                problems.error(path, f"host {name!r} has the same ip {ip} as {other!r} (line {other_line})",
                               "give every host its own address", line=host.line_of("ip"))
            else:
                seen_ips[str(ip)] = (name, host.line)
        address = host.get("host")
        if address is not None and not (parse_ip(address) or is_hostname(address.lower())):
            problems.error(path, f"ansible_host={address!r} of host {name!r} is neither an address nor a DNS name",
                           "write the address or name the taskbox connects to", line=host.line_of("host"))
        port = host.get("port")
        if port is not None and not (re.fullmatch(r"[0-9]{1,5}", port) and 1 <= int(port) <= 65535):
            problems.error(path, f"port {port!r} of host {name!r} is not between 1 and 65535",
                           "write the SSH port, e.g. ansible_port=22", line=host.line_of("port"))
        connection = host.get("connection")
        if connection is not None and connection not in inv_mod.CONNECTIONS:
            problems.error(path, f"ansible_connection={connection} of host {name!r} is not supported",
                           "use ssh (the default) or local for the taskbox itself", line=host.line_of("connection"))
        if host.local:
            local.append(host)
        _check_credentials(inv, host, problems)
        _check_become(inv, host, problems)
        if not inv.roles(name):
            problems.warn(path, f"host {name!r} is in no group of etcd, kube-master or kube-node; nothing will be installed on it",
                          "add it to a group, or remove it", line=host.line)
    if len(local) > 1:
        names = ", ".join(f"{h.name} (line {h.line})" for h in local)
        problems.error(path, f"{len(local)} hosts have ansible_connection=local: {names}",
                       "only the taskbox itself is local; remove ansible_connection=local from the others",
                       line=local[1].line)


def check_file_mode(inv, problems):
    """Passwords in an inventory that other users can read are passwords shared with them."""
    has_password = any(
        inv.merged_host(name).get("password") or inv.merged_host(name).get("become_password") for name in inv.hosts
    )
    if has_password and os.stat(inv.path).st_mode & 0o077:
        problems.warn(inv.path, "holds passwords and is readable by other users",
                      f"chmod 600 {inv.path}")


def check_config_mode(conf, problems):
    """Credentials in a vars.yml that other users can read are credentials shared with them."""
    secrets = sorted(key for key in cfg.SECRET_KEYS if conf.line(key) is not None and conf.is_set(key))
    if secrets and os.stat(conf.path).st_mode & 0o077:
        problems.warn(conf.path, f"holds credentials ({', '.join(secrets)}) and is readable by other users",
                      f"chmod 600 {conf.path}")


def _check_credentials(inv, host, problems):
    path = inv.path
    _, rejected = host.ssh_options()
    if rejected:
        problems.error(path, f"ssh arguments {' '.join(rejected)!r} of host {host.name!r} cannot be passed on",
                       "salt-ssh takes only '-o Key=Value' options in ansible_ssh_common_args/ansible_ssh_extra_args",
                       line=host.line_of("ssh_args"))
    key = host.get("private_key")
    if key is not None and not os.path.isfile(inv_mod.resolve_path(path, key)):
        problems.error(path, f"the private key {key!r} of host {host.name!r} does not exist on the taskbox",
                       "fix ansible_ssh_private_key_file, or create the key", line=host.line_of("private_key"))
    password, become = host.get("password"), host.get("become_password")
    if password and become and password != become and key is None:
        problems.error(path, f"host {host.name!r} has different SSH and sudo passwords but no SSH key",
                       "salt-ssh sends one password for both: log in with a key (ansible_ssh_private_key_file) "
                       "or make ansible_ssh_pass and ansible_become_pass equal", line=host.line)


def _check_become(inv, host, problems):
    """saltsphere needs root on every host; salt-ssh gets it by logging in as root or through sudo, nothing else."""
    path, name = inv.path, host.name
    become_user = host.get("become_user")
    if become_user is not None and become_user != "root":
        problems.error(path, f"ansible_become_user={become_user} of host {name!r}: saltsphere needs root on every "
                             "host, and salt-ssh's sudo runs commands as root",
                       "remove ansible_become_user, or set it to root", line=host.line_of("become_user"))
    method = host.get("become_method")
    if method is not None and method != "sudo":
        problems.error(path, f"ansible_become_method={method} of host {name!r} cannot be used",
                       "salt-ssh becomes root only through sudo: use a user with sudo, or log in as root "
                       "(then remove ansible_become_method)", line=host.line_of("become_method"))
    become = host.get("become")
    if become is None:
        return
    if become.lower() not in TRUE_WORDS + FALSE_WORDS:
        problems.error(path, f"ansible_become={become} of host {name!r} is neither true nor false",
                       "write ansible_become=true, or remove it", line=host.line_of("become"))
    elif become.lower() in FALSE_WORDS and host.user != "root":
        problems.error(path, f"host {name!r} logs in as {host.user} with ansible_become={become}, but saltsphere "
                             "needs root on every host",
                       "log in as root (ansible_user=root), or remove ansible_become so that salt-ssh uses sudo "
                       "(with ansible_become_pass if sudo asks for a password)", line=host.line_of("become"))


def _check_groups(inv, problems):
    path = inv.path
    for group in inv.groups.values():
        for member, line in group.hosts:
            if member not in inv.hosts:
                problems.error(path, f"{member!r} in [{group.name}] is not defined as a host",
                               f"add a line for {member!r} in [all] (name, ansible_host=..., ip=...)", line=line)
        for child, line in group.children:
            if child not in inv.groups:
                problems.error(path, f"[{group.name}:children] names the unknown group {child!r}",
                               f"define [{child}] or remove the line", line=line)
            elif _reaches(inv, child, group.name):
                problems.error(path, f"groups {group.name!r} and {child!r} contain each other",
                               "remove one of the :children lines", line=line)
    for role, fix in ((MASTER, "at least one control-plane host"), (ETCD, "an odd number of etcd members")):
        if not inv.members(role):
            problems.error(path, f"no host in [{role}]", f"add a [{role}] section listing {fix}")
    etcd = inv.members(ETCD)
    if etcd and len(etcd) % 2 == 0:
        line = inv.groups[ETCD].line if ETCD in inv.groups else None
        problems.error(path, f"[etcd] has {len(etcd)} members; an even count tolerates no more failures than one fewer",
                       f"use {len(etcd) - 1} or {len(etcd) + 1} etcd members", line=line)
    if CLUSTER in inv.groups:
        cluster = set(inv.members(CLUSTER))
        for role in (MASTER, NODE):
            missing = [h for h in inv.members(role) if h not in cluster]
            if missing:
                problems.error(path, f"[{CLUSTER}] does not include {', '.join(missing)} of [{role}]",
                               f"add {role} to [{CLUSTER}:children]", line=inv.groups[CLUSTER].line)


def _reaches(inv, start, target, seen=None) -> bool:
    seen = seen or set()
    if start == target:
        return True
    if start in seen or start not in inv.groups:
        return False
    seen.add(start)
    return any(_reaches(inv, c, target, seen) for c, _ in inv.groups[start].children)


def check_config(conf, inv, problems):
    path = conf.path
    ranges = {}
    for key in ("kube_service_addresses", "kube_pods_subnet"):
        network = parse_cidr(conf[key])
        if network is None:
            problems.error(path, f"{key} {conf[key]!r} is not a network in CIDR form",
                           f"write it like {cfg.defaults()[key]}", line=conf.line(key), key=key)
        elif network.ip != network.network:
            problems.error(path, f"{key} {conf[key]} has host bits set",
                           f"write the network address: {network.cidr}", line=conf.line(key), key=key)
        else:
            ranges[key] = network
    service, pods = ranges.get("kube_service_addresses"), ranges.get("kube_pods_subnet")
    if service is not None and pods is not None and service.first <= pods.last and pods.first <= service.last:
        problems.error(path, f"kube_service_addresses {service} and kube_pods_subnet {pods} overlap",
                       "choose two ranges that do not overlap", line=conf.line("kube_pods_subnet"),
                       key="kube_pods_subnet")
    if service is not None and service.version == 4 and service.prefixlen < 12:
        problems.error(path, f"kube_service_addresses {service} is larger than kube-apiserver accepts (/12)",
                       "use a /12 or smaller range", line=conf.line("kube_service_addresses"),
                       key="kube_service_addresses")
    _check_node_prefix(conf, inv, pods, problems)

    for name in inv.hosts:
        host = inv.merged_host(name)
        ip = parse_ip(host.get("ip") or host.get("host") or "")
        for key, network in ranges.items():
            if ip is not None and ip in network:
                problems.error(inv.path, f"ip {ip} of host {name!r} lies inside {key} {network}",
                               f"move {key} in {path} to a range the hosts do not use", line=host.line_of("ip"))

    _check_choices(conf, problems)
    _check_storage(conf, inv, problems)
    for key, what, fix in registries.problems(conf.values, os.path.dirname(os.path.abspath(path))):
        problems.error(path, f"{key} {what}", fix, line=conf.line(key), key=key)


def _check_node_prefix(conf, inv, pods, problems):
    key = "kube_network_node_prefix"
    prefix = conf[key]
    if pods is None:
        return
    limit = 32 if pods.version == 4 else 128
    if not pods.prefixlen < prefix <= limit - 2:
        problems.error(conf.path, f"{key} /{prefix} does not fit inside kube_pods_subnet {pods}",
                       f"choose a prefix between /{pods.prefixlen + 1} and /{limit - 2}", line=conf.line(key), key=key)
        return
    capacity = 2 ** (prefix - pods.prefixlen)
    nodes = len(inv.cluster_members())
    if nodes > capacity:
        problems.error(conf.path, f"kube_pods_subnet {pods} split into /{prefix} ranges holds {capacity} nodes, the inventory has {nodes}",
                       "widen kube_pods_subnet or raise kube_network_node_prefix", line=conf.line(key), key=key)


def _check_choices(conf, problems):
    path = conf.path
    for key, choices in (("kube_network_plugin", NETWORK_PLUGINS), ("kube_proxy_mode", PROXY_MODES),
                         ("containerd_cgroup_driver", CGROUP_DRIVERS)):
        if conf[key] not in choices:
            problems.error(path, f"{key} {conf[key]!r} is not supported", f"use one of: {', '.join(choices)}",
                           line=conf.line(key), key=key)
    if not re.match(r"^v\d+\.\d+\.\d+$", conf["kube_version"]):
        problems.error(path, f"kube_version {conf['kube_version']!r} is not a release version",
                       "write it like v1.20.2", line=conf.line("kube_version"), key="kube_version")
    low, high = NODEPORT_RANGE
    port = conf["ks_console_nodeport"]
    if not low <= port <= high:
        problems.error(path, f"ks_console_nodeport {port} is outside the NodePort range {low}-{high}",
                       "choose a port in that range, e.g. 32130", line=conf.line("ks_console_nodeport"),
                       key="ks_console_nodeport")
    for key, example in (("kube_apiserver_port", 6443), ("kube_apiserver_lb_port", 6444), ("artifact_port", 8089)):
        if not 1 <= conf[key] <= 65535:
            problems.error(path, f"{key} is not between 1 and 65535", f"use e.g. {example}", line=conf.line(key), key=key)
    if conf["kube_apiserver_lb_port"] == conf["kube_apiserver_port"]:
        problems.error(path, "kube_apiserver_lb_port is kube_apiserver_port: on a master both listen",
                       "choose another port for the local load balancer, e.g. 6444",
                       line=conf.line("kube_apiserver_lb_port"), key="kube_apiserver_lb_port")
    endpoint = conf["kube_control_plane_endpoint"]
    if endpoint:
        try:
            kubeadm.split_endpoint(endpoint)
        except ValueError:
            problems.error(path, f"kube_control_plane_endpoint {endpoint!r} is not host:port",
                           "write it like lb.example.com:6443 or 192.168.0.10:6443, or leave it empty",
                           line=conf.line("kube_control_plane_endpoint"), key="kube_control_plane_endpoint")
    if conf["kube_wait_seconds"] < 10:
        problems.error(path, "kube_wait_seconds is below 10", "give hosts at least a minute, e.g. 300",
                       line=conf.line("kube_wait_seconds"), key="kube_wait_seconds")
    for key in ("preflight_min_cpu_cores", "preflight_min_memory_gb", "preflight_min_disk_gb"):
        if conf[key] < 0:
            problems.error(path, f"{key} cannot be negative", "use 0 or more", line=conf.line(key), key=key)
    key = "certs_warn_days"
    if not 0 <= conf[key] < CERT_YEAR:
        problems.error(path, f"{key} {conf[key]} is outside 0..{CERT_YEAR - 1}",
                       f"use e.g. 30; kubeadm's certificates last {CERT_YEAR} days, so {CERT_YEAR} or more would "
                       "count each of them due the day it is made", line=conf.line(key), key=key)
    key = "etcd_backup_keep"
    if conf[key] < 1:
        problems.error(path, f"{key} {conf[key]} keeps no snapshot", "keep at least 1, e.g. 10",
                       line=conf.line(key), key=key)
    _check_kube_proxy(conf, problems)
    key = "kubeadm_ignore_preflight_errors"
    problem = kubeadm.validate_preflight_errors(conf[key])
    if problem:
        problems.error(path, f"{key}: {problem}",
                       "list check names as kubeadm prints them, e.g. [SystemVerification], or [all] alone",
                       line=conf.line(key), key=key)


def _check_kube_proxy(conf, problems):
    path = conf.path
    for key in ("kube_proxy_conntrack_max_per_core", "kube_proxy_conntrack_min"):
        if conf[key] < 0:
            problems.error(path, f"{key} cannot be negative",
                           f"use 0 (leave the kernel's value) or more, e.g. {cfg.defaults()[key]}",
                           line=conf.line(key), key=key)
    for key in ("kube_proxy_conntrack_tcp_established_timeout", "kube_proxy_conntrack_tcp_close_wait_timeout"):
        if not kubeadm.DURATION_RE.match(conf[key]):
            problems.error(path, f"{key} {conf[key]!r} is not a duration",
                           f"write it like {cfg.defaults()[key]} or 1h30m, or 0s to leave the kernel's timeout",
                           line=conf.line(key), key=key)
    key = "kube_proxy_oom_score_adj"
    if not -1000 <= conf[key] <= 1000:
        problems.error(path, f"{key} {conf[key]} is outside -1000..1000",
                       "use -999 (upstream's), or 0 where root cannot lower OOM scores", line=conf.line(key), key=key)


def _check_storage(conf, inv, problems):
    path = conf.path
    enabled = [sc for sc in cfg.STORAGE_CLASSES if conf[sc.enable_key]]
    for sc in cfg.STORAGE_CLASSES:
        if conf[sc.default_key] and not conf[sc.enable_key]:
            problems.error(path, f"{sc.default_key} is true but {sc.name} is not enabled",
                           f"set {sc.enable_key}: true, or {sc.default_key}: false",
                           line=conf.line(sc.default_key), key=sc.default_key)
    defaults = [sc for sc in enabled if conf[sc.default_key]]
    if not defaults:
        problems.error(path, "no default storage class: KubeSphere needs exactly one",
                       "enable one class and set its *_is_default_class: true, e.g. "
                       "nfs_server_enable: true and nfs_server_is_default_class: true (multi-node tests) or "
                       "nfs_client_enable with nfs_server/nfs_path (production)", key="*_is_default_class")
    elif len(defaults) > 1:
        keys = ", ".join(sc.default_key for sc in defaults)
        problems.error(path, f"{len(defaults)} storage classes are marked default ({keys})",
                       "keep *_is_default_class: true on exactly one", line=conf.line(defaults[1].default_key),
                       key=defaults[1].default_key)
    members = inv.cluster_members()
    if conf["local_volume_provisioner_enabled"] and len(members) > 1:
        problems.error(path, f"local volume storage works on all-in-one only; the inventory has {len(members)} cluster hosts",
                       "set local_volume_provisioner_enabled: false and local_volume_is_default_class: false, "
                       "and enable a shared class (NFS, Ceph RBD, GlusterFS, ...)",
                       line=conf.line("local_volume_provisioner_enabled"), key="local_volume_provisioner_enabled")
    for sc in enabled:
        for key in sc.required:
            if not conf.is_set(key):
                problems.error(path, f"{sc.name} is enabled ({sc.enable_key}) but {key} is not set",
                               f"set {key} in {os.path.basename(path)}", line=conf.line(key), key=key)
    _check_storage_values(conf, problems)


def _check_storage_values(conf, problems):
    path = conf.path
    if conf["nfs_client_enable"]:
        server = conf["nfs_server"]
        if conf.is_set("nfs_server") and not (parse_ip(server) or is_hostname(server.lower())):
            problems.error(path, f"nfs_server {server!r} is neither an address nor a DNS name",
                           "write the NFS server's address, e.g. nfs_server: 192.168.0.10",
                           line=conf.line("nfs_server"), key="nfs_server")
        if conf.is_set("nfs_path") and not conf["nfs_path"].startswith("/"):
            problems.error(path, f"nfs_path {conf['nfs_path']!r} is not an absolute path",
                           "write the exported directory, e.g. nfs_path: /srv/nfs/kubesphere",
                           line=conf.line("nfs_path"), key="nfs_path")
    if conf["ceph_rbd_enabled"] and conf.is_set("ceph_rbd_monitors"):
        for monitor in conf["ceph_rbd_monitors"]:
            host, _, port = monitor.rpartition(":")
            if not host or not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
                problems.error(path, f"ceph_rbd_monitors entry {monitor!r} is not host:port",
                               "list monitors as address:port, e.g. - 192.168.0.20:6789",
                               line=conf.line("ceph_rbd_monitors"), key="ceph_rbd_monitors")
    if conf["glusterfs_provisioner_enabled"]:
        url = conf["glusterfs_provisioner_resturl"]
        if conf.is_set("glusterfs_provisioner_resturl") and urlparse(url).scheme not in ("http", "https"):
            problems.error(path, f"glusterfs_provisioner_resturl {url!r} is not an http(s) URL",
                           "write heketi's URL, e.g. http://192.168.0.4:8080",
                           line=conf.line("glusterfs_provisioner_resturl"), key="glusterfs_provisioner_resturl")
        if conf["glusterfs_provisioner_restauthenabled"] and not conf.is_set("jwt_admin_key"):
            problems.error(path, "glusterfs_provisioner_restauthenabled is true but jwt_admin_key is not set",
                           "set jwt_admin_key to heketi's admin key, or disable REST authentication",
                           line=conf.line("jwt_admin_key"), key="jwt_admin_key")
