"""The cluster's storage classes as Kubernetes objects, built on the taskbox.

Each class vars.yml enables becomes its objects: service account and RBAC,
the provisioner that creates its volumes (where Kubernetes has none built in),
its Secrets and the StorageClass itself.  The first master applies them from
one manifest; every Kubernetes host gets the client packages kubelet needs to
mount the class's volumes.
"""

import base64
from dataclasses import dataclass
from typing import Callable

import yaml

from saltsphere import config as cfg
from saltsphere.inventory import MASTER, NODE

# Every object lives in kube-system, as the upstream manifests have it: objects
# in a namespace created by the same manifest could not be diffed (a server-side
# dry run finds no such namespace) before that namespace exists.
NAMESPACE = "kube-system"
DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"

# Every image the storage classes run, in one place, so the KubeSphere image
# check can tell which ones a bundle lacks.
IMAGES = {
    "nfs-client-provisioner": "quay.io/external_storage/nfs-client-provisioner:v3.1.0-k8s1.11",
    "nfs-server-provisioner": "quay.io/kubernetes_incubator/nfs-provisioner:v2.2.1-k8s1.12",
    "local-volume-provisioner": "quay.io/external_storage/local-volume-provisioner:v2.3.2",
    "csi-qingcloud": "csiplugin/csi-qingcloud:v1.1.0",
    "csi-neonsan": "csiplugin/csi-neonsan:v1.2.0",
    "csi-provisioner": "quay.io/k8scsi/csi-provisioner:v1.4.0",
    "csi-attacher": "quay.io/k8scsi/csi-attacher:v2.0.0",
    "csi-resizer": "quay.io/k8scsi/csi-resizer:v0.2.0",
    "csi-node-driver-registrar": "quay.io/k8scsi/csi-node-driver-registrar:v1.2.0",
    "csi-livenessprobe": "quay.io/k8scsi/livenessprobe:v1.1.0",
}
CSI_SIDECARS = ("csi-provisioner", "csi-attacher", "csi-resizer", "csi-node-driver-registrar", "csi-livenessprobe")

# What kubelet runs to mount each kind of volume, by OS family (Salt's os_family grain).
CLIENT_PACKAGES = {
    "Debian": {"nfs": "nfs-common", "ceph": "ceph-common", "glusterfs": "glusterfs-client"},
    "RedHat": {"nfs": "nfs-utils", "ceph": "ceph-common", "glusterfs": "glusterfs-fuse"},
}

# The provisioner names of the charts the seed installed: volumes those made
# keep being recognised (and deleted) by the provisioners installed here.
NFS_CLIENT_PROVISIONER = "cluster.local/nfs-client-provisioner"
NFS_SERVER_PROVISIONER = "cluster.local/nfs-server-provisioner"
# The NFS server's exports on its node's disk, so volumes outlive the pod.
NFS_SERVER_EXPORT = "/var/lib/saltsphere/nfs-server"
# Each filesystem mounted below this directory of a host becomes a local volume.
LOCAL_VOLUME_DIR = "/mnt/disks"
NEONSAN_CONFIG_DIR = "/etc/neonsan"


# --- object builders --------------------------------------------------------


def _meta(name, namespaced=True, labels=None, annotations=None) -> dict:
    meta = {"name": name}
    if namespaced:
        meta["namespace"] = NAMESPACE
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _service_account(name) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name)}


def _rule(groups, resources, verbs) -> dict:
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


def _role(kind, name, rules) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(name, namespaced=kind == "Role"),
        "rules": rules,
    }


def _binding(kind, name, role_kind, role, account) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(name, namespaced=kind == "RoleBinding"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}],
    }


def _rbac(account, cluster_rules, namespace_rules=()) -> list:
    """The account, its cluster-wide role and, when given, its role in kube-system, each bound to it."""
    objects = [
        _service_account(account),
        _role("ClusterRole", account, cluster_rules),
        _binding("ClusterRoleBinding", account, "ClusterRole", account, account),
    ]
    if namespace_rules:
        objects += [
            _role("Role", account, list(namespace_rules)),
            _binding("RoleBinding", account, "Role", account, account),
        ]
    return objects


def _secret(name, data, secret_type="Opaque") -> dict:
    encoded = {key: base64.b64encode(str(value).encode()).decode() for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name), "type": secret_type, "data": encoded}


def _config_map(name, data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name), "data": dict(data)}


