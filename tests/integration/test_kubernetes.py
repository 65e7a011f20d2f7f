"""A real Kubernetes cluster from the bundle on a 3-host sandbox: the whole orchestration, then the cluster at work.

The sandbox boots a fourth host, node3, kept out of hosts.ini until `saltsphere node add` joins it; `node remove`
then takes node3 out again while it runs, and node2 once it is down: the rest of the module works on master and node1.
"""

import json
import time

import pytest

from conftest import _running_sandbox
from saltsphere import cli, converged
from test_orchestration_ha import changed_states, failure_report, orchestrate

pytestmark = pytest.mark.sandbox

KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
TEST_IMAGE = "saltsphere.local/busybox:1.35.0"
NODEPORT = 30080
WEB = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      topologySpreadConstraints:
      - {{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
          labelSelector: {{matchLabels: {{app: web}}}}}}
      containers:
      - name: web
        image: {TEST_IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080, nodePort: {NODEPORT}}}]
"""


NEW_HOST = "node3"
PLANNED = "kubesphere-planned-saltsphere-cluster-planned"
# hosts.ini with node3 and node3's address, kept while node3 is out of hosts.ini.
SPARE = {}


def steps_of(data):
    """Every step of one orchestration's return."""
    return [step for result in data["data"].values() for step in result.values()]


@pytest.fixture(scope="module")
def sandbox_hosts():
    """The multi-node sandbox with a fourth host, node3, that hosts.ini names only once node add is tested."""
    for hosts in _running_sandbox("multi-node", hosts=4):
        full = hosts.hosts_ini.read_text()
        hosts.hosts_ini.write_text("".join(line for line in full.splitlines(keepends=True)
                                           if line.split()[:1] != [NEW_HOST]))
        SPARE.update(hosts_ini=full, ip=hosts.hosts.pop(NEW_HOST))
        yield hosts


@pytest.fixture(scope="module")
def cluster(sandbox_hosts):
    # Installed with no way out: everything must come from the taskbox's bundle.
    sandbox_hosts.sandbox.set_outbound(False)
    code, out, err = sandbox_hosts.ssh("node1", "curl -s --max-time 5 -o /dev/null http://deb.debian.org/; echo rc=$?")
    assert "rc=0" not in out, "the sandbox hosts still reach the mirror"
    started = time.monotonic()
    code, data, err = orchestrate(sandbox_hosts, "kubesphere", timeout=1500)
    assert code == 0, failure_report(data, err)
    # No complete run was recorded: every phase ran without asking the hosts first; now one is.
    (planned,) = [step for step in steps_of(data) if step["__id__"] == PLANNED]
    assert planned["comment"] == "No complete run is recorded for this cluster: every phase runs.", planned
    assert converged.recorded(sandbox_hosts.cluster_dir)
    print(f"whole orchestration on 3 hosts: {time.monotonic() - started:.1f} s")
    return sandbox_hosts


def kubectl(hosts, args, timeout=60):
    code, out, err = hosts.ssh("master", f"{KUBECTL} {args}", timeout=timeout)
    assert code == 0, f"kubectl {args}: {out} {err}"
    return out


