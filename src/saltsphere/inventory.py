"""Read an Ansible-style ``hosts.ini`` without Ansible.

The parser is lenient about layout (tabs, trailing spaces, quoted values,
``#``/``;`` comments) and strict about meaning: whatever it cannot make sense of
becomes a :class:`~saltsphere.problems.Problem` naming the line, so that the
whole file is reported at once.  Checks that need the config (address ranges,
storage) live in :mod:`saltsphere.validate`.
"""

import difflib
import os
import re
from dataclasses import dataclass, field

from saltsphere.problems import Problems

ETCD = "etcd"
MASTER = "kube-master"
NODE = "kube-node"
CLUSTER = "k8s-cluster"
ROLES = (ETCD, MASTER, NODE)

# Newer kubespray-style inventories spell the same groups with underscores.
GROUP_ALIASES = {
    "kube_control_plane": MASTER,
    "kube_node": NODE,
    "k8s_cluster": CLUSTER,
}

# Host variables understood here, each mapped to the field it fills.  The
# older ``ansible_ssh_*`` spellings are kept because the seed's users have them.
HOST_VARS = {
    "ansible_host": "host",
    "ansible_ssh_host": "host",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_ssh_pass": "password",
    "ansible_password": "password",
    "ansible_become_pass": "become_password",
    "ansible_become_password": "become_password",
    "ansible_sudo_pass": "become_password",
    "ansible_become": "become",
    "ansible_become_user": "become_user",
    "ansible_become_method": "become_method",
    "ansible_ssh_private_key_file": "private_key",
    "ansible_connection": "connection",
    "ansible_ssh_common_args": "ssh_args",
    "ansible_ssh_extra_args": "ssh_extra_args",
    "ip": "ip",
}
# Ansible variables that are harmless to see and need no mapping.
IGNORED_ANSIBLE_VARS = {
    "ansible_python_interpreter",
}
CONNECTIONS = {"ssh", "smart", "paramiko", "local"}

SECTION_RE = re.compile(r"^\[([^\]:]+)(?::(children|vars))?\]\s*$")


@dataclass
class Host:
    name: str
    line: int
    vars: dict = field(default_factory=dict)
    var_lines: dict = field(default_factory=dict)

    def get(self, attr, default=None):
        """The value of a mapped field (``host``, ``port``, ...) from any spelling."""
        for key, target in HOST_VARS.items():
            if target == attr and key in self.vars:
                return self.vars[key]
        return default

    def line_of(self, attr):
        for key, target in HOST_VARS.items():
            if target == attr and key in self.var_lines:
                return self.var_lines[key]
        return self.line

    def ssh_options(self):
        """``-o Key=Value`` pairs of the ssh argument variables as salt-ssh ``ssh_options``.

        Returns ``(options, rejected)``; salt-ssh passes on only ``-o`` options.
        """
        words = " ".join(filter(None, (self.get("ssh_args"), self.get("ssh_extra_args")))).split()
        options, rejected, index = [], [], 0
        while index < len(words):
            word = words[index]
            if word == "-o" and index + 1 < len(words):
                options.append(words[index + 1])
                index += 2
                continue
            if word.startswith("-o") and len(word) > 2:
                options.append(word[2:])
            else:
                rejected.append(word)
            index += 1
        return options, rejected

    @property
    def local(self) -> bool:
        return self.get("connection") == "local"

    @property
    def user(self) -> str:
        return self.get("user") or "root"


@dataclass
class Group:
    name: str
    line: int
    hosts: list = field(default_factory=list)  # (name, line)
    children: list = field(default_factory=list)  # (name, line)
    vars: dict = field(default_factory=dict)
    var_lines: dict = field(default_factory=dict)


@dataclass
class Inventory:
    path: str
    hosts: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)

    def members(self, group, _seen=None) -> list:
        """Host names in ``group`` and, recursively, in its children (file order)."""
        seen = _seen if _seen is not None else set()
        if group in seen or group not in self.groups:
            return []
        seen.add(group)
        names = [name for name, _ in self.groups[group].hosts if name in self.hosts]
        for child, _ in self.groups[group].children:
            names += self.members(child, seen)
        return list(dict.fromkeys(names))

    def cluster_members(self) -> list:
        if CLUSTER in self.groups:
            return self.members(CLUSTER)
        return list(dict.fromkeys(self.members(MASTER) + self.members(NODE)))

    def roles(self, name) -> list:
        return [role for role in ROLES if name in self.members(role)]

    def groups_of(self, name) -> list:
        """Every group holding ``name``, parents before children, for var precedence."""
        found = [g for g in self.groups if name in self.members(g)]
        return sorted(found, key=self._depth)

    def _depth(self, group, _seen=None) -> int:
        seen = _seen or set()
        parents = [
            g.name
            for g in self.groups.values()
            if group in (c for c, _ in g.children) and g.name not in seen
        ]
        if not parents:
            return 0
        return 1 + max(self._depth(p, seen | {group}) for p in parents)

    def merged_host(self, name) -> Host:
        """A host with every variable that applies to it, remembering where each was set.

        Precedence: ``[all:vars]`` < group vars (parents before children) < the host's line.
        """
        layers = [self.groups["all"]] + [self.groups[g] for g in self.groups_of(name) if g != "all"]
        layers.append(self.hosts[name])
        merged = Host(name, self.hosts[name].line)
        for layer in layers:
            for key, value in layer.vars.items():
                # A later layer wins whatever spelling it uses: drop the
                # other spellings of the same field set by earlier layers.
                if key in HOST_VARS:
                    for other in [k for k in merged.vars if HOST_VARS.get(k) == HOST_VARS[key]]:
                        del merged.vars[other]
                        merged.var_lines.pop(other, None)
                merged.vars[key] = value
                merged.var_lines[key] = layer.var_lines.get(key, layer.line)
        return merged


