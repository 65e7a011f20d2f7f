"""What the cluster's services report about themselves, asked from the taskbox.

Each section comes from a real health check against the hosts (no Salt run):
etcd is asked over its TLS client port with the operators' client certificate.
"""

import http.client
import json
import ssl

from saltsphere import pki


def _etcd_request(ip, port, context, method, path, body=None, timeout=5):
    conn = http.client.HTTPSConnection(ip, port, context=context, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def etcd(cluster, port=2379) -> dict:
    """``{"healthy": bool, "members": int, "endpoints": {host: error or None}}``.

    ``healthy`` means every etcd host of the inventory answers healthy;
    ``members`` is the member count the cluster itself reports.
    """
    members = cluster.role_members("etcd")
    client = pki.admin_client(cluster.directory)
    context = ssl.create_default_context(cafile=str(client["ca"]))
    context.load_cert_chain(str(client["cert"]), str(client["key"]))
    endpoints, count = {}, 0
    for member in members:
        try:
            status, body = _etcd_request(member.ip, port, context, "GET", "/health")
            healthy = status == 200 and str(json.loads(body).get("health")).lower() == "true"
            endpoints[member.name] = None if healthy else f"unhealthy: {body.strip()[:200]}"
            if healthy and not count:
                _, listing = _etcd_request(member.ip, port, context, "POST", "/v3/cluster/member/list", body="{}")
                count = len(json.loads(listing).get("members", []))
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            endpoints[member.name] = str(exc)
    healthy = bool(members) and all(error is None for error in endpoints.values())
    return {"healthy": healthy, "members": count, "endpoints": endpoints}


def collect(cluster) -> dict:
    return {"etcd": etcd(cluster)}
