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
