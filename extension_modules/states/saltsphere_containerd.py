"""
Images in containerd imported from an archive on the host, with no registry, and a
gate on containerd's plugins.

.. code-block:: yaml

    containerd-health-saltsphere-containerd-plugin-loaded:
      saltsphere_containerd.plugin_loaded:
        - name: io.containerd.grpc.v1.cri

    kubernetes-images-saltsphere-containerd-image-present-pause:
      saltsphere_containerd.image_present:
        - name: k8s.gcr.io/pause:3.2
        - archive: /var/lib/saltsphere/images/pause.tar
        - timeout: 600
        - sha256: 3f1e...
"""

import os

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_containerd"


def __virtual__():
    if "saltsphere_containerd.import_image" not in __salt__:
        return False, "the saltsphere_containerd execution module is not available"
    return __virtualname__


def _predicted(ret, wanted, archive, namespace, why, old=None):
    ret.update(result=None, changes={wanted: {"old": old, "new": f"imported from {archive}"}},
               comment=f"image {wanted} would be imported from {archive} into namespace {namespace} ({why})")
    return ret


def _not_the_bundles_yet(archive, sha256):
    """Under test=True: the archive on the host is not the bundle's (the fetch before this state replaces it)."""
    return bool(sha256) and __salt__["file.get_hash"](archive, form="sha256") != str(sha256).lower()


def image_present(name, archive, namespace="k8s.io", timeout=None, sha256=None):
    """
    Ensure the image ``name`` is in containerd, imported from ``archive`` when it is not.

    ``archive`` is a path on the host (``docker save`` or ``ctr images export``
    output) that must hold ``name``; the name is compared the way containerd
    stores it (``busybox`` is ``docker.io/library/busybox:latest``).  An image
    already present with the archive's content is left alone.  ``timeout``:
    seconds the import may take before it is stopped and the state fails
    (default: the execution module's).  ``sha256``: the archive's hash in the
    bundle.

    Under ``test=True`` what earlier states of the same run would provide is
    not there yet: an archive not fetched yet (or not the bundle's yet), and a
    containerd that is not installed or running yet, are a predicted import,
    not a failure; only an archive that is the bundle's and lacks ``name``
    fails.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    wanted = __salt__["saltsphere_containerd.normalize_name"](name)
    test = __opts__["test"]
    if test and not os.path.isfile(archive):
        return _predicted(ret, wanted, archive, namespace, "the archive is fetched earlier in the run")
    try:
        try:
            images, unreadable = __salt__["saltsphere_containerd.archive_images"](archive), None
        except CommandExecutionError as exc:
            images, unreadable = [], str(exc)
        held = [image["name"] for image in images]
        if wanted not in held:
            if test and _not_the_bundles_yet(archive, sha256):
                return _predicted(ret, wanted, archive, namespace,
                                  "the archive on the host is not the bundle's yet: it is fetched earlier in the run")
            ret["result"] = False
            ret["comment"] = unreadable or (
                f"{archive} does not hold {wanted} (it holds {', '.join(held)}); "
                "point `archive` at the archive of that image or correct `name`"
            )
            return ret
        try:
            missing = __salt__["saltsphere_containerd.missing_images"](archive, namespace=namespace)
        except CommandExecutionError as exc:
            if not test:
                raise
            return _predicted(ret, wanted, archive, namespace,
                              f"containerd cannot be asked yet; the run installs and starts it first: {exc}")
        if wanted not in missing:
            ret["comment"] = f"image {wanted} is present in containerd namespace {namespace}"
            return ret
        old = __salt__["saltsphere_containerd.list_images"](namespace=namespace).get(wanted)
        if test:
            return _predicted(ret, wanted, archive, namespace, "it is missing or holds other content", old)
        limit = {"timeout": timeout} if timeout is not None else {}
        __salt__["saltsphere_containerd.import_image"](archive, namespace=namespace, **limit)
        new = __salt__["saltsphere_containerd.list_images"](namespace=namespace).get(wanted)
    except CommandExecutionError as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    ret["changes"] = {wanted: {"old": old, "new": new}}
    ret["comment"] = f"image {wanted} imported from {archive} into namespace {namespace}"
    return ret


def plugin_loaded(name):
    """
    Pass when the containerd plugin ``name`` (``TYPE.ID``) loaded; changes nothing.

    containerd starts and reports itself active even when a plugin fails, so
    a service that is running does not prove that kubelet can use it.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": f"containerd plugin {name} is loaded"}
    try:
        status = __salt__["saltsphere_containerd.plugin_status"](name)
    except CommandExecutionError as exc:
        status = {"loaded": False, "error": str(exc)}
    if status["loaded"]:
        return ret
    if __opts__["test"]:
        # A dry run starts nothing: containerd may be installed or restarted by this very run.
        ret["result"] = None
        ret["comment"] = (f"containerd plugin {name} is checked once the run has containerd running "
                          f"(now: {status['error']})")
        return ret
    ret["result"] = False
    ret["comment"] = (
        f"containerd plugin {name} is not loaded: {status['error']}. "
        "Fix the cause (`journalctl -u containerd` on this host shows it), then "
        "`systemctl restart containerd` and re-run."
    )
    return ret
