"""
Give each host of the cluster its pillar: its roles, the cluster's topology and
the validated config, under ``saltsphere``.

Credentials from ``vars.yml`` reach the first master only; TLS material is
issued on the taskbox (see :mod:`saltsphere.pki`) and each host receives only
its own keys.  Kubernetes hosts also get the bundle's location and files,
their kubeadm configuration (:mod:`saltsphere.kube`); the first master gets
the manifests it applies: calico, the storage classes, KubeSphere.

.. code-block:: yaml

    ext_pillar:
      - saltsphere: {}
"""

import logging

import salt.roster

try:
    from saltsphere import calico, cluster, kube, kubesphere, pki, storage

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

log = logging.getLogger(__name__)

__virtualname__ = "saltsphere"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    return __virtualname__


def ext_pillar(minion_id, pillar, *args, **kwargs):
    """
    Return the saltsphere pillar of ``minion_id``.
    """
    hosts_ini = salt.roster.get_roster_file(__opts__)
    loaded = cluster.load_cached(hosts_ini, __opts__.get("saltsphere_vars"))
    data = loaded.pillar(minion_id)
    spec = loaded.hosts.get(minion_id)
    if spec is not None:
        tls = pki.host_pillar(loaded.directory, spec.name, spec.roles, spec.ip)
        data["saltsphere"].update(tls.get("saltsphere", {}))
        bundle = kube.bundle_pillar(loaded, spec)
        data["saltsphere"]["bundle"] = bundle
        kubernetes_pki = data["saltsphere"].get("kubernetes_pki")
        if kubernetes_pki:
            data["saltsphere"].update(kube.host_pillar(loaded, spec, kubernetes_pki, bundle))
        data["saltsphere"].update(calico.host_pillar(loaded, spec, bundle))
        data["saltsphere"].update(storage.host_pillar(loaded, spec))
        data["saltsphere"].update(kubesphere.host_pillar(loaded, spec))
    return data
