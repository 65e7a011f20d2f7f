"""saltsphere_packages: the execution module and the state, with a mocked ``__salt__``.

apt's messages below are what apt 2.6 (bookworm) printed against a signed flat
repository served with each fault (tests/functional/test_packages_apt.py makes
the same faults with the real apt).
"""

import base64
import os
from unittest.mock import Mock

import pytest
import salt.modules.cmdmod
import salt.states.pkg
from salt.exceptions import CommandExecutionError

from sample_inputs import load_extension


def _load(kind):
    return load_extension(kind, "saltsphere_packages")


packages = _load("modules")
state = _load("states")

URL = "http://10.0.0.1:8089/tok3n-secret/debs/debian-12"
KEY = base64.b64encode(b"\x98\x33public key packet").decode()
SOURCE = {"url": URL, "keyring": KEY}


@pytest.fixture
def run_all():
    return Mock(spec=salt.modules.cmdmod.run_all)


@pytest.fixture
def missing():
    return Mock(spec=packages.missing, return_value=[])


@pytest.fixture
def install():
    return Mock(spec=packages.install, return_value={})


@pytest.fixture
def versions():
    return Mock(spec=packages.versions, return_value={})


@pytest.fixture
def pkg_installed():
    return Mock(spec=salt.states.pkg.installed)


@pytest.fixture
def configure_loader_modules(run_all, missing, install, versions, pkg_installed):
    return {
        packages: {"__salt__": {"cmd.run_all": run_all}},
        state: {
            "__salt__": {"saltsphere_packages.missing": missing, "saltsphere_packages.install": install,
                         "saltsphere_packages.versions": versions},
            "__states__": {"pkg.installed": pkg_installed},
            "__opts__": {"test": False},
        },
    }


def _done(stdout="", stderr="", retcode=0):
    return {"stdout": stdout, "stderr": stderr, "retcode": retcode, "pid": 1}


# --- what is installed -------------------------------------------------------------------------------------

def test_dpkg_query_decides_what_is_installed(run_all, monkeypatch):
    monkeypatch.setattr(packages.shutil, "which", lambda name: "/usr/bin/" + name)
    run_all.return_value = _done("socat\tinstalled\t1.7.4.4-2\nchrony\tconfig-files\t4.3-2\n", retcode=1)
    assert packages.versions(["socat", "chrony", "curl"]) == {"socat": "1.7.4.4-2"}
    assert packages.missing(["socat", "chrony", "curl"]) == ["chrony", "curl"]
    argv = run_all.call_args.args[0]
    assert argv[:2] == ["dpkg-query", "-W"] and argv[-3:] == ["socat", "chrony", "curl"]


def test_a_broken_dpkg_database_is_an_error(run_all, monkeypatch):
    monkeypatch.setattr(packages.shutil, "which", lambda name: "/usr/bin/" + name)
    run_all.return_value = _done(stderr="dpkg-query: error: parsing file '/var/lib/dpkg/status'", retcode=2)
    with pytest.raises(CommandExecutionError, match="parsing file"):
        packages.missing(["socat"])


# --- install -----------------------------------------------------------------------------------------------

