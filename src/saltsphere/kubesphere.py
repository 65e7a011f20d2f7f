"""KubeSphere on the cluster, decided on the taskbox.

KubeSphere 3.x installs itself: its installer (a Deployment running
``kubesphere/ks-installer``) reads one ``ClusterConfiguration`` object and
deploys everything that object enables.  The first master therefore receives
the installer, its RBAC and that object, preceded by what they live in (the
namespace and the object's CRD).

The administrator's password and the console's JWT secret are made once by
the prepare step and kept in the cluster's private state directory; the
cluster receives the password only as a bcrypt hash, and the installer never
its default password.
"""

import dataclasses
import os
import secrets
import string
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from saltsphere import pki, storage
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER

NAMESPACE = "kubesphere-system"
INSTALLER = "ks-installer"
ADMIN = "admin"
ADMIN_PASSWORD_FILE = "ks-admin-password"
# What the cluster receives instead of the password.
ADMIN_PASSWORD_HASH_FILE = "ks-admin-password.bcrypt"
JWT_SECRET_FILE = "ks-jwt-secret"
BCRYPT_ROUNDS = 10
ETCD_CLIENT_PORT = 2379

_ALPHABET = string.ascii_letters + string.digits
# KubeSphere refuses an administrator password without a lowercase letter, an
# uppercase letter and a digit; letters and digits only keep it safe in YAML,
# in a shell and in the banner.
_PASSWORD_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
PASSWORD_LENGTH = 20
JWT_SECRET_LENGTH = 32

# API groups the installer manages (its own ClusterRole in the release's
# kubesphere-installer.yaml grants every verb on every resource of these).
_INSTALLER_API_GROUPS = (
    "", "apps", "extensions", "batch", "rbac.authorization.k8s.io", "apiregistration.k8s.io",
    "apiextensions.k8s.io", "tenant.kubesphere.io", "certificates.k8s.io", "devops.kubesphere.io",
    "monitoring.coreos.com", "logging.kubesphere.io", "jaegertracing.io", "storage.k8s.io",
    "admissionregistration.k8s.io", "policy", "autoscaling", "networking.istio.io", "config.istio.io",
    "iam.kubesphere.io", "notification.kubesphere.io", "auditing.kubesphere.io", "events.kubesphere.io",
    "core.kubefed.io", "installer.kubesphere.io", "storage.kubesphere.io", "security.istio.io",
    "monitoring.kiali.io", "kiali.io", "networking.k8s.io", "edgeruntime.kubesphere.io", "types.kubefed.io",
    "monitoring.kubesphere.io", "application.kubesphere.io", "policy.kubeedge.io", "cluster.kubesphere.io",
)

# Pluggable components, all off: the cluster gets KubeSphere's core, and an
# operator turns components on later by editing the ClusterConfiguration.
_COMPONENTS_OFF = ("alerting", "auditing", "devops", "events", "logging", "metrics_server", "servicemesh",
                   "edgeruntime", "gatekeeper")


@dataclasses.dataclass(frozen=True)
class Release:
    """What one KubeSphere release installs when every pluggable component is off."""

    version: str
    # Without these the console never answers.
    console: tuple
    # Deployed by the core as well, but the console answers without them: the
    # web kubectl of each user (the release lists one image per range of
    # Kubernetes versions) and the monitoring stack the installer always
    # deploys in 3.x.
    core: tuple
    # Only with several masters (see ``redis_enabled``).
    redis: tuple


# From the release's images-list.txt (kubesphere-images and
# kubesphere-monitoring-images) for v3.4.1.
RELEASES = {
    "v3.4.1": Release(
        version="v3.4.1",
        console=(
            "kubesphere/ks-installer:v3.4.1",
            "kubesphere/ks-apiserver:v3.4.1",
            "kubesphere/ks-console:v3.4.1",
            "kubesphere/ks-controller-manager:v3.4.1",
        ),
        core=(
            "kubesphere/kubectl:v1.20.0",
            "kubesphere/kubectl:v1.22.0",
            "prom/prometheus:v2.39.1",
            "kubesphere/prometheus-config-reloader:v0.55.1",
            "kubesphere/prometheus-operator:v0.55.1",
            "kubesphere/kube-rbac-proxy:v0.11.0",
            "kubesphere/kube-state-metrics:v2.6.0",
            "prom/node-exporter:v1.3.1",
            "prom/alertmanager:v0.23.0",
            "kubesphere/notification-manager-operator:v2.3.0",
            "kubesphere/notification-manager:v2.3.0",
            "kubesphere/notification-tenant-sidecar:v3.2.0",
        ),
        redis=("redis:5.0.14-alpine",),
    ),
}


def release(config) -> Release:
    version = config["ks_version"]
    try:
        return RELEASES[version]
    except KeyError:
        raise ActionableError(
            f"ks_version {version} is not a KubeSphere release this saltsphere installs; set ks_version in "
            f"vars.yml to one of: {', '.join(sorted(RELEASES))}"
        ) from None