def test_status_reports_every_node_ready(cluster, capsys):
    assert cli.main(["status", "-i", str(cluster.hosts_ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["kubernetes"]
    assert report["version"] == "v1.20.2"
    assert report["nodes"] == {"master": "Ready", "node1": "Ready", "node2": "Ready"}
    kubeconfig = cluster.cluster_dir / ".saltsphere" / "admin.conf"
    assert kubeconfig.stat().st_mode & 0o777 == 0o600


def test_node_list_sets_hosts_ini_against_the_cluster(cluster, capsys):
    assert cli.main(["node", "list", "-i", str(cluster.hosts_ini), "--json"]) == 0
    rows = {row["host"]: row for row in json.loads(capsys.readouterr().out)["hosts"]}
    assert {host: (row["state"], row["kubernetes"], row["etcd"]) for host, row in rows.items()} == {
        "master": ("member", "Ready", True), "node1": ("member", "Ready", False), "node2": ("member", "Ready", False)}

    # node2 taken out of hosts.ini and a node9 put in: the cluster is asked, no host is touched.
    original = cluster.hosts_ini.read_text()
    edited = "\n".join(line.replace("node2", "node9", 1).replace(cluster.hosts["node2"], "192.0.2.33")
                       if line.split()[:1] == ["node2"] else line for line in original.splitlines()) + "\n"
    cluster.hosts_ini.write_text(edited)
    try:
        assert cli.main(["node", "list", "-i", str(cluster.hosts_ini)]) == 0
    finally:
        cluster.hosts_ini.write_text(original)
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(("HOST", "not", "in "))}
    assert lines["node9"].split()[1:4] == ["192.0.2.33", "kube-node", "-"] and "not yet added (no Node)" in lines["node9"]
    assert lines["node2"].split()[1:4] == [cluster.hosts["node2"], "-", "Ready"] and "not in hosts.ini" in lines["node2"]
    assert "not members yet: node9." in out and "in the cluster but not in hosts.ini: node2." in out


def test_control_plane_pods_run_on_the_master(cluster):
    pods = json.loads(kubectl(cluster, "-n kube-system get pods -o json"))["items"]
    running = {(p["metadata"]["labels"].get("component"), p["spec"]["nodeName"])
               for p in pods if p["status"].get("phase") == "Running"}
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert (component, "master") in running, running


def test_api_server_uses_the_external_etcd_over_tls(cluster):
    manifest = kubectl(cluster, "-n kube-system get pod kube-apiserver-master -o json")
    command = json.loads(manifest)["spec"]["containers"][0]["command"]
    assert f"--etcd-servers=https://{cluster.hosts['master']}:2379" in command
    assert "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt" in command


@pytest.fixture(scope="module")
def web(cluster):
    code, out, err = cluster.ssh("master", f"cat > /tmp/web.yaml <<'EOF'\n{WEB}\nEOF\n{KUBECTL} apply -f /tmp/web.yaml")
    assert code == 0, out + err
    kubectl(cluster, "rollout status deployment/web --timeout=180s", timeout=200)
    pods = json.loads(kubectl(cluster, "get pods -l app=web -o json"))["items"]
    return {p["spec"]["nodeName"]: (p["metadata"]["name"], p["status"]["podIP"]) for p in pods}


def test_pods_land_on_every_worker(web):
    assert sorted(web) == ["node1", "node2"]


def test_pods_reach_each_other_by_pod_ip_across_nodes(cluster, web):
    for source_node, (pod, _) in web.items():
        for target_node, (target, ip) in web.items():
            # busybox-static 1.35 crashes on wget -T: bound it with its timeout applet
            out = kubectl(cluster, f"exec {pod} -- timeout 10 wget -q -O- http://{ip}:8080/")
            assert out.strip() == target, f"{source_node} -> {target_node}: {out}"


def test_nodeport_answers_on_every_node(cluster, web):
    names = {name for name, _ in web.values()}
    for host in cluster.hosts:
        code, out, err = cluster.ssh(host, f"curl -s --max-time 5 http://{cluster.hosts[host]}:{NODEPORT}/")
        assert code == 0 and out.strip() in names, f"{host}: {out} {err}"


def service_marks(cluster, host):
    """kubelet's, containerd's and etcd's main PID, restarts and when they last became active."""
    code, out, err = cluster.ssh(host, "systemctl show -p MainPID,NRestarts,ActiveEnterTimestampMonotonic "
                                       "kubelet containerd etcd")
    assert code == 0, out + err
    return out


def would_change(out):
    """``{host: [steps]}`` from a dry run's "Would change:" lines."""
    found, inside = {}, False
    for line in out.splitlines():
        if line.startswith("Would change:"):
            inside = True
        elif inside and line.startswith("  ") and ": " in line:
            host, steps = line.strip().split(": ", 1)
            found[host] = steps.split(", ")
        elif inside:
            break
    return found


def test_node_add_dry_run_predicts_the_new_host_and_changes_nothing(cluster, web, capsys):
    cluster.hosts_ini.write_text(SPARE["hosts_ini"])
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["node", "add", NEW_HOST, "-i", str(cluster.hosts_ini), "--dry-run"])
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\nnode add --dry-run of one worker: {seconds:.1f} s\n{out}")
    assert code == 0, out
    changing = would_change(out)
    assert changing[NEW_HOST] == ["os", "containerd", "kubernetes", "network", "storage"], out
    # Elsewhere only what a new node changes there: /etc/hosts, the routes to its pods, the first master's token.
    assert set(changing) - {NEW_HOST} <= {"master", "node1", "node2"}
    assert all(set(steps) <= {"os", "kubernetes", "network"} for host, steps in changing.items() if host != NEW_HOST)
    assert set(changing.get("node1", [])) <= {"os", "network"}
    # Nothing was done: no backup, no token, nothing installed on node3.
    assert kubectl(cluster, "-n kube-system get secrets -o name").count("bootstrap-token-") == 0
    code, out, err = cluster.ssh(NEW_HOST, "ls /usr/local/bin/kubelet /var/lib/saltsphere 2>&1; "
                                           "systemctl is-active kubelet containerd")
    assert out.count("No such file") == 2 and "\nactive" not in "\n" + out, out + err


def test_node_add_joins_a_worker_and_restarts_nothing_on_the_others(cluster, web, capsys):
    before = {host: service_marks(cluster, host) for host in cluster.hosts}
    cluster.hosts_ini.write_text(SPARE["hosts_ini"])
    cluster.hosts[NEW_HOST] = SPARE["ip"]
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["node", "add", "-i", str(cluster.hosts_ini), "--yes"])
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\nnode add of one worker to 3 hosts: {seconds:.1f} s\n{out}")
    assert code == 0, out
    assert [line.split()[:3] for line in out.splitlines() if line.startswith("[")] == [
        [f"[{i}/6]", step, "ok"] for i, step in enumerate(("preflight", "os", "containerd", "kubernetes", "network",
                                                            "storage"), 1)]
    assert {host: service_marks(cluster, host) for host in before} == before
    assert_every_node_ready(cluster, capsys)
    # The token made for the join is gone again.
    assert kubectl(cluster, "-n kube-system get secrets -o name").count("bootstrap-token-") == 0
    # Pods run on the new node and reach the others' pods.
    kubectl(cluster, f"run on-{NEW_HOST} --image={TEST_IMAGE} --image-pull-policy=Never --restart=Never "
                     f"--overrides='{{\"spec\": {{\"nodeName\": \"{NEW_HOST}\"}}}}' --command -- sleep 3600")
    kubectl(cluster, f"wait --for=condition=Ready pod/on-{NEW_HOST} --timeout=180s", timeout=200)
    for target, ip in web.values():
        # busybox-static 1.35 crashes on wget -T: bound it with its timeout applet
        assert kubectl(cluster, f"exec on-{NEW_HOST} -- timeout 10 wget -q -O- http://{ip}:8080/").strip() == target
    kubectl(cluster, f"delete pod on-{NEW_HOST} --wait=false")

    # Once more: nothing to add, nothing run.
    assert cli.main(["node", "add", "-i", str(cluster.hosts_ini), "--yes"]) == 0
    assert "Nothing to add" in capsys.readouterr().out