def _storage_class(name, provisioner, default, parameters=None, **spec) -> dict:
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": _meta(name, namespaced=False, annotations={DEFAULT_ANNOTATION: "true" if default else "false"}),
        "provisioner": provisioner,
    }
    if parameters:
        sc["parameters"] = {key: str(value) for key, value in parameters.items()}
    sc["reclaimPolicy"] = "Delete"
    sc.update(spec)
    return sc


def _field_env(name, path) -> dict:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _host_path(name, path, path_type=None) -> dict:
    source = {"path": path}
    if path_type:
        source["type"] = path_type
    return {"name": name, "hostPath": source}


def _workload(kind, name, pod_spec, **spec) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": _meta(name, labels=labels),
        "spec": {
            **spec,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


# Provisioners watch claims and volumes and record what they do as events.
_PROVISIONER_RULES = [
    _rule([""], ["persistentvolumes"], ["get", "list", "watch", "create", "delete"]),
    _rule([""], ["persistentvolumeclaims"], ["get", "list", "watch", "update"]),
    _rule(["storage.k8s.io"], ["storageclasses"], ["get", "list", "watch"]),
    _rule([""], ["events"], ["get", "list", "watch", "create", "update", "patch"]),
]
# The external-storage provisioners elect their leader with an Endpoints lock.
_ENDPOINTS_LOCK_RULES = [_rule([""], ["endpoints"], ["get", "list", "watch", "create", "update", "patch"])]


# --- one builder per class: (config, class name, default?, nodes) -> objects ----


def _local_volume(config, name, default, nodes) -> list:
    account = "local-volume-provisioner"
    image = IMAGES["local-volume-provisioner"]
    class_map = {name: {"hostDir": LOCAL_VOLUME_DIR, "mountDir": LOCAL_VOLUME_DIR}}
    pod = {
        "serviceAccountName": account,
        "containers": [{
            "name": "provisioner",
            "image": image,
            "securityContext": {"privileged": True},
            "env": [
                _field_env("MY_NODE_NAME", "spec.nodeName"),
                _field_env("MY_NAMESPACE", "metadata.namespace"),
                {"name": "JOB_CONTAINER_IMAGE", "value": image},
            ],
            "volumeMounts": [
                {"name": "provisioner-config", "mountPath": "/etc/provisioner/config", "readOnly": True},
                {"name": "provisioner-dev", "mountPath": "/dev"},
                {"name": "local-disks", "mountPath": LOCAL_VOLUME_DIR, "mountPropagation": "HostToContainer"},
            ],
        }],
        "volumes": [
            {"name": "provisioner-config", "configMap": {"name": f"{account}-config"}},
            _host_path("provisioner-dev", "/dev"),
            _host_path("local-disks", LOCAL_VOLUME_DIR, "DirectoryOrCreate"),
        ],
    }
    return [
        _service_account(account),
        # Kubernetes' own role for volume provisioners, plus reading the node it runs on.
        _binding("ClusterRoleBinding", f"{account}-pv", "ClusterRole", "system:persistent-volume-provisioner", account),
        _role("ClusterRole", f"{account}-node", [_rule([""], ["nodes"], ["get"])]),
        _binding("ClusterRoleBinding", f"{account}-node", "ClusterRole", f"{account}-node", account),
        _config_map(f"{account}-config", {"storageClassMap": yaml.safe_dump(class_map, sort_keys=False)}),
        _workload("DaemonSet", account, pod),
        # The volumes exist before any claim: a claim binds once its pod is placed on a node.
        _storage_class(name, "kubernetes.io/no-provisioner", default, volumeBindingMode="WaitForFirstConsumer"),
    ]


_NFS_SERVER_PORTS = (("nfs", 2049), ("nlockmgr", 32803), ("mountd", 20048), ("rquotad", 875), ("rpcbind", 111),
                     ("statd", 662))


def _nfs_server(config, name, default, nodes) -> list:
    account = "nfs-server-provisioner"
    ports = []
    for port_name, number in _NFS_SERVER_PORTS:
        ports += [{"name": port_name, "port": number, "protocol": "TCP"},
                  {"name": f"{port_name}-udp", "port": number, "protocol": "UDP"}]
    pod = {
        "serviceAccountName": account,
        "terminationGracePeriodSeconds": 10,
        "containers": [{
            "name": "nfs-provisioner",
            "image": IMAGES["nfs-server-provisioner"],
            "args": [f"-provisioner={NFS_SERVER_PROVISIONER}"],
            "env": [
                _field_env("POD_IP", "status.podIP"),
                {"name": "SERVICE_NAME", "value": account},
                _field_env("POD_NAMESPACE", "metadata.namespace"),
            ],
            "ports": [{"name": p["name"], "containerPort": p["port"], "protocol": p["protocol"]} for p in ports],
            "securityContext": {"capabilities": {"add": ["DAC_READ_SEARCH", "SYS_RESOURCE"]}},
            "volumeMounts": [{"name": "export", "mountPath": "/export"}],
        }],
        "volumes": [_host_path("export", NFS_SERVER_EXPORT, "DirectoryOrCreate")],
    }
    if nodes:
        # The exports are on one node's disk: the server always runs there.
        pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [nodes[0]]}]},
        ]}}}
    server_rules = _PROVISIONER_RULES + [_rule([""], ["services", "endpoints"], ["get"])]
    return [
        *_rbac(account, server_rules, _ENDPOINTS_LOCK_RULES),
        # Volumes name this service's address: clients mount through it wherever the server runs.
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(account, labels={"app": account}),
            "spec": {"selector": {"app": account}, "ports": ports},
        },
        _workload("StatefulSet", account, pod, serviceName=account, replicas=1),
        _storage_class(name, NFS_SERVER_PROVISIONER, default),
    ]


