"""``saltsphere certs renew``: every leaf again from the same CAs; refusals before any host; ask, back up, renew."""

import datetime
import json
from pathlib import Path
from unittest.mock import Mock

import pytest
from cryptography import x509

from saltsphere import certs, certsrenew, cli, cluster, kubeconfig, pki, preflight

NOW = datetime.datetime(2027, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
OK = (0, json.dumps({"data": {"taskbox_master": {}}, "retcode": 0}), "")


@pytest.fixture
def loaded(write_cluster, issued):
    return issued(cluster.load(str(write_cluster())))


def _certificates(directory):
    return {path: x509.load_pem_x509_certificate(path.read_bytes())
            for path in sorted(pki.pki_dir_of(directory).rglob("*.crt"))}


def _hosts(loaded):
    return [(spec.name, spec.roles, spec.ip) for spec in loaded.hosts.values()]


def test_every_leaf_is_issued_again_from_the_same_cas_with_a_new_key(loaded):
    before = _certificates(loaded.directory)
    keys = {path: path.with_suffix(".key").read_bytes() for path in before}
    renewed = pki.renew(loaded.directory, _hosts(loaded))
    after = _certificates(loaded.directory)
    assert set(after) == set(before)
    cas = {path for path, cert in before.items() if cert.issuer == cert.subject}
    assert cas and {path.name for path in cas} == {"ca.crt", "front-proxy-ca.crt"}
    assert sorted(renewed) == sorted(str(path) for path in set(before) - cas)
    for path, cert in after.items():
        if path in cas:
            assert cert == before[path] and path.with_suffix(".key").read_bytes() == keys[path]
            continue
        assert cert.serial_number != before[path].serial_number, path
        assert cert.issuer == before[path].issuer and cert.subject == before[path].subject
        assert cert.not_valid_after_utc >= before[path].not_valid_after_utc
        assert path.with_suffix(".key").read_bytes() != keys[path]
    # What prepare does next keeps them: renewed certificates are current.
    pki.issue(loaded.directory, _hosts(loaded))
    assert _certificates(loaded.directory) == after


@pytest.mark.parametrize("missing", ["etcd/ca.key", "kubernetes/ca.key", "kubernetes/ca.crt"])
def test_a_taskbox_without_a_ca_renews_nothing_and_names_the_file(loaded, missing):
    (pki.pki_dir_of(loaded.directory) / missing).unlink()
    before = {path: path.read_bytes() for path in pki.pki_dir_of(loaded.directory).rglob("*.crt")}
    with pytest.raises(pki.PKIError, match=missing.replace("/", ".") + " is missing.*restore .saltsphere/"):
        pki.renew(loaded.directory, _hosts(loaded))
    assert {path: path.read_bytes() for path in pki.pki_dir_of(loaded.directory).rglob("*.crt")} == before


def test_the_command_line_names_the_verb_and_its_flags():
    args = cli.build_parser().parse_args(["certs", "renew", "-i", "x/hosts.ini", "--yes"])
    assert (args.func, args.inventory, args.yes) == (cli.cmd_certs_renew, "x/hosts.ini", True)
    assert cli.build_parser().parse_args(["certs", "renew"]).yes is False


def _run(loaded, **kwargs):
    backup, runner = Mock(return_value=Path("/b/etcd-x.db")), Mock(return_value=OK)
    call = Mock(side_effect=lambda paths, hosts: {host: {} for host in hosts})
    options = {"backup": backup, "runner": runner, "call": call, "now": NOW, "assume_yes": True}
    options.update(kwargs)
    return certsrenew.run(loaded, **options), backup, runner


def test_a_missing_ca_key_stops_before_asking_backing_up_or_touching_a_host(loaded):
    (pki.pki_dir_of(loaded.directory) / "etcd" / "ca.key").unlink()
    ask = Mock()
    with pytest.raises(certsrenew.ActionableError, match="nothing was touched.*etcd/ca.key is missing"):
        _, backup, runner = _run(loaded, assume_yes=False, ask=ask, interactive=True)
    ask.assert_not_called()


def test_bad_input_stops_the_command_before_any_host(write_cluster, monkeypatch, capsys):
    from sample_inputs import hosts_ini

    path = write_cluster(hosts=hosts_ini(etcd=()))
    monkeypatch.setattr(certsrenew, "run", Mock())
    assert cli.main(["certs", "renew", "-i", str(path), "--yes"]) == cli.EXIT_INVALID
    certsrenew.run.assert_not_called()
    assert "[etcd]" in capsys.readouterr().err


def test_without_a_terminal_and_without_yes_nothing_runs(loaded, capsys):
    code, backup, runner = _run(loaded, assume_yes=False, interactive=False)
    assert code == certsrenew.EXIT_INVALID
    backup.assert_not_called()
    runner.assert_not_called()
    assert "pass --yes" in capsys.readouterr().err


def test_a_no_changes_nothing(loaded, capsys):
    code, backup, runner = _run(loaded, assume_yes=False, interactive=True, ask=Mock(return_value="no"))
    assert code == certsrenew.EXIT_OK
    backup.assert_not_called()
    runner.assert_not_called()
    assert "Nothing was changed" in capsys.readouterr().out


def test_a_yes_backs_up_first_then_renews_naming_the_backup_and_summarises_each_host(loaded, capsys):
    order = []
    backup = Mock(side_effect=lambda loaded, out: order.append("backup") or Path("/b/etcd-x.db"))
    runner = Mock(side_effect=lambda loaded, snapshot: order.append(("renew", snapshot)) or OK)
    code, _, _ = _run(loaded, assume_yes=False, interactive=True, ask=Mock(return_value="yes"), backup=backup,
                      runner=runner)
    assert code == certsrenew.EXIT_OK
    assert order == ["backup", ("renew", Path("/b/etcd-x.db"))]
    out = capsys.readouterr().out
    assert "  taskbox: " in out and "The soonest to expire now: " in out
    for host in certs.host_paths(loaded):
        assert f"  {host}: 0 certificates" in out


def test_a_failed_renewal_says_the_cas_are_unchanged_and_to_run_again(loaded, capsys):
    failed = (1, json.dumps({"data": {"taskbox_master": {"step": {"result": False, "comment": "etcd down",
                                                                   "__run_num__": 0}}}, "retcode": 1}), "")
    code, _, _ = _run(loaded, runner=Mock(return_value=failed))
    assert code == certsrenew.EXIT_FAILED
    out = capsys.readouterr().out
    assert "etcd down" in out and "run the same command again" in out and "/b/etcd-x.db" in out


def test_the_summary_names_each_hosts_soonest_and_the_soonest_of_all(loaded):
    pem = pki.pki_dir_of(loaded.directory).joinpath("etcd", "peer-master.crt").read_text()
    answers = {"master": {"/etc/etcd/pki/peer.crt": pem}, "node1": "unreachable"}
    lines = certsrenew.summary(loaded, answers, {}, NOW)
    assert lines[1].startswith("  master: 1 certificates, the soonest to expire /etc/etcd/pki/peer.crt on ")
    assert lines[2] == "  node1: 0 certificates; 1 could not be checked: -: did not answer: unreachable"
    assert lines[-1].startswith("The soonest to expire now: /etc/etcd/pki/peer.crt on master")


def test_the_preflight_shows_the_soonest_expiry_once_there_are_certificates(loaded, write_cluster):
    kubeconfig.write(loaded.directory, "https://10.0.0.1:6443")
    line = preflight.certificates_line(loaded)
    assert line.startswith("certificates: the soonest to expire is ") and "days left" in line
    assert preflight.Report(["taskbox"], [], line).table().splitlines()[-3] == line
    fresh = cluster.load(str(write_cluster(directory=Path(loaded.directory) / "fresh")))
    assert preflight.certificates_line(fresh) is None