@pytest.fixture
def apt(run_all, monkeypatch, tmp_path):
    """apt-get and dpkg-query as ``run_all`` sees them; ``seen`` keeps the private configuration apt got."""
    monkeypatch.setattr(packages.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(packages.tempfile, "tempdir", str(tmp_path))
    seen = {"calls": [], "results": {}}

    def fake(argv, **kwargs):
        seen["calls"].append(argv)
        if argv[0] == "dpkg-query":
            return _done("".join(f"{name}\tinstalled\t1.0\n" for name in argv[4:]))
        work = os.path.dirname(kwargs["env"]["APT_CONFIG"])
        seen["config"] = open(kwargs["env"]["APT_CONFIG"]).read()
        seen["sources"] = open(os.path.join(work, "sources.list")).read()
        seen["keyring"] = open(os.path.join(work, "keyring.gpg"), "rb").read()
        seen["mode"] = os.stat(work).st_mode & 0o777
        seen["env"] = kwargs["env"]
        step = "update" if "update" in argv else "install"
        return seen["results"].get(step, _done())

    run_all.side_effect = fake
    return seen


def test_installs_through_a_private_configuration_that_is_removed(apt, tmp_path):
    assert packages.install(["chrony", "socat"], URL + "/", KEY, install_recommends=False) == {
        "chrony": "1.0", "socat": "1.0"}
    update, install = [argv for argv in apt["calls"] if argv[0] == "apt-get"]
    assert "update" in update and "--error-on=any" in update
    assert install[-3:] == ["install", "chrony", "socat"] and "--no-install-recommends" in install
    work = os.path.dirname(apt["env"]["APT_CONFIG"])
    assert apt["sources"] == f"deb [signed-by={work}/keyring.gpg] {URL}/ ./\n"
    assert apt["keyring"] == base64.b64decode(KEY)
    assert 'Dir::Etc::sourceparts "-";' in apt["config"] and f'Dir::State::lists "{work}/lists";' in apt["config"]
    assert f'Dir::Etc::parts "{work}/empty";' in apt["config"] and "/etc/apt" not in apt["config"]
    # _apt (apt's download sandbox) may enter, but not list, the directory.
    assert apt["mode"] == 0o711
    assert apt["env"]["DEBIAN_FRONTEND"] == "noninteractive" and apt["env"]["LC_ALL"] == "C"
    assert os.listdir(tmp_path) == [], "the configuration, with the URL in it, must not stay"


def test_recommends_are_installed_when_asked(apt):
    packages.install(["chrony"], URL, KEY)
    assert "--no-install-recommends" not in [argv for argv in apt["calls"] if "install" in argv][0]


def test_a_failed_update_installs_nothing_and_names_the_file(apt, tmp_path):
    apt["results"]["update"] = _done(stderr=BADSIG, retcode=100)
    with pytest.raises(CommandExecutionError, match="signed index debs/debian-12/InRelease does not verify"):
        packages.install(["chrony"], URL, KEY)
    assert not [argv for argv in apt["calls"] if "install" in argv]
    assert os.listdir(tmp_path) == []


def test_a_key_that_is_not_base64_runs_nothing(apt):
    with pytest.raises(CommandExecutionError, match="salt-run saltsphere.prepare"):
        packages.install(["chrony"], URL, "not base64!")
    assert apt["calls"] == []


def test_leftovers_of_an_interrupted_install_are_removed(apt, tmp_path):
    stale = tmp_path / (packages.WORK_PREFIX + "old")
    fresh = tmp_path / (packages.WORK_PREFIX + "running")
    for directory in (stale, fresh):
        directory.mkdir()
        (directory / "sources.list").write_text(f"deb {URL}/ ./\n")
    os.utime(stale, (0, 0))
    packages.install(["chrony"], URL, KEY)
    assert sorted(os.listdir(tmp_path)) == [fresh.name]


# --- what apt said -----------------------------------------------------------------------------------------

BADSIG = f"""\
W: GPG error: {URL} ./ InRelease: The following signatures were invalid: BADSIG DCB58358CCF4799A saltsphere cluster package signing key
E: The repository '{URL} ./ InRelease' is not signed.
"""
NO_PUBKEY = f"""\
W: GPG error: {URL} ./ InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY B8946978CB565590
E: The repository '{URL} ./ InRelease' is not signed.
"""
UNSIGNED = f"E: The repository '{URL} ./ Release' is not signed.\n"
NO_RELEASE = f"E: The repository '{URL} ./ Release' does not have a Release file.\n"
INDEX_SIZE = f"""\
E: Failed to fetch {URL}/./Packages.gz  File has unexpected size (221 != 197). Mirror sync in progress? [IP: 10.0.0.1 8089]
   Hashes of expected file:
    - Filesize:197 [weak]
    - SHA256:b9dc56b00dec10124a34d281409760e436d248b4ee0be32eb883be68bc60042c
   Release file created at: Thu, 03 Dec 2026 14:53:41 +0000
E: Some index files failed to download. They have been ignored, or old ones used instead.
"""
INDEX_HASH = f"""\
E: Failed to fetch {URL}/./Packages.gz  Hash Sum mismatch
   Hashes of expected file:
    - Filesize:197 [weak]
    - SHA256:b9dc56b00dec10124a34d281409760e436d248b4ee0be32eb883be68bc60042c
   Hashes of received file:
    - SHA256:9116acc6440a6038ce4f567bad53b2c66129981cb8182427480560a442405c53
    - Filesize:197 [weak]
E: Some index files failed to download. They have been ignored, or old ones used instead.
"""
DEB_HASH = f"""\
E: Failed to fetch {URL}/./saltsphere-probe_1.0_all.deb  Hash Sum mismatch
   Hashes of expected file:
    - SHA256:4df35a76dd9daeeb10f997f5475dc12fef6fe5b156250287640fe934239fa1ee
    - Filesize:780 [weak]
   Hashes of received file:
    - SHA256:b2fc8ccee2e31d6d53c50f982974a4452a394fbceb40228f06341c3179dcf7c2
    - Filesize:780 [weak]
E: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?
"""
DEB_SIZE = f"""\
E: Failed to fetch {URL}/./saltsphere-probe_1.0_all.deb  File has unexpected size (781 != 780). Mirror sync in progress? [IP: 10.0.0.1 8089]
   Hashes of expected file:
    - SHA256:4df35a76dd9daeeb10f997f5475dc12fef6fe5b156250287640fe934239fa1ee
    - Filesize:780 [weak]
E: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?
"""
REFUSED = f"""\
E: Failed to fetch {URL}/./InRelease  Could not connect to 10.0.0.1:8089 (10.0.0.1). - connect (111: Connection refused)
E: Some index files failed to download. They have been ignored, or old ones used instead.
"""
NOT_FOUND = f"E: Failed to fetch {URL}/./haproxy_2.6.12-1_amd64.deb  404  File not found [IP: 10.0.0.1 8089]\n"
UNKNOWN_PACKAGE = "E: Unable to locate package nonexist-pkg\n"


@pytest.mark.parametrize("step, stderr, expected", [
    ("update", BADSIG, ["signed index debs/debian-12/InRelease does not verify with this cluster's key", "BADSIG",
                        "saltsphere artifact verify"]),
    ("update", NO_PUBKEY, ["signed index debs/debian-12/InRelease does not verify", "NO_PUBKEY B8946978CB565590"]),
    ("update", UNSIGNED, ["serves debs/debian-12 unsigned (no debs/debian-12/InRelease)",
                          "salt-run saltsphere.prepare"]),
    ("update", NO_RELEASE, ["no signed index for debs/debian-12", "salt-run saltsphere.prepare"]),
    ("update", INDEX_SIZE, ["package index debs/debian-12/Packages.gz does not match the signed "
                            "debs/debian-12/InRelease", "File has unexpected size (221 != 197)"]),
    ("update", INDEX_HASH, ["package index debs/debian-12/Packages.gz does not match", "Hash Sum mismatch",
                            "saltsphere artifact verify"]),
    ("install", DEB_HASH, ["package file debs/debian-12/saltsphere-probe_1.0_all.deb does not match the bundle's "
                           "signed package index", "Hash Sum mismatch", "nothing was installed"]),
    ("install", DEB_SIZE, ["package file debs/debian-12/saltsphere-probe_1.0_all.deb", "(781 != 780)"]),
    ("update", REFUSED, ["cannot fetch debs/debian-12/InRelease", "Connection refused", "reachable from this host"]),
    ("install", NOT_FOUND, ["cannot fetch debs/debian-12/haproxy_2.6.12-1_amd64.deb", "404"]),
    ("install", UNKNOWN_PACKAGE, ["repository debs/debian-12 has no package nonexist-pkg"]),
    ("install", "E: Sub-process /usr/bin/dpkg returned an error code (1)\n", ["failed (exit 100)",
                                                                             "dpkg returned an error code (1)"]),
])
def test_apt_messages_name_the_file_and_hide_the_token(step, stderr, expected):
    comment = packages._diagnose(step, _done(stderr=stderr, retcode=100), URL, 300)
    for text in expected:
        assert text in comment
    assert "tok3n-secret" not in comment
    assert "(apt: E: " in comment or "(apt: W: " in comment or "exit 100" in comment
    assert len(comment) < 800


def test_a_timeout_is_named():
    comment = packages._diagnose("install", _done("['apt-get', ...] : Timed out after 1800 seconds", retcode=1),
                                 URL, 1800)
    assert "did not finish within 1800 s" in comment and "tok3n-secret" not in comment


def test_the_repository_is_named_without_the_token():
    assert packages._repository_path(URL) == "debs/debian-12"
    assert packages._shown_url(URL) == "http://10.0.0.1:8089/.../debs/debian-12"
    assert packages._shown_url("http://10.0.0.1:8089/debs/debian-12") == "http://10.0.0.1:8089/debs/debian-12"


# --- the state ---------------------------------------------------------------------------------------------

def test_installed_packages_cost_no_apt_call(missing, install, pkg_installed):
    ret = state.installed("os", ["chrony"], source=SOURCE)
    assert ret["result"] is True and ret["changes"] == {}
    install.assert_not_called()
    pkg_installed.assert_not_called()


def test_test_mode_predicts_and_touches_nothing(configure_loader_modules, missing, install, pkg_installed):
    state.__opts__["test"] = True
    missing.return_value = ["chrony"]
    for source in (SOURCE, None):
        ret = state.installed("os", ["socat", "chrony"], source=source)
        assert ret["result"] is None and ret["changes"] == {"installed": ["chrony"]}
    install.assert_not_called()
    pkg_installed.assert_not_called()


def test_installs_the_missing_packages_from_the_bundle(missing, install):
    missing.return_value = ["chrony"]
    install.return_value = {"chrony": "4.3-2+deb12u1"}
    ret = state.installed("os", ["socat", "chrony"], source=SOURCE, install_recommends=False)
    assert ret["result"] is True and ret["changes"] == {"installed": {"chrony": "4.3-2+deb12u1"}}
    install.assert_called_once_with(["chrony"], URL, KEY, install_recommends=False)


def test_a_failed_install_changes_nothing_and_says_why(missing, install):
    missing.return_value = ["chrony"]
    install.side_effect = CommandExecutionError("the package file debs/debian-12/chrony_4.3_amd64.deb does not match")
    ret = state.installed("os", ["chrony"], source=SOURCE)
    assert ret == {"name": "os", "result": False, "changes": {},
                   "comment": "the package file debs/debian-12/chrony_4.3_amd64.deb does not match"}


def test_a_bundle_without_the_clusters_key_says_to_prepare(missing, install):
    missing.return_value = ["chrony"]
    ret = state.installed("os", ["chrony"], source={"url": URL, "keyring": None})
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith("the bundle's apt repository is not signed for this cluster yet: run "
                                     "`salt-run saltsphere.prepare`")
    install.assert_not_called()


def test_without_a_bundle_salts_own_pkg_installed_does_it(missing, versions, pkg_installed, install):
    missing.return_value = ["haproxy"]
    pkg_installed.return_value = {"name": "lb", "result": True, "comment": "1 targeted package was installed",
                                  "changes": {"haproxy": {"old": "", "new": "2.6.12-1"}}}
    versions.return_value = {"haproxy": "2.6.12-1"}
    ret = state.installed("lb", ["haproxy"], install_recommends=True)
    assert ret["result"] is True and ret["changes"] == {"installed": {"haproxy": "2.6.12-1"}}
    pkg_installed.assert_called_once_with(name="lb", pkgs=["haproxy"], install_recommends=True)
    install.assert_not_called()


def test_a_failed_pkg_installed_is_passed_on_without_changes(missing, pkg_installed):
    missing.return_value = ["haproxy"]
    pkg_installed.return_value = {"name": "lb", "result": False, "comment": "Unable to locate package haproxy",
                                  "changes": {"haproxy": {"old": "", "new": ""}}}
    ret = state.installed("lb", ["haproxy"])
    assert ret["result"] is False and ret["changes"] == {} and "Unable to locate" in ret["comment"]


def test_the_state_needs_its_execution_module(configure_loader_modules):
    del state.__salt__["saltsphere_packages.install"]
    assert state.__virtual__() == (False, "the saltsphere_packages execution module is not available")
