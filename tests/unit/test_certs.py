"""``saltsphere certs check``: rows from real certificates, the warn-days boundary, never a key, every failure a row."""

import base64
import datetime
import json
import os
from pathlib import Path
from unittest.mock import Mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from saltsphere import certs, cli, cluster, hostpki, kubeconfig, sshcall, status

from sample_inputs import SEED_HOSTS_INI, hosts_ini, load_extension

module = load_extension("modules", "saltsphere_certs")

NOW = datetime.datetime(2027, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
ETCD_DIR = hostpki.etcd_pki_dir()


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pem(common_name="leaf", not_after=NOW + datetime.timedelta(days=365), issuer="test-ca"):
    """A certificate (PEM) and its key (PEM), signed by a throwaway ``issuer``."""
    key, signer = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_after - datetime.timedelta(days=400)).not_valid_after(not_after)
            .sign(signer, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def kubeconfig_text(cert_pem, key_pem):
    def b64(text):
        return base64.b64encode(text.encode()).decode()

    return ("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: "
            f"{b64(make_pem('ca')[0])}\n    server: https://10.0.0.1:6443\n  name: kubernetes\nusers:\n"
            f"- name: admin\n  user:\n    client-certificate-data: {b64(cert_pem)}\n"
            f"    client-key-data: {b64(key_pem)}\n")


def days(n):
    return NOW + datetime.timedelta(days=n)


# --- rows: the pure part ----------------------------------------------------------------------------------------


def test_rows_name_subject_issuer_expiry_and_days_left():
    pem, _ = make_pem("kube-apiserver", days(200), issuer="kubernetes")
    found = certs.rows({"master": {"/etc/kubernetes/pki/apiserver.crt": pem}}, {}, NOW, 30)
    row = found[-1]
    assert (row.host, row.file, row.subject, row.issuer) == (
        "master", "/etc/kubernetes/pki/apiserver.crt", "CN=kube-apiserver", "CN=kubernetes")
    assert row.not_after == days(200).isoformat() and row.days_left == 200
    assert row.due is False and row.error is None


@pytest.mark.parametrize("left, due", [(29, True), (30, True), (31, False)])
def test_a_certificate_is_due_with_warn_days_or_fewer_left(left, due):
    pem, _ = make_pem(not_after=days(left))
    (row,) = certs.rows({}, {".saltsphere/pki/etcd/ca.crt": pem}, NOW, 30)
    assert (row.days_left, row.due) == (left, due)


def test_an_expired_certificate_has_negative_days_and_is_due_even_with_zero_warn_days():
    pem, _ = make_pem(not_after=NOW - datetime.timedelta(hours=1))
    (row,) = certs.rows({}, {"x.crt": pem}, NOW, 0)
    assert (row.days_left, row.due) == (-1, True)


def test_taskbox_rows_come_first_then_hosts_in_the_order_given():
    pem, _ = make_pem()
    found = certs.rows({"node2": {"/b": pem}, "node1": {"/a": pem}}, {"z.crt": pem, "a.crt": pem}, NOW, 30)
    assert [(r.host, r.file) for r in found] == [("taskbox", "a.crt"), ("taskbox", "z.crt"), ("node2", "/b"),
                                                 ("node1", "/a")]


@pytest.mark.parametrize("answer, words", [
    ("ssh: connect to host 192.168.0.2 port 22: Connection refused", "did not answer: ssh: connect to host"),
    (None, "did not answer: no answer"),
])
def test_a_host_that_did_not_answer_is_an_error_row(answer, words):
    pem, _ = make_pem()
    found = certs.rows({"node1": answer}, {"a.crt": pem}, NOW, 30)
    assert found[-1].host == "node1" and words in found[-1].error and found[-1].days_left is None


@pytest.mark.parametrize("pem, words", [(None, "missing"), ("", "holds no readable certificate"),
                                        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                         "holds no readable certificate")])
def test_a_missing_or_unreadable_file_is_an_error_row(pem, words):
    good, _ = make_pem()
    found = certs.rows({"node1": {"/var/lib/kubelet/pki/kubelet-client-current.pem": pem}}, {"a.crt": good}, NOW, 30)
    assert found[-1].file == "/var/lib/kubelet/pki/kubelet-client-current.pem" and words in found[-1].error


