"""`saltsphere sandbox ...`: the sub-commands, each returning an exit code."""

import json
import os
import sys

from saltsphere.sandbox import profiles
from saltsphere.sandbox.sandbox import Sandbox


def register(subparsers):
    """Add the `sandbox` command tree to the ``saltsphere`` argument parser."""
    parser = subparsers.add_parser("sandbox", help="local test hosts (systemd-nspawn) and a hosts.ini for them")
    commands = parser.add_subparsers(dest="sandbox_command", metavar="ACTION")
    commands.required = True

    up = _add(commands, "up", cmd_up, "boot the sandbox's hosts (building the rootfs once) and print hosts.ini's path")
    up.add_argument("--profile", choices=profiles.PROFILES, default=None,
                    help="which hosts and roles (default: the running sandbox's, else multi-node)")
    up.add_argument("--hosts", type=int, default=None, metavar="N",
                    help="number of hosts (default: 3 for multi-node, 5 for ha, 1 for all-in-one)")
    _add(commands, "down", cmd_down, "stop every host and remove all the sandbox made (the rootfs cache stays)")
    status = _add(commands, "status", cmd_status, "list hosts with their state and address")
    status.add_argument("--json", action="store_true", help="print JSON")
    ssh = _add(commands, "ssh", cmd_ssh, "log into a host as hosts.ini does")
    ssh.add_argument("host")
    ssh.add_argument("remote", nargs="*", metavar="COMMAND", help="run this instead of a login shell")
    for action, func, text in (
        ("stop", cmd_stop, "kill one host at once, keeping its disk (simulates a failure)"),
        ("start", cmd_start, "boot a stopped host again"),
        ("reset", cmd_reset, "kill one host, wipe its disk and boot it fresh"),
    ):
        _add(commands, action, func, text).add_argument("host")
    outbound = _add(commands, "outbound", cmd_outbound,
                    "open or cut the hosts' way out of the sandbox (the taskbox always reaches them)")
    outbound.add_argument("state", choices=("on", "off"))
    return parser


def _add(commands, action, func, text):
    parser = commands.add_parser(action, help=text, description=text)
    parser.add_argument("--name", default="default", help="which sandbox (default: default)")
    parser.set_defaults(func=func)
    return parser



def cmd_up(args):
    hosts_ini = Sandbox(args.name).up(profile=args.profile, hosts=args.hosts)
    print(hosts_ini.resolve())
    return 0


def cmd_down(args):
    Sandbox(args.name).down()
    return 0


def cmd_status(args):
    rows = Sandbox(args.name).status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'HOST':<10} {'STATE':<8} {'IP':<15} {'USER':<7} GROUPS")
    for row in rows:
        print(f"{row['name']:<10} {row['state']:<8} {row['ip']:<15} {row['user']:<7} {','.join(row['groups'])}")
    return 0


def cmd_ssh(args):
    argv, env = Sandbox(args.name).ssh_command(args.host, " ".join(args.remote) if args.remote else None)
    sys.stdout.flush()
    os.execvpe(argv[0], argv, env)


def cmd_stop(args):
    Sandbox(args.name).stop(args.host)
    return 0


def cmd_start(args):
    Sandbox(args.name).start(args.host)
    return 0


def cmd_reset(args):
    Sandbox(args.name).reset(args.host)
    return 0


def cmd_outbound(args):
    Sandbox(args.name).set_outbound(args.state == "on")
    return 0
