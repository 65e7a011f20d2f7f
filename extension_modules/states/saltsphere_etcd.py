"""
Gates on etcd health: they change nothing and pass only when etcd is healthy.
Under ``test=True`` each asks once and never waits: a member that is not
healthy yet (the run would start it) is ``result`` None.

.. code-block:: yaml

    etcd-health-member-ready:
      saltsphere_etcd.member_ready:
        - name: https://10.0.0.1:2379
        - endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379, https://10.0.0.3:2379]
        - ca: /etc/etcd/pki/ca.crt
        - cert: /etc/etcd/pki/healthcheck-client.crt
        - key: /etc/etcd/pki/healthcheck-client.key

``member_absent`` and ``member_present`` change the membership, asked of a
healthy member (``endpoint``), as ``etcdctl member remove|add`` would.
"""

__virtualname__ = "saltsphere_etcd"


def __virtual__():
    if "saltsphere_etcd.wait_member" not in __salt__:
        return False, "the saltsphere_etcd execution module is not available"
    return __virtualname__


def member_ready(name, endpoints, ca, cert, key, timeout=120):
    """
    Pass once the member at ``name`` is healthy, or at once while the cluster is still forming.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if __opts__["test"]:
        health = __salt__["saltsphere_etcd.endpoint_health"](name, ca, cert, key)
        ret["result"] = True if health["healthy"] else None
        ret["comment"] = "etcd member is healthy" if health["healthy"] else f"etcd member is not healthy yet: {health['error']}"
        return ret
    state = __salt__["saltsphere_etcd.wait_member"](name, endpoints, ca, cert, key, timeout=timeout)
    if state["healthy"]:
        ret["comment"] = "etcd member is healthy"
    elif state["forming"]:
        ret["comment"] = "the etcd cluster is still forming (no member has quorum yet); the other members start next"
    else:
        ret["result"] = False
        ret["comment"] = (
            f"etcd member {name} did not become healthy within {timeout} s: "
            f"{state['error']}. Check `journalctl -u etcd` on this host; re-run once it is fixed."
        )
    return ret


def cluster_healthy(name, endpoints, ca, cert, key, timeout=180):
    """
    Pass once every etcd endpoint is healthy.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    wait = 0 if __opts__["test"] else timeout
    health = __salt__["saltsphere_etcd.wait_cluster"](endpoints, ca, cert, key, timeout=wait)
    sick = {e: h["error"] for e, h in health.items() if not h["healthy"]}
    if not sick:
        ret["comment"] = f"all {len(health)} etcd members are healthy"
        return ret
    ret["result"] = None if __opts__["test"] else False
    ret["comment"] = f"{len(sick)} of {len(health)} etcd members are not healthy: " + "; ".join(
        str(error) for error in sick.values()
    )
    return ret


def _matching(members, name, peer_url):
    return [m for m in members if (name and m["name"] == name) or (peer_url and peer_url in m["peer_urls"])]


def member_absent(name, endpoint, ca, cert, key, peer_url=None):
    """
    The member called ``name`` (or, not started yet, with ``peer_url``) is no member of the cluster of ``endpoint``.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    listing = __salt__["saltsphere_etcd.member_list"](endpoint, ca, cert, key)
    if listing["members"] is None:
        ret["result"] = False
        ret["comment"] = (f"the etcd members could not be listed: {listing['error']}. Check etcd on this host with "
                          "`saltsphere status`; re-run once it answers.")
        return ret
    found = _matching(listing["members"], name, peer_url)
    if not found:
        ret["comment"] = f"{name} is no etcd member"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"etcd member {name} would be removed"
        ret["changes"] = {"removed": [m["id"] for m in found]}
        return ret
    for member in found:
        done = __salt__["saltsphere_etcd.member_remove"](endpoint, member["id"], ca, cert, key)
        if not done["removed"]:
            ret["result"] = False
            ret["comment"] = (f"etcd member {name} ({member['id']}) could not be removed: {done['error']}. The "
                              "members that stay must be healthy and a majority; re-run once they are.")
            return ret
    ret["changes"] = {"removed": [m["id"] for m in found]}
    ret["comment"] = f"etcd member {name} removed"
    return ret


def member_present(name, peer_url, endpoint, ca, cert, key):
    """
    A member with ``peer_url`` is in the cluster of ``endpoint``: added (not started) when it is not.

    The comment and ``changes`` never hold keys; the member joins once it starts
    with ``ETCD_INITIAL_CLUSTER_STATE=existing``.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    listing = __salt__["saltsphere_etcd.member_list"](endpoint, ca, cert, key)
    if listing["members"] is None:
        ret["result"] = False
        ret["comment"] = (f"the etcd members could not be listed: {listing['error']}. Check etcd with "
                          "`saltsphere status`; re-run once it answers.")
        return ret
    if _matching(listing["members"], None, peer_url):
        ret["comment"] = f"{name} ({peer_url}) is an etcd member"
        return ret
    same_name = _matching(listing["members"], name, None)
    if same_name:
        ret["result"] = False
        ret["comment"] = (f"an etcd member called {name} has other peer URLs ({same_name[0]['peer_urls']}): remove "
                          f"it first (`saltsphere node remove {name}`)")
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"{name} would be added to etcd with {peer_url}"
        ret["changes"] = {"added": peer_url}
        return ret
    done = __salt__["saltsphere_etcd.member_add"](endpoint, peer_url, ca, cert, key)
    if done["members"] is None:
        ret["result"] = False
        ret["comment"] = (f"{name} could not be added to etcd: {done['error']}. Every member must be healthy; re-run "
                          "once they are.")
        return ret
    ret["changes"] = {"added": peer_url}
    ret["comment"] = f"{name} added to etcd with {peer_url}; it joins once started"
    return ret
