"""kubeadm configuration files, rendered from plain parameters for the kubeadm API the Kubernetes version reads.

Kubernetes 1.15 to 1.21 read ``kubeadm.k8s.io/v1beta2``, 1.22 to 1.30
``v1beta3`` and 1.31 onwards ``v1beta4``.  Only fields the chosen version knows
are written: kubeadm rejects (or, depending on the release, warns about and
drops) unknown fields, so a field of a newer API would silently do nothing or
stop the install.  The differences that matter here:

- v1beta3 dropped ``ClusterConfiguration.dns.type`` (CoreDNS is the only DNS
  addon left) and added ``skipPhases`` to InitConfiguration and JoinConfiguration;
  with v1beta2 phases are skipped on the command line (:func:`skip_phases_args`).
- v1beta4 turned every ``extraArgs`` map (and ``kubeletExtraArgs``) into a list
  of ``{name, value}`` so a flag may be repeated.
- From v1beta3 on the CRI socket is written as a URL (``unix:///...``):
  kubeadm 1.24 and later deprecate a bare path.

``nodeRegistration.ignorePreflightErrors`` means the same in all three
versions; kubeadm adds it to any ``--ignore-preflight-errors`` it is given.
The KubeProxyConfiguration always spells out kube-proxy's conntrack and OOM
settings, upstream's defaults unless the cluster chose others: the file then
says what every node runs with.

``kubeadm join`` reads nothing but the JoinConfiguration of its file: a joining
kubelet gets its KubeletConfiguration from the cluster's ``kubelet-config``
ConfigMap, which ``kubeadm init`` uploads from the documents made here.
"""

import copy
import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

V1BETA2 = "kubeadm.k8s.io/v1beta2"
V1BETA3 = "kubeadm.k8s.io/v1beta3"
V1BETA4 = "kubeadm.k8s.io/v1beta4"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
KUBE_PROXY_API = "kubeproxy.config.k8s.io/v1alpha1"

