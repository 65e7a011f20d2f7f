"""Calico's objects, its images in the bundle, and who gets its manifest."""

import json

import pytest
import yaml

from saltsphere import calico, cluster

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML

VERSION = "v3.17.6"
POD_SUBNET = "10.233.64.0/18"
# What calico.yaml defines, by plural: Namespaced or Cluster.
EXPECTED_CRDS = {
    "bgpconfigurations": "Cluster", "bgppeers": "Cluster", "blockaffinities": "Cluster",
    "clusterinformations": "Cluster", "felixconfigurations": "Cluster", "globalnetworkpolicies": "Cluster",
    "globalnetworksets": "Cluster", "hostendpoints": "Cluster", "ipamblocks": "Cluster", "ipamconfigs": "Cluster",
    "ipamhandles": "Cluster", "ippools": "Cluster", "kubecontrollersconfigurations": "Cluster",
    "networkpolicies": "Namespaced", "networksets": "Namespaced",
}
IMAGES = [f"docker.io/calico/{name}:{VERSION}" for name in ("cni", "node", "kube-controllers", "pod2daemon-flexvol")]


def of_kind(objects, kind) -> list:
    return [o for o in objects if o["kind"] == kind]


def by_name(objects, kind, name) -> dict:
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def pod_spec(objects, kind, name) -> dict:
    return by_name(objects, kind, name)["spec"]["template"]["spec"]


def all_containers(spec) -> list:
    return spec.get("initContainers", []) + spec["containers"]


def env_of(container) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.fixture
def objects():
    return calico.objects(POD_SUBNET, VERSION)


# --- versions and images ----------------------------------------------------------


def test_the_images_of_a_release():
    assert calico.images(VERSION) == IMAGES


def test_every_paired_release_has_images_but_only_v3_17_is_rendered():
    assert calico.images("v3.28.2")[1] == "docker.io/calico/node:v3.28.2"
    with pytest.raises(ValueError, match=r"calico v3.26.0 is not a release saltsphere installs \(known: v3.17.6, "):
        calico.images("v3.26.0")
    with pytest.raises(ValueError, match=r"calico v3.28.2 is not a release saltsphere installs \(known: v3.17.6\)"):
        calico.objects(POD_SUBNET, "v3.28.2")


# --- the objects -----------------------------------------------------------------


