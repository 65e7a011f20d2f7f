"""saltsphere_containerd: `ctr images import` runs under a timeout, passed from the state, and says so when it stops."""

from unittest.mock import Mock

import pytest
from salt.exceptions import CommandExecutionError

from sample_inputs import load_extension


def _load(kind):
    return load_extension(kind, "saltsphere_containerd")


ARCHIVE = "/var/lib/saltsphere/images/big.tar"
NAME = "k8s.gcr.io/big:1"


class Clock:
    """time.monotonic for the module: each call returns the next value."""

    def __init__(self, *values):
        self.values = list(values)

    def __call__(self):
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


@pytest.fixture
def module(monkeypatch):
    module = _load("modules")
    monkeypatch.setattr(module.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(module, "archive_images", lambda path: [{"name": NAME, "target": None, "config": "c"}])
    missing = iter([[NAME], []])
    monkeypatch.setattr(module, "missing_images", lambda path, namespace: next(missing))
    module.__salt__ = {"cmd.run_all": Mock(return_value={"retcode": 0, "stdout": "", "stderr": ""})}
    return module


def test_import_runs_ctr_with_the_default_timeout(module):
    assert module.import_image(ARCHIVE) == {"imported": [NAME], "present": []}
    run_all = module.__salt__["cmd.run_all"]
    argv = run_all.call_args.args[0]
    assert argv == ["/usr/bin/ctr", "--namespace", "k8s.io", "images", "import", ARCHIVE]
    assert run_all.call_args.kwargs["timeout"] == module.DEFAULT_IMPORT_TIMEOUT == 600


def test_import_takes_the_timeout_it_is_given(module):
    module.import_image(ARCHIVE, timeout=1800)
    assert module.__salt__["cmd.run_all"].call_args.kwargs["timeout"] == 1800


def test_an_import_stopped_at_its_timeout_names_the_archive_and_the_limit(module, monkeypatch):
    monkeypatch.setattr(module.time, "monotonic", Clock(1000.0, 1120.5))
    module.__salt__["cmd.run_all"].return_value = {"retcode": 1, "stdout": "Timed out after 120 seconds",
                                                   "stderr": ""}
    with pytest.raises(CommandExecutionError) as caught:
        module.import_image(ARCHIVE, timeout=120)
    message = str(caught.value)
    assert message.startswith(f"ctr import of {ARCHIVE} did not finish within 120 s")
    assert "image_import_timeout" in message and "journalctl -u containerd" in message


def test_an_import_that_fails_early_is_not_called_a_timeout(module, monkeypatch):
    monkeypatch.setattr(module.time, "monotonic", Clock(1000.0, 1000.2))
    module.__salt__["cmd.run_all"].return_value = {"retcode": 1, "stdout": "", "stderr": "ctr: unexpected EOF"}
    with pytest.raises(CommandExecutionError) as caught:
        module.import_image(ARCHIVE)
    assert "did not finish" not in str(caught.value)
    assert f"`ctr --namespace k8s.io images import {ARCHIVE}` failed: ctr: unexpected EOF" in str(caught.value)


@pytest.mark.parametrize("timeout", [0, -5, "soon", None, True])
def test_a_timeout_that_is_not_positive_seconds_is_refused(module, timeout):
    with pytest.raises(CommandExecutionError, match="is not a number of seconds above 0"):
        module.import_image(ARCHIVE, timeout=timeout)
    module.__salt__["cmd.run_all"].assert_not_called()


def test_reading_commands_run_without_a_timeout(module):
    module.__salt__["cmd.run_all"].return_value = {"retcode": 0, "stdout": "REF TYPE DIGEST\n", "stderr": ""}
    assert module.list_images() == {}
    assert "timeout" not in module.__salt__["cmd.run_all"].call_args.kwargs


# --- the state ------------------------------------------------------------------


@pytest.fixture
def state():
    execution = _load("modules")
    state = _load("states")
    state.__opts__ = {"test": False}
    listing = iter([{}, {NAME: "sha256:new"}])
    state.__salt__ = {
        "saltsphere_containerd.normalize_name": Mock(spec=execution.normalize_name, side_effect=lambda n: n),
        "saltsphere_containerd.archive_images": Mock(spec=execution.archive_images,
                                                     return_value=[{"name": NAME, "target": None, "config": "c"}]),
        "saltsphere_containerd.missing_images": Mock(spec=execution.missing_images, return_value=[NAME]),
        "saltsphere_containerd.list_images": Mock(spec=execution.list_images, side_effect=lambda **_: next(listing)),
        "saltsphere_containerd.import_image": Mock(spec=execution.import_image,
                                                   return_value={"imported": [NAME], "present": []}),
    }
    return state


def test_the_state_passes_its_timeout_to_the_import(state):
    ret = state.image_present(NAME, ARCHIVE, timeout=900)
    assert ret["result"] is True and ret["changes"] == {NAME: {"old": None, "new": "sha256:new"}}
    state.__salt__["saltsphere_containerd.import_image"].assert_called_once_with(ARCHIVE, namespace="k8s.io",
                                                                                 timeout=900)


def test_without_a_timeout_the_state_leaves_the_modules_default(state):
    state.image_present(NAME, ARCHIVE)
    state.__salt__["saltsphere_containerd.import_image"].assert_called_once_with(ARCHIVE, namespace="k8s.io")


def test_an_import_timeout_fails_the_state_with_its_message(state):
    message = f"ctr import of {ARCHIVE} did not finish within 900 s; ..."
    state.__salt__["saltsphere_containerd.import_image"].side_effect = CommandExecutionError(message)
    ret = state.image_present(NAME, ARCHIVE, timeout=900)
    assert ret == {"name": NAME, "changes": {}, "result": False, "comment": message}


def test_under_test_the_state_imports_nothing(state):
    state.__opts__ = {"test": True}
    ret = state.image_present(NAME, ARCHIVE, timeout=900)
    assert ret["result"] is None and NAME in ret["changes"]
    state.__salt__["saltsphere_containerd.import_image"].assert_not_called()
