"""Calico, the pod network of ``kube_network_plugin: calico``, as Kubernetes objects built on the taskbox.

The objects are those calico's own ``calico.yaml`` (Kubernetes API datastore,
policy and networking) installs for the release paired with the cluster's
Kubernetes minor: the CRDs, the RBAC of calico-node and calico-kube-controllers,
the CNI configuration, the calico-node DaemonSet and the kube-controllers
Deployment.  The images come from the bundle and are already in containerd on
every host, so nothing is pulled.  The first master applies them from one
manifest; calico-node then writes each host's CNI configuration itself.
"""

import json

import yaml

from saltsphere import releases
from saltsphere.inventory import MASTER

# The releases whose objects are built below (those of v3.17's calico.yaml); a
# bundle may carry the images of the others that releases.CALICO pairs.
RENDERED = ("v3.17.6",)
IMAGE_REPOSITORY = "docker.io/calico"
# What v3.17's calico.yaml runs: the CNI installer, the node agent, the
# controllers, and the flexvolume driver that gives pods the policy sync
# socket.  A bundle carries the same four images of every paired release.
COMPONENTS = ("cni", "node", "kube-controllers", "pod2daemon-flexvol")

NAMESPACE = "kube-system"
GROUP = "crd.projectcalico.org"
# (plural, kind, scope) of every resource calico.yaml defines.
CRDS = (
    ("bgpconfigurations", "BGPConfiguration", "Cluster"),
    ("bgppeers", "BGPPeer", "Cluster"),
    ("blockaffinities", "BlockAffinity", "Cluster"),
    ("clusterinformations", "ClusterInformation", "Cluster"),
    ("felixconfigurations", "FelixConfiguration", "Cluster"),
    ("globalnetworkpolicies", "GlobalNetworkPolicy", "Cluster"),
    ("globalnetworksets", "GlobalNetworkSet", "Cluster"),
    ("hostendpoints", "HostEndpoint", "Cluster"),
    ("ipamblocks", "IPAMBlock", "Cluster"),
    ("ipamconfigs", "IPAMConfig", "Cluster"),
    ("ipamhandles", "IPAMHandle", "Cluster"),
    ("ippools", "IPPool", "Cluster"),
    ("kubecontrollersconfigurations", "KubeControllersConfiguration", "Cluster"),
    ("networkpolicies", "NetworkPolicy", "Namespaced"),
    ("networksets", "NetworkSet", "Namespaced"),
)
IPIP_MODES = ("Always", "CrossSubnet", "Never")
CNI_CONF_DIR = "/etc/cni/net.d"
# Where containerd looks for CNI plugins on the hosts saltsphere installs: Debian's
# containernetworking-plugins (salt/containerd/parameters/os_family/Debian.yaml).
CNI_BIN_DIR = "/usr/lib/cni"
# kubelet's default volume plugin directory: the flexvolume driver goes there.
FLEXVOL_DIR = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/nodeagent~uds"

def _check_version(version, known):
    if version not in known:
        raise ValueError(f"calico {version} is not a release saltsphere installs (known: {', '.join(known)})")


def _image(component, version) -> str:
    return f"{IMAGE_REPOSITORY}/{component}:{version}"


def images(version) -> list[str]:
    """Every image calico ``version`` runs, as containerd names it."""
    _check_version(version, sorted(set(releases.CALICO.values())))
    return [_image(component, version) for component in COMPONENTS]


# --- objects -------------------------------------------------------------------


def _crd(plural, kind, scope) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "scope": scope,
            "versions": [{
                "name": "v1",
                "served": True,
                "storage": True,
                # calico validates its resources itself; the API server keeps every field as written.
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }


def _rule(groups, resources, verbs) -> dict:
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


def _rbac(account, rules) -> list:
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": NAMESPACE}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": account},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": account},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}],
        },
    ]


_IPAM = ("blockaffinities", "ipamblocks", "ipamhandles")
_CRUD = ("get", "list", "create", "update", "delete")

