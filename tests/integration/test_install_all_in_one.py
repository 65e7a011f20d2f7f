"""`./install.sh --all-in-one -i HOSTS.ini --yes` on the one-host sandbox: every role on one host, local volume.

Option 1 of the menu without -i installs onto the taskbox itself; here the
same path runs against a sandbox host instead, so the machine running the
tests is never changed.  The local-volume provisioner's image cannot be had
here: the test creates the volume the provisioner would have made from a
directory under /mnt/disks, and proves the class binds it to a claim and a
pod writes to it.

The cluster's registry keys point at a private registry on the taskbox
(Debian's docker-registry, over plain HTTP on the sandbox's bridge) that holds
one image the bundle lacks: the host pulls it through containerd's hosts.toml,
by its Docker Hub name and by the registry's own.
"""

import json
import re
import shutil
import socket
import subprocess
import time

import pytest

from saltsphere import cli, cluster, paths

pytestmark = pytest.mark.sandbox

INSTALL_TIMEOUT = 3000
PHASES = ("preflight", "os", "etcd", "containerd", "kubernetes", "network", "storage", "ks")
KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
TEST_IMAGE = "saltsphere.local/busybox:1.35.0"
CLAIM = f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: local-vol1}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  local: {{path: /mnt/disks/vol1}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {{key: kubernetes.io/hostname, operator: In, values: [master]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: writer}}
spec:
  restartPolicy: Never
  containers:
  - name: writer
    image: {TEST_IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "echo written-by-a-pod > /data/proof"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: data}}
