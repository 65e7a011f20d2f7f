"""Which file a request names, if any: the manifest's paths and the overlay's, opened without following links."""

import hmac
import logging
import os
import stat
import threading
import urllib.parse
from pathlib import Path

from saltsphere.artifacts import manifest as mf
from saltsphere.artifacts.errors import ArtifactError

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO put in the bundle's place must not hang the server.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def relative_path(target: str, token: str):
    """The path ``/<token>/<path>`` names, percent-decoded; None for any other request target.

    apt asks a flat repository for ``<repo>/./Packages`` and ``<repo>/./<deb>``:
    one ``.`` segment just before the file name is dropped.  Nothing else is
    normalised: no ``..``, no empty segment, no query or fragment, no
    backslash or NUL, no encoded ``/``.
    """
    if not target.startswith("/") or any(c in target for c in "?#\\\0"):
        return None
    segments = target[1:].split("/")
    if not hmac.compare_digest(segments[0].encode(), token.encode()):
        return None
    rest = segments[1:]
    parts = []
    for index, segment in enumerate(rest):
        if segment == "." and index == len(rest) - 2:
            continue
        try:
            part = urllib.parse.unquote(segment, errors="strict")
        except UnicodeDecodeError:
            return None
        if part in ("", ".", "..") or any(c in part for c in "/\\\0"):
            return None
        parts.append(part)
    return "/".join(parts) if parts else None


def open_beneath(root: str, relative: str):
    """A descriptor of the regular file ``root/relative`` reached without any symbolic link; None if none."""
    names = relative.split("/")
    try:
        directory = os.open(root, _DIR_FLAGS)
    except OSError:
        return None
    try:
        for name in names[:-1]:
            below = os.open(name, _DIR_FLAGS, dir_fd=directory)
            os.close(directory)
            directory = below
        fd = os.open(names[-1], _FILE_FLAGS, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    return _regular(fd)


def open_file(path: str):
    """A descriptor of the regular file ``path`` itself (not of what a link there points to); None if none."""
    try:
        fd = os.open(path, _FILE_FLAGS)
    except OSError:
        return None
    return _regular(fd)


def _regular(fd):
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return fd
    os.close(fd)
    return None


class Files:
    """The files a bundle server may send: the manifest's paths, manifest.json, and the overlay."""

    def __init__(self, bundle_dir: str, overlay: dict):
        self.bundle_dir = bundle_dir
        self.overlay = dict(overlay)
        self._lock = threading.Lock()
        self._listed = (None, frozenset())

    def listed(self) -> frozenset:
        # Read again whenever manifest.json changes: a rebuilt bundle is served without a restart.
        try:
            st = os.stat(Path(self.bundle_dir) / mf.MANIFEST_NAME)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if self._listed[0] != stamp:
                self._listed = (stamp, self._read())
            return self._listed[1]

    def _read(self) -> frozenset:
        try:
            paths = {entry.path for entry in mf.read_manifest(self.bundle_dir).files}
        except ArtifactError as exc:
            log.error("the bundle's manifest cannot be read, only it is served: %s", exc)
            paths = set()
        return frozenset(paths | {mf.MANIFEST_NAME})

    def open(self, relative):
        """A descriptor of the file served as ``relative``, None when nothing is."""
        if relative in self.overlay:
            return open_file(self.overlay[relative])
        if relative in self.listed():
            return open_beneath(self.bundle_dir, relative)
        return None