def test_a_taskbox_without_certificates_is_an_error_row_naming_the_fix():
    (row,) = certs.rows({}, {}, NOW, 30)
    assert row.host == "taskbox" and "salt-run saltsphere.prepare" in row.error


def test_the_soonest_ignores_error_rows():
    early, _ = make_pem("early", days(40))
    late, _ = make_pem("late", days(400))
    found = certs.rows({"node1": "down", "node2": {"/a": late, "/b": None}}, {"c.crt": early}, NOW, 30)
    assert certs.soonest(found).subject == "CN=early"
    assert certs.soonest(certs.rows({"node1": "down"}, {}, NOW, 30)) is None


def test_the_table_marks_due_expired_and_unchecked_rows():
    soon, _ = make_pem("soon", days(3))
    gone, _ = make_pem("gone", NOW - datetime.timedelta(days=2))
    found = certs.rows({"node1": "Connection refused"}, {"a.crt": soon, "b.crt": gone}, NOW, 30)
    lines = certs.table(found, 30)
    assert lines[0].split()[:3] == ["HOST", "FILE", "SUBJECT"]
    assert lines[1].endswith("3 due") and lines[2].endswith("-2 expired")
    assert lines[3].startswith("node1") and "error: did not answer: Connection refused" in lines[3]
    assert lines[-1] == ("2 certificates, 2 with 30 days or fewer left (certs_warn_days); the soonest to expire: "
                         "b.crt on taskbox, -2 days left; 1 could not be checked")


# --- what each host is asked, and how -----------------------------------------------------------------------------


def _loaded(write_cluster, text=SEED_HOSTS_INI):
    return cluster.load(str(write_cluster(text)))


def test_each_host_is_asked_for_the_files_of_its_roles(write_cluster):
    text = hosts_ini(lines=("master ansible_connection=local ip=192.168.0.1", "node1 ip=192.168.0.2",
                            "etcd1 ip=192.168.0.3"), nodes=("node1",), etcd=("master", "etcd1", "node1"))
    wanted = certs.host_paths(_loaded(write_cluster, text))
    assert {"/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/*.crt", "/etc/kubernetes/admin.conf",
            "/etc/kubernetes/scheduler.conf", "/etc/kubernetes/controller-manager.conf",
            "/etc/kubernetes/pki/apiserver-etcd-client.crt", certs.KUBELET_CLIENT, certs.KUBELET_KUBECONFIG,
            f"{ETCD_DIR}/peer.crt"} <= set(wanted["master"])
    assert set(wanted["node1"]) == {certs.KUBELET_CLIENT, certs.KUBELET_KUBECONFIG} | {
        f"{ETCD_DIR}/{name}.crt" for name in ("ca", "peer", "server", "healthcheck")}
    assert set(wanted["etcd1"]) == {f"{ETCD_DIR}/{name}.crt" for name in ("ca", "peer", "server", "healthcheck")}


def test_hosts_needing_the_same_files_are_asked_together_and_silence_is_an_answer(write_cluster):
    loaded = _loaded(write_cluster)
    call = Mock(side_effect=lambda paths, hosts: {host: {paths[0]: None} for host in hosts if host != "node2"})
    answers = certs.ask_hosts(loaded, call)
    assert [c.args[1] for c in call.call_args_list] == [["master"], ["node1", "node2"]]
    assert list(answers) == ["master", "node1", "node2"] and answers["node2"] == "no answer"


# --- the taskbox's files ------------------------------------------------------------------------------------------


@pytest.fixture
def prepared(write_cluster, issued):
    loaded = issued(_loaded(write_cluster))
    kubeconfig.write(loaded.directory, "https://192.168.0.1:6443")
    return loaded


def test_taskbox_files_are_every_pki_certificate_and_the_admin_kubeconfigs_client(prepared):
    files = certs.taskbox_files(prepared.directory)
    assert ".saltsphere/pki/kubernetes/ca.crt" in files and ".saltsphere/pki/etcd/ca.crt" in files
    assert not any(name.endswith(".key") for name in files)
    admin = x509.load_pem_x509_certificate(files[".saltsphere/admin.conf"].encode())
    assert admin.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    assert "PRIVATE KEY" not in "".join(files.values())