def _nfs_client(config, name, default, nodes) -> list:
    account = "nfs-client-provisioner"
    server, path = config["nfs_server"], config["nfs_path"]
    pod = {
        "serviceAccountName": account,
        "containers": [{
            "name": "nfs-client-provisioner",
            "image": IMAGES["nfs-client-provisioner"],
            "env": [
                {"name": "PROVISIONER_NAME", "value": NFS_CLIENT_PROVISIONER},
                {"name": "NFS_SERVER", "value": server},
                {"name": "NFS_PATH", "value": path},
            ],
            "volumeMounts": [{"name": "nfs-client-root", "mountPath": "/persistentvolumes"}],
        }],
        "volumes": [{"name": "nfs-client-root", "nfs": {"server": server, "path": path}}],
    }
    return [
        *_rbac(account, _PROVISIONER_RULES, _ENDPOINTS_LOCK_RULES),
        # Two provisioners at once would race for the same directories.
        _workload("Deployment", account, pod, replicas=1, strategy={"type": "Recreate"}),
        # A deleted claim's directory is renamed, not erased.
        _storage_class(name, NFS_CLIENT_PROVISIONER, default, {"archiveOnDelete": "true"}),
    ]


def _ceph_rbd(config, name, default, nodes) -> list:
    admin_secret, user_secret = "ceph-rbd-admin-secret", "ceph-rbd-user-secret"
    parameters = {
        "monitors": ",".join(config["ceph_rbd_monitors"]),
        "adminId": config["ceph_rbd_admin_id"],
        "adminSecretName": admin_secret,
        "adminSecretNamespace": NAMESPACE,
        "pool": config["ceph_rbd_pool"],
        "userId": config["ceph_rbd_user_id"],
        "userSecretName": user_secret,
        "userSecretNamespace": NAMESPACE,
        "fsType": config["ceph_rbd_fsType"],
        "imageFormat": config["ceph_rbd_imageFormat"],
    }
    # Kubernetes refuses image features on format 1 images (the default).
    if config["ceph_rbd_imageFormat"] == "2":
        parameters["imageFeatures"] = config["ceph_rbd_imageFeatures"]
    return [
        _secret(admin_secret, {"key": config["ceph_rbd_admin_secret"]}, "kubernetes.io/rbd"),
        _secret(user_secret, {"key": config["ceph_rbd_user_secret"]}, "kubernetes.io/rbd"),
        _storage_class(name, "kubernetes.io/rbd", default, parameters),
    ]


def _glusterfs(config, name, default, nodes) -> list:
    auth = config["glusterfs_provisioner_restauthenabled"]
    parameters = {
        "resturl": config["glusterfs_provisioner_resturl"],
        "clusterid": config["glusterfs_provisioner_clusterid"],
        "restauthenabled": "true" if auth else "false",
    }
    objects = []
    if auth:
        secret = config["glusterfs_provisioner_secretName"]
        parameters.update(restuser=config["glusterfs_provisioner_restuser"], secretNamespace=NAMESPACE,
                          secretName=secret)
        objects.append(_secret(secret, {"key": config["jwt_admin_key"]}, "kubernetes.io/glusterfs"))
    parameters.update(
        gidMin=config["glusterfs_provisioner_gidMin"],
        gidMax=config["glusterfs_provisioner_gidMax"],
        volumetype=config["glusterfs_provisioner_volumetype"],
    )
    return objects + [_storage_class(name, "kubernetes.io/glusterfs", default, parameters)]