def lines_to_delete(cluster, out):
    """The hosts.ini lines a removal says to delete, deleted as the operator would."""
    (said,) = [line for line in out.splitlines() if line.startswith("Delete these lines from")]
    numbers = {int(place.rsplit(":", 1)[1]) for place in said.split(": ", 1)[1].split(", ")}
    text = cluster.hosts_ini.read_text().splitlines(keepends=True)
    cluster.hosts_ini.write_text("".join(line for number, line in enumerate(text, 1) if number not in numbers))
    return [text[number - 1].split()[0] for number in sorted(numbers)]


def remove(cluster, capsys, *argv):
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["node", "remove", *argv, "-i", str(cluster.hosts_ini)])
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\nnode remove {' '.join(argv)}: {seconds:.1f} s\n{out}")
    return code, out


def test_node_remove_takes_a_live_worker_out_and_restarts_nothing_on_the_others(cluster, web, capsys):
    staying = [host for host in cluster.hosts if host != NEW_HOST]
    before = {host: service_marks(cluster, host) for host in staying}
    code, out = remove(cluster, capsys, NEW_HOST, "--yes")
    assert code == 0, out
    assert [line.split()[:3] for line in out.splitlines() if line.startswith("[")] == [
        [f"[{i}/5]", step, "ok"] for i, step in enumerate(("drain", "clean", "delete", "routes", "hosts"), 1)]
    assert "not cleaned" not in out
    assert NEW_HOST not in kubectl(cluster, "get nodes -o name")
    code, gone, err = cluster.ssh(NEW_HOST, "systemctl is-active kubelet containerd; ls -d /etc/kubernetes "
                                            "/var/lib/kubelet 2>&1")
    assert "\nactive" not in "\n" + gone and gone.count("No such file") == 2, gone + err
    assert {host: service_marks(cluster, host) for host in staying} == before
    for host in staying:
        code, hosts_file, _ = cluster.ssh(host, "cat /etc/hosts")
        assert NEW_HOST not in hosts_file.split(), host
    names = {name for name, _ in web.values()}
    for host in staying:
        code, page, err = cluster.ssh(host, f"curl -s --max-time 5 http://{cluster.hosts[host]}:{NODEPORT}/")
        assert code == 0 and page.strip() in names, f"{host}: {page} {err}"

    # Again, as a dry run: nothing left to change.
    code, out = remove(cluster, capsys, NEW_HOST, "--dry-run")
    assert code == 0 and "Nothing would change on any host." in out, out


