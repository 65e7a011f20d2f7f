"""A named set of local hosts: bring it up, inspect it, cut hosts off, and remove it without a trace."""

import fcntl
import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from saltsphere.sandbox import (
    cgroups, clusterfiles, credentials, host as hostctl, network, profiles, provision, rootfs, sshaccess, state,
)
from saltsphere.sandbox.errors import SandboxError
from saltsphere.sandbox.locations import STATE_ROOT

SSH_TIMEOUT = 90.0
POWEROFF_GRACE = 5.0


class Sandbox:
    """The sandbox called ``name``; every method takes the sandbox lock while it changes things."""

    def __init__(self, name="default", log=print):
        self.layout = state.Layout(name)
        self.name = name
        self.log = log

    @property
    def hosts_ini(self):
        return self.layout.hosts_ini

    @property
    def cluster_dir(self):
        return self.layout.cluster_dir

    def up(self, profile=None, hosts=None):
        """Boot every host that is not running and return the path of hosts.ini.

        ``profile`` and ``hosts`` default to the existing sandbox's, or to a
        multi-node sandbox of that profile's size for a new one.
        """
        with _lock():
            sandbox = self._load_or_create(profile, hosts)
            network.ensure(sandbox, self.layout)
            waiting = [h for h in sandbox.hosts if not hostctl.running(sandbox, h.name)]
            fresh = [h.ip for h in waiting if not self.layout.upper(h.name).is_dir()]
            sshaccess.forget_host_keys(fresh)
            for host in waiting:
                provision.prepare(self.layout, sandbox, host, sandbox.rootfs)
            self._write_known_hosts(sandbox)
            for host in waiting:
                hostctl.boot(self.layout, sandbox, host)
            self._wait_for_logins(sandbox, waiting)
            clusterfiles.write(self.layout, sandbox)
        for host in sandbox.hosts:
            self.log(f"{host.name:<10} {host.ip:<15} {'booted' if host in waiting else 'already running'}")
        return self.hosts_ini

    def down(self):
        """Stop every host, remove the network and the state directory; the rootfs cache stays."""
        with _lock():
            if not self.layout.root.exists():
                self.log(f"no sandbox named {self.name}; nothing to remove")
                return
            parents = cgroups.sandbox_dirs(self.name)
            if self.layout.exists():
                sandbox = self.layout.load()
                parents = sandbox.cgroup_parents
                for host in sandbox.hosts:
                    hostctl.power_off(sandbox, host.name)
                deadline = time.monotonic() + POWEROFF_GRACE
                for host in sandbox.hosts:
                    hostctl.kill(sandbox, host.name, grace=max(0.0, deadline - time.monotonic()))
                sshaccess.forget_host_keys([h.ip for h in sandbox.hosts])
            network.destroy(self.name, parents)
            cgroups.remove(parents, f"sandbox {self.name}: teardown")
            cgroups.remove_if_empty([os.path.dirname(p) for p in parents])
            _refuse_if_mounted(self.layout.root)
            shutil.rmtree(self.layout.root)
        self.log(f"sandbox {self.name} removed")

    def stop(self, name):
        """Cut a host off at once, as a power failure would; its disk is kept."""
        with _lock():
            sandbox = self.layout.load()
            host = sandbox.host(name)
            hostctl.kill(sandbox, host.name)
        self.log(f"{name} stopped")

    def start(self, name):
        """Boot a stopped host again on the disk it had."""
        with _lock():
            sandbox = self.layout.load()
            host = sandbox.host(name)
            if hostctl.running(sandbox, name):
                self.log(f"{name} is already running")
                return
            self._boot(sandbox, host)
        self.log(f"{name} started")

    def reset(self, name):
        """Kill a host, wipe everything it wrote and boot it as new (with new ssh host keys)."""
        with _lock():
            sandbox = self.layout.load()
            host = sandbox.host(name)
            hostctl.kill(sandbox, name)
            provision.wipe(self.layout, name)
            sshaccess.forget_host_keys([host.ip])
            self._boot(sandbox, host)
        self.log(f"{name} reset")

    def set_outbound(self, enabled: bool):
        """Open or cut the hosts' way out (to the mirror); an offline install proves the bundle is enough."""
        with _lock():
            network.set_outbound(self.layout.load(), enabled)
        self.log(f"sandbox {self.name}: outbound {'open' if enabled else 'cut'}")

    def outbound(self) -> bool:
        return network.outbound(self.layout.load())

    def status(self):
        """[{name, ip, state, user, groups}] for every host."""
        sandbox = self.layout.load()
        return [
            {
                "name": h.name,
                "ip": h.ip,
                "state": "running" if hostctl.running(sandbox, h.name) else "stopped",
                "user": sshaccess.user(h),
                "groups": list(h.groups),
            }
            for h in sandbox.hosts
        ]

    def ssh_command(self, name, remote=None):
        """(argv, env) that logs into host ``name`` as hosts.ini says."""
        sandbox = self.layout.load()
        return sshaccess.command(self.layout, sandbox.host(name), remote)

    def host_cgroups(self, name):
        sandbox = self.layout.load()
        return hostctl.cgroup_dirs(sandbox, sandbox.host(name).name)

    def _boot(self, sandbox, host):
        network.ensure(sandbox, self.layout)
        provision.prepare(self.layout, sandbox, host, sandbox.rootfs)
        self._write_known_hosts(sandbox)
        hostctl.boot(self.layout, sandbox, host)
        self._wait_for_logins(sandbox, [host])

    def _load_or_create(self, profile, count):
        if self.layout.exists():
            sandbox = self.layout.load()
            specs = profiles.hosts_for(profile or sandbox.profile, count or len(sandbox.hosts))
            if profile not in (None, sandbox.profile) or [h.name for h in sandbox.hosts] != [s.name for s in specs]:
                raise SandboxError(
                    f"sandbox {self.name} already exists as {sandbox.profile} with {len(sandbox.hosts)} hosts; "
                    f"run `saltsphere sandbox down --name {self.name}` first, or pick another --name"
                )
            return sandbox
        profile = profile or "multi-node"
        specs = profiles.hosts_for(profile, count)
        lower = str(rootfs.ensure(self.log))
        self.layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.layout.root, 0o700)
        subnet = network.choose_subnet([s.subnet for s in state.all_sandboxes()])
        sandbox = state.Sandbox(
            name=self.name,
            profile=profile,
            subnet=str(subnet),
            gateway=network.gateway_ip(subnet),
            taskbox_ip=network.taskbox_ip(subnet),
            rootfs=lower,
            cgroup_parents=cgroups.sandbox_dirs(self.name),
            hosts=[
                state.Host(
                    name=spec.name,
                    ip=network.host_ip(subnet, index),
                    mac=_random_mac(),
                    machine_id=secrets.token_hex(16),
                    groups=list(spec.groups),
                    auth=spec.auth,
                )
                for index, spec in enumerate(specs)
            ],
        )
        # Saved before anything is created, so that `down` can undo a failed `up`.
        self.layout.save(sandbox)
        credentials.create_keypair(self.layout)
        return sandbox

    def _write_known_hosts(self, sandbox):
        lines = []
        for host in sandbox.hosts:
            if self.layout.upper(host.name).is_dir():
                keytype, key = provision.host_key(self.layout, host.name)
                lines.append(f"{host.ip} {keytype} {key}")
        self.layout.known_hosts.write_text("\n".join(lines) + "\n")

    def _wait_for_logins(self, sandbox, hosts):
        def wait(host):
            sshaccess.wait_for_login(
                self.layout, host, lambda: hostctl.exited_early(self.layout, sandbox, host.name), SSH_TIMEOUT
            )

        with ThreadPoolExecutor(max_workers=min(16, max(1, len(hosts)))) as pool:
            for future in [pool.submit(wait, h) for h in hosts]:
                future.result()


class _lock:
    """One sandbox change at a time on this taskbox, so two never pick the same subnet."""

    def __enter__(self):
        STATE_ROOT.mkdir(parents=True, exist_ok=True)
        self.file = open(STATE_ROOT / ".lock", "w")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.file.close()


def _random_mac():
    # Locally administered, unicast: never clashes with a real NIC's vendor prefix.
    octets = bytearray(secrets.token_bytes(6))
    octets[0] = (octets[0] & 0xFC) | 0x02
    return ":".join(f"{o:02x}" for o in octets)


def _refuse_if_mounted(root):
    prefix = str(root) + "/"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mountpoint = line.split()[4]
        if mountpoint.startswith(prefix):
            raise SandboxError(f"sandbox teardown: {mountpoint} is still mounted; unmount it, then run down again")
