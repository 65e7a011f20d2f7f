"""The offline artifact bundle: the binaries (and later images and packages) a cluster installs from.

A bundle is a directory with ``manifest.json`` at its root listing every file
with its size and sha256, so that the taskbox and each host can prove they hold
exactly what was built before installing any of it.
"""

from saltsphere.artifacts.errors import ArtifactError
from saltsphere.artifacts.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    entry_for,
    read_manifest,
    verify,
    write_manifest,
)

__all__ = [
    "MANIFEST_NAME",
    "ArtifactError",
    "FileEntry",
    "Manifest",
    "entry_for",
    "read_manifest",
    "verify",
    "write_manifest",
]
