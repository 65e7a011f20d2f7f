"""kubeadm configuration documents: the API version per Kubernetes release, and only that version's fields."""

import dataclasses
import datetime
import hashlib
import shutil
import subprocess

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from saltsphere import kubeadm

TOKEN = "abcdef.0123456789abcdef"
HASH = "sha256:" + "0123456789abcdef" * 4
VERSIONS = {
    "v1.20.2": kubeadm.V1BETA2,
    "v1.26.5": kubeadm.V1BETA3,
    "v1.31.1": kubeadm.V1BETA4,
}


def params(**changes):
    values = dict(
        kube_version="v1.20.2",
        node_name="master1",
        node_ip="10.0.0.1",
        control_plane_endpoint="lb.example:6443",
        etcd_endpoints=("https://10.0.0.1:2379", "https://10.0.0.2:2379"),
        etcd_ca_file="/etc/ssl/etcd/ca.crt",
        etcd_cert_file="/etc/ssl/etcd/apiserver-etcd-client.crt",
        etcd_key_file="/etc/ssl/etcd/apiserver-etcd-client.key",
        service_subnet="10.233.0.0/18",
        pod_subnet="10.233.64.0/18",
        node_cidr_mask_size=24,
        dns_domain="cluster.local",
        image_repository="k8s.gcr.io",
        bootstrap_token=TOKEN,
        discovery_hashes=(HASH,),
    )
    values.update(changes)
    return kubeadm.Params(**values)


def by_kind(documents):
    return {document["kind"]: document for document in documents}


def args(value):
    """extraArgs as a map whatever the API's form, checking that form on the way."""
    if isinstance(value, list):
        assert all(set(item) == {"name", "value"} for item in value)
        return {item["name"]: item["value"] for item in value}
    return value


# -- version mapping ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version, expected", [
    ("1.15", kubeadm.V1BETA2),
    ("v1.15.0", kubeadm.V1BETA2),
    ("1.20.2", kubeadm.V1BETA2),
    ("v1.20.2", kubeadm.V1BETA2),
    ("v1.21.14", kubeadm.V1BETA2),
    ("1.22", kubeadm.V1BETA3),
    ("v1.22.0", kubeadm.V1BETA3),
    ("v1.30.9", kubeadm.V1BETA3),
    ("1.31", kubeadm.V1BETA4),
    ("v1.31.0", kubeadm.V1BETA4),
    ("v1.32.3", kubeadm.V1BETA4),
    ("v1.33.0-rc.1", kubeadm.V1BETA4),
])
def test_api_version_follows_the_release(version, expected):
    assert kubeadm.api_version(version) == expected


@pytest.mark.parametrize("version", ["1.14", "v1.14.10", "0.9.1"])
def test_api_version_refuses_releases_before_1_15(version):
    with pytest.raises(ValueError, match="too old"):
        kubeadm.api_version(version)


@pytest.mark.parametrize("version", ["", "latest", "v1", "1.x.2", "vv1.20.2", "1.20.2.3", None])
def test_api_version_refuses_garbage(version):
    with pytest.raises(ValueError, match="not a version"):
        kubeadm.api_version(version)


