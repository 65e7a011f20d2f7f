"""The storage classes' objects, images and client packages, and each host's storage pillar."""

import base64
import json

import pytest
import yaml

from saltsphere import cluster, status, storage
from saltsphere import config as cfg

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML, hosts_ini

NONE_ENABLED = {sc.enable_key: False for sc in cfg.STORAGE_CLASSES} | {sc.default_key: False
                                                                       for sc in cfg.STORAGE_CLASSES}

SECRETS = {
    "ceph_rbd_admin_secret": "AQADMINKEY-rbd==",
    "ceph_rbd_user_secret": "AQUSERKEY-rbd==",
    "jwt_admin_key": "heketi-jwt-key",
    "qingcloud_access_key_id": "QYACCESSKEYID",
    "qingcloud_secret_access_key": "qy-secret-access-key",
}

SETTINGS = {
    "local": {"local_volume_provisioner_enabled": True},
    "nfs-server": {"nfs_server_enable": True},
    "nfs-client": {"nfs_client_enable": True, "nfs_server": "192.168.0.10", "nfs_path": "/srv/nfs/kubesphere"},
    "rbd": {"ceph_rbd_enabled": True, "ceph_rbd_monitors": ["192.168.0.20:6789", "192.168.0.21:6789"],
            "ceph_rbd_admin_secret": SECRETS["ceph_rbd_admin_secret"],
            "ceph_rbd_user_secret": SECRETS["ceph_rbd_user_secret"]},
    "glusterfs": {"glusterfs_provisioner_enabled": True, "glusterfs_provisioner_resturl": "http://192.168.0.30:8080",
                  "glusterfs_provisioner_clusterid": "6a6a1fe2", "jwt_admin_key": SECRETS["jwt_admin_key"]},
    "csi-qingcloud": {"qingcloud_csi_enabled": True, "qingcloud_zone": "pek3a",
                      "qingcloud_access_key_id": SECRETS["qingcloud_access_key_id"],
                      "qingcloud_secret_access_key": SECRETS["qingcloud_secret_access_key"]},
    "csi-neonsan": {"neonsan_csi_enabled": True, "neonsan_server_address": "192.168.0.40:2181",
                    "neonsan_cluster_name": "neonsan1"},
}
DEFAULT_KEY = {
    "local": "local_volume_is_default_class",
    "nfs-server": "nfs_server_is_default_class",
    "nfs-client": "nfs_client_is_default_class",
    "rbd": "ceph_rbd_is_default_class",
    "glusterfs": "glusterfs_provisioner_is_default_class",
    "csi-qingcloud": "qingcloud_csi_is_default_class",
    "csi-neonsan": "neonsan_csi_is_default_class",
}


def values(*classes, default=None, **extra) -> dict:
    """vars.yml values with ``classes`` enabled and ``default`` (the first by default) marked default."""
    config = dict(cfg.defaults()) | NONE_ENABLED
    for name in classes:
        config.update(SETTINGS[name])
    config[DEFAULT_KEY[default or classes[0]]] = True
    config.update(extra)
    return config


def of_kind(objects, kind) -> list:
    return [o for o in objects if o["kind"] == kind]


def storage_class(objects, name) -> dict:
    (found,) = [o for o in of_kind(objects, "StorageClass") if o["metadata"]["name"] == name]
    return found


def by_name(objects, kind, name) -> dict:
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def containers(workload) -> dict:
    return {c["name"]: c for c in workload["spec"]["template"]["spec"]["containers"]}


def decoded(secret) -> dict:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


# --- each class ---------------------------------------------------------------


