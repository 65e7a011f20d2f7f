"""The containerd formula renders for every host of the sample cluster, and its module reads image archives.

Uses Salt's real loaders (see conftest.py): the same map.jinja, pillar and
templates that salt-ssh renders on a host.
"""

import hashlib
import io
import json
import tarfile
import tomllib

import pytest

STATE_IDS = {
    "containerd-package-saltsphere-packages-installed",
    "containerd-config-file-managed",
    "containerd-config-file-managed-crictl",
    "containerd-config-file-directory-cni-bin",
    "containerd-config-file-directory-cni-conf",
    "containerd-registries-file-directory-certs",
    "containerd-service-service-running",
    "containerd-health-saltsphere-containerd-plugin-loaded",
    "os-pkgdb-cmd-run-finish-interrupted",
    "os-pkgdb-file-absent-bundle-source",
    "os-pkgdb-file-absent-bundle-apt-config",
    "os-pkgdb-file-absent-bundle-index-stamp",
    "transport-wipe-saltsphere-transport-wiped",
}


def _show(loaders, sls, **kwargs):
    ret = loaders.modules.state.show_sls(sls, **kwargs)
    assert isinstance(ret, dict), f"{sls} did not render: {ret}"
    return ret


def _arg(state, key):
    for arg in next(value for name, value in state.items() if not name.startswith("__")):
        if isinstance(arg, dict) and key in arg:
            return arg[key]
    raise KeyError(key)


def _render(loaders, template, containerd):
    return loaders.modules.slsutil.renderer(
        path=f"salt://containerd/files/{template}", default_renderer="jinja", containerd=containerd
    )


def test_init_renders_the_stable_state_ids(loaders):
    assert set(_show(loaders, "containerd")) == STATE_IDS


def test_service_restarts_on_config_changes_only(loaders):
    service = _show(loaders, "containerd")["containerd-service-service-running"]
    assert _arg(service, "watch") == [{"sls": "containerd.config"}]
    assert _arg(service, "enable") is True


def test_config_toml_carries_the_cluster_choices(loaders):
    managed = _show(loaders, "containerd")["containerd-config-file-managed"]
    assert _arg(managed, "name") == "/etc/containerd/config.toml"
    config = tomllib.loads(_render(loaders, "config.toml.jinja", _arg(managed, "context")["containerd"]))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert config["version"] == 2
    assert config["grpc"]["address"] == "/run/containerd/containerd.sock"
    assert cri["sandbox_image"] == "k8s.gcr.io/pause:3.2"
    # containerd's default; only hosts whose root lacks CAP_SYS_RESOURCE (the sandbox's) set it
    assert cri["restrict_oom_score_adj"] is False
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    # Debian's containernetworking-plugins
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": "/etc/cni/net.d"}
    # hosts.toml per registry (containerd.registries), read on each pull
    assert cri["registry"] == {"config_path": "/etc/containerd/certs.d"}


def test_without_registry_keys_the_certs_directory_is_kept_empty(loaders):
    states = _show(loaders, "containerd")
    certs = states["containerd-registries-file-directory-certs"]
    assert _arg(certs, "name") == "/etc/containerd/certs.d" and _arg(certs, "clean") is True
    assert not [sid for sid in states if sid.startswith("containerd-registries-file-managed")]


REGISTRY_FILES = {
    "/etc/containerd/certs.d/docker.io/hosts.toml": 'server = "https://registry-1.docker.io"\n',
    "/etc/containerd/certs.d/10.0.0.5:5000/hosts.toml": 'server = "http://10.0.0.5:5000"\n',
}


def test_each_registry_file_of_the_pillar_is_written_and_kept_by_the_clean_directory(loaders):
    states = _show(loaders, "containerd", pillar={"saltsphere": {"registries": REGISTRY_FILES}})
    for path, content in REGISTRY_FILES.items():
        managed = states[f"containerd-registries-file-managed-{path}"]
        assert _arg(managed, "name") == path and _arg(managed, "contents") == content
        assert _arg(managed, "mode") == "0644"
    required = _arg(states["containerd-registries-file-directory-certs"], "require")
    assert required == [{"file": f"containerd-registries-file-managed-{path}"} for path in sorted(REGISTRY_FILES)]
    # A new registry file is no reason to restart containerd: it is read on each pull.
    assert _arg(states["containerd-service-service-running"], "watch") == [{"sls": "containerd.config"}]


def test_a_registry_file_outside_the_certs_directory_does_not_render(loaders):
    ret = loaders.modules.state.show_sls(
        "containerd", pillar={"saltsphere": {"registries": {"/etc/containerd/certs.d/../config.toml": "x"}}})
    assert "outside /etc/containerd/certs.d" in str(ret)