# -- init documents -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version, api", VERSIONS.items())
def test_init_documents_kinds_and_api_versions(version, api):
    documents = kubeadm.init_documents(params(kube_version=version))
    assert [(d["apiVersion"], d["kind"]) for d in documents] == [
        (api, "InitConfiguration"),
        (api, "ClusterConfiguration"),
        ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
        ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_init_configuration(version):
    init = by_kind(kubeadm.init_documents(params(kube_version=version, api_bind_port=8443)))["InitConfiguration"]
    assert init["bootstrapTokens"] == [{
        "token": TOKEN,
        "ttl": "24h0m0s",
        "usages": ["signing", "authentication"],
        "groups": ["system:bootstrappers:kubeadm:default-node-token"],
    }]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.1", "bindPort": 8443}
    registration = init["nodeRegistration"]
    assert registration["name"] == "master1"
    assert args(registration["kubeletExtraArgs"]) == {"node-ip": "10.0.0.1"}
    assert "taints" not in registration
    assert "skipPhases" not in init


@pytest.mark.parametrize("version", VERSIONS)
def test_cluster_configuration(version):
    cluster = by_kind(kubeadm.init_documents(params(kube_version=version.lstrip("v"))))["ClusterConfiguration"]
    assert cluster["kubernetesVersion"] == version
    assert cluster["clusterName"] == "kubernetes"
    assert cluster["controlPlaneEndpoint"] == "lb.example:6443"
    assert cluster["imageRepository"] == "k8s.gcr.io"
    assert cluster["networking"] == {
        "serviceSubnet": "10.233.0.0/18", "podSubnet": "10.233.64.0/18", "dnsDomain": "cluster.local",
    }
    assert cluster["etcd"] == {"external": {
        "endpoints": ["https://10.0.0.1:2379", "https://10.0.0.2:2379"],
        "caFile": "/etc/ssl/etcd/ca.crt",
        "certFile": "/etc/ssl/etcd/apiserver-etcd-client.crt",
        "keyFile": "/etc/ssl/etcd/apiserver-etcd-client.key",
    }}
    assert args(cluster["controllerManager"]["extraArgs"]) == {
        "allocate-node-cidrs": "true", "cluster-cidr": "10.233.64.0/18", "node-cidr-mask-size": "24",
    }
    assert "useHyperKubeImage" not in cluster


@pytest.mark.parametrize("version, form", [("v1.20.2", dict), ("v1.26.5", dict), ("v1.31.1", list)])
def test_extra_args_are_maps_until_v1beta4_then_lists(version, form):
    documents = by_kind(kubeadm.init_documents(params(kube_version=version, node_labels={"zone": "a"})))
    assert isinstance(documents["ClusterConfiguration"]["controllerManager"]["extraArgs"], form)
    assert isinstance(documents["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"], form)


def test_v1beta4_extra_args_keep_their_order():
    cluster = by_kind(kubeadm.init_documents(params(kube_version="v1.31.1")))["ClusterConfiguration"]
    assert cluster["controllerManager"]["extraArgs"] == [
        {"name": "allocate-node-cidrs", "value": "true"},
        {"name": "cluster-cidr", "value": "10.233.64.0/18"},
        {"name": "node-cidr-mask-size", "value": "24"},
    ]


@pytest.mark.parametrize("version, dns", [("v1.20.2", {"type": "CoreDNS"}), ("v1.26.5", None), ("v1.31.1", None)])
def test_dns_type_only_before_v1beta3(version, dns):
    cluster = by_kind(kubeadm.init_documents(params(kube_version=version)))["ClusterConfiguration"]
    assert cluster.get("dns") == dns


@pytest.mark.parametrize("version, socket, expected", [
    ("v1.20.2", "/run/containerd/containerd.sock", "/run/containerd/containerd.sock"),
    ("v1.21.0", "unix:///run/containerd/containerd.sock", "unix:///run/containerd/containerd.sock"),
    ("v1.22.0", "/run/containerd/containerd.sock", "unix:///run/containerd/containerd.sock"),
    ("v1.26.5", "unix:///var/run/crio/crio.sock", "unix:///var/run/crio/crio.sock"),
    ("v1.31.1", "/run/containerd/containerd.sock", "unix:///run/containerd/containerd.sock"),
])
def test_cri_socket_is_a_url_from_v1beta3(version, socket, expected):
    p = params(kube_version=version, cri_socket=socket)
    init = by_kind(kubeadm.init_documents(p))["InitConfiguration"]
    assert init["nodeRegistration"]["criSocket"] == expected
    assert kubeadm.join_documents(p, control_plane=False)[0]["nodeRegistration"]["criSocket"] == expected


@pytest.mark.parametrize("version, in_file, on_command_line", [
    ("v1.20.2", None, ["--skip-phases=addon/kube-proxy,addon/coredns"]),
    ("v1.26.5", ["addon/kube-proxy", "addon/coredns"], []),
    ("v1.31.1", ["addon/kube-proxy", "addon/coredns"], []),
])
def test_skip_phases_go_to_the_file_from_v1beta3_else_to_the_command_line(version, in_file, on_command_line):
    p = params(kube_version=version, skip_phases=["addon/kube-proxy", "addon/coredns"])
    assert by_kind(kubeadm.init_documents(p))["InitConfiguration"].get("skipPhases") == in_file
    assert kubeadm.join_documents(p, control_plane=True)[0].get("skipPhases") == in_file
    assert kubeadm.skip_phases_args(p) == on_command_line


@pytest.mark.parametrize("version", VERSIONS)
def test_no_phases_to_skip_means_no_argument(version):
    assert kubeadm.skip_phases_args(params(kube_version=version)) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_node_labels_and_taints(version):
    p = params(kube_version=version, node_labels={"zone": "a", "disk": "ssd"},
               taints=[{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}])
    registration = by_kind(kubeadm.init_documents(p))["InitConfiguration"]["nodeRegistration"]
    assert args(registration["kubeletExtraArgs"]) == {"node-ip": "10.0.0.1", "node-labels": "disk=ssd,zone=a"}
    assert registration["taints"] == [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]


@pytest.mark.parametrize("version", VERSIONS)
def test_no_taints_is_written_as_an_empty_list(version):
    p = params(kube_version=version, taints=())
    registration = by_kind(kubeadm.init_documents(p))["InitConfiguration"]["nodeRegistration"]
    assert registration["taints"] == []
    assert "taints: []" in kubeadm.dump(kubeadm.init_documents(p))


def test_cert_sans_add_the_node_and_the_endpoint_once_in_order():
    p = params(cert_sans=("api.example", "10.0.0.1", "lb.example", "api.example", "*.k8s.example"))
    cluster = by_kind(kubeadm.init_documents(p))["ClusterConfiguration"]
    assert cluster["apiServer"]["certSANs"] == ["api.example", "10.0.0.1", "lb.example", "*.k8s.example"]


@pytest.mark.parametrize("endpoint, host", [
    ("127.0.0.1:6443", "127.0.0.1"),
    ("lb.example:6443", "lb.example"),
    ("[fd00::1]:6443", "fd00::1"),
])
def test_cert_sans_hold_the_endpoint_host_without_port(endpoint, host):
    cluster = by_kind(kubeadm.init_documents(params(control_plane_endpoint=endpoint)))["ClusterConfiguration"]
    assert cluster["apiServer"]["certSANs"] == ["10.0.0.1", host]


# -- kubelet and kube-proxy -----------------------------------------------------------------------------------

def test_kubelet_configuration_defaults_dns_to_the_tenth_service_address():
    kubelet = by_kind(kubeadm.init_documents(params()))["KubeletConfiguration"]
    assert kubelet == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        "clusterDNS": ["10.233.0.10"],
        "clusterDomain": "cluster.local",
        "failSwapOn": True,
    }


