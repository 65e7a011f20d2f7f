"""
Snapshots of the cluster's etcd, taken onto the taskbox.

The runner behind ``saltsphere etcd backup`` and the ``kubesphere.etcd_backup``
orchestration (:mod:`saltsphere.etcdbackup`): a healthy member's snapshot,
checked, kept private in ``.saltsphere/backups/`` with its sha256, and only the
newest ``etcd_backup_keep`` kept.

.. code-block:: bash

    salt-run saltsphere_etcd.backup
"""

import io

import salt.roster

try:
    from saltsphere import cluster, etcdbackup, sshcall
    from saltsphere.errors import ActionableError

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

__virtualname__ = "saltsphere_etcd"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    return __virtualname__


def backup(ignore_host_keys=None):
    """
    A snapshot of etcd into ``.saltsphere/backups/``: ``{"result", "comment", "snapshot"}`` (never its bytes).

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere_etcd.backup
    """
    loaded = cluster.load_cached(salt.roster.get_roster_file(__opts__), __opts__.get("saltsphere_vars"))

    def call(host, kwarg):
        return sshcall.call(__opts__, loaded, etcdbackup.HOST_FUNCTION, kwarg=kwarg, targets=[host],
                            ignore_host_keys=ignore_host_keys)[host]

    out = io.StringIO()
    try:
        path = etcdbackup.backup(loaded, call=call, out=out)
    except ActionableError as exc:
        __context__["retcode"] = 1
        return {"result": False, "comment": str(exc)}
    return {"result": True, "snapshot": str(path), "comment": out.getvalue().strip()}