def test_every_crd_of_calico_yaml_with_a_schema_calico_validates_itself(objects):
    crds = of_kind(objects, "CustomResourceDefinition")
    assert {crd["spec"]["names"]["plural"]: crd["spec"]["scope"] for crd in crds} == EXPECTED_CRDS
    for crd in crds:
        spec = crd["spec"]
        names = spec["names"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == f"{names['plural']}.crd.projectcalico.org"
        assert spec["group"] == "crd.projectcalico.org"
        assert names["singular"] == names["kind"].lower() and names["listKind"] == f"{names['kind']}List"
        (version,) = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
        assert version["schema"] == {"openAPIV3Schema": {"type": "object",
                                                         "x-kubernetes-preserve-unknown-fields": True}}


def test_the_crds_come_before_everything_that_uses_them(objects):
    kinds = [o["kind"] for o in objects]
    assert kinds[:len(EXPECTED_CRDS)] == ["CustomResourceDefinition"] * len(EXPECTED_CRDS)
    assert kinds[-2:] == ["DaemonSet", "Deployment"]


def test_the_pool_is_the_pod_subnet_with_ip_in_ip(objects):
    node = pod_spec(objects, "DaemonSet", "calico-node")["containers"][0]
    env = env_of(node)
    assert env["CALICO_IPV4POOL_CIDR"] == POD_SUBNET
    assert (env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"]) == ("Always", "Never")
    other = calico.objects("10.244.0.0/16", VERSION, ipip="CrossSubnet")
    env = env_of(pod_spec(other, "DaemonSet", "calico-node")["containers"][0])
    assert (env["CALICO_IPV4POOL_CIDR"], env["CALICO_IPV4POOL_IPIP"]) == ("10.244.0.0/16", "CrossSubnet")


def test_an_unknown_ip_in_ip_mode_is_refused():
    with pytest.raises(ValueError, match="ipip mode 'always' is not one of Always, CrossSubnet, Never"):
        calico.objects(POD_SUBNET, VERSION, ipip="always")


def test_calico_node_finds_its_address_from_the_one_kubelet_registered(objects):
    env = env_of(pod_spec(objects, "DaemonSet", "calico-node")["containers"][0])
    assert env["NODEIP"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    assert (env["IP"], env["IP_AUTODETECTION_METHOD"]) == ("autodetect", "can-reach=$(NODEIP)")
    assert env["DATASTORE_TYPE"] == "kubernetes"
    assert env["FELIX_IPINIPMTU"] == {"configMapKeyRef": {"name": "calico-config", "key": "veth_mtu"}}


@pytest.mark.parametrize("kwargs, expected", [({}, "/opt/cni/bin"), ({"cni_bin_dir": "/usr/lib/cni"}, "/usr/lib/cni")])
def test_the_cni_plugins_go_where_the_runtime_looks_for_them(kwargs, expected):
    spec = pod_spec(calico.objects(POD_SUBNET, VERSION, **kwargs), "DaemonSet", "calico-node")
    volumes = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"]}
    assert volumes["cni-bin-dir"] == expected and volumes["cni-net-dir"] == "/etc/cni/net.d"
    init = {c["name"]: c for c in spec["initContainers"]}
    assert list(init) == ["upgrade-ipam", "install-cni", "flexvol-driver"]
    for name in ("upgrade-ipam", "install-cni"):
        assert {"name": "cni-bin-dir", "mountPath": "/host/opt/cni/bin"} in init[name]["volumeMounts"]


def test_calico_node_runs_on_every_node_before_anything_else(objects):
    spec = pod_spec(objects, "DaemonSet", "calico-node")
    assert spec["hostNetwork"] is True and spec["priorityClassName"] == "system-node-critical"
    effects = {t.get("effect") for t in spec["tolerations"] if t["operator"] == "Exists" and "key" not in t}
    assert effects == {"NoSchedule", "NoExecute"}
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert {"/lib/modules", "/run/xtables.lock", "/var/run/calico", "/var/lib/calico"} <= mounts
    paths = {v["hostPath"]["path"] for v in spec["volumes"]}
    assert {"/lib/modules", "/run/xtables.lock", "/var/run/calico", "/var/lib/calico"} <= paths
    assert by_name(objects, "DaemonSet", "calico-node")["metadata"]["namespace"] == "kube-system"


def test_every_container_runs_a_bundle_image_without_pulling(objects):
    used = set()
    for kind, name in (("DaemonSet", "calico-node"), ("Deployment", "calico-kube-controllers")):
        for container in all_containers(pod_spec(objects, kind, name)):
            assert container["imagePullPolicy"] == "IfNotPresent", container["name"]
            used.add(container["image"])
    assert used == set(IMAGES)


def test_the_controllers_run_once_and_tolerate_the_masters(objects):
    deployment = by_name(objects, "Deployment", "calico-kube-controllers")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = deployment["spec"]["template"]["spec"]
    assert {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"} in spec["tolerations"]
    assert env_of(spec["containers"][0]) == {"ENABLED_CONTROLLERS": "node", "DATASTORE_TYPE": "kubernetes"}


@pytest.mark.parametrize("mtu", [1440, 1400])
def test_the_cni_configuration_is_calico_and_portmap(mtu):
    config_map = by_name(calico.objects(POD_SUBNET, VERSION, mtu=mtu), "ConfigMap", "calico-config")
    data = config_map["data"]
    assert (data["calico_backend"], data["veth_mtu"], data["typha_service_name"]) == ("bird", str(mtu), "none")
    network = json.loads(data["cni_network_config"])
    assert [p["type"] for p in network["plugins"]] == ["calico", "portmap"]
    plugin = network["plugins"][0]
    assert plugin["mtu"] == mtu and plugin["ipam"] == {"type": "calico-ipam"}
    assert plugin["datastore_type"] == "kubernetes" and plugin["nodename"] == "__KUBERNETES_NODE_NAME__"


@pytest.mark.parametrize("account", ["calico-node", "calico-kube-controllers"])
def test_each_account_is_bound_to_its_own_role(objects, account):
    assert by_name(objects, "ServiceAccount", account)["metadata"]["namespace"] == "kube-system"
    binding = by_name(objects, "ClusterRoleBinding", account)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": account}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}]
    workload = "DaemonSet" if account == "calico-node" else "Deployment"
    assert pod_spec(objects, workload, account)["serviceAccountName"] == account


def allowed(role, group, resource) -> set:
    return {verb for rule in role["rules"] if group in rule["apiGroups"] and resource in rule["resources"]
            for verb in rule["verbs"]}


def test_the_roles_allow_what_calico_does(objects):
    node = by_name(objects, "ClusterRole", "calico-node")
    controllers = by_name(objects, "ClusterRole", "calico-kube-controllers")
    crd = "crd.projectcalico.org"
    for resource in ("ipamblocks", "ipamhandles", "blockaffinities"):
        assert {"get", "list", "create", "update", "delete"} <= allowed(node, crd, resource)
        assert {"get", "list", "create", "update", "delete"} <= allowed(controllers, crd, resource)
    assert {"create", "update"} <= allowed(node, crd, "ippools")
    assert {"patch", "update"} <= allowed(node, "", "nodes/status")
    assert allowed(node, "", "pods/status") == {"patch"}
    assert {"get", "create", "update", "watch"} <= allowed(controllers, crd, "kubecontrollersconfigurations")
    assert allowed(controllers, "", "nodes") == {"watch", "list", "get"}
    # Only resources that exist (and two kept from calico v2 upgrades) are named.
    named = {r for role in (node, controllers) for rule in role["rules"] if crd in rule["apiGroups"]
             for r in rule["resources"]}
    assert named - set(EXPECTED_CRDS) == {"globalfelixconfigs", "globalbgpconfigs"}


def test_dump_is_deterministic_and_reads_back(objects):
    text = calico.dump(objects)
    assert text == calico.dump(calico.objects(POD_SUBNET, VERSION))
    assert list(yaml.safe_load_all(text)) == objects
    assert "&id" not in text and "*id" not in text
    assert text.startswith("---\napiVersion: apiextensions.k8s.io/v1\n")


# --- the pillar ------------------------------------------------------------------


@pytest.fixture
def load(write_cluster):
    def loaded(extra_vars=""):
        return cluster.load(str(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML + extra_vars)))

    return loaded


def test_only_the_first_master_gets_the_manifest(load):
    seed = load()
    pillar = calico.host_pillar(seed, seed.hosts["master"], [])["calico"]
    assert (pillar["version"], pillar["missing_images"]) == (VERSION, [])
    objects = list(yaml.safe_load_all(pillar["manifest"]))
    spec = pod_spec(objects, "DaemonSet", "calico-node")
    assert env_of(spec["containers"][0])["CALICO_IPV4POOL_CIDR"] == seed.config.values["kube_pods_subnet"]
    assert {"name": "cni-bin-dir", "hostPath": {"path": "/usr/lib/cni"}} in spec["volumes"]
    for name in ("node1", "node2"):
        assert calico.host_pillar(seed, seed.hosts[name], IMAGES) == {}


def test_the_first_master_learns_which_images_the_bundle_lacks(load):
    seed = load()
    pillar = calico.host_pillar(seed, seed.hosts["master"], IMAGES[1:])
    assert pillar["calico"]["missing_images"] == IMAGES[1:]


def test_the_bridge_plugin_gets_no_calico(load):
    seed = load("kube_network_plugin: bridge\n")
    assert all(calico.host_pillar(seed, spec, []) == {} for spec in seed.hosts.values())


def test_a_kubernetes_minor_without_calico_says_to_use_the_bridge(load):
    seed = load("kube_version: v1.28.4\n")
    pillar = calico.host_pillar(seed, seed.hosts["master"], [])["calico"]
    assert "manifest" not in pillar
    assert pillar["error"] == ("saltsphere installs calico with Kubernetes 1.20 only, and kube_version is v1.28.4; "
                               "set kube_network_plugin: bridge in vars.yml")