# A release as kubernetesVersion takes it needs its patch number; the API version only depends on the minor.
RELEASE_RE = re.compile(r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)([-+][-0-9a-zA-Z_.+]*)?$")
MINOR_RE = re.compile(r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)([-+][-0-9a-zA-Z_.+]*)?)?$")
TOKEN_RE = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
HASH_RE = re.compile(r"^sha256:[0-9a-fA-F]{64}$")
# A Go duration as kubeadm parses the token TTL ("0" means never expiring).
DURATION_RE = re.compile(r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$")
DNS_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
PHASE_RE = re.compile(r"^[a-z0-9-]+(/[a-z0-9-]+)*$")
# A preflight check as kubeadm names it in its output ("SystemVerification", "Port-10250",
# "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml"), or "all".
PREFLIGHT_CHECK_RE = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
PROXY_MODES = ("iptables", "ipvs")
CGROUP_DRIVERS = ("systemd", "cgroupfs")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOKEN_GROUPS = ["system:bootstrappers:kubeadm:default-node-token"]
TOKEN_USAGES = ["signing", "authentication"]


def _minor(kube_version) -> tuple:
    match = MINOR_RE.match(str(kube_version).strip())
    if not match:
        raise ValueError(
            f"kubernetes version {kube_version!r} is not a version "
            "-> write it as v<major>.<minor>.<patch>, e.g. v1.20.2"
        )
    return int(match.group(1)), int(match.group(2))


def api_version(kube_version: str) -> str:
    """The kubeadm config API that ``kube_version`` ("v1.20.2", "1.20.2" or "1.20") reads."""
    minor = _minor(kube_version)
    if minor < (1, 15):
        raise ValueError(
            f"kubernetes version {kube_version!r} is too old: kubeadm configuration is supported from v1.15 on "
            "-> choose v1.15 or later"
        )
    if minor <= (1, 21):
        return V1BETA2
    if minor <= (1, 30):
        return V1BETA3
    return V1BETA4


def service_ip(service_subnet: str, index: int) -> str:
    """The ``index``-th address of ``service_subnet``: 1 is the ``kubernetes`` service, 10 the cluster DNS."""
    network = _network("service_subnet", service_subnet)
    if not 0 < index < network.num_addresses - 1:
        raise ValueError(
            f"service_subnet {service_subnet} has no address number {index} -> use a larger service_subnet"
        )
    return str(network[index])


def ca_cert_hash(ca_cert_pem: bytes) -> str:
    """The discovery hash ``kubeadm join`` pins the cluster CA with: SHA-256 of its DER SubjectPublicKeyInfo."""
    if isinstance(ca_cert_pem, str):
        ca_cert_pem = ca_cert_pem.encode("ascii")
    try:
        cert = x509.load_pem_x509_certificate(ca_cert_pem)
    except ValueError as exc:
        raise ValueError(f"the CA certificate is not a PEM certificate ({exc}) -> pass the cluster's ca.crt") from exc
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _network(name, value):
    try:
        # A bare address would pass as a /32: the prefix length must be written.
        if "/" not in str(value):
            raise ValueError("no prefix length")
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        raise ValueError(
            f"{name} {value!r} is not a network in CIDR notation ({exc}) -> write it like 10.233.0.0/18"
        ) from None


def _ip(name, value):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an IP address -> write an address like 192.168.0.2") from None


def _is_ip(value) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_dns_name(value) -> bool:
    return len(value) <= 253 and bool(DNS_NAME_RE.match(value))


def split_endpoint(endpoint: str) -> tuple:
    """``("host", port)`` of "host:port" or "[v6-address]:port"."""
    host, sep, port = str(endpoint).rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        valid_host = ":" in host and _is_ip(host)
    else:
        valid_host = ":" not in host and (_is_ip(host) or _is_dns_name(host))
    if not (sep and valid_host and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(
            f"control_plane_endpoint {endpoint!r} is not host:port -> write it like 192.168.0.2:6443 or "
            "lb.example.com:6443 ([address]:port for IPv6)"
        )
    return host, int(port)


def _tuple(name, value):
    # Salt hands lists (or None for an empty pillar key) where the parameters want tuples; a lone
    # string would be split into characters.
    if value is None:
        return ()
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a list, not {type(value).__name__} -> write it as a list of values")
    return tuple(value)


@dataclass(frozen=True)
class Params:
    """Everything the kubeadm documents of one host depend on; checked when made."""

    kube_version: str
    node_name: str
    node_ip: str
    control_plane_endpoint: str
    etcd_endpoints: tuple
    etcd_ca_file: str
    etcd_cert_file: str
    etcd_key_file: str
    service_subnet: str
    pod_subnet: str
    node_cidr_mask_size: int
    dns_domain: str
    image_repository: str
    bootstrap_token: str = field(repr=False)
    token_ttl: str = "24h0m0s"
    discovery_hashes: tuple = ()
    api_bind_port: int = 6443
    cert_sans: tuple = ()
    cgroup_driver: str = "systemd"
    cri_socket: str = "/run/containerd/containerd.sock"
    proxy_mode: str = "iptables"
    cluster_name: str = "kubernetes"
    cluster_dns: str = ""
    kubelet_extra: dict = field(default_factory=dict)
    proxy_extra: dict = field(default_factory=dict)
    # KubeProxyConfiguration's own defaults (kube-proxy 1.15 onwards); 0 / "0s" leave the kernel's value.
    conntrack_max_per_core: int = 32768
    conntrack_min: int = 131072
    conntrack_tcp_established_timeout: str = "24h0m0s"
    conntrack_tcp_close_wait_timeout: str = "1h0m0s"
    proxy_oom_score_adj: int = -999
    ignore_preflight_errors: tuple = ()
    node_labels: dict = field(default_factory=dict)
    taints: tuple | None = None
    skip_phases: tuple = ()

    def __post_init__(self):
        for name in ("etcd_endpoints", "discovery_hashes", "cert_sans", "skip_phases", "ignore_preflight_errors"):
            object.__setattr__(self, name, _tuple(name, getattr(self, name)))
        if self.taints is not None:
            object.__setattr__(self, "taints", _tuple("taints", self.taints))
        _validate(self)

    @property
    def api_version(self) -> str:
        return api_version(self.kube_version)

    @property
    def release(self) -> str:
        """The version as ``kubernetesVersion`` wants it, with its "v"."""
        return "v" + self.kube_version.strip().lstrip("v")

    @property
    def dns_ip(self) -> str:
        return self.cluster_dns or service_ip(self.service_subnet, 10)


def _validate(p):
    if not RELEASE_RE.match(str(p.kube_version).strip()):
        raise ValueError(
            f"kube_version {p.kube_version!r} is not a release version -> write it as v<major>.<minor>.<patch>, "
            "e.g. v1.20.2"
        )
    try:
        api_version(p.kube_version)
    except ValueError as exc:
        raise ValueError(f"kube_version: {exc}") from None
    if not _is_dns_name(str(p.node_name)):
        raise ValueError(
            f"node_name {p.node_name!r} is not a lowercase RFC 1123 name -> use lowercase letters, digits, '-' and '.'"
        )
    _ip("node_ip", p.node_ip)
    split_endpoint(p.control_plane_endpoint)
    _validate_etcd(p)
    _validate_networks(p)
    if not _is_dns_name(str(p.dns_domain)):
        raise ValueError(f"dns_domain {p.dns_domain!r} is not a DNS domain -> use e.g. cluster.local")
    if not str(p.image_repository).strip() or any(c.isspace() for c in str(p.image_repository)):
        raise ValueError(f"image_repository {p.image_repository!r} is not a registry path -> use e.g. k8s.gcr.io")
    if not TOKEN_RE.match(str(p.bootstrap_token)):
        # The token is a credential: the message never repeats it.
        raise ValueError(
            "bootstrap_token is not of the form [a-z0-9]{6}.[a-z0-9]{16} -> generate one with `kubeadm token generate`"
        )
    if not DURATION_RE.match(str(p.token_ttl)):
        raise ValueError(
            f"token_ttl {p.token_ttl!r} is not a duration -> write it like 24h0m0s, 2h or 0 (never expires)"
        )
    for value in p.discovery_hashes:
        if not HASH_RE.match(str(value)):
            raise ValueError(
                f"discovery_hashes entry {value!r} is not sha256:<64 hex digits> "
                "-> use ca_cert_hash() of the cluster CA"
            )
    if not (isinstance(p.api_bind_port, int) and 0 < p.api_bind_port < 65536):
        raise ValueError(
            f"api_bind_port {p.api_bind_port!r} is not a TCP port -> use a number from 1 to 65535, e.g. 6443"
        )
    for value in p.cert_sans:
        if not (_is_ip(str(value)) or _is_dns_name(str(value).removeprefix("*."))):
            raise ValueError(f"cert_sans entry {value!r} is neither an IP address nor a DNS name -> remove or fix it")
    if p.cgroup_driver not in CGROUP_DRIVERS:
        raise ValueError(f"cgroup_driver {p.cgroup_driver!r} is unknown -> use one of {', '.join(CGROUP_DRIVERS)}")
    if "://" not in str(p.cri_socket) and not str(p.cri_socket).startswith("/"):
        raise ValueError(
            f"cri_socket {p.cri_socket!r} is neither an absolute path nor a URL "
            "-> use e.g. /run/containerd/containerd.sock"
        )
    if p.proxy_mode not in PROXY_MODES:
        raise ValueError(f"proxy_mode {p.proxy_mode!r} is unknown -> use one of {', '.join(PROXY_MODES)}")
    if not str(p.cluster_name).strip():
        raise ValueError("cluster_name is empty -> name the cluster, e.g. kubernetes")
    for name in ("kubelet_extra", "proxy_extra", "node_labels"):
        if not isinstance(getattr(p, name), dict):
            raise ValueError(f"{name} must be a mapping -> write it as key: value pairs")
    for key, value in p.node_labels.items():
        if not key or any(c in str(key) + str(value) for c in ",= "):
            raise ValueError(
                f"node_labels entry {key!r}: {value!r} has an empty key or a ',', '=' or space -> fix the label"
            )
    _validate_taints(p.taints)
    _validate_proxy(p)
    _validate_preflight_errors(p.ignore_preflight_errors)
    for phase in p.skip_phases:
        if not PHASE_RE.match(str(phase)):
            raise ValueError(
                f"skip_phases entry {phase!r} is not a kubeadm phase name -> use names like addon/kube-proxy"
            )


def _validate_etcd(p):
    if not p.etcd_endpoints:
        raise ValueError("etcd_endpoints is empty -> list the etcd client URLs, e.g. https://10.0.0.1:2379")
    for url in p.etcd_endpoints:
        parts = urlsplit(str(url))
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
            raise ValueError(
                f"etcd_endpoints entry {url!r} is not scheme://host:port -> write it like https://10.0.0.1:2379"
            )
    for name in ("etcd_ca_file", "etcd_cert_file", "etcd_key_file"):
        if not str(getattr(p, name)).startswith("/"):
            raise ValueError(f"{name} {getattr(p, name)!r} is not an absolute path -> give the file's path on the host")


def _validate_networks(p):
    services = _network("service_subnet", p.service_subnet)
    pods = _network("pod_subnet", p.pod_subnet)
    if services.version != pods.version:
        raise ValueError(
            "service_subnet and pod_subnet are of different IP versions -> use two IPv4 or two IPv6 networks"
        )
    if services.overlaps(pods):
        raise ValueError(
            f"service_subnet {services} and pod_subnet {pods} overlap -> choose ranges that share no address"
        )
    if not (isinstance(p.node_cidr_mask_size, int) and pods.prefixlen <= p.node_cidr_mask_size <= pods.max_prefixlen):
        raise ValueError(
            f"node_cidr_mask_size {p.node_cidr_mask_size!r} does not fit pod_subnet {pods} -> use a prefix length "
            f"from {pods.prefixlen} to {pods.max_prefixlen}, e.g. 24"
        )
    if p.cluster_dns and _ip("cluster_dns", p.cluster_dns) not in services:
        raise ValueError(
            f"cluster_dns {p.cluster_dns} is outside service_subnet {services} -> leave it empty for the 10th address"
        )


def _validate_proxy(p):
    for name in ("conntrack_max_per_core", "conntrack_min"):
        value = getattr(p, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} {value!r} is not a whole number of 0 or more -> use e.g. 32768, "
                             "or 0 to leave the kernel's nf_conntrack_max alone")
    for name in ("conntrack_tcp_established_timeout", "conntrack_tcp_close_wait_timeout"):
        value = getattr(p, name)
        if not DURATION_RE.match(str(value)):
            raise ValueError(f"{name} {value!r} is not a duration -> write it like 24h0m0s or 1h, "
                             "or 0s to leave the kernel's timeout alone")
    value = p.proxy_oom_score_adj
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        raise ValueError(f"proxy_oom_score_adj {value!r} is not between -1000 and 1000 -> use e.g. -999")


def validate_preflight_errors(names) -> str | None:
    """Why ``names`` cannot be kubeadm's ignorePreflightErrors, or None when they can."""
    for name in names:
        if not PREFLIGHT_CHECK_RE.match(str(name)):
            return f"{name!r} is not the name of a kubeadm preflight check (e.g. SystemVerification, Port-10250)"
    if len(names) > 1 and any(str(name).lower() == "all" for name in names):
        return "'all' ignores every check: kubeadm refuses it together with single checks"
    return None


def _validate_preflight_errors(names):
    problem = validate_preflight_errors(names)
    if problem:
        raise ValueError(f"ignore_preflight_errors: {problem} -> list check names as kubeadm prints them, or 'all' "
                         "alone")


def _validate_taints(taints):
    for taint in taints or ():
        if not (isinstance(taint, dict) and taint.get("key") and set(taint) <= {"key", "value", "effect"}
                and taint.get("effect") in TAINT_EFFECTS):
            raise ValueError(
                f"taints entry {taint!r} is not {{key, value (optional), effect}} with effect one of "
                f"{', '.join(TAINT_EFFECTS)} -> fix it, or leave taints unset for kubeadm's default"
            )


def _args(api, mapping):
    if api == V1BETA4:
        return [{"name": name, "value": value} for name, value in mapping.items()]
    return dict(mapping)


def _deep_merge(base, extra):
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _cri_socket(p, api):
    if api == V1BETA2 or "://" in p.cri_socket:
        return p.cri_socket
    return "unix://" + p.cri_socket


def _node_registration(p, api):
    kubelet_args = {"node-ip": str(p.node_ip)}
    if p.node_labels:
        kubelet_args["node-labels"] = ",".join(f"{key}={p.node_labels[key]}" for key in sorted(p.node_labels))
    registration = {
        "name": p.node_name,
        "criSocket": _cri_socket(p, api),
        "kubeletExtraArgs": _args(api, kubelet_args),
    }
    if p.ignore_preflight_errors:
        registration["ignorePreflightErrors"] = list(p.ignore_preflight_errors)
    if p.taints is not None:
        # An empty list is meaningful: kubeadm then leaves a control-plane node untainted.
        registration["taints"] = [dict(taint) for taint in p.taints]
    return registration


def _local_endpoint(p):
    return {"advertiseAddress": str(p.node_ip), "bindPort": p.api_bind_port}


def _cert_sans(p):
    host, _ = split_endpoint(p.control_plane_endpoint)
    return list(dict.fromkeys([*map(str, p.cert_sans), str(p.node_ip), host]))


def init_configuration(p: Params) -> dict:
    api = p.api_version
    document = {
        "apiVersion": api,
        "kind": "InitConfiguration",
        "bootstrapTokens": [{
            "token": p.bootstrap_token,
            "ttl": p.token_ttl,
            "usages": list(TOKEN_USAGES),
            "groups": list(TOKEN_GROUPS),
        }],
        "localAPIEndpoint": _local_endpoint(p),
        "nodeRegistration": _node_registration(p, api),
    }
    if p.skip_phases and api != V1BETA2:
        document["skipPhases"] = list(p.skip_phases)
    return document


def cluster_configuration(p: Params) -> dict:
    api = p.api_version
    document = {
        "apiVersion": api,
        "kind": "ClusterConfiguration",
        "clusterName": p.cluster_name,
        "kubernetesVersion": p.release,
        "controlPlaneEndpoint": p.control_plane_endpoint,
        "imageRepository": p.image_repository,
        "networking": {
            "serviceSubnet": p.service_subnet,
            "podSubnet": p.pod_subnet,
            "dnsDomain": p.dns_domain,
        },
        "etcd": {
            "external": {
                "endpoints": list(p.etcd_endpoints),
                "caFile": p.etcd_ca_file,
                "certFile": p.etcd_cert_file,
                "keyFile": p.etcd_key_file,
            },
        },
        "apiServer": {"certSANs": _cert_sans(p)},
        "controllerManager": {
            "extraArgs": _args(api, {
                "allocate-node-cidrs": "true",
                "cluster-cidr": p.pod_subnet,
                "node-cidr-mask-size": str(p.node_cidr_mask_size),
            }),
        },
    }
    if api == V1BETA2:
        # Up to 1.20 kubeadm could still install kube-dns; name the addon rather than rely on the default.
        document["dns"] = {"type": "CoreDNS"}
    return document


def kubelet_configuration(p: Params) -> dict:
    return _deep_merge({
        "apiVersion": KUBELET_API,
        "kind": "KubeletConfiguration",
        "cgroupDriver": p.cgroup_driver,
        "clusterDNS": [p.dns_ip],
        "clusterDomain": p.dns_domain,
        "failSwapOn": True,
    }, p.kubelet_extra)


def kube_proxy_configuration(p: Params) -> dict:
    return _deep_merge({
        "apiVersion": KUBE_PROXY_API,
        "kind": "KubeProxyConfiguration",
        "mode": p.proxy_mode,
        "clusterCIDR": p.pod_subnet,
        "conntrack": {
            "maxPerCore": p.conntrack_max_per_core,
            "min": p.conntrack_min,
            "tcpEstablishedTimeout": p.conntrack_tcp_established_timeout,
            "tcpCloseWaitTimeout": p.conntrack_tcp_close_wait_timeout,
        },
        "oomScoreAdj": p.proxy_oom_score_adj,
    }, p.proxy_extra)


def init_documents(p: Params) -> list:
    """The file for ``kubeadm init --config``."""
    return [init_configuration(p), cluster_configuration(p), kubelet_configuration(p), kube_proxy_configuration(p)]


def join_documents(p: Params, control_plane: bool) -> list:
    """The file for ``kubeadm join --config``: a worker, or with ``control_plane`` one more control-plane node.

    No certificateKey: the control-plane certificates are put on the host beforehand, not downloaded.
    """
    if not p.discovery_hashes:
        raise ValueError(
            "discovery_hashes is empty: joining without pinning the cluster CA is refused "
            "-> pass ca_cert_hash() of the cluster's ca.crt"
        )
    api = p.api_version
    document = {
        "apiVersion": api,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": p.control_plane_endpoint,
                "token": p.bootstrap_token,
                "caCertHashes": list(p.discovery_hashes),
            },
        },
        "nodeRegistration": _node_registration(p, api),
    }
    if control_plane:
        document["controlPlane"] = {"localAPIEndpoint": _local_endpoint(p)}
    if p.skip_phases and api != V1BETA2:
        document["skipPhases"] = list(p.skip_phases)
    return [document]


def skip_phases_args(p: Params) -> list:
    """Command-line arguments for the phases to skip that the config file cannot hold (v1beta2)."""
    if p.skip_phases and p.api_version == V1BETA2:
        return ["--skip-phases=" + ",".join(p.skip_phases)]
    return []


def dump(documents: list) -> str:
    """One YAML file of ``documents``, keys in the order they were built."""
    return yaml.safe_dump_all(documents, explicit_start=True, sort_keys=False, default_flow_style=False)

