"""
The pod network on a cluster host: the CNI bridge giving pods addresses from
the node's pod range, routes to the other nodes' ranges, and a gate on the
node being Ready.

.. code-block:: yaml

    network-bridge-saltsphere-network-cni-bridge:
      saltsphere_network.cni_bridge:
        - name: /etc/cni/net.d/10-saltsphere-bridge.conflist
        - node: node1

    network-bridge-saltsphere-network-pod-routes:
      saltsphere_network.pod_routes:
        - name: 10.233.64.0/18
        - node: node1
        - expected: [master, node1, node2]

Every one of them asks the cluster through the ``saltsphere_kubernetes``
execution module, with this host's own credentials.  Under ``test=True`` each
asks once and never waits: what a host that has not joined yet cannot know is
a predicted change, since the run's kubernetes phase joins it first.
"""

import ipaddress
import json
import os
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_network"


def __virtual__():
    if "saltsphere_kubernetes.nodes" not in __salt__:
        return False, "the saltsphere_kubernetes execution module is not available"
    return __virtualname__


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _fail(ret, comment):
    ret.update(result=False, changes={}, comment=comment)
    return ret


def _bridge_conflist(cidr, bridge, mtu):
    network = ipaddress.ip_network(cidr)
    gateway = str(next(network.hosts()))
    return {
        "cniVersion": "0.4.0",
        "name": "saltsphere-bridge",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                # Pods reach other nodes' pods by their own address; traffic
                # leaving the cluster is masqueraded by the node's own rule.
                "ipMasq": False,
                "hairpinMode": True,
                "mtu": mtu,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(network), "gateway": gateway}]],
                    "routes": [{"dst": "0.0.0.0/0" if network.version == 4 else "::/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(f"{path}.tmp", path)


def cni_bridge(name, node, bridge="cni0", mtu=1500, wait=300):
    """
    Ensure the CNI configuration ``name`` gives this node's pods addresses from its pod range.

    The range is the one the controller manager gave ``node``; it exists once
    the node has joined, and this waits up to ``wait`` seconds for it.
    """
    ret = _ret(name)
    test = __opts__["test"]
    try:
        cidr = __salt__["saltsphere_kubernetes.wait_pod_cidr"](node, seconds=0 if test else wait)
    except CommandExecutionError as exc:
        if not test:
            return _fail(ret, str(exc))
        ret.update(result=None, changes={name: f"the pod range of node {node}"},
                   comment=f"{name} would give pods addresses from node {node}'s pod range once it has one ({exc})")
        return ret
    wanted = json.dumps(_bridge_conflist(cidr, bridge, mtu), indent=2) + "\n"
    current = _read(name)
    if current == wanted:
        ret["comment"] = f"{name} gives pods addresses from {cidr}"
        return ret
    if test:
        ret.update(result=None, changes={name: cidr}, comment=f"{name} would give pods addresses from {cidr}")
        return ret
    _write(name, wanted)
    ret["changes"] = {name: {"old": "present" if current else None, "new": cidr}}
    ret["comment"] = f"{name} gives pods addresses from {cidr}"
    return ret


def _known_routes(node, expected):
    """``({pod range: node ip} of every other node, [nodes of expected without a range yet])``, asked once."""
    known = __salt__["saltsphere_kubernetes.nodes"]()
    wanted = {info["pod_cidr"]: info["ip"] for other, info in known.items()
              if other != node and info["pod_cidr"] and info["ip"]}
    missing = sorted(name for name in expected
                     if name != node and not (known.get(name, {}).get("pod_cidr") and known[name].get("ip")))
    return wanted, missing


def _wanted_routes(node, expected, wait):
    """{pod range: node ip} of every other node, waiting up to ``wait`` s for the ``expected`` ones."""
    deadline = time.monotonic() + float(wait)
    while True:
        wanted, missing = _known_routes(node, expected)
        if not missing:
            return wanted
        if time.monotonic() >= deadline:
            raise CommandExecutionError(
                f"waited {wait} s for node(s) {', '.join(missing)} to join and get a pod range; "
                "check that they joined (kubesphere.kubernetes phase) and run again")
        time.sleep(2)


def _routes_text(wanted):
    return "".join(f"{cidr} {gateway}\n" for cidr, gateway in sorted(wanted.items()))


def pod_routes(name, node, expected=(), wait=300, routes_file=None):
    """
    Ensure a route to every other node's pod range via that node (``name`` is the cluster's pod range).

    Nodes named in ``expected`` (the inventory's) that have not joined yet are
    waited for, up to ``wait`` seconds: with every host applying its states at
    once, a neighbour may join a little later.  Routes into the pod range that
    no node owns any more are removed.  Every node must be on one L2 segment:
    the gateway is the node itself.  ``routes_file`` keeps the routes for the
    boot script that restores them before kubelet starts.  Under ``test=True``
    a node that has not joined yet gets a predicted route.
    """
    ret = _ret(name)
    test = __opts__["test"]
    expected = list(expected)
    asked = ""
    try:
        wanted, missing = _known_routes(node, expected) if test else (_wanted_routes(node, expected, wait), [])
        present = __salt__["saltsphere_kubernetes.routes"](name)
    except CommandExecutionError as exc:
        if not test:
            return _fail(ret, str(exc))
        wanted, missing, present = {}, [other for other in expected if other != node], {}
        asked = f" (the cluster cannot be asked from here yet: {exc})"
    own = {cidr for cidr, gateway in present.items() if not gateway}  # the node's own bridge
    changes = {}
    for cidr, gateway in sorted(wanted.items()):
        if present.get(cidr) != gateway:
            changes[cidr] = {"old": present.get(cidr), "new": f"via {gateway}"}
    for cidr, gateway in sorted(present.items()):
        if cidr not in wanted and cidr not in own:
            changes[cidr] = {"old": f"via {gateway}", "new": None}
    for other in missing:
        changes[f"pod range of {other}"] = {"old": None, "new": f"via {other}, once it has joined"}
    kept = _routes_text(wanted)
    if routes_file and (missing or _read(routes_file) != kept):
        changes[routes_file] = {"old": None if _read(routes_file) is None else "other routes", "new": "updated"}
    if not changes:
        ret["comment"] = f"{len(wanted)} route(s) to other nodes' pods are in place"
        return ret
    if test:
        ret.update(result=None, changes=changes, comment=f"{len(changes)} pod route(s) would change{asked}")
        return ret
    try:
        for cidr in changes:
            if cidr != routes_file:
                __salt__["saltsphere_kubernetes.set_route"](cidr, wanted.get(cidr))
    except CommandExecutionError as exc:
        return _fail(ret, str(exc))
    if routes_file:
        _write(routes_file, kept)
    ret["changes"] = changes
    ret["comment"] = f"{len(changes)} pod route change(s)"
    return ret


def node_ready(name, wait=300):
    """
    Pass once the node ``name`` reports Ready (its network is up), waiting up to ``wait`` seconds; changes nothing.

    Under ``test=True`` it asks once: a node not Ready yet is ``result`` None.
    """
    ret = _ret(name)
    test = __opts__["test"]
    deadline = time.monotonic() + (0 if test else float(wait))
    while True:
        try:
            info = __salt__["saltsphere_kubernetes.nodes"]().get(name)
            if info and info["ready"]:
                ret["comment"] = f"node {name} is Ready"
                return ret
            problem = "not registered" if info is None else "NotReady"
        except CommandExecutionError as exc:
            problem = str(exc)
        if time.monotonic() >= deadline:
            if test:
                ret.update(result=None, comment=f"node {name} is {problem} now; the run waits up to {wait} s for it "
                                                "to be Ready")
                return ret
            return _fail(ret, f"node {name} is still {problem} after {wait} s; see `journalctl -u kubelet` on it "
                              "(a missing CNI configuration or plugin keeps a node NotReady)")
        time.sleep(2)
