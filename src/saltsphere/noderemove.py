"""``saltsphere node remove``: workers, masters and etcd members out of the running cluster, and their hosts cleaned.

The cluster is asked first (its Nodes and etcd members, as ``node list``
asks), and every refusal is printed before any host is contacted
(:func:`remove_plan`).  Once the operator said yes (or passed ``--yes``), a
snapshot of etcd is taken, then each step of ``salt-run state.orchestrate
kubesphere.node_remove`` runs with one line of progress:

1. ``drain``: on the first master that stays, each Node cordoned and its
   pods evicted, bounded in time (a Node that is not Ready has its pods
   deleted at once);
2. ``etcd``: each removed etcd member taken out of etcd by an etcd host that
   stays (``etcdctl member remove``), once the members that stay are healthy;
3. ``clean``: on each removed host that answers over SSH, the roles' clean
   states of the reset (kubeadm reset and kubelet, the pod network, containerd,
   etcd, the OS baseline's records);
4. ``delete``: the Node deleted (after the clean: a running kubelet would
   register it again);
5. ``control-plane``: the masters that stay drop the removed etcd members from
   their API server's ``--etcd-servers``, one master at a time (only the API
   server's static pod restarts), and every Kubernetes host drops the removed
   masters from its load balancer;
6. ``routes``: with the bridge plugin, the other nodes' routes to its pod range;
7. ``hosts``: its line in the other hosts' /etc/hosts, and a removed etcd member's certificates
   retired on the taskbox.

The last master, and etcd members whose removal would leave the others
without quorum, are refused before anything is asked of a host
(:func:`remove_plan`).  Each step converges, so a removal stopped half way
finishes when run again, and a second removal changes nothing.  The last
step also retires a removed etcd member's certificates on the taskbox (keys
deleted, certificates kept under ``.saltsphere/retired/``): nothing hands them
out again, and a host added again under its name gets new ones.  At the end the
lines of hosts.ini that name the removed hosts are printed for the operator to
delete.
"""

import sys
import time

from saltsphere import clusterdir, etcdbackup, installer, nodes, preflight
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER, NODE

_CONTROL_PLANE_LABELS = {"master", "control-plane"}
# The order of orchestrate/kubesphere/node_remove.sls (a test keeps them equal).
STEPS = ("drain", "etcd", "clean", "delete", "control-plane", "routes", "hosts")
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def steps_for(plan) -> tuple:
    """The steps a removal runs: ``etcd`` and ``control-plane`` only when it removes etcd members or masters."""
    skipped = set() if plan.get("etcd_removed") or plan.get("masters_removed") else {"etcd", "control-plane"}
    return tuple(step for step in STEPS if step not in skipped)


def _kept_quorum(cluster, named, members) -> list:
    """Why removing ``named`` would leave etcd or the control plane without enough members (empty: it would not).

    The members that stay must alone be a majority of the present etcd
    cluster: the removal is then committed even when the removed members are
    dead, and the smaller cluster keeps its quorum.
    """
    problems = []
    gone = [name for name in named if name in members]
    if gone:
        size, left = len(members), len(members) - len(gone)
        need = size // 2 + 1
        if left < need:
            problems.append(
                f"removing {', '.join(gone)} leaves {left} of the {size} etcd members, and the members that stay "
                f"must be a majority of the present {size} (at least {need}) to agree on the removal and keep "
                "quorum: remove one member at a time, and add a member first when only two are left")
    masters = [m.name for m in cluster.role_members(MASTER)]
    if masters and not [name for name in masters if name not in named]:
        problems.append(f"removing {', '.join(name for name in named if name in masters)} leaves no master in "
                        f"[kube-master] of {cluster.hosts_ini}: the last master cannot be removed (nothing would "
                        "serve the Kubernetes API); add another master first")
    return problems


