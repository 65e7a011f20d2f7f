"""``saltsphere certs renew --dry-run``: the hosts asked, each file that would be issued again, nothing changed."""

import datetime
import json
from unittest.mock import Mock

import pytest

from saltsphere import certs, certsrenew, cli, cluster, etcdbackup, hostpki, kubeconfig, pki, validate

NOW = datetime.datetime(2027, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
ETCD_DIR = hostpki.etcd_pki_dir()


@pytest.fixture
def loaded(write_cluster, issued):
    loaded = issued(cluster.load(str(write_cluster())))
    kubeconfig.write(loaded.directory, "https://10.0.0.1:6443")
    return loaded


def _pem(loaded, name="etcd/peer-master.crt"):
    return (pki.pki_dir_of(loaded.directory) / name).read_text()


def _answering(loaded, missing=(), silent=()):
    """``call`` for certs.ask_hosts: every asked file holds a certificate, but ``missing``; ``silent`` hosts fail."""
    pem = _pem(loaded)

    def call(paths, hosts):
        return {host: "ssh: connect to host: Connection refused" if host in silent else
                {path: None if path in missing else pem for path in paths if "*" not in path} for host in hosts}

    return Mock(side_effect=call)


def _taskbox_tree(loaded):
    root = pki.pki_dir_of(loaded.directory).parent
    return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_every_file_the_renewal_issues_is_listed_with_its_expiry_now_and_after(loaded):
    answers = certs.ask_hosts(loaded, _answering(loaded))
    report = certsrenew.dry_report(loaded, answers, certs.taskbox_files(loaded.directory),
                                   certsrenew.taskbox_renewed(loaded), NOW)
    master = {entry["file"]: entry for entry in report["hosts"]["master"]["renewed"]}
    assert set(master) == {f"{ETCD_DIR}/{name}.crt" for name in ("peer", "server", "healthcheck")} | {
        "/etc/kubernetes/pki/apiserver-etcd-client.crt", *certsrenew.KUBEADM_RENEWED}
    peer = master[f"{ETCD_DIR}/peer.crt"]
    assert (peer["by"], peer["days"]) == ("taskbox", pki.CERT_DAYS)
    assert peer["new_not_after"] == (NOW + datetime.timedelta(days=pki.CERT_DAYS)).date().isoformat()
    assert peer["not_after"] and peer["days_left"] is not None and peer["error"] is None
    assert (master["/etc/kubernetes/pki/apiserver.crt"]["by"], master["/etc/kubernetes/admin.conf"]["days"]) == \
        ("kubeadm", validate.CERT_YEAR)
    # The CAs and kubelet's own files are kept; a worker has nothing renewed.
    assert "/etc/kubernetes/pki/ca.crt" in report["hosts"]["master"]["kept"]
    assert report["hosts"]["node1"]["renewed"] == [] and certs.KUBELET_CLIENT in report["hosts"]["node1"]["kept"]
    taskbox = {entry["file"] for entry in report["hosts"][certs.TASKBOX]["renewed"]}
    assert {".saltsphere/admin.conf", ".saltsphere/pki/etcd/peer-master.crt",
            ".saltsphere/pki/kubernetes/admin.crt"} <= taskbox
    assert not {".saltsphere/pki/etcd/ca.crt", ".saltsphere/pki/kubernetes/ca.crt"} & taskbox
    assert report["restarts"] == [{"service": "etcd", "host": "master"}, {"service": "control plane", "host": "master"}]
    assert report["snapshot_first"] and report["unanswered"] == []


def test_the_taskbox_plan_is_what_the_renewal_then_writes(loaded):
    plan = certsrenew.taskbox_renewed(loaded)
    hosts = [(spec.name, spec.roles, spec.ip) for spec in loaded.hosts.values()]
    written = pki.renew(loaded.directory, hosts)
    assert sorted(str(pki.pki_dir_of(loaded.directory).parent.parent / name) for name in plan
                  if name.endswith(".crt")) == written


def test_the_order_of_restarts_is_each_member_then_each_master(write_cluster, issued):
    from sample_inputs import hosts_ini

    three = issued(cluster.load(str(write_cluster(hosts_ini(masters=("master", "node1"),
                                                             etcd=("master", "node1", "node2"))))))
    assert certsrenew.restarts(three) == [("etcd", "master"), ("etcd", "node1"), ("etcd", "node2"),
                                          ("control plane", "master"), ("control plane", "node1")]
    lines = certsrenew.dry_lines(three, certsrenew.dry_report(three, {}, {}, {}, NOW))
    assert "  3. restart etcd on master, then node1, then node2, one member at a time, each healthy before the next" \
        in lines


def test_a_dry_run_backs_up_nothing_runs_nothing_asks_nothing_and_writes_nothing(loaded, monkeypatch, capsys):
    backup, runner, ask = Mock(), Mock(), Mock()
    monkeypatch.setattr("builtins.input", ask)
    monkeypatch.setattr(etcdbackup, "backup", backup)
    monkeypatch.setattr(certsrenew, "run_orchestration", runner)
    before = _taskbox_tree(loaded)
    assert certsrenew.dry_run(loaded, call=_answering(loaded), now=NOW) == certsrenew.EXIT_OK
    backup.assert_not_called()
    runner.assert_not_called()
    ask.assert_not_called()
    assert _taskbox_tree(loaded) == before
    out = capsys.readouterr().out
    assert "1. take an etcd snapshot into" in out and "4. restart the control plane on master" in out
    assert f"    {ETCD_DIR}/peer.crt: expires " in out and f"renewed for {pki.CERT_DAYS} days" in out
    assert f"renewed for {validate.CERT_YEAR} days" in out and "renewed by kubeadm on the host" in out
    assert "PRIVATE KEY" not in out and "BEGIN CERTIFICATE" not in out


def test_a_host_that_does_not_answer_is_named_and_the_exit_is_1(loaded, capsys):
    code = certsrenew.dry_run(loaded, call=_answering(loaded, silent={"node2"}), now=NOW)
    assert code == certsrenew.EXIT_FAILED
    out = capsys.readouterr().out
    assert "  node2: did not answer: ssh: connect to host: Connection refused" in out
    assert "node2 did not answer: what it holds could not be listed" in out


def test_a_missing_file_is_shown_with_why(loaded, capsys):
    call = _answering(loaded, missing={"/etc/kubernetes/pki/apiserver.crt"})
    assert certsrenew.dry_run(loaded, call=call, now=NOW, as_json=True) == certsrenew.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    entry = next(e for e in report["hosts"]["master"]["renewed"] if e["file"] == "/etc/kubernetes/pki/apiserver.crt")
    assert entry["error"].startswith("missing") and entry["not_after"] is None


def test_the_json_has_the_same_content(loaded, capsys):
    assert certsrenew.dry_run(loaded, call=_answering(loaded), now=NOW, as_json=True) == certsrenew.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    answers = certs.ask_hosts(loaded, _answering(loaded))
    assert report == json.loads(json.dumps(certsrenew.dry_report(
        loaded, answers, certs.taskbox_files(loaded.directory), certsrenew.taskbox_renewed(loaded), NOW)))


def test_a_missing_ca_key_stops_before_any_host_with_the_file_and_exit_2(loaded, capsys):
    (pki.pki_dir_of(loaded.directory) / "kubernetes" / "ca.key").unlink()
    call = Mock()
    assert certsrenew.dry_run(loaded, call=call, now=NOW) == certsrenew.EXIT_INVALID
    call.assert_not_called()
    err = capsys.readouterr().err
    assert "kubernetes/ca.key is missing" in err and "restore .saltsphere/" in err


def test_the_command_line_has_dry_run_and_json(loaded, monkeypatch):
    args = cli.build_parser().parse_args(["certs", "renew", "-i", "x/hosts.ini", "--dry-run", "--json"])
    assert (args.dry_run, args.json, args.yes) == (True, True, False)
    dry, real = Mock(return_value=0), Mock(return_value=0)
    monkeypatch.setattr(certsrenew, "dry_run", dry)
    monkeypatch.setattr(certsrenew, "run", real)
    hosts_ini = str(loaded.hosts_ini)
    assert cli.main(["certs", "renew", "-i", hosts_ini, "--dry-run", "--json"]) == 0
    assert dry.call_args.kwargs == {"as_json": True}
    real.assert_not_called()
    assert cli.main(["certs", "renew", "-i", hosts_ini, "--json"]) == cli.EXIT_INVALID
    real.assert_not_called()
