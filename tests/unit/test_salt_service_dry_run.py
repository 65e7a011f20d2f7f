"""Salt's own service states under test=True, for a unit whose package an earlier state of the run installs.

Salt 3008 answers None ("not present; if created in this state run, it would
have been started"), not a failure: our SLS need no guard for service.running,
service.enabled or a watch firing on such a unit.  Salt's module is loaded as
it is, with a mocked ``__salt__`` of a host that has systemd but not the unit.
"""

import importlib.util
from unittest.mock import Mock

import pytest
import salt.states.service


@pytest.fixture
def service():
    spec = importlib.util.spec_from_file_location("salt_service_state_dry", salt.states.service.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    acting = Mock(side_effect=AssertionError("a service was touched under test=True"))
    module.__salt__ = {"service.available": Mock(return_value=False), "service.status": Mock(return_value=False),
                       "service.enabled": Mock(return_value=False), "service.enable": acting,
                       "service.start": acting, "service.restart": acting}
    module.__opts__ = {"test": True}
    module.__context__ = {}
    module.__grains__ = {"os": "Debian", "init": "systemd"}
    module.__env__ = "base"
    module._offline = lambda: False
    return module


def test_running_a_unit_not_installed_yet_is_predicted(service):
    ret = service.running("containerd", enable=True)
    assert ret["result"] is None and "would have been started" in ret["comment"]


def test_enabling_a_unit_not_installed_yet_is_predicted(service):
    ret = service.enabled("kubelet")
    assert ret["result"] is None and "would have been enabled" in ret["comment"]


def test_a_watch_firing_on_a_unit_not_installed_yet_is_predicted(service):
    ret = service.mod_watch("containerd", sfun="running")
    assert ret["result"] is None and ret["comment"] == "Service is set to be started"
