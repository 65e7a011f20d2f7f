"""`artifact add-image`: OCI and docker archives checked blob by blob and put into a bundle with their entry."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from salt.exceptions import CommandExecutionError

from saltsphere import bom, cli
from saltsphere.artifacts import ArtifactError, entry_for, read_manifest, verify, write_manifest
from saltsphere.artifacts import addimage, images
from sample_inputs import load_extension
from test_artifact_fetch import FakeWeb, serve_image

REDIS = "docker.io/library/redis:5"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_tar(path: Path, members: dict):
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def oci_archive(tmp_path, ref=REDIS, arch="amd64", name="redis-oci.tar") -> Path:
    root = tmp_path / f"rootfs-{name}"
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/hostname").write_text(ref + "\n")
    path = tmp_path / name
    images.write_oci_archive(path, ref, root, arch=arch)
    return path


def oci_members(path: Path) -> dict:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def edit_index(path: Path, change) -> Path:
    members = oci_members(path)
    index = json.loads(members["index.json"])
    change(index)
    members["index.json"] = json.dumps(index).encode()
    return write_tar(path, members)


def docker_archive(tmp_path, tags=("redis:5",), arch="amd64", name="redis-docker.tar", layer=b"layer-bytes",
                   legacy=True) -> Path:
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest(layer)}"]}}).encode()
    if legacy:
        config_name, layer_name = f"{digest(config)}.json", "0123abcd/layer.tar"
    else:
        config_name, layer_name = f"blobs/sha256/{digest(config)}", f"blobs/sha256/{digest(layer)}"
    manifest = [{"Config": config_name, "RepoTags": list(tags), "Layers": [layer_name]}]
    members = {config_name: config, layer_name: layer, "manifest.json": json.dumps(manifest).encode()}
    if legacy:
        members["repositories"] = json.dumps({"redis": {"5": "0123abcd"}}).encode()
    return write_tar(tmp_path / name, members)


@pytest.fixture
def bundle(tmp_path):
    root = tmp_path / "bundle"
    (root / "bin").mkdir(parents=True)
    (root / "bin/kubeadm").write_bytes(b"kubeadm")
    (root / "images").mkdir()
    (root / "images/pause.tar").write_bytes(b"pause")
    entries = [
        entry_for(root, "bin/kubeadm", name="kubeadm", version="v1.20.2", arch="amd64", kind="binary"),
        entry_for(root, "images/pause.tar", name="pause", version="3.2", arch="amd64", kind="image",
                  ref="k8s.gcr.io/pause:3.2"),
    ]
    write_manifest(root, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"],
                   created="2026-12-07T00:00:00+00:00")
    return root


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def host_names(path) -> list:
    """What a host's saltsphere_containerd module reads from the archive: the names ctr will import."""
    return [image["name"] for image in load_extension("modules", "saltsphere_containerd").archive_images(str(path))]


# --- reading archives ------------------------------------------------------------------------------------------

def test_oci_archive_names_its_image(tmp_path):
    archive = addimage.read_archive(oci_archive(tmp_path))
    assert archive.format == "oci"
    [image] = archive.images
    assert image.names == (REDIS,) and image.host_names == (REDIS,) and image.arch == "amd64"


@pytest.mark.parametrize("legacy", [True, False])
def test_docker_archive_names_its_image_normalized(tmp_path, legacy):
    archive = addimage.read_archive(docker_archive(tmp_path, legacy=legacy))
    assert archive.format == "docker"
    [image] = archive.images
    assert image.names == (REDIS,) and image.arch == "amd64"


def test_oci_blob_with_other_content_is_a_digest_mismatch(tmp_path):
    path = oci_archive(tmp_path)
    members = oci_members(path)
    layer = next(n for n, d in members.items() if n.startswith("blobs/") and d[:2] == b"\x1f\x8b")
    members[layer] = members[layer][:-1] + bytes([members[layer][-1] ^ 1])
    write_tar(path, members)
    with pytest.raises(ArtifactError, match=f"{path}: layer blob {layer} has sha256 [0-9a-f]{{64}}, not the digest"):
        addimage.read_archive(path)