_KUBE_CONTROLLERS_RULES = [
    # Deleted nodes have their addresses, affinities and host endpoints released.
    _rule([""], ["nodes"], ["watch", "list", "get"]),
    _rule([""], ["pods"], ["get"]),
    _rule([GROUP], ["ippools"], ["list"]),
    _rule([GROUP], _IPAM, _CRUD),
    _rule([GROUP], ["hostendpoints"], _CRUD),
    _rule([GROUP], ["clusterinformations"], ["get", "create", "update"]),
    # Its own configuration: read, created with defaults when missing, status written back.
    _rule([GROUP], ["kubecontrollersconfigurations"], ["get", "create", "update", "watch"]),
]

_NODE_RULES = [
    # The CNI plugin looks up the pod, its namespace and the node.
    _rule([""], ["pods", "nodes", "namespaces"], ["get"]),
    # BGP peers may name a password kept in a Secret.
    _rule([""], ["secrets"], ["watch", "list", "get"]),
    # Service addresses are advertised; "get" finds Typha when it runs.
    _rule([""], ["endpoints", "services"], ["watch", "list", "get"]),
    # kubeadm's configuration tells the pod range.
    _rule([""], ["configmaps"], ["get"]),
    # NodeNetworkUnavailable is cleared, and calico keeps its settings in node annotations.
    _rule([""], ["nodes/status"], ["patch", "update"]),
    _rule(["networking.k8s.io"], ["networkpolicies"], ["watch", "list"]),
    _rule([""], ["pods", "namespaces", "serviceaccounts"], ["list", "watch"]),
    _rule([""], ["pods/status"], ["patch"]),
    _rule([GROUP], ["globalfelixconfigs", "felixconfigurations", "bgppeers", "globalbgpconfigs", "bgpconfigurations",
                    "ippools", "ipamblocks", "globalnetworkpolicies", "globalnetworksets", "networkpolicies",
                    "networksets", "clusterinformations", "hostendpoints", "blockaffinities"],
          ["get", "list", "watch"]),
    # Created on first start when missing.
    _rule([GROUP], ["ippools", "felixconfigurations", "clusterinformations"], ["create", "update"]),
    _rule([""], ["nodes"], ["get", "list", "watch"]),
    _rule([GROUP], ["bgpconfigurations", "bgppeers"], ["create", "update"]),
    # calico-ipam assigns pod addresses.
    _rule([GROUP], _IPAM, _CRUD),
    _rule([GROUP], ["ipamconfigs"], ["get"]),
    _rule([GROUP], ["blockaffinities"], ["watch"]),
    # upgrade-ipam looks for a previous host-local installation.
    _rule(["apps"], ["daemonsets"], ["get"]),
]


