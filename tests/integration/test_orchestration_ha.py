"""The whole orchestration on an ha sandbox: 3 masters (also the TLS etcd cluster) behind a local load balancer, 2 nodes."""

import concurrent.futures
import json
import os
import socket
import ssl
import stat
import time

import pytest
from cryptography import x509

from saltsphere import certs, cli, cluster, etcdbackup, hostpki, installer, kubeconfig, pki

pytestmark = pytest.mark.sandbox

ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt "
    "--cert=/etc/etcd/pki/healthcheck.crt --key=/etc/etcd/pki/healthcheck.key"
)


def changed_states(data):
    """(host, state id) of every state that changed something in an orchestrate return."""
    found = []
    for result in data.get("data", data).values():
        for step in result.values():
            for host, states in (step.get("changes") or {}).get("ret", {}).items():
                if isinstance(states, dict):
                    found += [(host, sid) for sid, s in states.items() if isinstance(s, dict) and s.get("changes")]
    return found


def orchestrate(hosts, sls, timeout=1800):
    return hosts.salt_run("state.orchestrate", sls, timeout=timeout)


def failure_report(data, err=""):
    """The first failure as the installer names it, then what each failing host returned."""
    result = installer.phase_result(data)
    lines = [f"the orchestration failed: {result.comment}"]
    for returner in data.get("data", data).values():
        for step in returner.values() if isinstance(returner, dict) else ():
            for host, states in ((step.get("changes") or {}).get("ret") or {}).items():
                if host in result.failed:
                    lines.append(f"{host} returned: {json.dumps(states)[:2000]}")
    return "\n".join(lines) + "\n" + err[-1500:]


@pytest.fixture(scope="module")
def installed(ha_hosts):
    code, data, err = orchestrate(ha_hosts, "kubesphere")
    assert code == 0, failure_report(data, err)
    return ha_hosts


def test_containerd_runs_on_every_kubernetes_host(installed):
    for host in installed.hosts:
        code, out, err = installed.ssh(host, "systemctl is-active containerd")
        assert (code, out.strip()) == (0, "active"), f"{host}: {out} {err}"


def test_etcd_cluster_is_healthy_over_mutual_tls(installed):
    code, out, err = installed.ssh("master1", f"{ETCDCTL} endpoint health --cluster")
    assert code == 0, out + err
    assert (out + err).count("is healthy") == 3, out + err
    code, out, err = installed.ssh("master2", f"{ETCDCTL} member list")
    assert code == 0, err
    assert sorted(line.split(", ")[2] for line in out.splitlines()) == ["master1", "master2", "master3"]


def test_client_without_certificate_is_refused(installed):
    ip = installed.hosts["master1"]
    command = f"curl -s --max-time 5 --cacert /etc/etcd/pki/ca.crt https://{ip}:2379/health; echo rc=$?"
    code, out, err = installed.ssh("master2", command)
    assert "rc=0" not in out and '"health"' not in out, out


def test_os_baseline_is_in_place(installed):
    for host in installed.hosts:
        code, out, err = installed.ssh(host, "cat /proc/sys/net/ipv4/ip_forward; hostname; tail -n +2 /proc/swaps")
        assert code == 0, err
        assert out.split() == ["1", host]


