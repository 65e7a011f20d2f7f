"""One build at a time per cache directory."""

import contextlib
import fcntl

from saltsphere.artifacts.errors import ArtifactError


@contextlib.contextmanager
def exclusive(lock_path):
    """Hold ``lock_path`` while the body runs; fail at once if another build holds it.

    Two builds sharing a cache would download, unpack or compile over each
    other's files.  Failing beats waiting: the other build may take minutes
    and the operator should know why nothing happens.
    """
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArtifactError(f"another build is using {lock_path.parent}; wait for it to finish") from None
        yield