def test_node_remove_again_changes_nothing_and_takes_a_dead_worker_out(cluster, capsys):
    # node3 for the second time (removed, still in hosts.ini) with node2, cut off as by a power failure.
    cluster.sandbox.stop("node2")
    code, out = remove(cluster, capsys, NEW_HOST, "node2", "--yes")
    assert code == 0, out
    (clean,) = [line for line in out.splitlines() if line.startswith("[2/5] clean")]
    assert " 0 failed, 0 changed" in clean, out
    assert "node2 was removed from the cluster but the host itself was not cleaned" in out
    assert f"{NEW_HOST} was removed from the cluster but" not in out
    assert "node2" not in kubectl(cluster, "get nodes -o name")
    assert not json.loads(kubectl(cluster, "get pods -A --field-selector spec.nodeName=node2 -o json"))["items"]
    assert sorted(lines_to_delete(cluster, out)) == ["node2", "node2", NEW_HOST, NEW_HOST]
    cluster.hosts.pop(NEW_HOST)
    cluster.hosts.pop("node2")


def test_second_run_changes_nothing_and_says_so_quietly(cluster):
    started = time.monotonic()
    code, data, err = orchestrate(cluster, "kubesphere", timeout=1500)
    print(f"no-op orchestration on {len(cluster.hosts)} hosts: {time.monotonic() - started:.1f} s")
    assert code == 0, err[-2000:]
    assert changed_states(data) == []
    # Salt's own summary counts the steps with changes: the taskbox's steps
    # (prepare, preflight, the question to the hosts) are states that report none on a converged cluster.
    steps = steps_of(data)
    assert [step["__id__"] for step in steps if step.get("changes")] == []
    (planned,) = [step for step in steps if step["__id__"] == PLANNED]
    assert planned["comment"].startswith(f"Nothing would change on any of {len(cluster.hosts)} host(s)"), planned
    # The hosts were asked once; no phase started salt-ssh again.
    skipped = [step for step in steps if "-salt-state" in step["__id__"]]
    assert skipped and all(step["comment"] == "State was not run because none of the onchanges reqs changed"
                           for step in skipped), skipped
    # A healthy run prints no Python traceback and none of Salt's finalizer warnings.
    assert "Traceback" not in err and "unclosed " not in err, err[-3000:]


def test_the_bootstrap_token_is_gone_once_every_host_joined(cluster):
    token = (cluster.cluster_dir / ".saltsphere" / "pki" / "kubernetes" / "bootstrap-token").read_text().strip()
    cluster.prepare()
    code, data, err = cluster.salt_ssh("*", "state.apply", "kubernetes", timeout=900)
    assert code == 0, err[-2000:]
    assert token not in json.dumps(data) and token.split(".")[1] not in err
    # Nothing can join with it any more, and no host keeps kubeadm's file that held it.
    assert kubectl(cluster, "-n kube-system get secrets -o name").count("bootstrap-token-") == 0
    code, data, err = cluster.salt_ssh("*", "file.file_exists", "/etc/kubernetes/saltsphere/kubeadm.yaml")
    assert code == 0, err[-2000:]
    assert data == {host: False for host in cluster.hosts}


# --- etcd backup and restore (the master is the only member) ---------------------------------------------------------

ETCD_DATA = "/var/lib/etcd/saltsphere"