def remove_plan(cluster, named, nodes_found, members) -> dict:
    """Which hosts ``node remove`` removes, from hosts.ini, the cluster's Nodes and its etcd members.

    A named host is removable when it is a host of hosts.ini in a group of the
    cluster, or no longer in hosts.ini but a Node or etcd member of the
    cluster.  A host of hosts.ini that is no Node (removed already, or a
    removal stopped half way) is planned again: every step converges, so this
    finishes it or changes nothing.  The last master, and etcd members whose
    removal leaves the others without quorum, are refused.
    Returns ``{"remove", "removed" ({name: address}), "in_hosts_ini",
    "members" (hosts of hosts.ini left in the cluster), "k8s_members" (those
    that are Nodes), "waiting" (the workers of hosts.ini to expect no route
    to), "lines" ({name: ["hosts.ini:N", ...]}), "first_master" (the master
    that stays and acts for the cluster), "masters" (the masters that stay and
    are Nodes), "masters_removed", "etcd_removed" (the named etcd members: {name: address}), "etcd_peer" (the etcd
    host that stays and removes them) and "etcd_servers" (the client URLs of
    the etcd members that stay)}``.  Every refusal is collected into one
    :class:`ActionableError`; none changes anything.
    """
    named = list(dict.fromkeys(named or ()))
    if not named:
        raise ActionableError("node remove needs the hosts to remove: `saltsphere node remove HOST ... -i "
                              f"{cluster.hosts_ini}` (see `saltsphere node list`)")
    lines = nodes._group_lines(cluster)
    problems = []
    for name in named:
        spec = cluster.hosts.get(name)
        if spec is None:
            if name not in nodes_found and name not in members:
                problems.append(f"{name} is neither a host of {cluster.hosts_ini} nor a Node or etcd member of the "
                                "cluster: nothing to remove; check the name with `saltsphere node list`")
            continue
        if not {NODE, MASTER, ETCD} & set(spec.roles) and name not in nodes_found:
            problems.append(f"{name} is in no group of the cluster in {cluster.hosts_ini} and no Node of it: it is "
                            "not a member of the cluster, nothing to remove")
    problems += _kept_quorum(cluster, named, members)
    if problems:
        raise ActionableError("node remove refused; nothing was changed:\n  " + "\n  ".join(problems))
    removed = {name: (cluster.hosts[name].ip if name in cluster.hosts else nodes_found[name]["ip"])
               for name in named}
    staying = [name for name in cluster.hosts if name not in removed]
    in_cluster = [name for name in staying if name in nodes_found or name in members]
    masters = [m.name for m in cluster.role_members(MASTER) if m.name not in removed]
    etcd_staying = [m for m in cluster.role_members(ETCD) if m.name not in removed]
    return {
        "remove": named,
        "removed": removed,
        "in_hosts_ini": [name for name in named if name in cluster.hosts],
        "members": in_cluster,
        "k8s_members": [name for name in in_cluster if name in nodes_found],
        "waiting": [name for name in named if name in cluster.hosts] +
                   [name for name in staying if name not in nodes_found],
        "lines": {name: [f"{cluster.hosts_ini}:{line}" for (group, host), line in sorted(
            lines.items(), key=lambda item: item[1]) if host == name] for name in named},
        "first_master": next((name for name in masters if name in nodes_found), masters[0] if masters else None),
        "masters": [name for name in masters if name in nodes_found],
        "masters_removed": [name for name in named if (name in cluster.hosts and MASTER in cluster.hosts[name].roles)
                            or _CONTROL_PLANE_LABELS & set(nodes_found.get(name, {}).get("roles", ()))],
        # hosts.ini's [etcd] too: a later step of a removal asks again, when etcd has no such member any more.
        "etcd_removed": {name: removed[name] for name in named
                         if name in members or (name in cluster.hosts and ETCD in cluster.hosts[name].roles)},
        "etcd_peer": next((m.name for m in etcd_staying if m.name in members), None),
        "etcd_servers": [f"https://{m.ip}:2379" for m in etcd_staying],
    }


def not_cleaned(cluster, plan, unanswering) -> dict:
    """``{host: why}`` for the removed hosts the clean step cannot reach (``unanswering``: preflight's answer)."""
    why = {name: f"not in {cluster.hosts_ini}, so salt-ssh has no way to it"
           for name in plan["remove"] if name not in plan["in_hosts_ini"]}
    why.update({name: unanswering[name] for name in plan["in_hosts_ini"] if name in unanswering})
    return why


def probe(cluster, plan) -> dict:
    """The removed hosts of hosts.ini whose sshd does not answer: ``{host: why}``."""
    return preflight.unanswering(cluster, cluster.config.values["preflight_ssh_timeout_seconds"],
                                 names=plan["in_hosts_ini"])


def run_step(cluster_directory, step, hosts, timeout=installer.PHASE_TIMEOUT, test=False):
    """One step of ``kubesphere.node_remove`` for ``hosts`` (a dry run with ``test``)."""
    return installer.run_day2_step(cluster_directory, "node_remove", step, hosts, timeout, test)


def clean_states(etcd_member) -> str:
    """The reset's clean states, in its order, for a removed host (with etcd's for an etcd member)."""
    return ",".join(["kubernetes.clean", "network.clean", "containerd.clean"] + (["etcd.clean"] if etcd_member else [])
                    + ["os.clean"])


