"""Image archives: OCI layout structure, reproducible bytes, ldd output, references, staging and the cache."""

import gzip
import hashlib
import io
import json
import os
import tarfile
from types import SimpleNamespace

import pytest

from saltsphere.artifacts import ArtifactError
from saltsphere.artifacts import images

REF = "k8s.gcr.io/kube-apiserver:v1.20.2"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stage(root, order=("bin", "etc", "tmp", "links"), mtime=1_600_000_000):
    """A small root filesystem; ``order`` and ``mtime`` vary only what must not matter."""
    steps = {
        "bin": lambda: (
            (root / "usr/local/bin").mkdir(parents=True),
            (root / "usr/local/bin/tool").write_bytes(b"#!/bin/sh\necho tool\n"),
            os.chmod(root / "usr/local/bin/tool", 0o755),
        ),
        "etc": lambda: (
            (root / "etc").mkdir(),
            (root / "etc/secret").write_text("s3cret\n"),
            os.chmod(root / "etc/secret", 0o600),
            (root / "etc/passwd").write_text("root:x:0:0:root:/root:/sbin/nologin\n"),
            os.chmod(root / "etc/passwd", 0o644),
        ),
        "tmp": lambda: ((root / "tmp").mkdir(), os.chmod(root / "tmp", 0o1777)),
        "links": lambda: (
            (root / "bin").mkdir(),
            os.symlink("/usr/local/bin/tool", root / "bin/absolute"),
            os.symlink("../usr/local/bin/tool", root / "bin/relative"),
        ),
    }
    root.mkdir()
    for step in order:
        steps[step]()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
        os.chmod(dirpath, 0o1777 if dirpath.endswith("/tmp") else 0o755)
    return root


def read_archive(path):
    """Every blob of an archive, checked against the digests and sizes that point at it."""
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        headers = tar.getmembers()
    index = json.loads(members["index.json"])
    [descriptor] = index["manifests"]
    manifest_bytes = members["blobs/sha256/" + descriptor["digest"].split(":")[1]]
    assert sha256(manifest_bytes) == descriptor["digest"] and len(manifest_bytes) == descriptor["size"]
    manifest = json.loads(manifest_bytes)
    config_bytes = members["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]]
    assert sha256(config_bytes) == manifest["config"]["digest"] and len(config_bytes) == manifest["config"]["size"]
    [layer_descriptor] = manifest["layers"]
    layer_bytes = members["blobs/sha256/" + layer_descriptor["digest"].split(":")[1]]
    assert sha256(layer_bytes) == layer_descriptor["digest"] and len(layer_bytes) == layer_descriptor["size"]
    config = json.loads(config_bytes)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha256(gzip.decompress(layer_bytes))]}
    return SimpleNamespace(members=members, headers=headers, index=index, descriptor=descriptor,
                           manifest=manifest, config=config, layer=layer_bytes)


