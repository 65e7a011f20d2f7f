"""Certificates made on the taskbox: right names, right modes, reused, reissued only when wrong."""

import datetime
import os
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from saltsphere import pki


def _cert(pair):
    return x509.load_pem_x509_certificate(pair.cert_path.read_bytes())


def _sans(pair):
    ext = _cert(pair).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)), {str(a) for a in ext.get_values_for_type(x509.IPAddress)}


def test_member_certificates_name_the_member(tmp_path):
    member = pki.etcd_member(tmp_path, "etcd1", "192.168.7.11", create_ca=True)
    for kind in ("peer", "server"):
        dns, ips = _sans(member[kind])
        assert dns == {"etcd1", "localhost"}
        assert ips == {"192.168.7.11", "127.0.0.1"}
        assert _cert(member[kind]).issuer == _cert(member["ca"]).subject
    usages = _cert(member["server"]).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_keys_are_private_and_directories_closed(tmp_path):
    state = pki.state_dir(tmp_path)
    member = pki.etcd_member(state / "pki", "etcd1", "10.0.0.1", create_ca=True)
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "pki" / "etcd").st_mode) == 0o700
    for pair in member.values():
        assert stat.S_IMODE(os.stat(pair.key_path).st_mode) == 0o600


def test_rerun_reuses_every_file(tmp_path):
    first = pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)
    before = {p: p.read_bytes() for pair in first.values() for p in (pair.cert_path, pair.key_path)}
    pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)
    assert all(path.read_bytes() == data for path, data in before.items())


def test_new_member_leaves_the_others_alone(tmp_path):
    first = pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)
    data = first["server"].cert_path.read_bytes()
    second = pki.etcd_member(tmp_path, "etcd2", "10.0.0.2", create_ca=True)
    assert first["server"].cert_path.read_bytes() == data
    assert second["ca"].cert_path == first["ca"].cert_path


def test_changed_address_reissues_only_that_member(tmp_path):
    pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)
    other = pki.etcd_member(tmp_path, "etcd2", "10.0.0.2", create_ca=True)
    other_data = other["peer"].cert_path.read_bytes()
    moved = pki.etcd_member(tmp_path, "etcd1", "10.0.0.9", create_ca=True)
    assert _sans(moved["peer"])[1] == {"10.0.0.9", "127.0.0.1"}
    assert other["peer"].cert_path.read_bytes() == other_data


def test_certificate_of_another_ca_is_replaced(tmp_path):
    member = pki.etcd_member(tmp_path / "a", "etcd1", "10.0.0.1", create_ca=True)
    foreign = pki.etcd_member(tmp_path / "b", "etcd1", "10.0.0.1", create_ca=True)
    member["server"].cert_path.write_bytes(foreign["server"].cert_path.read_bytes())
    again = pki.etcd_member(tmp_path / "a", "etcd1", "10.0.0.1", create_ca=True)
    assert _cert(again["server"]).issuer == _cert(again["ca"]).subject
    assert again["server"].cert_path.read_bytes() != foreign["server"].cert_path.read_bytes()


@pytest.mark.parametrize("name", ["apiserver-etcd-client", "admin"])
def test_client_certificates_are_client_only(tmp_path, name):
    client = pki.etcd_client(tmp_path, name, create_ca=True)["client"]
    usages = _cert(client).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert _sans(client) == (set(), set())


