"""``saltsphere etcd restore SNAPSHOT --dry-run``: the snapshot checked, the cluster asked read-only, no change."""

import datetime
import hashlib
import json
from unittest.mock import Mock

import pytest

from saltsphere import cli, cluster, etcdbackup, etcdrestore

from sample_inputs import load_extension

snapshot_module = load_extension("modules", "saltsphere_etcd_snapshot")

NOW = datetime.datetime(2027, 3, 1, 12, 0, 5, tzinfo=datetime.timezone.utc)
DATA = b"bbolt store with every Secret" * 100
STATUS = {"revision": 120, "version": "3.4.23", "db_size": 4096}


@pytest.fixture
def loaded(write_cluster):
    return cluster.load(str(write_cluster()))


@pytest.fixture
def stored(loaded):
    return etcdbackup.store(loaded.directory, DATA, hashlib.sha256(DATA).hexdigest(), NOW,
                            status={"revision": 100, "total_keys": 30, "host": "master"})


def _tree(loaded):
    return {path: path.read_bytes() for path in etcdbackup.backup_dir(loaded.directory).iterdir()}


def test_the_report_names_the_snapshot_members_masters_and_what_would_be_lost(loaded, stored, capsys):
    call = Mock(return_value=STATUS)
    assert etcdrestore.dry_run(loaded, str(stored), call=call) == etcdrestore.EXIT_OK
    host, kwarg = call.call_args.args
    assert host == "master" and kwarg == etcdbackup.member_kwarg(loaded.hosts["master"])
    out = capsys.readouterr().out
    assert (f"Snapshot {stored}: {len(DATA)} bytes, sha256 {hashlib.sha256(DATA).hexdigest()[:16]}... (matches the "
            "recorded one), taken 2027-03-01T12:00:05+00:00, revision 100, 30 keys") in out
    assert "1. park the control plane on master" in out and "2. restore etcd members master from" in out
    assert "The cluster now (asked of master, etcd 3.4.23): revision 120." in out
    assert "Restoring would lose 20 revision(s)" in out


