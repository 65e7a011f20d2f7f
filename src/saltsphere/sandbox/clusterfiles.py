"""The cluster directory a sandbox hands to saltsphere: hosts.ini and vars.yml in the seed's formats."""

import os

from saltsphere.sandbox import credentials, profiles

GROUPS = ("kube-master", "kube-node", "etcd")

VARS_HEADER = """\
# Cluster settings for the local sandbox `{name}` (written by `saltsphere sandbox up`).

# Lowered for the sandbox's small hosts; the seed's minimums are 4 cores, 8 GB memory, 40 GB disk.
preflight_min_cpu_cores: 1
preflight_min_memory_gb: 1
preflight_min_disk_gb: 5

# CNI bridge + host-local with routes between nodes: calico's images cannot be built on this machine.
kube_network_plugin: bridge

# The hosts share this machine's kernel clock: a time daemon inside them would fight over it.
os_time_sync: false

# The hosts share this machine's kernel too, and their root lacks CAP_SYS_RESOURCE: kube-proxy
# leaves the kernel's conntrack table and timeouts alone and keeps its OOM score, containerd
# raises the negative OOM scores kubelet asks for (runc cannot set them), and kubeadm skips its
# kernel config check (no /proc/config.gz or /boot/config-* inside a host).
kube_proxy_conntrack_max_per_core: 0
kube_proxy_conntrack_tcp_established_timeout: 0s
kube_proxy_conntrack_tcp_close_wait_timeout: 0s
kube_proxy_oom_score_adj: 0
containerd_restrict_oom_score_adj: true
kubeadm_ignore_preflight_errors: [SystemVerification]
"""

STORAGE_SINGLE_HOST = """
# Local volume provisioner deployment (only all-in-one)
local_volume_provisioner_enabled: true
local_volume_is_default_class: true

# NFS-Server provisioner deployment
nfs_server_enable: false
"""

STORAGE_MULTI_HOST = """
# Local volume provisioner deployment (only all-in-one)
local_volume_provisioner_enabled: false

# NFS-Server provisioner deployment
nfs_server_enable: true
nfs_server_is_default_class: true
"""


def write(layout, sandbox):
    """Write hosts.ini and vars.yml (mode 0600: they carry passwords) and let saltsphere add its config."""
    from saltsphere import clusterdir

    layout.cluster_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(layout.cluster_dir, 0o700)
    _write_private(layout.hosts_ini, hosts_ini(layout, sandbox))
    storage = STORAGE_SINGLE_HOST if sandbox.profile == "all-in-one" else STORAGE_MULTI_HOST
    _write_private(layout.cluster_dir / "vars.yml", VARS_HEADER.format(name=sandbox.name) + storage)
    clusterdir.init(layout.cluster_dir)
    return layout.hosts_ini


def hosts_ini(layout, sandbox):
    width = max(len(h.name) for h in sandbox.hosts)
    lines = [
        f"# Hosts of the local sandbox `{sandbox.name}`; `saltsphere sandbox down --name {sandbox.name}` removes them.",
        "[all]",
    ]
    for host in sandbox.hosts:
        fields = [host.name.ljust(width), f"ansible_host={host.ip}", f"ip={host.ip}"]
        fields += _login_vars(layout, host)
        lines.append("  ".join(fields))
    for group in GROUPS:
        lines += ["", f"[{group}]"] + [h.name for h in sandbox.hosts if group in h.groups]
    lines += ["", "[k8s-cluster:children]", "kube-node", "kube-master"]
    # The sandbox knows its hosts' keys: salt-ssh checks them against its own
    # file, so neither -i nor the taskbox user's known_hosts is involved.
    lines += ["", "[all:vars]",
              f'ansible_ssh_common_args="-o UserKnownHostsFile={layout.known_hosts} -o StrictHostKeyChecking=yes"']
    return "\n".join(lines) + "\n"


def _login_vars(layout, host):
    key = f"ansible_ssh_private_key_file={layout.private_key}"
    if host.auth == profiles.PASSWORD:
        return [f"ansible_ssh_pass={credentials.password(layout, host.name)}"]
    if host.auth == profiles.SUDO:
        return [f"ansible_user={profiles.SUDO_USER}",
                f"ansible_become_pass={credentials.password(layout, host.name)}", key]
    return [key]


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)