def test_kubernetes_material_is_made_once_and_reused(tmp_path):
    first = pki.kubernetes_material(tmp_path, create_ca=True)
    again = pki.kubernetes_material(tmp_path, create_ca=True)
    assert first["token"] == again["token"]
    assert pki.TOKEN_RE.match(first["token"])
    for name in ("ca", "front_proxy_ca", "admin"):
        assert first[name].cert_pem() == again[name].cert_pem()
    assert first["sa"].key_pem() == again["sa"].key_pem()
    for path in (first["ca"].key_path, first["sa"].key_path, tmp_path / "kubernetes" / "bootstrap-token"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_kubernetes_cas_are_rsa_and_admin_is_a_cluster_admin(tmp_path):
    material = pki.kubernetes_material(tmp_path, create_ca=True)
    ca = _cert(material["ca"])
    assert ca.public_key().key_size == 2048  # kubeadm 1.20 signs with what it can load: RSA
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    admin = _cert(material["admin"])
    assert admin.issuer == ca.subject
    assert admin.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    assert _cert(material["front_proxy_ca"]).subject != ca.subject


def test_a_damaged_token_file_is_replaced(tmp_path):
    first = pki.kubernetes_material(tmp_path, create_ca=True)["token"]
    (tmp_path / "kubernetes" / "bootstrap-token").write_text("not a token\n")
    second = pki.kubernetes_material(tmp_path, create_ca=True)["token"]
    assert second != first and pki.TOKEN_RE.match(second)


@pytest.mark.parametrize("roles,keys", [
    (("kube-node",), {"ca_cert", "token"}),
    (("kube-master", "etcd"), {"ca_cert", "token", "ca", "front_proxy_ca", "sa"}),
])
def test_host_pillar_gives_ca_keys_to_masters_only(tmp_path, roles, keys):
    pki.issue(tmp_path, [("h1", roles, "10.0.0.5")], create_cas=True)
    data = pki.host_pillar(tmp_path, "h1", roles, "10.0.0.5")["saltsphere"]
    assert set(data["kubernetes_pki"]) == keys
    assert "PRIVATE KEY" not in data["kubernetes_pki"]["ca_cert"]


def test_etcd_only_host_gets_no_kubernetes_material(tmp_path):
    pki.issue(tmp_path, [("e1", ("etcd",), "10.0.0.6")], create_cas=True)
    data = pki.host_pillar(tmp_path, "e1", ("etcd",), "10.0.0.6")["saltsphere"]
    assert "kubernetes_pki" not in data


def test_admin_kubeconfig_is_private_and_names_the_server(tmp_path):
    import yaml

    from saltsphere import kubeconfig

    pki.issue(tmp_path, [("m1", ("kube-master",), "10.0.0.1")], create_cas=True)
    assert kubeconfig.write(tmp_path, "https://10.0.0.1:6443")
    path = kubeconfig.path(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert config["users"][0]["user"]["client-key-data"]
    before = os.stat(path).st_mtime_ns
    assert not kubeconfig.write(tmp_path, "https://10.0.0.1:6443")
    assert os.stat(path).st_mtime_ns == before, "an unchanged kubeconfig is not rewritten"


def test_no_ca_is_made_unless_asked(tmp_path):
    with pytest.raises(pki.PKIError, match="the CA etcd-ca is not on this taskbox"):
        pki.etcd_member(tmp_path, "etcd1", "10.0.0.1")
    assert not (tmp_path / "etcd" / "ca.crt").exists()


def test_an_existing_ca_is_never_replaced(tmp_path):
    first = pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)["ca"].cert_path.read_bytes()
    assert pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)["ca"].cert_path.read_bytes() == first


def test_a_ca_without_its_key_reuses_what_it_signed_and_refuses_to_sign(tmp_path):
    member = pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)
    member["ca"].key_path.unlink()
    again = pki.etcd_member(tmp_path, "etcd1", "10.0.0.1")
    assert again["server"].cert_path.read_bytes() == member["server"].cert_path.read_bytes()
    with pytest.raises(pki.PKIError, match="the key of the CA CN=etcd-ca is not on this taskbox"):
        pki.etcd_member(tmp_path, "etcd2", "10.0.0.2")


def test_a_ca_key_without_its_certificate_is_refused(tmp_path):
    pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)["ca"].cert_path.unlink()
    with pytest.raises(pki.PKIError, match="has no certificate beside it"):
        pki.etcd_member(tmp_path, "etcd1", "10.0.0.1", create_ca=True)


def test_pillar_reads_and_never_issues(tmp_path):
    with pytest.raises(pki.PKIError, match="saltsphere.prepare"):
        pki.host_pillar(tmp_path, "m1", ("kube-master", "etcd"), "10.0.0.1")
    assert not (tmp_path / ".saltsphere").exists()
    pki.issue(tmp_path, [("m1", ("kube-master", "etcd"), "10.0.0.1")], create_cas=True)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / ".saltsphere").rglob("*")}
    data = pki.host_pillar(tmp_path, "m1", ("kube-master", "etcd"), "10.0.0.1")["saltsphere"]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / ".saltsphere").rglob("*")} == before
    assert "PRIVATE KEY" in data["kubernetes_pki"]["ca"]["key"]


