"""The artifact bundle: manifest, verification, the Debian source build's plan, and the CLI."""

import json
from pathlib import Path

import pytest

from saltsphere import cli
from saltsphere.artifacts import (
    MANIFEST_NAME,
    ArtifactError,
    FileEntry,
    Manifest,
    entry_for,
    read_manifest,
    verify,
    write_manifest,
)
from saltsphere.artifacts import debian_source

BOOKWORM = "1.20.5+really1.20.2-1.1+deb12u1"


def make_bundle(root: Path, files: dict) -> Manifest:
    entries = []
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        kind = "image" if relative.startswith("images/") else "binary"
        entries.append(entry_for(root, relative, name=Path(relative).name, version="v1.20.2", arch="amd64", kind=kind))
    return write_manifest(root, entries, kube_version="v1.20.2", arch="amd64", distributions=["debian-12"])


@pytest.fixture
def bundle(tmp_path):
    root = tmp_path / "bundle"
    make_bundle(root, {
        "bin/kubeadm": b"kubeadm-binary",
        "bin/kubelet": b"kubelet-binary",
        "bin/kubectl": b"kubectl-binary",
        "images/pause.tar": b"pause-image",
    })
    return root


# --- manifest ----------------------------------------------------------------------------------------------

def test_manifest_round_trip(bundle):
    written = json.loads((bundle / MANIFEST_NAME).read_text())
    assert written["format"] == 1
    assert {key for key in written} == {"format", "created", "kube_version", "arch", "distributions", "files"}
    assert [f["path"] for f in written["files"]] == sorted(f["path"] for f in written["files"])
    loaded = read_manifest(bundle)
    assert loaded.kube_version == "v1.20.2" and loaded.arch == "amd64" and loaded.distributions == ["debian-12"]
    kubeadm = next(entry for entry in loaded.files if entry.name == "kubeadm")
    assert kubeadm == FileEntry(
        name="kubeadm", version="v1.20.2", arch="amd64", kind="binary", path="bin/kubeadm",
        sha256=kubeadm.sha256, size=len(b"kubeadm-binary"),
    )
    assert Manifest.from_json(loaded.to_json()) == loaded


def test_manifest_sha256_is_of_the_file(bundle):
    import hashlib

    entry = next(e for e in read_manifest(bundle).files if e.path == "bin/kubelet")
    assert entry.sha256 == hashlib.sha256(b"kubelet-binary").hexdigest()


def test_write_manifest_is_atomic_and_leaves_no_temporary_file(bundle):
    before = (bundle / MANIFEST_NAME).stat().st_ino
    write_manifest(bundle, read_manifest(bundle).files, kube_version="v1.20.2", arch="amd64",
                   distributions=["debian-12"])
    assert (bundle / MANIFEST_NAME).stat().st_ino != before  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in bundle.iterdir()) == ["bin", "images", MANIFEST_NAME]


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside", "bin/../../x", "", MANIFEST_NAME])
def test_entry_paths_stay_inside_the_bundle(path):
    with pytest.raises(ArtifactError, match="relative to the bundle root"):
        FileEntry(name="x", version="v1", arch="amd64", kind="binary", path=path, sha256="0" * 64, size=0)


def test_unknown_kind_is_refused():
    with pytest.raises(ArtifactError, match="kind 'rpm'"):
        FileEntry(name="x", version="v1", arch="amd64", kind="rpm", path="x", sha256="0" * 64, size=0)


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"),
    ("[]", "JSON object"),
    ('{"format": 99}', "format 99 is not supported"),
    ('{"format": 1, "files": []}', "missing key"),
    ('{"format": 1, "created": "", "kube_version": "v1", "arch": "amd64", "distributions": [],'
     ' "files": [{"name": "x"}]}', r"files\[0\] is malformed"),
])
def test_bad_manifest_is_explained(tmp_path, text, message):
    (tmp_path / MANIFEST_NAME).write_text(text)
    with pytest.raises(ArtifactError, match=message):
        read_manifest(tmp_path)


def test_missing_manifest_names_the_path(tmp_path):
    with pytest.raises(ArtifactError, match=f"{tmp_path}/{MANIFEST_NAME}: no manifest"):
        verify(tmp_path)


# --- verify ------------------------------------------------------------------------------------------------

def test_verify_accepts_an_intact_bundle(bundle):
    assert verify(bundle) == []


def test_verify_reports_every_problem_at_once(bundle):
    kubeadm = bundle / "bin" / "kubeadm"
    data = bytearray(kubeadm.read_bytes())
    data[3] ^= 0x01  # same size, one bit changed: only the hash can tell
    kubeadm.write_bytes(bytes(data))
    (bundle / "bin" / "kubelet").unlink()
    (bundle / "bin" / "kubectl").write_bytes(b"kubectl-binary-truncated-or-grown")
    (bundle / "images" / "stray.tar").write_bytes(b"?")

    problems = verify(bundle)

    assert len(problems) == 4
    assert problems[0].startswith("bin/kubeadm: sha256 is ")
    assert problems[1].startswith("bin/kubectl: size is 33 bytes, the manifest says 14")
    assert problems[2] == "bin/kubelet: missing (the manifest lists 14 bytes)"
    assert problems[3] == "images/stray.tar: not in the manifest (extra file)"


