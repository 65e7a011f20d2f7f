"""
The cluster's taskbox side: the one step that prepares a run, and its end.

``prepare`` makes everything a run needs on the taskbox (certificates, secrets,
the signed package index, the administrator's kubeconfig) and starts the
bundle server; pillar only reads what it made.  The orchestration runs it
first (``kubesphere.prepare``); run it yourself before ``salt-ssh '*'
state.apply``.  ``finish`` stops the bundle server (it also stops by itself
after a while without requests).

.. code-block:: bash

    salt-run saltsphere.prepare
    salt-ssh '*' state.apply
    salt-run saltsphere.finish

``node_add_plan`` and ``node_remove_plan`` say which hosts
``kubesphere.node_add`` adds and ``kubesphere.node_remove`` removes (they
only ask the cluster).
"""

import salt.roster

try:
    from saltsphere import cluster, noderemove, nodes, prepare as prep, saltexit, sshcall
    from saltsphere.artifacts import serve
    from saltsphere.errors import ActionableError
    from saltsphere.problems import InvalidInput

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

__virtualname__ = "saltsphere"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    saltexit.register()
    return __virtualname__


def _loaded():
    return cluster.load_cached(salt.roster.get_roster_file(__opts__), __opts__.get("saltsphere_vars"))


def _refused(exc):
    """A runner's answer to bad input (exit 2, every problem) or to a refusal (exit 1, why)."""
    bad_input = isinstance(exc, InvalidInput)
    __context__["retcode"] = 2 if bad_input else 1
    return {"result": False, "comment": exc.render() if bad_input else str(exc)}


def _names(hosts):
    """``hosts`` as a list: ``node3,node4`` on the command line is two names."""
    if isinstance(hosts, str):
        return [name.strip() for name in hosts.split(",") if name.strip()]
    return hosts


def prepare(ignore_host_keys=None):
    """
    Make what a run of this cluster needs on the taskbox, and serve the bundle to its hosts.

    ignore_host_keys
        Accept hosts' SSH keys not yet known when asking them whether they
        hold a CA (only asked when the taskbox has none yet).

    Returns ``result``, ``comment``, ``changed`` (files made or changed under
    ``.saltsphere/``) and ``server`` (addresses and port; never the token).

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere.prepare
    """
    try:
        loaded = _loaded()
        done = prep.prepare(loaded, probe=sshcall.fingerprint_probe(__opts__, loaded, ignore_host_keys))
    except (InvalidInput, ActionableError) as exc:
        return _refused(exc)
    server = {k: done.server[k] for k in ("addresses", "port")} if done.server else None
    return {"result": True, "comment": done.summary(), "changed": done.changed, "server": server}


def finish():
    """
    Stop this cluster's bundle server; True when one was running.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere.finish
    """
    return serve.stop(_loaded().directory + "/.saltsphere")


def node_add_plan(hosts=None, again=False):
    """
    Which hosts of hosts.ini ``kubesphere.node_add`` adds, asked from the running cluster; changes nothing.

    hosts
        The hosts to add (default: every host of hosts.ini that is not a member yet).
    again
        Accept named hosts that are Ready members already (a step of an add that has begun).

    Returns ``result``, ``comment``, ``add``, ``members`` (in the cluster already), ``waiting`` (in hosts.ini,
    neither in the cluster nor added now) and ``network_plugin``; a refusal is ``result`` False with every
    reason in ``comment``.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere.node_add_plan
        salt-run saltsphere.node_add_plan hosts='[node3]'
    """
    hosts = _names(hosts)
    try:
        loaded = _loaded()
        members = nodes.etcd_members(loaded) if loaded.role_members("etcd") else {}
        plan = nodes.add_plan(loaded, hosts, nodes.kubernetes_nodes(loaded), members, again=bool(again))
    except (InvalidInput, ActionableError) as exc:
        return _refused(exc)
    comment = f"adds {', '.join(plan['add'])}" if plan["add"] else "every host of hosts.ini is a member: nothing to add"
    return {"result": True, "comment": comment, **plan,
            "network_plugin": loaded.config.values["kube_network_plugin"]}


def node_remove_plan(hosts=None, probe=False):
    """
    Which workers ``kubesphere.node_remove`` removes, asked from the running cluster; changes nothing.

    hosts
        The hosts to remove (required): workers of hosts.ini, or Nodes no longer in hosts.ini.
    probe
        Also ask which of them answer over SSH (``clean``: those that do; ``not_cleaned``: why the others
        are not).

    Returns ``result``, ``comment``, ``remove``, ``removed`` ({name: address}), ``members`` and
    ``k8s_members`` (hosts of hosts.ini left in the cluster), ``waiting``, ``lines`` (of hosts.ini naming
    them) and ``network_plugin``; a refusal is ``result`` False with every reason in ``comment``.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere.node_remove_plan hosts='[node3]'
    """
    hosts = _names(hosts)
    try:
        loaded = _loaded()
        members = nodes.etcd_members(loaded) if loaded.role_members("etcd") else {}
        plan = noderemove.remove_plan(loaded, hosts, nodes.kubernetes_nodes(loaded), members)
        unclean = noderemove.not_cleaned(loaded, plan, noderemove.probe(loaded, plan) if probe else {})
    except (InvalidInput, ActionableError) as exc:
        return _refused(exc)
    return {"result": True, "comment": f"removes {', '.join(plan['remove'])}", **plan,
            "clean": [name for name in plan["in_hosts_ini"] if name not in unclean], "not_cleaned": unclean,
            "network_plugin": loaded.config.values["kube_network_plugin"]}
