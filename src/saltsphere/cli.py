"""The ``saltsphere`` command: what Salt has no verb for.

``check`` and ``inventory`` read the cluster offline (nothing is contacted),
``init`` makes a cluster directory, ``install`` runs the whole install phase
by phase (the seed's install.sh), ``plan`` says what it would change without
changing anything, ``status`` asks the cluster's services, ``certs check``
lists every certificate with its expiry, ``certs renew`` issues them again
from the same CAs, ``etcd backup``/``restore`` keep
and bring back snapshots of etcd, ``reset`` removes the cluster from its hosts,
``sandbox`` manages the local test hosts, ``artifact`` builds and verifies
offline bundles.
"""

import argparse
import json
import os
import sys

from saltsphere import __version__, cluster, clusterdir, paths
from saltsphere.errors import ActionableError
from saltsphere.problems import InvalidInput

EXIT_INVALID = 2


def _inventory_args(parser):
    parser.add_argument("-i", "--inventory", default=None, metavar="HOSTS_INI",
                        help="the cluster's hosts.ini (default: conf/hosts.ini, or hosts.ini in the current directory)")
    parser.add_argument("-c", "--config", default=None, metavar="VARS_YML",
                        help="the cluster's vars.yml (default: vars.yml beside the inventory)")


def default_inventory() -> str:
    for candidate in ("hosts.ini", os.path.join("conf", "hosts.ini")):
        if os.path.isfile(candidate):
            return candidate
    return os.path.join("conf", "hosts.ini")


def _load(args):
    return cluster.load(args.inventory or default_inventory(), args.config)


def _print_warnings(warnings):
    for problem in warnings:
        print(f"warning: {problem}", file=sys.stderr)


