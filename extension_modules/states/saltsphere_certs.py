"""
Guards for the CA certificates a host holds.

A host that already trusts a CA must never be handed another one: its peers
would reject it.  ``ca_kept`` fails, before anything is written, when the file
holds a certificate other than the one this cluster's taskbox has.

.. code-block:: yaml

    kubernetes-pki-saltsphere-certs-ca-kept:
      saltsphere_certs.ca_kept:
        - name: /etc/kubernetes/pki/ca.crt
        - contents: {{ ca_cert | json }}
"""

__virtualname__ = "saltsphere_certs"


def __virtual__():
    if "saltsphere_certs.fingerprints" not in __salt__:
        return False, "the saltsphere_certs execution module is not loaded"
    return __virtualname__


def ca_kept(name, contents):
    """
    Succeed when ``name`` is missing or holds the same certificate as ``contents``.

    name
        The CA certificate's path on the host.
    contents
        The CA certificate (PEM) the taskbox holds for this cluster.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    wanted = __salt__["saltsphere_certs.fingerprint_of"](contents)
    held = __salt__["saltsphere_certs.fingerprints"]([name])[name]
    if held is None or held == wanted:
        ret["comment"] = f"{name} holds this cluster's CA" if held else f"{name} is not there yet"
        return ret
    ret["result"] = False
    ret["comment"] = (
        f"{name} holds another CA (sha256 {held}) than this cluster's taskbox (sha256 {wanted}): the taskbox's "
        ".saltsphere/pki is not the one this host was installed from. Nothing was changed. Restore .saltsphere/ "
        "beside hosts.ini from a backup, or move it away and import the hosts' CAs with `saltsphere pki import`."
    )
    return ret
