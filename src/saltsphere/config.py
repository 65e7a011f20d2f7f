"""The cluster's ``vars.yml``: its keys, their defaults and types.

The catalogue of keys is ``pillar/saltsphere/defaults.sls``: a key absent there
is unknown, and a value must have the type of its default.  Loading never raises
for bad input; it returns problems that name the key (and its line).
"""

import difflib
import functools
import re
from dataclasses import dataclass, field

import yaml

from saltsphere import paths
from saltsphere.problems import Problems

# Older spellings of the same keys (KubeSphere installer releases differ).
ALIASES = {
    "qy_csi_enabled": "qingcloud_csi_enabled",
    "qy_csi_is_default_class": "qingcloud_csi_is_default_class",
    "nfs_in_k8s_enable": "nfs_server_enable",
    "nfs_in_k8s_is_default_class": "nfs_server_is_default_class",
    "glusterfs_is_default_class": "glusterfs_provisioner_is_default_class",
}

# Values a sample config ships with in place of real ones; they count as unset.
PLACEHOLDERS = {
    "SHOULD_BE_REPLACED",
    "TYPE_ADMIN_ACCOUNT_HERE",
    "TYPE_ADMIN_SECRET_HERE",
    "ACCESS_KEY_ID",
    "ACCESS_KEY_SECRET",
    "ZONE",
    "IP:PORT",
    "CLUSTER_NAME",
}

# Keys whose values are credentials: only the first master receives them, and
# YAML never reinterprets their text (see _SecretTextLoader).
SECRET_KEYS = frozenset(
    {
        "ceph_rbd_admin_secret",
        "ceph_rbd_user_secret",
        "jwt_admin_key",
        "qingcloud_access_key_id",
        "qingcloud_secret_access_key",
        "ks_admin_password",
    }
)


@dataclass(frozen=True)
class StorageClass:
    name: str
    enable_key: str
    default_key: str
    required: tuple = ()


STORAGE_CLASSES = (
    StorageClass("local volume", "local_volume_provisioner_enabled", "local_volume_is_default_class"),
    StorageClass("NFS server in Kubernetes", "nfs_server_enable", "nfs_server_is_default_class"),
    StorageClass("NFS client", "nfs_client_enable", "nfs_client_is_default_class", ("nfs_server", "nfs_path")),
    StorageClass(
        "Ceph RBD",
        "ceph_rbd_enabled",
        "ceph_rbd_is_default_class",
        ("ceph_rbd_monitors", "ceph_rbd_admin_secret", "ceph_rbd_user_secret", "ceph_rbd_pool"),
    ),
    StorageClass(
        "GlusterFS",
        "glusterfs_provisioner_enabled",
        "glusterfs_provisioner_is_default_class",
        ("glusterfs_provisioner_resturl", "glusterfs_provisioner_clusterid"),
    ),
    StorageClass(
        "QingCloud block storage CSI",
        "qingcloud_csi_enabled",
        "qingcloud_csi_is_default_class",
        ("qingcloud_access_key_id", "qingcloud_secret_access_key", "qingcloud_zone"),
    ),
    StorageClass(
        "QingStor NeonSAN CSI",
        "neonsan_csi_enabled",
        "neonsan_csi_is_default_class",
        ("neonsan_server_address", "neonsan_cluster_name"),
    ),
)


@functools.lru_cache(maxsize=1)
def defaults() -> dict:
    with open(paths.defaults_file(), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["saltsphere"]["config"]


@dataclass
class Config:
    path: str
    values: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)
    given: set = field(default_factory=set)

    def __getitem__(self, key):
        return self.values[key]

    def line(self, key):
        return self.lines.get(key)

    def is_set(self, key) -> bool:
        value = self.values.get(key)
        if isinstance(value, str):
            return bool(value.strip()) and value.strip() not in PLACEHOLDERS
        if isinstance(value, list):
            return bool(value) and not any(str(v) in PLACEHOLDERS for v in value)
        return value is not None

    def public(self) -> dict:
        return {k: v for k, v in self.values.items() if k not in SECRET_KEYS}

    def __repr__(self):  # values may hold credentials
        return f"Config({self.path!r}, {len(self.given)} keys set)"


def _type_name(value) -> str:
    return {bool: "true or false", int: "a whole number", str: "a string", list: "a list"}.get(
        type(value), type(value).__name__
    )


