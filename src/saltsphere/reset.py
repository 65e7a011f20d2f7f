"""``saltsphere reset`` (and ``./install.sh --uninstall``): the cluster off its hosts.

Bad input stops before any host is contacted; then, once the operator said
yes (or passed ``--yes``), each phase of ``salt-run state.orchestrate
kubesphere.reset`` runs in order with one line of progress, on every host of
hosts.ini.  A phase that fails on a host (one that cannot be reached, say)
does not stop the others: every host that can be reset is, and the failures
are named at the end.  The taskbox keeps ``.saltsphere/`` (the PKI, the
secrets, etcd backups) unless ``--purge``, which removes it and
``kubesphere/kubesphere_running`` once every host is reset.
"""

import shutil
import sys
import time
from pathlib import Path

from saltsphere import clusterdir, converged, installer

# The order of orchestrate/kubesphere/reset.sls (a test keeps them equal).
PHASES = ("ks", "storage", "kubernetes", "network", "containerd", "etcd", "os")
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
STATE_DIR = ".saltsphere"


def run_phase(cluster_directory, phase, timeout=installer.PHASE_TIMEOUT, test=False):
    """``salt-run state.orchestrate kubesphere.reset`` for one phase, or every phase when ``phase`` is None (a dry
    run with ``test``)."""
    directory = Path(cluster_directory)
    argv = [installer.salt_run(), "--saltfile", str(directory / "Saltfile"), "--out=json",
            "state.orchestrate", "kubesphere.reset", *([f'pillar={{"reset_phase": "{phase}"}}'] if phase else []),
            *(["test=True"] if test else [])]
    return installer.run_group(argv, directory, timeout)


RESET_PREFIX = "kubesphere-reset-saltsphere-cluster-cleaned-"


def dry_run(loaded, *, runner=run_phase, clock=time.monotonic, out=None) -> int:
    """Every phase of the reset under test=True, one table each: what the reset would remove, changing nothing.

    The reset's orchestration runs once (its phases are not failhard); each
    phase's table comes from its own state.  0 when every phase ran cleanly
    (changes or not), 1 when a host cannot be reached or a state would fail.
    """
    from saltsphere import plan as planning, planreport

    out = out or sys.stdout
    hosts = list(loaded.hosts)
    print(f"Dry run of the reset of {loaded.hosts_ini}; every clean state runs with test=True.", file=out, flush=True)
    started = clock()
    returned = runner(loaded.directory, None, test=True)
    plans = planning.step_plans(RESET_PREFIX, PHASES, *returned, hosts, clock() - started)
    for index, plan in enumerate(plans, 1):
        print("\n".join(planreport.phase_lines(plan, index, len(PHASES))), file=out, flush=True)
    print("\n".join(planreport.steps_summary_lines(plans, ran="every clean state")), file=out)
    return EXIT_OK if all(plan.ok for plan in plans) and len(plans) == len(PHASES) else EXIT_FAILED


def run_phases(cluster_directory, hosts, runner=run_phase, out=None, clock=time.monotonic) -> list:
    """Every phase in order, one line each, going on past failures: ``[(phase, PhaseResult)]`` of those that failed."""
    out = out or sys.stdout
    failures = []
    for index, phase in enumerate(PHASES, 1):
        started = clock()
        result = installer.outcome(*runner(cluster_directory, phase), hosts=hosts)
        print(installer.progress_line(index, len(PHASES), phase, result, clock() - started), file=out, flush=True)
        if not result.ok:
            failures.append((phase, result))
    return failures


def purge(cluster_directory) -> list:
    """Remove the taskbox's state of the cluster beside hosts.ini; the paths removed."""
    from saltsphere.artifacts import serve

    directory = Path(cluster_directory)
    removed = []
    state_dir = directory / STATE_DIR
    if state_dir.is_dir():
        # The bundle server a `salt-run saltsphere.prepare` left serving.
        serve.stop(state_dir)
        shutil.rmtree(state_dir)
        removed.append(state_dir)
    running = directory / installer.RUNNING_FILE
    if running.exists():
        running.unlink()
        removed.append(running)
        try:
            running.parent.rmdir()
        except OSError:
            pass  # other files of the operator's live there
    return removed


def confirm(loaded, ask, interactive, out, err) -> bool:
    hosts = ", ".join(loaded.hosts)
    if not interactive:
        print(f"error: the reset removes Kubernetes, KubeSphere, etcd's data and containerd's images from "
              f"{hosts}, and there is no terminal to ask on; pass --yes to reset them", file=err)
        return False
    print(f"This removes Kubernetes, KubeSphere, every container image and etcd's data (the cluster's whole "
          f"state) from {len(loaded.hosts)} host(s) of {loaded.hosts_ini}: {hosts}.", file=out)
    return installer.confirmed(ask, "Reset them?", out)


def reset(args, *, runner=run_phase, ask=input, interactive=None, clock=time.monotonic, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    from saltsphere.cli import default_inventory

    hosts_ini = args.inventory or default_inventory()
    loaded = installer.load_reporting(hosts_ini, err)
    if loaded is None:
        return EXIT_INVALID
    if getattr(args, "dry_run", False):
        clusterdir.init(loaded.directory, hosts_ini)
        return dry_run(loaded, runner=runner, clock=clock, out=out)
    if not args.yes:
        if interactive is None:
            interactive = sys.stdin is not None and sys.stdin.isatty()
        if not confirm(loaded, ask, interactive, out, err):
            return EXIT_INVALID if not interactive else EXIT_OK

    directory = loaded.directory
    clusterdir.init(directory, hosts_ini)
    # The next install runs every phase again, without first asking the hosts.
    converged.forget(directory)
    failures = run_phases(directory, list(loaded.hosts), runner, out, clock)
    if failures:
        for phase, result in failures:
            where = f" on {', '.join(result.failed)}" if result.failed else ""
            print(f"phase {phase} failed{where}:\n  {result.comment}", file=out)
        kept = f" {Path(directory) / STATE_DIR} was kept: --purge removes it once every host is reset." \
            if args.purge else ""
        print("Every other host was reset. Fix the cause (or take the host out of hosts.ini) and run the same "
              f"command again: every phase converges.{kept}", file=out)
        return EXIT_FAILED
    print(f"{len(loaded.hosts)} host(s) reset.", file=out)
    if args.purge:
        for path in purge(directory):
            print(f"removed {path}", file=out)
    else:
        print(f"The taskbox keeps {Path(directory) / STATE_DIR} (certificates, secrets, etcd backups); "
              "--purge removes it.", file=out)
    return EXIT_OK


def add_arguments(parser):
    parser.add_argument("--yes", action="store_true", help="do not ask first")
    parser.add_argument("--purge", action="store_true",
                        help="also remove the taskbox's .saltsphere/ (certificates, secrets, backups) and "
                             "kubesphere/kubesphere_running beside hosts.ini, once every host is reset")


def register(sub):
    parser = sub.add_parser("reset", help="remove Kubernetes, KubeSphere and their data from every host of "
                                          "hosts.ini (asks first)")
    parser.add_argument("-i", "--inventory", metavar="HOSTS_INI",
                        help="the cluster's hosts.ini (default: conf/hosts.ini, or hosts.ini in the current "
                             "directory)")
    add_arguments(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="say what the reset would remove on every host, changing nothing (asks nothing)")
    parser.set_defaults(func=reset)
