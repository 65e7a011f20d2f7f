"""The whole install's orchestration renders with Salt's real loaders: its phases run only when the hosts would change."""

import salt.state
from test_certs_renew_render import _render, _steps
from test_kubernetes_orchestration_render import HA

PLANNED = "kubesphere-planned-saltsphere-cluster-planned"
PLANNED_REQ = {"saltsphere_cluster": PLANNED}


def _compiled(loaders, sls):
    """The orchestration's high data with its ``*_in`` requisites applied, as ``state.orchestrate`` runs it."""
    high, errors = salt.state.State(loaders.opts).requisite_in(_render(loaders, sls, HA))
    assert not errors
    return high


def _onchanges(args):
    return args.get("onchanges", [])


def test_every_step_of_every_phase_runs_onchanges_of_the_planned_state(master_loaders):
    steps = _steps(_compiled(master_loaders, "kubesphere"))
    ids = [sid for sid, _, _ in steps]
    assert ids[:3] == ["kubesphere-preflight-saltsphere-cluster-preflight-passed",
                       "kubesphere-prepare-saltsphere-cluster-prepared", PLANNED]
    assert ids[-1] == "kubesphere-completed-saltsphere-cluster-completed"
    hosts_steps = [(sid, args) for sid, module, args in steps if module == "salt"]
    # os, three etcd members and their health, containerd, prepare/init/two joins/nodes, network, storage, ks
    assert len(hosts_steps) == 14
    for sid, args in hosts_steps:
        assert args["ssh"] is True
        assert PLANNED_REQ in _onchanges(args), sid
    # The taskbox's own steps always run.
    for sid, module, args in steps:
        if module != "salt":
            assert not _onchanges(args), sid


def test_the_planned_state_comes_after_the_prepare_step_and_the_record_after_the_last_phase(master_loaders):
    steps = {sid: args for sid, _, args in _steps(_compiled(master_loaders, "kubesphere"))}
    assert steps[PLANNED]["require"] == [{"saltsphere_cluster": "kubesphere-prepare-saltsphere-cluster-prepared"}]
    assert steps["kubesphere-completed-saltsphere-cluster-completed"]["require"] == [{"sls": "kubesphere.ks"}]


def test_a_phase_run_alone_always_runs(master_loaders):
    for phase in ("os", "etcd", "kubernetes", "ks"):
        steps = _steps(_compiled(master_loaders, f"kubesphere.{phase}"))
        assert PLANNED not in [sid for sid, _, _ in steps]
        assert all(not _onchanges(args) for _, _, args in steps), phase


def test_the_question_alone_changes_no_step(master_loaders):
    steps = _steps(_compiled(master_loaders, "kubesphere.planned"))
    assert [sid for sid, _, _ in steps] == ["kubesphere-prepare-saltsphere-cluster-prepared", PLANNED]
