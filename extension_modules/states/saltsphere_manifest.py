"""
Kubernetes objects applied from a manifest file that is already on the host.

.. code-block:: yaml

    storage-classes-saltsphere-manifest-applied:
      saltsphere_manifest.applied:
        - name: /etc/kubernetes/saltsphere/storage.yaml
"""

import salt.utils.data
from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_manifest"


def __virtual__():
    if "saltsphere_manifest.compare" not in __salt__:
        return False, "the saltsphere_manifest execution module is not available"
    return __virtualname__


def applied(name, kubeconfig="/etc/kubernetes/admin.conf", server_side=False, contents_pillar=None):
    """
    Ensure every object of the manifest ``name`` exists in the cluster as written.

    Only the names of objects that differ are reported: a manifest may hold
    Secrets, whose content never reaches the output.  ``server_side`` applies
    it server-side, so that no annotation keeps a copy of what the objects
    hold (for manifests with credentials).  Under ``test=True`` a cluster
    that cannot take the manifest yet (not initialised here, or its namespace
    or kind is made by an earlier state of the run) is a predicted apply of
    every object.  ``contents_pillar``: the pillar key the file is written
    from; a dry run, which writes no file, compares that text instead.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    contents = None
    if __opts__["test"] and contents_pillar:
        # From the pillar itself: pillar.get would hand back the masked text Salt prints.
        contents = salt.utils.data.traverse_dict_and_list(__pillar__, contents_pillar, None, delimiter=":")
    try:
        found = __salt__["saltsphere_manifest.compare"](name, kubeconfig=kubeconfig, server_side=server_side,
                                                        contents=contents)
        if found["unserved"]:
            if not __opts__["test"]:
                ret.update(result=False, comment=f"{found['unserved']}; apply the kubernetes states on this host first")
                return ret
            ret.update(result=None, changes={"objects": f"every object of {name}"},
                       comment=f"every object of {name} would be applied; the cluster cannot take it before the "
                               f"states ahead of it ran ({found['unserved']})")
            return ret
        differing = found["differing"]
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
