"""
Kubernetes objects from a manifest file on a control-plane host, applied with kubectl.

``kubectl diff`` (or, for a manifest applied server-side, a server-side dry
run compared with the live objects) decides whether anything would change, so
applying the same manifest twice reports no change; the objects that differ
are named, never their content (a manifest may hold Secrets).
"""

import json
import subprocess

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_manifest"

KUBECTL = "/usr/local/bin/kubectl"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
TIMEOUT = 120


FIELD_MANAGER = "saltsphere"


def __virtual__():
    return __virtualname__


def _kubectl(args, kubeconfig, timeout=TIMEOUT):
    argv = [KUBECTL, f"--kubeconfig={kubeconfig}", *args]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise CommandExecutionError(f"{KUBECTL} is missing; apply the kubernetes states on this host first")
    except subprocess.TimeoutExpired:
        raise CommandExecutionError(f"kubectl {args[0]} did not finish within {timeout} s; is the API answering?")


# Server-side apply keeps no copy of the object in an annotation
# (kubectl.kubernetes.io/last-applied-configuration): what a Secret or a
# configuration with credentials holds stays in the object alone.
SERVER_SIDE = ["--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}"]


def _mode(server_side):
    return SERVER_SIDE if server_side else []


def differing(path, kubeconfig=ADMIN_CONF, server_side=False):
    """
    The objects of the manifest at ``path`` that are missing or differ in the cluster: ``["Kind/namespace/name"]``.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_manifest.differing /etc/kubernetes/saltsphere/storage.yaml
    """
    if server_side:
        return _differing_server_side(path, kubeconfig)
    proc = _kubectl(["diff", "-f", path], kubeconfig)
    if proc.returncode == 0:
        return []
    if proc.returncode != 1:
        raise CommandExecutionError(f"kubectl diff -f {path} failed: {proc.stderr.strip()[-1500:]}")
    names = []
    for line in proc.stdout.splitlines():
        # Each differing object starts with "diff -u -N <tmp>/LIVE-<n>/<group>.<version>.<Kind>.<ns>.<name> ..."
        if line.startswith("diff "):
            parts = line.split()
            names.append(parts[-1].rsplit("/", 1)[-1])
    return names or ["(objects)"]


# What a server-side dry run changes on an object even when nothing would:
# kubectl 1.20's diff shows these (the apply's timestamp), so objects are
# compared here with them left out.
_VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation")


def _items(text, what):
    try:
        data = json.loads(text or "{}")
    except ValueError:
        raise CommandExecutionError(f"kubectl {what} printed no JSON") from None
    items = data.get("items", [data]) if data.get("kind") == "List" or "items" in data else [data]
    found = {}
    for item in items:
        if not item:
            continue
        meta = item.get("metadata", {})
        key = f"{item.get('kind')}/{meta.get('namespace', '')}/{meta.get('name')}".replace("//", "/")
        found[key] = item
    return found


def _normalized(item):
    item = json.loads(json.dumps(item))
    meta = item.get("metadata", {})
    for key in _VOLATILE_METADATA:
        meta.pop(key, None)
    return item


def _differing_server_side(path, kubeconfig):
    """Objects whose server-side dry-run apply differs from what the cluster holds (content never returned)."""
    dry = _kubectl(["apply", *SERVER_SIDE, "--dry-run=server", "-o", "json", "-f", path], kubeconfig)
    if dry.returncode != 0:
        raise CommandExecutionError(f"kubectl apply --dry-run=server -f {path} failed: {dry.stderr.strip()[-1500:]}")
    live = _kubectl(["get", "--ignore-not-found", "-o", "json", "-f", path], kubeconfig)
    if live.returncode != 0:
        raise CommandExecutionError(f"kubectl get -f {path} failed: {live.stderr.strip()[-1500:]}")
    wanted, present = _items(dry.stdout, "apply --dry-run"), _items(live.stdout, "get")
    return sorted(key for key, item in wanted.items()
                  if key not in present or _normalized(item) != _normalized(present[key]))


def apply(path, kubeconfig=ADMIN_CONF, server_side=False):
    """
    ``kubectl apply -f path``; returns kubectl's summary lines (one per object).

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_manifest.apply /etc/kubernetes/saltsphere/storage.yaml
    """
    proc = _kubectl(["apply", *_mode(server_side), "-f", path], kubeconfig)
    if proc.returncode != 0:
        raise CommandExecutionError(f"kubectl apply -f {path} failed: {proc.stderr.strip()[-1500:]}")
    return proc.stdout.strip().splitlines()