def test_kubelet_configuration_takes_dns_driver_and_extras():
    p = params(cluster_dns="10.233.0.3", cgroup_driver="cgroupfs",
               kubelet_extra={"maxPods": 200, "evictionHard": {"memory.available": "200Mi"}, "failSwapOn": False})
    kubelet = by_kind(kubeadm.init_documents(p))["KubeletConfiguration"]
    assert kubelet["clusterDNS"] == ["10.233.0.3"]
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["maxPods"] == 200
    assert kubelet["evictionHard"] == {"memory.available": "200Mi"}
    assert kubelet["failSwapOn"] is False


# kube-proxy's own defaults (pkg/proxy/apis/config/v1alpha1 defaults, unchanged from 1.15 on).
UPSTREAM_CONNTRACK = {"maxPerCore": 32768, "min": 131072, "tcpEstablishedTimeout": "24h0m0s",
                      "tcpCloseWaitTimeout": "1h0m0s"}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode", ["iptables", "ipvs"])
def test_kube_proxy_configuration_spells_out_upstream_defaults(version, mode):
    proxy = by_kind(kubeadm.init_documents(params(kube_version=version, proxy_mode=mode)))["KubeProxyConfiguration"]
    assert proxy == {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": mode,
        "clusterCIDR": "10.233.64.0/18",
        "conntrack": UPSTREAM_CONNTRACK,
        "oomScoreAdj": -999,
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_kube_proxy_takes_the_clusters_conntrack_and_oom_settings(version):
    p = params(kube_version=version, conntrack_max_per_core=0, conntrack_min=0,
               conntrack_tcp_established_timeout="0s", conntrack_tcp_close_wait_timeout="0s", proxy_oom_score_adj=0)
    proxy = by_kind(kubeadm.init_documents(p))["KubeProxyConfiguration"]
    assert proxy["conntrack"] == {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                                  "tcpCloseWaitTimeout": "0s"}
    assert proxy["oomScoreAdj"] == 0
    text = kubeadm.dump(kubeadm.init_documents(p))
    assert "tcpEstablishedTimeout: 0s" in text and "oomScoreAdj: 0" in text


def test_proxy_extra_is_merged_deeply_and_left_untouched():
    extra = {"oomScoreAdj": 0, "conntrack": {"maxPerCore": 0}, "ipvs": {"strictARP": True}}
    first = params(proxy_extra=extra, proxy_mode="ipvs")
    proxy = by_kind(kubeadm.init_documents(first))["KubeProxyConfiguration"]
    assert proxy["oomScoreAdj"] == 0
    assert proxy["conntrack"] == dict(UPSTREAM_CONNTRACK, maxPerCore=0)
    assert proxy["ipvs"] == {"strictARP": True}
    proxy["conntrack"]["min"] = 1
    assert extra == {"oomScoreAdj": 0, "conntrack": {"maxPerCore": 0}, "ipvs": {"strictARP": True}}


# -- preflight checks to ignore -------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_ignored_preflight_checks_go_to_every_node_registration(version):
    p = params(kube_version=version, ignore_preflight_errors=["SystemVerification", "ImagePull"])
    init = by_kind(kubeadm.init_documents(p))["InitConfiguration"]
    join, = kubeadm.join_documents(p, control_plane=False)
    control_plane, = kubeadm.join_documents(p, control_plane=True)
    for document in (init, join, control_plane):
        assert document["nodeRegistration"]["ignorePreflightErrors"] == ["SystemVerification", "ImagePull"]
    assert kubeadm.skip_phases_args(p) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_no_check_to_ignore_writes_no_field(version):
    p = params(kube_version=version)
    for document in kubeadm.init_documents(p)[:1] + kubeadm.join_documents(p, control_plane=True):
        assert "ignorePreflightErrors" not in document["nodeRegistration"]


def test_deep_merge_keeps_sibling_keys():
    merged = kubeadm._deep_merge({"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": [1]},
                                 {"a": {"c": {"e": 4}, "g": 5}, "f": [2]})
    assert merged == {"a": {"b": 1, "c": {"d": 2, "e": 4}, "g": 5}, "f": [2]}


# -- join -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version, api", VERSIONS.items())
def test_join_worker(version, api):
    documents = kubeadm.join_documents(params(kube_version=version, node_name="node1", node_ip="10.0.0.5"),
                                       control_plane=False)
    assert len(documents) == 1
    join = documents[0]
    assert (join["apiVersion"], join["kind"]) == (api, "JoinConfiguration")
    assert join["discovery"] == {"bootstrapToken": {
        "apiServerEndpoint": "lb.example:6443", "token": TOKEN, "caCertHashes": [HASH],
    }}
    assert join["nodeRegistration"]["name"] == "node1"
    assert args(join["nodeRegistration"]["kubeletExtraArgs"]) == {"node-ip": "10.0.0.5"}
    assert "controlPlane" not in join


@pytest.mark.parametrize("version", VERSIONS)
def test_join_control_plane_has_its_local_endpoint_and_no_certificate_key(version):
    join, = kubeadm.join_documents(params(kube_version=version, node_ip="10.0.0.2"), control_plane=True)
    assert join["controlPlane"] == {"localAPIEndpoint": {"advertiseAddress": "10.0.0.2", "bindPort": 6443}}
    assert "certificateKey" not in kubeadm.dump([join])


def test_join_without_ca_pin_is_refused():
    with pytest.raises(ValueError, match="discovery_hashes"):
        kubeadm.join_documents(params(discovery_hashes=()), control_plane=False)


# -- fields per API version -----------------------------------------------------------------------------------

def _keys(document, prefix=""):
    for key, value in document.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from _keys(value, prefix + key + ".")


# Fields a version does not know, checked against every document rendered for it.
UNKNOWN = {
    kubeadm.V1BETA2: {"skipPhases", "patches", "timeouts", "nodeRegistration.imagePullPolicy"},
    kubeadm.V1BETA3: {"dns.type", "useHyperKubeImage", "timeouts"},
    kubeadm.V1BETA4: {"dns.type", "useHyperKubeImage", "apiServer.timeoutForControlPlane", "discovery.timeout"},
}


@pytest.mark.parametrize("version, api", VERSIONS.items())
def test_only_fields_of_the_version(version, api):
    p = params(kube_version=version, skip_phases=("addon/kube-proxy",), taints=())
    documents = kubeadm.init_documents(p)[:2] + kubeadm.join_documents(p, control_plane=True)
    keys = {key for document in documents for key in _keys(document)}
    assert not keys & UNKNOWN[api]


# -- output ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_dump_round_trips(version):
    p = params(kube_version=version, node_labels={"zone": "a"}, taints=(), proxy_extra={"conntrack": {"maxPerCore": 0}})
    for documents in (kubeadm.init_documents(p), kubeadm.join_documents(p, control_plane=True)):
        text = kubeadm.dump(documents)
        assert text.startswith("---\n")
        assert list(yaml.safe_load_all(text)) == documents
        assert kubeadm.dump(documents) == text


def test_dump_keeps_api_version_and_kind_first_and_strings_quoted():
    text = kubeadm.dump(kubeadm.init_documents(params()))
    assert all(part.startswith("apiVersion: ") for part in text.split("---\n")[1:])
    assert "allocate-node-cidrs: 'true'" in text
    assert "node-cidr-mask-size: '24'" in text


def test_repr_hides_the_token():
    p = params()
    assert TOKEN not in repr(p)
    assert TOKEN not in str(p)
    assert "node_name='master1'" in repr(p)


def test_lists_are_taken_as_tuples_and_none_as_empty():
    p = params(etcd_endpoints=["https://10.0.0.1:2379"], cert_sans=["a.example"], skip_phases=["addon/coredns"],
               taints=[], discovery_hashes=None)
    assert p.etcd_endpoints == ("https://10.0.0.1:2379",)
    assert p.cert_sans == ("a.example",)
    assert p.skip_phases == ("addon/coredns",)
    assert p.taints == ()
    assert p.discovery_hashes == ()


def test_params_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        params().node_ip = "10.0.0.9"


# -- addresses and the CA hash --------------------------------------------------------------------------------

@pytest.mark.parametrize("subnet, index, expected", [
    ("10.233.0.0/18", 1, "10.233.0.1"),
    ("10.233.0.0/18", 10, "10.233.0.10"),
    ("10.96.0.0/12", 10, "10.96.0.10"),
    ("fd00:10:96::/112", 10, "fd00:10:96::a"),
])
def test_service_ip(subnet, index, expected):
    assert kubeadm.service_ip(subnet, index) == expected


@pytest.mark.parametrize("subnet, index", [("10.0.0.0/29", 10), ("10.0.0.0/29", 0), ("10.0.0.0/29", 7)])
def test_service_ip_outside_the_subnet(subnet, index):
    with pytest.raises(ValueError, match="has no address number"):
        kubeadm.service_ip(subnet, index)


def test_service_ip_needs_a_network():
    with pytest.raises(ValueError, match="CIDR"):
        kubeadm.service_ip("10.233.0.1/18", 1)


def _self_signed_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def test_ca_cert_hash_is_sha256_of_the_public_key_info():
    cert, key = _self_signed_ca()
    pem = cert.public_bytes(serialization.Encoding.PEM)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = "sha256:" + hashlib.sha256(der).hexdigest()
    assert kubeadm.ca_cert_hash(pem) == expected
    assert kubeadm.ca_cert_hash(pem.decode()) == expected
    params(discovery_hashes=(expected,))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_ca_cert_hash_matches_the_documented_openssl_pipeline():
    cert, _ = _self_signed_ca()
    pem = cert.public_bytes(serialization.Encoding.PEM)
    public = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem, capture_output=True, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=public.stdout,
                         capture_output=True, check=True)
    assert kubeadm.ca_cert_hash(pem) == "sha256:" + hashlib.sha256(der.stdout).hexdigest()