def redis_enabled(masters: int) -> bool:
    """ks-apiserver runs one replica per master; with several, their sessions must live in redis."""
    return masters > 1


def images(config, masters=1) -> list:
    """Every image the chosen release deploys with its pluggable components off."""
    rel = release(config)
    found = [*rel.console, *rel.core]
    if redis_enabled(masters):
        found += rel.redis
    return found


def _create_once(path: Path, make) -> str:
    """The value kept in ``path``, or ``make()`` kept there (0600) first.

    salt-ssh compiles many hosts' pillars in parallel processes: they take
    turns, so that every one of them ends up with the same value.
    """
    with pki.locked(path.parent):
        if path.is_file():
            value = path.read_text(encoding="utf-8").strip()
            if value:
                return value
        value = make()
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return value


def new_password() -> str:
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))
        if all(any(c in chars for c in candidate) for chars in _PASSWORD_CLASSES):
            return candidate


def ensure_admin_password(cluster_directory, configured) -> str:
    """The console administrator's password: ``ks_admin_password`` when set, else one made once and kept."""
    if configured and str(configured).strip():
        return str(configured).strip()
    return _create_once(pki.state_dir(cluster_directory) / ADMIN_PASSWORD_FILE, new_password)


def ensure_jwt_secret(cluster_directory) -> str:
    """The secret ks-apiserver signs its tokens with, made once and kept."""
    return _create_once(pki.state_dir(cluster_directory) / JWT_SECRET_FILE,
                        lambda: "".join(secrets.choice(_ALPHABET) for _ in range(JWT_SECRET_LENGTH)))


def _kept_hash(path: Path, password) -> str | None:
    """The bcrypt hash kept in ``path`` when it is one of ``password``, else None."""
    import bcrypt

    if not path.is_file():
        return None
    kept = path.read_text(encoding="utf-8").strip().encode()
    try:
        return kept.decode() if bcrypt.checkpw(password.encode(), kept) else None
    except ValueError:  # not a bcrypt hash: make it again
        return None


def ensure_admin_password_hash(cluster_directory, password) -> str:
    """The bcrypt hash of ``password`` the cluster gets, kept until the password changes (a hash is salted)."""
    import bcrypt

    path = pki.state_dir(cluster_directory) / ADMIN_PASSWORD_HASH_FILE
    with pki.locked(path.parent):
        kept = _kept_hash(path, password)
        if kept:
            return kept
        # "2a": the prefix KubeSphere's Go bcrypt has always read.
        made = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS, prefix=b"2a")).decode()
        pki.write_private(path, made.encode() + b"\n", 0o600)
        return made


def pending_secrets(cluster_directory, configured) -> list:
    """The files of the KubeSphere secrets the prepare step would write (paths), writing nothing."""
    state = pki.pki_dir_of(cluster_directory).parent

    def unset(name):
        path = state / name
        return not path.is_file() or not path.read_text(encoding="utf-8").strip()

    made = [state / JWT_SECRET_FILE] if unset(JWT_SECRET_FILE) else []
    password = str(configured).strip() if configured and str(configured).strip() else None
    if password is None:
        if unset(ADMIN_PASSWORD_FILE):
            return [*made, state / ADMIN_PASSWORD_FILE, state / ADMIN_PASSWORD_HASH_FILE]
        password = (state / ADMIN_PASSWORD_FILE).read_text(encoding="utf-8").strip()
    if _kept_hash(state / ADMIN_PASSWORD_HASH_FILE, password) is None:
        made.append(state / ADMIN_PASSWORD_HASH_FILE)
    return made


def _kept(cluster_directory, name) -> str:
    path = pki.pki_dir_of(cluster_directory).parent / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    if not value:
        raise ActionableError(f"the taskbox has no {path}; {pki.PREPARE_HINT}")
    return value


def admin_password(cluster_directory, configured) -> str:
    """The administrator's password for the banner: ``ks_admin_password``, or the one prepare made (read only)."""
    if configured and str(configured).strip():
        return str(configured).strip()
    return _kept(cluster_directory, ADMIN_PASSWORD_FILE)


def _crd() -> dict:
    preserve = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusterconfigurations.installer.kubesphere.io"},
        "spec": {
            "group": "installer.kubesphere.io",
            "versions": [{
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": preserve,
                                                                                 "status": preserve}}},
                "subresources": {"status": {}},
            }],
            "scope": "Namespaced",
            "names": {"plural": "clusterconfigurations", "singular": "clusterconfiguration",
                      "kind": "ClusterConfiguration", "shortNames": ["cc"]},
        },
    }


def _installer_deployment(rel: Release) -> dict:
    labels = {"app": INSTALLER}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": INSTALLER, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": INSTALLER,
                    "containers": [{
                        "name": "installer",
                        "image": f"kubesphere/ks-installer:{rel.version}",
                        # Images come from the bundle, imported into containerd;
                        # there is no registry to pull from.
                        "imagePullPolicy": "IfNotPresent",
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                                      "requests": {"cpu": "20m", "memory": "100Mi"}},
                        "volumeMounts": [{"mountPath": "/etc/localtime", "name": "host-time", "readOnly": True}],
                    }],
                    "volumes": [{"name": "host-time", "hostPath": {"path": "/etc/localtime", "type": ""}}],
                },
            },
        },
    }