def layer_members(layer_bytes):
    with tarfile.open(fileobj=io.BytesIO(layer_bytes), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


# --- archives ----------------------------------------------------------------------------------------------

def test_archive_is_an_oci_layout_that_names_the_image(tmp_path):
    digest = images.write_oci_archive(tmp_path / "a.tar", REF, stage(tmp_path / "root"), arch="amd64",
                                      entrypoint=("/usr/local/bin/tool",), cmd=("--help",))
    archive = read_archive(tmp_path / "a.tar")
    assert json.loads(archive.members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    assert set(archive.members) == {"oci-layout", "index.json"} | {
        "blobs/sha256/" + d.split(":")[1]
        for d in (digest, archive.manifest["config"]["digest"], archive.manifest["layers"][0]["digest"])
    }
    assert archive.index["schemaVersion"] == 2
    assert archive.descriptor["digest"] == digest
    assert archive.descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert archive.descriptor["annotations"] == {
        "io.containerd.image.name": REF, "org.opencontainers.image.ref.name": "v1.20.2"}
    assert archive.descriptor["platform"] == {"architecture": "amd64", "os": "linux"}
    assert archive.manifest["schemaVersion"] == 2
    assert archive.manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert archive.manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert archive.config["architecture"] == "amd64" and archive.config["os"] == "linux"
    assert archive.config["config"] == {
        "Entrypoint": ["/usr/local/bin/tool"], "Cmd": ["--help"], "WorkingDir": "/",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    }
    assert "created" not in archive.config and "history" not in archive.config


def test_no_entrypoint_or_cmd_leaves_them_out(tmp_path):
    images.write_oci_archive(tmp_path / "a.tar", REF, stage(tmp_path / "root"), arch="arm64")
    config = read_archive(tmp_path / "a.tar").config
    assert "Entrypoint" not in config["config"] and "Cmd" not in config["config"]
    assert config["architecture"] == "arm64"


def test_layer_keeps_names_links_and_modes_but_no_owners_or_times(tmp_path):
    images.write_oci_archive(tmp_path / "a.tar", REF, stage(tmp_path / "root"), arch="amd64")
    archive = read_archive(tmp_path / "a.tar")
    members = layer_members(archive.layer)
    assert list(members) == [
        "bin", "bin/absolute", "bin/relative", "etc", "etc/passwd", "etc/secret", "tmp",
        "usr", "usr/local", "usr/local/bin", "usr/local/bin/tool",
    ]
    assert members["bin/absolute"].issym() and members["bin/absolute"].linkname == "/usr/local/bin/tool"
    assert members["bin/relative"].issym() and members["bin/relative"].linkname == "../usr/local/bin/tool"
    assert members["usr/local/bin/tool"].mode == 0o755 and members["usr/local/bin/tool"].isreg()
    assert members["etc/secret"].mode == 0o600
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    for member in list(members.values()) + archive.headers:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
    with tarfile.open(fileobj=io.BytesIO(archive.layer), mode="r:gz") as tar:
        assert tar.extractfile("usr/local/bin/tool").read() == b"#!/bin/sh\necho tool\n"
    # The gzip header: no time (bytes 4-7), no file name (flag 0x08).
    assert archive.layer[4:8] == b"\0\0\0\0" and not archive.layer[3] & 0x08


def test_archive_bytes_depend_on_content_only(tmp_path):
    first = stage(tmp_path / "first")
    second = stage(tmp_path / "second", order=("links", "tmp", "etc", "bin"), mtime=1_700_000_000)
    images.write_oci_archive(tmp_path / "1.tar", REF, first, arch="amd64", entrypoint=("/x",))
    images.write_oci_archive(tmp_path / "2.tar", REF, second, arch="amd64", entrypoint=("/x",))
    images.write_oci_archive(tmp_path / "3.tar", REF, first, arch="amd64", entrypoint=("/x",))
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes() == (tmp_path / "3.tar").read_bytes()
    os.chmod(second / "etc/secret", 0o640)
    images.write_oci_archive(tmp_path / "4.tar", REF, second, arch="amd64", entrypoint=("/x",))
    assert (tmp_path / "4.tar").read_bytes() != (tmp_path / "1.tar").read_bytes()


def test_archive_replaces_the_old_one_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "out"
    images.write_oci_archive(out / "a.tar", REF, stage(tmp_path / "root"), arch="amd64")
    images.write_oci_archive(out / "a.tar", "k8s.gcr.io/kube-apiserver:v1.20.3", tmp_path / "root", arch="amd64")
    assert [p.name for p in out.iterdir()] == ["a.tar"]
    assert read_archive(out / "a.tar").descriptor["annotations"]["org.opencontainers.image.ref.name"] == "v1.20.3"


def test_layer_refuses_special_files(tmp_path):
    root = stage(tmp_path / "root")
    os.mkfifo(root / "etc/fifo")
    with pytest.raises(ArtifactError, match="etc/fifo: only files, directories and symbolic links"):
        images.write_oci_archive(tmp_path / "a.tar", REF, root, arch="amd64")
    assert not (tmp_path / "a.tar").exists()


def test_layer_from_dir_measures_what_it_wrote(tmp_path):
    layer = images.layer_from_dir(stage(tmp_path / "root"), tmp_path / "layer")
    data = (tmp_path / "layer").read_bytes()
    assert layer.digest == sha256(data) and layer.size == len(data)
    assert layer.diff_id == sha256(gzip.decompress(data))


# --- ldd -----------------------------------------------------------------------------------------------------

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd5e9f2000)
\tlibxtables.so.12 => /lib/x86_64-linux-gnu/libxtables.so.12 (0x00007f2f6f2d5000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2f6f0f4000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2f6f39b000)
"""


def test_ldd_output_gives_libraries_and_the_loader():
    assert images.parse_ldd(LDD, "/usr/sbin/xtables-nft-multi") == [
        "/lib/x86_64-linux-gnu/libxtables.so.12", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]


def test_ldd_output_of_an_old_vdso_line_and_repeats():
    text = "\tlinux-vdso.so.1 =>  (0x00007ffd5e9f2000)\n" + LDD + "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6\n"
    assert images.parse_ldd(text, "x")[1] == "/lib/x86_64-linux-gnu/libc.so.6"
    assert len(images.parse_ldd(text, "x")) == 3


@pytest.mark.parametrize("text", ["\tnot a dynamic executable\n", "\tstatically linked\n", ""])
def test_ldd_output_of_a_static_binary_is_empty(text):
    assert images.parse_ldd(text, "/usr/local/bin/kube-proxy") == []


def test_ldd_not_found_names_the_binary_and_the_library():
    text = LDD + "\tlibnftnl.so.11 => not found\n\tlibmnl.so.0 => not found\n"
    with pytest.raises(ArtifactError) as error:
        images.parse_ldd(text, "/usr/sbin/xtables-nft-multi")
    assert "/usr/sbin/xtables-nft-multi needs libnftnl.so.11, libmnl.so.0" in str(error.value)


# --- references ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref, repository, name, tag", [
    ("k8s.gcr.io/kube-apiserver:v1.20.2", "k8s.gcr.io/kube-apiserver", "kube-apiserver", "v1.20.2"),
    ("k8s.gcr.io/pause:3.2", "k8s.gcr.io/pause", "pause", "3.2"),
    ("saltsphere.local/busybox:1.35.0", "saltsphere.local/busybox", "busybox", "1.35.0"),
    ("localhost:5000/team/tool:latest", "localhost:5000/team/tool", "tool", "latest"),
    ("docker.io/library/busybox:1.36_x-y", "docker.io/library/busybox", "busybox", "1.36_x-y"),
])
def test_reference_parts(ref, repository, name, tag):
    parsed = images.parse_ref(ref)
    assert (parsed.repository, parsed.name, parsed.tag, str(parsed)) == (repository, name, tag, ref)


@pytest.mark.parametrize("ref, message", [
    ("k8s.gcr.io/pause", "has no tag"),
    ("localhost:5000/pause", "has no tag"),
    ("busybox:1.35.0", "names no registry host"),
    ("library/busybox:1.35.0", "names no registry host"),
    ("k8s.gcr.io/pause@sha256:" + "a" * 64, "digests are not supported"),
    ("k8s.gcr.io/Pause:3.2", "is not valid"),
    ("k8s.gcr.io/pause:.3", "is not valid"),
    ("k8s.gcr.io//pause:3.2", "is not valid"),
])
def test_reference_errors(ref, message):
    with pytest.raises(ArtifactError, match=message):
        images.parse_ref(ref)


def test_archive_checks_the_reference(tmp_path):
    with pytest.raises(ArtifactError, match="names no registry host"):
        images.write_oci_archive(tmp_path / "a.tar", "busybox:1", stage(tmp_path / "root"), arch="amd64")


# --- staging ---------------------------------------------------------------------------------------------------

def test_copy_from_host_recreates_every_link_on_the_way(tmp_path):
    host = tmp_path / "host"
    (host / "usr/lib/gnu").mkdir(parents=True)
    (host / "usr/lib64").mkdir()
    (host / "usr/lib/gnu/ld.so").write_bytes(b"loader")
    os.chmod(host / "usr/lib/gnu/ld.so", 0o755)
    os.symlink("usr/lib", host / "lib")
    os.symlink("usr/lib64", host / "lib64")
    os.symlink(f"{host}/lib/gnu/ld.so", host / "usr/lib64/ld.so")
    tree = images._Tree(tmp_path / "tree")
    tree.root.mkdir()
    tree.copy_from_host(host / "lib64/ld.so")

    inside = tree.root / str(host).lstrip("/")
    assert os.readlink(inside / "lib64") == "usr/lib64"
    assert os.readlink(inside / "usr/lib64/ld.so") == f"{host}/lib/gnu/ld.so"
    assert os.readlink(inside / "lib") == "usr/lib"
    copied = inside / "usr/lib/gnu/ld.so"
    assert not copied.is_symlink() and copied.read_bytes() == b"loader" and copied.stat().st_mode & 0o777 == 0o755
    assert tree.sources == {
        f"{host}/lib64": "link:usr/lib64",
        f"{host}/usr/lib64/ld.so": f"link:{host}/lib/gnu/ld.so",
        f"{host}/lib": "link:usr/lib",
        f"{host}/usr/lib/gnu/ld.so": hashlib.sha256(b"loader").hexdigest(),
    }
    assert images._sources_unchanged(tree.sources)
    (host / "usr/lib/gnu/ld.so").write_bytes(b"loader 2")
    assert not images._sources_unchanged(tree.sources)


def test_copy_from_host_stops_at_a_link_loop(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    tree = images._Tree(tmp_path / "tree")
    tree.root.mkdir()
    with pytest.raises(ArtifactError, match="symbolic links, a loop"):
        tree.copy_from_host(tmp_path / "a")


def fake_tree(root, files):
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return SimpleNamespace(tree=root)


def test_pause_version_is_kubeadms(tmp_path):
    build = fake_tree(tmp_path, {
        "cmd/kubeadm/app/constants/constants_unix.go": 'const (\n\t// PauseVersion ...\n\tPauseVersion = "3.2"\n)\n',
        "cmd/kubeadm/app/constants/constants_windows.go": 'const (\n\tPauseVersion = "1.4.0"\n)\n',
        "cmd/kubeadm/app/constants/constants.go": "package constants\n",
    })
    assert images.pause_version(build) == "3.2"


def test_pause_version_of_later_trees(tmp_path):
    build = fake_tree(tmp_path, {"cmd/kubeadm/app/constants/constants.go": '\tPauseVersion = "3.6"\n'})
    assert images.pause_version(build) == "3.6"


def test_pause_version_missing(tmp_path):
    build = fake_tree(tmp_path, {"cmd/kubeadm/app/constants/constants.go": "package constants\n"})
    with pytest.raises(ArtifactError, match="no PauseVersion"):
        images.pause_version(build)


# --- the cache -------------------------------------------------------------------------------------------------

def test_an_image_is_made_again_only_when_an_input_changed(tmp_path):
    source = tmp_path / "tool"
    source.write_bytes(b"v1")
    staged = []

    def stage_tool(tree):
        staged.append(1)
        tree.install(source, "/usr/local/bin/tool", 0o755)

    def archive(inputs):
        recipe = images._Recipe(images.parse_ref(REF), stage_tool, inputs, entrypoint=("/usr/local/bin/tool",))
        return images._archive(recipe, tmp_path / "cache", "amd64", lambda message: None)

    first = archive({"version": 1}).read_bytes()
    assert archive({"version": 1}).read_bytes() == first and len(staged) == 1
    archive({"version": 2})
    assert len(staged) == 2
    source.write_bytes(b"v2")
    assert archive({"version": 2}).read_bytes() != first and len(staged) == 3
    (tmp_path / "cache" / "kube-apiserver.tar").write_bytes(b"damaged")
    archive({"version": 2})
    assert len(staged) == 4
    stamp = json.loads((tmp_path / "cache" / "stamp.json").read_text())
    assert stamp["sources"] == {str(source): hashlib.sha256(b"v2").hexdigest()}


def test_staging_never_writes_through_a_link(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("untouched\n")
    tree = images._Tree(tmp_path / "tree")
    tree.root.mkdir()
    tree.symlink("/etc/passwd", str(outside))
    tree.symlink("/lib", "usr/lib")
    with pytest.raises(ArtifactError, match="a symbolic link where the image needs a file"):
        tree.write("/etc/passwd", "root:x:0:0::/:/bin/sh\n")
    with pytest.raises(ArtifactError, match="a symbolic link where the image needs a directory"):
        tree.write("/lib/x.so", "")
    assert outside.read_text() == "untouched\n"
