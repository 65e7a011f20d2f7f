"""One execution function on many hosts through salt-ssh, from the taskbox, with every host's answer or why not.

For the taskbox's own questions (does a host hold a CA, what are its
certificates): the answers come back in this process through Salt's
``SSHClient``, never printed, and a host that cannot answer is named with the
reason instead of stopping the others.
"""

import copy

from saltsphere import preflight


def call(opts, loaded, function, kwarg=None, targets=None, timeout=None, ignore_host_keys=None, states=False) -> dict:
    """``{host: return value}`` of ``function`` on ``targets`` (default: every host), or ``{host: "error text"}``.

    With ``states`` (a ``state.*`` function) a host's state returns are kept
    even when some failed, so the caller can name the failing state.
    """
    import salt.client.ssh.client

    targets = list(targets or loaded.hosts)
    timeout = timeout or loaded.config["preflight_ssh_timeout_seconds"]
    secrets = [s for spec in loaded.hosts.values() for s in (spec.password, spec.become_password) if s]
    answers = preflight.unanswering(loaded, timeout, names=targets)
    reachable = [name for name in targets if name not in answers]
    if not reachable:
        return answers
    client_opts = copy.deepcopy(opts)
    if ignore_host_keys is not None:
        client_opts["ignore_host_keys"] = bool(ignore_host_keys)
    client = salt.client.ssh.client.SSHClient(mopts=client_opts)
    for ret in client.cmd_iter(reachable, function, tgt_type="list", kwarg=kwarg or {}, ssh_timeout=timeout):
        for host, data in ret.items():
            value = data.get("return") if isinstance(data, dict) and "return" in data else data
            kept = isinstance(data, dict) and (data.get("retcode", 0) == 0
                                               or states and isinstance(data.get("return"), dict))
            if kept and "_error" not in data:
                answers[host] = value
            else:
                answers[host] = preflight.answer_from_return(data, secrets).error or "no answer"
    for host in reachable:
        answers.setdefault(host, "salt-ssh returned nothing")
    return answers


def fingerprint_probe(opts, loaded, ignore_host_keys=None):
    """``probe(paths)`` for :func:`saltsphere.prepare.prepare`: the certificates' fingerprints each host holds."""

    def probe(paths):
        return call(opts, loaded, "saltsphere_certs.fingerprints", kwarg={"paths": list(paths)},
                    ignore_host_keys=ignore_host_keys)

    return probe
