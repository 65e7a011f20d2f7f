"""Cluster certificates, made once on the taskbox and kept in the cluster's state directory.

Layout under ``<cluster dir>/.saltsphere/pki`` (directories 0700, keys 0600)::

    etcd/ca.crt ca.key                       the etcd CA
    etcd/peer-<host>.crt .key                one per etcd member, peer traffic
    etcd/server-<host>.crt .key              one per etcd member, client traffic
    etcd/apiserver-etcd-client.crt .key      kube-apiserver's client certificate
    etcd/admin.crt .key                      operators' and health checks' client certificate
    kubernetes/ca.crt ca.key                 the cluster CA (kubeadm signs the control plane's certificates with it)
    kubernetes/front-proxy-ca.crt .key       the aggregation layer's CA
    kubernetes/sa.key sa.pub                 the service-account token signing key
    kubernetes/bootstrap-token               the token nodes join with (``<id>.<secret>``)
    kubernetes/admin.crt .key                the operators' client certificate (system:masters)

Every function is idempotent: an existing certificate is reused as long as it
is signed by the current CA, names what it must name and is not close to
expiry; otherwise only that certificate is issued again.  Adding a member
never touches the others.
"""

import contextlib
import datetime
import fcntl
import ipaddress
import os
import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
CERT_DAYS = 825
# Certificates with less than this left are issued again on the next run.
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Pair:
    cert_path: Path
    key_path: Path

    def cert_pem(self) -> str:
        return self.cert_path.read_text()

    def key_pem(self) -> str:
        return self.key_path.read_text()


def state_dir(cluster_directory) -> Path:
    """The cluster's private state directory, created 0700."""
    path = Path(cluster_directory) / ".saltsphere"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write_private(path: Path, data: bytes, mode: int):
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _new_key(algorithm="ec"):
    # kubeadm 1.20 issues RSA leaf certificates and reads an RSA service-account key;
    # the Kubernetes CAs use RSA so that every kubeadm version accepts them.
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _load(pair: Pair):
    if not (pair.cert_path.is_file() and pair.key_path.is_file()):
        return None, None
    cert = x509.load_pem_x509_certificate(pair.cert_path.read_bytes())
    key = serialization.load_pem_private_key(pair.key_path.read_bytes(), password=None)
    return cert, key


def _builder(subject, issuer, public_key, days, is_ca):
    """What every certificate here shares: serial, validity (with some slack for clock skew), constraints."""
    now = _now()
    # KeyUsage: a CA signs certificates and CRLs; a leaf signs and enciphers keys.
    usage = (True, False, False, False, False, True, True, False, False) if is_ca else \
        (True, False, True, False, False, False, False, False, False)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(*usage), critical=True)
    )


def ensure_ca(directory: Path, common_name: str, name: str = "ca", algorithm: str = "ec") -> Pair:
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    cert, _ = _load(pair)
    if cert is not None and cert.not_valid_after_utc - _now() > RENEW_BEFORE:
        return pair
    key = _new_key(algorithm)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(name, name, key.public_key(), CA_DAYS, is_ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(pair.key_path, _key_pem(key), 0o600)
    _write_private(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return pair


def _sans(dns_names, ip_addresses):
    names = [x509.DNSName(n) for n in sorted(set(dns_names))]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(set(ip_addresses))]
    return names


def _verify_signature(ca_cert, cert):
    public_key = ca_cert.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
    else:
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))


def _subject(common_name, organization=None):
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _is_current(cert, ca_cert, common_name, sans, usages, organization=None) -> bool:
    if cert.issuer != ca_cert.subject or cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    if cert.subject != _subject(common_name, organization):
        return False
    try:
        _verify_signature(ca_cert, cert)
        present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, InvalidSignature, TypeError):  # foreign or damaged: replace it
        return False
    return set(present) == set(sans) and set(eku) == set(usages)


