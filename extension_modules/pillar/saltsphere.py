"""
Give each host of the cluster its pillar: its roles, the cluster's topology and
the validated config, under ``saltsphere``.

Credentials from ``vars.yml`` reach the first master only; TLS material is
issued on the taskbox by the prepare step (:mod:`saltsphere.prepare`), and
each host receives only its own keys.  Kubernetes hosts also get the bundle's
location and files,
their kubeadm configuration (:mod:`saltsphere.kube`); the first master gets
the manifests it applies: calico, the storage classes, KubeSphere.

.. code-block:: yaml

    ext_pillar:
      - saltsphere: {}
"""

import logging

import salt.roster

try:
    from saltsphere import bom, calico, cluster, etcdrestore, kube, kubesphere, pki, storage
    from saltsphere.errors import ActionableError

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

log = logging.getLogger(__name__)

__virtualname__ = "saltsphere"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    return __virtualname__


# What each orchestration phase needs beyond its host's own facts; a run
# outside the orchestration (the highstate, one role applied alone) gets all.
_SIGNING_PHASES = (None, "kubernetes")       # the CA keys kubeadm signs with, the kubeadm file (bootstrap token)
_MANIFEST_PHASES = {"calico": (None, "network"), "storage": (None, "storage"), "ks": (None, "ks")}


def ext_pillar(minion_id, pillar, *args, **kwargs):
    """
    Return the saltsphere pillar of ``minion_id``, read from what the prepare step made; never creates anything.

    The orchestration's phases say which one they are (``saltsphere_orchestration:phase``): CA keys and the
    bootstrap token reach a master only in the phase that signs with them, manifests with secrets only in
    the phase that applies them.  When the prepare step has not run, ``_errors`` says so, and every state
    run stops with that message.
    """
    hosts_ini = salt.roster.get_roster_file(__opts__)
    loaded = cluster.load_cached(hosts_ini, __opts__.get("saltsphere_vars"))
    orchestration = pillar.get("saltsphere_orchestration") or {}
    phase = orchestration.get("phase")
    data = loaded.pillar(minion_id)
    spec = loaded.hosts.get(minion_id)
    # The reset's clean states read parameters only: no key, no manifest, and
    # nothing the prepare step must have made (a purged taskbox resets too).
    if spec is None or phase == "reset":
        return data
    own = data["saltsphere"]
    try:
        tls = pki.host_pillar(loaded.directory, spec.name, spec.roles, spec.ip,
                              with_ca_keys=phase in _SIGNING_PHASES)
    except pki.PKIError as exc:
        return {**data, "_errors": [f"saltsphere: {exc}"]}
    own.update(tls.get("saltsphere", {}))
    bundle = kube.bundle_pillar(loaded, spec)
    own["bundle"] = bundle
    kubernetes_pki = own.get("kubernetes_pki")
    if kubernetes_pki:
        own.update(kube.host_pillar(loaded, spec, kubernetes_pki, bundle))
    try:
        missing = bom.of_cluster(loaded).missing(bom.held_refs(bundle.get("files", {})), bom.NETWORK)
        own.update(calico.host_pillar(loaded, spec, missing))
        own.update(storage.host_pillar(loaded, spec))
        own.update(kubesphere.host_pillar(loaded, spec))
        if phase == "etcd_restore":
            # The snapshot (every Secret of the cluster): etcd members, in the restore step only.
            own.update(etcdrestore.host_pillar(loaded, spec, orchestration))
    except ActionableError as exc:
        return {**data, "_errors": [f"saltsphere: {exc}"]}
    _withhold(own, phase)
    return data


def _withhold(own, phase):
    """Blank, for this phase, what it must not carry.

    Salt merges a pillar compiled with the phase's override into the one
    compiled without it (which holds everything), so what a phase must not
    carry is set to None rather than left out.
    """
    if phase not in _SIGNING_PHASES:
        if own.get("kubernetes_pki"):
            own["kubernetes_pki"].update(ca=None, front_proxy_ca=None, sa=None, token=None)
        if own.get("kubernetes"):
            own["kubernetes"]["kubeadm_config"] = None
    for key, phases in _MANIFEST_PHASES.items():
        if phase not in phases:
            if key == "storage" and own.get("storage"):
                own["storage"]["manifest"] = None
            elif key != "storage":
                own[key] = None