def test_local_volume_has_no_provisioner_and_binds_where_the_pod_runs():
    objects = storage.objects(values("local", local_volume_provisioner_storage_class="local-ssd"))
    sc = storage_class(objects, "local-ssd")
    assert sc["provisioner"] == "kubernetes.io/no-provisioner"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    config_map = by_name(objects, "ConfigMap", "local-volume-provisioner-config")
    class_map = yaml.safe_load(config_map["data"]["storageClassMap"])
    assert class_map == {"local-ssd": {"hostDir": "/mnt/disks", "mountDir": "/mnt/disks"}}
    daemon = by_name(objects, "DaemonSet", "local-volume-provisioner")
    assert containers(daemon)["provisioner"]["image"] == "quay.io/external_storage/local-volume-provisioner:v2.3.2"


def test_nfs_server_runs_in_the_cluster_on_the_first_node():
    objects = storage.objects(values("nfs-server"), ["node1", "node2"])
    sc = storage_class(objects, "nfs-server")
    server = by_name(objects, "StatefulSet", "nfs-server-provisioner")
    container = containers(server)["nfs-provisioner"]
    assert container["image"] == "quay.io/kubernetes_incubator/nfs-provisioner:v2.2.1-k8s1.12"
    assert container["args"] == [f"-provisioner={sc['provisioner']}"]
    terms = server["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node1"]}]}]
    service = by_name(objects, "Service", "nfs-server-provisioner")
    assert {"name": "nfs", "port": 2049, "protocol": "TCP"} in service["spec"]["ports"]
    assert server["spec"]["serviceName"] == service["metadata"]["name"]


def test_nfs_server_without_known_nodes_runs_anywhere():
    server = by_name(storage.objects(values("nfs-server")), "StatefulSet", "nfs-server-provisioner")
    assert "affinity" not in server["spec"]["template"]["spec"]


def test_nfs_client_mounts_the_given_export():
    objects = storage.objects(values("nfs-client"))
    sc = storage_class(objects, "nfs-client")
    deployment = by_name(objects, "Deployment", "nfs-client-provisioner")
    container = containers(deployment)["nfs-client-provisioner"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"PROVISIONER_NAME": sc["provisioner"], "NFS_SERVER": "192.168.0.10",
                   "NFS_PATH": "/srv/nfs/kubesphere"}
    assert container["image"] == "quay.io/external_storage/nfs-client-provisioner:v3.1.0-k8s1.11"
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "nfs-client-root", "nfs": {"server": "192.168.0.10", "path": "/srv/nfs/kubesphere"}}]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_ceph_rbd_parameters_name_its_secrets():
    objects = storage.objects(values("rbd", ceph_rbd_storage_class="ceph", ceph_rbd_pool="kube"))
    sc = storage_class(objects, "ceph")
    assert sc["provisioner"] == "kubernetes.io/rbd"
    assert sc["parameters"] == {
        "monitors": "192.168.0.20:6789,192.168.0.21:6789",
        "adminId": "admin",
        "adminSecretName": "ceph-rbd-admin-secret",
        "adminSecretNamespace": "kube-system",
        "pool": "kube",
        "userId": "admin",
        "userSecretName": "ceph-rbd-user-secret",
        "userSecretNamespace": "kube-system",
        "fsType": "ext4",
        "imageFormat": "1",
    }
    admin = by_name(objects, "Secret", "ceph-rbd-admin-secret")
    assert admin["type"] == "kubernetes.io/rbd" and admin["metadata"]["namespace"] == "kube-system"
    assert decoded(admin) == {"key": SECRETS["ceph_rbd_admin_secret"]}
    assert decoded(by_name(objects, "Secret", "ceph-rbd-user-secret")) == {"key": SECRETS["ceph_rbd_user_secret"]}


def test_ceph_rbd_image_features_need_format_2():
    sc = storage_class(storage.objects(values("rbd", ceph_rbd_imageFormat="2")), "rbd")
    assert sc["parameters"]["imageFormat"] == "2"
    assert sc["parameters"]["imageFeatures"] == "layering"


