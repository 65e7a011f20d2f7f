"""
The cluster's certificates on the taskbox: list them, or import the hosts' PKI.

Certificates are issued by the prepare step (``salt-run saltsphere.prepare``,
the first step of every orchestration).  ``list`` shows what is there (paths,
subjects and expiry dates; never a key).  ``import`` takes the cluster's CAs
and certificates back from its hosts onto a taskbox that lost
``.saltsphere/`` — instead of a new CA the hosts would reject.  ``renew``
issues every leaf certificate of the taskbox again from the same CAs (the
``kubesphere.certs_renew`` orchestration's first step on the taskbox).

.. code-block:: bash

    salt-run saltsphere_pki.list
    salt-run saltsphere_pki.import
    salt-run saltsphere_pki.renew
"""

import salt.roster

try:
    from cryptography import x509

    from saltsphere import cluster, hostpki, kube, kubeconfig, pki, sshcall
    from saltsphere.errors import ActionableError

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

__virtualname__ = "saltsphere_pki"
__func_alias__ = {"import_": "import", "list_": "list"}


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    return __virtualname__


def _loaded():
    return cluster.load_cached(salt.roster.get_roster_file(__opts__), __opts__.get("saltsphere_vars"))


def list_():
    """
    Every certificate of the cluster on the taskbox: ``{path: {subject, expires}}``.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere_pki.list
    """
    listing = {}
    for path in sorted(pki.pki_dir_of(_loaded().directory).rglob("*.crt")):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        listing[str(path)] = {
            "subject": cert.subject.rfc4514_string(),
            "expires": cert.not_valid_after_utc.isoformat(),
        }
    return listing


def import_(source=None, ignore_host_keys=None):
    """
    Copy the cluster's CAs (with the keys the masters hold) and the etcd members' certificates from the hosts.

    source
        The master to take the Kubernetes CAs from (default: the first of
        [kube-master]).

    The etcd CA's key never leaves the taskbox, so it cannot be imported:
    etcd certificates are then used as they are while valid, and issuing new
    ones (a new member, a renewal) needs that key from a backup.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere_pki.import
        salt-run saltsphere_pki.import source=master2
    """
    loaded = _loaded()
    try:
        plan = hostpki.import_plan(loaded, source)
        contents = {}
        for host, files in plan.items():
            answer = sshcall.call(__opts__, loaded, "saltsphere_certs.read", kwarg={"paths": sorted(files)},
                                  targets=[host], ignore_host_keys=ignore_host_keys)
            contents[host] = answer.get(host)
        written = hostpki.write_import(loaded, plan, contents)
    except ActionableError as exc:
        __context__["retcode"] = 1
        return {"result": False, "comment": str(exc)}
    return {"result": True, "imported": written,
            "comment": f"imported {len(written)} files into {pki.pki_dir_of(loaded.directory)}; the etcd CA's key "
                       "is not on any host: etcd certificates are used as they are until they need renewing"}


def renew():
    """
    Issue every leaf certificate on the taskbox again from the same CAs, and write ``.saltsphere/admin.conf`` anew.

    The etcd members' peer, server and health-check pairs, the API servers'
    etcd client pair and the operators' client pairs get new keys and a full
    validity; no CA is made or replaced.  The hosts get theirs from the
    ``kubesphere.certs_renew`` orchestration, which runs this first.  Returns
    ``result``, ``comment`` and ``renewed`` (certificate paths; never a key).

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere_pki.renew
    """
    loaded = _loaded()
    hosts = [(spec.name, spec.roles, spec.ip) for spec in loaded.hosts.values()]
    try:
        renewed = pki.renew(loaded.directory, hosts)
        kubeconfig.write(loaded.directory, f"https://{kube.endpoint_from_taskbox(loaded)}")
    except ActionableError as exc:
        __context__["retcode"] = 1
        return {"result": False, "comment": str(exc)}
    return {"result": True, "renewed": renewed,
            "comment": f"{len(renewed)} certificates issued again in {pki.pki_dir_of(loaded.directory)} from the same "
                       f"CAs; {kubeconfig.path(loaded.directory)} written anew"}
