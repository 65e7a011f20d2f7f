"""KubeSphere's objects, images, credentials and banner, decided on the taskbox."""

import concurrent.futures
import http.server
import stat
import string
import threading

import pytest
import bcrypt
import yaml

from saltsphere import cluster, kubesphere, status, storage
from saltsphere.errors import ActionableError

from sample_inputs import issue_secrets, SEED_HOSTS_INI, SEED_VARS_YML, hosts_ini

CONFIG = {"ks_version": "v3.4.1", "ks_console_nodeport": 32130, "kube_version": "v1.20.2"}


def _objects(masters=1, **config):
    return kubesphere.objects({**CONFIG, **config}, "nfs-server", "J" * 32, "Admin-Pw-1",
                              etcd_ips=["192.168.0.1", "192.168.0.2"], masters=masters)


def _by_kind(items):
    return {item["kind"]: item for item in items}


def test_objects_are_the_installer_and_its_configuration_in_apply_order():
    assert [o["kind"] for o in _objects()] == [
        "CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
        "Deployment", "ClusterConfiguration",
    ]


def test_crd_serves_cluster_configurations():
    crd = _by_kind(_objects())["CustomResourceDefinition"]
    assert crd["metadata"]["name"] == "clusterconfigurations.installer.kubesphere.io"
    assert crd["spec"]["group"] == "installer.kubesphere.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["kind"] == "ClusterConfiguration"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"]


def test_installer_runs_the_release_image_from_the_bundle_as_its_service_account():
    kinds = _by_kind(_objects())
    deployment = kinds["Deployment"]
    assert deployment["metadata"] == {"name": "ks-installer", "namespace": "kubesphere-system",
                                      "labels": {"app": "ks-installer"}}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "ks-installer"
    (container,) = pod["containers"]
    assert container["image"] == "kubesphere/ks-installer:v3.4.1"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert kinds["ServiceAccount"]["metadata"] == {"name": "ks-installer", "namespace": "kubesphere-system"}
    binding = kinds["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == "ks-installer"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ks-installer", "namespace": "kubesphere-system"}]
    groups = {rule["apiGroups"][0] for rule in kinds["ClusterRole"]["rules"]}
    assert {"", "apps", "apiextensions.k8s.io", "installer.kubesphere.io", "iam.kubesphere.io"} <= groups


def test_cluster_configuration_carries_the_cluster_settings():
    cc = _by_kind(_objects())["ClusterConfiguration"]
    assert cc["apiVersion"] == "installer.kubesphere.io/v1alpha1"
    assert cc["metadata"] == {"name": "ks-installer", "namespace": "kubesphere-system",
                              "labels": {"version": "v3.4.1"}}
    spec = cc["spec"]
    assert spec["persistence"] == {"storageClass": "nfs-server"}
    assert spec["authentication"] == {"jwtSecret": "J" * 32, "adminPassword": "Admin-Pw-1"}
    assert spec["common"]["core"]["console"] == {"enableMultiLogin": True, "port": 32130, "type": "NodePort"}
    assert spec["etcd"] == {"monitoring": False, "endpointIps": "192.168.0.1,192.168.0.2", "port": 2379,
                            "tlsEnable": True}
    assert spec["ks_image_pull_policy"] == "IfNotPresent"


def test_console_port_follows_ks_console_nodeport():
    cc = _by_kind(_objects(ks_console_nodeport=30880))["ClusterConfiguration"]
    assert cc["spec"]["common"]["core"]["console"]["port"] == 30880


@pytest.mark.parametrize("component", ["alerting", "auditing", "devops", "events", "logging", "metrics_server",
                                       "servicemesh", "edgeruntime", "gatekeeper"])
def test_pluggable_components_are_off(component):
    assert _by_kind(_objects())["ClusterConfiguration"]["spec"][component] == {"enabled": False}


def test_other_optional_parts_are_off():
    spec = _by_kind(_objects())["ClusterConfiguration"]["spec"]
    assert spec["openpitrix"] == {"store": {"enabled": False}}
    assert spec["multicluster"] == {"clusterRole": "none"}
    assert spec["common"]["openldap"] == {"enabled": False}
    assert spec["network"]["networkpolicy"] == {"enabled": False}


@pytest.mark.parametrize("masters, enabled", [(1, False), (2, True), (3, True)])
def test_redis_holds_sessions_only_with_several_masters(masters, enabled):
    spec = _by_kind(_objects(masters=masters))["ClusterConfiguration"]["spec"]
    assert spec["common"]["redis"] == {"enabled": enabled}
    assert ("redis:5.0.14-alpine" in kubesphere.images(CONFIG, masters=masters)) is enabled


def test_an_unknown_release_is_refused_with_the_known_ones():
    with pytest.raises(ActionableError, match=r"ks_version v2\.1\.1 .* one of: v3\.4\.1"):
        kubesphere.objects({**CONFIG, "ks_version": "v2.1.1"}, "nfs-server", "j", "p")


