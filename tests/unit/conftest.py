"""Fixtures that write a cluster directory and check it."""

from pathlib import Path

import pytest

from saltsphere import cluster

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML, issue_secrets


@pytest.fixture
def write_cluster(tmp_path):
    """Write hosts.ini (private, as it holds passwords) and vars.yml (unless None); return hosts.ini's path."""

    def write(hosts=SEED_HOSTS_INI, vars_yml=SEED_VARS_YML, directory=None, mode=0o600) -> Path:
        target = Path(directory) if directory else tmp_path
        target.mkdir(parents=True, exist_ok=True)
        path = target / "hosts.ini"
        path.write_text(hosts, encoding="utf-8")
        path.chmod(mode)
        if vars_yml is not None:
            (target / "vars.yml").write_text(vars_yml, encoding="utf-8")
        return path

    return write


@pytest.fixture
def check(write_cluster):
    """Problems of a cluster written from texts, as ``saltsphere check`` finds them."""

    def run(hosts=SEED_HOSTS_INI, vars_text=SEED_VARS_YML):
        _, _, problems = cluster.check(str(write_cluster(hosts, vars_text)))
        return problems

    return run


@pytest.fixture
def issued():
    """``issued(loaded)``: the cluster as the prepare step leaves the taskbox."""
    return issue_secrets