def _cluster_configuration(config, rel, default_class, jwt_secret, admin_password, etcd_ips, masters) -> dict:
    spec = {
        "persistence": {"storageClass": default_class},
        "authentication": {"jwtSecret": jwt_secret, "adminPassword": admin_password},
        "local_registry": "",
        # The installer passes spec keys to its playbooks: its components
        # use the images imported from the bundle too.
        "ks_image_pull_policy": "IfNotPresent",
        "etcd": {"monitoring": False, "endpointIps": ",".join(etcd_ips), "port": ETCD_CLIENT_PORT,
                 "tlsEnable": True},
        "common": {
            "core": {"console": {"enableMultiLogin": True, "port": config["ks_console_nodeport"],
                                 "type": "NodePort"}},
            "redis": {"enabled": redis_enabled(masters)},
            "openldap": {"enabled": False},
        },
        **{name: {"enabled": False} for name in _COMPONENTS_OFF},
        "multicluster": {"clusterRole": "none"},
        "network": {"networkpolicy": {"enabled": False}, "ippool": {"type": "none"}, "topology": {"type": "none"}},
        "openpitrix": {"store": {"enabled": False}},
    }
    return {
        "apiVersion": "installer.kubesphere.io/v1alpha1",
        "kind": "ClusterConfiguration",
        "metadata": {"name": INSTALLER, "namespace": NAMESPACE, "labels": {"version": rel.version}},
        "spec": spec,
    }


def objects(config, default_class, jwt_secret, admin_password, *, etcd_ips=(), masters=1) -> list:
    """The Kubernetes objects that install the chosen KubeSphere release, the CRD before its resource.

    ``admin_password`` may be plain or a bcrypt hash: KubeSphere hashes a
    plain one when it creates the administrator, and keeps an existing
    administrator's password.
    """
    rel = release(config)
    role_rules = [{"apiGroups": [group], "resources": ["*"], "verbs": ["*"]} for group in _INSTALLER_API_GROUPS]
    installer_ref = {"kind": "ServiceAccount", "name": INSTALLER, "namespace": NAMESPACE}
    return [
        _crd(),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": INSTALLER, "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": INSTALLER},
         "rules": role_rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": INSTALLER},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": INSTALLER},
         "subjects": [installer_ref]},
        _installer_deployment(rel),
        _cluster_configuration(config, rel, default_class, jwt_secret, admin_password, list(etcd_ips), masters),
    ]


def split_definitions(items) -> tuple:
    """``(namespaces and definitions, everything else)``, to be applied in that order.

    ``kubectl diff`` asks the API server for a dry run of every object of a
    file: an object in a namespace, or of a kind, that the same file creates
    is refused until that namespace or definition exists.
    """
    first = [item for item in items if item["kind"] in ("Namespace", "CustomResourceDefinition")]
    return first, [item for item in items if item not in first]


def dump(items) -> str:
    return yaml.safe_dump_all(items, explicit_start=True, sort_keys=False, default_flow_style=False)


def host_pillar(cluster, spec) -> dict:
    """``saltsphere:ks`` of the first master (its two manifests); nothing for any other host."""
    masters = cluster.role_members(MASTER)
    if not masters or spec.name != masters[0].name:
        return {}
    config = cluster.config.values
    try:
        items = objects(
            config,
            storage.default_class(config) or "",
            _kept(cluster.directory, JWT_SECRET_FILE),
            _kept(cluster.directory, ADMIN_PASSWORD_HASH_FILE),
            etcd_ips=[member.ip for member in cluster.role_members(ETCD)],
            masters=len(masters),
        )
    except ActionableError as exc:
        return {"ks": {"error": str(exc)}}
    definitions, rest = split_definitions(items)
    return {"ks": {"definitions": dump(definitions), "manifest": dump(rest)}}


def console_url(cluster, node_port=None) -> str:
    """The console on the first master: ``ks_console_nodeport``, or the NodePort the Service has."""
    master = cluster.role_members(MASTER)[0]
    host = f"[{master.ip}]" if ":" in master.ip else master.ip
    return f"http://{host}:{node_port or cluster.config['ks_console_nodeport']}"


def console_problem(url, timeout=5):
    """None when ``url`` answers 200 (redirects followed, as a browser would), else what it answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError) as exc:
        return str(exc)


BANNER = """\
successsful!
#####################################################
###              Welcome to KubeSphere!           ###
#####################################################

Console: {console}
Account: {account}
Password: {password}

NOTE：Please modify the default password after login.
#####################################################
"""


def banner(console_url, password) -> str:
    """The seed installer's closing banner, with this cluster's console and password."""
    return BANNER.format(console=console_url, account=ADMIN, password=password)
