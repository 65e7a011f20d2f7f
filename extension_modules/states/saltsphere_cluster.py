"""
Taskbox steps of an orchestration, as states that report only what changed.

They run in ``salt-run state.orchestrate`` (on the taskbox, never on a host):
``prepared`` is every orchestration's first step, ``preflight_passed`` the
preflight phase, ``planned`` and ``completed`` frame the whole install
(``kubesphere``), ``cleaned`` each phase of the reset.

.. code-block:: yaml

    kubesphere-prepare-saltsphere-cluster-prepared:
      saltsphere_cluster.prepared:
        - name: conf/hosts.ini
"""

import salt.roster

try:
    from saltsphere import cluster, converged, pki, preflight, prepare as prep, saltexit, sshcall
    from saltsphere.artifacts import serve
    from saltsphere.errors import ActionableError
    from saltsphere.problems import InvalidInput

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

__virtualname__ = "saltsphere_cluster"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "runs on the taskbox only (the saltsphere Python package is not installed here)"
    saltexit.register()
    return __virtualname__


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _loaded():
    return cluster.load_cached(salt.roster.get_roster_file(__opts__), __opts__.get("saltsphere_vars"))


def prepared(name, ignore_host_keys=None):
    """
    Everything the run needs on the taskbox is there, and the bundle is served until this run ends.

    name
        The cluster's hosts.ini (as the roster reads it); shown only.
    ignore_host_keys
        Accept hosts' SSH keys not yet known, when the hosts must be asked
        whether they hold a CA.

    Changes name the files made or changed under ``.saltsphere/``; the bundle
    server (a new token for each run) is not a change.  Under ``test=True``
    nothing is made and no server started: the changes name what would be
    made, and a dry run needs a server already serving the bundle (``saltsphere
    plan`` starts one for itself), since the hosts' pillar names its address.
    """
    ret = _ret(name)
    try:
        loaded = _loaded()
        if __opts__.get("test"):
            return _would_prepare(ret, loaded)
        probe = sshcall.fingerprint_probe(__opts__, loaded, ignore_host_keys)
        done = prep.prepare(loaded, probe=probe, owner_pid=prep.owner_of_this_run())
    except InvalidInput as exc:
        ret.update(result=False, comment=exc.render())
        return ret
    except ActionableError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if done.changed:
        ret["changes"] = {"made": done.changed}
    ret["comment"] = done.summary()
    return ret


def _would_prepare(ret, loaded):
    """The prepare step under test=True: what it would make, and whether the run's bundle is served."""
    made = prep.would_make(loaded)
    served = serve.running(pki.pki_dir_of(loaded.directory).parent)
    comment = (f"the prepare step would make or change {len(made)} file(s) in .saltsphere/" if made
               else "the prepare step has nothing to make")
    if any(path.endswith("ca.crt") for path in made):
        comment += " (a CA only once the hosts say they hold none)"
    comment += ("; the bundle is served" if served else
                "; no bundle server runs for this cluster, so the hosts' pillar cannot name the bundle "
                "(`saltsphere plan` serves it for its dry run)")
    ret["comment"] = comment
    if made:
        ret["changes"] = {"would make": made}
    if made or not served:
        ret["result"] = None
    return ret


def preflight_passed(name, ignore_host_keys=None, hosts=None):
    """
    Every host passes the preflight checks; nothing is changed anywhere.

    ``hosts``: the hosts joining a running cluster; only they get the
    host-local checks, every host is compared with them.

    The comment is the table of failures and warnings with the fix for each;
    ``failures`` and ``warnings`` hold them as ``{host, check, detail, fix}``.
    """
    ret = _ret(name)
    report = __salt__["saltutil.runner"]("saltsphere_preflight.run", ignore_host_keys=ignore_host_keys, hosts=hosts)
    if isinstance(report, dict) and "return" in report and "result" not in report:
        report = report["return"]
    if not isinstance(report, dict):
        ret.update(result=False, comment=f"the preflight returned no report: {report!r}"[:2000])
        return ret
    ret["failures"] = report.get("failures", [])
    ret["warnings"] = report.get("warnings", [])
    ret["result"] = bool(report.get("result"))
    ret["comment"] = report.get("table") or report.get("comment", "")
    return ret


def planned(name):
    """
    Whether this run of the whole install would change anything: its phases run ``onchanges`` of this state.

    Until a run of every phase completed (``completed`` records it in
    ``.saltsphere/converged``), this state reports a change without asking,
    so that every phase runs.  Afterwards it asks every host's states under
    ``test=True`` in one salt-ssh call: changes name the hosts and phases that
    would change (or could not be planned), and the phases run; no changes,
    and the phases are skipped, each in a few milliseconds instead of seconds
    of salt-ssh.  Never fails: a host that cannot be planned is left to the
    phases to report.
    """
    ret = _ret(name)
    loaded = _loaded()
    if not converged.recorded(loaded.directory):
        ret["changes"] = {"phases": "every phase runs: no complete run of the install is recorded yet"}
        ret["comment"] = "No complete run is recorded for this cluster: every phase runs."
        return ret
    found, seconds = converged.check(loaded, __opts__)
    if found.unchanged:
        ret["comment"] = (f"Nothing would change on any of {len(loaded.hosts)} host(s) (every host's states under "
                          f"test=True: {seconds:.0f} s): the phases are skipped.")
        return ret
    ret["changes"] = found.changes()
    ret["comment"] = f"The phases run: {found.summary()} (every host's states under test=True: {seconds:.0f} s)."
    if __opts__.get("test"):
        ret["result"] = None
    return ret


