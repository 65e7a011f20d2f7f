"""``saltsphere node list``: the hosts of hosts.ini against the members of the running cluster.

The cluster is asked from the taskbox, as ``saltsphere status`` asks it: the
Kubernetes API of the first master that answers (its Node objects) and the
first etcd host that answers (its member list), with the operators' client
certificates.  No host is changed and no salt-ssh call is made, so a host that
is down is still listed with what the cluster knows of it.

Each host of hosts.ini is a ``member`` (a Node where its roles want one, an
etcd member where they want one), ``not yet added`` (neither), or ``partly
added`` (one of the two missing).  A Node or an etcd member whose name is no
host of hosts.ini is listed as ``not in hosts.ini``.
"""

import http.client
import json
import ssl
import sys

from saltsphere import inventory, status
from saltsphere.errors import ActionableError
from saltsphere.inventory import ETCD, MASTER, NODE

MEMBER = "member"
NOT_ADDED = "not yet added"
PARTLY = "partly added"
UNKNOWN = "not in hosts.ini"
_ROLE_LABEL = "node-role.kubernetes.io/"


def kubernetes_nodes(cluster) -> dict:
    """``{name: {"ready": bool, "ip": str, "roles": [...]}}`` from the first master whose API answers."""
    masters = cluster.role_members(MASTER)
    port = cluster.config.values["kube_apiserver_port"]
    context = status.api_context(cluster)
    errors = []
    for master in masters:
        try:
            items = status.api_get(master.ip, port, context, "/api/v1/nodes").get("items", [])
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{master.name} ({master.ip}:{port}): {exc}")
            continue
        found = {}
        for item in items:
            conditions = item.get("status", {}).get("conditions", [])
            addresses = item.get("status", {}).get("addresses", [])
            labels = item.get("metadata", {}).get("labels", {})
            found[item["metadata"]["name"]] = {
                "ready": any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
                "ip": next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None),
                "roles": sorted(key[len(_ROLE_LABEL):] for key in labels if key.startswith(_ROLE_LABEL)),
            }
        return found
    raise ActionableError("no Kubernetes API server of [kube-master] answered: " + "; ".join(errors) +
                          ". Check the masters with `saltsphere status`; is the cluster installed?")


def etcd_members(cluster, port=2379) -> dict:
    """``{name: [peer URLs]}`` from the first etcd host that answers."""
    context = status.etcd_context(cluster)
    errors = []
    for member in cluster.role_members(ETCD):
        try:
            code, body = status.etcd_request(member.ip, port, context, "POST", "/v3/cluster/member/list", body="{}")
            if code != 200:
                raise ValueError(f"HTTP {code}: {body.strip()[:200]}")
            listing = json.loads(body).get("members", [])
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{member.name} ({member.ip}:{port}): {exc}")
            continue
        # A member added but not started yet has no name: it is named by its peer URLs.
        return {m.get("name") or ",".join(m.get("peerURLs", [])): list(m.get("peerURLs", [])) for m in listing}
    raise ActionableError("no etcd host of [etcd] answered: " + "; ".join(errors) +
                          ". Check etcd with `saltsphere status`; is the cluster installed?")


def membership(cluster, nodes: dict, members: dict) -> list:
    """One row per host of hosts.ini, then one per Node or etcd member no host of hosts.ini names."""
    rows = []
    for name, spec in cluster.hosts.items():
        wants_node = bool({MASTER, NODE} & set(spec.roles))
        wants_etcd = ETCD in spec.roles
        node, member = nodes.get(name), name in members
        wanted = [have for want, have in ((wants_node, node is not None), (wants_etcd, member)) if want]
        state = MEMBER if all(wanted) else (NOT_ADDED if not any(wanted) else PARTLY)
        missing = [what for want, have, what in ((wants_node, node is not None, "no Node"),
                                                 (wants_etcd, member, "no etcd member")) if want and not have]
        rows.append({
            "host": name, "ip": spec.ip, "roles": list(spec.roles), "state": state, "missing": missing,
            "kubernetes": None if node is None else ("Ready" if node["ready"] else "NotReady"),
            "etcd": member,
        })
    for name in list(nodes) + [m for m in members if m not in nodes]:
        if name in cluster.hosts:
            continue
        node = nodes.get(name)
        rows.append({
            "host": name, "ip": node["ip"] if node else None, "roles": [], "state": UNKNOWN, "missing": [],
            "kubernetes": None if node is None else ("Ready" if node["ready"] else "NotReady"),
            "etcd": name in members,
        })
    return rows