def test_definitions_come_before_what_lives_in_them():
    first, rest = kubesphere.split_definitions(_objects())
    assert [o["kind"] for o in first] == ["CustomResourceDefinition", "Namespace"]
    assert [o["kind"] for o in rest] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment",
                                         "ClusterConfiguration"]


def test_images_of_the_release():
    images = kubesphere.images(CONFIG)
    assert images[:4] == ["kubesphere/ks-installer:v3.4.1", "kubesphere/ks-apiserver:v3.4.1",
                          "kubesphere/ks-console:v3.4.1", "kubesphere/ks-controller-manager:v3.4.1"]
    assert "kubesphere/kubectl:v1.20.0" in images
    assert "prom/prometheus:v2.39.1" in images
    assert len(images) == len(set(images))


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_configured_password_is_used_as_it_is(tmp_path):
    assert kubesphere.ensure_admin_password(tmp_path, "passw0rd") == "passw0rd"
    assert not (tmp_path / ".saltsphere" / "ks-admin-password").exists()


def test_a_password_is_made_once_private_and_reused(tmp_path):
    first = kubesphere.ensure_admin_password(tmp_path, "")
    path = tmp_path / ".saltsphere" / "ks-admin-password"
    assert path.read_text() == first + "\n"
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert len(first) >= 16
    for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        assert any(c in chars for c in first)
    assert set(first) <= set(string.ascii_letters + string.digits)
    assert kubesphere.ensure_admin_password(tmp_path, "  ") == first
    assert kubesphere.ensure_admin_password(tmp_path, "") != kubesphere.ensure_admin_password(tmp_path / "other", "")


def test_an_empty_password_file_is_replaced(tmp_path):
    path = tmp_path / ".saltsphere" / "ks-admin-password"
    path.parent.mkdir()
    path.write_text("\n")
    made = kubesphere.ensure_admin_password(tmp_path, None)
    assert made and path.read_text().strip() == made and _mode(path) == 0o600


def test_the_jwt_secret_is_made_once_private_and_reused(tmp_path):
    secret = kubesphere.ensure_jwt_secret(tmp_path)
    path = tmp_path / ".saltsphere" / "ks-jwt-secret"
    assert len(secret) == 32 and set(secret) <= set(string.ascii_letters + string.digits)
    assert _mode(path) == 0o600
    assert kubesphere.ensure_jwt_secret(tmp_path) == secret


def test_parallel_pillar_processes_agree_on_one_password(tmp_path):
    with concurrent.futures.ProcessPoolExecutor(max_workers=6) as pool:
        made = set(pool.map(kubesphere.ensure_admin_password, [tmp_path] * 12, [""] * 12))
    assert made == {(tmp_path / ".saltsphere" / "ks-admin-password").read_text().strip()}
    assert not [p.name for p in (tmp_path / ".saltsphere").iterdir() if p.name.endswith(".tmp")]


def _seed_cluster(write_cluster, tmp_path, hosts=SEED_HOSTS_INI, extra=""):
    return issue_secrets(cluster.load(write_cluster(hosts, SEED_VARS_YML + extra, directory=tmp_path / "cluster")))


def test_only_the_first_master_gets_the_manifests(write_cluster, tmp_path):
    loaded = _seed_cluster(write_cluster, tmp_path)
    assert kubesphere.host_pillar(loaded, loaded.hosts["node1"]) == {}
    pillar = kubesphere.host_pillar(loaded, loaded.hosts["master"])["ks"]
    definitions = list(yaml.safe_load_all(pillar["definitions"]))
    manifest = list(yaml.safe_load_all(pillar["manifest"]))
    assert [o["kind"] for o in definitions] == ["CustomResourceDefinition", "Namespace"]
    spec = _by_kind(manifest)["ClusterConfiguration"]["spec"]
    assert spec["persistence"]["storageClass"] == storage.default_class(loaded.config.values) == "nfs-server"
    assert spec["etcd"]["endpointIps"] == "192.168.0.1"
    password = kubesphere.admin_password(loaded.directory, "")
    assert password not in pillar["manifest"], "the cluster gets the password only as a hash"
    assert bcrypt.checkpw(password.encode(), spec["authentication"]["adminPassword"].encode())
    assert spec["authentication"]["adminPassword"].startswith("$2a$")
    assert spec["authentication"]["jwtSecret"] == kubesphere.ensure_jwt_secret(loaded.directory)
    assert spec["common"]["redis"] == {"enabled": False}


def test_the_configured_password_reaches_the_first_master_as_a_hash(write_cluster, tmp_path):
    loaded = _seed_cluster(write_cluster, tmp_path, extra="ks_admin_password: Mine-Pw-42\n")
    manifest = kubesphere.host_pillar(loaded, loaded.hosts["master"])["ks"]["manifest"]
    assert "Mine-Pw-42" not in manifest
    hashed = _by_kind(yaml.safe_load_all(manifest))["ClusterConfiguration"]["spec"]["authentication"]["adminPassword"]
    assert bcrypt.checkpw(b"Mine-Pw-42", hashed.encode())
    assert kubesphere.admin_password(loaded.directory, loaded.config["ks_admin_password"]) == "Mine-Pw-42"