def test_status_reports_etcd_from_the_taskbox(installed, capsys):
    assert cli.main(["status", "-i", str(installed.hosts_ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["etcd"]["healthy"] is True
    assert report["etcd"]["members"] == 3


def test_every_node_is_ready_and_every_master_runs_the_control_plane(installed, capsys):
    assert cli.main(["status", "-i", str(installed.hosts_ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["kubernetes"]
    assert report["nodes"] == {name: "Ready" for name in installed.hosts}
    assert report["api"] == {"master1": None, "master2": None, "master3": None}
    code, out, err = installed.ssh("master1", "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system "
                                   "get pods -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}'")
    assert code == 0, err
    running = {line.split()[0] for line in out.splitlines() if line.endswith(" Running")}
    for master in ("master1", "master2", "master3"):
        for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            assert f"{component}-{master}" in running, out


def test_certs_check_lists_every_hosts_certificates_and_never_a_key(installed, capsys):
    assert cli.main(["certs", "check", "-i", str(installed.hosts_ini), "--json"]) == 0
    out = capsys.readouterr().out
    assert "PRIVATE KEY" not in out
    rows = json.loads(out)["certificates"]
    assert [row for row in rows if row["error"] or row["days_left"] <= 300] == []
    found = {(row["host"], row["file"]) for row in rows}
    loaded = cluster.load(str(installed.hosts_ini))
    for master in loaded.role_members("kube-master"):
        assert {(master.name, "/etc/kubernetes/pki/apiserver.crt"), (master.name, "/etc/kubernetes/admin.conf")} <= found
    for host in loaded.role_members("kube-master") + loaded.role_members("kube-node"):
        assert (host.name, certs.KUBELET_CLIENT) in found
    for member in loaded.role_members("etcd"):
        assert {(member.name, f"{hostpki.etcd_pki_dir()}/{name}.crt") for name in certs.ETCD_CERTS} <= found


def _nodes_through_local_balancer(hosts, host):
    return hosts.ssh(host, "kubectl --kubeconfig /etc/kubernetes/kubelet.conf --request-timeout=10s get nodes -o name")


def _served_certificate(ip, port, client=None):
    """The certificate a TLS server at ``ip:port`` presents (read with a TLS client), as ``(serial, not after)``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only read here; the CA is checked by the cluster's own clients
    if client:
        context.load_cert_chain(client["cert"], client["key"])
    with socket.create_connection((ip, port), timeout=10) as sock, context.wrap_socket(sock) as tls:
        cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    return cert.serial_number, cert.not_valid_after_utc


def _served(installed, loaded, wait=300):
    """Each master's API server certificate and each etcd member's client and peer certificates, by endpoint.

    Waits for a server still starting (an API server a moment after its host came back).
    """
    client = pki.admin_client(installed.cluster_dir)  # etcd asks for a client certificate
    endpoints = [(f"{m.name}:6443", m.ip, 6443, None) for m in loaded.role_members("kube-master")]
    endpoints += [(f"{m.name}:{port}", m.ip, port, client) for m in loaded.role_members("etcd") for port in (2379, 2380)]
    found, deadline = {}, time.monotonic() + wait
    for name, ip, port, credentials in endpoints:
        while True:
            try:
                found[name] = _served_certificate(ip, port, credentials)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(3)
    return found


READYZ_LOOP = ("rm -f /tmp/readyz.ok /tmp/readyz.stop; while [ ! -e /tmp/readyz.stop ]; do "
               "timeout 5 kubectl --kubeconfig /etc/kubernetes/kubelet.conf --request-timeout=4s get --raw /readyz "
               ">/dev/null 2>&1 && date +%s >> /tmp/readyz.ok; sleep 1; done")


def test_certs_renew_dry_run_lists_each_hosts_files_and_the_restarts_and_changes_nothing(installed, capsys):
    loaded = cluster.load(str(installed.hosts_ini))
    before = _served(installed, loaded)
    snapshots = etcdbackup.snapshots(installed.cluster_dir)
    taskbox = certs.taskbox_files(installed.cluster_dir)
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["certs", "renew", "-i", str(installed.hosts_ini), "--dry-run", "--json"])
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert "PRIVATE KEY" not in out
    report = json.loads(out)
    renewed = {host: {entry["file"] for entry in found["renewed"] if entry["not_after"] and not entry["error"]}
               for host, found in report["hosts"].items()}
    etcd = [member.name for member in loaded.role_members("etcd")]
    masters = [master.name for master in loaded.role_members("kube-master")]
    for member in etcd:
        assert {f"{hostpki.etcd_pki_dir()}/{name}.crt" for name in ("peer", "server", "healthcheck")} <= renewed[member]
    for master in masters:
        assert {"/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/apiserver-etcd-client.crt",
                "/etc/kubernetes/admin.conf"} <= renewed[master]
    assert ".saltsphere/admin.conf" in renewed[certs.TASKBOX]
    assert [(step["service"], step["host"]) for step in report["restarts"]] == \
        [("etcd", member) for member in etcd] + [("control plane", master) for master in masters]
    # Nothing taken, signed or restarted: no new snapshot, the same files here, the same certificates served.
    assert etcdbackup.snapshots(installed.cluster_dir) == snapshots
    assert certs.taskbox_files(installed.cluster_dir) == taskbox
    assert _served(installed, loaded) == before
    with capsys.disabled():
        print(f"\ncerts renew --dry-run took {took:.1f} s")


def test_certs_renew_gives_every_leaf_a_new_serial_and_later_expiry_and_the_api_stays_served(installed, capsys):
    loaded = cluster.load(str(installed.hosts_ini))
    before = _served(installed, loaded)
    admin_before = kubeconfig.path(installed.cluster_dir).read_bytes()
    # The API as a node reaches it, through its local balancer, polled all along the renewal.
    installed.ssh("node1", f"nohup sh -c '{READYZ_LOOP}' >/dev/null 2>&1 &")
    started = time.monotonic()
    try:
        code = cli.main(["certs", "renew", "-i", str(installed.hosts_ini), "--yes"])
    finally:
        took = time.monotonic() - started
        installed.ssh("node1", "touch /tmp/readyz.stop")
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert "PRIVATE KEY" not in out and "The soonest to expire now: " in out
    print(f"certs renew took {took:.0f} s")

    after = _served(installed, loaded)
    for endpoint, (serial, not_after) in before.items():
        assert after[endpoint][0] != serial, f"{endpoint} serves the same certificate"
        assert after[endpoint][1] > not_after, endpoint
    admin = kubeconfig.path(installed.cluster_dir)
    assert admin.read_bytes() != admin_before and stat.S_IMODE(os.stat(admin).st_mode) == 0o600

    time.sleep(2)
    code, stamps, err = installed.ssh("node1", "cat /tmp/readyz.ok")
    seconds = sorted(int(line) for line in stamps.split())
    assert seconds, f"the API never answered through node1's balancer during the renewal: {err}"
    gaps = [b - a for a, b in zip(seconds, seconds[1:])]
    print(f"longest gap of /readyz through node1's balancer: {max(gaps, default=0)} s over {len(seconds)} answers")
    assert max(gaps, default=0) <= 10, f"the API went unanswered for {max(gaps)} s during the renewal"

    code, out, err = installed.ssh("master1", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers")
    assert code == 0 and [line.split()[1] for line in out.splitlines()] == ["Ready"] * 5, out + err
    assert cli.main(["certs", "check", "-i", str(installed.hosts_ini)]) == 0, capsys.readouterr().out[-3000:]


def test_member_stopped_mid_run_fails_clearly_and_rerun_converges(installed):
    """master3 loses power while the etcd phase works through master1 and master2."""
    sandbox = installed.sandbox
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(orchestrate, installed, "kubesphere.etcd")
        time.sleep(2)
        sandbox.stop("master3")
        try:
            code, data, err = running.result(timeout=900)
        finally:
            sandbox.start("master3")
    assert code != 0
    failed = [step for result in data.get("data", data).values() for step in result.values()
              if isinstance(step, dict) and step.get("result") is False]
    assert failed and "master3" in json.dumps(failed), json.dumps(data)[-3000:]
    code, data, err = orchestrate(installed, "kubesphere.etcd")
    assert code == 0, json.dumps(data)[-3000:]
    code, out, err = installed.ssh("master1", f"{ETCDCTL} endpoint health --cluster")
    assert (out + err).count("is healthy") == 3, out + err


def _etcd_members(installed):
    code, out, err = installed.ssh("master1", f"{ETCDCTL} member list")
    assert code == 0, err
    return sorted(line.split(", ")[2] for line in out.splitlines() if line.strip())


def _readyz_gaps(installed):
    """The longest time /readyz went unanswered through node1's balancer since READYZ_LOOP started, and the answers."""
    installed.ssh("node1", "touch /tmp/readyz.stop")
    time.sleep(2)
    code, stamps, err = installed.ssh("node1", "cat /tmp/readyz.ok")
    seconds = sorted(int(line) for line in stamps.split())
    assert seconds, f"the API never answered through node1's balancer: {err}"
    return max((b - a for a, b in zip(seconds, seconds[1:])), default=0), len(seconds)


def test_a_failed_master_is_replaced_and_etcd_and_the_api_stay_served(installed, capsys):
    """master3 (a master and etcd member) dies, is removed, comes back as a fresh host and is added again."""
    hosts_ini = str(installed.hosts_ini)
    # Refusals, before anything is asked of a host: etcd's quorum, and the last master.
    assert cli.main(["node", "remove", "master2", "master3", "-i", hosts_ini, "--yes"]) == 2
    err = capsys.readouterr().err
    assert "removing master2, master3 leaves 1 of the 3 etcd members" in err and "quorum" in err, err
    assert cli.main(["node", "remove", "master1", "master2", "master3", "-i", hosts_ini, "--yes"]) == 2
    assert "the last master cannot be removed" in capsys.readouterr().err
    assert _etcd_members(installed) == ["master1", "master2", "master3"]

    installed.ssh("node1", f"nohup sh -c '{READYZ_LOOP}' >/dev/null 2>&1 &")
    installed.sandbox.stop("master3")
    for attempt in range(5):  # several calls: each host's balancer must steer each one to a live master
        for host in ("node1", "master1", "master2"):  # root logins: kubelet.conf is root's
            code, nodes_out, err = _nodes_through_local_balancer(installed, host)
            assert code == 0 and nodes_out.count("node/") == 5, f"{host}, call {attempt}: {nodes_out} {err}"
    started = time.monotonic()
    code = cli.main(["node", "remove", "master3", "-i", hosts_ini, "--yes"])
    removed_in = time.monotonic() - started
    out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\nnode remove master3 (dead) took {removed_in:.0f} s")
        print("\n".join(line for line in out.splitlines() if line.startswith("[")))
    assert code == 0, out[-3000:]
    assert "master3 was removed from the cluster but the host itself was not cleaned" in out
    (said,) = [line for line in out.splitlines() if line.startswith("Delete these lines from")]
    assert said.count(hosts_ini) >= 3, said  # [all], [kube-master], [etcd]
    assert _etcd_members(installed) == ["master1", "master2"]
    code, health, err = installed.ssh("master1", f"{ETCDCTL} endpoint health --cluster")
    assert (health + err).count("is healthy") == 2, health + err
    code, nodes_out, err = _nodes_through_local_balancer(installed, "node1")
    assert code == 0 and "node/master3" not in nodes_out and nodes_out.count("node/") == 4, nodes_out + err
    for master in ("master1", "master2"):
        code, flag, err = installed.ssh(master, "grep -- --etcd-servers= /etc/kubernetes/manifests/kube-apiserver.yaml")
        assert installed.hosts["master3"] not in flag, (master, flag)
    code, backends, err = installed.ssh("node1", "grep -c '^ *server master' /etc/haproxy/haproxy.cfg")
    assert backends.strip() == "2", backends + err
    # The taskbox hands out no pair of master3 any more: its keys are gone, its certificates are on record.
    pki_dir = pki.pki_dir_of(installed.cluster_dir)
    assert not any(path.exists() for path in pki.host_files(pki_dir, "master3"))
    (retired,) = pki.retired_dir_of(installed.cluster_dir).glob("master3-*")
    old_serial = x509.load_pem_x509_certificate((retired / "peer-master3.crt").read_bytes()).serial_number
    assert not list(retired.glob("*.key"))

    # hosts.ini keeps master3: its lines deleted, then put back, leave it as it is (two etcd members alone would
    # not load: an even count is refused).
    installed.sandbox.reset("master3")
    started = time.monotonic()
    code = cli.main(["node", "add", "master3", "-i", hosts_ini, "--yes"])
    added_in = time.monotonic() - started
    out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\nnode add master3 (fresh host) took {added_in:.0f} s")
        print("\n".join(line for line in out.splitlines() if line.startswith("[")))
    assert code == 0, out[-3000:]
    gap, answers = _readyz_gaps(installed)
    with capsys.disabled():
        print(f"\nlongest gap of /readyz through node1's balancer: {gap} s over {answers} answers")
    assert gap <= 10, f"the API went unanswered for {gap} s while master3 was replaced"
    assert _etcd_members(installed) == ["master1", "master2", "master3"]
    code, health, err = installed.ssh("master1", f"{ETCDCTL} endpoint health --cluster")
    assert (health + err).count("is healthy") == 3, health + err
    new_peer = x509.load_pem_x509_certificate((pki_dir / "etcd" / "peer-master3.crt").read_bytes())
    assert new_peer.serial_number != old_serial, "master3 came back with its retired certificate"
    code, env, err = installed.ssh("master3", "grep ^ETCD_INITIAL_CLUSTER_STATE= /etc/etcd/etcd.env")
    assert env.strip() == "ETCD_INITIAL_CLUSTER_STATE=existing", env + err
    test_every_node_is_ready_and_every_master_runs_the_control_plane(installed, capsys)

    # The whole install on the cluster that lost and regained master3, after the renewal too: nothing changes (no
    # state puts an old certificate back, renews again, or undoes the replacement).
    started = time.monotonic()
    code, data, err = orchestrate(installed, "kubesphere")
    with capsys.disabled():
        print(f"\nthe orchestration after the replacement took {time.monotonic() - started:.0f} s")
    assert code == 0, failure_report(data, err)
    assert changed_states(data) == []
