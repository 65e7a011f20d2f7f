"""The repository's Salt configuration and the cluster directories `saltsphere init` makes."""

import os

import pytest
import yaml

from saltsphere import clusterdir, paths

from sample_inputs import ROOT, SEED_HOSTS_INI

PATH_KEYS = ("cachedir", "pki_dir", "sock_dir", "pidfile", "log_file", "ssh_log_file")


def test_repository_master_config_is_the_rendered_one():
    assert (ROOT / "etc" / "salt" / "master").read_text(encoding="utf-8") == clusterdir.repository_master_config()


def test_repository_saltfile_is_the_rendered_one():
    assert (ROOT / "Saltfile").read_text(encoding="utf-8") == clusterdir.repository_saltfile()


def test_repository_config_uses_the_saltsphere_roster_and_pillar():
    master = yaml.safe_load(clusterdir.repository_master_config())
    assert master["roster"] == "saltsphere"
    assert master["roster_file"] == "conf/hosts.ini"
    assert master["ext_pillar"] == [{"saltsphere": {}}]
    assert master["file_roots"] == {"base": ["./salt", "./orchestrate"]}
    assert master["pillar_roots"] == {"base": ["./pillar"]}
    assert all(master[key].startswith(".salt/") for key in PATH_KEYS)
    saltfile = yaml.safe_load(clusterdir.repository_saltfile())
    assert saltfile == {name: {"config_dir": "etc/salt"} for name in ("salt-ssh", "salt-run", "salt-call")}


@pytest.fixture
def directory(tmp_path):
    target = tmp_path / "cluster"
    target.mkdir()
    (target / "hosts.ini").write_text(SEED_HOSTS_INI)
    return target.resolve()


def test_init_writes_saltfile_and_master_with_absolute_paths(directory):
    written = clusterdir.init(directory)

    work = directory / ".salt"
    assert sorted(written) == sorted([work / "etc" / "master", directory / "Saltfile"])
    master = yaml.safe_load((work / "etc" / "master").read_text())
    project = paths.project_root()
    assert master["root_dir"] == "/"
    for key in PATH_KEYS:
        assert os.path.isabs(master[key]) and master[key].startswith(f"{work}/"), (key, master[key])
    assert master["extension_modules"] == f"{project}/extension_modules"
    assert master["file_roots"] == {"base": [f"{project}/salt", f"{project}/orchestrate"]}
    assert master["pillar_roots"] == {"base": [f"{project}/pillar"]}
    assert master["roster"] == "saltsphere"
    assert master["roster_file"] == str(directory / "hosts.ini")

    saltfile = yaml.safe_load((directory / "Saltfile").read_text())
    assert saltfile == {name: {"config_dir": str(work / "etc")} for name in ("salt-ssh", "salt-run", "salt-call")}


def test_init_keeps_the_work_directory_private(directory):
    clusterdir.init(directory)
    assert (directory / ".salt").stat().st_mode & 0o777 == 0o700
    assert (directory / ".salt" / "etc" / "master").stat().st_mode & 0o777 == 0o600
    assert (directory / ".salt" / "cache" / "proc").is_dir()


def test_init_twice_writes_nothing_and_keeps_hosts_ini(directory):
    before = (directory / "hosts.ini").read_bytes()
    assert clusterdir.init(directory)
    master = (directory / ".salt" / "etc" / "master").read_text()

    assert clusterdir.init(directory) == []
    assert (directory / ".salt" / "etc" / "master").read_text() == master
    assert (directory / "hosts.ini").read_bytes() == before
    assert not (directory / "vars.yml").exists()


def test_init_restores_an_edited_master(directory):
    clusterdir.init(directory)
    master = directory / ".salt" / "etc" / "master"
    master.write_text("roster: flat\n")
    assert clusterdir.init(directory) == [master]
    assert "roster: saltsphere" in master.read_text()


def test_init_creates_a_missing_directory_and_points_at_another_inventory(tmp_path):
    inventory = tmp_path / "shared" / "hosts.ini"
    inventory.parent.mkdir()
    inventory.write_text(SEED_HOSTS_INI)
    target = tmp_path / "new" / "cluster"

    clusterdir.init(target, hosts_ini=inventory)

    master = yaml.safe_load((target / ".salt" / "etc" / "master").read_text())
    assert master["roster_file"] == str(inventory.resolve())
    assert not (target / "hosts.ini").exists()
    assert inventory.read_text() == SEED_HOSTS_INI


def test_init_accepts_a_relative_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clusterdir.init("rel")
    saltfile = yaml.safe_load((tmp_path / "rel" / "Saltfile").read_text())
    assert saltfile["salt-ssh"]["config_dir"] == str((tmp_path / "rel" / ".salt" / "etc").resolve())
