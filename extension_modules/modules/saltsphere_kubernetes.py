"""
kubeadm, the API server and the node's pod network on a cluster host.

Runs on cluster hosts with the standard library and the binaries the
kubernetes states install (kubeadm, kubectl).  Nothing here prints the
bootstrap token: kubeadm's output is redacted before it is returned, and the
token is read from the pillar rather than passed on a command line.
"""

import contextlib
import fcntl
import ipaddress
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from salt.exceptions import CommandExecutionError

__virtualname__ = "saltsphere_kubernetes"

KUBEADM = "/usr/local/bin/kubeadm"
KUBECTL = "/usr/local/bin/kubectl"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
CA_CERT = "/etc/kubernetes/pki/ca.crt"
# What kubeadm writes; any of it without the kubeconfig that ends a run means
# an earlier init or join stopped half-way.
LEFTOVERS = (
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/bootstrap-kubelet.conf",
    "/etc/kubernetes/controller-manager.conf",
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/kubeadm-flags.env",
)
# kubeadm's preflight refuses what its own earlier, interrupted run left behind;
# resuming it means accepting exactly those.
RESUME_IGNORES = (
    "DirAvailable--etc-kubernetes-manifests",
    "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml",
    "FileAvailable--etc-kubernetes-manifests-kube-controller-manager.yaml",
    "FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml",
    "FileAvailable--etc-kubernetes-kubelet.conf",
    "FileAvailable--etc-kubernetes-bootstrap-kubelet.conf",
    "FileAvailable--etc-kubernetes-pki-ca.crt",
    "Port-6443",
    "Port-10250",
    "Port-10257",
    "Port-10259",
)
KUBEADM_TIMEOUT = 900
KUBEADM_LOCK = "/run/saltsphere-kubeadm.lock"
OUTPUT_TAIL = 25


def __virtual__():
    return __virtualname__


def _secret():
    return __pillar__.get("saltsphere", {}).get("kubernetes_pki", {}).get("token", "")


def _redact(text):
    token = _secret()
    if token:
        text = text.replace(token, "<bootstrap token>").replace(token.split(".", 1)[1], "<token secret>")
    return text


def _run(argv, timeout=120, input_text=None, pass_fds=()):
    try:
        proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout, check=False,
                              pass_fds=pass_fds)
    except FileNotFoundError:
        raise CommandExecutionError(f"{argv[0]} is not installed; apply the kubernetes.binaries state first")
    except subprocess.TimeoutExpired:
        raise CommandExecutionError(f"{os.path.basename(argv[0])} {argv[1]} did not finish within {timeout} s")
    return proc.returncode, _redact(proc.stdout), _redact(proc.stderr)


def _tail(text, lines=OUTPUT_TAIL):
    return "\n".join(text.strip().splitlines()[-lines:])


def api_ready(endpoint, timeout=5):
    """
    True when the API server at ``endpoint`` (``host:port``) answers ``/healthz`` with ``ok``.

    CLI Example:

    .. code-block:: bash

        salt-ssh node1 saltsphere_kubernetes.api_ready 10.0.0.2:6443
    """
    return _healthz(endpoint, timeout) is None


def _healthz(endpoint, timeout):
    """None when healthy, else why not."""
    context = ssl.create_default_context(cafile=CA_CERT) if os.path.exists(CA_CERT) else ssl._create_unverified_context()
    context.check_hostname = False
    try:
        with urllib.request.urlopen(f"https://{endpoint}/healthz", timeout=timeout, context=context) as response:
            body = response.read(64).decode(errors="replace")
            return None if body.strip() == "ok" else f"/healthz said {body!r}"
    except urllib.error.HTTPError as exc:
        return f"/healthz answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
        return str(getattr(exc, "reason", exc))


def wait_api(endpoint, seconds=300, interval=2):
    """
    Wait up to ``seconds`` for the API at ``endpoint``; return ``(True, "")`` or ``(False, last error)``.

    CLI Example:

    .. code-block:: bash

        salt-ssh node1 saltsphere_kubernetes.wait_api 127.0.0.1:6444 seconds=60
    """
    deadline = time.monotonic() + float(seconds)
    while True:
        problem = _healthz(endpoint, 5)
        if problem is None:
            return True, ""
        if time.monotonic() >= deadline:
            return False, problem
        time.sleep(interval)


def apiserver_flag(flag):
    """
    The value of ``--FLAG`` on the running kube-apiserver's command line, or None (no API server, or no such flag).

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_kubernetes.apiserver_flag etcd-servers
    """
    prefix = f"--{flag}="
    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == "kube-apiserver":
            return next((arg[len(prefix):] for arg in argv if arg.startswith(prefix)), None)
    return None


def state():
    """
    Where this host stands: ``initialized`` (admin.conf), ``joined`` (kubelet.conf), ``partial`` or ``new``.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' saltsphere_kubernetes.state
    """
    if os.path.exists(KUBELET_CONF):
        return "initialized" if os.path.exists(ADMIN_CONF) else "joined"
    if any(os.path.exists(path) for path in LEFTOVERS):
        return "partial"
    return "new"


