"""
Kubernetes on a host: the cluster initialised on the first master, every other
host joined, the bootstrap token present only while a host has to join, and
the CNI bridge network with routes between the nodes' pod ranges.

kubeadm's configuration file holds the bootstrap token: it exists only until
kubeadm has used it (``kubeadm_config``, and ``initialized``/``joined``
remove it once kubeadm succeeded).

.. code-block:: yaml

    kubernetes-control-plane-saltsphere-kubernetes-initialized:
      saltsphere_kubernetes.initialized:
        - name: /etc/kubernetes/saltsphere/kubeadm.yaml
        - endpoint: 10.0.0.2:6443

    kubernetes-node-saltsphere-kubernetes-joined:
      saltsphere_kubernetes.joined:
        - name: /etc/kubernetes/saltsphere/kubeadm.yaml
        - endpoint: 10.0.0.2:6443
        - wait: 300
"""

import ipaddress
import json
import os
import time

import salt.utils.data
from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_kubernetes"


def __virtual__():
    if "saltsphere_kubernetes.state" not in __salt__:
        return False, "the saltsphere_kubernetes execution module is not available"
    return __virtualname__


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _fail(ret, comment):
    ret.update(result=False, changes={}, comment=comment)
    return ret


def _write_private(path, text):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _used(path):
    """kubeadm has used its configuration: it goes, with the token in it."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def kubeadm_config(name, contents_pillar):
    """
    kubeadm's configuration of this host (from the pillar key ``contents_pillar``) while kubeadm still has to run.

    It holds the bootstrap token: root only, never shown, and removed from a host
    that has joined (or initialised) the cluster.
    """
    ret = _ret(name)
    if __salt__["saltsphere_kubernetes.state"]() in ("initialized", "joined"):
        if not os.path.exists(name):
            ret["comment"] = "kubeadm has run on this host; its configuration is not kept"
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes={name: "removed"}, comment=f"{name} would be removed: kubeadm has run")
            return ret
        _used(name)
        ret.update(changes={name: "removed"}, comment=f"{name} removed: kubeadm has run, the token it held goes")
        return ret
    # From the pillar itself: pillar.get would hand back the masked text Salt prints.
    contents = salt.utils.data.traverse_dict_and_list(__pillar__, contents_pillar, None, delimiter=":")
    if not contents:
        return _fail(ret, f"no pillar {contents_pillar}: this phase does not carry kubeadm's configuration; apply "
                          "the kubernetes role (or the kubesphere.kubernetes phase)")
    try:
        with open(name) as handle:
            if handle.read() == contents:
                ret["comment"] = f"{name} is up to date"
                return ret
    except FileNotFoundError:
        pass
    if __opts__["test"]:
        ret.update(result=None, changes={name: "written"}, comment=f"{name} would be written (contents not shown)")
        return ret
    _write_private(name, contents)
    ret.update(changes={name: "written (contents not shown: it holds the bootstrap token)"},
               comment=f"{name} written for kubeadm")
    return ret


def initialized(name, endpoint, args=(), wait=300):
    """
    Ensure this host runs the cluster's first control plane, made by ``kubeadm init --config name``.

    A host already initialised only has its API checked (waiting up to
    ``wait`` seconds after a restart); one an earlier run left half-way is
    initialised again over what it left.
    """
    ret = _ret(name)
    current = __salt__["saltsphere_kubernetes.state"]()
    if current == "initialized":
        ok, problem = __salt__["saltsphere_kubernetes.wait_api"](endpoint, seconds=wait)
        if not ok:
            return _fail(ret, f"the cluster is initialised here but its API at {endpoint} did not answer within "
                              f"{wait} s ({problem}); check `journalctl -u kubelet` and "
                              "`crictl ps -a` on this host")
        ret["comment"] = f"the cluster is initialised; its API at {endpoint} answers"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes={"kubeadm": "init"},
                   comment=f"kubeadm init would run with {name}" + (" (resuming)" if current == "partial" else ""))
        return ret
    try:
        output = __salt__["saltsphere_kubernetes.kubeadm"]("init", name, list(args), resume=current == "partial")
    except CommandExecutionError as exc:
        return _fail(ret, f"{exc}\nFix the cause and run again: the next run resumes from here.")
    _used(name)
    ok, problem = __salt__["saltsphere_kubernetes.wait_api"](endpoint, seconds=wait)
    if not ok:
        return _fail(ret, f"kubeadm init finished but the API at {endpoint} did not answer within {wait} s ({problem})")
    ret["changes"] = {"kubeadm": {"old": current, "new": "initialized"}}
    ret["comment"] = f"kubeadm init made the cluster; its API at {endpoint} answers\n{output}"
    return ret


def joined(name, endpoint, control_plane=False, args=(), wait=300):
    """
    Ensure this host joined the cluster (``kubeadm join --config name``), as a control plane or a node.

    Before joining it waits up to ``wait`` seconds for the API at
    ``endpoint``: with every host applying its states at once, the first
    master may still be starting.
    """
    ret = _ret(name)
    current = __salt__["saltsphere_kubernetes.state"]()
    if current in ("initialized", "joined"):
        ret["comment"] = f"this host has joined the cluster ({current})"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes={"kubeadm": "join"}, comment=f"kubeadm join would run with {name}")
        return ret
    ok, problem = __salt__["saltsphere_kubernetes.wait_api"](endpoint, seconds=wait)
    if not ok:
        return _fail(ret, f"waited {wait} s for the cluster's API at {endpoint} before joining: {problem}; "
                          "is the first master initialised (kubesphere.kubernetes phase) and reachable from here?")
    try:
        output = __salt__["saltsphere_kubernetes.kubeadm"]("join", name, list(args), resume=current == "partial")
    except CommandExecutionError as exc:
        return _fail(ret, f"{exc}\nFix the cause and run again: the next run resumes from here.")
    _used(name)
    kind = "control plane" if control_plane else "node"
    ret["changes"] = {"kubeadm": {"old": current, "new": f"joined as {kind}"}}
    ret["comment"] = f"joined the cluster at {endpoint} as a {kind}\n{output}"
    return ret


def _pending(needed_by, wait):
    """The hosts of ``needed_by`` that are not nodes yet, waiting up to ``wait`` seconds for them."""
    deadline = time.monotonic() + float(wait or 0)
    while True:
        members = __salt__["saltsphere_kubernetes.nodes"]()
        pending = [host for host in needed_by if host not in members]
        if not pending or __opts__["test"] or time.monotonic() >= deadline:
            return pending
        time.sleep(5)


def bootstrap_token(name, needed_by=(), ttl="24h0m0s", create=True, wait=0):
    """
    The bootstrap token with id ``name`` exists exactly while a host of ``needed_by`` has still to join.

    needed_by
        The hosts that must be nodes of the cluster (every master and node of hosts.ini).
    create
        Make the token (its secret comes from the pillar) when a host has to join; with False, a missing
        token is left missing and only the removal applies.
    wait
        Seconds to wait for pending hosts before deciding (the highstate: they join while this runs); a host
        still missing then keeps the token.
    """
    ret = _ret(name)
    try:
        pending = _pending(list(needed_by), wait)
        listed = __salt__["saltsphere_kubernetes.token_listed"](name)
        if pending and (listed or not create):
            ret["comment"] = f"bootstrap token {name} {'kept' if listed else 'not made'}: {', '.join(pending)} " \
                             "still to join"
            return ret
        if not pending and not listed:
            ret["comment"] = f"every host has joined; no bootstrap token {name}"
            return ret
        action = "created" if pending else "deleted"
        if __opts__["test"]:
            ret.update(result=None, changes={name: action}, comment=f"bootstrap token {name} would be {action}")
            return ret
        if pending:
            __salt__["saltsphere_kubernetes.create_token"](ttl)
            ret["changes"] = {name: {"old": None, "new": f"valid for {ttl}, for {', '.join(pending)}"}}
        else:
            __salt__["saltsphere_kubernetes.delete_token"](name)
            ret["changes"] = {name: {"old": "present", "new": None}}
    except CommandExecutionError as exc:
        return _fail(ret, str(exc))
    ret["comment"] = f"bootstrap token {name} {action}"
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


def cni_bridge(name, node, bridge="cni0", mtu=1500, wait=300):
    """
    Ensure the CNI configuration ``name`` gives this node's pods addresses from its pod range.

    The range is the one the controller manager gave ``node``; it exists once
    the node has joined, and this waits up to ``wait`` seconds for it.
    """
    ret = _ret(name)
    try:
        cidr = __salt__["saltsphere_kubernetes.wait_pod_cidr"](node, seconds=wait)
    except CommandExecutionError as exc:
        return _fail(ret, str(exc))
    wanted = json.dumps(_bridge_conflist(cidr, bridge, mtu), indent=2) + "\n"
    try:
        with open(name, encoding="utf-8") as handle:
            current = handle.read()
    except FileNotFoundError:
        current = None
    if current == wanted:
        ret["comment"] = f"{name} gives pods addresses from {cidr}"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes={name: cidr}, comment=f"{name} would give pods addresses from {cidr}")
        return ret
    os.makedirs(os.path.dirname(name), exist_ok=True)
    tmp = f"{name}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(wanted)
    os.replace(tmp, name)
    ret["changes"] = {name: {"old": "present" if current else None, "new": cidr}}
    ret["comment"] = f"{name} gives pods addresses from {cidr}"
    return ret


def _wanted_routes(node, expected, wait):
    """{pod range: node ip} of every other node, waiting up to ``wait`` s for the ``expected`` ones."""
    deadline = time.monotonic() + float(wait)
    while True:
        known = __salt__["saltsphere_kubernetes.nodes"]()
        wanted = {info["pod_cidr"]: info["ip"] for other, info in known.items()
                  if other != node and info["pod_cidr"] and info["ip"]}
        missing = sorted(name for name in expected
                         if name != node and not (known.get(name, {}).get("pod_cidr") and known[name].get("ip")))
        if not missing:
            return wanted
        if time.monotonic() >= deadline:
            raise CommandExecutionError(
                f"waited {wait} s for node(s) {', '.join(missing)} to join and get a pod range; "
                "check that they joined (kubesphere.kubernetes phase) and run again")
        time.sleep(2)


def _routes_text(wanted):
    return "".join(f"{cidr} {gateway}\n" for cidr, gateway in sorted(wanted.items()))


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def pod_routes(name, node, expected=(), wait=300, routes_file=None):
    """
    Ensure a route to every other node's pod range via that node (``name`` is the cluster's pod range).

    Nodes named in ``expected`` (the inventory's) that have not joined yet are
    waited for, up to ``wait`` seconds: with every host applying its states at
    once, a neighbour may join a little later.  Routes into the pod range that
    no node owns any more are removed.  Every node must be on one L2 segment:
    the gateway is the node itself.  ``routes_file`` keeps the routes for the
    boot script that restores them before kubelet starts.
    """
    ret = _ret(name)
    try:
        wanted = _wanted_routes(node, list(expected), wait)
        present = __salt__["saltsphere_kubernetes.routes"](name)
    except CommandExecutionError as exc:
        return _fail(ret, str(exc))
    own = {cidr for cidr, gateway in present.items() if not gateway}  # the node's own bridge
    changes = {}
    for cidr, gateway in sorted(wanted.items()):
        if present.get(cidr) != gateway:
            changes[cidr] = {"old": present.get(cidr), "new": f"via {gateway}"}
    for cidr, gateway in sorted(present.items()):
        if cidr not in wanted and cidr not in own:
            changes[cidr] = {"old": f"via {gateway}", "new": None}
    kept = _routes_text(wanted)
    if routes_file and _read(routes_file) != kept:
        changes[routes_file] = {"old": None if _read(routes_file) is None else "other routes", "new": "updated"}
    if not changes:
        ret["comment"] = f"{len(wanted)} route(s) to other nodes' pods are in place"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"{len(changes)} pod route(s) would change")
        return ret
    try:
        for cidr in changes:
            if cidr != routes_file:
                __salt__["saltsphere_kubernetes.set_route"](cidr, wanted.get(cidr))
    except CommandExecutionError as exc:
        return _fail(ret, str(exc))
    if routes_file:
        os.makedirs(os.path.dirname(routes_file), exist_ok=True)
        with open(f"{routes_file}.tmp", "w", encoding="utf-8") as handle:
            handle.write(kept)
        os.replace(f"{routes_file}.tmp", routes_file)
    ret["changes"] = changes
    ret["comment"] = f"{len(changes)} pod route change(s)"
    return ret


def node_ready(name, wait=300):
    """
    Pass once the node ``name`` reports Ready (its network is up), waiting up to ``wait`` seconds; changes nothing.
    """
    ret = _ret(name)
    deadline = time.monotonic() + float(wait)
    problem = ""
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
            return _fail(ret, f"node {name} is still {problem} after {wait} s; see `journalctl -u kubelet` on it "
                              "(a missing CNI configuration or plugin keeps a node NotReady)")
        time.sleep(2)
