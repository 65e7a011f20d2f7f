"""``saltsphere etcd backup``: names, private files, the recorded sha256, keep-N, and the host function's snapshot."""

import base64
import datetime
import hashlib
import json
import lzma
import os
from unittest.mock import Mock

import pytest

from saltsphere import cli, cluster, etcdbackup, sshcall
from saltsphere.errors import ActionableError

from sample_inputs import SEED_HOSTS_INI, hosts_ini, load_extension

snapshot_module = load_extension("modules", "saltsphere_etcd_snapshot")

NOW = datetime.datetime(2027, 3, 1, 12, 0, 5, tzinfo=datetime.timezone.utc)
DATA = b"bbolt store with every Secret" * 100


def _answer(data=DATA, **extra):
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "status": {"revision": 7, "total_keys": 3},
            "data": base64.b64encode(lzma.compress(data)).decode(), **extra}


@pytest.fixture
def loaded(write_cluster):
    return cluster.load(str(write_cluster()))


def test_a_name_is_the_utc_time_and_names_sort_as_times():
    assert etcdbackup.snapshot_name(NOW) == "etcd-20270301T120005Z.db"
    paris = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert etcdbackup.snapshot_name(paris) == "etcd-20270301T120005Z.db"
    assert etcdbackup.NAME_RE.match(etcdbackup.snapshot_name(NOW))


def test_a_backup_is_private_with_its_sha256_beside_it(loaded, capsys):
    path = etcdbackup.backup(loaded, call=Mock(return_value=_answer()), now=NOW)
    assert path.read_bytes() == DATA and path.parent.name == "backups"
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    recorded = path.with_name(path.name + ".sha256")
    assert recorded.read_text() == f"{hashlib.sha256(DATA).hexdigest()}  {path.name}\n"
    assert oct(recorded.stat().st_mode & 0o777) == "0o600"
    assert etcdbackup.verify(path) == hashlib.sha256(DATA).hexdigest()
    out = capsys.readouterr().out
    assert str(path) in out and "revision 7" in out and "from master" in out


def test_the_snapshot_is_asked_of_the_etcd_members_in_turn_until_one_gives_it(write_cluster):
    loaded = cluster.load(str(write_cluster(hosts_ini(etcd=("master", "node1", "node2")))))
    call = Mock(side_effect=["Connection refused", _answer()])
    answer = etcdbackup.take(loaded, call)
    assert answer["host"] == "node1" and [c.args[0] for c in call.call_args_list] == ["master", "node1"]
    assert call.call_args.args[1]["endpoint"] == "https://192.168.0.2:2379"
    assert call.call_args.args[1]["cert"].endswith("/healthcheck.crt")


def test_no_member_giving_a_snapshot_names_each_reason_and_keeps_nothing(loaded):
    with pytest.raises(ActionableError, match="master: not healthy"):
        etcdbackup.backup(loaded, call=Mock(return_value="not healthy"), now=NOW)
    assert etcdbackup.snapshots(loaded.directory) == []


@pytest.mark.parametrize("damage", [{"sha256": "0" * 64}, {"size": 1}, {"data": base64.b64encode(b"xz?").decode()}])
def test_a_snapshot_that_arrived_damaged_is_not_kept(loaded, damage):
    answer = {**_answer(), **damage}
    with pytest.raises(ActionableError, match="nothing was kept"):
        etcdbackup.backup(loaded, call=Mock(return_value=answer), now=NOW)
    assert etcdbackup.snapshots(loaded.directory) == []


def test_only_the_newest_etcd_backup_keep_are_kept(loaded, capsys):
    for minute in range(12):
        etcdbackup.store(loaded.directory, DATA, hashlib.sha256(DATA).hexdigest(),
                         NOW + datetime.timedelta(minutes=minute))
    (etcdbackup.backup_dir(loaded.directory) / "notes.txt").write_text("an operator's")
    path = etcdbackup.backup(loaded, call=Mock(return_value=_answer()), now=NOW + datetime.timedelta(hours=1))
    kept = etcdbackup.snapshots(loaded.directory)
    assert len(kept) == 10 and kept[-1] == path
    assert kept[0].name == "etcd-20270301T120305Z.db"
    names = sorted(p.name for p in etcdbackup.backup_dir(loaded.directory).iterdir())
    # Ten snapshots with their sha256, the newest with its recorded status too.
    assert len(names) == 22 and "notes.txt" in names and path.name + ".status.json" in names
    assert etcdbackup.recorded_status(path) == {"revision": 7, "total_keys": 3, "host": "master"}
    assert "removed etcd-20270301T120005Z.db" in capsys.readouterr().out


def test_a_snapshot_that_changed_since_the_backup_is_refused(loaded):
    path = etcdbackup.store(loaded.directory, DATA, hashlib.sha256(DATA).hexdigest(), NOW)
    path.write_bytes(DATA + b"!")
    with pytest.raises(ActionableError, match="does not match the sha256"):
        etcdbackup.verify(path)
    path.with_name(path.name + ".sha256").unlink()
    with pytest.raises(ActionableError, match="without its recorded sha256"):
        etcdbackup.verify(path)


