"""The certificate renewal renders with Salt's real loaders: one host at a time, no CA key on any host."""

import pytest

MEMBERS = ["m1", "m2", "m3"]
THREE_MASTERS = {"saltsphere": {"cluster": {
    "hosts": {name: {"ip": f"10.0.0.{i}", "roles": ["etcd", "kube-master"]} for i, name in enumerate(MEMBERS, 1)},
    "etcd": [{"name": name, "ip": f"10.0.0.{i}"} for i, name in enumerate(MEMBERS, 1)],
    "kube-master": [{"name": name, "ip": f"10.0.0.{i}"} for i, name in enumerate(MEMBERS, 1)],
    "kube-node": [],
}}}


def _render(loaders, sls, pillar=None):
    ret = loaders.modules.state.show_sls(sls, pillar=pillar)
    assert isinstance(ret, dict), f"{sls} did not render: {ret}"
    return ret


def _args(state):
    module = next(key for key in state if not key.startswith("__"))
    return module, dict(kv for arg in state[module] if isinstance(arg, dict) for kv in arg.items())


def _steps(ret):
    """(state id, module, arguments) in the order the orchestration runs them."""
    steps = [(sid, *_args(state)) for sid, state in ret.items()]
    return sorted(steps, key=lambda step: step[2]["order"])


def _requires(args):
    return [value for item in args.get("require", []) for value in item.values()]


def test_the_renewal_goes_one_member_then_one_master_at_a_time_each_after_the_one_before(master_loaders):
    steps = _steps(_render(master_loaders, "kubesphere.certs_renew", THREE_MASTERS))
    ids = [sid for sid, _, _ in steps]
    assert ids == [
        "kubesphere-prepare-saltsphere-cluster-prepared",
        "kubesphere-etcd-backup-salt-runner",
        "kubesphere-certs-renew-saltsphere-pki-salt-runner",
        *[f"kubesphere-certs-renew-etcd-{m}-salt-state" for m in MEMBERS],
        "kubesphere-certs-renew-etcd-cluster-healthy-salt-state",
        *[f"kubesphere-certs-renew-master-{m}-salt-state" for m in MEMBERS],
    ]
    for (before, _, _), (sid, module, args) in zip(steps[1:], steps[2:]):
        assert _requires(args) == [before], sid
        assert args["failhard"] is True
        if module == "salt" and "tgt" in args:
            assert args["tgt"] in MEMBERS and args.get("tgt_type", "glob") == "glob", "one host per step"
            assert args["pillar"] == {"saltsphere_orchestration": {"phase": "certs_renew"}}
    sls = {sid: args.get("sls") for sid, _, args in steps}
    assert sls["kubesphere-certs-renew-etcd-m2-salt-state"] == "etcd.certs_renewed"
    assert sls["kubesphere-certs-renew-master-m2-salt-state"] == "kubernetes.certs_renewed"


def test_a_backup_taken_already_is_not_taken_again(master_loaders):
    pillar = {**THREE_MASTERS, "saltsphere_certs_renew": {"backup": "/c/.saltsphere/backups/etcd-x.db"}}
    steps = _steps(_render(master_loaders, "kubesphere.certs_renew", pillar))
    assert [sid for sid, _, _ in steps][:2] == ["kubesphere-prepare-saltsphere-cluster-prepared",
                                                "kubesphere-certs-renew-saltsphere-pki-salt-runner"]
    assert _requires(steps[1][2]) == ["kubesphere-prepare-saltsphere-cluster-prepared"]


def test_the_renewal_phase_carries_no_ca_key_and_no_kubeadm_configuration(master_loaders):
    own = master_loaders.modules.pillar.items(pillar={"saltsphere_orchestration": {"phase": "certs_renew"}})
    own = own["saltsphere"]
    assert own["kubernetes_pki"]["ca"] is None and own["kubernetes_pki"]["front_proxy_ca"] is None
    assert own["kubernetes_pki"]["sa"] is None and own["kubernetes"]["kubeadm_config"] is None
    assert "PRIVATE KEY" not in str(own["etcd"]["ca"])
    assert own["etcd"]["apiserver_client"]["key"]


@pytest.mark.parametrize("sls", ["etcd.certs_renewed", "kubernetes.certs_renewed"])
def test_each_hosts_step_renders_in_the_renewal_phase(master_loaders, sls):
    ret = _render(master_loaders, sls, {"saltsphere_orchestration": {"phase": "certs_renew"}})
    assert "transport-wipe-saltsphere-transport-wiped" in ret


def test_a_master_renews_with_kubeadm_then_restarts_its_control_plane_and_waits_for_its_own_api(master_loaders):
    ret = _render(master_loaders, "kubernetes.certs_renewed", {"saltsphere_orchestration": {"phase": "certs_renew"}})
    own = _steps({sid: state for sid, state in ret.items() if state["__sls__"] == "kubernetes.certs_renewed"})
    ids = [sid for sid, _, _ in own]
    assert ids.index("kubernetes-certs-renewed-cmd-run-kubeadm-certs-renew") < \
        ids.index("kubernetes-certs-renewed-file-rename-kube-apiserver-parked") < \
        ids.index("kubernetes-certs-renewed-saltsphere-etcd-snapshot-process-gone-kube-apiserver") < \
        ids.index("kubernetes-certs-renewed-file-rename-kube-apiserver-back") < \
        ids.index("kubernetes-certs-renewed-saltsphere-etcd-snapshot-api-ready")
    args = dict((sid, args) for sid, _, args in own)
    assert args["kubernetes-certs-renewed-cmd-run-kubeadm-certs-renew"]["name"].endswith("kubeadm certs renew all")
    assert args["kubernetes-certs-renewed-saltsphere-etcd-snapshot-api-ready"]["name"].endswith(":6443")
    key = args["kubernetes-certs-renewed-file-managed-apiserver-etcd-client.key"]
    assert key["show_changes"] is False and key["mode"] == "0600"
    # Every control-plane pod is gone before any comes back.
    assert args["kubernetes-certs-renewed-saltsphere-etcd-snapshot-process-gone-kube-controller-manager"]["name"] \
        == "kube-controller"
    back = {sid for sid in ids if sid.endswith("-back")}
    for sid in (sid for sid in ids if "-process-gone-" in sid):
        assert back <= {value for item in args[sid]["require_in"] for value in item.values()}, sid