def completed(name):
    """
    Every phase of the install completed: recorded in ``.saltsphere/converged``, so that the next run first asks the
    hosts whether anything would change (``planned``).  A change only the first time.
    """
    ret = _ret(name)
    loaded = _loaded()
    if converged.recorded(loaded.directory):
        ret["comment"] = "A complete run is recorded already."
        return ret
    ret["changes"] = {"recorded": str(converged.record_path(loaded.directory))}
    if __opts__.get("test"):
        ret.update(result=None, comment="A complete run would be recorded.")
        return ret
    converged.record(loaded.directory)
    ret["comment"] = "The complete run is recorded: the next run first asks the hosts whether anything would change."
    return ret


def certs_retired(name, hosts):
    """
    The taskbox holds no certificate or key of the removed etcd members ``hosts`` any more (``pki.retire``): keys
    deleted, certificates kept under ``.saltsphere/retired/`` for the record.  A change only while some are left.
    """
    ret = _ret(name)
    loaded = _loaded()
    test = bool(__opts__.get("test"))
    gone = pki.retire(loaded.directory, hosts, dry=[] if test else None)
    if not gone:
        ret["comment"] = f"the taskbox holds no certificate of {', '.join(hosts)}"
    elif test:
        ret.update(result=None, changes={"retired": sorted(str(path) for path in gone)},
                   comment=f"{len(gone)} certificate and key files of {', '.join(hosts)} would be retired")
    else:
        ret.update(changes={"retired": sorted(str(path) for path in gone)},
                   comment=f"{len(gone)} certificate and key files of {', '.join(hosts)} retired: the keys deleted, "
                           f"the certificates kept in {pki.retired_dir_of(loaded.directory)}")
    return ret


# The pillar the reset's hosts compile: the ext_pillar gives them no key, no
# manifest, and needs nothing from the prepare step.
RESET_PILLAR = {"saltsphere_orchestration": {"phase": "reset"}}


def cleaned(name, hosts, timeout=None):
    """
    The clean states ``name`` (``kubernetes.clean``, ...) applied on every one of ``hosts``.

    A host that cannot be reached or whose states fail is named (``changes:
    ret: {host: why}``) and the others are cleaned all the same.  The clean
    states read no pillar: the run is forced past pillar errors (a taskbox
    whose ``.saltsphere/`` was purged, or never made, has them), which
    ``salt.state`` cannot do, nor name a host it could not reach.
    """
    import copy

    import salt.client.ssh.client

    ret = _ret(name)
    loaded = _loaded()
    timeout = timeout or loaded.config["preflight_ssh_timeout_seconds"]
    secrets = [s for spec in loaded.hosts.values() for s in (spec.password, spec.become_password) if s]
    returns = preflight.unanswering(loaded, timeout, names=hosts)
    reachable = [host for host in hosts if host not in returns]
    kwarg = {"mods": name, "force": True, "test": bool(__opts__.get("test")), "pillar": RESET_PILLAR}
    if reachable:
        client = salt.client.ssh.client.SSHClient(mopts=copy.deepcopy(__opts__))
        for answer in client.cmd_iter(reachable, "state.sls", tgt_type="list", kwarg=kwarg, ssh_timeout=timeout):
            for host, data in answer.items():
                value = data.get("return") if isinstance(data, dict) else None
                returns[host] = value if isinstance(value, dict) else \
                    preflight.answer_from_return(data, secrets).error or "no answer"
    failed = []
    for host in hosts:
        states = returns.setdefault(host, "salt-ssh returned nothing")
        if not isinstance(states, dict) or any(
                isinstance(s, dict) and s.get("result") is False for s in states.values()):
            failed.append(host)
    changed = [host for host in hosts if host not in failed and any(
        isinstance(s, dict) and (s.get("changes") or s.get("result") is None) for s in returns[host].values())]
    ret["changes"] = {"ret": returns} if failed or changed else {}
    if failed:
        ret.update(result=False, comment=f"Run failed on minions: {', '.join(failed)}")
    elif __opts__.get("test") and changed:
        ret.update(result=None, comment=f"{name} would change {', '.join(changed)}")
    else:
        ret["comment"] = f"{name}: " + (f"Updating {', '.join(changed)}." if changed else
                                       f"No changes made to {', '.join(hosts)}.")
    return ret
