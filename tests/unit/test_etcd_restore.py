"""``saltsphere etcd restore``: the hash checked first, confirmation, the snapshot to members only, the host states."""

import base64
import datetime
import hashlib
import json
import os
from unittest.mock import Mock

import pytest

from saltsphere import cluster, etcdbackup, etcdrestore
from saltsphere.errors import ActionableError

from sample_inputs import SEED_HOSTS_INI, hosts_ini, load_extension

snapshot_module = load_extension("modules", "saltsphere_etcd_snapshot")
snapshot_states = load_extension("states", "saltsphere_etcd_snapshot")

NOW = datetime.datetime(2027, 3, 1, 12, 0, 5, tzinfo=datetime.timezone.utc)
DATA = b"bbolt store with every Secret" * 100


@pytest.fixture
def loaded(write_cluster):
    return cluster.load(str(write_cluster()))


# --- restore: the taskbox ---------------------------------------------------------------------------------------------


@pytest.fixture
def stored(loaded):
    return etcdbackup.store(loaded.directory, DATA, hashlib.sha256(DATA).hexdigest(), NOW)


def test_a_restore_of_a_changed_snapshot_is_refused_before_asking_or_touching_anything(loaded, stored):
    stored.write_bytes(b"tampered")
    ask, runner = Mock(), Mock()
    with pytest.raises(ActionableError, match="does not match"):
        etcdrestore.run(loaded, str(stored), ask=ask, runner=runner)
    ask.assert_not_called()
    runner.assert_not_called()


def test_a_restore_asks_first_and_a_no_changes_nothing(loaded, stored, capsys):
    runner = Mock()
    assert etcdrestore.run(loaded, str(stored), ask=Mock(return_value="no"), runner=runner) == etcdrestore.EXIT_DECLINED
    runner.assert_not_called()
    assert "Nothing was changed" in capsys.readouterr().out


def test_a_confirmed_restore_runs_the_orchestration_with_a_new_token(loaded, stored, capsys):
    ok = (0, json.dumps({"data": {"taskbox_master": {}}, "retcode": 0}), "")
    runner = Mock(return_value=ok)
    assert etcdrestore.run(loaded, str(stored), assume_yes=True, runner=runner, now=NOW) == 0
    _, path, token = runner.call_args.args
    assert path == stored.resolve() and token == "saltsphere-restore-20270301T120005Z"
    assert "the API answers" in capsys.readouterr().out


def test_a_restore_of_several_members_is_warned_about_as_untested(write_cluster, capsys):
    three = cluster.load(str(write_cluster(SEED_HOSTS_INI.replace("[etcd]\nmaster\n", "[etcd]\nmaster\nnode1\nnode2\n"))))
    path = etcdbackup.store(three.directory, DATA, hashlib.sha256(DATA).hexdigest(), NOW)
    assert etcdrestore.run(three, str(path), ask=Mock(return_value="no"), runner=Mock()) == etcdrestore.EXIT_DECLINED
    assert "warning: untested: restoring 3 etcd members at once" in capsys.readouterr().err


def test_a_restore_of_one_member_has_no_warning(loaded, stored, capsys):
    etcdrestore.run(loaded, str(stored), ask=Mock(return_value="no"), runner=Mock())
    assert "warning" not in capsys.readouterr().err


def test_only_etcd_members_get_the_snapshot_and_only_in_the_restore_step(write_cluster, stored):
    loaded = cluster.load(str(write_cluster(hosts_ini(etcd=("master", "node1", "node2")))))
    step = {"phase": "etcd_restore", "snapshot": str(stored), "token": "t"}
    pillar = etcdrestore.host_pillar(loaded, loaded.hosts["master"], step)["etcd_restore"]
    assert base64.b64decode(pillar["data"]) == DATA and pillar["token"] == "t"
    assert etcdrestore.host_pillar(loaded, loaded.hosts["master"], {"phase": "etcd_restore"}) == {}
    plain = cluster.load(str(write_cluster(SEED_HOSTS_INI, directory=stored.parent.parent.parent / "other")))
    assert etcdrestore.host_pillar(plain, plain.hosts["node1"], step) == {}


# --- restore: the host ------------------------------------------------------------------------------------------------

PILLAR = {"saltsphere": {"etcd_restore": {"data": base64.b64encode(DATA).decode(),
                                          "sha256": hashlib.sha256(DATA).hexdigest(), "token": "new-token"}}}


def _restore_into(data, sha256, data_dir, *args, **kwargs):
    os.makedirs(os.path.join(data_dir, "member"))


def _wire_states(restore=None, test=False, pillar=PILLAR):
    snapshot_states.__salt__ = {"saltsphere_etcd_snapshot.restore": restore or Mock(side_effect=_restore_into)}
    snapshot_states.__pillar__ = pillar
    snapshot_states.__opts__ = {"test": test}


