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

Only :func:`issue` (called by the prepare step) writes here; pillar and
status read through :func:`host_pillar`, :func:`admin_client` and
:func:`admin_kubernetes_client`, which never create anything, and
:func:`pending` names what :func:`issue` would write, writing nothing: the
same decisions, with every write recorded instead (``dry``).  Issuing is
idempotent: an existing certificate is reused as long as it is signed by the
current CA, names what it must name and is not close to expiry; otherwise only
that certificate is issued again.  Adding a member never touches the others.
A CA is made only when the caller has checked that no host holds one, and is
never replaced.  :func:`renew` (``saltsphere certs renew``) issues every leaf
again from the same CAs, each with a new key, whatever time it had left;
:func:`renewal_pending` names what it would issue, writing nothing.
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

from saltsphere.errors import ActionableError

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


def write_private(path: Path, data: bytes, mode: int):
    """Write ``data`` to ``path`` atomically with ``mode``, its directory 0700."""
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


class PKIError(ActionableError):
    """A certificate cannot be made or read as asked; the message names it and the fix."""


PREPARE_HINT = "run `salt-run saltsphere.prepare` (the orchestration and ./install.sh run it first)"


def _skip(dry, *paths) -> bool:
    """In a dry run, record ``paths`` as files that would be written; True when nothing is to be written."""
    if dry is None:
        return False
    dry.extend(paths)
    return True


