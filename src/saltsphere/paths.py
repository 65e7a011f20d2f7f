"""Where the project's Salt trees live, in a checkout or in an installed copy."""

import os
import sys
from pathlib import Path

# The directories that make up the Salt side of the distribution.
TREES = ("salt", "orchestrate", "pillar", "extension_modules", "etc")


def _is_root(path: Path) -> bool:
    return (path / "salt" / "top.sls").is_file() and (path / "extension_modules").is_dir()


def project_root() -> Path:
    """The directory holding salt/, orchestrate/, pillar/ and extension_modules/.

    A checkout (also an editable install) is found next to this package's
    source; a regular install ships the trees under ``<prefix>/share/saltsphere``.
    ``SALTSPHERE_ROOT`` overrides both.
    """
    override = os.environ.get("SALTSPHERE_ROOT")
    candidates = [Path(override)] if override else []
    candidates += [Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "saltsphere"]
    for candidate in candidates:
        if _is_root(candidate):
            return candidate
    raise RuntimeError(
        "cannot find saltsphere's Salt trees (salt/top.sls); reinstall the package or set SALTSPHERE_ROOT"
    )


def defaults_file() -> Path:
    return project_root() / "pillar" / "saltsphere" / "defaults.sls"