def test_verify_refuses_a_missing_directory(tmp_path):
    with pytest.raises(ArtifactError, match="not a directory"):
        verify(tmp_path / "nowhere")


# --- the Debian source build's plan ------------------------------------------------------------------------

@pytest.mark.parametrize("debian, upstream, kube", [
    (BOOKWORM, "1.20.5+really1.20.2", "v1.20.2"),
    ("1.20.5+really1.20.2-1", "1.20.5+really1.20.2", "v1.20.2"),
    ("1:1.28.4+ds1-2", "1.28.4+ds1", "v1.28.4"),
    ("1.31.0", "1.31.0", "v1.31.0"),
])
def test_versions(debian, upstream, kube):
    assert debian_source.upstream_version(debian) == upstream
    assert debian_source.kube_version(debian) == kube


def test_unreadable_version_is_an_error():
    with pytest.raises(ArtifactError, match="cannot read a Kubernetes release"):
        debian_source.kube_version("latest-1")


def test_plan_paths(tmp_path):
    build = debian_source.plan(BOOKWORM, tmp_path, arch="amd64")
    cache = tmp_path / f"kubernetes-{BOOKWORM}"
    source = cache / "kubernetes-1.20.5+really1.20.2"
    assert build.cache_dir == cache
    assert build.source_dir == source
    assert build.gopath == source / ".go"
    assert build.tree == source / ".go" / "src" / "k8s.io" / "kubernetes"
    assert build.output_dir == source / "_output" / "local" / "bin" / "linux" / "amd64"
    assert build.stamp == cache / "build.json" and build.bin_dir == cache / "bin"
    assert build.reflect2_vendored == source / "vendor" / "github.com" / "modern-go" / "reflect2"
    assert build.reflect2_debian == Path("/usr/share/gocode/src/github.com/modern-go/reflect2")


def test_plan_keys_the_cache_by_the_whole_debian_version(tmp_path):
    first = debian_source.plan("1.20.5+really1.20.2-1", tmp_path, arch="amd64")
    second = debian_source.plan("1.20.5+really1.20.2-2", tmp_path, arch="amd64")
    assert first.cache_dir != second.cache_dir
    assert ":" not in debian_source.plan("1:1.28.4-1", tmp_path, arch="amd64").cache_dir.name


def test_plan_commands(tmp_path):
    build = debian_source.plan(BOOKWORM, tmp_path, arch="arm64")
    assert build.fetch.argv == ("apt-get", "source", "--only-source", f"kubernetes={BOOKWORM}")
    assert build.fetch.cwd == build.cache_dir
    assert build.make.argv == ("make", "WHAT=cmd/kubeadm cmd/kubelet cmd/kubectl cmd/kube-apiserver "
                                       "cmd/kube-controller-manager cmd/kube-scheduler cmd/kube-proxy")
    assert build.make.cwd == build.source_dir
    env = build.make.env
    assert env["GOPATH"] == str(build.gopath)
    assert env["CGO_ENABLED"] == "0" and env["GOPROXY"] == "off"
    assert env["KUBE_BUILD_PLATFORMS"] == "linux/arm64"
    assert env["KUBE_GIT_VERSION_FILE"] == str(build.version_file)
    assert env["PATH"].startswith("/usr/lib/go/bin:")
    assert all(command.timeout > 0 for command in (build.fetch, build.make))


def test_install_command():
    command = debian_source.install_command(["golang-go", "rsync"])
    assert command.argv == ("apt-get", "install", "-y", "--no-install-recommends", "golang-go", "rsync")
    assert command.env["DEBIAN_FRONTEND"] == "noninteractive" and command.timeout > 0


def test_version_file_gives_the_release_to_the_tarball_build(tmp_path):
    text = debian_source.version_env(debian_source.plan(BOOKWORM, tmp_path, arch="amd64"))
    assert "KUBE_GIT_VERSION='v1.20.2'" in text
    assert "KUBE_GIT_MAJOR='1'" in text and "KUBE_GIT_MINOR='20'" in text
    assert "KUBE_GIT_TREE_STATE='clean'" in text


def test_goarch():
    assert debian_source.goarch("x86_64") == "amd64" and debian_source.goarch("aarch64") == "arm64"
    with pytest.raises(ArtifactError, match="mips"):
        debian_source.goarch("mips")


# --- deb-src -----------------------------------------------------------------------------------------------