def tokenize(text):
    """Split a line on blanks, honouring quotes; ``#``/``;`` at a token's start begin a comment.

    Returns ``(tokens, error)``; ``error`` is set for an unterminated quote.
    """
    tokens, current, quote, in_token = [], [], None, False
    for char in text:
        if quote:
            if char == quote:
                quote = None
            else:
                current.append(char)
        elif char in "\"'":
            quote, in_token = char, True
        elif char.isspace():
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
        elif char in "#;" and not in_token:
            break
        else:
            current.append(char)
            in_token = True
    if quote:
        return tokens, f"the quote {quote} opened on this line is never closed"
    if in_token:
        tokens.append("".join(current))
    return tokens, None


def _split_var(token):
    key, sep, value = token.partition("=")
    return (key.strip(), value) if sep else (None, None)


def _known_var_hint(key):
    known = sorted(set(HOST_VARS) | IGNORED_ANSIBLE_VARS)
    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean '{close[0]}'?" if close else "remove it"


def parse(path, text=None):
    """Parse ``path`` (or ``text``) into an :class:`Inventory` and the problems found."""
    path = str(path)
    problems = Problems()
    if text is None:
        try:
            # utf-8-sig: editors on Windows save a byte-order mark.
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
        except FileNotFoundError:
            problems.error(path, "the inventory file does not exist",
                           "create it (see conf/hosts.ini for the format) or pass -i PATH")
            return Inventory(path), problems
        except (OSError, UnicodeDecodeError) as exc:
            problems.error(path, f"cannot read the inventory: {exc}", "check the file's permissions and encoding")
            return Inventory(path), problems

    inv = Inventory(path)
    inv.groups["all"] = Group("all", 0)
    section, kind, last_host = "all", None, None

    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        match = SECTION_RE.match(re.sub(r"\s+[#;].*$", "", stripped))
        if match:
            name = GROUP_ALIASES.get(match.group(1).strip(), match.group(1).strip())
            section, kind, last_host = name, match.group(2), None
            group = inv.groups.setdefault(name, Group(name, number))
            if not group.line:
                group.line = number
            continue
        if stripped.startswith("["):
            problems.error(path, f"cannot read the section header {stripped!r}",
                           "write it as [group], [group:children] or [group:vars]", line=number)
            continue

        tokens, error = tokenize(stripped)
        if error:
            problems.error(path, error, "close the quote, or quote the whole value", line=number)
            continue
        if not tokens:
            continue
        group = inv.groups[section]

        if kind == "vars":
            _read_group_vars(path, number, tokens, group, problems)
        elif kind == "children":
            if len(tokens) > 1:
                problems.error(path, f"a [{section}:children] line names one group, found {len(tokens)} words",
                               "put each child group on its own line", line=number)
            child = GROUP_ALIASES.get(tokens[0], tokens[0])
            group.children.append((child, number))
        elif section == "all":
            last_host = _read_host_line(path, number, raw, tokens, inv, problems, last_host)
        else:
            if len(tokens) > 1:
                problems.error(path, f"host {tokens[0]!r} has variables in [{section}]",
                               "give a host its variables on its line in [all]; list only its name here", line=number)
            group.hosts.append((tokens[0], number))
    return inv, problems


def _read_group_vars(path, number, tokens, group, problems):
    if len(tokens) == 3 and tokens[1] == "=":
        key, value = tokens[0], tokens[2]
    elif len(tokens) == 1:
        key, value = _split_var(tokens[0])
    else:
        key = value = None
    if not key:
        problems.error(path, f"expected key=value in [{group.name}:vars], found {len(tokens)} words",
                       "write one key=value per line; quote values that contain spaces", line=number)
        return
    if key.startswith("ansible_") and key not in HOST_VARS and key not in IGNORED_ANSIBLE_VARS:
        problems.error(path, f"unknown host variable {key!r}", _known_var_hint(key), line=number)
    group.vars[key] = value
    group.var_lines[key] = number


def _read_host_line(path, number, raw, tokens, inv, problems, last_host):
    name = tokens[0]
    if "=" in name:
        # A line of only key=value pairs is what is left when an editor or a
        # person wrapped the previous host's line in two.
        where = f"the host on line {last_host.line}" if last_host else "no host"
        problems.error(path, f"this line has variables but no host name; it continues {where}",
                       "each host must stay on a single line: join it to the line above", line=number)
        return last_host
    if raw.rstrip().endswith("\\"):
        problems.error(path, f"the line of host {name!r} ends with a backslash",
                       "each host must stay on a single line: remove the backslash and join the lines", line=number)
    if name in inv.hosts:
        problems.error(path, f"host {name!r} is defined twice (first on line {inv.hosts[name].line})",
                       "keep one line per host in [all]", line=number)
        return inv.hosts[name]
    host = Host(name, number)
    for token in tokens[1:]:
        key, value = _split_var(token)
        if key is None:
            # The stray word is not quoted back: it may be a password.
            problems.error(path, f"expected key=value after host {name!r}, found a word without '='",
                           "write variables as key=value; quote values that contain spaces", line=number)
            continue
        if key.startswith("ansible_") and key not in HOST_VARS and key not in IGNORED_ANSIBLE_VARS:
            problems.error(path, f"unknown host variable {key!r}", _known_var_hint(key), line=number)
        host.vars[key] = value
        host.var_lines[key] = number
    inv.hosts[name] = host
    inv.groups["all"].hosts.append((name, number))
    return host


def resolve_path(inventory_path, value):
    """Resolve a path given in the inventory relative to the inventory's directory."""
    value = os.path.expanduser(value)
    if os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(inventory_path)), value))
