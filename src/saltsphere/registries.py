"""Where containerd on every host pulls images from: vars.yml's registry keys as containerd's hosts.toml files.

containerd reads ``/etc/containerd/certs.d/<registry>/hosts.toml`` on each
pull (the CRI plugin's ``config_path``); no restart is needed when they change.

- ``registry_mirrors``: mirrors of Docker Hub (``https://HOST[:PORT]`` or
  ``http://HOST[:PORT]``), tried in order before docker.io itself;
- ``private_registry``: the operator's registry (``HOST[:PORT]``), tried
  before every public registry the cluster's images come from; it holds them
  under the same repository paths (a pull-through cache, or pushed there);
- ``insecure_registries``: registries (``HOST[:PORT]``) spoken to over plain
  HTTP;
- ``registry_ca_file``: the CA (a PEM file on the taskbox) that signed
  ``private_registry``'s certificate, when the hosts' trust store lacks it.

:func:`problems` says what is wrong with those keys (the CLI's check);
:func:`host_files` gives the files every host gets (the pillar).
"""

import json
import os
import re

CERTS_DIR = "/etc/containerd/certs.d"
HEADER = "# Managed by saltsphere (vars.yml: registry keys); changes here are overwritten.\n"
# The registries the cluster's images come from, by their names in image references.
PUBLIC = ("docker.io", "registry.k8s.io", "k8s.gcr.io", "gcr.io", "quay.io", "ghcr.io")
# Docker Hub's registry answers at another name than the one images carry.
SERVERS = {"docker.io": "https://registry-1.docker.io"}
CA_NAME = "private-registry-ca.crt"

_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*" \
        r"|\[[0-9A-Fa-f:.]+\])"
HOST_PORT = re.compile(rf"^{_HOST}(?::(\d{{1,5}}))?$")
URL = re.compile(rf"^(https?)://({_HOST}(?::\d{{1,5}})?)/?$")
MAX_CA_BYTES = 1 << 20


def _valid_port(text) -> bool:
    match = HOST_PORT.match(text)
    return bool(match) and (match.group(1) is None or 1 <= int(match.group(1)) <= 65535)


def problems(config, base_dir="."):
    """``[(key, what is wrong, how to fix it)]`` for the registry keys of ``config`` (a dict of vars.yml)."""
    found = []
    for index, url in enumerate(config.get("registry_mirrors") or []):
        match = URL.match(str(url))
        if not match or not _valid_port(match.group(2)):
            found.append(("registry_mirrors", f"entry {index + 1} {url!r} is not a registry URL",
                          "write each mirror as https://HOST[:PORT] (or http:// for one without TLS), no path"))
    for index, name in enumerate(config.get("insecure_registries") or []):
        if not _valid_port(str(name)):
            found.append(("insecure_registries", f"entry {index + 1} {name!r} is not HOST[:PORT]",
                          "write each registry as its name or address and port, e.g. 10.0.0.5:5000, no scheme"))
    private = str(config.get("private_registry") or "")
    if private and not _valid_port(private):
        found.append(("private_registry", f"{private!r} is not HOST[:PORT]",
                      "write the registry's name or address and port, e.g. harbor.example.com:443, no scheme"))
    ca_file = str(config.get("registry_ca_file") or "")
    if ca_file:
        path = ca_file if os.path.isabs(ca_file) else os.path.join(base_dir, ca_file)
        if not private:
            found.append(("registry_ca_file", "is set but private_registry is not",
                          "set private_registry to the registry this CA signed, or remove registry_ca_file"))
        elif private in _insecure(config):
            found.append(("registry_ca_file", f"is set but {private} is spoken to over plain HTTP "
                          "(insecure_registries)", "remove one of the two"))
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_CA_BYTES + 1)
        except OSError as exc:
            found.append(("registry_ca_file", f"{path} cannot be read: {exc.strerror}",
                          "give the path of the CA certificate (PEM) on this taskbox"))
        else:
            if b"-----BEGIN CERTIFICATE-----" not in text or len(text) > MAX_CA_BYTES:
                found.append(("registry_ca_file", f"{path} holds no PEM certificate",
                              "give the CA certificate that signed the registry's, in PEM form"))
            elif b"PRIVATE KEY" in text:
                found.append(("registry_ca_file", f"{path} holds a private key",
                              "give the CA's certificate only; its key must never reach the hosts"))
    return found


def _insecure(config) -> set:
    return {str(name) for name in config.get("insecure_registries") or []}


def _endpoint(name, insecure) -> str:
    return f"{'http' if name in insecure else 'https'}://{name}"


def _host_block(url, capabilities, ca=None) -> str:
    lines = [f'[host."{url}"]', f"  capabilities = {json.dumps(list(capabilities))}"]
    if ca:
        lines.append(f'  ca = "{ca}"')
    return "\n".join(lines) + "\n"


def host_files(config, base_dir=".") -> dict:
    """``{path on the host: content}``: a hosts.toml per registry the keys name, and the private registry's CA.

    Empty when no registry key is set: containerd then pulls from each
    registry directly, as it does without a hosts.toml.
    """
    insecure = _insecure(config)
    mirrors = [str(url).rstrip("/") for url in config.get("registry_mirrors") or []]
    private = str(config.get("private_registry") or "")
    ca_file = str(config.get("registry_ca_file") or "")
    files = {}
    ca_path = None
    if private and ca_file:
        path = ca_file if os.path.isabs(ca_file) else os.path.join(base_dir, ca_file)
        with open(path, encoding="ascii") as handle:
            files[f"{CERTS_DIR}/{CA_NAME}"] = handle.read()
        ca_path = f"{CERTS_DIR}/{CA_NAME}"
    front = [(_endpoint(private, insecure), ca_path)] if private else []
    for registry in PUBLIC:
        extra = [(url, None) for url in mirrors] if registry == "docker.io" else []
        hosts = front + extra
        if not hosts:
            continue
        body = [HEADER, f'server = "{SERVERS.get(registry, "https://" + registry)}"\n']
        body += ["\n" + _host_block(url, ("pull", "resolve"), ca) for url, ca in hosts]
        files[f"{CERTS_DIR}/{registry}/hosts.toml"] = "".join(body)
    for name in sorted(insecure | ({private} if private else set())):
        url = _endpoint(name, insecure)
        ca = ca_path if name == private else None
        body = [HEADER, f'server = "{url}"\n', "\n" + _host_block(url, ("pull", "resolve", "push"), ca)]
        files[f"{CERTS_DIR}/{name}/hosts.toml"] = "".join(body)
    return files
