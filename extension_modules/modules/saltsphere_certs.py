"""
Certificates on a cluster host: what it holds, for the taskbox to compare with its own or to check for expiry.

Runs on cluster hosts with the standard library only.  Fingerprints are the
sha256 of a certificate's DER bytes, as ``openssl x509 -fingerprint -sha256``
prints them (without the colons).
"""

import base64
import glob
import hashlib
import os
import re

__virtualname__ = "saltsphere_certs"

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.S)
# Only base64 between the markers: a block can never run on into a key's "-----BEGIN ... PRIVATE KEY-----".
_CERT_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
# A kubeconfig's client certificate, embedded or as a file; client-key-data never matches either.
_KUBECONFIG_CERT_DATA = re.compile(r"^\s*client-certificate-data:\s*[\"']?([A-Za-z0-9+/=]+)[\"']?\s*$", re.M)
_KUBECONFIG_CERT_FILE = re.compile(r"^\s*client-certificate:\s*[\"']?([^\"'\n]+?)[\"']?\s*$", re.M)


def __virtual__():
    return __virtualname__


def fingerprint_of(text):
    """The sha256 of the first certificate of PEM ``text``, or None when it holds none."""
    match = _PEM.search(text or "")
    if not match:
        return None
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except ValueError:
        return None
    return hashlib.sha256(der).hexdigest()


def fingerprints(paths):
    """
    The fingerprint of the certificate in each of ``paths``; None for a file that is missing or holds none.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_certs.fingerprints '["/etc/kubernetes/pki/ca.crt"]'
    """
    found = {}
    for path in paths:
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                found[path] = fingerprint_of(handle.read())
        except OSError:
            found[path] = None
    return found


def read(paths):
    """
    The text of each of ``paths`` (None when missing): what ``saltsphere pki import`` copies to the taskbox.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_certs.read '["/etc/kubernetes/pki/ca.crt"]'
    """
    found = {}
    for path in paths:
        if not os.path.isfile(path):
            found[path] = None
            continue
        with open(path, encoding="ascii") as handle:
            found[path] = handle.read()
    return found


def _certificate_blocks(text):
    """The CERTIFICATE PEM blocks of ``text`` and nothing else (a key beside them stays behind)."""
    return "".join(block + "\n" for block in _CERT_BLOCK.findall(text or ""))


def _kubeconfig_certificates(path, text):
    """The client certificates a kubeconfig names, or None when ``text`` is no kubeconfig with one."""
    embedded = _KUBECONFIG_CERT_DATA.findall(text)
    files = _KUBECONFIG_CERT_FILE.findall(text)
    if not embedded and not files:
        return None
    found = []
    for data in embedded:
        try:
            found.append(_certificate_blocks(base64.b64decode(data, validate=True).decode("ascii", "replace")))
        except ValueError:
            continue
    for name in files:
        # kubectl reads a relative path from the kubeconfig's own directory.
        try:
            with open(os.path.join(os.path.dirname(path), name), encoding="ascii", errors="replace") as handle:
                found.append(_certificate_blocks(handle.read()))
        except OSError:
            continue
    return "".join(found)


def certificates(paths):
    """
    The certificates (PEM, public) of each of ``paths``; never a key.

    A path with ``*``, ``?`` or ``[`` is a pattern: each file it matches is
    reported under its own name, and a pattern matching nothing adds nothing.
    Any other path is reported as given: None when it is missing, "" when it
    holds no certificate.  A kubeconfig gives its client certificate (the
    embedded ``client-certificate-data`` or the file ``client-certificate``
    names); a file holding a certificate and its key (kubelet's
    ``kubelet-client-current.pem``) gives the certificate alone.

    CLI Example:

    .. code-block:: bash

        salt-ssh master saltsphere_certs.certificates '["/etc/kubernetes/pki/*.crt", "/etc/kubernetes/admin.conf"]'
    """
    found = {}
    for entry in paths:
        names = sorted(glob.glob(entry)) if any(c in entry for c in "*?[") else [entry]
        for path in names:
            try:
                with open(path, encoding="ascii", errors="replace") as handle:
                    text = handle.read()
            except FileNotFoundError:
                found[path] = None
                continue
            except OSError:
                found[path] = ""
                continue
            kubeconfig = _kubeconfig_certificates(path, text)
            found[path] = kubeconfig if kubeconfig is not None else _certificate_blocks(text)
    return found
