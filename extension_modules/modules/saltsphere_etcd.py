"""
Health and membership of etcd over its TLS client port, with the standard library only.

Runs on cluster hosts; talks to etcd's HTTP endpoints (``/health`` and the
JSON gateway of the v3 cluster API, what ``etcdctl member list|add|remove``
call) with a client certificate, so neither etcdctl nor a gRPC library is
needed.
"""

import http.client
import json
import ssl
import time

__virtualname__ = "saltsphere_etcd"


def __virtual__():
    return __virtualname__


def _context(ca, cert, key):
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    return context


def endpoint_health(endpoint, ca, cert, key, timeout=5):
    """
    Ask one etcd endpoint (``https://IP:PORT``) whether it is healthy.

    Returns ``{"healthy": bool, "error": str or None}``; a member that is up
    but has no quorum answers ``healthy: False``.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd.endpoint_health https://10.0.0.1:2379 /etc/etcd/pki/ca.crt \\
            /etc/etcd/pki/healthcheck-client.crt /etc/etcd/pki/healthcheck-client.key
    """
    host_port = endpoint.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    try:
        conn = http.client.HTTPSConnection(host, int(port), context=_context(ca, cert, key), timeout=timeout)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return {"healthy": False, "error": f"{endpoint}: {exc}"}
    try:
        healthy = str(json.loads(body).get("health")).lower() == "true"
    except (ValueError, AttributeError):
        return {"healthy": False, "error": f"{endpoint}: unexpected answer {body[:200]!r}"}
    return {"healthy": healthy, "error": None if healthy else f"{endpoint}: {body.strip()[:200]}"}


def _post(endpoint, path, body, ca, cert, key, timeout):
    host_port = endpoint.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    conn = http.client.HTTPSConnection(host, int(port), context=_context(ca, cert, key), timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
    finally:
        conn.close()
    if response.status != 200:
        raise ValueError(f"{endpoint}{path}: HTTP {response.status}: {text.strip()[:300]}")
    return json.loads(text)


def member_list(endpoint, ca, cert, key, timeout=10):
    """
    The members of the etcd cluster ``endpoint`` belongs to, as ``etcdctl member list`` shows them.

    Returns ``{"members": [{"id", "name", "peer_urls", "started"}], "error": None}``, or ``members`` None and
    the ``error``.  A member added but not started yet has no name (``started`` False).

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd.member_list https://10.0.0.1:2379 /etc/etcd/pki/ca.crt \\
            /etc/etcd/pki/healthcheck.crt /etc/etcd/pki/healthcheck.key
    """
    try:
        listing = _post(endpoint, "/v3/cluster/member/list", {}, ca, cert, key, timeout).get("members", [])
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        return {"members": None, "error": f"{endpoint}: {exc}"}
    return {"members": [{"id": str(m.get("ID")), "name": m.get("name", ""), "peer_urls": m.get("peerURLs", []),
                         "started": bool(m.get("name"))} for m in listing], "error": None}


def member_remove(endpoint, member_id, ca, cert, key, timeout=30):
    """
    Remove the member ``member_id`` (as ``member_list`` gives it) from the cluster ``endpoint`` belongs to.

    Returns ``{"removed": bool, "error": str or None}``.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd.member_remove https://10.0.0.1:2379 8211f1d0f64f3269 \\
            /etc/etcd/pki/ca.crt /etc/etcd/pki/healthcheck.crt /etc/etcd/pki/healthcheck.key
    """
    try:
        _post(endpoint, "/v3/cluster/member/remove", {"ID": str(member_id)}, ca, cert, key, timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        return {"removed": False, "error": f"{endpoint}: {exc}"}
    return {"removed": True, "error": None}


def member_add(endpoint, peer_url, ca, cert, key, timeout=30):
    """
    Add a member with ``peer_url`` to the cluster ``endpoint`` belongs to (it joins once started).

    Returns ``{"members": [...] (as member_list, with the new one), "error": str or None}``.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd.member_add https://10.0.0.1:2379 https://10.0.0.4:2380 \\
            /etc/etcd/pki/ca.crt /etc/etcd/pki/healthcheck.crt /etc/etcd/pki/healthcheck.key
    """
    try:
        _post(endpoint, "/v3/cluster/member/add", {"peerURLs": [peer_url]}, ca, cert, key, timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        return {"members": None, "error": f"{endpoint}: {exc}"}
    return member_list(endpoint, ca, cert, key)


def cluster_health(endpoints, ca, cert, key, timeout=5):
    """
    Health of every endpoint in ``endpoints`` (a list or a comma-separated string).

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd.cluster_health https://10.0.0.1:2379,https://10.0.0.2:2379 \\
            /etc/etcd/pki/ca.crt /etc/etcd/pki/healthcheck-client.crt /etc/etcd/pki/healthcheck-client.key
    """
    if isinstance(endpoints, str):
        endpoints = [e for e in endpoints.split(",") if e]
    return {e: endpoint_health(e, ca, cert, key, timeout) for e in endpoints}


def wait_member(endpoint, endpoints, ca, cert, key, timeout=120, interval=2):
    """
    Wait until ``endpoint`` is healthy, or until it is clear that no member is.

    While some other member is healthy (a quorum exists), a restarted member
    must rejoin before the next one may restart.  When no member at all is
    healthy the cluster is still forming: members must start in turn without
    waiting for each other, so this returns at once with ``forming: True``.
    A single-member cluster has nobody to wait for and always waits for itself.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd.wait_member https://10.0.0.1:2379 https://10.0.0.1:2379 \\
            /etc/etcd/pki/ca.crt /etc/etcd/pki/healthcheck-client.crt /etc/etcd/pki/healthcheck-client.key
    """
    if isinstance(endpoints, str):
        endpoints = [e for e in endpoints.split(",") if e]
    deadline = time.monotonic() + float(timeout)
    while True:
        own = endpoint_health(endpoint, ca, cert, key)
        if own["healthy"]:
            return {"healthy": True, "forming": False, "error": None}
        others = [e for e in endpoints if e != endpoint]
        if others and not any(endpoint_health(e, ca, cert, key)["healthy"] for e in others):
            return {"healthy": False, "forming": True, "error": own["error"]}
        if time.monotonic() >= deadline:
            return {"healthy": False, "forming": False, "error": own["error"]}
        time.sleep(float(interval))


def wait_cluster(endpoints, ca, cert, key, timeout=180, interval=2):
    """
    Wait until every endpoint is healthy; return the last health of each.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_etcd.wait_cluster https://10.0.0.1:2379 /etc/etcd/pki/ca.crt \\
            /etc/etcd/pki/healthcheck-client.crt /etc/etcd/pki/healthcheck-client.key
    """
    deadline = time.monotonic() + float(timeout)
    while True:
        health = cluster_health(endpoints, ca, cert, key)
        if all(h["healthy"] for h in health.values()) or time.monotonic() >= deadline:
            return health
        time.sleep(float(interval))
