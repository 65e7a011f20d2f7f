""".gitignore keeps what an install writes out of git, wherever the hosts.ini is, and no file of the project."""

import shutil
import subprocess

import pytest

from sample_inputs import ROOT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

IGNORED = [
    "conf/.salt/cache/proc/1",
    "conf/.salt/master.log",
    "conf/.saltsphere/pki/kubernetes/ca.key",
    "conf/kubesphere/kubesphere_running",
    "site/prod/.salt/cache/jobs/x",
    "site/prod/.saltsphere/ks-admin-password",
    "site/prod/kubesphere/kubesphere_running",
    "allinone/hosts.ini",
    "allinone/.saltsphere/pki/etcd/ca.key",
    ".salt/cache/proc/123",
    ".salt/cache/jobs/x",
    ".salt/master.log",
    ".saltsphere/bundle-server.pid",
    "kubesphere/kubesphere_running",
]
KEPT = [
    ".salt/cache/proc/.keep",
    "conf/hosts.ini",
    "conf/vars.yml",
    "orchestrate/kubesphere/init.sls",
    "orchestrate/kubesphere/kubesphere_running.sls",
    "salt/ks/init.sls",
    "src/saltsphere/kubesphere.py",
    "conf/kubesphere/notes.md",
    "tests/unit/allinone/hosts.ini",
]


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """An empty repository with the project's .gitignore: the answer depends on that file alone."""
    directory = tmp_path_factory.mktemp("repo")
    subprocess.run(["git", "init", "-q", str(directory)], check=True)
    shutil.copy(ROOT / ".gitignore", directory / ".gitignore")
    return directory


def _ignored(repository, path) -> bool:
    result = subprocess.run(["git", "-c", "core.excludesFile=/dev/null", "check-ignore", "-q", "--no-index", path],
                            cwd=repository, capture_output=True, text=True, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


@pytest.mark.parametrize("path", IGNORED)
def test_what_an_install_writes_is_ignored(repository, path):
    assert _ignored(repository, path)


@pytest.mark.parametrize("path", KEPT)
def test_project_files_are_not_ignored(repository, path):
    assert not _ignored(repository, path)


def test_no_tracked_file_is_ignored():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "-c", "core.excludesFile=/dev/null", "ls-files", "--cached", "--ignored",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout == ""
