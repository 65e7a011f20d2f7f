"""The Kubernetes part of each host's pillar, computed on the taskbox.

Everything a host needs to join the cluster without asking another host is
decided here: its kubeadm configuration (with the pre-generated bootstrap
token and the CA's discovery hash), which master initialises the cluster, the
API endpoint and the load balancer in front of several masters, and where the
bundle's files come from.
"""

import dataclasses
import functools
from pathlib import Path

from saltsphere import bom, kubeadm
from saltsphere.artifacts import aptrepo
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve
from saltsphere.artifacts.errors import ArtifactError
from saltsphere.inventory import ETCD, MASTER, NODE

PKI_DIR = "/etc/kubernetes/pki"
CONFIG_FILE = "/etc/kubernetes/saltsphere/kubeadm.yaml"
ETCD_CA = f"{PKI_DIR}/etcd/ca.crt"
ETCD_CLIENT_CERT = f"{PKI_DIR}/apiserver-etcd-client.crt"
ETCD_CLIENT_KEY = f"{PKI_DIR}/apiserver-etcd-client.key"
CRI_SOCKET = "/run/containerd/containerd.sock"
ADDON_DNS = "addon/coredns"


def endpoint(cluster) -> str:
    """``host:port`` every host reaches the API by."""
    config = cluster.config.values
    if config.get("kube_control_plane_endpoint"):
        return config["kube_control_plane_endpoint"]
    masters = cluster.role_members(MASTER)
    if len(masters) > 1:
        return f"127.0.0.1:{config['kube_apiserver_lb_port']}"
    return f"{masters[0].ip}:{config['kube_apiserver_port']}"


def endpoint_from_taskbox(cluster) -> str:
    """``host:port`` the taskbox reaches the API by: the local load balancer runs on the hosts only."""
    config = cluster.config.values
    if config.get("kube_control_plane_endpoint"):
        return config["kube_control_plane_endpoint"]
    return f"{cluster.role_members(MASTER)[0].ip}:{config['kube_apiserver_port']}"


def load_balancer(cluster) -> dict:
    """The local load balancer of every Kubernetes host: on with several masters and no external endpoint."""
    config = cluster.config.values
    masters = cluster.role_members(MASTER)
    enabled = len(masters) > 1 and not config.get("kube_control_plane_endpoint")
    return {
        "enabled": enabled,
        "port": config["kube_apiserver_lb_port"],
        "backends": [{"name": m.name, "ip": m.ip, "port": config["kube_apiserver_port"]} for m in masters],
    }


@functools.lru_cache(maxsize=4)
def _bundle(bundle_dir: str, stamp):
    return mf.read_manifest(bundle_dir)


def bundle_manifest(bundle_dir):
    path = Path(bundle_dir) / mf.MANIFEST_NAME
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise ArtifactError(f"no bundle at {bundle_dir} (no {mf.MANIFEST_NAME}); build it with `saltsphere artifact "
                            "build --from-debian-source` (or fetch one), or set artifact_bundle in vars.yml") from None
    return _bundle(str(bundle_dir), stamp)


def bundle_pillar(cluster, spec) -> dict:
    """Where the host downloads the bundle from, and every file's hash; ``error`` when there is no bundle."""
    config = cluster.config.values
    state_dir = Path(cluster.directory) / ".saltsphere"
    try:
        manifest = bundle_manifest(config["artifact_bundle"])
        address = "127.0.0.1" if spec.local else serve.source_address_for(spec.ip)
        # Made by the prepare step; None until then, and the hosts' package installs say so.
        apt_keyring = aptrepo.public_keyring(state_dir)
    except ArtifactError as exc:
        return {"error": str(exc)}
    # prepare starts the server; rendering only reads the record it left.
    server = serve.record(state_dir)
    if server is None or address not in server["addresses"]:
        return {"error": f"no bundle server is running for this cluster (or it does not listen towards {spec.ip}): "
                         "run `salt-run saltsphere.prepare` (the orchestration and ./install.sh run it first)"}
    files = {
        entry.path: {"name": entry.name, "kind": entry.kind, "version": entry.version, "sha256": entry.sha256,
                     "ref": entry.ref}
        for entry in manifest.files
    }
    return {
        "url": serve.base_url(address, server["port"], server["token"]),
        "kube_version": manifest.kube_version,
        "distributions": manifest.distributions,
        "files": files,
        "apt_keyring": apt_keyring,
    }


def has_dns_image(config, bundle) -> bool:
    """Whether the bundle holds the CoreDNS image kubeadm asks for."""
    bill = bom.compute(config)
    return bool(bill.images_of(bom.DNS)) and not bill.missing(bom.held_refs(bundle.get("files", {})), bom.DNS)