def cmd_check(args) -> int:
    loaded = _load(args)
    _print_warnings(loaded.warnings)
    rows = [("HOST", "IP", "CONNECT", "ROLES")]
    for name, spec in loaded.hosts.items():
        connect = "local" if spec.local else f"{spec.user}@{spec.host}:{spec.port}"
        if spec.sudo:
            connect += " (sudo)"
        rows.append((name, spec.ip, connect, ",".join(spec.roles) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    default = next(
        (sc.name for sc in cluster.cfg.STORAGE_CLASSES if loaded.config[sc.default_key]), "none"
    )
    print(f"\n{len(loaded.hosts)} hosts; network {loaded.config['kube_network_plugin']}, "
          f"services {loaded.config['kube_service_addresses']}, pods {loaded.config['kube_pods_subnet']}, "
          f"default storage: {default}")
    print(f"OK: {loaded.hosts_ini} and {loaded.vars_yml} are valid")
    return 0


def cmd_inventory(args) -> int:
    loaded = _load(args)
    _print_warnings(loaded.warnings)
    if args.json:
        print(json.dumps(loaded.inventory(), indent=2, sort_keys=True))
    else:
        for name, spec in loaded.hosts.items():
            print(f"{name}\t{spec.ip}\t{','.join(spec.roles)}")
    return 0


def cmd_status(args) -> int:
    from saltsphere import status

    loaded = _load(args)
    report = status.collect(loaded)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        etcd = report["etcd"]
        print(f"etcd: {'healthy' if etcd['healthy'] else 'NOT healthy'}, {etcd['members']} members")
        for host, error in etcd["endpoints"].items():
            print(f"  {host}: {error or 'ok'}")
        k8s = report["kubernetes"]
        print(f"kubernetes: {'healthy' if k8s['healthy'] else 'NOT healthy'}, version {k8s['version'] or 'unknown'}")
        for host, error in k8s["api"].items():
            print(f"  API on {host}: {error or 'ok'}")
        for node, ready in sorted(k8s["nodes"].items()):
            print(f"  node {node}: {ready}")
        ks = report["kubesphere"]
        print(f"kubesphere: console {ks['console'] or 'not installed'}, {'ready' if ks['ready'] else 'NOT ready'}")
        soonest = report["certificates"]["soonest"]
        if soonest:
            print(f"certificates: the soonest to expire is {soonest['file']} on the taskbox, {soonest['not_after']} "
                  f"({soonest['days_left']} days left; `saltsphere certs check` lists the hosts' too)")
        else:
            print(f"certificates: {report['certificates']['error']}")
    return 0 if all(section.get("healthy", True) for section in report.values()) else 1


def cmd_init(args) -> int:
    directory = os.path.abspath(args.directory)
    written = clusterdir.init(directory)
    for name in ("hosts.ini", "vars.yml"):
        target = os.path.join(directory, name)
        if not os.path.exists(target):
            source = paths.project_root() / "conf" / name
            if args.example and source.exists():
                with open(source, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as dst:
                    dst.write(src.read())
                os.chmod(target, 0o600)
                written.append(target)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{directory} is already a cluster directory")
    print(f"next: edit {directory}/hosts.ini and vars.yml, then run: "
          f"saltsphere check -i {directory}/hosts.ini && salt-ssh --saltfile {directory}/Saltfile -i '*' test.ping")
    return 0


def cmd_pki_import(args) -> int:
    """A front over ``salt-run saltsphere_pki.import``: the hosts' PKI back onto this taskbox."""
    from saltsphere import installer

    loaded = _load(args)
    clusterdir.init(loaded.directory, loaded.hosts_ini)
    argv = [installer.salt_run(), "--saltfile", os.path.join(loaded.directory, "Saltfile"), "--out=json",
            "saltsphere_pki.import"]
    if args.source:
        argv.append(f"source={args.source}")
    code, out, err = installer.run_group(argv, loaded.directory, installer.PHASE_TIMEOUT)
    try:
        data = installer.parse_json_stream(out)
    except ValueError:
        data = {}
    # salt-run prints a runner's dict as it is (other returns under "return").
    result = data.get("return", data)
    if not isinstance(result, dict) or "result" not in result:
        raise ActionableError(f"salt-run printed no result (exit {code}): {(err or out).strip()[-1500:]}")
    print(result["comment"], file=sys.stdout if result["result"] else sys.stderr)
    for path in result.get("imported", []):
        print(f"  {path}")
    return 0 if result["result"] else 1


def cmd_certs_check(args) -> int:
    """Every certificate of the cluster with its expiry; the hosts are asked only once the inputs are valid."""
    from saltsphere import certs

    loaded = _load(args)
    _print_warnings(loaded.warnings)
    return certs.run(loaded, as_json=args.json)


def cmd_certs_renew(args) -> int:
    """Every leaf certificate issued again from the same CAs; nothing is asked or touched until the inputs are valid."""
    from saltsphere import certsrenew

    loaded = _load(args)
    _print_warnings(loaded.warnings)
    if args.dry_run:
        return certsrenew.dry_run(loaded, as_json=args.json)
    if args.json:
        print("error: --json goes with --dry-run", file=sys.stderr)
        return EXIT_INVALID
    return certsrenew.run(loaded, assume_yes=args.yes)


def cmd_etcd_backup(args) -> int:
    """A snapshot of etcd onto this taskbox; the hosts are asked only once the inputs are valid."""
    from saltsphere import etcdbackup

    loaded = _load(args)
    _print_warnings(loaded.warnings)
    etcdbackup.backup(loaded)
    return 0


def cmd_etcd_restore(args) -> int:
    """The cluster's etcd back to a snapshot; the snapshot is checked before anything is asked or touched."""
    from saltsphere import etcdrestore

    loaded = _load(args)
    _print_warnings(loaded.warnings)
    if args.dry_run:
        return etcdrestore.dry_run(loaded, args.snapshot, as_json=args.json)
    if args.json:
        print("error: --json goes with --dry-run", file=sys.stderr)
        return EXIT_INVALID
    return etcdrestore.run(loaded, args.snapshot, assume_yes=args.yes)


def cmd_paths(args) -> int:
    root = paths.project_root()
    print(f"file_roots:   {root / 'salt'}")
    print(f"              {root / 'orchestrate'}")
    print(f"pillar_roots: {root / 'pillar'}")
    print(f"extension_modules: {root / 'extension_modules'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="saltsphere", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"saltsphere {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    check = sub.add_parser("check", help="validate hosts.ini and vars.yml without contacting any host")
    _inventory_args(check)
    check.set_defaults(func=cmd_check)

    inventory = sub.add_parser("inventory", help="print the hosts, their connection and roles (never a password)")
    _inventory_args(inventory)
    inventory.add_argument("--json", action="store_true", help="print JSON")
    inventory.set_defaults(func=cmd_inventory)

    state = sub.add_parser("status", help="health of the cluster's services, checked from the taskbox")
    _inventory_args(state)
    state.add_argument("--json", action="store_true", help="print JSON")
    state.set_defaults(func=cmd_status)

    init = sub.add_parser("init", help="make DIR a cluster directory (Saltfile and Salt config for it)")
    init.add_argument("directory", metavar="DIR")
    init.add_argument("--example", action="store_true",
                      help="also copy the example hosts.ini and vars.yml if DIR has none")
    init.set_defaults(func=cmd_init)

    pki_parser = sub.add_parser("pki", help="the cluster's PKI on this taskbox")
    pki_sub = pki_parser.add_subparsers(dest="pki_command", metavar="COMMAND")
    pki_sub.required = True
    pki_import = pki_sub.add_parser("import", help="take the cluster's CAs back from its hosts (a lost .saltsphere/)")
    _inventory_args(pki_import)
    pki_import.add_argument("--from", dest="source", metavar="HOST",
                            help="the master to take the Kubernetes CAs from (default: the first of [kube-master])")
    pki_import.set_defaults(func=cmd_pki_import)

    certs_parser = sub.add_parser("certs", help="the cluster's certificates on the taskbox and its hosts")
    certs_sub = certs_parser.add_subparsers(dest="certs_command", metavar="COMMAND")
    certs_sub.required = True
    certs_check = certs_sub.add_parser("check", help="every certificate with its expiry; exit 1 when one has "
                                                      "certs_warn_days or fewer left or cannot be checked")
    _inventory_args(certs_check)
    certs_check.add_argument("--json", action="store_true", help="print JSON")
    certs_check.set_defaults(func=cmd_certs_check)
    certs_renew = certs_sub.add_parser("renew", help="issue every leaf certificate again from the same CAs (an etcd "
                                                     "snapshot first; one etcd member, then one master at a time)")
    _inventory_args(certs_renew)
    certs_renew.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    certs_renew.add_argument("--dry-run", action="store_true",
                             help="list the certificates each host would get anew and the restarts, asking the hosts "
                                  "only: no snapshot, nothing signed or restarted (asks nothing)")
    certs_renew.add_argument("--json", action="store_true", help="with --dry-run: print JSON")
    certs_renew.set_defaults(func=cmd_certs_renew)

    etcd_parser = sub.add_parser("etcd", help="snapshots of the cluster's etcd: backup onto this taskbox, restore")
    etcd_sub = etcd_parser.add_subparsers(dest="etcd_command", metavar="COMMAND")
    etcd_sub.required = True
    etcd_backup = etcd_sub.add_parser("backup", help="a snapshot from a healthy member into .saltsphere/backups "
                                                     "(0600, with its sha256), keeping the last etcd_backup_keep")
    _inventory_args(etcd_backup)
    etcd_backup.set_defaults(func=cmd_etcd_backup)
    etcd_restore = etcd_sub.add_parser("restore", help="disaster recovery: stop the API servers, restore SNAPSHOT "
                                                       "on every member, start etcd and the API servers again")
    etcd_restore.add_argument("snapshot", metavar="SNAPSHOT", help="a .db file that `saltsphere etcd backup` took")
    _inventory_args(etcd_restore)
    etcd_restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    etcd_restore.add_argument("--dry-run", action="store_true",
                              help="check SNAPSHOT and say what the restore would do and lose (the cluster's "
                                   "revision against the snapshot's), changing nothing (asks nothing)")
    etcd_restore.add_argument("--json", action="store_true", help="with --dry-run: print JSON")
    etcd_restore.set_defaults(func=cmd_etcd_restore)

    where = sub.add_parser("paths", help="print where the states, pillar and modules are, for an existing Salt master")
    where.set_defaults(func=cmd_paths)

    from saltsphere import installer, nodes, plan, reset, sandbox
    from saltsphere.artifacts import cli as artifact_cli

    installer.register(sub)
    nodes.register(sub)
    plan.register(sub)
    reset.register(sub)
    sandbox.register(sub)
    artifact_cli.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InvalidInput as exc:
        _print_warnings(exc.problems.warnings)
        print(exc.render(), file=sys.stderr)
        return EXIT_INVALID
    except ActionableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