def etcd_backup(cluster, capsys):
    from saltsphere import etcdbackup

    before = set(etcdbackup.snapshots(cluster.cluster_dir))
    started = time.monotonic()
    assert cli.main(["etcd", "backup", "-i", str(cluster.hosts_ini)]) == 0, capsys.readouterr().err
    print(f"etcd backup: {time.monotonic() - started:.1f} s")
    (path,) = set(etcdbackup.snapshots(cluster.cluster_dir)) - before
    return path


def etcd_restore(cluster, path):
    started = time.monotonic()
    assert cli.main(["etcd", "restore", str(path), "-i", str(cluster.hosts_ini), "--yes"]) == 0
    print(f"etcd restore: {time.monotonic() - started:.1f} s")


def etcd_restore_dry_run(cluster, path, capsys):
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["etcd", "restore", str(path), "-i", str(cluster.hosts_ini), "--dry-run", "--json"])
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    with capsys.disabled():
        print(f"\netcd restore --dry-run: {took:.1f} s")
    return json.loads(out)


def assert_every_node_ready(cluster, capsys):
    capsys.readouterr()
    cli.main(["status", "-i", str(cluster.hosts_ini), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["etcd"]["healthy"] and report["kubernetes"]["healthy"], report
    assert report["kubernetes"]["nodes"] == {host: "Ready" for host in cluster.hosts}


def test_an_etcd_backup_is_private_on_the_taskbox_with_its_sha256_and_gone_from_the_host(cluster, capsys):
    import hashlib

    path = etcd_backup(cluster, capsys)
    assert path.parent.stat().st_mode & 0o777 == 0o700 and path.stat().st_mode & 0o777 == 0o600
    recorded = path.with_name(path.name + ".sha256").read_text().split()[0]
    assert recorded == hashlib.sha256(path.read_bytes()).hexdigest()
    # A snapshot holds every Secret: none stays on the host, nor salt-ssh's copy of the run.
    code, out, err = cluster.ssh("master", "find / /tmp -xdev \\( -name 'saltsphere-etcd-snapshot-*' -o -name "
                                           "snapshot.db -o -name salt_state.tgz \\) -print 2>/dev/null", timeout=120)
    assert out.strip() == "", out


def test_a_restore_brings_back_what_the_snapshot_held_and_only_that(cluster, capsys):
    kubectl(cluster, "create configmap restore-first --from-literal=k=first")
    path = etcd_backup(cluster, capsys)
    kubectl(cluster, "delete configmap restore-first")
    kubectl(cluster, "create configmap restore-second --from-literal=k=second")
    report = etcd_restore_dry_run(cluster, path, capsys)
    assert (report["members"], report["masters"], report["cluster"]["host"]) == (["master"], ["master"], "master")
    assert 0 < report["snapshot"]["revision"] < report["cluster"]["revision"], report
    assert report["revisions_lost"] == report["cluster"]["revision"] - report["snapshot"]["revision"]
    # Nothing restored: what was written after the snapshot is still there.
    names = kubectl(cluster, "get configmaps -o name")
    assert "configmap/restore-second" in names and "configmap/restore-first" not in names
    etcd_restore(cluster, path)
    names = kubectl(cluster, "get configmaps -o name")
    assert "configmap/restore-first" in names and "configmap/restore-second" not in names
    assert_every_node_ready(cluster, capsys)
    code, out, err = cluster.ssh("master", f"ls -d {ETCD_DATA}.before-restore /etc/kubernetes/manifests/*.yaml")
    assert ".before-restore" not in out and out.count(".yaml") == 3, out + err


def test_a_restore_brings_a_lost_etcd_back(cluster, capsys):
    path = etcd_backup(cluster, capsys)
    code, out, err = cluster.ssh("master", f"systemctl stop etcd && rm -rf {ETCD_DATA} && ls /var/lib/etcd")
    assert code == 0 and "saltsphere\n" not in out, out + err
    etcd_restore(cluster, path)
    assert "configmap/restore-first" in kubectl(cluster, "get configmaps -o name")
    assert_every_node_ready(cluster, capsys)


def test_after_a_restore_the_etcd_phase_changes_nothing(cluster):
    code, data, err = orchestrate(cluster, "kubesphere.etcd", timeout=900)
    assert code == 0, failure_report(data, err)
    assert changed_states(data) == []
