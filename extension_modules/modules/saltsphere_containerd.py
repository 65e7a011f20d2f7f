"""
containerd on a host: whether its plugins loaded, and images imported from archives (no registry).

Runs on cluster hosts with the standard library only and drives containerd
through ``ctr``.  Archives are what ``docker save`` writes (``manifest.json``)
or OCI image layouts whose index names each image with the
``io.containerd.image.name`` annotation (what ``ctr images export`` writes);
plain or compressed.

An image counts as present when its name exists in the namespace and points at
the same content as the archive: the same manifest for OCI archives, the same
image configuration for docker archives (containerd writes the manifest of a
docker archive itself, so only the configuration can be compared).
"""

import hashlib
import json
import os
import shutil
import tarfile
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_containerd"

DEFAULT_NAMESPACE = "k8s.io"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"
# Seconds one `ctr images import` may take: a large image on a slow disk takes
# minutes, a containerd that stopped answering would take forever.
DEFAULT_IMPORT_TIMEOUT = 600


class CtrTimeout(CommandExecutionError):
    """ctr was stopped because it ran longer than it was given."""


def __virtual__():
    # Loads without ctr: the containerd formula installs it in the same run
    # that imports images; every function says so when it is still missing.
    return __virtualname__


def normalize_name(name):
    """
    The full reference containerd stores for an image name written the docker way.

    ``busybox`` becomes ``docker.io/library/busybox:latest``; a name with a
    registry host, a tag or a digest keeps them.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_containerd.normalize_name busybox
    """
    remainder, at, digest = name.partition("@")
    repository, tag = remainder, ""
    if remainder.rfind(":") > remainder.rfind("/"):
        repository, _, tag = remainder.rpartition(":")
    first, slash, _ = repository.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        if not slash:
            repository = "library/" + repository
        repository = "docker.io/" + repository
    if not tag and not at:
        tag = "latest"
    return repository + (":" + tag if tag else "") + (at + digest if at else "")


