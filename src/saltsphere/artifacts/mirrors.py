"""Internal mirrors ``artifact fetch`` may take a bundle from instead of the public downloads and registries.

A release mirror serves each release file and its checksum file at
upstream's path below its own URL; a registry mirror serves each image under
its upstream repository path.  Both speak https, or plain http when that is
asked for on a loopback address: never as a fallback.
"""

import dataclasses
import ipaddress
import urllib.parse

from saltsphere import bom
from saltsphere.artifacts.errors import ArtifactError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_release_url(url: str) -> str:
    """``url`` without its trailing slash, if it can serve as the base of a release mirror."""
    split = urllib.parse.urlsplit(url)
    if split.scheme not in ("https", "http") or not split.hostname or split.query or split.fragment:
        raise ArtifactError(f"--release-url {url!r} must be an https:// URL (a host and maybe a path below it)")
    if split.scheme == "http" and not _is_loopback(split.hostname):
        raise ArtifactError(
            f"--release-url {url!r}: plain http is accepted on a loopback address only; serve the mirror over "
            "https (a reverse proxy with TLS in front of it will do)"
        )
    return url.rstrip("/")


def check_registry_mirror(value: str) -> str:
    """``value`` as :class:`Registry` takes it: ``HOST[:PORT]`` (https), or ``http://HOST[:PORT]`` on loopback only."""
    scheme, sep, rest = value.partition("://")
    address = rest if sep else value
    split = urllib.parse.urlsplit(f"//{address}")
    try:
        hostname, _ = split.hostname, split.port
    except ValueError:
        hostname = None
    if not hostname or split.path or split.query or split.username or (sep and scheme not in ("http", "https")):
        raise ArtifactError(f"registry mirror {value!r} must be HOST[:PORT] (or http://HOST[:PORT] on loopback)")
    if sep and scheme == "http" and not _is_loopback(hostname):
        raise ArtifactError(
            f"registry mirror {value!r}: plain http is accepted on a loopback address only; give HOST[:PORT] and "
            "serve the registry over https"
        )
    return address if scheme == "https" or not sep else value


def mirrored(url: str, release_url: str) -> str:
    """``url`` on the mirror at ``release_url``: upstream's path below it (``wget -x -nH`` keeps that layout)."""
    return release_url + urllib.parse.urlsplit(url).path


def from_mirror(binary: bom.Binary, release_url: str) -> bom.Binary:
    return dataclasses.replace(
        binary, url=mirrored(binary.url, release_url), checksum_url=mirrored(binary.checksum_url, release_url),
        hint=f"{binary.hint}; and that the mirror {release_url} holds it, with its checksum file, in upstream's "
             "layout",
    )
