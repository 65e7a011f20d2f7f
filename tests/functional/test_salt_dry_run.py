"""What Salt's own states do under test=True on a fresh host, where our SLS relies on it.

Our SLS are applied with test=True before the states that create users,
packages and units have run.  These are the cases they meet, run through
Salt's real loader (``state.single`` with ``test=True``) on paths of the test
and names that exist nowhere, so nothing on this machine can change:

- ``file.directory``/``file.managed`` owned by a user or group the package
  creates (etcd's): Salt only warns under test=True, the result is None;
- ``cmd.run`` whose ``unless`` command is not installed yet (iptables before
  the os phase): it would run, None with the command as the change;
- ``file.exists`` of a file an earlier phase makes fails even under
  test=True, which is why kubernetes.joined uses saltsphere_kubernetes.member.

``service.running``/``service.enabled`` of a unit whose package is not
installed yet return None under test=True (Salt 3008: "not present; if created
in this state run, it would have been started"); this machine has no init
system to show it (Salt runs its service states "OFFLINE" here), so
tests/unit/test_salt_service_dry_run.py shows it with Salt's module itself.
"""

NO_USER = "saltsphere-test-no-such-user"
NO_GROUP = "saltsphere-test-no-such-group"


def test_a_directory_owned_by_a_user_not_created_yet_is_predicted(master_loaders, tmp_path):
    target = tmp_path / "etcd" / "pki"
    ret = master_loaders.states.file.directory(name=str(target), user=NO_USER, group=NO_GROUP, mode="0750",
                                               makedirs=True, test=True)
    assert ret.result is None and not target.exists()


def test_a_secret_file_of_a_group_not_created_yet_is_predicted_without_its_content(master_loaders, tmp_path):
    target = tmp_path / "peer.key"
    ret = master_loaders.states.file.managed(name=str(target), contents="PRIVATE KEY MATERIAL", group=NO_GROUP,
                                             mode="0640", show_changes=False, test=True)
    assert ret.result is None and not target.exists()
    assert "PRIVATE KEY MATERIAL" not in repr(ret.changes)


def test_a_command_whose_unless_is_not_installed_yet_would_run(master_loaders, tmp_path):
    marker = tmp_path / "ran"
    ret = master_loaders.states.cmd.run(name=f"touch {marker}", unless=str(tmp_path / "no-such-command"), test=True)
    assert ret.result is None and ret.changes == {"cmd": f"touch {marker}"} and not marker.exists()


def test_file_exists_fails_under_test_too(master_loaders, tmp_path):
    ret = master_loaders.states.file.exists(name=str(tmp_path / "kubelet.conf"), test=True)
    assert ret.result is False
