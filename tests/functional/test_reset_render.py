"""The reset renders with Salt's real loaders: every clean state with no cluster pillar at all, and the orchestration.

A host already out of hosts.ini, or one that never finished, has no cluster
pillar: the clean states must render from the roles' parameters alone.  They
must never be part of the highstate.
"""


import pytest

from saltsphere import reset

from conftest import ROOT, loaders_of

CLEAN = ["ks.clean", "storage.clean", "kubernetes.clean", "network.clean", "containerd.clean", "etcd.clean",
         "os.clean"]
# What a clean SLS may bring besides its own role's states.
SHARED = ("transport.wipe", "os.pkgdb")


@pytest.fixture(scope="module")
def bare(salt_factories, tmp_path_factory):
    """Loaders of a host no inventory names: no ext_pillar, no roster, so no cluster pillar whatsoever."""
    empty = tmp_path_factory.mktemp("no-pillar")
    factory = salt_factories.salt_minion_daemon("gone", overrides={
        "file_client": "local",
        "file_roots": {"base": [str(ROOT / "salt"), str(ROOT / "orchestrate")]},
        "pillar_roots": {"base": [str(empty)]},
        "extension_modules": str(ROOT / "extension_modules"),
        "ext_pillar": [],
    })
    yield from loaders_of(factory.config.copy())


def _render(loaders, sls, pillar=None):
    ret = loaders.modules.state.show_sls(sls, pillar=pillar)
    assert isinstance(ret, dict), f"{sls} did not render: {ret}"
    return ret


@pytest.mark.parametrize("sls", CLEAN)
def test_every_clean_state_renders_without_any_pillar(bare, sls):
    assert not bare.modules.pillar.items(), "this host must have no pillar at all"
    ret = _render(bare, sls)
    role = sls.split(".")[0]
    own = [sid for sid, state in ret.items() if state["__sls__"] == sls]
    assert own and all(sid.startswith(f"{role}-clean-") for sid in own), own
    assert {state["__sls__"] for state in ret.values()} <= {sls, *SHARED}


@pytest.mark.parametrize("sls", CLEAN)
def test_every_clean_state_renders_alike_for_a_cluster_host_in_the_reset(loaders, bare, sls):
    """What the reset gives a host of hosts.ini renders to the same states as no pillar at all."""
    ret = _render(loaders, sls, pillar={"saltsphere_orchestration": {"phase": "reset"}})
    assert sorted(ret) == sorted(_render(bare, sls))


def test_no_clean_state_is_in_the_highstate(loaders):
    top = loaders.modules.state.show_top()
    assert not [sls for names in top.values() for sls in names if "clean" in sls]
    text = (ROOT / "salt" / "top.sls").read_text()
    assert "clean" not in text


def test_the_network_clean_removes_what_the_install_left(bare):
    ret = _render(bare, "network.clean")
    chains = dict(kv for arg in ret["network-clean-saltsphere-netclean-chains-absent"]["saltsphere_netclean"]
                  if isinstance(arg, dict) for kv in arg.items())
    assert {"KUBE-", "CNI-", "cali-"} <= set(chains["prefixes"])
    links = dict(kv for arg in ret["network-clean-saltsphere-netclean-links-absent"]["saltsphere_netclean"]
                 if isinstance(arg, dict) for kv in arg.items())
    assert "cni0" in links["patterns"] and "cali*" in links["patterns"]


def test_the_etcd_clean_removes_its_data(bare):
    ret = _render(bare, "etcd.clean")
    names = [name for arg in ret["etcd-clean-file-absent-data"]["file"] if isinstance(arg, dict)
             for name in arg.get("names", [])]
    assert "/var/lib/etcd" in names


def _steps(ret):
    """(phase, arguments) of each step, in the order the orchestration runs them."""
    steps = [(sid.rsplit("-", 1)[-1],
              dict(kv for arg in state["saltsphere_cluster"] if isinstance(arg, dict) for kv in arg.items()))
             for sid, state in ret.items()]
    return sorted(steps, key=lambda step: step[1]["order"])


def test_the_orchestration_runs_every_phase_in_the_resets_order_on_every_host(master_loaders):
    ret = _render(master_loaders, "kubesphere.reset")
    assert {next(arg for arg in state["saltsphere_cluster"] if isinstance(arg, str)) for state in ret.values()} \
        == {"cleaned"}
    steps = _steps(ret)
    assert [phase for phase, _ in steps] == list(reset.PHASES)
    # The dry run splits one run of the whole reset into its phases by these IDs.
    assert sorted(ret) == sorted(f"{reset.RESET_PREFIX}{phase}" for phase in reset.PHASES)
    targets = {phase: args["hosts"] for phase, args in steps}
    assert targets["ks"] == targets["etcd"] == ["master"]
    assert targets["kubernetes"] == targets["os"] == ["master", "node1", "node2"]
    for phase, args in steps:
        assert args["name"] == f"{phase}.clean"
        assert not args.get("failhard") and "require" not in args, "a failed host must not stop the others"


def test_one_phase_of_the_reset_runs_alone(master_loaders):
    steps = _steps(_render(master_loaders, "kubesphere.reset", pillar={"reset_phase": "network"}))
    assert [phase for phase, _ in steps] == ["network"]


def test_an_unknown_phase_is_refused(master_loaders):
    ret = master_loaders.modules.state.show_sls("kubesphere.reset", pillar={"reset_phase": "nope"})
    assert not isinstance(ret, dict) and "not a phase of the reset" in str(ret)


@pytest.mark.parametrize("sls, sid, unit", [
    ("kubernetes.clean", "kubernetes-clean-service-dead-kubelet", "kubelet"),
    ("network.clean", "network-clean-service-dead-boot", "saltsphere-pod-network"),
    ("containerd.clean", "containerd-clean-service-dead", "containerd"),
])
def test_a_unit_a_clean_removed_already_is_no_change_in_a_dry_run(bare, sls, sid, unit):
    """Salt's service.dead calls a missing unit one it would stop under test=True: it runs only while the unit exists."""
    args = [arg for arg in _render(bare, sls)[sid]["service"] if isinstance(arg, dict)]
    assert {"name": unit} in args
    assert {"onlyif": [{"fun": "service.available", "name": unit}]} in args
