"""
Certificates on a cluster host: what it holds, for the taskbox to compare with its own.

Runs on cluster hosts with the standard library only.  Fingerprints are the
sha256 of a certificate's DER bytes, as ``openssl x509 -fingerprint -sha256``
prints them (without the colons).
"""

import base64
import hashlib
import os
import re

__virtualname__ = "saltsphere_certs"

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.S)


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