# Sidecars elect their leader with a Lease (older ones with Endpoints or ConfigMaps).
_CSI_LOCK_RULES = [
    _rule(["coordination.k8s.io"], ["leases"], ["get", "list", "watch", "create", "update", "delete"]),
    _rule([""], ["endpoints", "configmaps"], ["get", "list", "watch", "create", "update", "delete"]),
]
# What csi-provisioner, csi-attacher and csi-resizer do between them.
_CSI_CONTROLLER_RULES = [
    _rule([""], ["persistentvolumes"], ["get", "list", "watch", "create", "delete", "update", "patch"]),
    _rule([""], ["persistentvolumeclaims"], ["get", "list", "watch", "update"]),
    _rule([""], ["persistentvolumeclaims/status"], ["update", "patch"]),
    _rule([""], ["events"], ["get", "list", "watch", "create", "update", "patch"]),
    _rule([""], ["nodes"], ["get", "list", "watch"]),
    _rule(["storage.k8s.io"], ["storageclasses", "csinodes"], ["get", "list", "watch"]),
    _rule(["storage.k8s.io"], ["volumeattachments"], ["get", "list", "watch", "update", "patch"]),
    _rule(["storage.k8s.io"], ["volumeattachments/status"], ["patch"]),
    _rule(["snapshot.storage.k8s.io"], ["volumesnapshots", "volumesnapshotcontents"], ["get", "list"]),
]
_CSI_NODE_RULES = [_rule([""], ["events"], ["get", "list", "watch", "create", "update", "patch"])]


@dataclass(frozen=True)
class _CSIDriver:
    prefix: str
    driver: str
    image: str
    args: tuple
    config_volume: dict
    config_dir: str
    health_port: int
    node_mounts: tuple = ()
    node_volumes: tuple = ()


def _sidecar(name, image, args, extra_mounts=()) -> dict:
    return {
        "name": name,
        "image": IMAGES[image],
        "args": ["--csi-address=$(ADDRESS)", *args],
        "env": [{"name": "ADDRESS", "value": "/csi/csi.sock"}],
        "volumeMounts": [{"name": "socket-dir", "mountPath": "/csi"}, *extra_mounts],
    }


def _csi_plugin(d: _CSIDriver, extra_mounts=(), privileged=False) -> list:
    plugin = {
        "name": d.prefix,
        "image": IMAGES[d.image],
        "args": [*d.args, f"--drivername={d.driver}", "--endpoint=$(CSI_ENDPOINT)", "--nodeid=$(NODE_ID)"],
        "env": [_field_env("NODE_ID", "spec.nodeName"), {"name": "CSI_ENDPOINT", "value": "unix://csi/csi.sock"}],
        "ports": [{"name": "healthz", "containerPort": d.health_port, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}, "initialDelaySeconds": 10,
                          "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 5},
        "volumeMounts": [
            {"name": "socket-dir", "mountPath": "/csi"},
            {"name": "plugin-config", "mountPath": d.config_dir, "readOnly": True},
            *extra_mounts,
        ],
    }
    if privileged:
        plugin["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True,
                                     "capabilities": {"add": ["SYS_ADMIN"]}}
    probe = _sidecar("liveness-probe", "csi-livenessprobe", [f"--health-port={d.health_port}", "--probe-timeout=5s"])
    return [plugin, probe]


def _csi(d: _CSIDriver) -> list:
    controller, node = f"{d.prefix}-controller", f"{d.prefix}-node"
    config_volume = {"name": "plugin-config", **d.config_volume}
    controller_pod = {
        "serviceAccountName": controller,
        "containers": [
            _sidecar("csi-provisioner", "csi-provisioner", [
                "--enable-leader-election", "--leader-election-type=leases", "--feature-gates=Topology=true",
                "--timeout=90s", "--volume-name-prefix=pvc"]),
            _sidecar("csi-attacher", "csi-attacher", ["--leader-election", "--timeout=90s"]),
            _sidecar("csi-resizer", "csi-resizer", ["--leader-election"]),
            *_csi_plugin(d),
        ],
        "volumes": [{"name": "socket-dir", "emptyDir": {}}, config_volume],
    }
    registration = f"/var/lib/kubelet/plugins/{d.driver}"
    kubelet_mounts = (
        {"name": "kubelet-dir", "mountPath": "/var/lib/kubelet", "mountPropagation": "Bidirectional"},
        {"name": "dev-dir", "mountPath": "/dev", "mountPropagation": "HostToContainer"},
        *d.node_mounts,
    )
    node_pod = {
        "serviceAccountName": node,
        # kubelet reaches the plugin through its socket on the host; the probe port is the host's.
        "hostNetwork": True,
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
        ],
        "containers": [
            _sidecar("node-registrar", "csi-node-driver-registrar",
                     [f"--kubelet-registration-path={registration}/csi.sock"],
                     [{"name": "registration-dir", "mountPath": "/registration"}]),
            *_csi_plugin(d, kubelet_mounts, privileged=True),
        ],
        "volumes": [
            _host_path("socket-dir", f"{registration}/", "DirectoryOrCreate"),
            _host_path("registration-dir", "/var/lib/kubelet/plugins_registry/", "Directory"),
            _host_path("kubelet-dir", "/var/lib/kubelet", "Directory"),
            _host_path("dev-dir", "/dev", "Directory"),
            config_volume,
            *d.node_volumes,
        ],
    }
    return [
        *_rbac(controller, _CSI_CONTROLLER_RULES, _CSI_LOCK_RULES),
        *_rbac(node, _CSI_NODE_RULES),
        _workload("Deployment", controller, controller_pod, replicas=1),
        _workload("DaemonSet", node, node_pod),
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSIDriver",
            "metadata": _meta(d.driver, namespaced=False),
            "spec": {"attachRequired": True, "podInfoOnMount": False},
        },
    ]