def _cni_network_config(mtu) -> str:
    """The CNI configuration install-cni writes on each host (it fills in the node name and kubeconfig)."""
    config = {
        "name": "k8s-pod-network",
        "cniVersion": "0.3.1",
        "plugins": [
            {
                "type": "calico",
                "log_level": "info",
                "datastore_type": "kubernetes",
                "nodename": "__KUBERNETES_NODE_NAME__",
                "mtu": mtu,
                "ipam": {"type": "calico-ipam"},
                "policy": {"type": "k8s"},
                "kubernetes": {"kubeconfig": "__KUBECONFIG_FILEPATH__"},
            },
            {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(config, indent=2)


def _config_map(mtu) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "calico-config", "namespace": NAMESPACE},
        "data": {
            "typha_service_name": "none",
            "calico_backend": "bird",
            "veth_mtu": str(mtu),
            "cni_network_config": _cni_network_config(mtu),
        },
    }


def _value(name, value) -> dict:
    return {"name": name, "value": value}


def _field(name, path) -> dict:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _config(name, key) -> dict:
    return {"name": name, "valueFrom": {"configMapKeyRef": {"name": "calico-config", "key": key}}}


def _host_path(name, path, path_type=None) -> dict:
    source = {"path": path}
    if path_type:
        source["type"] = path_type
    return {"name": name, "hostPath": source}


def _mount(name, path, read_only=None) -> dict:
    mount = {"name": name, "mountPath": path}
    if read_only is not None:
        mount["readOnly"] = read_only
    return mount


def _container(name, image, **spec) -> dict:
    # The images are imported from the bundle: a registry is never asked.
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", **spec}


def _node_daemon_set(pod_subnet, version, ipip, cni_bin_dir) -> dict:
    labels = {"k8s-app": "calico-node"}
    privileged = {"privileged": True}
    cni = _image("cni", version)
    init_containers = [
        # Takes over addresses a host-local IPAM gave out before calico-ipam.
        _container("upgrade-ipam", cni, command=["/opt/cni/bin/calico-ipam", "-upgrade"],
                   env=[_field("KUBERNETES_NODE_NAME", "spec.nodeName"),
                        _config("CALICO_NETWORKING_BACKEND", "calico_backend")],
                   volumeMounts=[_mount("host-local-net-dir", "/var/lib/cni/networks"),
                                 _mount("cni-bin-dir", "/host/opt/cni/bin")],
                   securityContext=privileged),
        _container("install-cni", cni, command=["/opt/cni/bin/install"],
                   env=[_value("CNI_CONF_NAME", "10-calico.conflist"),
                        _config("CNI_NETWORK_CONFIG", "cni_network_config"),
                        _field("KUBERNETES_NODE_NAME", "spec.nodeName"),
                        # Install once and stop, rather than keep the configuration up to date.
                        _value("SLEEP", "false")],
                   volumeMounts=[_mount("cni-bin-dir", "/host/opt/cni/bin"),
                                 _mount("cni-net-dir", "/host/etc/cni/net.d")],
                   securityContext=privileged),
        _container("flexvol-driver", _image("pod2daemon-flexvol", version),
                   volumeMounts=[_mount("flexvol-driver-host", "/host/driver")],
                   securityContext=privileged),
    ]
    env = [
        _value("DATASTORE_TYPE", "kubernetes"),
        _value("WAIT_FOR_DATASTORE", "true"),
        _field("NODENAME", "spec.nodeName"),
        _config("CALICO_NETWORKING_BACKEND", "calico_backend"),
        _value("CLUSTER_TYPE", "k8s,bgp"),
        # The address kubelet registered (hosts.ini's ip), not whichever interface comes first.
        _field("NODEIP", "status.hostIP"),
        _value("IP", "autodetect"),
        _value("IP_AUTODETECTION_METHOD", "can-reach=$(NODEIP)"),
        _value("CALICO_IPV4POOL_IPIP", ipip),
        _value("CALICO_IPV4POOL_VXLAN", "Never"),
        _config("FELIX_IPINIPMTU", "veth_mtu"),
        _config("FELIX_VXLANMTU", "veth_mtu"),
        _config("FELIX_WIREGUARDMTU", "veth_mtu"),
        # Only read when calico first starts: the pool is created once.
        _value("CALICO_IPV4POOL_CIDR", pod_subnet),
        _value("CALICO_DISABLE_FILE_LOGGING", "true"),
        _value("FELIX_DEFAULTENDPOINTTOHOSTACTION", "ACCEPT"),
        _value("FELIX_IPV6SUPPORT", "false"),
        _value("FELIX_LOGSEVERITYSCREEN", "info"),
        _value("FELIX_HEALTHENABLED", "true"),
    ]
    node = _container(
        "calico-node", _image("node", version),
        env=env,
        securityContext=privileged,
        resources={"requests": {"cpu": "250m"}},
        livenessProbe={"exec": {"command": ["/bin/calico-node", "-felix-live", "-bird-live"]},
                       "periodSeconds": 10, "initialDelaySeconds": 10, "failureThreshold": 6},
        readinessProbe={"exec": {"command": ["/bin/calico-node", "-felix-ready", "-bird-ready"]},
                        "periodSeconds": 10},
        volumeMounts=[
            _mount("lib-modules", "/lib/modules", read_only=True),
            _mount("xtables-lock", "/run/xtables.lock", read_only=False),
            _mount("var-run-calico", "/var/run/calico", read_only=False),
            _mount("var-lib-calico", "/var/lib/calico", read_only=False),
            _mount("policysync", "/var/run/nodeagent"),
        ],
    )
    pod = {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "hostNetwork": True,
        # Every node needs its pod network, whatever taints it carries.
        "tolerations": [
            {"effect": "NoSchedule", "operator": "Exists"},
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"effect": "NoExecute", "operator": "Exists"},
        ],
        "serviceAccountName": "calico-node",
        # A rolling upgrade replaces the pod at once: the node's pods keep their network meanwhile.
        "terminationGracePeriodSeconds": 0,
        "priorityClassName": "system-node-critical",
        "initContainers": init_containers,
        "containers": [node],
        "volumes": [
            _host_path("lib-modules", "/lib/modules"),
            _host_path("var-run-calico", "/var/run/calico"),
            _host_path("var-lib-calico", "/var/lib/calico"),
            _host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
            # Where containerd looks for CNI plugins on this cluster's hosts.
            _host_path("cni-bin-dir", cni_bin_dir),
            _host_path("cni-net-dir", CNI_CONF_DIR),
            _host_path("host-local-net-dir", "/var/lib/cni/networks"),
            _host_path("policysync", "/var/run/nodeagent", "DirectoryOrCreate"),
            _host_path("flexvol-driver-host", FLEXVOL_DIR, "DirectoryOrCreate"),
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": NAMESPACE, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }


def _kube_controllers(version) -> dict:
    labels = {"k8s-app": "calico-kube-controllers"}
    controllers = _container(
        "calico-kube-controllers", _image("kube-controllers", version),
        env=[_value("ENABLED_CONTROLLERS", "node"), _value("DATASTORE_TYPE", "kubernetes")],
        readinessProbe={"exec": {"command": ["/usr/bin/check-status", "-r"]}},
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "calico-kube-controllers", "namespace": NAMESPACE, "labels": dict(labels)},
        "spec": {
            # The controllers can only have one active instance.
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"},
                    ],
                    "serviceAccountName": "calico-kube-controllers",
                    "priorityClassName": "system-cluster-critical",
                    "containers": [controllers],
                },
            },
        },
    }


