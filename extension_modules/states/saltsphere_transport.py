"""
What salt-ssh leaves on a host, removed as soon as this run has read it.

salt-ssh sends every state run to the host as ``<thin_dir>/salt_state.tgz``:
the compiled states and the host's whole pillar (its keys, the bootstrap
token, credentials), unpacked into a temporary directory for the run.  Salt
deletes the unpacked directory at the end of a run that ends normally, and
never the tarball.  This state, first in every run of the project's states,
deletes the tarball and the unpacked pillar and states at once (they are in
memory by then), and what killed runs left behind.  It reports no change:
these are Salt's files of the run, not the host's.

.. code-block:: yaml

    transport-wipe-saltsphere-transport-wiped:
      saltsphere_transport.wiped:
        - order: first
"""

import glob
import os
import shutil
import tempfile
import time

__virtualname__ = "saltsphere_transport"

TARBALL = "salt_state.tgz"
RUN_FILES = ("pillar.json", "lowstate.json", "roster_grains.json")
# An unpacked run this old is no longer being read: its run was killed.
STALE_SECONDS = 600


def __virtual__():
    return __virtualname__


def _remove(path, removed):
    try:
        os.unlink(path)
        removed.append(path)
    except FileNotFoundError:
        pass


def _own_roots():
    roots = set()
    for paths in (__opts__.get("file_roots") or {}).values():
        for root in paths or ():
            if os.path.isfile(os.path.join(root, "lowstate.json")):
                roots.add(os.path.realpath(root))
    return roots


def wiped(name="salt-ssh run files"):
    """
    No copy of this run's pillar or compiled states stays on the host.

    Under ``test=True`` too: the copy is uploaded for a dry run as well.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    removed = []
    thin_dir = __opts__.get("config_dir") or ""
    if thin_dir:
        _remove(os.path.join(thin_dir, TARBALL), removed)
    own = _own_roots()
    for root in own:
        for run_file in RUN_FILES:
            _remove(os.path.join(root, run_file), removed)
    now = time.time()
    for lowstate in glob.glob(os.path.join(tempfile.gettempdir(), "tmp*", "lowstate.json")):
        root = os.path.dirname(lowstate)
        try:
            stale = os.stat(lowstate).st_uid == os.geteuid() and now - os.stat(lowstate).st_mtime > STALE_SECONDS
        except FileNotFoundError:
            continue
        if stale and os.path.realpath(root) not in own and os.path.isfile(os.path.join(root, "pillar.json")):
            shutil.rmtree(root, ignore_errors=True)
            removed.append(root)
    ret["comment"] = f"removed {len(removed)} of salt-ssh's run files" if removed else "no run files to remove"
    return ret
