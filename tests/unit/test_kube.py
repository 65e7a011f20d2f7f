"""The Kubernetes pillar of each host: role, endpoint, load balancer, kubeadm file, bundle."""

import base64

import yaml
import pytest

from saltsphere import cluster, kube, kubeadm, pki
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve

from sample_inputs import issue_secrets, SEED_HOSTS_INI, SEED_VARS_YML

HA_HOSTS = """\
[all]
m1 ansible_host=10.1.0.1 ip=10.1.0.1
m2 ansible_host=10.1.0.2 ip=10.1.0.2
m3 ansible_host=10.1.0.3 ip=10.1.0.3
w1 ansible_host=10.1.0.4 ip=10.1.0.4

[kube-master]
m1
m2
m3

[kube-node]
w1

[etcd]
m1
m2
m3

[k8s-cluster:children]
kube-node
kube-master
"""


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    """A bundle directory with the files a cluster needs; serving it is not part of these tests."""
    directory = tmp_path / "bundle"
    entries = []
    for path, name, kind, ref in (
        ("bin/kubeadm", "kubeadm", "binary", ""),
        ("bin/kubelet", "kubelet", "binary", ""),
        ("bin/kubectl", "kubectl", "binary", ""),
        ("images/pause.tar", "pause", "image", "k8s.gcr.io/pause:3.2"),
    ):
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_bytes(name.encode())
        entries.append(mf.entry_for(directory, path, name=name, version="v1.20.2", arch="amd64", kind=kind, ref=ref))
    mf.write_manifest(directory, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])
    server = {"token": "TOKEN", "port": 8089, "addresses": ["10.9.9.9", "127.0.0.1"], "pid": 1, "bundle_dir": str(directory),
              "overlay": {}}
    records = []
    monkeypatch.setattr(serve, "record", lambda state_dir: records.append(state_dir) or server)
    monkeypatch.setattr(serve, "source_address_for", lambda ip: "10.9.9.9")
    return directory, records


def _load(write_cluster, tmp_path, bundle, hosts=SEED_HOSTS_INI, extra=""):
    if isinstance(bundle, tuple):
        bundle = bundle[0]
    vars_text = SEED_VARS_YML + f"artifact_bundle: {bundle}\n" + extra
    return issue_secrets(cluster.load(str(write_cluster(hosts, vars_text, directory=tmp_path / "cluster"))))


def _pillar(loaded, name):
    spec = loaded.hosts[name]
    material = pki.host_pillar(loaded.directory, spec.name, spec.roles, spec.ip)["saltsphere"]["kubernetes_pki"]
    bundle = kube.bundle_pillar(loaded, spec)
    return dict(kube.host_pillar(loaded, spec, material, bundle), bundle=bundle)


def test_one_master_is_reached_directly(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, bundle)
    assert kube.endpoint(loaded) == "192.168.0.1:6443"
    assert not kube.load_balancer(loaded)["enabled"]
    master, node = _pillar(loaded, "master"), _pillar(loaded, "node1")
    assert master["kubernetes"]["role"] == "init"
    assert node["kubernetes"]["role"] == "join"
    init = list(yaml.safe_load_all(master["kubernetes"]["kubeadm_config"]))
    assert [d["kind"] for d in init] == ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration",
                                         "KubeProxyConfiguration"]
    assert init[1]["etcd"]["external"]["endpoints"] == ["https://192.168.0.1:2379"]
    # upstream's kube-proxy: the sandbox kernel's workarounds are the sandbox's vars.yml, not the default
    assert init[3]["oomScoreAdj"] == -999
    assert init[3]["conntrack"] == {"maxPerCore": 32768, "min": 131072, "tcpEstablishedTimeout": "24h0m0s",
                                    "tcpCloseWaitTimeout": "1h0m0s"}
    join = list(yaml.safe_load_all(node["kubernetes"]["kubeadm_config"]))[0]
    ca_cert = (tmp_path / "cluster" / ".saltsphere" / "pki" / "kubernetes" / "ca.crt").read_bytes()
    assert join["discovery"]["bootstrapToken"]["caCertHashes"] == [kubeadm.ca_cert_hash(ca_cert)]
    assert join["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "192.168.0.1:6443"


def test_several_masters_go_through_the_local_load_balancer(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, bundle, HA_HOSTS)
    assert kube.endpoint(loaded) == "127.0.0.1:6444"
    lb = kube.load_balancer(loaded)
    assert lb["enabled"] and [b["ip"] for b in lb["backends"]] == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
    roles = {name: _pillar(loaded, name)["kubernetes"]["role"] for name in ("m1", "m2", "m3", "w1")}
    assert roles == {"m1": "init", "m2": "join-control-plane", "m3": "join-control-plane", "w1": "join"}
    join = list(yaml.safe_load_all(_pillar(loaded, "m2")["kubernetes"]["kubeadm_config"]))[0]
    assert join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] == "10.1.0.2"
    cluster_config = list(yaml.safe_load_all(_pillar(loaded, "m1")["kubernetes"]["kubeadm_config"]))[1]
    assert {"127.0.0.1", "10.1.0.1", "10.1.0.2", "10.1.0.3"} <= set(cluster_config["apiServer"]["certSANs"])


def test_an_external_endpoint_turns_the_load_balancer_off(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, bundle, HA_HOSTS, 'kube_control_plane_endpoint: "lb.example.com:6443"\n')
    assert kube.endpoint(loaded) == "lb.example.com:6443"
    assert not kube.load_balancer(loaded)["enabled"]


