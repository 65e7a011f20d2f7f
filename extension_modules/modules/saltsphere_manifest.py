"""
Kubernetes objects from a manifest file on a control-plane host, applied with kubectl.

``kubectl diff`` (or, for a manifest applied server-side, a server-side dry
run compared with the live objects) decides whether anything would change, so
applying the same manifest twice reports no change; the objects that differ
are named, never their content (a manifest may hold Secrets).
"""

import json
import os
import re
import subprocess

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_manifest"

KUBECTL = "/usr/local/bin/kubectl"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
TIMEOUT = 120


FIELD_MANAGER = "saltsphere"
# kubectl's words for objects whose namespace or kind (a CRD) does not exist yet.
_NOT_SERVED_YET = re.compile(r'namespaces "[^"]+" not found|no matches for kind|ensure CRDs are installed first')


def __virtual__():
    return __virtualname__


def _kubectl(args, kubeconfig, timeout=TIMEOUT, input_text=None):
    argv = [KUBECTL, f"--kubeconfig={kubeconfig}", *args]
    try:
        return subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout, check=False)
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


def compare(path, kubeconfig=ADMIN_CONF, server_side=False, contents=None):
    """
    What applying the manifest at ``path`` would change: ``{"differing": [...], "unserved": None or why}``.

    With ``contents`` (the manifest's text, given on stdin: never on a command
    line) that text is compared instead of the file's, for a dry run in which
    the file is not written yet.

    ``differing`` names the objects that are missing or differ in the cluster
    (``Kind/namespace/name``).  ``unserved`` says why the cluster cannot take
    the manifest yet, when that is so: kubectl or the kubeconfig is not on
    this host, or the manifest's namespace or kind does not exist (the states
    before it make them); ``differing`` is then None.  Any other failure of
    ``kubectl diff`` raises.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_manifest.compare /etc/kubernetes/saltsphere/storage.yaml
    """
    if not os.path.isfile(kubeconfig):
        return {"differing": None, "unserved": f"{kubeconfig} is not on this host yet"}
    if not os.path.isfile(KUBECTL):
        return {"differing": None, "unserved": f"{KUBECTL} is not on this host yet"}
    source = "-" if contents is not None else path
    if server_side:
        return _compare_server_side(path, source, kubeconfig, contents)
    proc = _kubectl(["diff", "-f", source], kubeconfig, input_text=contents)
    if proc.returncode == 0:
        return {"differing": [], "unserved": None}
    # Each differing object starts with "diff -u -N <tmp>/LIVE-<n>/<group>.<version>.<Kind>.<ns>.<name> ...".
    names = [line.split()[-1].rsplit("/", 1)[-1] for line in proc.stdout.splitlines() if line.startswith("diff ")]
    problem = f"kubectl diff -f {path} failed: {proc.stderr.strip()[-1500:]}"
    if not names and _NOT_SERVED_YET.search(proc.stderr):
        return {"differing": None, "unserved": problem}
    if proc.returncode != 1:
        raise CommandExecutionError(problem)
    return {"differing": names or ["(objects)"], "unserved": None}


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


def _compare_server_side(path, source, kubeconfig, contents):
    """:func:`compare` for a manifest applied server-side: its dry run against the live objects."""
    answers = []
    for what, args in (("apply --dry-run=server", ["apply", *SERVER_SIDE, "--dry-run=server", "-o", "json"]),
                       ("get", ["get", "--ignore-not-found", "-o", "json"])):
        proc = _kubectl([*args, "-f", source], kubeconfig, input_text=contents)
        if proc.returncode != 0:
            problem = f"kubectl {what} -f {path} failed: {proc.stderr.strip()[-1500:]}"
            if _NOT_SERVED_YET.search(proc.stderr):
                return {"differing": None, "unserved": problem}
            raise CommandExecutionError(problem)
        answers.append(_items(proc.stdout, what))
    wanted, present = answers
    differing_ = sorted(key for key, item in wanted.items()
                        if key not in present or _normalized(item) != _normalized(present[key]))
    return {"differing": differing_, "unserved": None}


def differing(path, kubeconfig=ADMIN_CONF, server_side=False):
    """
    The objects of the manifest at ``path`` that are missing or differ in the cluster: ``["Kind/namespace/name"]``.

    Raises when the cluster cannot take the manifest (see :func:`compare`).

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_manifest.differing /etc/kubernetes/saltsphere/storage.yaml
    """
    found = compare(path, kubeconfig=kubeconfig, server_side=server_side)
    if found["unserved"]:
        raise CommandExecutionError(f"{found['unserved']}; apply the kubernetes states on this host first")
    return found["differing"]


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
