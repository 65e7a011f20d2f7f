"""`./install.sh --multi-node -i HOSTS.ini --yes` end to end on a 3-host sandbox, and what it leaves behind.

The bundle built here cannot carry KubeSphere's images (no registry is
reachable), so the install must converge every phase, apply the storage
classes and the KubeSphere installer, and then end with exit code 3 naming the
missing images — never the banner.

A second install changes nothing, and neither does its dry run.  Then the trust checks: a tampered package stops the install before anything
is installed; afterwards no host holds a secret outside the files the cluster
needs, the hosts' own apt knows nothing of the bundle, the bundle server is
gone, the bootstrap token is deleted, KubeSphere holds its password as a hash,
and a taskbox that lost its PKI refuses to make a new CA.  Last, one setting
changes and the plan names exactly the states that the install after it changes.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hostscan
import planning
from saltsphere import cli, paths
from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts import serve
from test_orchestration_ha import changed_states, orchestrate

pytestmark = pytest.mark.sandbox

INSTALL_TIMEOUT = 3000
PHASES = ("preflight", "os", "etcd", "containerd", "kubernetes", "network", "storage", "ks")


def install_sh(hosts, *args):
    started = time.monotonic()
    proc = subprocess.run(
        [str(paths.project_root() / "install.sh"), "--multi-node", "-i", str(hosts.hosts_ini), *(args or ["--yes"])],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
    )
    return proc, time.monotonic() - started


# The administrator's password as vars.yml gives it: a credential the hosts must never hold in the clear.
ADMIN_PASSWORD = f"Sandbox-{secrets.token_hex(8)}-Pw1"
BUNDLE = Path("/var/lib/saltsphere/bundle")


@pytest.fixture(scope="module")
def hosts(sandbox_hosts):
    vars_yml = sandbox_hosts.cluster_dir / "vars.yml"
    vars_yml.write_text(vars_yml.read_text() + f"\nks_admin_password: {ADMIN_PASSWORD}\n")
    return sandbox_hosts


def _os_phase_with_bundle(hosts, bundle_dir):
    """The os phase with vars.yml pointing at ``bundle_dir`` for that run only: its failure report as text."""
    vars_yml = hosts.cluster_dir / "vars.yml"
    text = vars_yml.read_text()
    vars_yml.write_text(text + f"\nartifact_bundle: {bundle_dir}\n")
    try:
        code, data, err = orchestrate(hosts, "kubesphere.os", timeout=900)
    finally:
        vars_yml.write_text(text)
    assert code != 0
    return json.dumps(data)


def _tampered_copy(tmp_path, relative):
    """A copy of the bundle (hard links) in which the file ``relative`` alone differs from its manifest entry."""
    copy = tmp_path / "bundle"
    subprocess.run(["cp", "-al", str(BUNDLE), str(copy)], check=True)
    target = copy / relative
    data = bytearray(target.read_bytes())
    target.unlink()  # never write through the hard link into the real bundle
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return copy


def _deb(name):
    manifest = mf.read_manifest(BUNDLE)
    return next(e.path for e in manifest.files if e.kind == "deb" and e.path.rsplit("/", 1)[-1].startswith(name + "_"))


def test_a_tampered_package_stops_the_install_before_it_is_installed(hosts, tmp_path):
    package = _deb("socat")
    report = _os_phase_with_bundle(hosts, _tampered_copy(tmp_path, package))
    assert package.rsplit("/", 1)[-1] in report, report[-3000:]
    for host in hosts.hosts:
        code, out, _ = hostscan.run_inside(hosts.sandbox, host, ["dpkg-query", "-W", "-f=${Status}", "socat"])
        assert "install ok installed" not in out, f"{host} installed the tampered socat"


def test_a_tampered_package_index_stops_the_run_on_the_taskbox(hosts, tmp_path):
    report = _os_phase_with_bundle(hosts, _tampered_copy(tmp_path, "debs/debian-12/Packages"))
    assert "debs/debian-12/Packages" in report and "saltsphere artifact verify" in report, report[-3000:]
    assert '"ret"' not in report, "no host may be contacted with an index that does not match the manifest"


@pytest.fixture(scope="module")
def installed(hosts):
    proc, seconds = install_sh(hosts)
    print(f"./install.sh on 3 hosts: {seconds:.1f} s, exit {proc.returncode}")
    return hosts, proc


def test_every_phase_reports_one_progress_line(installed):
    _, proc = installed
    lines = [line for line in proc.stdout.splitlines() if re.match(r"^\[\d+/\d+\] ", line)]
    assert [line.split()[1] for line in lines] == list(PHASES), proc.stdout + proc.stderr[-3000:]
    assert all(line.split()[2] == "ok" for line in lines), proc.stdout
    assert all(" 0 failed" in line for line in lines), proc.stdout
    # etcd and KubeSphere run on their hosts only (the master); every other phase on all three.
    assert all(" 3 hosts done" in line for line in lines if line.split()[1] not in ("etcd", "ks")), proc.stdout


def test_missing_kubesphere_images_end_truthfully_with_exit_3(installed):
    hosts, proc = installed
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "KubeSphere is not running" in proc.stdout and "kubesphere/ks-installer:" in proc.stdout
    assert "successsful" not in proc.stdout and "Console:" not in proc.stdout
    assert not (hosts.cluster_dir / "kubesphere" / "kubesphere_running").exists()


def test_storage_has_exactly_one_default_class(installed, capsys):
    hosts, _ = installed
    capsys.readouterr()
    cli.main(["status", "-i", str(hosts.hosts_ini), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["storage"]["default_class"] == "nfs-server"
    assert report["kubernetes"]["nodes"] == {"master": "Ready", "node1": "Ready", "node2": "Ready"}
    assert report["kubesphere"]["ready"] is False


def test_installer_objects_are_in_the_cluster(installed):
    hosts, _ = installed
    code, out, err = hosts.ssh("master", "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kubesphere-system "
                               "get clusterconfiguration ks-installer -o json")
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert spec["persistence"]["storageClass"] == "nfs-server"


def test_a_second_install_changes_nothing(installed):
    hosts, _ = installed
    proc, seconds = install_sh(hosts)
    print(f"second ./install.sh: {seconds:.1f} s")
    assert proc.returncode == 3, proc.stdout[-2000:]
    # The install completed before: after its preflight, one question to every host, and no phase runs.
    lines = [line for line in proc.stdout.splitlines() if re.match(r"^\[[\d-]+/\d+\] ", line)]
    assert [line.split()[:2] for line in lines] == [["[1/8]", "preflight"], ["[2-8/8]", "os"]], proc.stdout
    assert " 0 failed, 0 changed " in lines[0], proc.stdout
    assert lines[1].split("   ")[0].endswith("skipped nothing would change on any host (every host's states under "
                                            "test=True)"), proc.stdout


# --- what the install leaves behind -------------------------------------------------------------------------


def _pem_body(path):
    """A line from the middle of a PEM key: present wherever the key is, whatever the file around it."""
    lines = [line for line in Path(path).read_text().splitlines() if line and not line.startswith("-----")]
    return lines[len(lines) // 2]


def _secrets(hosts):
    """{what: (needle, host path prefixes where it may be)} for every secret of the cluster."""
    pki = hosts.cluster_dir / ".saltsphere" / "pki"
    token = (pki / "kubernetes" / "bootstrap-token").read_text().strip()
    kept = {
        "the Kubernetes CA key": (_pem_body(pki / "kubernetes" / "ca.key"), ("/etc/kubernetes/pki/",)),
        "the front-proxy CA key": (_pem_body(pki / "kubernetes" / "front-proxy-ca.key"), ("/etc/kubernetes/pki/",)),
        "the service-account key": (_pem_body(pki / "kubernetes" / "sa.key"), ("/etc/kubernetes/pki/",)),
        "the etcd CA key": (_pem_body(pki / "etcd" / "ca.key"), ()),
        # etcd keeps what the cluster held before compaction: the deleted token Secret too.
        "the bootstrap token": (token.split(".", 1)[1], ("/var/lib/etcd/",)),
        "the KubeSphere administrator's password": (ADMIN_PASSWORD, ()),
    }
    loaded_passwords = [line.split("=", 1)[1].split()[0] for line in hosts.hosts_ini.read_text().split()
                        if line.startswith(("ansible_ssh_pass=", "ansible_become_pass="))]
    for index, password in enumerate(loaded_passwords):
        kept[f"hosts.ini password #{index + 1}"] = (password, ())
    return kept


def test_no_host_holds_a_secret_outside_the_files_the_cluster_needs(installed):
    hosts, _ = installed
    wanted = _secrets(hosts)
    found = {}
    for host in hosts.hosts:
        for what, (needle, allowed) in wanted.items():
            for path in hostscan.files_holding(hosts.sandbox, host, [needle]):
                if not path.startswith(allowed or ("\0",)):
                    found.setdefault(host, []).append(f"{what}: {path}")
    assert found == {}, json.dumps(found, indent=1)


def test_salt_ssh_leaves_no_copy_of_a_run_on_any_host(installed):
    hosts, _ = installed
    for host in hosts.hosts:
        left = hostscan.find(hosts.sandbox, host, "/var/tmp", "/tmp", "-name", "salt_state.tgz", "-o",
                             "-name", "pillar.json", "-o", "-name", "lowstate.json")
        assert left == [], f"{host}: {left}"


def test_the_hosts_own_apt_knows_nothing_of_the_bundle(installed):
    hosts, _ = installed
    address = serve.source_address_for(hosts.hosts["master"])
    for host in hosts.hosts:
        code, out, _ = hostscan.run_inside(hosts.sandbox, host, ["grep", "-rlE", f"trusted=yes|{address}",
                                                                 "/etc/apt", "/var/lib/apt/lists"])
        assert out.strip() == "", f"{host}: {out}"
        assert hostscan.find(hosts.sandbox, host, "/etc/apt/sources.list.d", "-name", "*saltsphere*") == []


def test_no_host_is_left_unable_to_start_services(installed):
    hosts, _ = installed
    for host in hosts.hosts:
        assert hostscan.find(hosts.sandbox, host, "/usr/sbin", "-name", "policy-rc.d") == [], host
        assert hostscan.find(hosts.sandbox, host, "/run/systemd/system", "-name", "etcd.service") == [], host


def test_the_bundle_server_ends_with_the_install(installed):
    hosts, _ = installed
    state = hosts.cluster_dir / ".saltsphere"
    deadline = time.monotonic() + 10
    while serve.running(state) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert serve.running(state) is None
    with pytest.raises(OSError):
        socket.create_connection((serve.source_address_for(hosts.hosts["master"]), 8089), timeout=2).close()


def _server_sockets(state_dir):
    """The socket inodes the bundle server of ``state_dir`` holds (other sandboxes' servers may run beside it)."""
    inodes = set()
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if serve.MODULE not in args or "--state-dir" not in args or args[args.index("--state-dir") + 1] != state_dir:
                continue
            for fd in (entry / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[len("socket:["):-1])
        except (OSError, IndexError):
            continue
    return inodes


def _listening(port, state_dir=None):
    """The local addresses something listens on at ``port`` (TCP, IPv4), from the kernel's own table.

    With ``state_dir``: only the sockets of that cluster's bundle server.
    """
    inodes = _server_sockets(state_dir) if state_dir else None
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, hex_port = fields[1].split(":")
        if fields[3] == "0A" and int(hex_port, 16) == port and (inodes is None or fields[9] in inodes):
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_the_bundle_server_listens_towards_the_hosts_only_and_never_beside_another_program(installed):
    hosts, _ = installed
    facing = serve.source_address_for(hosts.hosts["master"])
    state_dir = str(hosts.cluster_dir / ".saltsphere")
    hosts.prepare()
    try:
        assert _listening(8089, state_dir) == {facing}
        assert "0.0.0.0" not in _listening(8089), "nothing listens on every address"
    finally:
        code, data, err = hosts.salt_run("saltsphere.finish")
        assert code == 0, err
    assert facing not in _listening(8089) and _server_sockets(state_dir) == set()
    # Another program on the port: named, and nothing else happens.
    other = subprocess.Popen([sys.executable, "-c", f"import socket, time; s = socket.socket(); "
                              f"s.bind(('{facing}', 8089)); s.listen(); time.sleep(120)"])
    try:
        deadline = time.monotonic() + 10
        while facing not in _listening(8089) and time.monotonic() < deadline:
            time.sleep(0.2)
        code, data, err = hosts.salt_run("saltsphere.prepare", timeout=120)
        result = data.get("return", data)
        assert result.get("result") is False, result
        assert f"pid {other.pid}" in result["comment"] and "artifact_port" in result["comment"], result["comment"]
    finally:
        other.kill()
        other.wait()


def test_the_cluster_keeps_no_join_token_and_no_clear_password(installed):
    hosts, _ = installed
    kubectl = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
    code, out, err = hosts.ssh("master", f"{kubectl} -n kube-system get secrets -o name")
    assert code == 0 and "bootstrap-token-" not in out, out + err
    code, out, err = hosts.ssh("master", f"{kubectl} -n kubesphere-system get clusterconfiguration ks-installer -o json")
    assert code == 0, err
    config = json.loads(out)
    assert config["spec"]["authentication"]["adminPassword"].startswith("$2a$")
    assert ADMIN_PASSWORD not in out
    annotations = config["metadata"].get("annotations") or {}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations


def _ca_fingerprints(hosts):
    found = {}
    for host in hosts.hosts:
        for path in ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/etcd/ca.crt", "/etc/etcd/pki/ca.crt"):
            code, out, _ = hostscan.run_inside(hosts.sandbox, host, ["cat", path])
            if code == 0:
                found[(host, path)] = hashlib.sha256(out.encode()).hexdigest()
    return found


def test_a_taskbox_that_lost_its_pki_refuses_a_new_ca_and_imports_the_hosts_one(installed, capsys):
    hosts, _ = installed
    pki = hosts.cluster_dir / ".saltsphere" / "pki"
    before = _ca_fingerprints(hosts)
    shutil.move(str(pki), str(pki.with_name("pki.lost")))
    code, data, err = orchestrate(hosts, "kubesphere.os", timeout=900)
    assert code != 0
    report = json.dumps(data)
    assert "saltsphere pki import" in report and "master" in report, report[-3000:]
    assert '"ret"' not in report, "no host may be changed"
    assert not (pki / "kubernetes" / "ca.crt").exists() and not (pki / "etcd" / "ca.crt").exists()
    assert _ca_fingerprints(hosts) == before

    capsys.readouterr()
    assert cli.main(["pki", "import", "-i", str(hosts.hosts_ini)]) == 0, capsys.readouterr()
    for name in ("kubernetes/ca.crt", "kubernetes/ca.key", "etcd/ca.crt", "etcd/peer-master.crt"):
        imported, lost = pki / name, pki.with_name("pki.lost") / name
        assert imported.read_bytes() == lost.read_bytes(), name
        assert oct(imported.stat().st_mode & 0o777) == ("0o600" if name.endswith(".key") else "0o644")
    code, data, err = orchestrate(hosts, "kubesphere", timeout=1800)
    assert code == 0, err[-2000:]
    assert changed_states(data) == []
    assert _ca_fingerprints(hosts) == before
    assert cli.main(["status", "-i", str(hosts.hosts_ini), "--json"]) == 0


# --- the plan of the installed cluster (tests/integration/test_plan.py: before the install) ----------------------

# One setting of vars.yml, seen by one state file and its apply on the first master only.
CHANGED_SETTING = "ks_console_nodeport: 32131"


def _taskbox_state(hosts):
    """The hash of every file of the cluster's .saltsphere/ but gpg's own home and the bundle server's run files."""
    state = hosts.cluster_dir / ".saltsphere"
    return {str(path.relative_to(state)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(state.rglob("*")) if path.is_file() and "gnupg" not in path.parts
            and not path.name.startswith("bundle-server")}


def test_a_dry_run_of_the_installed_cluster_predicts_no_change(installed):
    hosts, _ = installed
    before = _taskbox_state(hosts)
    proc, seconds = install_sh(hosts, "--dry-run")
    print(f"./install.sh --dry-run of the installed cluster: {seconds:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    heads = [line.split()[1] for line in proc.stdout.splitlines() if re.match(r"^\[\d+/8\] ", line)]
    assert heads == list(PHASES), proc.stdout
    assert "Nothing would change on any host." in proc.stdout
    assert "On the taskbox the install's prepare step has nothing to make." in proc.stdout
    assert "No state would fail." in proc.stdout
    assert _taskbox_state(hosts) == before


@pytest.fixture(scope="module")
def one_setting_changed(installed):
    hosts, _ = installed
    vars_yml = hosts.cluster_dir / "vars.yml"
    vars_yml.write_text(vars_yml.read_text() + f"\n{CHANGED_SETTING}\n")
    code, report, out, err, seconds = planning.run_plan(hosts)
    print(f"saltsphere plan after one setting changed: {seconds:.1f} s, exit {code}")
    assert code == 0 and report is not None, err[-3000:]
    ok, changed = planning.install_phases(hosts)
    return report, ok, changed


def test_the_plan_names_exactly_what_the_install_then_changes(one_setting_changed):
    report, ok, changed = one_setting_changed
    assert planning.failures(report) == []
    predicted = planning.predicted(report)
    assert predicted == {("ks", "master", "ks-file-managed-manifest"),
                         ("ks", "master", "ks-saltsphere-manifest-applied-manifest")}, predicted
    assert report["changing"] == {"master": ["ks"]}
    assert report["taskbox"] == {"would_make": [], "throwaway_copy": False}
    assert ok is True, "every phase converges (the console is not waited for here)"
    assert changed == predicted