def test_ca_cert_hash_refuses_what_is_not_a_certificate():
    with pytest.raises(ValueError, match="not a PEM certificate"):
        kubeadm.ca_cert_hash(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")


# -- validation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"kube_version": "v1.20"}, "kube_version .* release version"),
    ({"kube_version": "latest"}, "kube_version .* release version"),
    ({"kube_version": "v1.14.3"}, "kube_version: .*too old"),
    ({"node_name": "Master_1"}, "node_name"),
    ({"node_ip": "10.0.0.300"}, "node_ip .* not an IP address"),
    ({"control_plane_endpoint": "lb.example"}, "control_plane_endpoint .* host:port"),
    ({"control_plane_endpoint": "lb.example:"}, "control_plane_endpoint"),
    ({"control_plane_endpoint": "lb.example:70000"}, "control_plane_endpoint"),
    ({"control_plane_endpoint": "fd00::1:6443"}, "control_plane_endpoint"),
    ({"control_plane_endpoint": "https://lb.example:6443"}, "control_plane_endpoint"),
    ({"etcd_endpoints": ()}, "etcd_endpoints is empty"),
    ({"etcd_endpoints": "https://10.0.0.1:2379"}, "etcd_endpoints must be a list"),
    ({"cert_sans": 5}, "cert_sans must be a list"),
    ({"etcd_endpoints": ("10.0.0.1:2379",)}, "etcd_endpoints entry"),
    ({"etcd_endpoints": ("https://10.0.0.1",)}, "etcd_endpoints entry"),
    ({"etcd_endpoints": ("https://10.0.0.1:port",)}, "etcd_endpoints entry"),
    ({"etcd_ca_file": "ca.crt"}, "etcd_ca_file .* absolute path"),
    ({"etcd_key_file": ""}, "etcd_key_file"),
    ({"service_subnet": "10.233.0.1/18"}, "service_subnet .* CIDR"),
    ({"service_subnet": "10.233.0.0"}, "service_subnet"),
    ({"pod_subnet": "10.233.64.0/33"}, "pod_subnet .* CIDR"),
    ({"pod_subnet": "10.233.0.0/16"}, "overlap"),
    ({"pod_subnet": "fd00::/64"}, "different IP versions"),
    ({"node_cidr_mask_size": 16}, "node_cidr_mask_size"),
    ({"node_cidr_mask_size": 33}, "node_cidr_mask_size"),
    ({"node_cidr_mask_size": "24"}, "node_cidr_mask_size"),
    ({"dns_domain": "Cluster Local"}, "dns_domain"),
    ({"image_repository": ""}, "image_repository"),
    ({"bootstrap_token": "abcdef0123456789abcdef"}, r"bootstrap_token .*\[a-z0-9\]\{6\}"),
    ({"bootstrap_token": "ABCDEF.0123456789abcdef"}, "bootstrap_token"),
    ({"bootstrap_token": "abcdef.0123456789abcde"}, "bootstrap_token"),
    ({"token_ttl": "1 day"}, "token_ttl"),
    ({"discovery_hashes": ("0123456789abcdef" * 4,)}, "discovery_hashes entry .* sha256:"),
    ({"discovery_hashes": ("sha256:abc",)}, "discovery_hashes entry"),
    ({"discovery_hashes": ("sha1:" + "0" * 40,)}, "discovery_hashes entry"),
    ({"api_bind_port": 0}, "api_bind_port"),
    ({"api_bind_port": "6443"}, "api_bind_port"),
    ({"cert_sans": ("bad name",)}, "cert_sans entry"),
    ({"cgroup_driver": "system"}, "cgroup_driver"),
    ({"cri_socket": "containerd.sock"}, "cri_socket"),
    ({"proxy_mode": "nftables"}, "proxy_mode .* iptables, ipvs"),
    ({"cluster_name": " "}, "cluster_name"),
    ({"cluster_dns": "10.0.0.10"}, "cluster_dns .* outside service_subnet"),
    ({"cluster_dns": "dns"}, "cluster_dns .* not an IP address"),
    ({"kubelet_extra": ["maxPods"]}, "kubelet_extra must be a mapping"),
    ({"proxy_extra": None}, "proxy_extra must be a mapping"),
    ({"node_labels": {"zone": "a,b"}}, "node_labels entry"),
    ({"taints": ({"key": "a", "effect": "NoRun"},)}, "taints entry"),
    ({"taints": ({"effect": "NoSchedule"},)}, "taints entry"),
    ({"taints": ({"key": "a", "effect": "NoSchedule", "operator": "Exists"},)}, "taints entry"),
    ({"taints": ("a:NoSchedule",)}, "taints entry"),
    ({"skip_phases": ("addon/kube-proxy,addon/coredns",)}, "skip_phases entry"),
    ({"conntrack_max_per_core": -1}, "conntrack_max_per_core .* 0 or more"),
    ({"conntrack_min": "131072"}, "conntrack_min"),
    ({"conntrack_max_per_core": True}, "conntrack_max_per_core"),
    ({"conntrack_tcp_established_timeout": "1 day"}, "conntrack_tcp_established_timeout .* duration"),
    ({"conntrack_tcp_close_wait_timeout": "60"}, "conntrack_tcp_close_wait_timeout .* duration"),
    ({"proxy_oom_score_adj": -1001}, "proxy_oom_score_adj .* -1000 and 1000"),
    ({"proxy_oom_score_adj": "-999"}, "proxy_oom_score_adj"),
    ({"ignore_preflight_errors": "SystemVerification"}, "ignore_preflight_errors must be a list"),
    ({"ignore_preflight_errors": ("all", "Swap")}, "ignore_preflight_errors: 'all'"),
    ({"ignore_preflight_errors": ("System Verification",)}, "ignore_preflight_errors: .* preflight check"),
])
def test_invalid_params_name_the_field_and_the_fix(changes, message):
    with pytest.raises(ValueError, match=message) as caught:
        params(**changes)
    assert "->" in str(caught.value)


def test_bad_token_is_not_echoed():
    secret = "abcdef.0123456789abcdeX"
    with pytest.raises(ValueError) as caught:
        params(bootstrap_token=secret)
    assert secret not in str(caught.value)