def archive_images(path):
    """
    The images an archive holds: ``[{"name", "target", "config"}]``.

    ``target`` is the manifest digest containerd will point the name at, known
    for OCI archives only; ``config`` is the image configuration's digest,
    known for docker archives only.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_containerd.archive_images /var/lib/saltsphere/images/pause.tar
    """
    if not os.path.isfile(path):
        raise CommandExecutionError(f"image archive {path} does not exist on this host; copy it there first")
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {m.name[2:] if m.name.startswith("./") else m.name: m for m in tar.getmembers()}
            # `ctr images export` writes both files; ctr reads the index first.
            images = _oci_images(tar, members) if "index.json" in members else []
            if not images and "manifest.json" in members:
                images = _docker_images(tar, members)
    except (tarfile.TarError, OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandExecutionError(f"image archive {path} cannot be read: {exc}") from exc
    if images:
        return images
    raise CommandExecutionError(
        f"{path} names no image: it needs a docker manifest.json with RepoTags or an OCI index.json whose "
        f"entries carry the {CONTAINERD_NAME_ANNOTATION} annotation; write it with `docker save NAME` "
        "or `ctr images export FILE NAME`"
    )


def _read_json(tar, members, name):
    return json.loads(tar.extractfile(members[name]).read())


def _docker_images(tar, members):
    images = []
    for entry in _read_json(tar, members, "manifest.json"):
        config = "sha256:" + hashlib.sha256(tar.extractfile(members[entry["Config"]]).read()).hexdigest()
        tags = entry.get("RepoTags") or []
        images += [{"name": normalize_name(tag), "target": None, "config": config} for tag in tags]
    return images


def _oci_images(tar, members):
    return [
        {"name": entry["annotations"][CONTAINERD_NAME_ANNOTATION], "target": entry["digest"], "config": None}
        for entry in _read_json(tar, members, "index.json").get("manifests", [])
        if CONTAINERD_NAME_ANNOTATION in (entry.get("annotations") or {})
    ]


def _ctr(namespace, *args, timeout=None):
    ctr = shutil.which("ctr")
    if ctr is None:
        raise CommandExecutionError("ctr is not installed on this host; apply the containerd state first")
    extra = {"timeout": timeout} if timeout else {}
    started = time.monotonic()
    result = __salt__["cmd.run_all"]([ctr, "--namespace", namespace, *args], python_shell=False, ignore_retcode=True,
                                     **extra)
    # cmd.run_all stops a command at its timeout and returns a failure like any
    # other: the clock tells the two apart.
    if result["retcode"] != 0 and timeout and time.monotonic() - started >= timeout:
        raise CtrTimeout(f"`ctr --namespace {namespace} {' '.join(args)}` did not finish within {timeout} s")
    if result["retcode"] != 0:
        raise CommandExecutionError(
            f"`ctr --namespace {namespace} {' '.join(args)}` failed: {(result['stderr'] or result['stdout']).strip()}"
            " (is containerd running? `systemctl status containerd`)"
        )
    return result["stdout"]


def plugin_status(name="io.containerd.grpc.v1.cri"):
    """
    Whether a containerd plugin (``TYPE.ID``) loaded: ``{"loaded": bool, "error": str or None}``.

    containerd keeps running when a plugin fails to load; kubelet then finds no
    CRI service.  The error is the one containerd recorded for the plugin.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' saltsphere_containerd.plugin_status
        salt-ssh '*' saltsphere_containerd.plugin_status io.containerd.snapshotter.v1.overlayfs
    """
    plugin_type, _, plugin_id = name.rpartition(".")
    # Plugins belong to no namespace; _ctr names one because images do.
    blocks, current, in_error = [], None, False
    for line in _ctr(DEFAULT_NAMESPACE, "plugins", "list", "--detailed", f"id=={plugin_id}").splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Type" and not line[:1].isspace():
            current = {"type": value.strip(), "error": None}
            blocks.append(current)
            in_error = False
        elif current is not None and key == "Error":
            in_error = True
        elif current is not None and in_error and key == "Message":
            current["error"] = value.strip()
    for block in blocks:
        if block["type"] == plugin_type:
            return {"loaded": block["error"] is None, "error": block["error"]}
    return {"loaded": False, "error": f"containerd has no plugin {name} (is it in disabled_plugins of config.toml?)"}


def list_images(namespace=DEFAULT_NAMESPACE):
    """
    Every image name in a containerd namespace, with the digest it points at.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' saltsphere_containerd.list_images
        salt-ssh '*' saltsphere_containerd.list_images namespace=default
    """
    images = {}
    for line in _ctr(namespace, "images", "list").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3:
            images[fields[0]] = fields[2]
    return images


def _config_digest(target, namespace):
    manifest = json.loads(_ctr(namespace, "content", "get", target))
    return (manifest.get("config") or {}).get("digest")


def _matches(image, target, namespace):
    if target is None:
        return False
    if image["target"] is not None:
        return target == image["target"]
    return _config_digest(target, namespace) == image["config"]


def missing_images(path, namespace=DEFAULT_NAMESPACE):
    """
    Names from an archive that are absent from the namespace or point at other content.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' saltsphere_containerd.missing_images /var/lib/saltsphere/images/pause.tar
    """
    present = list_images(namespace)
    return [
        image["name"] for image in archive_images(path) if not _matches(image, present.get(image["name"]), namespace)
    ]


def import_image(path, namespace=DEFAULT_NAMESPACE, timeout=DEFAULT_IMPORT_TIMEOUT):
    """
    Import every image of an archive into containerd, unless all are present already.

    Returns ``{"imported": [names], "present": [names]}``; nothing is imported
    when every name already points at the archive's content.  ``ctr`` is
    stopped after ``timeout`` seconds and the call fails; a later call imports
    whatever is still missing.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' saltsphere_containerd.import_image /var/lib/saltsphere/images/pause.tar
        salt-ssh '*' saltsphere_containerd.import_image /var/lib/saltsphere/images/ks-installer.tar timeout=1800
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise CommandExecutionError(f"timeout {timeout!r} is not a number of seconds above 0; give e.g. timeout=600")
    names = [image["name"] for image in archive_images(path)]
    missing = missing_images(path, namespace)
    if missing:
        try:
            _ctr(namespace, "images", "import", path, timeout=timeout)
        except CtrTimeout:
            raise CommandExecutionError(
                f"ctr import of {path} did not finish within {timeout} s; check that containerd answers "
                "(`ctr version`, `journalctl -u containerd`) and that the disk under /var/lib/containerd is not "
                "full or stalled, or give the import longer (image_import_timeout of the kubernetes role: "
                "pillar saltsphere:lookup:kubernetes:image_import_timeout)"
            ) from None
        still = missing_images(path, namespace)
        if still:
            raise CommandExecutionError(
                f"ctr imported {path} but {', '.join(still)} is still not in namespace {namespace}; "
                f"check the archive with `tar tvf {path}`"
            )
    return {"imported": missing, "present": [n for n in names if n not in missing]}