def test_an_unreadable_taskbox_certificate_stops_with_the_fix(prepared):
    (Path(prepared.directory) / ".saltsphere" / "pki" / "odd.crt").mkdir()
    with pytest.raises(certs.ActionableError, match="run saltsphere as the user that owns"):
        certs.taskbox_files(prepared.directory)


def test_the_admin_kubeconfig_gives_its_certificate_never_its_key():
    cert_pem, key_pem = make_pem("admin")
    text = kubeconfig_text(cert_pem, key_pem)
    assert certs.kubeconfig_client_pem(text) == cert_pem
    assert certs.kubeconfig_client_pem("users: [{user: {token: abc}}]") == ""
    assert certs.kubeconfig_client_pem(": : not yaml [") == ""


# --- the command: run() and the CLI -------------------------------------------------------------------------------


def _host_answers(pem):
    return lambda paths, hosts: {host: {path: pem for path in paths if "*" not in path} for host in hosts}


def test_run_prints_json_and_exits_0_when_nothing_is_due(prepared, capsys):
    pem, _ = make_pem(not_after=days(300))
    code = certs.run(prepared, call=_host_answers(pem), now=NOW, as_json=True)
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["warn_days"] == 30
    hosts = {row["host"] for row in report["certificates"]}
    assert hosts == {"taskbox", "master", "node1", "node2"}
    assert set(report["certificates"][0]) == {"host", "file", "subject", "issuer", "not_after", "days_left", "due",
                                              "error"}


@pytest.mark.parametrize("answers, words", [
    (lambda pem: _host_answers(pem), "due"),
    (lambda pem: (lambda paths, hosts: {"master": "Permission denied (publickey)"}), "Permission denied"),
])
def test_run_exits_1_when_a_certificate_is_due_or_a_host_did_not_answer(prepared, capsys, answers, words):
    pem, _ = make_pem(not_after=days(10 if words == "due" else 300))
    assert certs.run(prepared, call=answers(pem), now=NOW) == 1
    assert words in capsys.readouterr().out


def test_certs_check_with_a_bad_inventory_exits_2_before_contacting_anything(write_cluster, monkeypatch, capsys):
    monkeypatch.setattr(certs, "salt_call", Mock(side_effect=AssertionError("a host was contacted")))
    monkeypatch.setattr(sshcall, "call", Mock(side_effect=AssertionError("a host was asked")))
    path = write_cluster(SEED_HOSTS_INI.replace("ip=192.168.0.2", "ip=192.168.0.300"))
    assert cli.main(["certs", "check", "-i", str(path)]) == 2
    assert "is not an IP address" in capsys.readouterr().err


def test_certs_check_through_the_cli_asks_the_hosts_with_their_files(prepared, monkeypatch, capsys):
    pem, key_pem = make_pem(not_after=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=100))
    monkeypatch.setattr(certs, "salt_call", lambda loaded: _host_answers(pem + key_pem))
    assert cli.main(["certs", "check", "-i", prepared.hosts_ini, "--json"]) == 0
    out = capsys.readouterr().out
    assert "PRIVATE KEY" not in out and json.loads(out)["certificates"]


@pytest.mark.parametrize("line, accepted", [("certs_warn_days: 0", True), ("certs_warn_days: 364", True),
                                            ("certs_warn_days: 365", False), ("certs_warn_days: -1", False),
                                            ("certs_warn_days: soon", False)])
def test_certs_warn_days_is_checked(check, line, accepted):
    errors = check(vars_text=f"nfs_server_enable: true\nnfs_server_is_default_class: true\n{line}\n").errors
    assert [p.key for p in errors] == ([] if accepted else ["certs_warn_days"])


# --- status: the taskbox's soonest, read only ---------------------------------------------------------------------


def test_status_names_the_taskbox_certificate_that_expires_first(prepared):
    report = status.certificates(prepared)
    files = certs.taskbox_files(prepared.directory)
    expiry = {name: x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc for name, pem in files.items()}
    assert report["soonest"]["not_after"] == min(expiry.values()).isoformat()
    assert expiry[report["soonest"]["file"]] == min(expiry.values()) and report["soonest"]["days_left"] > 300
    assert set(report["soonest"]) == {"file", "not_after", "days_left"}


