"""Find the Debian mirror this taskbox already uses, so hosts fetch from the same place."""

import re
from pathlib import Path

from saltsphere.sandbox.errors import SandboxError

SUITE = "bookworm"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def debian_sources(apt_dir=Path("/etc/apt")):
    """Return [(uri, suite)] for every Debian bookworm suite configured for apt.

    Both deb822 ``*.sources`` files and one-line ``*.list`` entries count; third
    party repositories (other suite names) are left out of the hosts.
    """
    found = []
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = _deb822_fields(stanza)
            if "deb" not in fields.get("types", "").split():
                continue
            for uri in fields.get("uris", "").split():
                found += [(uri, s) for s in fields.get("suites", "").split() if _is_debian_suite(s)]
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and _is_debian_suite(words[2]):
                found.append((words[1], words[2]))
    if not any(suite == SUITE for _, suite in found):
        raise SandboxError(
            f"rootfs: no apt source for Debian {SUITE} under {apt_dir}; "
            f"add the Debian mirror to {apt_dir}/sources.list.d/ so the hosts can be built"
        )
    return list(dict.fromkeys(found))


def main_mirror(sources):
    return next(uri for uri, suite in sources if suite == SUITE)


def render_sources(sources):
    """The deb822 sources file written into the hosts' rootfs."""
    stanzas = []
    for uri in dict.fromkeys(uri for uri, _ in sources):
        suites = " ".join(suite for u, suite in sources if u == uri)
        stanzas.append(
            f"Types: deb\nURIs: {uri}\nSuites: {suites}\nComponents: main\nSigned-By: {KEYRING}\n"
        )
    return "\n".join(stanzas)


def _deb822_fields(stanza):
    fields = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    return fields


def _is_debian_suite(suite):
    return suite == SUITE or suite.startswith(SUITE + "-")