def preflight_ignores(config, bundle) -> list:
    """kubeadm preflight checks to ignore: vars.yml's, and ImagePull when the bundle has no CoreDNS image.

    kubeadm pulls the CoreDNS image in preflight even with the addon skipped;
    that one is about the bundle, not the host, so it is added whatever
    vars.yml says (unless "all" already covers it).
    """
    ignore = list(config["kubeadm_ignore_preflight_errors"])
    lowered = {name.lower() for name in ignore}
    if not has_dns_image(config, bundle) and not lowered & {"imagepull", "all"}:
        ignore.append("ImagePull")
    return ignore


def _params(cluster, spec, token, ca_cert_pem, bundle) -> kubeadm.Params:
    config = cluster.config.values
    is_node = NODE in spec.roles
    host, _ = kubeadm.split_endpoint(endpoint(cluster))
    skip = () if has_dns_image(config, bundle) else (ADDON_DNS,)
    return kubeadm.Params(
        kube_version=config["kube_version"],
        node_name=spec.name,
        node_ip=spec.ip,
        control_plane_endpoint=endpoint(cluster),
        etcd_endpoints=tuple(f"https://{m.ip}:2379" for m in cluster.role_members(ETCD)),
        etcd_ca_file=ETCD_CA,
        etcd_cert_file=ETCD_CLIENT_CERT,
        etcd_key_file=ETCD_CLIENT_KEY,
        service_subnet=config["kube_service_addresses"],
        pod_subnet=config["kube_pods_subnet"],
        node_cidr_mask_size=config["kube_network_node_prefix"],
        dns_domain=config["cluster_name"],
        image_repository=config["kube_image_repository"],
        bootstrap_token=token,
        discovery_hashes=(kubeadm.ca_cert_hash(ca_cert_pem.encode()),),
        api_bind_port=config["kube_apiserver_port"],
        cert_sans=tuple(sorted({host, "127.0.0.1", "localhost", *(m.ip for m in cluster.role_members(MASTER))})),
        cgroup_driver=config["containerd_cgroup_driver"],
        cri_socket=CRI_SOCKET,
        proxy_mode=config["kube_proxy_mode"],
        conntrack_max_per_core=config["kube_proxy_conntrack_max_per_core"],
        conntrack_min=config["kube_proxy_conntrack_min"],
        conntrack_tcp_established_timeout=config["kube_proxy_conntrack_tcp_established_timeout"],
        conntrack_tcp_close_wait_timeout=config["kube_proxy_conntrack_tcp_close_wait_timeout"],
        proxy_oom_score_adj=config["kube_proxy_oom_score_adj"],
        ignore_preflight_errors=preflight_ignores(config, bundle),
        # A master that is also a worker runs pods; a master only is tainted (kubeadm's default).
        taints=() if (MASTER in spec.roles and is_node) else None,
        skip_phases=skip,
    )


def host_pillar(cluster, spec, kubernetes_pki, bundle) -> dict:
    """``saltsphere:kubernetes`` of one Kubernetes host (master or node)."""
    if MASTER not in spec.roles and NODE not in spec.roles:
        return {}
    masters = cluster.role_members(MASTER)
    first = masters[0].name
    params = _params(cluster, spec, kubernetes_pki["token"], kubernetes_pki["ca_cert"], bundle)
    if spec.name == first:
        role, documents = "init", kubeadm.init_documents(params)
    else:
        # Addons are phases of init only; join knows none of them.
        params = dataclasses.replace(params, skip_phases=())
        control_plane = MASTER in spec.roles
        role = "join-control-plane" if control_plane else "join"
        documents = kubeadm.join_documents(params, control_plane=control_plane)
    token_id = kubernetes_pki["token"].split(".", 1)[0]
    return {
        "kubernetes": {
            "role": role,
            "first_master": first,
            "masters": [m.name for m in masters],
            "nodes": [h.name for h in cluster.hosts.values() if MASTER in h.roles or NODE in h.roles],
            "endpoint": endpoint(cluster),
            "api_servers": [f"https://{m.ip}:{cluster.config.values['kube_apiserver_port']}" for m in masters],
            "load_balancer": load_balancer(cluster),
            "config_file": CONFIG_FILE,
            "kubeadm_config": kubeadm.dump(documents),
            "kubeadm_args": kubeadm.skip_phases_args(params),
            "token_id": token_id,
            "version": params.release,
            "pod_subnet": params.pod_subnet,
            "wait_seconds": cluster.config.values["kube_wait_seconds"],
            "network_plugin": cluster.config.values["kube_network_plugin"],
        },
    }
