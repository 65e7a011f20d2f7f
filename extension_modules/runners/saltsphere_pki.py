"""
The cluster's certificates, issued on the taskbox.

The ext_pillar issues what a host needs when that host's pillar is compiled;
this runner issues everything at once (to prepare a cluster, or after adding
hosts) and lists what is there.  Keys never leave the state directory through
it: it returns paths, subjects and expiry dates only.

.. code-block:: bash

    salt-run saltsphere_pki.ensure
"""

import salt.roster

try:
    from cryptography import x509

    from saltsphere import cluster, pki

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

__virtualname__ = "saltsphere_pki"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    return __virtualname__


def ensure():
    """
    Issue every certificate the inventory calls for (existing ones are kept) and list them.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere_pki.ensure
    """
    loaded = cluster.load_cached(salt.roster.get_roster_file(__opts__), __opts__.get("saltsphere_vars"))
    for spec in loaded.hosts.values():
        pki.host_pillar(loaded.directory, spec.name, spec.roles, spec.ip)
    pki.admin_client(loaded.directory)
    listing = {}
    for path in sorted((pki.state_dir(loaded.directory) / "pki").rglob("*.crt")):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        listing[str(path)] = {
            "subject": cert.subject.rfc4514_string(),
            "expires": cert.not_valid_after_utc.isoformat(),
        }
    return listing


def kubeconfig():
    """
    Write the administrator's kubeconfig for this cluster on the taskbox (0600) and return its path.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere_pki.kubeconfig
    """
    from saltsphere import kube

    loaded = cluster.load_cached(salt.roster.get_roster_file(__opts__), __opts__.get("saltsphere_vars"))
    return str(pki.write_admin_kubeconfig(loaded.directory, f"https://{kube.endpoint_from_taskbox(loaded)}"))