@pytest.mark.parametrize("what", ["layer", "config", "manifest"])
def test_oci_missing_blob_is_named(tmp_path, what):
    path = oci_archive(tmp_path)
    members = oci_members(path)
    manifest_name = "blobs/sha256/" + json.loads(members["index.json"])["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(members[manifest_name])
    target = {"manifest": manifest_name,
              "config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1],
              "layer": "blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]}[what]
    del members[target]
    write_tar(path, members)
    with pytest.raises(ArtifactError, match=f"{path}: missing {what} blob {target}"):
        addimage.read_archive(path)


def test_docker_layer_with_other_content_is_a_digest_mismatch(tmp_path):
    path = docker_archive(tmp_path)
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["0123abcd/layer.tar"] = b"tampered"
    write_tar(path, members)
    with pytest.raises(ArtifactError, match="layer 0123abcd/layer.tar has sha256 .* not the digest the config gives"):
        addimage.read_archive(path)


def test_docker_missing_layer_is_named(tmp_path):
    path = docker_archive(tmp_path, legacy=False)
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    layer = next(n for n in members if members[n] == b"layer-bytes")
    del members[layer]
    write_tar(path, members)
    with pytest.raises(ArtifactError, match=f"missing layer {layer}"):
        addimage.read_archive(path)


def test_a_tar_that_is_no_image_archive(tmp_path):
    path = write_tar(tmp_path / "files.tar", {"etc/hostname": b"x"})
    with pytest.raises(ArtifactError, match="files.tar: not an image archive"):
        addimage.read_archive(path)


def test_a_file_that_is_no_tar(tmp_path):
    path = tmp_path / "junk.tar"
    path.write_bytes(b"\x01" * 100)
    with pytest.raises(ArtifactError, match="junk.tar: not a readable tar file"):
        addimage.read_archive(path)


# --- choosing the name -----------------------------------------------------------------------------------------

def test_archive_without_a_name_needs_one(tmp_path, bundle):
    path = edit_index(oci_archive(tmp_path), lambda index: index["manifests"][0].pop("annotations"))
    with pytest.raises(ArtifactError, match="names no image; give the name .* --name REF"):
        addimage.add_image(bundle, path)
    entry = addimage.add_image(bundle, path, name="redis:5")
    assert entry.ref == REDIS
    assert host_names(bundle / entry.path) == [REDIS]


def test_archive_with_several_names_needs_a_choice(tmp_path, bundle):
    path = docker_archive(tmp_path, tags=("redis:5", "redis:latest"))
    with pytest.raises(ArtifactError, match="names several images .*redis:5.*redis:latest.*--name REF"):
        addimage.add_image(bundle, path)
    entry = addimage.add_image(bundle, path, name="redis:latest")
    assert entry.ref == "docker.io/library/redis:latest"
    assert host_names(bundle / entry.path) == ["docker.io/library/redis:latest"]


def test_oci_name_only_as_ref_annotation_is_given_the_containerd_one(tmp_path, bundle):
    def only_oci_name(index):
        index["manifests"][0]["annotations"] = {images.REF_ANNOTATION: "redis:5"}

    path = edit_index(oci_archive(tmp_path), only_oci_name)
    with pytest.raises(CommandExecutionError, match="names no image"):
        host_names(path)
    entry = addimage.add_image(bundle, path)
    assert entry.ref == REDIS
    assert host_names(bundle / entry.path) == [REDIS]
    assert verify(bundle) == []


def test_a_name_not_in_an_archive_of_several_images_is_refused(tmp_path, bundle):
    path = edit_index(oci_archive(tmp_path), lambda index: index["manifests"].append(
        {**index["manifests"][0], "annotations": {images.NAME_ANNOTATION: "docker.io/library/redis:6"}}))
    with pytest.raises(ArtifactError, match="holds 2 images and none is named docker.io/library/nginx:1"):
        addimage.add_image(bundle, path, name="nginx:1")


def test_an_image_for_another_arch_is_refused(tmp_path, bundle):
    with pytest.raises(ArtifactError, match="is for arm64, the bundle for amd64"):
        addimage.add_image(bundle, oci_archive(tmp_path, arch="arm64"))


# --- into the bundle -------------------------------------------------------------------------------------------

def bill_with(ref):
    """A bill of materials that asks for ``ref`` only, as the install's check for missing images reads one."""
    image = bom.Image(ref=bom.normalize(ref), name="wanted", part=bom.STORAGE, source=bom.normalize(ref), hint="")
    return bom.Bom(kube_version="v1.20.2", arch="amd64", versions=None, calico=None, binaries=(), images=(image,),
                   packages={})


def test_the_install_misses_an_image_until_it_is_added(tmp_path, bundle):
    assert bill_with("redis:5").missing(bom.held_refs(read_manifest(bundle).files)) == [REDIS]
    addimage.add_image(bundle, oci_archive(tmp_path))
    assert bill_with("redis:5").missing(bom.held_refs(read_manifest(bundle).files)) == []


@pytest.mark.parametrize("make", [oci_archive, docker_archive])
def test_added_image_is_copied_listed_and_found_like_the_others(tmp_path, bundle, make):
    path = make(tmp_path)
    entry = addimage.add_image(bundle, path)
    assert entry.path == "images/redis.tar" and entry.name == "redis" and entry.version == "5"
    assert entry.kind == "image" and entry.ref == REDIS and entry.arch == "amd64"
    assert (bundle / "images/redis.tar").read_bytes() == path.read_bytes()
    assert verify(bundle) == []
    manifest = read_manifest(bundle)
    assert entry in manifest.files and len(manifest.files) == 3
    assert manifest.created == "2026-12-07T00:00:00+00:00"
    assert bill_with("redis:5").missing(bom.held_refs(manifest.files)) == []
    pillar_files = {e.path: {"name": e.name, "kind": e.kind, "ref": e.ref} for e in manifest.files}
    assert bill_with("redis:5").missing(bom.held_refs(pillar_files)) == []
    assert host_names(bundle / entry.path) == [REDIS]
    assert not [p for p in (bundle / "images").iterdir() if p.name.startswith(".")]


def test_adding_the_same_image_again_replaces_its_entry(tmp_path, bundle):
    addimage.add_image(bundle, oci_archive(tmp_path))
    docker = docker_archive(tmp_path)
    entry = addimage.add_image(bundle, docker)
    refs = [e.ref for e in read_manifest(bundle).files if e.kind == "image"]
    assert sorted(refs) == [REDIS, "k8s.gcr.io/pause:3.2"]
    assert (bundle / entry.path).read_bytes() == docker.read_bytes()
    assert verify(bundle) == []


def test_another_image_under_a_taken_name_needs_replace(tmp_path, bundle):
    before = snapshot(bundle)
    path = oci_archive(tmp_path, ref="registry.example.com/other/pause:1")
    with pytest.raises(ArtifactError, match=r"would take the place of images/pause.tar \(k8s.gcr.io/pause:3.2\)"
                                            ".*--replace"):
        addimage.add_image(bundle, path)
    assert snapshot(bundle) == before
    entry = addimage.add_image(bundle, path, replace=True)
    assert [e.ref for e in read_manifest(bundle).files if e.kind == "image"] == [entry.ref]
    assert verify(bundle) == []


def test_a_failing_manifest_write_leaves_the_bundle_as_it_was(tmp_path, bundle, monkeypatch):
    addimage.add_image(bundle, oci_archive(tmp_path))
    before = snapshot(bundle)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(addimage.mf, "write_manifest", fail)
    with pytest.raises(OSError):
        addimage.add_image(bundle, docker_archive(tmp_path))
    assert snapshot(bundle) == before


def test_a_damaged_archive_leaves_the_bundle_as_it_was(tmp_path, bundle):
    before = snapshot(bundle)
    path = docker_archive(tmp_path)
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["0123abcd/layer.tar"] = b"tampered"
    write_tar(path, members)
    with pytest.raises(ArtifactError):
        addimage.add_image(bundle, path)
    assert snapshot(bundle) == before


def test_cli_add_image(tmp_path, bundle, capsys):
    path = docker_archive(tmp_path)
    assert cli.main(["artifact", "add-image", str(path), "--bundle", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "images/redis.tar" in out and REDIS in out
    assert cli.main(["artifact", "add-image", str(tmp_path / "absent.tar"), "--bundle", str(bundle)]) != 0
    assert "absent.tar: no such file" in capsys.readouterr().err


# --- pulled from a registry ------------------------------------------------------------------------------------

def test_pull_adds_the_bundle_arch_of_an_image(tmp_path, bundle):
    web = FakeWeb()
    parts = serve_image(web, "pause", "3.9", arches=("arm64", "amd64"))
    entry = addimage.pull_and_add(bundle, "registry.k8s.io/pause:3.9", replace=True, opener=web, log=lambda _: None)
    assert entry.ref == "registry.k8s.io/pause:3.9" and entry.path == "images/pause.tar"
    assert host_names(bundle / entry.path) == ["registry.k8s.io/pause:3.9"]
    with tarfile.open(bundle / entry.path) as tar:
        assert f"blobs/sha256/{digest(parts['amd64'][2])}" in tar.getnames()
    assert verify(bundle) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_pull_from_a_mirror_keeps_the_name(tmp_path, bundle):
    web = FakeWeb()
    serve_image(web, "pause", "3.9", registry="registry.k8s.io")
    mirror = "registry.k8s.io"
    entry = addimage.pull_and_add(bundle, "k8s.gcr.io/pause:3.9", mirror=mirror, replace=True, opener=web,
                                  log=lambda _: None)
    assert entry.ref == "k8s.gcr.io/pause:3.9"
    assert web.urls[0] == "https://registry.k8s.io/v2/pause/manifests/3.9"


def test_a_tampered_pulled_blob_leaves_the_bundle_as_it_was(tmp_path, bundle):
    web = FakeWeb()
    parts = serve_image(web, "pause", "3.9")
    layer = parts["amd64"][2]
    web.serve(f"https://registry.k8s.io/v2/pause/blobs/sha256:{digest(layer)}", layer + b"x")
    before = snapshot(bundle)
    with pytest.raises(ArtifactError, match="sha256 is"):
        addimage.pull_and_add(bundle, "registry.k8s.io/pause:3.9", replace=True, opener=web, log=lambda _: None)
    assert snapshot(bundle) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_cli_pull_refuses_name_and_mirror_without_pull(tmp_path, bundle, capsys):
    assert cli.main(["artifact", "add-image", "--pull", "pause:1", "--name", "x:1", "--bundle", str(bundle)]) != 0
    assert "--name and --pull" in capsys.readouterr().err
    path = docker_archive(tmp_path)
    argv = ["artifact", "add-image", str(path), "--registry-mirror", "m.example", "--bundle", str(bundle)]
    assert cli.main(argv) != 0
    assert "--registry-mirror goes with --pull only" in capsys.readouterr().err


@pytest.mark.parametrize("config", [b"[]", b'{"rootfs": {"diff_ids": "x"}}'])
def test_a_docker_config_without_layer_digests_is_refused(tmp_path, config):
    path = docker_archive(tmp_path, legacy=False)
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(members["manifest.json"])
    del members[manifest[0]["Config"]]
    manifest[0]["Config"] = f"blobs/sha256/{digest(config)}"
    members[manifest[0]["Config"]] = config
    members["manifest.json"] = json.dumps(manifest).encode()
    write_tar(path, members)
    with pytest.raises(ArtifactError, match="has no rootfs.diff_ids list"):
        addimage.read_archive(path)


def test_an_image_the_bundle_lists_keeps_its_file_name(tmp_path, bundle):
    fetched = bundle / "images/storage-redis-5.tar"
    fetched.write_bytes(b"fetched before")
    manifest = read_manifest(bundle)
    entries = [*manifest.files, entry_for(bundle, "images/storage-redis-5.tar", name="storage-redis-5", version="5",
                                          arch="amd64", kind="image", ref=REDIS)]
    write_manifest(bundle, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])
    path = oci_archive(tmp_path)
    entry = addimage.add_image(bundle, path)
    assert (entry.path, entry.name) == ("images/storage-redis-5.tar", "storage-redis-5")
    assert fetched.read_bytes() == path.read_bytes()
    assert sorted(e.ref for e in read_manifest(bundle).files if e.kind == "image") == [REDIS, "k8s.gcr.io/pause:3.2"]
    assert not (bundle / "images/redis.tar").exists()
    assert verify(bundle) == []