def closing_lines(cluster, plan, unclean) -> list:
    """What the operator is told at the end: hosts not cleaned, and the lines of hosts.ini to delete."""
    lines = []
    for name, why in unclean.items():
        lines.append(f"{name} was removed from the cluster but the host itself was not cleaned ({why}). Its kubelet "
                     f"would register the Node again if it comes back: wipe the host, or clean it then with "
                     f"`salt-ssh {name} state.sls {clean_states(name in plan['etcd_removed'])}` "
                     f"(as long as hosts.ini names it).")
    listed = [line for name in plan["remove"] for line in plan["lines"][name]]
    if listed:
        lines.append(f"Delete these lines from {cluster.hosts_ini} (each names a removed host): {', '.join(listed)}")
    return lines


def confirm(loaded, plan, ask, interactive, out, err) -> bool:
    hosts = ", ".join(plan["remove"])
    if not interactive:
        print(f"error: node remove would drain and delete {hosts} from the cluster of {loaded.hosts_ini} and clean "
              "the hosts, and there is no terminal to ask on; pass --yes to remove them", file=err)
        return False
    etcd = f"; {', '.join(plan['etcd_removed'])} leave etcd (the data on them goes)" if plan["etcd_removed"] else ""
    print(f"This drains {hosts} (their pods move to other nodes), deletes them from the cluster and removes "
          f"Kubernetes and containerd (with every image) from them{etcd}.", file=out)
    return installer.confirmed(ask, "Remove them?", out)


def _asked(loaded, args, ask_nodes, ask_etcd, err):
    try:
        members = ask_etcd(loaded) if loaded.role_members(ETCD) else {}
        return remove_plan(loaded, args.hosts, ask_nodes(loaded), members)
    except ActionableError as exc:
        print(f"error: {exc}", file=err)
        return None


def remove(args, *, runner=run_step, ask=input, interactive=None, clock=time.monotonic, out=None, err=None,
           ask_nodes=nodes.kubernetes_nodes, ask_etcd=nodes.etcd_members, backup=None, probe_hosts=probe,
           dry_run=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    backup = backup or etcdbackup.backup
    from saltsphere.cli import default_inventory

    hosts_ini = args.inventory or default_inventory()
    loaded = installer.load_reporting(hosts_ini, err)
    if loaded is None:
        return EXIT_INVALID
    plan = _asked(loaded, args, ask_nodes, ask_etcd, err)
    if plan is None:
        return EXIT_INVALID
    if getattr(args, "dry_run", False):
        from saltsphere import plan as dry

        return (dry_run or dry.run_steps)(loaded, "node remove", steps_for(plan), plan["remove"], out=out, err=err,
                                          runner=lambda directory, step: runner(directory, step, plan["remove"],
                                                                                test=True))
    if not args.yes:
        if interactive is None:
            interactive = sys.stdin is not None and sys.stdin.isatty()
        if not confirm(loaded, plan, ask, interactive, out, err):
            return EXIT_INVALID if not interactive else EXIT_OK

    clusterdir.init(loaded.directory, hosts_ini)
    unclean = not_cleaned(loaded, plan, probe_hosts(loaded, plan))
    # A day-2 change starts from a snapshot of etcd to go back to.
    try:
        backup(loaded, out=out)
    except ActionableError as exc:
        print(f"error: no host was changed: the etcd backup taken before removing hosts failed: {exc}", file=err)
        return EXIT_FAILED
    def step_of(directory, step):
        return runner(directory, step, plan["remove"])

    started = clock()
    if not installer.run_in_order(loaded.directory, steps_for(plan), step_of, list(loaded.hosts), out, clock):
        return EXIT_FAILED
    print(f"{len(plan['remove'])} host(s) removed from the cluster in {clock() - started:.0f} s: "
          f"{', '.join(plan['remove'])}.", file=out)
    print("\n".join(closing_lines(loaded, plan, unclean)), file=out)
    return EXIT_OK


def cmd_remove(args) -> int:
    return remove(args)


def register(node_sub):
    removing = node_sub.add_parser("remove", help="drain hosts, delete them from the cluster (and etcd) and clean "
                                                  "them (asks first); the last master and a loss of etcd quorum "
                                                  "are refused")
    removing.add_argument("hosts", nargs="+", metavar="HOST",
                          help="hosts to remove: hosts of hosts.ini, or Nodes and etcd members no longer in it")
    removing.add_argument("-i", "--inventory", metavar="HOSTS_INI",
                          help="the cluster's hosts.ini (default: conf/hosts.ini, or hosts.ini in the current "
                               "directory)")
    removing.add_argument("--yes", action="store_true", help="do not ask first")
    removing.add_argument("--dry-run", action="store_true",
                          help="change nothing: run every step with test=True and say what would change on each host")
    removing.set_defaults(func=cmd_remove)