def test_ca_keys_stay_out_of_phases_that_do_not_sign(tmp_path):
    pki.issue(tmp_path, [("m1", ("kube-master",), "10.0.0.1")], create_cas=True)
    data = pki.host_pillar(tmp_path, "m1", ("kube-master",), "10.0.0.1", with_ca_keys=False)["saltsphere"]
    assert set(data["kubernetes_pki"]) == {"ca_cert", "token"}
    assert "PRIVATE KEY" not in repr(data["kubernetes_pki"])


def test_issue_makes_every_pair_and_a_second_issue_changes_nothing(tmp_path):
    hosts = [("m1", ("kube-master", "etcd"), "10.0.0.1"), ("w1", ("kube-node",), "10.0.0.2")]
    pki.issue(tmp_path, hosts, create_cas=True)
    names = {str(p.relative_to(tmp_path / ".saltsphere" / "pki")) for p in (tmp_path / ".saltsphere").rglob("*.crt")}
    assert names == {"etcd/ca.crt", "etcd/peer-m1.crt", "etcd/server-m1.crt", "etcd/healthcheck-m1.crt",
                     "etcd/apiserver-etcd-client.crt", "etcd/admin.crt", "kubernetes/ca.crt",
                     "kubernetes/front-proxy-ca.crt", "kubernetes/admin.crt"}
    before = {p: p.read_bytes() for p in (tmp_path / ".saltsphere").rglob("*") if p.is_file()}
    pki.issue(tmp_path, hosts)
    assert {p: p.read_bytes() for p in (tmp_path / ".saltsphere").rglob("*") if p.is_file()} == before


def test_a_removed_members_keys_go_and_its_certificates_are_kept_closed(tmp_path):
    pki_dir = pki.pki_dir_of(tmp_path)
    pki.issue(tmp_path, [("etcd1", ("etcd",), "10.0.0.1"), ("etcd2", ("etcd",), "10.0.0.2")], create_cas=True)
    stays = {path: path.read_bytes() for path in pki.host_files(pki_dir, "etcd1")}
    serial = _cert(pki.Pair(pki_dir / "etcd" / "peer-etcd2.crt", pki_dir / "etcd" / "peer-etcd2.key")).serial_number
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)

    gone = pki.retire(tmp_path, ["etcd2"], now=when)
    assert sorted(gone) == sorted(pki.host_files(pki_dir, "etcd2"))
    assert not any(path.exists() for path in pki.host_files(pki_dir, "etcd2"))
    kept = pki.retired_dir_of(tmp_path) / "etcd2-20260102T030405Z"
    assert sorted(path.name for path in kept.iterdir()) == ["healthcheck-etcd2.crt", "peer-etcd2.crt",
                                                             "server-etcd2.crt"]
    assert x509.load_pem_x509_certificate((kept / "peer-etcd2.crt").read_bytes()).serial_number == serial
    for directory in (kept, kept.parent):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert {path: path.read_bytes() for path in pki.host_files(pki_dir, "etcd1")} == stays
    # Retired once: a second call finds nothing; the member added again gets new pairs, not the old ones.
    assert pki.retire(tmp_path, ["etcd2"]) == []
    pki.issue(tmp_path, [("etcd1", ("etcd",), "10.0.0.1"), ("etcd2", ("etcd",), "10.0.0.2")])
    again = pki.Pair(pki_dir / "etcd" / "peer-etcd2.crt", pki_dir / "etcd" / "peer-etcd2.key")
    assert _cert(again).serial_number != serial


def test_a_dry_retirement_names_the_files_and_moves_nothing(tmp_path):
    pki_dir = pki.pki_dir_of(tmp_path)
    pki.issue(tmp_path, [("etcd1", ("etcd",), "10.0.0.1")], create_cas=True)
    dry = []
    assert sorted(pki.retire(tmp_path, ["etcd1", "node9"], dry=dry)) == sorted(pki.host_files(pki_dir, "etcd1"))
    assert sorted(dry) == sorted(pki.host_files(pki_dir, "etcd1"))
    assert all(path.is_file() for path in pki.host_files(pki_dir, "etcd1"))
    assert not pki.retired_dir_of(tmp_path).exists()
