"""``saltsphere node add`` (and ``./install.sh --add-nodes``): hosts of hosts.ini join the running cluster.

Workers join as nodes, masters as control planes, etcd hosts as new etcd
members (added by a running member, then started to join it).  The cluster
is asked which hosts of hosts.ini are not members yet
(:func:`saltsphere.nodes.add_plan`); bad input and every refusal (a member
already, a name not in hosts.ini, the first master of hosts.ini, an etcd
host with no etcd member running) stop before any host is contacted.  With ``--dry-run`` every step runs under
``test=True`` instead and says what it would change (no backup, no token).
Once the operator said yes (or passed ``--yes``), a snapshot of etcd is
taken (:func:`saltsphere.etcdbackup.backup`), then each step of ``salt-run
state.orchestrate kubesphere.node_add`` runs in order with one line of
progress; the first that fails stops the run, and running the same command
again converges.  The end is the ``node list`` table.
"""

import sys
import time

from saltsphere import clusterdir, etcdbackup, installer, nodes
from saltsphere.errors import ActionableError

# The order of orchestrate/kubesphere/node_add.sls (a test keeps them equal).
STEPS = ("preflight", "os", "etcd", "containerd", "kubernetes", "network", "storage")
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def steps_for(plan) -> tuple:
    """The steps an addition runs: ``etcd`` only when it adds etcd members (a worker's addition skips its run)."""
    return tuple(step for step in STEPS if step != "etcd" or plan.get("etcd_add"))


def run_step(cluster_directory, step, hosts, timeout=installer.PHASE_TIMEOUT, test=False):
    """One step of ``kubesphere.node_add`` for ``hosts`` (a dry run with ``test``)."""
    return installer.run_day2_step(cluster_directory, "node_add", step, hosts, timeout, test)


def confirm(loaded, plan, ask, interactive, out, err) -> bool:
    hosts = ", ".join(plan["add"])
    if not interactive:
        print(f"error: node add would add {hosts} to the cluster of {loaded.hosts_ini}, and there is no terminal "
              "to ask on; pass --yes to add them", file=err)
        return False
    touched = f"; on {', '.join(plan['members'])} only /etc/hosts and the routes to the new pods change" \
        if plan["members"] else ""
    if plan.get("etcd_add") or plan.get("masters_add"):
        touched += " (and, for new masters and etcd members, the API servers' etcd list and the load balancers)"
    print(f"This installs Kubernetes on {hosts} and joins them to the cluster{touched}.", file=out)
    return installer.confirmed(ask, "Add them?", out)


def add(args, *, runner=run_step, ask=input, interactive=None, clock=time.monotonic, out=None, err=None,
        ask_nodes=nodes.kubernetes_nodes, ask_etcd=nodes.etcd_members, backup=None, dry_run=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    backup = backup or etcdbackup.backup
    from saltsphere.cli import default_inventory

    hosts_ini = args.inventory or default_inventory()
    loaded = installer.load_reporting(hosts_ini, err)
    if loaded is None:
        return EXIT_INVALID
    try:
        members = ask_etcd(loaded) if loaded.role_members("etcd") else {}
        plan = nodes.add_plan(loaded, args.hosts, ask_nodes(loaded), members)
    except ActionableError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_INVALID
    if not plan["add"]:
        print("Nothing to add: every host of hosts.ini is a member of the cluster.", file=out)
        return EXIT_OK
    if getattr(args, "dry_run", False):
        from saltsphere import plan as dry

        # No backup, no token, no host changed: every step under test=True.
        return (dry_run or dry.run_steps)(loaded, "node add", steps_for(plan), plan["add"], out=out, err=err,
                                          runner=lambda directory, step: runner(directory, step, plan["add"],
                                                                                test=True))
    if not args.yes:
        if interactive is None:
            interactive = sys.stdin is not None and sys.stdin.isatty()
        if not confirm(loaded, plan, ask, interactive, out, err):
            return EXIT_INVALID if not interactive else EXIT_OK

    clusterdir.init(loaded.directory, hosts_ini)
    # A day-2 change starts from a snapshot of etcd to go back to.
    try:
        backup(loaded, out=out)
    except ActionableError as exc:
        print(f"error: no host was changed: the etcd backup taken before adding hosts failed: {exc}", file=err)
        return EXIT_FAILED
    def step_of(directory, step):
        return runner(directory, step, plan["add"])

    started = clock()
    if not installer.run_in_order(loaded.directory, steps_for(plan), step_of, list(loaded.hosts), out, clock):
        return EXIT_FAILED
    print(f"{len(plan['add'])} host(s) added in {clock() - started:.0f} s: {', '.join(plan['add'])}.", file=out)
    try:
        rows = nodes.membership(loaded, ask_nodes(loaded), ask_etcd(loaded) if loaded.role_members("etcd") else {})
    except ActionableError as exc:
        print(f"warning: the cluster could not be asked for its nodes afterwards: {exc}", file=err)
        return EXIT_OK
    print("\n".join(nodes.table(rows)), file=out)
    return EXIT_OK