def test_the_json_has_the_same_content(loaded, stored, capsys):
    assert etcdrestore.dry_run(loaded, str(stored), call=Mock(return_value=STATUS), as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["snapshot"] == {"path": str(stored), "size": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest(),
                                  "taken": "2027-03-01T12:00:05+00:00", "revision": 100, "total_keys": 30,
                                  "from": "master"}
    assert (report["members"], report["masters"], report["revisions_lost"]) == (["master"], ["master"], 20)
    assert report["cluster"] == {"answered": True, "error": None, "host": "master", "revision": 120,
                                 "version": "3.4.23"}


def test_a_cluster_that_does_not_answer_is_said_and_the_rest_printed_with_exit_0(write_cluster, capsys):
    from sample_inputs import hosts_ini

    three = cluster.load(str(write_cluster(hosts_ini(etcd=("master", "node1", "node2")))))
    path = etcdbackup.store(three.directory, DATA, hashlib.sha256(DATA).hexdigest(), NOW)
    call = Mock(side_effect=["etcdctl endpoint status failed (exit 1): connection refused", "no answer", None])
    assert etcdrestore.dry_run(three, str(path), call=call) == etcdrestore.EXIT_OK
    assert [c.args[0] for c in call.call_args_list] == ["master", "node1", "node2"]
    out = capsys.readouterr().out
    assert "The cluster did not answer (no etcd member answered: master: etcdctl endpoint status failed" in out
    assert "node1: no answer; node2: answered no status" in out
    assert "2. restore etcd members master, node1, node2 from" in out
    # Taken before revisions were recorded: said so, not guessed.
    assert "revision not recorded" in out


@pytest.mark.parametrize("damage, match", [("tamper", "does not match the sha256"),
                                           ("unrecorded", "without its recorded sha256")])
def test_a_bad_snapshot_is_refused_with_exit_2_before_asking_any_host(loaded, stored, damage, match, capsys):
    if damage == "tamper":
        stored.write_bytes(b"tampered")
    else:
        stored.with_name(stored.name + ".sha256").unlink()
    call = Mock()
    assert etcdrestore.dry_run(loaded, str(stored), call=call) == etcdrestore.EXIT_INVALID
    call.assert_not_called()
    assert match in capsys.readouterr().err


def test_a_dry_run_runs_nothing_asks_nothing_and_writes_nothing(loaded, stored, monkeypatch):
    runner, ask = Mock(), Mock()
    monkeypatch.setattr(etcdrestore, "run_orchestration", runner)
    monkeypatch.setattr("builtins.input", ask)
    before = _tree(loaded)
    assert etcdrestore.dry_run(loaded, str(stored), call=Mock(return_value=STATUS)) == etcdrestore.EXIT_OK
    runner.assert_not_called()
    ask.assert_not_called()
    assert _tree(loaded) == before


def test_a_cluster_behind_the_snapshot_is_pointed_out(loaded, stored, capsys):
    etcdrestore.dry_run(loaded, str(stored), call=Mock(return_value={**STATUS, "revision": 90}))
    assert "The cluster's revision is 10 behind the snapshot's" in capsys.readouterr().out


def test_the_command_line_has_dry_run_and_json(loaded, stored, monkeypatch):
    args = cli.build_parser().parse_args(["etcd", "restore", "s.db", "-i", "h.ini", "--dry-run", "--json"])
    assert (args.snapshot, args.dry_run, args.json, args.yes) == ("s.db", True, True, False)
    dry, real = Mock(return_value=0), Mock(return_value=0)
    monkeypatch.setattr(etcdrestore, "dry_run", dry)
    monkeypatch.setattr(etcdrestore, "run", real)
    assert cli.main(["etcd", "restore", str(stored), "-i", str(loaded.hosts_ini), "--dry-run"]) == 0
    assert dry.call_args.args[1] == str(stored) and dry.call_args.kwargs == {"as_json": False}
    assert cli.main(["etcd", "restore", str(stored), "-i", str(loaded.hosts_ini), "--json"]) == cli.EXIT_INVALID
    real.assert_not_called()


# --- the host's side: endpoint status, read-only ----------------------------------------------------------------------


def test_endpoint_status_reads_the_revision_with_the_members_client_certificate():
    answer = [{"Endpoint": "https://10.0.0.1:2379", "Status": {
        "header": {"cluster_id": 1, "member_id": 2, "revision": 345, "raft_term": 3},
        "version": "3.4.23", "dbSize": 2048, "leader": 2, "raftIndex": 9, "raftTerm": 3}}]
    run_all = Mock(return_value={"retcode": 0, "stdout": json.dumps(answer)})
    snapshot_module.__salt__ = {"cmd.run_all": run_all}
    found = snapshot_module.endpoint_status("https://10.0.0.1:2379", "/pki/ca.crt", "/pki/hc.crt", "/pki/hc.key")
    assert found == {"revision": 345, "version": "3.4.23", "db_size": 2048}
    argv = run_all.call_args.args[0]
    assert argv[-3:] == ["endpoint", "status", "--write-out=json"] and "--cert=/pki/hc.crt" in argv
    assert "snapshot" not in argv


@pytest.mark.parametrize("result, match", [({"retcode": 1, "stdout": "", "stderr": "connection refused"}, "exit 1"),
                                           ({"retcode": 0, "stdout": "[]"}, "unexpected answer")])
def test_endpoint_status_fails_with_the_reason(result, match):
    snapshot_module.__salt__ = {"cmd.run_all": Mock(return_value=result)}
    with pytest.raises(snapshot_module.CommandExecutionError, match=match):
        snapshot_module.endpoint_status("https://10.0.0.1:2379", "ca", "c", "k")