def _qingcloud(config, name, default, nodes) -> list:
    api = {
        "qy_access_key_id": config["qingcloud_access_key_id"],
        "qy_secret_access_key": config["qingcloud_secret_access_key"],
        "zone": config["qingcloud_zone"],
        "host": config["qingcloud_host"],
        "port": config["qingcloud_port"],
        "protocol": config["qingcloud_protocol"],
        "uri": config["qingcloud_uri"],
        "connection_retries": config["qingcloud_connection_retries"],
        "connection_timeout": config["qingcloud_connection_timeout"],
    }
    driver = _CSIDriver(
        prefix="csi-qingcloud",
        driver="disk.csi.qingcloud.com",
        image="csi-qingcloud",
        args=("--config=/etc/config/config.yaml", "--maxvolume=10"),
        config_volume={"secret": {"secretName": "csi-qingcloud"}},
        config_dir="/etc/config",
        health_port=9808,
        # The plugin names the disks' instance by the id QingCloud writes on each of its hosts.
        node_mounts=({"name": "instance-id", "mountPath": "/etc/qingcloud", "readOnly": True},),
        node_volumes=(_host_path("instance-id", "/etc/qingcloud", "DirectoryOrCreate"),),
    )
    parameters = {
        "type": config["qingcloud_type"],
        "maxSize": config["qingcloud_maxSize"],
        "minSize": config["qingcloud_minSize"],
        "stepSize": config["qingcloud_stepSize"],
        "fsType": config["qingcloud_fsType"],
        "replica": config["disk_replica"],
    }
    return [
        # The access keys are the plugin's whole configuration file.
        _secret("csi-qingcloud", {"config.yaml": yaml.safe_dump(api, sort_keys=False)}),
        *_csi(driver),
        _storage_class(name, driver.driver, default, parameters, allowVolumeExpansion=True),
    ]


def _neonsan(config, name, default, nodes) -> list:
    qbd = (
        "[zookeeper]\n"
        f"ip=\"{config['neonsan_server_address']}\"\n"
        f"cluster_name=\"{config['neonsan_cluster_name']}\"\n"
        "\n"
        "[client]\n"
        "tcp_no_delay=1\nio_depth=64\nio_timeout=30\nconn_timeout=8\nopen_volume_timeout=180\n"
    )
    driver = _CSIDriver(
        prefix="csi-neonsan",
        driver="neonsan.csi.qingstor.com",
        image="csi-neonsan",
        args=(f"--config={NEONSAN_CONFIG_DIR}/qbd.conf", f"--protocol={config['neonsan_csi_protocol'].lower()}",
              "--maxvolume=100"),
        config_volume={"configMap": {"name": "csi-neonsan"}},
        config_dir=NEONSAN_CONFIG_DIR,
        # Beside csi-qingcloud's on the same hosts' network.
        health_port=9809,
    )
    parameters = {
        "fsType": config["neonsan_server_fsType"],
        "pool": config["neonsan_server_pool"],
        "replica": config["neonsan_server_replicas"],
        "stepSize": config["neonsan_server_stepSize"],
    }
    return [
        _config_map("csi-neonsan", {"qbd.conf": qbd}),
        *_csi(driver),
        _storage_class(name, driver.driver, default, parameters, allowVolumeExpansion=True),
    ]


