"""The kubernetes phase's orchestration renders with Salt's real loaders: masters join one at a time, then the nodes."""

from test_certs_renew_render import _render, _requires, _steps

MASTERS = ["m1", "m2", "m3"]
NODES = ["n1", "n2"]
HA = {"saltsphere": {"cluster": {
    "hosts": {**{name: {"ip": f"10.0.0.{i}", "roles": ["etcd", "kube-master"]} for i, name in enumerate(MASTERS, 1)},
              **{name: {"ip": f"10.0.1.{i}", "roles": ["kube-node"]} for i, name in enumerate(NODES, 1)}},
    "etcd": [{"name": name, "ip": f"10.0.0.{i}"} for i, name in enumerate(MASTERS, 1)],
    "kube-master": [{"name": name, "ip": f"10.0.0.{i}"} for i, name in enumerate(MASTERS, 1)],
    "kube-node": [{"name": name, "ip": f"10.0.1.{i}"} for i, name in enumerate(NODES, 1)],
}}}


def test_each_join_requires_the_one_before_it(master_loaders):
    steps = {sid: args for sid, _, args in _steps(_render(master_loaders, "kubesphere.kubernetes", HA))}
    assert _requires(steps["kubesphere-kubernetes-init-salt-state"]) == ["kubesphere-kubernetes-prepare-salt-state"]
    assert _requires(steps["kubesphere-kubernetes-join-master-m2-salt-state"]) == [
        "kubesphere-kubernetes-init-salt-state"]
    assert _requires(steps["kubesphere-kubernetes-join-master-m3-salt-state"]) == [
        "kubesphere-kubernetes-join-master-m2-salt-state"]
    assert _requires(steps["kubesphere-kubernetes-join-nodes-salt-state"]) == [
        "kubesphere-kubernetes-join-master-m3-salt-state"]
    assert steps["kubesphere-kubernetes-join-nodes-salt-state"]["tgt"] == "n1,n2"
