"""A sandbox of real hosts for the whole test run, and helpers that run the real Salt CLIs on it."""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from saltsphere.installer import parse_json_stream
from saltsphere.sandbox import Sandbox

SALT_TIMEOUT = 300


def sandbox_missing_reason():
    """Why sandbox tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "sandbox tests need root (systemd-nspawn, network namespaces, cgroups)"
    missing = [tool for tool in ("systemd-nspawn", "debootstrap", "slirp4netns", "nsenter", "ip")
               if shutil.which(tool) is None]
    if missing:
        return f"sandbox tests need {', '.join(missing)} (apt-get install systemd-container debootstrap slirp4netns)"
    return None


def salt_script(tool):
    """The Salt CLI installed beside this Python, so tests use the salt they import."""
    sibling = Path(sys.executable).parent / tool
    return str(sibling) if sibling.exists() else shutil.which(tool) or tool


@dataclass
class SandboxHosts:
    sandbox: Sandbox
    hosts_ini: Path
    cluster_dir: Path
    hosts: dict

    def salt_ssh(self, *args, timeout=SALT_TIMEOUT):
        """Run ``salt-ssh -i ARGS`` (host keys ignored) against the sandbox: (returncode, data, stderr)."""
        return self._salt("salt-ssh", ["-i", *args], timeout)

    def salt_run(self, *args, timeout=SALT_TIMEOUT):
        """Run ``salt-run ARGS`` with the sandbox's cluster config: (returncode, data, stderr)."""
        return self._salt("salt-run", list(args), timeout)

    def prepare(self, timeout=SALT_TIMEOUT):
        """``salt-run saltsphere.prepare``: what a salt-ssh state run needs on the taskbox; its result."""
        code, data, err = self.salt_run("saltsphere.prepare", "ignore_host_keys=True", timeout=timeout)
        result = data.get("return", data)
        assert code == 0 and result.get("result") is True, f"prepare failed: {result} {err[-2000:]}"
        return result

    def ssh(self, host, command, timeout=30):
        """Run a shell command on ``host`` over ssh as hosts.ini logs in: (returncode, stdout, stderr)."""
        argv, env = self.sandbox.ssh_command(host, command)
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
        return proc.returncode, proc.stdout, proc.stderr

    def _salt(self, tool, args, timeout):
        cmd = [salt_script(tool), "--saltfile", str(self.cluster_dir / "Saltfile"), "--out=json", *args]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout, cwd=self.cluster_dir)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s; stderr: {exc.stderr!r}")
        try:
            data = parse_json_stream(proc.stdout)
        except ValueError:
            pytest.fail(f"{' '.join(cmd)} printed no JSON (exit {proc.returncode}): "
                        f"stdout {proc.stdout[-2000:]!r} stderr {proc.stderr[-2000:]!r}")
        return proc.returncode, data, proc.stderr


def run_name(suffix=""):
    return f"pytest-{os.getpid()}{suffix}"


def _skip_without_sandbox_support():
    reason = sandbox_missing_reason()
    if reason and os.environ.get("SALTSPHERE_REQUIRE_SANDBOX"):
        pytest.fail(f"SALTSPHERE_REQUIRE_SANDBOX is set but {reason}")
    if reason:
        pytest.skip(reason)


def _running_sandbox(profile, suffix="", hosts=None):
    """Boot a sandbox of ``profile`` (``hosts`` of them) for the run, yield it as SandboxHosts, always remove it."""
    _skip_without_sandbox_support()
    sandbox = Sandbox(run_name(suffix))
    try:
        hosts_ini = sandbox.up(profile=profile, hosts=hosts)
        hosts = {row["name"]: row["ip"] for row in sandbox.status()}
        yield SandboxHosts(sandbox, hosts_ini, sandbox.cluster_dir, hosts)
    finally:
        sandbox.down()


# Module scope: a sandbox boots in seconds, and every sandbox host's systemd
# draws on root's inotify instances (fs.inotify.max_user_instances, shared by
# all hosts), so only one test module's hosts live at a time.
@pytest.fixture(scope="module")
def sandbox_hosts():
    """A multi-node sandbox (master, node1 by password, node2 by sudo) for one test module."""
    yield from _running_sandbox("multi-node")


@pytest.fixture(scope="module")
def ha_hosts():
    """An ``ha`` sandbox (master1..3 as control plane and etcd, node1, node2) for one test module."""
    yield from _running_sandbox("ha", "-ha")


@pytest.fixture(scope="module")
def aio_hosts():
    """An ``all-in-one`` sandbox: one host, ``master``, in every group, for one test module."""
    yield from _running_sandbox("all-in-one", "-aio")


@pytest.fixture
def fresh_sandbox():
    """Make extra sandboxes for one test (``fresh_sandbox("-ha")``); each is removed afterwards."""
    _skip_without_sandbox_support()
    made = []

    def make(suffix):
        sandbox = Sandbox(run_name(suffix))
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.down()