DEB822 = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
"""


def test_deb_src_detection():
    assert not debian_source.has_deb_src({"debian.sources": DEB822})
    assert debian_source.has_deb_src({"debian.sources": DEB822.replace("Types: deb\nURIs: http://deb.debian.org/debian-s",
                                                                       "Types: deb deb-src\nURIs: http://deb.debian.org/debian-s")})
    assert debian_source.has_deb_src({"sources.list": "deb-src http://deb.debian.org/debian bookworm main\n"})
    assert not debian_source.has_deb_src({"sources.list": "# deb-src http://deb.debian.org/debian bookworm main\n"})
    assert not debian_source.has_deb_src({"x.sources": "Types: deb-src\nEnabled: no\nURIs: http://m/debian\n"})


def test_deb_src_mirrors_the_deb_entries():
    text = debian_source.deb_src_for({
        "debian.sources": DEB822,
        "sources.list": "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main non-free\n",
    })
    stanzas = [dict(line.split(": ", 1) for line in block.splitlines()) for block in text.strip().split("\n\n")]
    assert stanzas == [
        {"Types": "deb-src", "URIs": "http://deb.debian.org/debian", "Suites": "bookworm bookworm-updates",
         "Components": "main", "Signed-By": "/usr/share/keyrings/debian-archive-keyring.gpg"},
        {"Types": "deb-src", "URIs": "http://deb.debian.org/debian-security", "Suites": "bookworm-security",
         "Components": "main contrib"},
        {"Types": "deb-src", "URIs": "http://mirror.example/debian", "Suites": "bookworm",
         "Components": "main non-free", "Signed-By": "/k.gpg"},
    ]


# --- CLI ---------------------------------------------------------------------------------------------------

def run_cli(*argv):
    return cli.main(list(argv))


def test_cli_verify_ok(bundle, capsys):
    assert run_cli("artifact", "verify", str(bundle)) == 0
    assert "4 files match manifest.json" in capsys.readouterr().out


def test_cli_verify_lists_every_problem(bundle, capsys):
    (bundle / "bin" / "kubeadm").unlink()
    (bundle / "extra").write_text("x")
    assert run_cli("artifact", "verify", str(bundle)) == 1
    err = capsys.readouterr().err
    assert f"error: {bundle}/bin/kubeadm: missing" in err
    assert f"error: {bundle}/extra: not in the manifest" in err
    assert "2 problem(s)" in err and "Traceback" not in err


def test_cli_verify_without_manifest_is_an_error_not_a_traceback(tmp_path, capsys):
    assert run_cli("artifact", "verify", str(tmp_path)) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_cli_build_needs_the_source_flag(capsys):
    with pytest.raises(SystemExit):
        run_cli("artifact", "build")
    assert "--from-debian-source" in capsys.readouterr().err


def test_cli_build_reports_errors(monkeypatch, tmp_path, capsys):
    def failing(cache_dir, out_dir, log):
        raise ArtifactError("apt knows no source package 'kubernetes'")

    monkeypatch.setattr(debian_source, "build_from_debian_source", failing)
    assert run_cli("artifact", "build", "--from-debian-source", "--out", str(tmp_path)) == 1
    assert capsys.readouterr().err == "error: apt knows no source package 'kubernetes'\n"


# --- cache and bundle output -------------------------------------------------------------------------------

def finished_build(tmp_path):
    build = debian_source.plan(BOOKWORM, tmp_path / "cache", arch="amd64")
    build.bin_dir.mkdir(parents=True)
    hashes = {}
    for name in debian_source.BINARIES:
        (build.bin_dir / name).write_bytes(name.encode())
        hashes[name] = entry_for(build.bin_dir, name, name=name, version="v", arch="amd64", kind="binary").sha256
    build.stamp.write_text(json.dumps({"binaries": hashes}))
    return build


def test_cache_hit_needs_the_stamp_and_every_binary_unchanged(tmp_path):
    build = finished_build(tmp_path)
    assert debian_source._cached(build)
    (build.bin_dir / "kubelet").write_bytes(b"changed")
    assert debian_source._cached(build) is None
    build.stamp.unlink()
    assert debian_source._cached(build) is None


def test_binaries_are_copied_once_and_listed(tmp_path):
    build = finished_build(tmp_path)
    bundle = tmp_path / "bundle"
    written = debian_source._install_into_bundle(build, bundle, log=lambda line: None)
    assert sorted(entry.path for entry in written) == [f"bin/{name}" for name in sorted(debian_source.BINARIES)]
    assert all(entry.kind == "binary" for entry in written)
    assert (bundle / "bin" / "kubeadm").stat().st_mode & 0o777 == 0o755
    before = (bundle / "bin" / "kubeadm").stat().st_mtime_ns
    debian_source._install_into_bundle(build, bundle, log=lambda line: None)
    assert (bundle / "bin" / "kubeadm").stat().st_mtime_ns == before, "an unchanged binary is not copied again"
