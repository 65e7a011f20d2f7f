"""The containerd role on real hosts: installed, configured, running, idempotent, and able to run
an image imported from an archive built on the taskbox (no registry anywhere)."""

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tomllib

import pytest

pytestmark = pytest.mark.sandbox

HOSTS = ["master", "node1", "node2"]
APPLY_TIMEOUT = 600
IMAGE = "saltsphere.test/hello:1"
ARCHIVE = "/tmp/saltsphere-test-hello.tar"

# A static binary is the whole image: it needs no libraries, no shell and no registry.
HELLO_C = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    fputs("hello", stdout);
    for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
    putchar('\n');
    return 0;
}
"""


def _states(data):
    for host in HOSTS:
        assert isinstance(data.get(host), dict), f"{host} returned no state results: {data.get(host)!r}"
    return {host: data[host].values() for host in HOSTS}


def _failed(data):
    return {host: [f"{r['__id__']}: {r['comment']}" for r in states if r["result"] is False]
            for host, states in _states(data).items()}


def _changed(data):
    """State ids that changed, or under test=True would change, on each host."""
    return {host: sorted(r["__id__"] for r in states if r["changes"] or r["result"] is None)
            for host, states in _states(data).items()}


def _run_everywhere(sandbox_hosts, command, timeout=120):
    code, data, err = sandbox_hosts.salt_ssh("*", "cmd.run_all", command, timeout=timeout)
    assert code == 0 and set(data) == set(HOSTS), f"{command}: {data} {err}"
    return data


@pytest.fixture(scope="module")
def first_run(sandbox_hosts):
    sandbox_hosts.prepare()
    code, data, err = sandbox_hosts.salt_ssh("*", "state.apply", "containerd", timeout=APPLY_TIMEOUT)
    assert _failed(data) == {host: [] for host in HOSTS}, err
    assert code == 0, err
    return data


def test_first_run_installs_configures_and_starts_containerd_everywhere(first_run):
    for host, ids in _changed(first_run).items():
        assert "containerd-config-file-managed" in ids, host
        assert "containerd-service-service-running" in ids, host


def test_containerd_is_active_enabled_and_answers_ctr(first_run, sandbox_hosts):
    data = _run_everywhere(sandbox_hosts, "systemctl is-active containerd; systemctl is-enabled containerd; "
                                          "ctr version; ctr plugins ls")
    for host, ret in data.items():
        assert ret["retcode"] == 0, ret
        lines = ret["stdout"].splitlines()
        assert lines[:2] == ["active", "enabled"], (host, ret)
        assert "Server:" in lines, (host, ret)
        cri = [line.split() for line in lines if " cri " in line]
        assert cri and cri[0][-1] == "ok", f"{host}: kubelet needs the CRI plugin loaded: {cri}"


def test_config_is_the_rendered_one(first_run, sandbox_hosts):
    data = _run_everywhere(sandbox_hosts, "cat /etc/containerd/config.toml")
    for host, ret in data.items():
        cri = tomllib.loads(ret["stdout"])["plugins"]["io.containerd.grpc.v1.cri"]
        assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True, host
        assert cri["sandbox_image"] == "k8s.gcr.io/pause:3.2", host
        assert cri["restrict_oom_score_adj"] is True, host
    data = _run_everywhere(sandbox_hosts, "cat /etc/crictl.yaml")
    for host, ret in data.items():
        assert "runtime-endpoint: unix:///run/containerd/containerd.sock" in ret["stdout"].splitlines(), host


def test_second_run_changes_nothing(first_run, sandbox_hosts):
    code, data, err = sandbox_hosts.salt_ssh("*", "state.apply", "containerd", timeout=APPLY_TIMEOUT)
    assert code == 0, err
    assert _changed(data) == {host: [] for host in HOSTS}


def test_test_mode_after_convergence_predicts_nothing(first_run, sandbox_hosts):
    code, data, err = sandbox_hosts.salt_ssh("*", "state.apply", "containerd", "test=True", timeout=APPLY_TIMEOUT)
    assert code == 0, err
    assert _changed(data) == {host: [] for host in HOSTS}


def _add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _image_archive(path, binary, ref, env):
    """A docker archive (what `docker save` writes) of one layer holding ``/hello``."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        _add(tar, "hello", binary, 0o755)
    layer = layer.getvalue()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/hello"], "Env": env},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(path, "w") as tar:
        _add(tar, "layer.tar", layer)
        _add(tar, config_name, config)
        _add(tar, "manifest.json", json.dumps(
            [{"Config": config_name, "RepoTags": [ref], "Layers": ["layer.tar"]}]).encode())
    return path


