"""Let Salt's clients finish while the interpreter can still run them.

Salt's ``MasterMinion`` and the clients around it live in reference cycles and
close themselves in ``__del__``; left to the interpreter's last collection,
that runs when ``sys.path`` is already gone, and the returner loader prints a
traceback on every ``salt-run state.orchestrate``.  One collection at exit,
before the interpreter tears its modules down, runs those finalizers while
imports still work.  The taskbox's extension modules call :func:`register`.
"""

import atexit
import gc

_registered = False


def register():
    """Collect Salt's unreachable clients at exit (once per process, whoever asks)."""
    global _registered
    if not _registered:
        atexit.register(gc.collect)
        _registered = True
