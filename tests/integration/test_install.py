"""`./install.sh --multi-node -i HOSTS.ini --yes` end to end on a 3-host sandbox, and its honest ending.

The bundle built here cannot carry KubeSphere's images (no registry is
reachable), so the install must converge every phase, apply the storage
classes and the KubeSphere installer, and then end with exit code 3 naming the
missing images — never the banner.
"""

import json
import re
import subprocess
import time

import pytest

from saltsphere import cli, paths
from test_orchestration_ha import changed_states, orchestrate

pytestmark = pytest.mark.sandbox

INSTALL_TIMEOUT = 3000
PHASES = ("preflight", "os", "etcd", "containerd", "kubernetes", "network", "storage", "ks")


def install_sh(hosts):
    started = time.monotonic()
    proc = subprocess.run(
        [str(paths.project_root() / "install.sh"), "--multi-node", "-i", str(hosts.hosts_ini), "--yes"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
    )
    return proc, time.monotonic() - started


@pytest.fixture(scope="module")
def installed(sandbox_hosts):
    proc, seconds = install_sh(sandbox_hosts)
    print(f"./install.sh on 3 hosts: {seconds:.1f} s, exit {proc.returncode}")
    return sandbox_hosts, proc


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
    code, data, err = orchestrate(hosts, "kubesphere")
    assert code == 0, err[-2000:]
    assert changed_states(data) == []