def ensure_ca(directory: Path, common_name: str, name: str = "ca", algorithm: str = "ec", create=False,
              dry=None) -> Pair:
    """The CA ``name`` of ``directory``; made only when missing and ``create`` says no host holds one.

    A CA is never replaced here: hosts trust it, and a new one would make the
    cluster's members reject each other.  A CA certificate without its key
    (imported from the hosts) is used as it is: certificates it signed stay
    valid, and only issuing new ones fails.
    """
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    if pair.cert_path.is_file() or (dry is not None and pair.cert_path in dry):
        return pair
    if pair.key_path.is_file():
        raise PKIError(f"{pair.key_path} has no certificate beside it ({pair.cert_path.name}); restore the file "
                       f"from a backup of .saltsphere/, or import the cluster's CA with `saltsphere pki import`")
    if not create:
        raise PKIError(f"the CA {common_name} is not on this taskbox ({pair.cert_path} is missing); {PREPARE_HINT}")
    if _skip(dry, pair.key_path, pair.cert_path):
        return pair
    key = _new_key(algorithm)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(subject, subject, key.public_key(), CA_DAYS, is_ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(pair.key_path, _key_pem(key), 0o600)
    write_private(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
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
                organization=None, dry=None, renew=False) -> Pair:
    """A certificate signed by ``ca``, issued only if missing or no longer right (or always, with ``renew``)."""
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    if dry is not None and ca.cert_path in dry:
        # A CA this dry run would make signs every certificate anew.
        _skip(dry, pair.key_path, pair.cert_path)
        return pair
    ca_cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    sans = _sans(dns_names, ip_addresses)
    cert, _ = _load(pair)
    if not renew and cert is not None and _is_current(cert, ca_cert, common_name, sans, usages, organization):
        return pair
    if not ca.key_path.is_file():
        raise PKIError(f"cannot issue {pair.cert_path}: the key of the CA {ca_cert.subject.rfc4514_string()} is not "
                       f"on this taskbox ({ca.key_path}); certificates it signed are used as long as they are valid, "
                       "new ones need the key: restore .saltsphere/ from a backup")
    if _skip(dry, pair.key_path, pair.cert_path):
        return pair
    ca_key = serialization.load_pem_private_key(ca.key_path.read_bytes(), password=None)
    key = _new_key()
    builder = (
        _builder(_subject(common_name, organization), ca_cert.subject, key.public_key(), CERT_DAYS, is_ca=False)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    write_private(pair.key_path, _key_pem(key), 0o600)
    write_private(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return pair


SERVER_AND_CLIENT = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
CLIENT = (ExtendedKeyUsageOID.CLIENT_AUTH,)

# The CAs of a cluster: (directory under pki/, file name, common name, key algorithm).
CAS = {
    "etcd-ca": ("etcd", "ca", "etcd-ca", "ec"),
    "kubernetes": ("kubernetes", "ca", "kubernetes", "rsa"),
    "front-proxy-ca": ("kubernetes", "front-proxy-ca", "front-proxy-ca", "rsa"),
}


def ca(pki_dir: Path, kind: str, create=False, dry=None) -> Pair:
    directory, name, common_name, algorithm = CAS[kind]
    return ensure_ca(pki_dir / directory, common_name, name=name, algorithm=algorithm, create=create, dry=dry)


def missing_cas(pki_dir: Path) -> list:
    """The CAs whose certificate is not on this taskbox."""
    return [kind for kind, (directory, name, _, _) in CAS.items()
            if not (pki_dir / directory / f"{name}.crt").is_file()]


def fingerprint(pem: str | bytes) -> str:
    """sha256 of a PEM certificate's DER, as hex: how a CA on a host is compared with the taskbox's."""
    data = pem.encode() if isinstance(pem, str) else pem
    cert = x509.load_pem_x509_certificate(data)
    return cert.fingerprint(hashes.SHA256()).hex()


def etcd_member(pki_dir: Path, name: str, ip: str, create_ca=False, dry=None, renew=False) -> dict:
    """The etcd CA and one member's peer and server pairs."""
    directory = pki_dir / "etcd"
    authority = ca(pki_dir, "etcd-ca", create_ca, dry)
    dns, ips = (name, "localhost"), (ip, "127.0.0.1")
    return {
        "ca": authority,
        "peer": ensure_cert(directory, authority, f"peer-{name}", name, SERVER_AND_CLIENT, dns, ips, dry=dry,
                            renew=renew),
        "server": ensure_cert(directory, authority, f"server-{name}", name, SERVER_AND_CLIENT, dns, ips, dry=dry,
                              renew=renew),
    }


def etcd_client(pki_dir: Path, name: str, create_ca=False, dry=None, renew=False) -> dict:
    """A client certificate of the etcd CA (``apiserver-etcd-client``, ``admin``)."""
    authority = ca(pki_dir, "etcd-ca", create_ca, dry)
    return {"ca": authority,
            "client": ensure_cert(pki_dir / "etcd", authority, name, name, CLIENT, dry=dry, renew=renew)}


TOKEN_RE = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def ensure_service_account_key(directory: Path, dry=None) -> Pair:
    """The key pair that signs service-account tokens (``sa.key``, ``sa.pub``); every master shares it."""
    pair = Pair(directory / "sa.pub", directory / "sa.key")
    if (pair.cert_path.is_file() and pair.key_path.is_file()) or _skip(dry, pair.key_path, pair.cert_path):
        return pair
    key = _new_key("rsa")
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_private(pair.key_path, _key_pem(key), 0o600)
    write_private(pair.cert_path, public, 0o644)
    return pair


def ensure_bootstrap_token(directory: Path, dry=None) -> str | None:
    """The token nodes join with, ``<6>.<16>`` lowercase letters and digits, made once (None in a dry run)."""
    path = directory / "bootstrap-token"
    if path.is_file():
        token = path.read_text().strip()
        if TOKEN_RE.match(token):
            return token
    if _skip(dry, path):
        return None
    token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(6)) + "." + \
        "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(16))
    write_private(path, token.encode() + b"\n", 0o600)
    return token


def kubernetes_material(pki_dir: Path, create_ca=False, dry=None, renew=False) -> dict:
    """The Kubernetes CAs, service-account key, bootstrap token and operators' client pair."""
    directory = pki_dir / "kubernetes"
    authority = ca(pki_dir, "kubernetes", create_ca, dry)
    return {
        "ca": authority,
        "front_proxy_ca": ca(pki_dir, "front-proxy-ca", create_ca, dry),
        "sa": ensure_service_account_key(directory, dry),
        "token": ensure_bootstrap_token(directory, dry),
        "admin": ensure_cert(directory, authority, "admin", "kubernetes-admin", CLIENT, organization="system:masters",
                             dry=dry, renew=renew),
    }


@contextlib.contextmanager
def locked(pki_dir: Path):
    """Serialise writers: two runs preparing the same cluster at once take turns."""
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(pki_dir / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pki_dir_of(cluster_directory) -> Path:
    """``<cluster>/.saltsphere/pki``, without creating anything."""
    return Path(cluster_directory) / ".saltsphere" / "pki"


def issue(cluster_directory, hosts, create_cas=False) -> None:
    """Every certificate, key and token the hosts ``[(name, roles, ip)]`` and the taskbox need.

    Existing material is kept while it is right; CAs are made only with
    ``create_cas`` (the caller has checked that no host holds one).
    """
    pki_dir = state_dir(cluster_directory) / "pki"
    with locked(pki_dir):
        _issue(pki_dir, hosts, create_cas, None)


def pending(cluster_directory, hosts, create_cas=False) -> list:
    """The files :func:`issue` would write (paths), writing nothing; raises where :func:`issue` would."""
    dry = []
    _issue(pki_dir_of(cluster_directory), hosts, create_cas, dry)
    return list(dict.fromkeys(dry))


def renewal_problems(cluster_directory) -> list:
    """Why :func:`renew` cannot run on this taskbox (a CA or its key missing), each naming the fix; reads only."""
    pki_dir = pki_dir_of(cluster_directory)
    problems = []
    for kind in ("etcd-ca", "kubernetes"):
        directory, name, common_name, _ = CAS[kind]
        for path in (pki_dir / directory / f"{name}.crt", pki_dir / directory / f"{name}.key"):
            if not path.is_file():
                problems.append(f"{path} is missing: the {common_name} CA signs the renewed certificates and is never "
                                "replaced; restore .saltsphere/ beside hosts.ini from a backup")
                break
    return problems


def renew(cluster_directory, hosts) -> list:
    """Every leaf certificate of the hosts ``[(name, roles, ip)]`` and the taskbox issued again; the paths written.

    The same CAs sign them (none is made or replaced), each with a new key.
    Raises :class:`PKIError` before writing anything when a CA's key is not here.
    """
    problems = renewal_problems(cluster_directory)
    if problems:
        raise PKIError("; ".join(problems))
    pki_dir = pki_dir_of(cluster_directory)
    with locked(pki_dir):
        before = {path: path.stat().st_mtime_ns for path in pki_dir.rglob("*.crt")}
        _issue(pki_dir, hosts, False, None, renew=True)
        return sorted(str(path) for path in pki_dir.rglob("*.crt") if before.get(path) != path.stat().st_mtime_ns)


def renewal_pending(cluster_directory, hosts) -> list:
    """The certificates :func:`renew` would issue again (paths), writing nothing: the same walk, recorded."""
    dry = []
    _issue(pki_dir_of(cluster_directory), hosts, False, dry, renew=True)
    return sorted({str(path) for path in dry if str(path).endswith(".crt")})


def _issue(pki_dir, hosts, create_cas, dry, renew=False):
    for kind in CAS:
        ca(pki_dir, kind, create_cas, dry)
    etcd_key = pki_dir / "etcd" / "ca.key"
    can_sign_etcd = etcd_key.is_file() or (dry is not None and etcd_key in dry)
    apiserver_client = False
    for name, roles, ip in hosts:
        if "etcd" in roles:
            etcd_member(pki_dir, name, ip, dry=dry, renew=renew)
            etcd_client(pki_dir, f"healthcheck-{name}", dry=dry, renew=renew)
        if "kube-master" in roles and not apiserver_client:
            # One pair every API server shares: issued (or renewed) once.
            etcd_client(pki_dir, "apiserver-etcd-client", dry=dry, renew=renew)
            apiserver_client = True
    kubernetes_material(pki_dir, dry=dry, renew=renew)
    # Imported material has no etcd CA key: the taskbox then checks etcd
    # with a member's health-check pair (see admin_client).
    if can_sign_etcd:
        etcd_client(pki_dir, "admin", dry=dry, renew=renew)


# The files the taskbox holds for one host (an etcd member): its peer, server and health-check pairs.
def host_files(pki_dir: Path, name: str) -> list:
    return [pki_dir / "etcd" / f"{prefix}-{name}.{ext}" for prefix in ("peer", "server", "healthcheck")
            for ext in ("crt", "key")]


def retired_dir_of(cluster_directory) -> Path:
    """``<cluster>/.saltsphere/retired``: certificates of removed hosts, outside the PKI every run reads."""
    return Path(cluster_directory) / ".saltsphere" / "retired"


def retire(cluster_directory, names, dry=None, now=None) -> list:
    """The taskbox's certificates and keys of the removed hosts ``names`` go: returns what went (paths).

    The keys are deleted; the certificates move to
    ``.saltsphere/retired/<name>-<UTC time>/`` (0700), so their serials stay
    on record.  Nothing distributes them any more, and a host added again
    under the same name gets new ones from the next prepare step.  With
    ``dry`` (a list) nothing moves and the paths are recorded there.
    """
    pki_dir = pki_dir_of(cluster_directory)
    stamp = (now or _now()).strftime("%Y%m%dT%H%M%SZ")
    gone = []
    for name in names:
        present = [path for path in host_files(pki_dir, name) if path.is_file()]
        if not present:
            continue
        gone += present
        if dry is not None:
            dry.extend(present)
            continue
        with locked(pki_dir):
            target = retired_dir_of(cluster_directory) / f"{name}-{stamp}"
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(target.parent, 0o700)
            for path in present:
                if path.suffix == ".crt":
                    os.replace(path, target / path.name)
                else:
                    path.unlink()
    return gone


# --- reading: pillar and status never issue anything ---------------------------------------------------


def _read(path: Path, missing: list) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        missing.append(str(path))
        return ""


def _read_pair(directory: Path, name: str, missing: list) -> dict:
    return {"cert": _read(directory / f"{name}.crt", missing), "key": _read(directory / f"{name}.key", missing)}


def host_pillar(cluster_directory, name, roles, ip=None, with_ca_keys=True) -> dict:
    """The TLS material one host needs, and nothing that belongs to another host, read from the taskbox.

    An etcd member gets its own peer, server and health-check pairs; a
    control-plane host gets the API server's etcd client pair.  Every one of
    them gets the etcd CA certificate, never its key.  Kubernetes hosts get the
    cluster CA certificate and the bootstrap token; masters also get the
    Kubernetes CAs' keys and the service-account key, from which kubeadm signs
    their own certificates — only ``with_ca_keys`` (the phase that signs).

    Raises :class:`PKIError` naming what is missing: the prepare step makes it.
    """
    pki_dir = pki_dir_of(cluster_directory)
    etcd_dir, kube_dir = pki_dir / "etcd", pki_dir / "kubernetes"
    missing, data, kubernetes = [], {}, {}
    if "etcd" in roles:
        data.update(ca=_read(etcd_dir / "ca.crt", missing), peer=_read_pair(etcd_dir, f"peer-{name}", missing),
                    server=_read_pair(etcd_dir, f"server-{name}", missing),
                    healthcheck=_read_pair(etcd_dir, f"healthcheck-{name}", missing))
    if "kube-master" in roles:
        data.update(ca=_read(etcd_dir / "ca.crt", missing),
                    apiserver_client=_read_pair(etcd_dir, "apiserver-etcd-client", missing))
    if "kube-master" in roles or "kube-node" in roles:
        kubernetes = {"ca_cert": _read(kube_dir / "ca.crt", missing),
                      "token": _read(kube_dir / "bootstrap-token", missing).strip()}
        if "kube-master" in roles and with_ca_keys:
            kubernetes.update(
                ca=_read_pair(kube_dir, "ca", missing),
                front_proxy_ca=_read_pair(kube_dir, "front-proxy-ca", missing),
                sa={"pub": _read(kube_dir / "sa.pub", missing), "key": _read(kube_dir / "sa.key", missing)},
            )
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise PKIError(f"the taskbox has no certificates for {name} yet ({missing[0]}{more} missing); {PREPARE_HINT}")
    result = {}
    if data:
        result["etcd"] = data
    if kubernetes:
        result["kubernetes_pki"] = kubernetes
    return {"saltsphere": result} if result else {}


def _existing(pair: Pair, what: str) -> Pair:
    if not (pair.cert_path.is_file() and pair.key_path.is_file()):
        raise PKIError(f"the taskbox has no {what} ({pair.cert_path}); {PREPARE_HINT}")
    return pair


def admin_kubernetes_client(cluster_directory) -> dict:
    """The operators' Kubernetes client pair and the cluster CA (paths)."""
    directory = pki_dir_of(cluster_directory) / "kubernetes"
    admin = _existing(Pair(directory / "admin.crt", directory / "admin.key"), "Kubernetes administrator's certificate")
    return {"ca": directory / "ca.crt", "cert": admin.cert_path, "key": admin.key_path}


def admin_client(cluster_directory) -> dict:
    """An etcd client pair of the taskbox (paths): the operators' one, or a member's health-check pair."""
    directory = pki_dir_of(cluster_directory) / "etcd"
    pair = Pair(directory / "admin.crt", directory / "admin.key")
    if not pair.cert_path.is_file():
        pair = next((Pair(cert, cert.with_suffix(".key")) for cert in sorted(directory.glob("healthcheck-*.crt"))),
                    pair)
    _existing(pair, "etcd client certificate")
    return {"ca": directory / "ca.crt", "cert": pair.cert_path, "key": pair.key_path}