def _group_lines(cluster) -> dict:
    """``{(group, host): line}`` of hosts.ini, to point at the line a refusal is about."""
    parsed, _ = inventory.parse(cluster.hosts_ini)
    return {(group.name, name): line for group in parsed.groups.values() for name, line in group.hosts}


def add_plan(cluster, named, nodes, members, again=False) -> dict:
    """Which hosts ``node add`` adds, from hosts.ini, the cluster's Nodes and its etcd members.

    ``named``: the hosts the operator named (none: every host of hosts.ini
    that is not a member yet).  A named host whose Node is not Ready is added
    again (a run that stopped half way converges); a Ready member is refused,
    unless ``again`` (a later step of an add that has begun).
    Returns ``{"add": [...], "members": [...], "waiting": [...], ...}``: the
    hosts to add, the hosts in the cluster (only what must change there
    runs), and the hosts of hosts.ini neither in the cluster nor added now
    (left alone: the bootstrap token and the pod routes do not wait for
    them); for masters and etcd members also "first_master" (a running
    master that acts for the cluster), "masters" (the running ones),
    "masters_add", "etcd_add", "etcd_peer" (a running member that adds the new
    ones), "etcd_join" (what each starts with, :func:`etcd_join`) and
    "etcd_servers" (the client URLs of every etcd host of hosts.ini).  The
    first master of hosts.ini is refused (it would run kubeadm init), and an
    etcd host when no other etcd member runs.  Every refusal is collected
    into one :class:`ActionableError`; none changes anything.
    """
    rows = {row["host"]: row for row in membership(cluster, nodes, members) if row["state"] != UNKNOWN}
    named = list(dict.fromkeys(named or ()))
    problems = [f"{name} is not a host of {cluster.hosts_ini}: add it under [all] and [kube-node] first"
                for name in named if name not in rows]
    if named:
        wanted = [name for name in named if name in rows]
        problems += [f"{name} is a member of the cluster already" +
                     (" (its Node is Ready)" if rows[name]["kubernetes"] else "") + ": nothing to add"
                     for name in wanted if not again and rows[name]["state"] == MEMBER
                     and rows[name]["kubernetes"] != "NotReady" and rows[name]["roles"]]
    else:
        wanted = [name for name, row in rows.items() if row["state"] != MEMBER]
    masters = [m.name for m in cluster.role_members(MASTER)]
    for name in wanted:
        roles = cluster.hosts[name].roles
        if not {MASTER, NODE, ETCD} & set(roles):
            problems.append(f"{cluster.hosts_ini}: {name} is in no group of the cluster: put it under [kube-node]")
        if MASTER in roles and masters[0] == name:
            problems.append(f"{name} is the first master of {cluster.hosts_ini} (in the order of [all]): the first "
                            "master makes the cluster (kubeadm init), a new one must join it; move the line of a "
                            f"master that runs the control plane above {name} in [all]")
    problems += _etcd_join_problems(cluster, wanted, members)
    if problems:
        raise ActionableError("node add refused; nothing was changed:\n  " + "\n  ".join(problems))
    in_cluster = [name for name, row in rows.items()
                  if name not in wanted and (row["kubernetes"] is not None or row["etcd"])]
    waiting = [name for name in rows if name not in wanted and name not in in_cluster]
    etcd_add = [name for name in wanted if ETCD in cluster.hosts[name].roles]
    return {"add": wanted, "members": in_cluster, "waiting": waiting,
            "first_master": next((name for name in masters if name in in_cluster and nodes.get(name)), None),
            "masters": [name for name in masters if name in in_cluster and nodes.get(name)],
            "masters_add": [name for name in wanted if MASTER in cluster.hosts[name].roles],
            "etcd_add": etcd_add,
            "etcd_peer": next((m.name for m in cluster.role_members(ETCD) if m.name in members
                               and m.name not in wanted), None),
            "etcd_join": etcd_join(cluster, etcd_add, members),
            "etcd_servers": [f"https://{m.ip}:2379" for m in cluster.role_members(ETCD)]}


def _peer_url(cluster, name) -> str:
    return f"https://{cluster.hosts[name].ip}:2380"


