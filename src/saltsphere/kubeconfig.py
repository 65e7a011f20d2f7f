"""The administrator's kubeconfig on the taskbox, ``.saltsphere/admin.conf`` (0600)."""

import base64
from pathlib import Path

import yaml

from saltsphere import pki

FILE_NAME = "admin.conf"


def path(cluster_directory) -> Path:
    return Path(cluster_directory) / ".saltsphere" / FILE_NAME


def render(cluster_directory, server: str) -> bytes:
    """kubectl's configuration as the cluster's administrator (the operators' client pair), talking to ``server``."""
    client = pki.admin_kubernetes_client(cluster_directory)

    def b64(file):
        return base64.b64encode(Path(file).read_bytes()).decode()

    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": server, "certificate-authority-data": b64(client["ca"])}}],
        "users": [{"name": "kubernetes-admin", "user": {"client-certificate-data": b64(client["cert"]),
                                                          "client-key-data": b64(client["key"])}}],
        "contexts": [{"name": "kubernetes-admin@kubernetes",
                      "context": {"cluster": "kubernetes", "user": "kubernetes-admin"}}],
        "current-context": "kubernetes-admin@kubernetes",
        "preferences": {},
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


def is_current(cluster_directory, server: str) -> bool:
    """Whether ``admin.conf`` already holds what :func:`write` would write; reads only."""
    target = path(cluster_directory)
    return target.is_file() and target.read_bytes() == render(cluster_directory, server)


def write(cluster_directory, server: str) -> bool:
    """Write the kubeconfig when its content differs; True when it was written."""
    target = path(cluster_directory)
    text = render(cluster_directory, server)
    if target.is_file() and target.read_bytes() == text:
        return False
    pki.write_private(target, text, 0o600)
    return True