def _coerce(key, value, default, path, line, problems):
    """Return ``value`` in the type of ``default``, or record a problem."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        hint = f"write {key}: true or {key}: false without quotes"
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
            return int(value)
        hint = f"write a whole number, e.g. {key}: {default}"
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        # YAML reads 3.10 as the number 3.1: taking it would change the value.
        hint = f'quote it: {key}: "{value}"' if isinstance(value, float) else f"write a single value, e.g. {key}: {default or 'value'}"
    elif isinstance(default, list):
        if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
            return [str(v) for v in value]
        if isinstance(value, str) and value.strip():
            return [value]
        hint = f"write a YAML list:\n      {key}:\n        - first\n        - second"
    else:
        return value
    problems.error(path, f"{key} must be {_type_name(default)}, found {value!r}", hint, line=line, key=key)
    return default


class _SecretTextLoader(yaml.SafeLoader):
    """A SafeLoader that takes the value of every secret key as the text the file holds.

    YAML 1.1 reads ``0777`` as 511, ``0x1F`` as 31, ``1_000`` as 1000, ``12:30``
    as 750, ``yes``/``off`` as booleans and ``null``/``~`` as nothing: a
    password written so would change without a word.  The scalar's own text
    (quotes removed, as YAML removes them) is kept instead; only a value left
    empty stays empty.
    """

    def construct_document(self, node):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = ALIASES.get(key_node.value, key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
                if (key in SECRET_KEYS and isinstance(value_node, yaml.ScalarNode)
                        and (value_node.value or value_node.style)):
                    value_node.tag = "tag:yaml.org,2002:str"
        return super().construct_document(node)


def _parse(text):
    """The document, the line of every top-level key, and keys given twice (YAML keeps the last silently)."""
    loader = _SecretTextLoader(text)
    try:
        node = loader.get_single_node()
        lines, twice = {}, []
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                key = key_node.value
                if key in lines:
                    twice.append((key, key_node.start_mark.line + 1, lines[key]))
                lines[key] = key_node.start_mark.line + 1
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, lines, twice


def load(path, text=None, overrides=None) -> tuple:
    """Read ``vars.yml`` into a :class:`Config` (defaults filled in) and the problems found.

    A missing file is not an error: every key has a default.  ``overrides`` are
    applied on top (entry points such as the all-in-one mode use them).
    """
    path = str(path)
    problems = Problems()
    config = Config(path, values=dict(defaults()))
    if text is None:
        try:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
        except FileNotFoundError:
            text = ""
        except (OSError, UnicodeDecodeError) as exc:
            problems.error(path, f"cannot read the config: {exc}", "check the file's permissions and encoding")
            return config, problems

    try:
        data, lines, twice = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        problems.error(path, f"not valid YAML: {problem}",
                       "fix the YAML syntax (indent with spaces, 'key: value')", line=line)
        return config, problems

    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.error(path, f"the config must be a mapping of key: value, found {type(data).__name__}",
                       "write one 'key: value' per line, e.g. nfs_server_enable: true", line=1)
        return config, problems
    for key, line, first in twice:
        problems.error(path, f"{key} is set twice (first on line {first}); the last one would win silently",
                       "keep one of them", line=line, key=key)

    data.update(overrides or {})
    known = config.values
    for raw_key, value in data.items():
        key = ALIASES.get(str(raw_key), str(raw_key))
        line = lines.get(raw_key)
        if key != raw_key and key in data:
            problems.error(path, f"{raw_key} and {key} are the same setting",
                           f"keep only {key}", line=line, key=str(raw_key))
            continue
        if key not in known:
            close = difflib.get_close_matches(key, list(known) + list(ALIASES), n=1, cutoff=0.7)
            hint = f"did you mean {close[0]}?" if close else "remove it (see conf/vars.yml for the known keys)"
            problems.error(path, f"unknown key {raw_key}", hint, line=line, key=str(raw_key))
            continue
        if value is None:
            problems.error(path, f"{raw_key} has no value", f"give it a value or remove the line (default: {known[key]!r})",
                           line=line, key=str(raw_key))
            continue
        config.values[key] = _coerce(key, value, defaults()[key], path, line, problems)
        config.lines[key] = line
        config.given.add(key)
    return config, problems