def _etcd_join_problems(cluster, wanted, members) -> list:
    """Why the hosts of [etcd] among ``wanted`` cannot join the running etcd cluster now (empty: they can)."""
    joining = [name for name in wanted if ETCD in cluster.hosts[name].roles]
    if not joining:
        return []
    mine = {_peer_url(cluster, name) for name in joining}
    problems = []
    for key, urls in members.items():
        if key not in cluster.hosts and not set(urls) & mine and key == ",".join(urls):
            problems.append(f"etcd has a member added but never started ({key}): start it or remove it (`etcdctl "
                            "member remove`) before adding another")
    if not [name for name in members if name in cluster.hosts and name not in joining]:
        problems.append(f"no etcd member of {cluster.hosts_ini} that stays runs: {', '.join(joining)} can only join a "
                        "running etcd cluster")
    return problems


def etcd_join(cluster, joining, members) -> dict:
    """``{name: {"initial_cluster": ...}}``: what each new etcd member starts with (the started members and itself).

    Members join one after the other, each once the one before has started, so
    each lists those before it too.  Without a peer URL etcd has no way to the
    member, so an entry keyed by peer URLs alone (added, not started) is one
    of ``joining`` whose earlier add was interrupted, and is named here.
    """
    mine = {_peer_url(cluster, name) for name in joining}
    started = [f"{name}={urls[0]}" for name, urls in members.items()
               if urls and name != ",".join(urls) and not set(urls) & mine]
    found = {}
    for name in joining:
        started.append(f"{name}={_peer_url(cluster, name)}")
        found[name] = {"initial_cluster": ",".join(started)}
    return found


def table(rows) -> list:
    header = ("HOST", "IP", "ROLES (hosts.ini)", "KUBERNETES", "ETCD", "STATE")
    lines = [header]
    for row in rows:
        state = row["state"] + (f" ({', '.join(row['missing'])})" if row["missing"] else "")
        lines.append((row["host"], row["ip"] or "-", ",".join(row["roles"]) or "-", row["kubernetes"] or "-",
                      "member" if row["etcd"] else "-", state))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths)) + "  " + line[-1]
            for line in lines]


def advice(rows) -> list:
    """What an operator does about the rows that are not members."""
    lines = []
    not_added = [row["host"] for row in rows if row["state"] in (NOT_ADDED, PARTLY)]
    unknown = [row["host"] for row in rows if row["state"] == UNKNOWN]
    if not_added:
        lines.append(f"not members yet: {', '.join(not_added)}. They join with `saltsphere node add` (masters as "
                     "control planes, etcd hosts as new etcd members).")
    if unknown:
        lines.append(f"in the cluster but not in hosts.ini: {', '.join(unknown)}. Put them back in hosts.ini, or "
                     "take them out of the cluster: `saltsphere node remove NAME` (the last master, and "
                     "etcd members whose loss would cost quorum, are refused).")
    return lines


def run(cluster, *, as_json=False, out=None, ask_nodes=kubernetes_nodes, ask_etcd=etcd_members) -> int:
    out = out or sys.stdout
    rows = membership(cluster, ask_nodes(cluster), ask_etcd(cluster) if cluster.role_members(ETCD) else {})
    if as_json:
        print(json.dumps({"hosts": rows}, indent=2), file=out)
    else:
        print("\n".join(table(rows) + advice(rows)), file=out)
    return 0


def cmd_list(args) -> int:
    from saltsphere import cli

    loaded = cli._load(args)
    cli._print_warnings(loaded.warnings)
    return run(loaded, as_json=args.json)


def cmd_add(args) -> int:
    from saltsphere import nodeadd

    return nodeadd.add(args)


def register(sub):
    from saltsphere import cli, noderemove

    node = sub.add_parser("node", help="the cluster's nodes against hosts.ini")
    node_sub = node.add_subparsers(dest="node_command", metavar="COMMAND")
    node_sub.required = True
    listing = node_sub.add_parser("list", help="each host of hosts.ini: a member of the cluster, not yet added, or "
                                               "in the cluster but no longer in hosts.ini (asks the API and etcd)")
    cli._inventory_args(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_list)
    adding = node_sub.add_parser("add", help="join hosts of hosts.ini that are not members yet (asks first); "
                                             "only what a new node changes runs on the other hosts")
    adding.add_argument("hosts", nargs="*", metavar="HOST",
                        help="hosts of hosts.ini to add (default: every host that is not a member yet)")
    adding.add_argument("-i", "--inventory", metavar="HOSTS_INI",
                        help="the cluster's hosts.ini (default: conf/hosts.ini, or hosts.ini in the current "
                             "directory)")
    adding.add_argument("--yes", action="store_true", help="do not ask first")
    adding.add_argument("--dry-run", action="store_true",
                        help="change nothing: run every step with test=True and say what would change on each host")
    adding.set_defaults(func=cmd_add)
    noderemove.register(node_sub)
