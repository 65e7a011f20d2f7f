"""
Packages installed from the taskbox's signed apt repository, or from the host's mirrors.

.. code-block:: yaml

    os-packages-saltsphere-packages-installed:
      saltsphere_packages.installed:
        - pkgs: [conntrack, socat]
        - source:
            url: http://172.29.0.1:8089/<token>/debs/debian-12
            keyring: mDMEZ...
        - install_recommends: False

A host with every package installed costs one ``dpkg-query`` and no apt call.
With a ``source``, apt reads that repository alone through a private
configuration that is removed afterwards (see the ``saltsphere_packages``
execution module): nothing under ``/etc/apt`` is written and the repository,
whose URL carries a token of the run, is not left configured on the host.
Without one the host's own mirrors are used, through Salt's ``pkg.installed``.
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_packages"

PREPARE = "`salt-run saltsphere.prepare`"


def __virtual__():
    if "saltsphere_packages.install" not in __salt__:
        return False, "the saltsphere_packages execution module is not available"
    return __virtualname__


def installed(name, pkgs, source=None, install_recommends=True):
    """
    Ensure every one of ``pkgs`` is installed.

    ``source``: ``{"url": <the repository's directory>, "keyring": <base64 of the
    binary public key its InRelease is signed with>}``, or None for the host's
    mirrors.  Packages already installed are left alone (not upgraded).
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    pkgs = list(pkgs)
    try:
        missing = __salt__["saltsphere_packages.missing"](pkgs)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if not missing:
        ret["comment"] = f"all {len(pkgs)} packages are installed"
        return ret

    if source is not None and not source.get("keyring"):
        ret.update(result=False, comment="the bundle's apt repository is not signed for this cluster yet: run "
                                         f"{PREPARE} on the taskbox and run again")
        return ret
    where = "the bundle's apt repository" if source is not None else "the host's package sources"
    if __opts__["test"]:
        ret.update(result=None, changes={"installed": missing},
                   comment=f"{', '.join(missing)} would be installed from {where}")
        return ret

    try:
        if source is None:
            delegated = __states__["pkg.installed"](name=name, pkgs=missing, install_recommends=install_recommends)
            if delegated["result"] is not True:
                return dict(delegated, changes={})
            versions = __salt__["saltsphere_packages.versions"](missing)
        else:
            versions = __salt__["saltsphere_packages.install"](missing, source["url"], source["keyring"],
                                                               install_recommends=install_recommends)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes={"installed": versions}, comment=f"installed {', '.join(missing)} from {where}")
    return ret