def test_glusterfs_parameters_and_heketi_secret():
    objects = storage.objects(values("glusterfs"))
    sc = storage_class(objects, "glusterfs")
    assert sc["provisioner"] == "kubernetes.io/glusterfs"
    assert sc["parameters"] == {
        "resturl": "http://192.168.0.30:8080",
        "clusterid": "6a6a1fe2",
        "restauthenabled": "true",
        "restuser": "admin",
        "secretNamespace": "kube-system",
        "secretName": "heketi-secret",
        "gidMin": "40000",
        "gidMax": "50000",
        "volumetype": "replicate:2",
    }
    secret = by_name(objects, "Secret", "heketi-secret")
    assert secret["type"] == "kubernetes.io/glusterfs"
    assert decoded(secret) == {"key": SECRETS["jwt_admin_key"]}


def test_glusterfs_without_rest_authentication_has_no_secret():
    objects = storage.objects(values("glusterfs", glusterfs_provisioner_restauthenabled=False, jwt_admin_key=""))
    parameters = storage_class(objects, "glusterfs")["parameters"]
    assert parameters["restauthenabled"] == "false"
    assert not {"restuser", "secretName", "secretNamespace"} & set(parameters)
    assert of_kind(objects, "Secret") == []


def test_qingcloud_csi_driver_with_its_access_keys():
    objects = storage.objects(values("csi-qingcloud", qingcloud_maxSize=1000))
    sc = storage_class(objects, "csi-qingcloud")
    assert sc["provisioner"] == "disk.csi.qingcloud.com"
    assert sc["parameters"] == {"type": "0", "maxSize": "1000", "minSize": "10", "stepSize": "10",
                                "fsType": "ext4", "replica": "2"}
    assert sc["allowVolumeExpansion"] is True
    api = yaml.safe_load(decoded(by_name(objects, "Secret", "csi-qingcloud"))["config.yaml"])
    assert api["qy_access_key_id"] == SECRETS["qingcloud_access_key_id"]
    assert api["qy_secret_access_key"] == SECRETS["qingcloud_secret_access_key"]
    assert (api["zone"], api["host"], api["port"]) == ("pek3a", "api.qingcloud.com", 443)
    controller = containers(by_name(objects, "Deployment", "csi-qingcloud-controller"))
    assert set(controller) == {"csi-provisioner", "csi-attacher", "csi-resizer", "csi-qingcloud", "liveness-probe"}
    assert controller["csi-qingcloud"]["image"] == "csiplugin/csi-qingcloud:v1.1.0"
    assert "--drivername=disk.csi.qingcloud.com" in controller["csi-qingcloud"]["args"]
    node = containers(by_name(objects, "DaemonSet", "csi-qingcloud-node"))
    assert node["csi-qingcloud"]["securityContext"]["privileged"] is True
    assert by_name(objects, "CSIDriver", "disk.csi.qingcloud.com")["spec"]["attachRequired"] is True


def test_neonsan_csi_driver_with_its_server():
    objects = storage.objects(values("csi-neonsan", neonsan_csi_protocol="RDMA", neonsan_server_replicas=3))
    sc = storage_class(objects, "csi-neonsan")
    assert sc["provisioner"] == "neonsan.csi.qingstor.com"
    assert sc["parameters"] == {"fsType": "ext4", "pool": "kube", "replica": "3", "stepSize": "10"}
    qbd = by_name(objects, "ConfigMap", "csi-neonsan")["data"]["qbd.conf"]
    assert 'ip="192.168.0.40:2181"' in qbd and 'cluster_name="neonsan1"' in qbd
    plugin = containers(by_name(objects, "DaemonSet", "csi-neonsan-node"))["csi-neonsan"]
    assert plugin["image"] == "csiplugin/csi-neonsan:v1.2.0"
    assert "--protocol=rdma" in plugin["args"] and "--drivername=neonsan.csi.qingstor.com" in plugin["args"]


def test_both_csi_drivers_probe_on_different_host_ports():
    objects = storage.objects(values("csi-qingcloud", "csi-neonsan"))
    ports = [containers(by_name(objects, "DaemonSet", f"{prefix}-node"))[prefix]["ports"][0]["containerPort"]
             for prefix in ("csi-qingcloud", "csi-neonsan")]
    assert len(set(ports)) == 2