def ensure_cert(directory: Path, ca: Pair, name: str, common_name: str, usages, dns_names=(), ip_addresses=(),
                organization=None) -> Pair:
    """A certificate signed by ``ca``, issued only if missing or no longer right."""
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    ca_cert, ca_key = _load(ca)
    sans = _sans(dns_names, ip_addresses)
    cert, _ = _load(pair)
    if cert is not None and _is_current(cert, ca_cert, common_name, sans, usages, organization):
        return pair
    key = _new_key()
    builder = (
        _builder(_subject(common_name, organization), ca_cert.subject, key.public_key(), CERT_DAYS, is_ca=False)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_private(pair.key_path, _key_pem(key), 0o600)
    _write_private(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return pair


SERVER_AND_CLIENT = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
CLIENT = (ExtendedKeyUsageOID.CLIENT_AUTH,)


def etcd_member(pki_dir: Path, name: str, ip: str) -> dict:
    """The etcd CA and one member's peer and server pairs."""
    directory = pki_dir / "etcd"
    ca = ensure_ca(directory, "etcd-ca")
    dns, ips = (name, "localhost"), (ip, "127.0.0.1")
    return {
        "ca": ca,
        "peer": ensure_cert(directory, ca, f"peer-{name}", name, SERVER_AND_CLIENT, dns, ips),
        "server": ensure_cert(directory, ca, f"server-{name}", name, SERVER_AND_CLIENT, dns, ips),
    }


def etcd_client(pki_dir: Path, name: str) -> dict:
    """A client certificate of the etcd CA (``apiserver-etcd-client``, ``admin``)."""
    directory = pki_dir / "etcd"
    ca = ensure_ca(directory, "etcd-ca")
    return {"ca": ca, "client": ensure_cert(directory, ca, name, name, CLIENT)}


TOKEN_RE = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def ensure_service_account_key(directory: Path) -> Pair:
    """The key pair that signs service-account tokens (``sa.key``, ``sa.pub``); every master shares it."""
    pair = Pair(directory / "sa.pub", directory / "sa.key")
    if pair.cert_path.is_file() and pair.key_path.is_file():
        return pair
    key = _new_key("rsa")
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_private(pair.key_path, _key_pem(key), 0o600)
    _write_private(pair.cert_path, public, 0o644)
    return pair


def ensure_bootstrap_token(directory: Path) -> str:
    """The token nodes join with, ``<6>.<16>`` lowercase letters and digits, made once."""
    path = directory / "bootstrap-token"
    if path.is_file():
        token = path.read_text().strip()
        if TOKEN_RE.match(token):
            return token
    token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(6)) + "." + \
        "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(16))
    _write_private(path, token.encode() + b"\n", 0o600)
    return token


def kubernetes_material(pki_dir: Path) -> dict:
    """The Kubernetes CAs, service-account key, bootstrap token and operators' client pair."""
    directory = pki_dir / "kubernetes"
    ca = ensure_ca(directory, "kubernetes", algorithm="rsa")
    return {
        "ca": ca,
        "front_proxy_ca": ensure_ca(directory, "front-proxy-ca", name="front-proxy-ca", algorithm="rsa"),
        "sa": ensure_service_account_key(directory),
        "token": ensure_bootstrap_token(directory),
        "admin": ensure_cert(directory, ca, "admin", "kubernetes-admin", CLIENT, organization="system:masters"),
    }


@contextlib.contextmanager
def locked(pki_dir: Path):
    """Serialise issuing: salt-ssh compiles the pillars of many hosts in parallel processes."""
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(pki_dir / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pem(pair: Pair) -> dict:
    return {"cert": pair.cert_pem(), "key": pair.key_pem()}


def host_pillar(cluster_directory, name, roles, ip) -> dict:
    """The TLS material one host needs, and nothing that belongs to another host.

    An etcd member gets its own peer, server and health-check pairs; a
    control-plane host gets the API server's etcd client pair.  Every one of
    them gets the etcd CA certificate, never its key.  Kubernetes hosts get the
    cluster CA certificate and the bootstrap token; masters also get the
    Kubernetes CAs' keys and the service-account key, from which kubeadm signs
    their own certificates.
    """
    pki_dir = state_dir(cluster_directory) / "pki"
    data = {}
    with locked(pki_dir):
        if "etcd" in roles:
            member = etcd_member(pki_dir, name, ip)
            check = etcd_client(pki_dir, f"healthcheck-{name}")["client"]
            data.update(ca=member["ca"].cert_pem(), peer=_pem(member["peer"]), server=_pem(member["server"]),
                        healthcheck=_pem(check))
        if "kube-master" in roles:
            client = etcd_client(pki_dir, "apiserver-etcd-client")
            data.update(ca=client["ca"].cert_pem(), apiserver_client=_pem(client["client"]))
        kubernetes = {}
        if "kube-master" in roles or "kube-node" in roles:
            material = kubernetes_material(pki_dir)
            kubernetes = {"ca_cert": material["ca"].cert_pem(), "token": material["token"]}
            if "kube-master" in roles:
                kubernetes.update(
                    ca=_pem(material["ca"]),
                    front_proxy_ca=_pem(material["front_proxy_ca"]),
                    sa={"pub": material["sa"].cert_pem(), "key": material["sa"].key_pem()},
                )
    result = {}
    if data:
        result["etcd"] = data
    if kubernetes:
        result["kubernetes_pki"] = kubernetes
    return {"saltsphere": result} if result else {}


def admin_kubernetes_client(cluster_directory) -> dict:
    """The operators' Kubernetes client pair and the cluster CA (paths)."""
    pki_dir = state_dir(cluster_directory) / "pki"
    with locked(pki_dir):
        material = kubernetes_material(pki_dir)
    return {"ca": material["ca"].cert_path, "cert": material["admin"].cert_path, "key": material["admin"].key_path}


def admin_client(cluster_directory) -> dict:
    """The operators' etcd client pair (paths), for health checks from the taskbox."""
    pki_dir = state_dir(cluster_directory) / "pki"
    with locked(pki_dir):
        pairs = etcd_client(pki_dir, "admin")
    return {"ca": pairs["ca"].cert_path, "cert": pairs["client"].cert_path, "key": pairs["client"].key_path}


def write_admin_kubeconfig(cluster_directory, server: str) -> Path:
    """``.saltsphere/admin.conf`` (0600): kubectl on the taskbox as the cluster's administrator."""
    import base64

    import yaml

    client = admin_kubernetes_client(cluster_directory)

    def b64(path):
        return base64.b64encode(Path(path).read_bytes()).decode()

    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": server, "certificate-authority-data": b64(client["ca"])}}],
        "users": [{"name": "kubernetes-admin", "user": {"client-certificate-data": b64(client["cert"]),
                                                          "client-key-data": b64(client["key"])}}],
        "contexts": [{"name": "kubernetes-admin@kubernetes",
                      "context": {"cluster": "kubernetes", "user": "kubernetes-admin"}}],
        "current-context": "kubernetes-admin@kubernetes",
        "preferences": {},
    }
    path = state_dir(cluster_directory) / "admin.conf"
    text = yaml.safe_dump(document, sort_keys=False).encode()
    if not (path.is_file() and path.read_bytes() == text):
        _write_private(path, text, 0o600)
    return path