def test_bundle_files_and_url_reach_the_pillar(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, bundle)
    data = _pillar(loaded, "node1")["bundle"]
    assert data["url"] == "http://10.9.9.9:8089/TOKEN"
    assert data["files"]["images/pause.tar"]["ref"] == "k8s.gcr.io/pause:3.2"
    assert bundle[1] == [tmp_path / "cluster" / ".saltsphere"], "the server's record is read, nothing started"


@pytest.mark.parametrize("server", [None, {"token": "T", "port": 8089, "addresses": ["10.0.0.1"], "pid": 1,
                                           "bundle_dir": "/b", "overlay": {}}])
def test_without_a_server_towards_the_host_the_pillar_says_to_prepare(write_cluster, tmp_path, bundle, monkeypatch,
                                                                       server):
    monkeypatch.setattr(serve, "record", lambda state_dir: server)
    loaded = _load(write_cluster, tmp_path, bundle)
    data = _pillar(loaded, "node1")["bundle"]
    assert data == {"error": f"no bundle server is running for this cluster (or it does not listen towards "
                             f"{loaded.hosts['node1'].ip}): run `salt-run saltsphere.prepare` (the orchestration "
                             "and ./install.sh run it first)"}


def _registrations(pillar):
    return [d["nodeRegistration"] for d in yaml.safe_load_all(pillar["kubernetes"]["kubeadm_config"])
            if "nodeRegistration" in d]


def test_the_clusters_package_key_reaches_the_pillar_once_prepared(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, bundle)
    assert _pillar(loaded, "node1")["bundle"]["apt_keyring"] is None
    apt_dir = tmp_path / "cluster" / ".saltsphere" / "apt"
    assert not apt_dir.exists(), "rendering pillar must not make the key"
    apt_dir.mkdir(mode=0o700)
    (apt_dir / "keyring.gpg").write_bytes(b"\x98\x33key")
    assert _pillar(loaded, "node1")["bundle"]["apt_keyring"] == base64.b64encode(b"\x98\x33key").decode()


def test_a_bundle_without_coredns_skips_the_dns_addon(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, bundle)
    master = _pillar(loaded, "master")
    assert master["kubernetes"]["kubeadm_args"] == ["--skip-phases=addon/coredns"]
    # The image kubeadm's preflight pulls is missing from the bundle: that check alone is ignored.
    for name in ("master", "node1"):
        [registration] = _registrations(_pillar(loaded, name))
        assert registration["ignorePreflightErrors"] == ["ImagePull"]


def test_a_bundle_with_coredns_ignores_no_preflight_check(write_cluster, tmp_path, bundle):
    directory, _ = bundle
    manifest = mf.read_manifest(directory)
    (directory / "images" / "coredns.tar").write_bytes(b"coredns")
    coredns = mf.entry_for(directory, "images/coredns.tar", name="coredns", version="1.7.0", arch="amd64",
                           kind="image", ref="k8s.gcr.io/coredns:1.7.0")
    mf.write_manifest(directory, [*manifest.files, coredns], kube_version="v1.20.2", arch="amd64",
                      distributions=["debian-12"])
    loaded = _load(write_cluster, tmp_path, bundle)
    master = _pillar(loaded, "master")
    assert master["kubernetes"]["kubeadm_args"] == []
    assert all("ignorePreflightErrors" not in r for r in _registrations(master))


@pytest.mark.parametrize("listed, expected", [
    ("[SystemVerification]", ["SystemVerification", "ImagePull"]),
    ("[SystemVerification, imagepull]", ["SystemVerification", "imagepull"]),
    ("[all]", ["all"]),
])
def test_preflight_checks_from_vars_yml_reach_every_kubeadm_file(write_cluster, tmp_path, bundle, listed, expected):
    loaded = _load(write_cluster, tmp_path, bundle, extra=f"kubeadm_ignore_preflight_errors: {listed}\n")
    for name in ("master", "node1", "node2"):
        [registration] = _registrations(_pillar(loaded, name))
        assert registration["ignorePreflightErrors"] == expected
        assert not any(arg.startswith("--ignore-preflight-errors") for arg in
                       _pillar(loaded, name)["kubernetes"]["kubeadm_args"])


def test_kube_proxy_settings_from_vars_yml_reach_the_init_file(write_cluster, tmp_path, bundle):
    extra = ("kube_proxy_conntrack_max_per_core: 0\nkube_proxy_conntrack_min: 0\n"
             "kube_proxy_conntrack_tcp_established_timeout: 0s\nkube_proxy_conntrack_tcp_close_wait_timeout: 0s\n"
             "kube_proxy_oom_score_adj: 0\n")
    loaded = _load(write_cluster, tmp_path, bundle, extra=extra)
    proxy = list(yaml.safe_load_all(_pillar(loaded, "master")["kubernetes"]["kubeadm_config"]))[3]
    assert proxy["conntrack"] == {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"}
    assert proxy["oomScoreAdj"] == 0


def test_a_missing_bundle_is_an_error_in_the_pillar_not_a_crash(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, tmp_path / "nowhere")
    data = _pillar(loaded, "node1")["bundle"]
    assert "no bundle at" in data["error"] and "artifact build" in data["error"]


def test_the_token_is_in_the_kubeadm_file_only(write_cluster, tmp_path, bundle):
    loaded = _load(write_cluster, tmp_path, bundle)
    data = _pillar(loaded, "node1")
    token = (tmp_path / "cluster" / ".saltsphere" / "pki" / "kubernetes" / "bootstrap-token").read_text().strip()
    assert token in data["kubernetes"]["kubeadm_config"]
    rest = dict(data["kubernetes"], kubeadm_config="")
    assert token not in repr(rest) and token not in repr(data["bundle"])
    assert data["kubernetes"]["token_id"] == token.split(".")[0]
