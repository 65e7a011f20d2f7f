"""The sandbox's vars.yml: valid, and the only place that holds the sandbox kernel's workarounds."""

import yaml

from saltsphere import config
from saltsphere.sandbox import clusterfiles

# What the sandbox's hosts need because they share this machine's kernel and lack CAP_SYS_RESOURCE.
KERNEL_WORKAROUNDS = {
    "kube_proxy_conntrack_max_per_core": 0,
    "kube_proxy_conntrack_tcp_established_timeout": "0s",
    "kube_proxy_conntrack_tcp_close_wait_timeout": "0s",
    "kube_proxy_oom_score_adj": 0,
    "containerd_restrict_oom_score_adj": True,
    "kubeadm_ignore_preflight_errors": ["SystemVerification"],
    "os_time_sync": False,
}


def _sandbox_vars(storage):
    return clusterfiles.VARS_HEADER.format(name="t") + storage


def test_the_sandbox_vars_yml_is_valid_and_sets_the_kernel_workarounds(tmp_path):
    for storage in (clusterfiles.STORAGE_SINGLE_HOST, clusterfiles.STORAGE_MULTI_HOST):
        conf, problems = config.load(tmp_path / "vars.yml", text=_sandbox_vars(storage))
        assert list(problems) == []
        for key, value in KERNEL_WORKAROUNDS.items():
            assert conf[key] == value, key


def test_production_defaults_differ_from_every_sandbox_workaround():
    defaults = config.defaults()
    for key, value in KERNEL_WORKAROUNDS.items():
        assert defaults[key] != value, f"{key}: the default is the sandbox's value"


def test_every_workaround_says_why_next_to_it():
    text = clusterfiles.VARS_HEADER
    assert "kernel" in text and "CAP_SYS_RESOURCE" in text
    assert set(KERNEL_WORKAROUNDS) <= set(yaml.safe_load(text.format(name="t")))