def test_crictl_points_at_the_containerd_socket(loaders):
    managed = _show(loaders, "containerd")["containerd-config-file-managed-crictl"]
    assert _arg(managed, "name") == "/etc/crictl.yaml"
    rendered = _render(loaders, "crictl.yaml.jinja", _arg(managed, "context")["containerd"])
    assert "runtime-endpoint: unix:///run/containerd/containerd.sock" in rendered.splitlines()


def test_pillar_sets_cgroup_driver_and_sandbox_image(loaders):
    pillar = {"saltsphere": {"config": {"containerd_cgroup_driver": "cgroupfs",
                                        "containerd_sandbox_image": "registry.example/pause:3.9",
                                        "containerd_restrict_oom_score_adj": True}}}
    managed = _show(loaders, "containerd.config", pillar=pillar)["containerd-config-file-managed"]
    config = tomllib.loads(_render(loaders, "config.toml.jinja", _arg(managed, "context")["containerd"]))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert cri["sandbox_image"] == "registry.example/pause:3.9"
    assert cri["restrict_oom_score_adj"] is True


@pytest.mark.parametrize("pillar, message", [
    ({"config": {"containerd_cgroup_driver": "cgroupsv3"}}, "set it to systemd or cgroupfs"),
    ({"lookup": {"containerd": {"install_source": "bundle"}}}, "install_source \"bundle\" is not known"),
])
def test_bad_parameters_stop_rendering_with_the_fix(loaders, pillar, message):
    ret = loaders.modules.state.show_sls("containerd", pillar={"saltsphere": pillar})
    assert isinstance(ret, list) and message in " ".join(ret), ret


def test_clean_mirrors_the_install(loaders):
    own = {sid for sid in _show(loaders, "containerd.clean") if sid.startswith("containerd-")}
    assert own == {
        "containerd-clean-cmd-run-tasks-killed",
        "containerd-clean-service-dead",
        "containerd-clean-cmd-run-shims-killed",
        "containerd-clean-file-absent",
        "containerd-clean-pkg-purged",
        "containerd-clean-cmd-run-emptied-var-lib-containerd",
        "containerd-clean-cmd-run-emptied-run-containerd",
    }


@pytest.mark.parametrize("name, full", [
    ("busybox", "docker.io/library/busybox:latest"),
    ("library/busybox:1.36", "docker.io/library/busybox:1.36"),
    ("k8s.gcr.io/pause:3.2", "k8s.gcr.io/pause:3.2"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("kubesphere/ks-installer:v3.4.1", "docker.io/kubesphere/ks-installer:v3.4.1"),
    ("quay.io/x/y@sha256:" + "0" * 64, "quay.io/x/y@sha256:" + "0" * 64),
])
def test_image_names_normalize_as_containerd_stores_them(loaders, name, full):
    assert loaders.modules.saltsphere_containerd.normalize_name(name) == full


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_docker_archive_lists_its_tags_with_the_config_digest(loaders, tmp_path):
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    path = tmp_path / "image.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "c.json", config)
        _add(tar, "manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["busybox:1", "x.io/b:2"],
                                                 "Layers": []}]).encode())
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    assert loaders.modules.saltsphere_containerd.archive_images(str(path)) == [
        {"name": "docker.io/library/busybox:1", "target": None, "config": digest},
        {"name": "x.io/b:2", "target": None, "config": digest},
    ]


def test_oci_archive_lists_the_names_its_index_gives(loaders, tmp_path):
    index = {"schemaVersion": 2, "manifests": [
        {"digest": "sha256:" + "a" * 64, "annotations": {"io.containerd.image.name": "k8s.gcr.io/pause:3.2"}},
        {"digest": "sha256:" + "b" * 64, "annotations": {"org.opencontainers.image.ref.name": "3.2"}},
    ]}
    path = tmp_path / "oci.tar"
    with tarfile.open(path, "w") as tar:
        _add(tar, "./index.json", json.dumps(index).encode())
    assert loaders.modules.saltsphere_containerd.archive_images(str(path)) == [
        {"name": "k8s.gcr.io/pause:3.2", "target": "sha256:" + "a" * 64, "config": None},
    ]


@pytest.mark.parametrize("content, message", [
    (None, "does not exist on this host"),
    (b"not a tar", "cannot be read"),
    ({"index.json": b'{"manifests": []}'}, "names no image"),
])
def test_unusable_archives_are_refused_with_the_fix(loaders, tmp_path, content, message):
    path = tmp_path / "bad.tar"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content:
        with tarfile.open(path, "w") as tar:
            for name, data in content.items():
                _add(tar, name, data)
    with pytest.raises(Exception, match=message):
        loaders.modules.saltsphere_containerd.archive_images(str(path))
