"""Certificates made on the taskbox: right names, right modes, reused, reissued only when wrong."""

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
    member = pki.etcd_member(tmp_path, "etcd1", "192.168.7.11")
    for kind in ("peer", "server"):
        dns, ips = _sans(member[kind])
        assert dns == {"etcd1", "localhost"}
        assert ips == {"192.168.7.11", "127.0.0.1"}
        assert _cert(member[kind]).issuer == _cert(member["ca"]).subject
    usages = _cert(member["server"]).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_keys_are_private_and_directories_closed(tmp_path):
    state = pki.state_dir(tmp_path)
    member = pki.etcd_member(state / "pki", "etcd1", "10.0.0.1")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "pki" / "etcd").st_mode) == 0o700
    for pair in member.values():
        assert stat.S_IMODE(os.stat(pair.key_path).st_mode) == 0o600


def test_rerun_reuses_every_file(tmp_path):
    first = pki.etcd_member(tmp_path, "etcd1", "10.0.0.1")
    before = {p: p.read_bytes() for pair in first.values() for p in (pair.cert_path, pair.key_path)}
    pki.etcd_member(tmp_path, "etcd1", "10.0.0.1")
    assert all(path.read_bytes() == data for path, data in before.items())


def test_new_member_leaves_the_others_alone(tmp_path):
    first = pki.etcd_member(tmp_path, "etcd1", "10.0.0.1")
    data = first["server"].cert_path.read_bytes()
    second = pki.etcd_member(tmp_path, "etcd2", "10.0.0.2")
    assert first["server"].cert_path.read_bytes() == data
    assert second["ca"].cert_path == first["ca"].cert_path


def test_changed_address_reissues_only_that_member(tmp_path):
    pki.etcd_member(tmp_path, "etcd1", "10.0.0.1")
    other = pki.etcd_member(tmp_path, "etcd2", "10.0.0.2")
    other_data = other["peer"].cert_path.read_bytes()
    moved = pki.etcd_member(tmp_path, "etcd1", "10.0.0.9")
    assert _sans(moved["peer"])[1] == {"10.0.0.9", "127.0.0.1"}
    assert other["peer"].cert_path.read_bytes() == other_data


def test_certificate_of_another_ca_is_replaced(tmp_path):
    member = pki.etcd_member(tmp_path / "a", "etcd1", "10.0.0.1")
    foreign = pki.etcd_member(tmp_path / "b", "etcd1", "10.0.0.1")
    member["server"].cert_path.write_bytes(foreign["server"].cert_path.read_bytes())
    again = pki.etcd_member(tmp_path / "a", "etcd1", "10.0.0.1")
    assert _cert(again["server"]).issuer == _cert(again["ca"]).subject
    assert again["server"].cert_path.read_bytes() != foreign["server"].cert_path.read_bytes()


@pytest.mark.parametrize("name", ["apiserver-etcd-client", "admin"])
def test_client_certificates_are_client_only(tmp_path, name):
    client = pki.etcd_client(tmp_path, name)["client"]
    usages = _cert(client).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert _sans(client) == (set(), set())


def test_kubernetes_material_is_made_once_and_reused(tmp_path):
    first = pki.kubernetes_material(tmp_path)
    again = pki.kubernetes_material(tmp_path)
    assert first["token"] == again["token"]
    assert pki.TOKEN_RE.match(first["token"])
    for name in ("ca", "front_proxy_ca", "admin"):
        assert first[name].cert_pem() == again[name].cert_pem()
    assert first["sa"].key_pem() == again["sa"].key_pem()
    for path in (first["ca"].key_path, first["sa"].key_path, tmp_path / "kubernetes" / "bootstrap-token"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_kubernetes_cas_are_rsa_and_admin_is_a_cluster_admin(tmp_path):
    material = pki.kubernetes_material(tmp_path)
    ca = _cert(material["ca"])
    assert ca.public_key().key_size == 2048  # kubeadm 1.20 signs with what it can load: RSA
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    admin = _cert(material["admin"])
    assert admin.issuer == ca.subject
    assert admin.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    assert _cert(material["front_proxy_ca"]).subject != ca.subject


def test_a_damaged_token_file_is_replaced(tmp_path):
    first = pki.kubernetes_material(tmp_path)["token"]
    (tmp_path / "kubernetes" / "bootstrap-token").write_text("not a token\n")
    second = pki.kubernetes_material(tmp_path)["token"]
    assert second != first and pki.TOKEN_RE.match(second)


@pytest.mark.parametrize("roles,keys", [
    (("kube-node",), {"ca_cert", "token"}),
    (("kube-master", "etcd"), {"ca_cert", "token", "ca", "front_proxy_ca", "sa"}),
])
def test_host_pillar_gives_ca_keys_to_masters_only(tmp_path, roles, keys):
    data = pki.host_pillar(tmp_path, "h1", roles, "10.0.0.5")["saltsphere"]
    assert set(data["kubernetes_pki"]) == keys
    assert "PRIVATE KEY" not in data["kubernetes_pki"]["ca_cert"]


def test_etcd_only_host_gets_no_kubernetes_material(tmp_path):
    data = pki.host_pillar(tmp_path, "e1", ("etcd",), "10.0.0.6")["saltsphere"]
    assert "kubernetes_pki" not in data


def test_admin_kubeconfig_is_private_and_names_the_server(tmp_path):
    import yaml

    path = pki.write_admin_kubeconfig(tmp_path, "https://10.0.0.1:6443")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert config["users"][0]["user"]["client-key-data"]
    before = os.stat(path).st_mtime_ns
    pki.write_admin_kubeconfig(tmp_path, "https://10.0.0.1:6443")
    assert os.stat(path).st_mtime_ns == before, "an unchanged kubeconfig is not rewritten"