# --- every class at once ----------------------------------------------------------


ALL = tuple(SETTINGS)


@pytest.mark.parametrize("default", ALL)
def test_exactly_the_default_class_is_annotated_default(default):
    objects = storage.objects(values(*ALL, default=default))
    flags = {sc["metadata"]["name"]: sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
             for sc in of_kind(objects, "StorageClass")}
    assert set(flags) == set(ALL)
    assert flags == {name: "true" if name == default else "false" for name in ALL}
    assert storage.default_class(values(*ALL, default=default)) == default


def test_disabled_classes_have_no_objects():
    objects = storage.objects(values("nfs-client"))
    assert [sc["metadata"]["name"] for sc in of_kind(objects, "StorageClass")] == ["nfs-client"]
    assert storage.default_class(dict(cfg.defaults())) is None


def test_secrets_appear_only_in_secret_objects_and_never_in_clear():
    config = values(*ALL)
    objects = storage.objects(config)
    for obj in objects:
        if obj["kind"] != "Secret":
            text = json.dumps(obj)
            assert not [s for s in SECRETS.values() if s in text], f"a credential in {obj['kind']}"
    decoded_secrets = json.dumps([decoded(s) for s in of_kind(objects, "Secret")])
    assert all(secret in decoded_secrets for secret in SECRETS.values())
    manifest = storage.dump(objects)
    assert not [s for s in SECRETS.values() if s in manifest]


def test_every_object_is_namespaced_in_kube_system_or_cluster_wide():
    cluster_wide = {"ClusterRole", "ClusterRoleBinding", "StorageClass", "CSIDriver"}
    for obj in storage.objects(values(*ALL)):
        assert obj["metadata"].get("namespace") == (None if obj["kind"] in cluster_wide else "kube-system"), obj


def test_every_workload_image_is_in_the_images_list():
    config = values(*ALL)
    used = {c["image"] for obj in storage.objects(config) if obj["kind"] in ("Deployment", "DaemonSet", "StatefulSet")
            for c in obj["spec"]["template"]["spec"]["containers"]}
    assert used == set(storage.images(config))
    assert set(storage.images(config)) == set(storage.IMAGES.values())


@pytest.mark.parametrize("classes, expected", [
    (("rbd",), []),
    (("nfs-server",), ["quay.io/kubernetes_incubator/nfs-provisioner:v2.2.1-k8s1.12"]),
    (("nfs-client", "glusterfs"), ["quay.io/external_storage/nfs-client-provisioner:v3.1.0-k8s1.11"]),
])
def test_images_of_the_enabled_classes_only(classes, expected):
    assert storage.images(values(*classes)) == expected


def test_csi_images_include_the_sidecars_once():
    found = storage.images(values("csi-qingcloud", "csi-neonsan"))
    assert "quay.io/k8scsi/csi-provisioner:v1.4.0" in found
    assert len(found) == len(set(found)) == 7


@pytest.mark.parametrize("family, classes, expected", [
    ("Debian", ("nfs-server",), ["nfs-common"]),
    ("Debian", ("nfs-client", "nfs-server"), ["nfs-common"]),
    ("Debian", ("rbd", "glusterfs"), ["ceph-common", "glusterfs-client"]),
    ("RedHat", ("nfs-client", "rbd", "glusterfs"), ["ceph-common", "glusterfs-fuse", "nfs-utils"]),
    ("Debian", ("csi-qingcloud", "csi-neonsan", "local"), []),
])
def test_client_packages_per_family(family, classes, expected):
    assert storage.client_packages(values(*classes), family) == expected


def test_client_packages_of_an_unknown_family_say_which_are_known():
    with pytest.raises(ValueError, match="Suse family .*Debian, RedHat"):
        storage.client_packages(values("nfs-client"), "Suse")