"""


def install_sh(hosts):
    started = time.monotonic()
    proc = subprocess.run(
        [str(paths.project_root() / "install.sh"), "--all-in-one", "-i", str(hosts.hosts_ini), "--yes"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
    )
    return proc, time.monotonic() - started


REGISTRY_IMAGE = "proof/busybox:only-in-registry"


def _free_port(address):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def registry(aio_hosts, tmp_path_factory):
    """A private registry on the taskbox's address towards the sandbox, holding the bundle's busybox under a new name."""
    tools = {name: shutil.which(name) for name in ("docker-registry", "skopeo")}
    assert all(tools.values()), f"missing {[n for n, path in tools.items() if not path]}: tools/test installs them"
    ip = aio_hosts.sandbox.layout.load().taskbox_ip
    address = f"{ip}:{_free_port(ip)}"
    root = tmp_path_factory.mktemp("registry")
    (root / "config.yml").write_text(f"version: 0.1\nlog: {{level: info}}\nstorage: {{filesystem: {{rootdirectory: "
                                     f"{root / 'data'}}}}}\nhttp: {{addr: '{address}'}}\n")
    log = open(root / "log", "w")
    proc = subprocess.Popen([tools["docker-registry"], "serve", str(root / "config.yml")], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection((ip, int(address.rsplit(":", 1)[1])), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (root / "log").read_text()
                time.sleep(0.2)
        bundle = cluster.load(str(aio_hosts.hosts_ini)).config["artifact_bundle"]
        subprocess.run([tools["skopeo"], "copy", "--dest-tls-verify=false", f"oci-archive:{bundle}/images/busybox.tar",
                        f"docker://{address}/{REGISTRY_IMAGE}"], check=True, capture_output=True, timeout=120)
        yield address, root / "log"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def installed(aio_hosts, registry):
    address, _ = registry
    vars_yml = aio_hosts.cluster_dir / "vars.yml"
    vars_yml.write_text(vars_yml.read_text() + f"\nprivate_registry: '{address}'\ninsecure_registries: ['{address}']\n")
    proc, seconds = install_sh(aio_hosts)
    print(f"./install.sh --all-in-one on 1 host: {seconds:.1f} s, exit {proc.returncode}")
    return aio_hosts, proc


def test_every_phase_runs_on_the_one_host(installed):
    _, proc = installed
    lines = [line for line in proc.stdout.splitlines() if re.match(r"^\[\d+/\d+\] ", line)]
    assert [line.split()[1] for line in lines] == list(PHASES), proc.stdout + proc.stderr[-3000:]
    assert all(line.split()[2] == "ok" and " 1 hosts done" in line and " 0 failed" in line for line in lines), \
        proc.stdout


def test_the_install_ends_truthfully_without_kubesphere_images(installed):
    hosts, proc = installed
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "KubeSphere is not running" in proc.stdout and "Console:" not in proc.stdout
    assert not (hosts.cluster_dir / "kubesphere" / "kubesphere_running").exists()


def test_local_volume_is_the_default_class_and_the_node_is_ready(installed, capsys):
    hosts, _ = installed
    capsys.readouterr()
    assert cli.main(["status", "-i", str(hosts.hosts_ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kubernetes"]["nodes"] == {"master": "Ready"}
    assert report["storage"]["default_class"] == "local"
    code, out, err = hosts.ssh("master", f"{KUBECTL} -n kubesphere-system get clusterconfiguration ks-installer "
                                         "-o jsonpath='{.spec.persistence.storageClass}'")
    assert (code, out) == (0, "local"), err


def test_the_local_class_binds_a_claim_that_a_pod_writes_to(installed):
    hosts, _ = installed
    code, out, err = hosts.ssh("master", "mkdir -p /mnt/disks/vol1")
    assert code == 0, err
    code, out, err = hosts.ssh("master", f"cat <<'EOF' | {KUBECTL} apply -f -\n{CLAIM}\nEOF")
    assert code == 0, out + err
    # kubectl 1.20 cannot wait for a phase: poll it.
    code, out, err = hosts.ssh("master", "for i in $(seq 90); do "
                                         f"p=$({KUBECTL} get pod writer -o jsonpath='{{.status.phase}}'); "
                                         '[ "$p" = Succeeded ] && exit 0; [ "$p" = Failed ] && exit 1; sleep 2; '
                                         "done; exit 1", timeout=200)
    describe = hosts.ssh("master", f"{KUBECTL} describe pod writer; {KUBECTL} get pv,pvc")[1]
    assert code == 0, out + err + describe
    code, out, err = hosts.ssh("master", f"{KUBECTL} get pvc data -o jsonpath='{{.status.phase}} {{.spec.volumeName}}'")
    assert out == "Bound local-vol1", out + err
    assert hosts.ssh("master", "cat /mnt/disks/vol1/proof")[1].strip() == "written-by-a-pod"


def test_images_the_bundle_lacks_are_pulled_from_the_private_registry(installed, registry):
    hosts, _ = installed
    address, log = registry
    pods = {"by-hub-name": f"docker.io/{REGISTRY_IMAGE}", "by-registry-name": f"{address}/{REGISTRY_IMAGE}"}
    for pod, image in pods.items():
        code, out, err = hosts.ssh("master", f"{KUBECTL} run {pod} --image={image} --image-pull-policy=Always "
                                             "--restart=Never --command -- sleep 3600")
        assert code == 0, out + err
    for pod, image in pods.items():
        code, out, err = hosts.ssh("master", f"{KUBECTL} wait --for=condition=Ready pod/{pod} --timeout=120s",
                                   timeout=150)
        events = hosts.ssh("master", f"{KUBECTL} describe pod {pod}")[1]
        assert code == 0, out + err + events
        assert f'Successfully pulled image "{image}"' in events, events
    # Both pulls reached the registry on the taskbox from the host: as Docker Hub's stand-in, and by its own name.
    manifest = f"/v2/{REGISTRY_IMAGE.split(':')[0]}/manifests/only-in-registry"
    pulls = [line for line in log.read_text().splitlines()
             if line.startswith(hosts.hosts["master"] + " ") and manifest in line]
    assert any(f"{manifest}?ns=docker.io " in line for line in pulls), log.read_text()[-3000:]
    assert any(f"{manifest} " in line for line in pulls), log.read_text()[-3000:]
    code, out, err = hosts.ssh("master", "stat -c '%a %U' /etc/containerd/certs.d/docker.io/hosts.toml "
                                         f"/etc/containerd/certs.d/{address}/hosts.toml")
    assert out.split() == ["644", "root", "644", "root"], out + err
    hosts.ssh("master", f"{KUBECTL} delete pod {' '.join(pods)} --wait=false")


def test_a_second_install_changes_nothing(installed):
    hosts, _ = installed
    proc, seconds = install_sh(hosts)
    print(f"second ./install.sh --all-in-one: {seconds:.1f} s")
    assert proc.returncode == 3, proc.stdout[-2000:]
    # The install completed before: after its preflight, one question to every host, and no phase runs.
    lines = [line for line in proc.stdout.splitlines() if re.match(r"^\[[\d-]+/\d+\] ", line)]
    assert [line.split()[:2] for line in lines] == [["[1/8]", "preflight"], ["[2-8/8]", "os"]], proc.stdout
    assert " 0 failed, 0 changed " in lines[0], proc.stdout
    assert lines[1].split("   ")[0].endswith("skipped nothing would change on any host (every host's states under "
                                            "test=True)"), proc.stdout
