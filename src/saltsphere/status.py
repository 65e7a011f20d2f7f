"""What the cluster's services report about themselves, asked from the taskbox.

Each section comes from a real health check against the hosts (no Salt run):
etcd is asked over its TLS client port with the operators' client certificate.
The certificates section reads the taskbox's own files only (``saltsphere
certs check`` asks the hosts too).  Nothing here creates anything: without
the certificates the prepare step makes, the report says which command to run.
"""

import http.client
import json
import ssl

from saltsphere import certs, pki
from saltsphere.errors import ActionableError
from saltsphere.storage import DEFAULT_ANNOTATION


def etcd_request(ip, port, context, method, path, body=None, timeout=5):
    conn = http.client.HTTPSConnection(ip, port, context=context, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def etcd_context(cluster):
    """TLS as the operators' etcd client."""
    client = pki.admin_client(cluster.directory)
    context = ssl.create_default_context(cafile=str(client["ca"]))
    context.load_cert_chain(str(client["cert"]), str(client["key"]))
    return context


def etcd(cluster, port=2379) -> dict:
    """``{"healthy": bool, "members": int, "endpoints": {host: error or None}}``.

    ``healthy`` means every etcd host of the inventory answers healthy;
    ``members`` is the member count the cluster itself reports.
    """
    members = cluster.role_members("etcd")
    context = etcd_context(cluster)
    endpoints, count = {}, 0
    for member in members:
        try:
            status, body = etcd_request(member.ip, port, context, "GET", "/health")
            healthy = status == 200 and str(json.loads(body).get("health")).lower() == "true"
            endpoints[member.name] = None if healthy else f"unhealthy: {body.strip()[:200]}"
            if healthy and not count:
                _, listing = etcd_request(member.ip, port, context, "POST", "/v3/cluster/member/list", body="{}")
                count = len(json.loads(listing).get("members", []))
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            endpoints[member.name] = str(exc)
    healthy = bool(members) and all(error is None for error in endpoints.values())
    return {"healthy": healthy, "members": count, "endpoints": endpoints}


def api_get(ip, port, context, path, timeout=5):
    conn = http.client.HTTPSConnection(ip, port, context=context, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        if response.status != 200:
            raise ValueError(f"GET {path} answered HTTP {response.status}: {body.strip()[:200]}")
        return json.loads(body)
    finally:
        conn.close()


def api_context(cluster):
    """TLS as the operators' Kubernetes client."""
    client = pki.admin_kubernetes_client(cluster.directory)
    context = ssl.create_default_context(cafile=str(client["ca"]))
    context.check_hostname = False  # certificates name the masters' IPs, checked by the CA
    context.load_cert_chain(str(client["cert"]), str(client["key"]))
    return context


def kubernetes(cluster) -> dict:
    """``{"healthy", "version", "nodes": {name: "Ready" | "NotReady"}, "api": {master: error or None}}``.

    Every master's API server is asked with the operators' client certificate;
    the node list comes from the first one that answers.  ``healthy`` means
    every master answers and every node of the inventory is Ready.
    """
    masters = cluster.role_members("kube-master")
    port = cluster.config.values["kube_apiserver_port"]
    context = api_context(cluster)
    api, version, nodes = {}, None, {}
    for master in masters:
        try:
            info = api_get(master.ip, port, context, "/version")
            if version is None:
                version = info.get("gitVersion")
                for item in api_get(master.ip, port, context, "/api/v1/nodes").get("items", []):
                    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                                for c in item.get("status", {}).get("conditions", []))
                    nodes[item["metadata"]["name"]] = "Ready" if ready else "NotReady"
            api[master.name] = None
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            api[master.name] = str(exc)
    expected = {h.name for h in cluster.hosts.values() if {"kube-master", "kube-node"} & set(h.roles)}
    healthy = (bool(masters) and all(error is None for error in api.values())
               and all(nodes.get(name) == "Ready" for name in expected))
    return {"healthy": healthy, "version": version, "nodes": nodes, "api": api}


def storage(cluster) -> dict:
    """``{"default_class": name or None, "classes": [name, ...]}`` as the API lists the StorageClasses.

    The first master that answers is asked; when none does, ``error`` says why.
    """
    port = cluster.config.values["kube_apiserver_port"]
    context = api_context(cluster)
    errors = []
    for master in cluster.role_members("kube-master"):
        try:
            listing = api_get(master.ip, port, context, "/apis/storage.k8s.io/v1/storageclasses")
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{master.name}: {exc}")
            continue
        classes, default = [], None
        for item in listing.get("items", []):
            name = item["metadata"]["name"]
            classes.append(name)
            annotations = item["metadata"].get("annotations") or {}
            if annotations.get(DEFAULT_ANNOTATION) == "true" and default is None:
                default = name
        return {"default_class": default, "classes": sorted(classes)}
    return {"default_class": None, "classes": [], "error": "; ".join(errors)}


def kubesphere(cluster) -> dict:
    """``{"console": url or None, "ready": bool}``.

    ``console`` is the first master's address on the NodePort of the
    ks-console Service, once that Service exists; ``ready`` means the console
    answers there.
    """
    from saltsphere import kubesphere as ks

    port = cluster.config.values["kube_apiserver_port"]
    context = api_context(cluster)
    path = f"/api/v1/namespaces/{ks.NAMESPACE}/services/ks-console"
    for master in cluster.role_members("kube-master"):
        try:
            service = api_get(master.ip, port, context, path)
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError):
            continue
        node_port = next((p["nodePort"] for p in service.get("spec", {}).get("ports", []) if p.get("nodePort")), None)
        if node_port is None:
            break
        url = ks.console_url(cluster, node_port)
        return {"console": url, "ready": ks.console_problem(url) is None}
    return {"console": None, "ready": False}


def certificates(cluster, now=None) -> dict:
    """``{"soonest": {"file", "not_after", "days_left"} or None}`` among the taskbox's certificates.

    ``error`` says why there is none to name.
    """
    try:
        files = certs.taskbox_files(cluster.directory)
    except ActionableError as exc:
        return {"soonest": None, "error": str(exc)}
    first = certs.soonest(certs.rows({}, files, now or certs.now_utc(), cluster.config.values["certs_warn_days"]))
    if first is None:
        return {"soonest": None, "error": f"no readable certificate in {pki.pki_dir_of(cluster.directory)}: run "
                                          "`salt-run saltsphere.prepare`"}
    return {"soonest": {"file": first.file, "not_after": first.not_after, "days_left": first.days_left}}


def collect(cluster) -> dict:
    return {"etcd": etcd(cluster), "kubernetes": kubernetes(cluster), "storage": storage(cluster),
            "kubesphere": kubesphere(cluster), "certificates": certificates(cluster)}
