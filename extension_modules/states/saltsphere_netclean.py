"""
What the pod network leaves on a host once Kubernetes is gone: the netfilter
chains kube-proxy, kubelet and the network plugin made, and the interfaces
and network namespaces of the CNI bridge and of calico.  Used by
``network.clean`` (the reset), after ``kubeadm reset`` stopped kubelet and
every pod: while they run, kube-proxy and kubelet make their chains again.

.. code-block:: yaml

    network-clean-saltsphere-netclean-chains-absent:
      saltsphere_netclean.chains_absent:
        - prefixes: [KUBE-, CNI-, cali-, FLANNEL-]

    network-clean-saltsphere-netclean-links-absent:
      saltsphere_netclean.links_absent:
        - patterns: [cni0, cali*, flannel*]

Both read the host's own state, never the cluster's pillar, so a host that
never finished, or one already out of hosts.ini, is cleaned alike; a second
run finds nothing and changes nothing.
"""

import fnmatch
import json
import os
import shlex
import shutil

__virtualname__ = "saltsphere_netclean"

# Every iptables front a host may carry: rules made through one are invisible to the other.
COMMANDS = ("iptables-nft", "iptables-legacy", "ip6tables-nft", "ip6tables-legacy")
_TARGET_FLAGS = ("-j", "--jump", "-g", "--goto")


def __virtual__():
    if "cmd.run_all" not in __salt__:
        return False, "cmd.run_all is not available"
    return __virtualname__


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _run(argv, stdin=None):
    return __salt__["cmd.run_all"](argv, python_shell=False, stdin=stdin, ignore_retcode=True,
                                   output_loglevel="quiet")


def _ours(chain, prefixes):
    return any(chain.startswith(prefix) for prefix in prefixes)


def _rule_is_ours(line, prefixes, comments):
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    if len(words) > 1 and _ours(words[1], prefixes):
        return True
    for flag, value in zip(words, words[1:]):
        if flag in _TARGET_FLAGS and _ours(value, prefixes):
            return True
        if flag == "--comment" and value in comments:
            return True
    return False


def filter_dump(text, prefixes, comments=()):
    """``iptables-save`` output split by table: ``{table: (kept block, [chains removed], rules removed)}``.

    Only tables where something is ours are returned.  A chain is ours when
    its name has one of ``prefixes``; a rule when it is in such a chain, jumps
    to one, or carries one of ``comments``.
    """
    found, table, block, chains, rules = {}, None, [], [], 0
    for line in text.splitlines():
        if line.startswith("*"):
            table, block, chains, rules = line[1:].strip(), [line], [], 0
        elif table is None:
            continue
        elif line.startswith(":") and _ours(line[1:].split()[0], prefixes):
            chains.append(line[1:].split()[0])
        elif line.startswith("-A ") and _rule_is_ours(line, prefixes, comments):
            rules += 1
        elif line.strip() == "COMMIT":
            block.append(line)
            if chains or rules:
                found[table] = ("\n".join(block) + "\n", chains, rules)
            table = None
        else:
            block.append(line)
    return found


def chains_absent(name="pod network chains", prefixes=("KUBE-", "CNI-", "cali-", "FLANNEL-"), comments=(),
                  commands=COMMANDS):
    """
    No netfilter chain named with one of ``prefixes``, and no rule jumping to
    one or carrying one of ``comments``, in any table of any iptables front
    (``commands``: nft and legacy, IPv4 and IPv6) present on the host.

    Each table holding some is replaced at once (``<command>-restore``) by
    itself without them; the other tables, chains and rules stay as they were.
    """
    ret = _ret(name)
    plans = []
    for command in commands:
        if not shutil.which(f"{command}-save"):
            continue
        dump = _run([f"{command}-save"])
        if dump["retcode"] != 0:
            ret.update(result=False, comment=f"{command}-save failed: {dump['stderr'].strip() or dump['stdout']}")
            return ret
        for table, (kept, chains, rules) in sorted(filter_dump(dump["stdout"], prefixes, comments).items()):
            plans.append((command, table, kept))
            ret["changes"][f"{command} {table}"] = {"chains removed": chains, "rules removed": rules}
    if not plans:
        ret["comment"] = "no pod network chain or rule is left"
        return ret
    if __opts__.get("test"):
        ret.update(result=None, comment=f"{len(plans)} table(s) would be cleaned")
        return ret
    for command, table, kept in plans:
        restored = _run([f"{command}-restore"], stdin=kept)
        if restored["retcode"] != 0:
            ret.update(result=False, changes={},
                       comment=f"{command}-restore of table {table} failed: {restored['stderr'].strip()}; "
                               f"nothing of that table was changed")
            return ret
    ret["comment"] = f"{len(plans)} table(s) cleaned"
    return ret


def _links():
    shown = _run(["ip", "-j", "link", "show"])
    if shown["retcode"] != 0:
        raise RuntimeError(f"ip link show failed: {shown['stderr'].strip()}")
    return json.loads(shown["stdout"] or "[]")


def links_absent(name="pod network interfaces", patterns=(), netns_prefixes=("cni-",), netns_dir="/run/netns",
                 flush=()):
    """
    No interface whose name matches one of ``patterns`` (shell patterns), nor one
    enslaved to such a bridge (the pods' veth ends), nor a network namespace in
    ``netns_dir`` named with one of ``netns_prefixes`` (what the container
    runtime left of pods).  ``flush``: interfaces that cannot be deleted (the
    kernel's ``tunl0``) lose their addresses and go down instead.
    """
    ret = _ret(name)
    try:
        links = _links()
    except (RuntimeError, ValueError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ours = [link["ifname"] for link in links if any(fnmatch.fnmatch(link["ifname"], p) for p in patterns)]
    enslaved = [link["ifname"] for link in links if link.get("master") in ours and link["ifname"] not in ours]
    namespaces = sorted(entry for entry in (os.listdir(netns_dir) if os.path.isdir(netns_dir) else [])
                        if entry.startswith(tuple(netns_prefixes)))
    flushed = [link["ifname"] for link in links
               if link["ifname"] in flush and (link.get("operstate") != "DOWN" or _addresses(link["ifname"]))]
    for key, value in (("netns deleted", namespaces), ("links deleted", enslaved + ours), ("links flushed", flushed)):
        if value:
            ret["changes"][key] = value
    if not ret["changes"]:
        ret["comment"] = "no pod network interface or namespace is left"
        return ret
    if __opts__.get("test"):
        ret.update(result=None, comment="pod network interfaces and namespaces would be removed")
        return ret
    steps = [["ip", "netns", "delete", entry] for entry in namespaces]
    steps += [["ip", "link", "delete", link] for link in enslaved + ours]
    for link in flushed:
        steps += [["ip", "addr", "flush", "dev", link], ["ip", "link", "set", link, "down"]]
    for argv in steps:
        done = _run(argv)
        # A veth goes with its peer's namespace: it may be gone already.
        if done["retcode"] != 0 and "Cannot find device" not in done["stderr"]:
            ret.update(result=False, changes={}, comment=f"{' '.join(argv)} failed: {done['stderr'].strip()}")
            return ret
    ret["comment"] = "pod network interfaces and namespaces removed"
    return ret


def _addresses(link):
    shown = _run(["ip", "-j", "addr", "show", "dev", link])
    try:
        return [a for entry in json.loads(shown["stdout"] or "[]") for a in entry.get("addr_info", [])]
    except ValueError:
        return []