def test_dump_is_deterministic_and_reads_back():
    config = values(*ALL)
    first = storage.dump(storage.objects(config, ["node1"]))
    assert first == storage.dump(storage.objects(dict(config), ["node1"]))
    documents = list(yaml.safe_load_all(first))
    assert documents == storage.objects(config, ["node1"])
    assert first.startswith("---\n")
    assert "&id" not in first and "*id" not in first


# --- the pillar --------------------------------------------------------------------


ETCD_ONLY_HOSTS = hosts_ini(
    lines=("master ansible_connection=local  ip=192.168.0.1",
           "node1  ansible_host=192.168.0.2  ip=192.168.0.2  ansible_ssh_pass=PASSWORD",
           "etcd2  ansible_host=192.168.0.5  ip=192.168.0.5  ansible_ssh_pass=PASSWORD",
           "etcd3  ansible_host=192.168.0.6  ip=192.168.0.6  ansible_ssh_pass=PASSWORD"),
    nodes=("node1",), etcd=("master", "etcd2", "etcd3"))


@pytest.fixture
def seed_cluster(write_cluster):
    return cluster.load(str(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML)))


def test_only_the_first_master_gets_the_manifest(seed_cluster):
    master = storage.host_pillar(seed_cluster, seed_cluster.hosts["master"])["storage"]
    objects = list(yaml.safe_load_all(master["manifest"]))
    assert storage_class(objects, "nfs-server")["metadata"]["annotations"][storage.DEFAULT_ANNOTATION] == "true"
    server = by_name(objects, "StatefulSet", "nfs-server-provisioner")
    assert "node1" in json.dumps(server["spec"]["template"]["spec"]["affinity"])
    for name in ("node1", "node2"):
        worker = storage.host_pillar(seed_cluster, seed_cluster.hosts[name])["storage"]
        assert "manifest" not in worker, f"{name} received the manifest"


def test_every_kubernetes_host_gets_the_default_class_and_client_packages(seed_cluster):
    for spec in seed_cluster.hosts.values():
        pillar = storage.host_pillar(seed_cluster, spec)["storage"]
        assert pillar["default_class"] == "nfs-server"
        assert pillar["client_packages"] == {"Debian": ["nfs-common"], "RedHat": ["nfs-utils"]}


def test_hosts_outside_kubernetes_get_nothing(write_cluster):
    loaded = cluster.load(str(write_cluster(ETCD_ONLY_HOSTS, SEED_VARS_YML)))
    assert storage.host_pillar(loaded, loaded.hosts["etcd2"]) == {}
    assert "manifest" in storage.host_pillar(loaded, loaded.hosts["master"])["storage"]


# --- status --------------------------------------------------------------------------


def test_status_lists_the_classes_and_the_default(seed_cluster, monkeypatch):
    listing = {"items": [
        {"metadata": {"name": "nfs-server", "annotations": {storage.DEFAULT_ANNOTATION: "true"}}},
        {"metadata": {"name": "local", "annotations": {storage.DEFAULT_ANNOTATION: "false"}}},
        {"metadata": {"name": "manual"}},
    ]}
    asked = []
    monkeypatch.setattr(status, "api_context", lambda loaded: None)
    monkeypatch.setattr(status, "api_get", lambda ip, port, context, path: asked.append((ip, path)) or listing)
    assert status.storage(seed_cluster) == {"default_class": "nfs-server", "classes": ["local", "manual", "nfs-server"]}
    assert asked == [("192.168.0.1", "/apis/storage.k8s.io/v1/storageclasses")]


def test_status_says_why_when_no_master_answers(seed_cluster, monkeypatch):
    def refuse(*args):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(status, "api_context", lambda loaded: None)
    monkeypatch.setattr(status, "api_get", refuse)
    report = status.storage(seed_cluster)
    assert (report["default_class"], report["classes"]) == (None, [])
    assert "master: connection refused" in report["error"]