# --- the classes --------------------------------------------------------------


@dataclass(frozen=True)
class _Class:
    enable_key: str
    name: str
    build: Callable
    name_key: str = ""
    images: tuple = ()
    clients: tuple = ()

    def class_name(self, config) -> str:
        return config[self.name_key] if self.name_key else self.name


_CLASSES = (
    _Class("local_volume_provisioner_enabled", "local", _local_volume,
           name_key="local_volume_provisioner_storage_class", images=("local-volume-provisioner",)),
    _Class("nfs_server_enable", "nfs-server", _nfs_server, images=("nfs-server-provisioner",), clients=("nfs",)),
    _Class("nfs_client_enable", "nfs-client", _nfs_client, images=("nfs-client-provisioner",), clients=("nfs",)),
    _Class("ceph_rbd_enabled", "rbd", _ceph_rbd, name_key="ceph_rbd_storage_class", clients=("ceph",)),
    _Class("glusterfs_provisioner_enabled", "glusterfs", _glusterfs, name_key="glusterfs_provisioner_storage_class",
           clients=("glusterfs",)),
    _Class("qingcloud_csi_enabled", "csi-qingcloud", _qingcloud, images=("csi-qingcloud", *CSI_SIDECARS)),
    _Class("neonsan_csi_enabled", "csi-neonsan", _neonsan, images=("csi-neonsan", *CSI_SIDECARS)),
)
_DEFAULT_KEYS = {sc.enable_key: sc.default_key for sc in cfg.STORAGE_CLASSES}


def _enabled(config) -> list:
    return [c for c in _CLASSES if config[c.enable_key]]


def default_class(config) -> str | None:
    """The name of the enabled class marked default (validation leaves exactly one)."""
    for c in _enabled(config):
        if config[_DEFAULT_KEYS[c.enable_key]]:
            return c.class_name(config)
    return None


def objects(config: dict, cluster_hosts=None) -> list[dict]:
    """The Kubernetes objects of every enabled class, in the order they are applied.

    ``cluster_hosts``: the names of the hosts that run pods; a class that keeps
    its data on one host's disk (the NFS server) runs on the first of them.
    """
    nodes = list(cluster_hosts or ())
    default = default_class(config)
    built = []
    for c in _enabled(config):
        name = c.class_name(config)
        built += c.build(config, name, name == default, nodes)
    return built


def images(config) -> list[str]:
    """Every image the enabled classes run."""
    return sorted({IMAGES[key] for c in _enabled(config) for key in c.images})


def client_packages(config, os_family) -> list[str]:
    """The packages a Kubernetes host of ``os_family`` needs to mount the enabled classes' volumes."""
    if os_family not in CLIENT_PACKAGES:
        known = ", ".join(CLIENT_PACKAGES)
        raise ValueError(f"no storage client packages are known for the {os_family} family (known: {known})")
    names = CLIENT_PACKAGES[os_family]
    return sorted({names[kind] for c in _enabled(config) for kind in c.clients})


class _Dumper(yaml.SafeDumper):
    # Objects share parts (labels, volumes, rules): each is written out in full,
    # never as a YAML alias a reader would have to follow.
    def ignore_aliases(self, data):
        return True


def dump(objects) -> str:
    """One multi-document YAML file of ``objects``, keys in the order they were built."""
    return yaml.dump_all(objects, Dumper=_Dumper, explicit_start=True, sort_keys=False, default_flow_style=False)


def host_pillar(cluster, spec) -> dict:
    """``saltsphere:storage`` of one Kubernetes host.

    Every master and node gets the client packages, by OS family (the taskbox
    does not know the host's; the storage states pick theirs).  Only the first
    master gets the manifest: it applies it, and it holds the classes' Secrets.
    """
    if MASTER not in spec.roles and NODE not in spec.roles:
        return {}
    config = cluster.config.values
    storage = {
        "default_class": default_class(config),
        "client_packages": {family: client_packages(config, family) for family in CLIENT_PACKAGES},
    }
    if spec.name == cluster.role_members(MASTER)[0].name:
        nodes = [h.name for h in cluster.role_members(NODE)]
        storage["manifest"] = dump(objects(config, nodes))
    return {"storage": storage}
