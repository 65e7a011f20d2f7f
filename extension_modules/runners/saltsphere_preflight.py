"""
Check every host of the cluster before anything is installed, and change nothing.

Each host reports its facts and tries TCP connections to the others (the
``saltsphere_preflight`` execution module, run through salt-ssh); the taskbox
then compares them with the thresholds of ``vars.yml`` and with each other
(distinct hostnames, MACs and machine identities, clocks, the hosts.ini ``ip``
on each host).  Every failure is listed at once, as a table of hosts and checks
with the fix for each; any failure makes the run fail (non-zero ``salt-run``
exit, failed ``salt.runner`` state in an orchestration).

.. code-block:: bash

    salt-run saltsphere_preflight.run
    salt-run state.orchestrate kubesphere.preflight
"""

import copy
import logging
import time

import salt.roster

try:
    import salt.client.ssh.client

    from saltsphere import cluster, preflight
    from saltsphere.problems import InvalidInput

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

log = logging.getLogger(__name__)

__virtualname__ = "saltsphere_preflight"

HOST_FUNCTION = "saltsphere_preflight.gather"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    return __virtualname__


def _fail(comment):
    __context__["retcode"] = 1
    return {"result": False, "retcode": 1, "comment": comment, "table": comment,
            "failures": [], "warnings": []}


def _ask_hosts(loaded, ignore_host_keys):
    """Run the host side on every host through salt-ssh: {host: Answer}."""
    config = loaded.config
    kwarg = dict(preflight.facts_arguments(config),
                 reach_targets=preflight.reach_targets(loaded),
                 reach_timeout=config["preflight_reach_timeout_seconds"])
    opts = copy.deepcopy(__opts__)
    if ignore_host_keys is not None:
        opts["ignore_host_keys"] = bool(ignore_host_keys)
    client = salt.client.ssh.client.SSHClient(mopts=opts)
    secrets = [s for spec in loaded.hosts.values() for s in (spec.password, spec.become_password) if s]
    timeout = config["preflight_ssh_timeout_seconds"]
    answers = {name: preflight.Answer(error=error) for name, error in preflight.unanswering(loaded, timeout).items()}
    targets = [name for name in loaded.hosts if name not in answers]
    if not targets:
        return answers
    started = time.time()
    for ret in client.cmd_iter(targets, HOST_FUNCTION, tgt_type="list", kwarg=kwarg, ssh_timeout=timeout):
        received = time.time()
        for host, data in ret.items():
            answer = preflight.answer_from_return(data, secrets)
            answer.started, answer.received, answer.seconds = started, received, received - started
            answers[host] = answer
    return answers


def run(ignore_host_keys=None, hosts=None):
    """
    Check every host of the cluster and print one table of hosts and checks.

    ignore_host_keys
        Accept hosts' SSH keys not yet in known_hosts (as ``salt-ssh -i``);
        default: the master config's ``ignore_host_keys``.
    hosts
        The hosts joining a running cluster (``kubesphere.node_add``): only
        they get the host-local checks; every host answers and is compared
        with them.

    Returns ``result`` (True when nothing failed), ``comment``, ``table``, and
    ``failures`` and ``warnings`` as lists of {host, check, detail, fix}.

    CLI Example:

    .. code-block:: bash

        salt-run saltsphere_preflight.run
        salt-run saltsphere_preflight.run ignore_host_keys=True
        salt-run saltsphere_preflight.run hosts='[node3]'
    """
    hosts_ini = salt.roster.get_roster_file(__opts__)
    try:
        loaded = cluster.load_cached(hosts_ini, __opts__.get("saltsphere_vars"))
    except InvalidInput as exc:
        return _fail(exc.render())
    answers = _ask_hosts(loaded, ignore_host_keys)
    if isinstance(hosts, str):
        hosts = [name.strip() for name in hosts.split(",") if name.strip()]
    report = preflight.evaluate(loaded, answers, joining=hosts)
    log.info("%s", report.summary())
    result = report.as_dict()
    if not report.passed:
        __context__["retcode"] = 1
    return result