def test_the_hash_is_kept_until_the_password_changes(tmp_path):
    first = kubesphere.ensure_admin_password_hash(tmp_path, "One-Pw-1")
    assert kubesphere.ensure_admin_password_hash(tmp_path, "One-Pw-1") == first
    second = kubesphere.ensure_admin_password_hash(tmp_path, "Two-Pw-2")
    assert second != first and bcrypt.checkpw(b"Two-Pw-2", second.encode())
    path = tmp_path / ".saltsphere" / kubesphere.ADMIN_PASSWORD_HASH_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_pillar_never_makes_secrets(write_cluster, tmp_path):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML, directory=tmp_path / "cluster"))
    pillar = kubesphere.host_pillar(loaded, loaded.hosts["master"])
    assert "saltsphere.prepare" in pillar["ks"]["error"]
    assert not (tmp_path / "cluster" / ".saltsphere").exists()


def test_several_masters_keep_sessions_in_redis(write_cluster, tmp_path):
    lines = ("m1 ansible_host=10.0.0.1 ip=10.0.0.1", "m2 ansible_host=10.0.0.2 ip=10.0.0.2",
             "m3 ansible_host=10.0.0.3 ip=10.0.0.3")
    inventory = hosts_ini(lines=lines, masters=("m1", "m2", "m3"), nodes=("m1", "m2", "m3"), etcd=("m1", "m2", "m3"))
    loaded = _seed_cluster(write_cluster, tmp_path, hosts=inventory)
    assert kubesphere.host_pillar(loaded, loaded.hosts["m2"]) == {}
    manifest = kubesphere.host_pillar(loaded, loaded.hosts["m1"])["ks"]["manifest"]
    spec = _by_kind(yaml.safe_load_all(manifest))["ClusterConfiguration"]["spec"]
    assert spec["common"]["redis"] == {"enabled": True}
    assert spec["etcd"]["endpointIps"] == "10.0.0.1,10.0.0.2,10.0.0.3"


def test_an_unknown_release_reaches_the_states_as_an_error(write_cluster, tmp_path):
    loaded = _seed_cluster(write_cluster, tmp_path, extra="ks_version: v3.0.0\n")
    pillar = kubesphere.host_pillar(loaded, loaded.hosts["master"])
    assert list(pillar["ks"]) == ["error"] and "ks_version v3.0.0" in pillar["ks"]["error"]


def test_banner_is_the_seeds_with_this_clusters_values():
    assert kubesphere.banner("http://192.168.0.1:32130", "Xy7pQ2rT9wLm4Kd8Vb3n") == (
        "successsful!\n"
        "#####################################################\n"
        "###              Welcome to KubeSphere!           ###\n"
        "#####################################################\n"
        "\n"
        "Console: http://192.168.0.1:32130\n"
        "Account: admin\n"
        "Password: Xy7pQ2rT9wLm4Kd8Vb3n\n"
        "\n"
        "NOTE：Please modify the default password after login.\n"
        "#####################################################\n"
    )


def test_console_url_is_on_the_first_master(write_cluster, tmp_path):
    loaded = _seed_cluster(write_cluster, tmp_path)
    assert kubesphere.console_url(loaded) == "http://192.168.0.1:32130"
    assert kubesphere.console_url(loaded, 30880) == "http://192.168.0.1:30880"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/":
            self.send_response(302)
            self.send_header("Location", "/login")
            self.end_headers()
            return
        self.send_response(200 if self.path == "/login" else 503)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_console_answering_is_no_problem(web):
    assert kubesphere.console_problem(f"{web}/") is None


def test_console_problems_are_named(web):
    assert kubesphere.console_problem(f"{web}/starting") == "HTTP 503"
    assert "refused" in kubesphere.console_problem("http://127.0.0.1:1/", timeout=2).lower()


def _console_service(node_port):
    return {"kind": "Service", "metadata": {"name": "ks-console", "namespace": "kubesphere-system"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8000, "nodePort": node_port}]}}


@pytest.mark.parametrize("answers, problem, expected", [
    ({"192.168.0.1": _console_service(30880)}, None, {"console": "http://192.168.0.1:30880", "ready": True}),
    ({"192.168.0.1": _console_service(30880)}, "HTTP 502", {"console": "http://192.168.0.1:30880", "ready": False}),
    ({}, None, {"console": None, "ready": False}),
])
def test_status_finds_the_console_through_its_service(write_cluster, tmp_path, monkeypatch, answers, problem,
                                                      expected):
    loaded = _seed_cluster(write_cluster, tmp_path)
    asked = []

    def api_get(ip, port, context, path):
        asked.append(path)
        if ip not in answers:
            raise ValueError(f"GET {path} answered HTTP 404")
        return answers[ip]

    monkeypatch.setattr(status, "api_context", lambda c: None)
    monkeypatch.setattr(status, "api_get", api_get)
    monkeypatch.setattr(kubesphere, "console_problem", lambda url: problem)
    assert status.kubesphere(loaded) == expected
    assert asked == ["/api/v1/namespaces/kubesphere-system/services/ks-console"]
