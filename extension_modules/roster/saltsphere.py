"""
Read the cluster's Ansible-style ``hosts.ini`` as the salt-ssh roster.

The inventory is the file named by ``roster_file`` (the Saltfile's master
config, or ``salt-ssh --roster-file``); the ``vars.yml`` beside it, or the one
named by the ``saltsphere_vars`` option, is validated together with it.  A bad
inventory stops salt-ssh here, before any host is contacted, with every problem
listed.

.. code-block:: yaml

    roster: saltsphere
    roster_file: /srv/cluster/hosts.ini
"""

import os
import stat

import salt.client.ssh
import salt.exceptions
import salt.roster

try:
    from saltsphere import cluster, saltexit
    from saltsphere.problems import InvalidInput

    HAS_SALTSPHERE = True
except ImportError:
    HAS_SALTSPHERE = False

__virtualname__ = "saltsphere"


def __virtual__():
    if not HAS_SALTSPHERE:
        return False, "the saltsphere Python package is not installed on this taskbox"
    _read_roster_file_through_this_module()
    saltexit.register()
    return __virtualname__


def _read_roster_file_through_this_module():
    """Make ``salt-ssh -H`` (and bare-hostname targeting) read hosts.ini through this module.

    Those two paths of salt-ssh render ``roster_file`` as a YAML flat roster
    themselves instead of asking the roster module, which fails on an INI
    file.  When this roster is the one configured, they get its entries.
    """
    original = salt.client.ssh.SSH._get_roster
    if getattr(original, "saltsphere", False):
        return

    def _get_roster(self):
        if self.opts.get("roster") != __virtualname__:
            return original(self)
        roster_file = salt.roster.get_roster_file(self.opts)
        parsed = self._SSH__parsed_rosters
        if roster_file not in parsed:
            parsed[roster_file] = load_cluster(self.opts).roster(multiplex_dir(self.opts))
        return roster_file

    _get_roster.saltsphere = True
    salt.client.ssh.SSH._get_roster = _get_roster


def load_cluster(opts):
    """The validated cluster of ``opts``; shared with the ext_pillar."""
    hosts_ini = salt.roster.get_roster_file(opts)
    try:
        return cluster.load_cached(hosts_ini, opts.get("saltsphere_vars"))
    except InvalidInput as exc:
        raise salt.exceptions.SaltClientError(exc.render()) from None


def multiplex_dir(opts):
    """The directory of the shared SSH connections' sockets (0700, in Salt's cache); None when unusable."""
    path = os.path.join(opts["cachedir"], "ssh-mux")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        found = os.lstat(path)
    except OSError:
        return None
    # Anyone else who could write there could put a socket of theirs in the way.
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid() or found.st_mode & 0o077:
        return None
    return path


def targets(tgt, tgt_type="glob", **kwargs):
    """
    Return the hosts of the inventory that match ``tgt``.
    """
    entries = load_cluster(__opts__).roster(multiplex_dir(__opts__))
    return __utils__["roster_matcher.targets"](entries, tgt, tgt_type, "ipv4")
