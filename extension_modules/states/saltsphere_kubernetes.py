"""
Kubernetes on a host: the cluster initialised on the first master, every other
host joined, and the bootstrap token present only while a host has to join
(the pod network's states are ``saltsphere_network``).

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
        # A dry run asks once: it restarted nothing, so there is nothing to wait for.
        seconds = 0 if __opts__["test"] else wait
        ok, problem = __salt__["saltsphere_kubernetes.wait_api"](endpoint, seconds=seconds)
        if not ok:
            return _fail(ret, f"the cluster is initialised here but its API at {endpoint} did not answer within "
                              f"{seconds} s ({problem}); check `journalctl -u kubelet` and "
                              "`crictl ps -a` on this host")
        ret["comment"] = f"the cluster is initialised; its API at {endpoint} answers"
        return ret
    if current == "new" and __salt__["saltsphere_kubernetes.api_ready"](endpoint):
        # Another master serves the cluster already: an init here would start a second one on the same etcd.
        return _fail(ret, f"the cluster's API at {endpoint} answers already, so this new host must join it, not run "
                          "kubeadm init: put a master that runs the control plane first in [kube-master] of "
                          "hosts.ini and add this host with `saltsphere node add`")
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


def member(name):
    """
    Pass when this host (``name``, shown only) is a member of the cluster: kubeadm initialised or joined it.

    The roles built on Kubernetes check this instead of converging the whole
    kubernetes role again.  Under ``test=True`` a host that has not joined yet
    is one the run's kubernetes phase would join: ``result`` None.
    """
    ret = _ret(name)
    current = __salt__["saltsphere_kubernetes.state"]()
    if current in ("initialized", "joined"):
        ret["comment"] = f"{name} is a member of the cluster ({current})"
        return ret
    if __opts__["test"]:
        ret.update(result=None, comment=f"{name} is not a member yet ({current}); the kubernetes phase joins it")
        return ret
    return _fail(ret, f"{name} is not a member of the cluster yet ({current}): run the kubesphere.kubernetes phase "
                      "(or apply the kubernetes role) first")


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
    if __opts__["test"] and __salt__["saltsphere_kubernetes.state"]() != "initialized":
        # No cluster here to ask yet: kubeadm init, earlier in the run, makes the token with it.
        if create:
            ret.update(result=None, comment=f"bootstrap token {name} is made by kubeadm init with the cluster and "
                                            "kept while a host has still to join")
        else:
            ret.update(result=None, changes={name: "deleted"},
                       comment=f"bootstrap token {name} would be deleted once every host has joined")
        return ret
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


def node_drained(name, timeout=120, force=False):
    """
    The Node ``name`` is cordoned and its pods are gone (``saltsphere_kubernetes.drain``): run on the first master.

    ``force``: its host is down, so its pods are deleted without waiting for it.
    A Node that is not in the cluster (removed already) changes nothing, and
    neither does one that is cordoned with no pod left but DaemonSets'.
    Under ``test=True`` the cluster is asked once and nothing is evicted.
    """
    ret = _ret(name)
    try:
        known = __salt__["saltsphere_kubernetes.nodes"]()
        if name not in known:
            ret["comment"] = f"{name} is not a Node of the cluster: nothing to drain"
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes={name: "cordoned and drained"},
                       comment=f"{name} would be cordoned and drained "
                               f"({'Ready' if known[name]['ready'] and not force else 'its pods deleted without waiting'})")
            return ret
        done = __salt__["saltsphere_kubernetes.drain"](name, timeout, force)
    except CommandExecutionError as exc:
        return _fail(ret, f"{exc}; run the removal again once the API server answers")
    ret.update(changes={name: done}, comment=f"{name} cordoned, {done}")
    return ret


def node_absent(name):
    """
    The Node ``name`` is not in the cluster: run on the first master, once its kubelet is stopped.

    Under ``test=True`` the cluster is asked once.
    """
    ret = _ret(name)
    try:
        if name not in __salt__["saltsphere_kubernetes.nodes"]():
            ret["comment"] = f"{name} is not a Node of the cluster"
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes={name: {"old": "present", "new": None}},
                       comment=f"Node {name} would be deleted")
            return ret
        __salt__["saltsphere_kubernetes.delete_node"](name)
    except CommandExecutionError as exc:
        return _fail(ret, str(exc))
    ret.update(changes={name: {"old": "present", "new": None}}, comment=f"Node {name} deleted")
    return ret


def apiserver_etcd_servers(name, servers, endpoint, wait=300):
    """
    The API server of the static pod manifest ``name`` talks to the etcd client URLs ``servers`` (``--etcd-servers``).

    Only that line of the manifest changes; kubelet then restarts the API
    server alone, and the state waits until the new one runs with the list
    and answers at ``endpoint`` (``host:port``), so masters change one at a
    time.  No manifest (not a master yet) is left alone.
    """
    ret = _ret(name)
    wanted = ",".join(servers)
    try:
        with open(name, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        ret["comment"] = f"{name} does not exist: no API server on this host"
        return ret
    lines = text.splitlines(keepends=True)
    flagged = [i for i, line in enumerate(lines) if line.strip().startswith("- --etcd-servers=")]
    if len(flagged) != 1:
        return _fail(ret, f"{name} has {len(flagged)} --etcd-servers lines, not one: fix the manifest by hand "
                          f"(--etcd-servers={wanted}) and re-run")
    line = lines[flagged[0]]
    current = line.strip()[len("- --etcd-servers="):]
    if current == wanted and __salt__["saltsphere_kubernetes.apiserver_flag"]("etcd-servers") in (wanted, None):
        ret["comment"] = f"the API server uses etcd at {wanted}"
        return ret
    change = {"etcd-servers": {"old": current, "new": wanted}}
    if __opts__["test"]:
        ret.update(result=None, changes=change, comment=f"the API server would use etcd at {wanted}")
        return ret
    if current != wanted:
        lines[flagged[0]] = line[:line.index("- --etcd-servers=")] + f"- --etcd-servers={wanted}\n"
        # Written beside and moved: kubelet reads a manifest whole or not at all.
        tmp = os.path.join(os.path.dirname(os.path.dirname(name)), f".{os.path.basename(name)}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("".join(lines))
        os.chmod(tmp, os.stat(name).st_mode & 0o7777)
        os.replace(tmp, name)
    deadline = time.monotonic() + float(wait)
    while __salt__["saltsphere_kubernetes.apiserver_flag"]("etcd-servers") != wanted:
        if time.monotonic() >= deadline:
            return _fail(ret, f"kubelet did not restart the API server with --etcd-servers={wanted} within {wait} s; "
                              "check `crictl ps -a --name kube-apiserver` and kubelet's journal, then re-run")
        time.sleep(2)
    ready, problem = __salt__["saltsphere_kubernetes.wait_api"](endpoint, seconds=max(deadline - time.monotonic(), 5))
    if not ready:
        return _fail(ret, f"the API server at {endpoint} did not answer after its restart: {problem}; re-run once it "
                          "does")
    ret.update(changes=change, comment=f"the API server uses etcd at {wanted}")
    return ret
