"""The etcd restore renders with Salt's real loaders: the snapshot in the restore step's pillar, and nowhere else."""

import datetime
import hashlib

import pytest

from saltsphere import etcdbackup

DATA = b"a snapshot" * 10
NOW = datetime.datetime(2027, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def snapshot(sample_cluster):
    path = etcdbackup.backup_dir(sample_cluster) / etcdbackup.snapshot_name(NOW)
    if not path.exists():
        path = etcdbackup.store(sample_cluster, DATA, hashlib.sha256(DATA).hexdigest(), NOW)
    return path


def _show(loaders, sls, pillar):
    ret = loaders.modules.state.show_sls(sls, pillar=pillar)
    assert isinstance(ret, dict), f"{sls} did not render: {ret}"
    return ret


def test_the_restore_step_gives_the_member_its_snapshot_and_restores_with_its_own_name(master_loaders, snapshot):
    step = {"saltsphere_orchestration": {"phase": "etcd_restore", "snapshot": str(snapshot), "token": "t-1"}}
    ret = _show(master_loaders, "etcd.restore", step)
    restored = dict(kv for arg in ret["etcd-restore-saltsphere-etcd-snapshot-restored"]["saltsphere_etcd_snapshot"]
                    if isinstance(arg, dict) for kv in arg.items())
    assert restored["member"] == "master" and restored["peer_url"].endswith(":2380")
    assert restored["initial_cluster"].startswith("master=https://")
    assert "transport-wipe-saltsphere-transport-wiped" in ret


def test_the_snapshot_is_in_the_restore_steps_pillar_only(master_loaders, snapshot):
    def carried(override):
        return bool((master_loaders.modules.pillar.items(pillar=override).get("saltsphere") or {}).get("etcd_restore"))

    step = {"phase": "etcd_restore", "snapshot": str(snapshot), "token": "t-1"}
    assert carried({"saltsphere_orchestration": step})
    for phase in ({}, {"phase": "etcd_restore"}, {"phase": "etcd"}, {"phase": "kubernetes"}):
        assert not carried({"saltsphere_orchestration": phase} if phase else {}), phase


@pytest.mark.parametrize("sls", ["etcd.restored", "kubernetes.control_plane_parked", "kubernetes.control_plane_back"])
def test_the_restores_other_steps_render(master_loaders, sls):
    ret = _show(master_loaders, sls, {"saltsphere_orchestration": {"phase": "etcd_restore"}})
    own = [sid for sid, state in ret.items() if state["__sls__"] == sls]
    role, name = sls.split(".")
    assert own and all(sid.startswith(f"{role}-{name.replace('_', '-')}") for sid in own), own