def _restored(data_dir):
    return snapshot_states.restored(str(data_dir), "saltsphere:etcd_restore", "master",
                                    "master=https://10.0.0.1:2380", "https://10.0.0.1:2380")


def test_restored_keeps_the_old_data_aside_and_records_the_token(tmp_path):
    data_dir = tmp_path / "saltsphere"
    (data_dir / "member").mkdir(parents=True)
    (data_dir / "member" / "old").write_text("old")
    restore = Mock(side_effect=_restore_into)
    _wire_states(restore)
    ret = _restored(data_dir)
    assert ret["result"] is True and ret["changes"]["aside"] == f"{data_dir}.before-restore"
    assert (tmp_path / "saltsphere.before-restore" / "member" / "old").exists()
    assert (data_dir / "member").is_dir() and not (data_dir / "member" / "old").exists()
    assert (tmp_path / "saltsphere.restored-token").read_text() == "new-token\n"
    assert restore.call_args.args[2] == f"{data_dir}.restoring" and restore.call_args.args[6] == "new-token"
    assert "AAAA" not in repr(ret) and base64.b64encode(DATA).decode()[:20] not in repr(ret)
    again = _restored(data_dir)
    assert again["result"] is True and again["changes"] == {}
    assert restore.call_count == 1


def test_restored_after_a_cut_run_restores_again_and_keeps_the_first_aside(tmp_path):
    data_dir = tmp_path / "saltsphere"
    (tmp_path / "saltsphere.before-restore" / "member").mkdir(parents=True)
    (tmp_path / "saltsphere.restoring" / "member").mkdir(parents=True)
    _wire_states()
    ret = _restored(data_dir)
    assert ret["result"] is True and (data_dir / "member").is_dir()
    assert (tmp_path / "saltsphere.before-restore" / "member").is_dir()


def test_restored_a_wiped_member_gets_its_data_back(tmp_path):
    _wire_states()
    ret = _restored(tmp_path / "saltsphere")
    assert ret["result"] is True and "aside" not in ret["changes"]


def test_restored_under_test_predicts_and_writes_nothing(tmp_path):
    data_dir = tmp_path / "saltsphere"
    (data_dir / "member").mkdir(parents=True)
    restore = Mock()
    _wire_states(restore, test=True)
    ret = _restored(data_dir)
    assert ret["result"] is None and ret["changes"]["restored"]["token"] == "new-token"
    restore.assert_not_called()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saltsphere"]


def test_restored_without_the_snapshot_in_its_pillar_says_how_to_run_it(tmp_path):
    _wire_states(pillar={})
    ret = _restored(tmp_path / "saltsphere")
    assert ret["result"] is False and "saltsphere etcd restore" in ret["comment"]


def test_restored_failing_says_where_the_old_data_is(tmp_path):
    data_dir = tmp_path / "saltsphere"
    (data_dir / "member").mkdir(parents=True)
    _wire_states(Mock(side_effect=snapshot_module.CommandExecutionError("etcdctl failed")))
    ret = _restored(data_dir)
    assert ret["result"] is False and ret["changes"] == {} and "etcdctl failed" in ret["comment"]
    assert (data_dir / "member").is_dir()


def test_the_aside_goes_once_the_cluster_is_healthy(tmp_path):
    aside = tmp_path / "saltsphere.before-restore"
    (aside / "member").mkdir(parents=True)
    _wire_states(test=True)
    assert snapshot_states.aside_absent(str(tmp_path / "saltsphere"))["result"] is None and aside.exists()
    _wire_states()
    assert snapshot_states.aside_absent(str(tmp_path / "saltsphere"))["changes"] and not aside.exists()
    assert snapshot_states.aside_absent(str(tmp_path / "saltsphere"))["changes"] == {}


def test_the_host_restore_checks_the_hash_and_leaves_no_snapshot(tmp_path, monkeypatch):
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(snapshot_module.tempfile, "tempdir", str(work))
    seen = []

    def run_all(argv, **kwargs):
        seen.append(argv)
        assert oct(os.stat(argv[3]).st_mode & 0o777) == "0o600"
        os.makedirs(os.path.join(argv[4].split("=", 1)[1], "member"))
        return {"retcode": 0, "stdout": "", "stderr": ""}

    snapshot_module.__salt__ = {"cmd.run_all": Mock(side_effect=run_all), "file.chown": Mock()}
    data = base64.b64encode(DATA).decode()
    with pytest.raises(snapshot_module.CommandExecutionError, match="does not match"):
        snapshot_module.restore(data, "0" * 64, str(tmp_path / "fresh"), "m", "m=https://a:2380", "https://a:2380", "t")
    snapshot_module.restore(data, hashlib.sha256(DATA).hexdigest(), str(tmp_path / "fresh"), "m",
                            "m=https://a:2380", "https://a:2380", "t")
    assert "--initial-cluster-token=t" in seen[0] and "--name=m" in seen[0]
    assert oct((tmp_path / "fresh").stat().st_mode & 0o777) == "0o700" and list(work.iterdir()) == []