def objects(pod_subnet, version, mtu=1440, ipip="Always", cni_bin_dir="/opt/cni/bin") -> list[dict]:
    """Calico ``version`` for pods in ``pod_subnet``, in the order they are applied.

    ``mtu`` is the pods' (the hosts' less the 20 bytes of IP-in-IP); ``ipip``
    the default pool's IP-in-IP mode; ``cni_bin_dir`` where the hosts'
    container runtime looks for CNI plugins, where calico puts its own.
    """
    _check_version(version, RENDERED)
    if ipip not in IPIP_MODES:
        raise ValueError(f"ipip mode {ipip!r} is not one of {', '.join(IPIP_MODES)}")
    return [
        *(_crd(*crd) for crd in CRDS),
        *_rbac("calico-kube-controllers", _KUBE_CONTROLLERS_RULES),
        *_rbac("calico-node", _NODE_RULES),
        _config_map(mtu),
        _node_daemon_set(pod_subnet, version, ipip, cni_bin_dir),
        _kube_controllers(version),
    ]


class _Dumper(yaml.SafeDumper):
    # Objects share parts (labels, privileges): each is written out in full,
    # never as a YAML alias a reader would have to follow.
    def ignore_aliases(self, data):
        return True


def dump(objects) -> str:
    """One multi-document YAML file of ``objects``, keys in the order they were built."""
    return yaml.dump_all(objects, Dumper=_Dumper, explicit_start=True, sort_keys=False, default_flow_style=False)


# --- the bundle and the pillar ------------------------------------------------------


def unsupported(kube_version) -> str | None:
    """Why calico cannot be installed with ``kube_version``, or None when it can."""
    if releases.calico_version(kube_version) in RENDERED:
        return None
    known = ", ".join(f"{major}.{minor}" for (major, minor), paired in sorted(releases.CALICO.items())
                      if paired in RENDERED)
    return (f"saltsphere installs calico with Kubernetes {known} only, and kube_version is {kube_version}; "
            "set kube_network_plugin: bridge in vars.yml")


def host_pillar(cluster, spec, missing_images) -> dict:
    """``saltsphere:calico`` of one host: the manifest and the images the bundle lacks, for the first master only.

    ``missing_images``: the network images of the cluster's bill of materials
    (``saltsphere.bom``) that its bundle does not hold.
    """
    config = cluster.config.values
    if config["kube_network_plugin"] != "calico" or spec.name != cluster.role_members(MASTER)[0].name:
        return {}
    problem = unsupported(config["kube_version"])
    if problem:
        return {"calico": {"error": problem}}
    version = releases.calico_version(config["kube_version"])
    manifest = dump(objects(config["kube_pods_subnet"], version, cni_bin_dir=CNI_BIN_DIR))
    return {"calico": {"version": version, "manifest": manifest, "missing_images": list(missing_images)}}