@pytest.fixture(scope="module")
def hello_archives(tmp_path_factory):
    """Two archives of IMAGE built here on the taskbox: the image, and other content under the same name."""
    directory = tmp_path_factory.mktemp("hello-image")
    source, binary = directory / "hello.c", directory / "hello"
    source.write_text(HELLO_C)
    gcc = shutil.which("gcc")
    assert gcc, "building the test image needs gcc and libc6-dev on the taskbox (tools/setup installs them)"
    build = subprocess.run([gcc, "-static", "-Os", "-s", "-o", str(binary), str(source)],
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, f"gcc -static failed (is libc6-dev installed?): {build.stderr}"
    data = binary.read_bytes()
    return (_image_archive(directory / "hello.tar", data, IMAGE, ["VERSION=1"]),
            _image_archive(directory / "hello-other.tar", data, IMAGE, ["VERSION=2"]))


def _copy_to_every_host(sandbox_hosts, archive):
    for host in HOSTS:
        argv, env = sandbox_hosts.sandbox.ssh_command(host, f"cat > {ARCHIVE}")
        with open(archive, "rb") as stdin:
            proc = subprocess.run(argv, env=env, stdin=stdin, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"copying {archive} to {host}: {proc.stderr}"


def _image_present(sandbox_hosts, *extra):
    code, data, err = sandbox_hosts.salt_ssh(
        "*", "state.single", "saltsphere_containerd.image_present", f"name={IMAGE}", f"archive={ARCHIVE}", *extra)
    assert _failed(data) == {host: [] for host in HOSTS}, err
    assert code == 0, err
    return data


def _image_digests(sandbox_hosts):
    code, data, err = sandbox_hosts.salt_ssh("*", "saltsphere_containerd.list_images")
    assert code == 0, err
    return {host: data[host].get(IMAGE) for host in HOSTS}


@pytest.fixture(scope="module")
def imported(first_run, sandbox_hosts, hello_archives):
    _copy_to_every_host(sandbox_hosts, hello_archives[0])
    return _image_present(sandbox_hosts)


def test_image_present_predicts_imports_once_then_leaves_alone(first_run, sandbox_hosts, hello_archives):
    _copy_to_every_host(sandbox_hosts, hello_archives[0])
    everywhere = {host: [IMAGE] for host in HOSTS}
    predicted = _image_present(sandbox_hosts, "test=True")
    assert _changed(predicted) == everywhere
    assert _image_digests(sandbox_hosts) == {host: None for host in HOSTS}, "test=True imported an image"
    assert _changed(_image_present(sandbox_hosts)) == everywhere
    digests = _image_digests(sandbox_hosts)
    assert None not in digests.values() and len(set(digests.values())) == 1, digests
    assert _changed(_image_present(sandbox_hosts)) == {host: [] for host in HOSTS}
    assert _changed(_image_present(sandbox_hosts, "test=True")) == {host: [] for host in HOSTS}


# kubelet's pods run in systemd slices (containerd_cgroup_driver: systemd);
# ctr's default places the container in cgroups directly.
@pytest.mark.parametrize("runtime_flags", [
    "",
    "--runc-systemd-cgroup --cgroup system.slice:saltsphere-test:systemd",
], ids=["cgroupfs", "systemd-cgroup"])
def test_imported_image_runs_on_every_host(imported, sandbox_hosts, runtime_flags):
    container = "saltsphere-test-" + ("systemd" if runtime_flags else "cgroupfs")
    data = _run_everywhere(
        sandbox_hosts,
        f"ctr -n k8s.io run --rm {runtime_flags} {IMAGE} {container} /hello from $(hostname)", timeout=120)
    for host, ret in data.items():
        assert (ret["retcode"], ret["stdout"].strip()) == (0, f"hello from {host}"), ret


def test_other_content_under_the_same_name_is_imported_again(imported, sandbox_hosts, hello_archives):
    before = _image_digests(sandbox_hosts)
    _copy_to_every_host(sandbox_hosts, hello_archives[1])
    try:
        assert _changed(_image_present(sandbox_hosts, "test=True")) == {host: [IMAGE] for host in HOSTS}
        assert _changed(_image_present(sandbox_hosts)) == {host: [IMAGE] for host in HOSTS}
        after = _image_digests(sandbox_hosts)
        assert all(after[host] != before[host] for host in HOSTS), (before, after)
    finally:
        _copy_to_every_host(sandbox_hosts, hello_archives[0])
        _image_present(sandbox_hosts)
