"""
Kubernetes objects applied from a manifest file that is already on the host.

.. code-block:: yaml

    storage-classes-saltsphere-manifest-applied:
      saltsphere_manifest.applied:
        - name: /etc/kubernetes/saltsphere/storage.yaml
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_manifest"


def __virtual__():
    if "saltsphere_manifest.differing" not in __salt__:
        return False, "the saltsphere_manifest execution module is not available"
    return __virtualname__


def applied(name, kubeconfig="/etc/kubernetes/admin.conf", server_side=False):
    """
    Ensure every object of the manifest ``name`` exists in the cluster as written.

    Only the names of objects that differ are reported: a manifest may hold
    Secrets, whose content never reaches the output.  ``server_side`` applies
    it server-side, so that no annotation keeps a copy of what the objects
    hold (for manifests with credentials).
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        differing = __salt__["saltsphere_manifest.differing"](name, kubeconfig=kubeconfig, server_side=server_side)
        if not differing:
            ret["comment"] = f"every object of {name} is in the cluster as written"
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes={"objects": differing},
                       comment=f"{len(differing)} object(s) of {name} would be applied")
            return ret
        summary = __salt__["saltsphere_manifest.apply"](name, kubeconfig=kubeconfig, server_side=server_side)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = {"objects": differing}
    ret["comment"] = "\n".join(summary)
    return ret