def kubeadm(phase, config, extra_args=(), resume=False):
    """
    Run ``kubeadm init`` or ``kubeadm join`` with ``config``; raise with kubeadm's last lines on failure.

    ``resume`` accepts what an interrupted earlier run left behind.  The output
    returned has the bootstrap token removed.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_kubernetes.kubeadm init /etc/kubernetes/saltsphere/kubeadm.yaml
    """
    if phase not in ("init", "join"):
        raise CommandExecutionError(f"kubeadm phase must be init or join, not {phase!r}")
    args = [KUBEADM, phase, f"--config={config}", *extra_args]
    if resume:
        args.append("--ignore-preflight-errors=" + ",".join(RESUME_IGNORES))
    with _one_kubeadm() as lock_fd:
        if state() in ("initialized", "joined"):
            # A kubeadm of an earlier, interrupted run finished while this one waited.
            return f"kubeadm {phase} was completed by an earlier run"
        # kubeadm inherits the locked file: the lock lasts as long as kubeadm
        # does, even when this salt-call is killed and kubeadm goes on.
        code, out, err = _run(args, timeout=KUBEADM_TIMEOUT, pass_fds=(lock_fd,))
    if code != 0:
        raise CommandExecutionError(f"kubeadm {phase} failed (exit {code}):\n{_tail(err or out)}")
    return _tail(out, 5)


@contextlib.contextmanager
def _one_kubeadm():
    """One kubeadm at a time on this host: a run stopped on the taskbox may leave its kubeadm going here.

    Yields the locked descriptor, for kubeadm to inherit.  The lock belongs to
    the open file, so it is never released explicitly: it ends when the last
    process holding the file (this one or the kubeadm it started) is gone.
    """
    with open(KUBEADM_LOCK, "a") as lock:
        deadline = time.monotonic() + KUBEADM_TIMEOUT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CommandExecutionError(
                        f"another kubeadm has held {KUBEADM_LOCK} for {KUBEADM_TIMEOUT} s (an earlier run's); "
                        "see `pgrep -a kubeadm` on this host") from None
                time.sleep(2)
        yield lock.fileno()


def _kubectl(args, kubeconfig=None, timeout=30, input_text=None):
    kubeconfig = kubeconfig or (ADMIN_CONF if os.path.exists(ADMIN_CONF) else KUBELET_CONF)
    code, out, err = _run([KUBECTL, f"--kubeconfig={kubeconfig}", f"--request-timeout={timeout}s", *args],
                          timeout=timeout + 10, input_text=input_text)
    if code != 0:
        raise CommandExecutionError(f"kubectl {' '.join(args)} failed: {_tail(err or out, 5)}")
    return out


def nodes():
    """
    Every node's name, InternalIP, pod range and readiness, read with this host's own credentials.

    CLI Example:

    .. code-block:: bash

        salt-ssh node1 saltsphere_kubernetes.nodes
    """
    data = json.loads(_kubectl(["get", "nodes", "-o", "json"]))
    result = {}
    for item in data.get("items", []):
        addresses = {a["type"]: a["address"] for a in item.get("status", {}).get("addresses", [])}
        conditions = {c["type"]: c["status"] for c in item.get("status", {}).get("conditions", [])}
        result[item["metadata"]["name"]] = {
            "ip": addresses.get("InternalIP", ""),
            "pod_cidr": item.get("spec", {}).get("podCIDR", ""),
            "ready": conditions.get("Ready") == "True",
        }
    return result


def drain(node, timeout=120, force=False):
    """
    Cordon ``node`` and evict its pods (DaemonSets' stay, emptyDir data goes), for ``timeout`` seconds at most.

    A node that is not Ready, or whose host is known to be down (``force``),
    cannot confirm that its pods stopped, and an
    eviction that outlasts ``timeout`` (a PodDisruptionBudget that never
    allows it, a pod that never ends) would hold the removal: then the pods
    still bound to the node are deleted without waiting for it.  Returns what
    was done: ``drained`` or ``pods deleted (...)``.  Needs admin.conf.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_kubernetes.drain node3 timeout=120
        salt-ssh master saltsphere_kubernetes.drain node3 force=True
    """
    timeout = int(timeout)
    _kubectl(["cordon", node], kubeconfig=ADMIN_CONF)
    why = "its host does not answer" if force else "the node is not Ready"
    if not force and nodes().get(node, {}).get("ready"):
        try:
            _kubectl(["drain", node, "--ignore-daemonsets", "--delete-emptydir-data", f"--timeout={timeout}s"],
                     kubeconfig=ADMIN_CONF, timeout=timeout + 30)
            return "drained"
        except CommandExecutionError as exc:
            why = f"the drain did not finish within {timeout} s: {exc}"
    _kubectl(["delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={node}", "--force",
              "--grace-period=0", "--wait=false"], kubeconfig=ADMIN_CONF, timeout=60)
    return f"pods deleted without waiting ({why})"