def test_status_without_taskbox_certificates_says_what_to_run(write_cluster):
    loaded = _loaded(write_cluster)
    report = status.certificates(loaded)
    assert report["soonest"] is None and "salt-run saltsphere.prepare" in report["error"]
    assert not os.path.exists(os.path.join(loaded.directory, ".saltsphere"))


def test_status_with_an_unreadable_certificate_says_why(prepared):
    (Path(prepared.directory) / ".saltsphere" / "pki" / "odd.crt").mkdir()
    report = status.certificates(prepared)
    assert report["soonest"] is None and "cannot read the taskbox's certificates" in report["error"]


def test_status_prints_one_certificates_line(prepared, monkeypatch, capsys):
    for section, value in (("etcd", {"healthy": True, "members": 1, "endpoints": {}}),
                           ("kubernetes", {"healthy": True, "version": "v1.20.2", "nodes": {}, "api": {}}),
                           ("storage", {"default_class": None, "classes": []}),
                           ("kubesphere", {"console": None, "ready": False})):
        monkeypatch.setattr(status, section, Mock(return_value=value))
    assert cli.main(["status", "-i", prepared.hosts_ini]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("certificates:")]
    assert len(lines) == 1 and "the soonest to expire is .saltsphere/" in lines[0] and "days left" in lines[0]


# --- the host's side: saltsphere_certs.certificates ---------------------------------------------------------------


def test_the_host_function_gives_certificates_and_none_for_missing_files(tmp_path):
    pem, _ = make_pem()
    (tmp_path / "a.crt").write_text(pem)
    (tmp_path / "b.crt").write_text(pem)
    (tmp_path / "empty.crt").write_text("nothing here\n")
    (tmp_path / "dir.crt").mkdir()
    answer = module.certificates([str(tmp_path / "*.crt"), str(tmp_path / "gone.crt"), str(tmp_path / "none*.pem")])
    assert answer == {str(tmp_path / "a.crt"): pem, str(tmp_path / "b.crt"): pem, str(tmp_path / "dir.crt"): "",
                      str(tmp_path / "empty.crt"): "", str(tmp_path / "gone.crt"): None}


def test_the_host_function_gives_a_kubelet_pem_without_its_key(tmp_path):
    pem, key_pem = make_pem("system:node:node1")
    path = tmp_path / "kubelet-client-current.pem"
    path.write_text(pem + key_pem)
    answer = module.certificates([str(path)])
    assert answer == {str(path): pem} and "PRIVATE KEY" not in answer[str(path)]


def test_the_host_function_gives_a_kubeconfigs_embedded_client_certificate_never_its_key(tmp_path):
    pem, key_pem = make_pem("kubernetes-admin")
    path = tmp_path / "admin.conf"
    path.write_text(kubeconfig_text(pem, key_pem))
    answer = module.certificates([str(path)])
    assert answer == {str(path): pem}
    assert base64.b64encode(key_pem.encode()).decode() not in json.dumps(answer)


@pytest.mark.parametrize("reference", ["pki/kubelet-client-current.pem", "{dir}/pki/kubelet-client-current.pem"])
def test_the_host_function_follows_a_kubeconfigs_client_certificate_file(tmp_path, reference):
    pem, key_pem = make_pem("system:node:node1")
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "kubelet-client-current.pem").write_text(pem + key_pem)
    path = tmp_path / "kubelet.conf"
    path.write_text("users:\n- name: default-auth\n  user:\n"
                    f"    client-certificate: {reference.format(dir=tmp_path)}\n"
                    f"    client-key: {reference.format(dir=tmp_path)}\n")
    assert module.certificates([str(path)]) == {str(path): pem}


@pytest.mark.parametrize("user", ["    client-certificate: missing.pem\n",
                                  "    client-certificate-data: bm90IGEgY2VydA==\n",
                                  "    client-certificate-data: ###\n"])
def test_a_kubeconfig_whose_certificate_cannot_be_had_gives_empty_text(tmp_path, user):
    path = tmp_path / "scheduler.conf"
    path.write_text("users:\n- name: x\n  user:\n" + user)
    assert module.certificates([str(path)]) == {str(path): ""}
