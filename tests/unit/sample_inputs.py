"""The seed's example files and small builders of inventories, shared by the unit tests."""

from saltsphere import paths

ROOT = paths.project_root()

# The seed's multi-node hosts.ini, verbatim (including its double spaces).
SEED_HOSTS_INI = """\
[all]
master ansible_connection=local  ip=192.168.0.1
node1  ansible_host=192.168.0.2  ip=192.168.0.2  ansible_ssh_pass=PASSWORD
node2  ansible_host=192.168.0.3  ip=192.168.0.3  ansible_ssh_pass=PASSWORD

[kube-master]
master

[kube-node]
node1
node2

[etcd]
master

[k8s-cluster:children]
kube-node
kube-master
"""

# The seed's storage example for vars.yml, verbatim.
SEED_VARS_YML = """\
# Local volume provisioner deployment(Only all-in-one)
local_volume_provisioner_enabled: false
local_volume_provisioner_storage_class: local
local_volume_is_default_class: false

# NFS-Server provisioner deployment
nfs_server_enable: true
nfs_server_is_default_class: true
"""

SEED_HOST_LINES = (
    "master ansible_connection=local  ip=192.168.0.1",
    "node1  ansible_host=192.168.0.2  ip=192.168.0.2  ansible_ssh_pass=PASSWORD",
    "node2  ansible_host=192.168.0.3  ip=192.168.0.3  ansible_ssh_pass=PASSWORD",
)


def hosts_ini(lines=SEED_HOST_LINES, masters=("master",), nodes=("node1", "node2"), etcd=("master",),
              children=("kube-node", "kube-master"), extra=""):
    """An inventory laid out like the seed's: [all] on line 1, so the n-th host line is line n + 1."""
    parts = ["[all]", *lines, "", "[kube-master]", *masters, "", "[kube-node]", *nodes, "", "[etcd]", *etcd]
    if children is not None:
        parts += ["", "[k8s-cluster:children]", *children]
    text = "\n".join(parts) + "\n"
    return text + extra


def line_number(text, line):
    """1-based number of the first line of ``text`` equal to ``line``."""
    return text.splitlines().index(line) + 1


def matching(problems, fragment, warning=False):
    return [p for p in problems if fragment in p.message and p.warning == warning]


def only(problems, fragment):
    """The single error whose message contains ``fragment``."""
    found = matching(problems, fragment)
    assert len(found) == 1, f"expected one error with {fragment!r}, got: {[str(p) for p in problems]}"
    return found[0]


def issue_secrets(loaded):
    """What the prepare step makes for ``loaded`` on the taskbox (its PKI and KubeSphere secrets), no server."""
    from saltsphere import kubesphere, pki

    pki.issue(loaded.directory, [(s.name, s.roles, s.ip) for s in loaded.hosts.values()], create_cas=True)
    password = kubesphere.ensure_admin_password(loaded.directory, loaded.config["ks_admin_password"])
    kubesphere.ensure_admin_password_hash(loaded.directory, password)
    kubesphere.ensure_jwt_secret(loaded.directory)
    return loaded


def load_extension(kind, name):
    """The extension module ``extension_modules/<kind>/<name>.py`` of the tree, loaded as salt-ssh ships it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_{kind}", ROOT / "extension_modules" / kind / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_ssh_client(monkeypatch, answers) -> list:
    """Replace salt-ssh's client: each target answers ``answers[host]``; returns the calls ``(targets, fun, kwarg)``."""
    import salt.client.ssh.client

    calls = []

    class Client:
        def __init__(self, mopts):
            pass

        def cmd_iter(self, targets, fun, tgt_type, kwarg, ssh_timeout):
            calls.append((targets, fun, kwarg))
            for host in targets:
                yield {host: answers[host]}

    monkeypatch.setattr(salt.client.ssh.client, "SSHClient", Client)
    return calls