@pytest.mark.parametrize("line, accepted", [("etcd_backup_keep: 1", True), ("etcd_backup_keep: 30", True),
                                            ("etcd_backup_keep: 0", False), ("etcd_backup_keep: ten", False)])
def test_etcd_backup_keep_is_checked(check, line, accepted):
    errors = check(vars_text=f"nfs_server_enable: true\nnfs_server_is_default_class: true\n{line}\n").errors
    assert [p.key for p in errors] == ([] if accepted else ["etcd_backup_keep"])


@pytest.mark.parametrize("argv", [["etcd", "backup"], ["etcd", "restore", "x.db", "--yes"]])
def test_etcd_commands_with_a_bad_inventory_exit_2_before_contacting_anything(write_cluster, monkeypatch, capsys,
                                                                             argv):
    monkeypatch.setattr(etcdbackup, "salt_call", Mock(side_effect=AssertionError("a host was contacted")))
    monkeypatch.setattr(sshcall, "call", Mock(side_effect=AssertionError("a host was asked")))
    path = write_cluster(SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=192.168.0.300"))
    assert cli.main(argv + ["-i", str(path)]) == 2
    assert "is not an IP address" in capsys.readouterr().err


# --- the host function ----------------------------------------------------------------------------------------------


def _etcdctl(snapshot=DATA, fail=None):
    def run_all(argv, **kwargs):
        assert kwargs["env"] == {"ETCDCTL_API": "3"} and kwargs["python_shell"] is False
        if fail and fail in argv:
            return {"retcode": 1, "stdout": "", "stderr": "context deadline exceeded"}
        if argv[-2:-1] == ["save"]:
            with open(argv[-1], "wb") as handle:
                handle.write(snapshot)
        if "status" in argv:
            return {"retcode": 0, "stdout": json.dumps({"hash": 1, "revision": 9, "totalKey": 4, "totalSize": 5})}
        return {"retcode": 0, "stdout": "", "stderr": ""}

    return Mock(side_effect=run_all)


def _wire(run_all, healthy=True):
    snapshot_module.__salt__ = {
        "cmd.run_all": run_all,
        "saltsphere_etcd.endpoint_health": Mock(return_value={"healthy": healthy, "error": None if healthy else "x"}),
    }


def _save():
    return snapshot_module.save("https://10.0.0.1:2379", "/pki/ca.crt", "/pki/hc.crt", "/pki/hc.key")


def test_save_returns_the_checked_snapshot_and_leaves_nothing_on_the_host(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot_module.tempfile, "tempdir", str(tmp_path))
    run_all = _etcdctl()
    _wire(run_all)
    answer = _save()
    assert lzma.decompress(base64.b64decode(answer["data"])) == DATA
    assert answer["sha256"] == hashlib.sha256(DATA).hexdigest() and answer["size"] == len(DATA)
    assert answer["status"]["revision"] == 9
    save = run_all.call_args_list[0].args[0]
    assert "--cert=/pki/hc.crt" in save and "--endpoints=https://10.0.0.1:2379" in save
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("healthy, fail, match", [(False, None, "not healthy"), (True, "save", "exit 1"),
                                                  (True, "status", "exit 1")])
def test_save_fails_plainly_and_leaves_nothing(tmp_path, monkeypatch, healthy, fail, match):
    monkeypatch.setattr(snapshot_module.tempfile, "tempdir", str(tmp_path))
    _wire(_etcdctl(fail=fail), healthy=healthy)
    with pytest.raises(snapshot_module.CommandExecutionError, match=match):
        _save()
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_snapshot_bigger_than_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot_module.tempfile, "tempdir", str(tmp_path))
    _wire(_etcdctl())
    with pytest.raises(snapshot_module.CommandExecutionError, match="more than 10"):
        snapshot_module.save("https://10.0.0.1:2379", "ca", "c", "k", max_bytes=10)
    assert list(tmp_path.iterdir()) == []


def test_the_snapshot_file_on_the_host_is_private_while_it_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot_module.tempfile, "tempdir", str(tmp_path))
    modes = []

    def run_all(argv, **kwargs):
        if "status" in argv:
            modes.append((oct(os.stat(argv[-2]).st_mode & 0o777), oct(os.stat(os.path.dirname(argv[-2])).st_mode
                                                                        & 0o777)))
        return _etcdctl()(argv, **kwargs)

    _wire(Mock(side_effect=run_all))
    _save()
    assert modes == [("0o600", "0o700")]



def test_the_runner_returns_the_snapshots_path_or_fails_with_the_reason(loaded, monkeypatch):
    runner = load_extension("runners", "saltsphere_etcd")
    runner.__opts__, runner.__context__ = {"roster_file": loaded.hosts_ini}, {}
    monkeypatch.setattr(runner.cluster, "load_cached", Mock(return_value=loaded))
    monkeypatch.setattr(runner.sshcall, "call", Mock(return_value={"master": _answer()}))
    done = runner.backup()
    assert done["result"] is True and done["snapshot"].endswith(".db") and "data" not in done
    monkeypatch.setattr(runner.sshcall, "call", Mock(return_value={"master": "Connection refused"}))
    failed = runner.backup()
    assert failed == {"result": False, "comment": "no etcd member gave a snapshot: master: Connection refused"}
    assert runner.__context__["retcode"] == 1
