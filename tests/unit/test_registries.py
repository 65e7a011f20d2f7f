"""vars.yml's registry keys: checked before any host is touched, and turned into containerd's hosts.toml files."""

import tomllib

import pytest

from saltsphere import cluster, registries

from sample_inputs import SEED_VARS_YML

CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2E=\n-----END CERTIFICATE-----\n"
CERTS = registries.CERTS_DIR


def _toml(files, registry):
    return tomllib.loads(files[f"{CERTS}/{registry}/hosts.toml"])


def test_no_registry_key_means_no_file():
    assert registries.host_files({}) == {}
    assert registries.host_files({"registry_mirrors": [], "insecure_registries": [], "private_registry": ""}) == {}


def test_docker_hub_mirrors_are_tried_in_order_before_docker_hub():
    files = registries.host_files({"registry_mirrors": ["https://mirror.example.com/", "http://10.0.0.9:5000"]})
    assert list(files) == [f"{CERTS}/docker.io/hosts.toml"]
    hub = _toml(files, "docker.io")
    assert hub["server"] == "https://registry-1.docker.io"
    assert list(hub["host"]) == ["https://mirror.example.com", "http://10.0.0.9:5000"]
    assert hub["host"]["https://mirror.example.com"]["capabilities"] == ["pull", "resolve"]
    assert files[f"{CERTS}/docker.io/hosts.toml"].startswith(registries.HEADER)


def test_the_private_registry_comes_first_for_every_public_registry_with_its_ca(tmp_path):
    (tmp_path / "ca.pem").write_text(CA)
    config = {"private_registry": "harbor.example.com:8443", "registry_ca_file": "ca.pem",
              "registry_mirrors": ["https://mirror.example.com"]}
    files = registries.host_files(config, base_dir=str(tmp_path))
    ca_path = f"{CERTS}/{registries.CA_NAME}"
    assert files[ca_path] == CA
    for registry in registries.PUBLIC:
        hosts = _toml(files, registry)["host"]
        assert list(hosts)[0] == "https://harbor.example.com:8443", registry
        assert hosts["https://harbor.example.com:8443"] == {"capabilities": ["pull", "resolve"], "ca": ca_path}
    assert list(_toml(files, "docker.io")["host"]) == ["https://harbor.example.com:8443", "https://mirror.example.com"]
    own = _toml(files, "harbor.example.com:8443")
    assert own["server"] == "https://harbor.example.com:8443"
    assert own["host"]["https://harbor.example.com:8443"]["capabilities"] == ["pull", "resolve", "push"]


def test_an_insecure_registry_is_spoken_to_over_plain_http_also_as_the_private_one():
    files = registries.host_files({"private_registry": "10.0.0.5:5000", "insecure_registries": ["10.0.0.5:5000",
                                                                                                "lab:80"]})
    assert list(_toml(files, "quay.io")["host"]) == ["http://10.0.0.5:5000"]
    assert _toml(files, "10.0.0.5:5000")["server"] == "http://10.0.0.5:5000"
    assert _toml(files, "lab:80")["server"] == "http://lab:80"


@pytest.mark.parametrize("config, key, words", [
    ({"registry_mirrors": ["mirror.example.com"]}, "registry_mirrors", "entry 1 'mirror.example.com' is not a registry URL"),
    ({"registry_mirrors": ["https://m.example.com/v2/hub"]}, "registry_mirrors", "is not a registry URL"),
    ({"registry_mirrors": ["https://m.example.com:99999"]}, "registry_mirrors", "is not a registry URL"),
    ({"insecure_registries": ["http://10.0.0.5:5000"]}, "insecure_registries", "is not HOST[:PORT]"),
    ({"private_registry": "harbor.example.com/library"}, "private_registry", "is not HOST[:PORT]"),
    ({"registry_ca_file": "/etc/hostname"}, "registry_ca_file", "private_registry is not"),
])
def test_bad_values_are_named_with_the_fix(config, key, words):
    found = registries.problems(config)
    assert [k for k, _, _ in found][:1] == [key]
    assert words in found[0][1] and found[0][2]


def test_a_ca_file_must_be_a_certificate_and_never_a_key(tmp_path):
    config = {"private_registry": "harbor:443", "registry_ca_file": str(tmp_path / "ca.pem")}
    assert "cannot be read" in registries.problems(config)[0][1]
    (tmp_path / "ca.pem").write_text("not a certificate")
    assert "holds no PEM certificate" in registries.problems(config)[0][1]
    (tmp_path / "ca.pem").write_text(CA + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert "holds a private key" in registries.problems(config)[0][1]
    (tmp_path / "ca.pem").write_text(CA)
    assert registries.problems(config) == []
    insecure = dict(config, insecure_registries=["harbor:443"])
    assert "plain HTTP" in registries.problems(insecure)[0][1]


def test_the_check_names_vars_yml_its_line_and_the_fix(check):
    vars_text = SEED_VARS_YML + "registry_mirrors:\n  - mirror.example.com\n"
    problem = next(p for p in check(vars_text=vars_text).errors if p.key == "registry_mirrors")
    assert problem.path.endswith("vars.yml")
    assert problem.line == len(SEED_VARS_YML.splitlines()) + 1
    assert "https://HOST[:PORT]" in problem.fix


def test_kubernetes_hosts_get_the_files_in_pillar_and_a_host_of_etcd_only_none(write_cluster):
    hosts_ini = write_cluster(vars_yml=SEED_VARS_YML + "insecure_registries: ['10.0.0.5:5000']\n")
    loaded = cluster.load(str(hosts_ini))
    registry = f"{CERTS}/10.0.0.5:5000/hosts.toml"
    for name in loaded.hosts:
        assert registry in loaded.pillar(name)["saltsphere"]["registries"]
    etcd_only = cluster.load(str(write_cluster(
        "[all]\nm ansible_host=192.168.0.2 ip=192.168.0.2\ne ansible_host=192.168.0.5 ip=192.168.0.5\n"
        "[kube-master]\nm\n[kube-node]\nm\n[etcd]\ne\n[k8s-cluster:children]\nkube-node\nkube-master\n",
        SEED_VARS_YML)))
    assert "registries" not in etcd_only.pillar("e")["saltsphere"]
    assert etcd_only.pillar("m")["saltsphere"]["registries"] == {}