def delete_node(node):
    """
    Delete the Node ``node`` from the cluster (no error when it is gone already), and the pods still bound to it.

    A DaemonSet makes its pod again on a Node whose pods were deleted; once
    the Node is gone no controller does, and the pods left would wait for the
    pod garbage collector.  Needs admin.conf.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_kubernetes.delete_node node3
    """
    _kubectl(["delete", "node", node, "--ignore-not-found", "--wait=false"], kubeconfig=ADMIN_CONF)
    _kubectl(["delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={node}", "--force",
              "--grace-period=0", "--wait=false"], kubeconfig=ADMIN_CONF, timeout=60)
    return True


def wait_pod_cidr(node, seconds=300, interval=2):
    """
    The pod range the controller manager gave ``node``, waiting up to ``seconds`` for it.

    CLI Example:

    .. code-block:: bash

        salt-ssh node1 saltsphere_kubernetes.wait_pod_cidr node1
    """
    deadline = time.monotonic() + float(seconds)
    problem = ""
    while True:
        try:
            cidr = nodes().get(node, {}).get("pod_cidr", "")
            if cidr:
                return cidr
            problem = f"node {node} has no pod range yet"
        except CommandExecutionError as exc:
            problem = str(exc)
        if time.monotonic() >= deadline:
            raise CommandExecutionError(
                f"waited {seconds} s for node {node}'s pod range: {problem}; is kube-controller-manager running "
                "with --allocate-node-cidrs on the masters?")
        time.sleep(interval)


def token_listed(token_id):
    """
    True when a bootstrap token with id ``token_id`` exists in the cluster (needs admin.conf).

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_kubernetes.token_listed abcdef
    """
    out = _kubectl(["-n", "kube-system", "get", "secret", f"bootstrap-token-{token_id}", "-o", "name",
                    "--ignore-not-found"], kubeconfig=ADMIN_CONF)
    return bool(out.strip())


def create_token(ttl="24h0m0s"):
    """
    Create the cluster's bootstrap token (from the pillar) again, for hosts about to join.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_kubernetes.create_token
    """
    token = _secret()
    if not token:
        raise CommandExecutionError("no bootstrap token in the pillar (saltsphere:kubernetes_pki:token)")
    token_id, token_secret = token.split(".", 1)
    document = (
        "apiVersion: v1\nkind: Secret\ntype: bootstrap.kubernetes.io/token\n"
        f"metadata:\n  name: bootstrap-token-{token_id}\n  namespace: kube-system\n"
        f"stringData:\n  token-id: {token_id}\n  token-secret: {token_secret}\n"
        f"  expiration: \"{_expiry(ttl)}\"\n"
        "  usage-bootstrap-authentication: \"true\"\n  usage-bootstrap-signing: \"true\"\n"
        "  auth-extra-groups: system:bootstrappers:kubeadm:default-node-token\n"
    )
    # On stdin, and created rather than applied: no file, no command line and no
    # last-applied annotation ever holds the secret.
    _kubectl(["create", "-f", "-"], kubeconfig=ADMIN_CONF, input_text=document)
    return True


def delete_token(token_id):
    """
    Delete the bootstrap token ``token_id``: once every host has joined, nothing may join with it.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_kubernetes.delete_token abcdef
    """
    _kubectl(["-n", "kube-system", "delete", "secret", f"bootstrap-token-{token_id}", "--ignore-not-found"],
             kubeconfig=ADMIN_CONF)
    return True


def _expiry(ttl):
    units = {"h": 3600, "m": 60, "s": 1}
    seconds, number = 0, ""
    for char in ttl:
        if char.isdigit():
            number += char
        elif char in units:
            seconds += int(number or 0) * units[char]
            number = ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def routes(pod_subnet):
    """
    The routes of this host into ``pod_subnet``: ``{cidr: gateway}`` (gateway "" for a directly attached one).

    CLI Example:

    .. code-block:: bash

        salt-ssh node1 saltsphere_kubernetes.routes 10.233.64.0/18
    """
    network = ipaddress.ip_network(pod_subnet)
    code, out, err = _run(["ip", "-j", "route", "show"])
    if code != 0:
        raise CommandExecutionError(f"ip route show failed: {err.strip()}")
    result = {}
    for route in json.loads(out or "[]"):
        dst = route.get("dst", "")
        try:
            cidr = ipaddress.ip_network(dst)
        except ValueError:
            continue
        if cidr.version == network.version and cidr.subnet_of(network):
            result[str(cidr)] = route.get("gateway", "")
    return result


def set_route(cidr, gateway=None):
    """
    Route ``cidr`` via ``gateway``, or delete the route when ``gateway`` is None.

    CLI Example:

    .. code-block:: bash

        salt-ssh node1 saltsphere_kubernetes.set_route 10.233.65.0/24 10.0.0.3
    """
    argv = ["ip", "route", "replace", cidr, "via", gateway] if gateway else ["ip", "route", "del", cidr]
    code, _, err = _run(argv)
    if code != 0:
        raise CommandExecutionError(f"{' '.join(argv)} failed: {err.strip()}")
    return True
