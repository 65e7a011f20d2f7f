"""Entry point that hands an existing Salt estate our extension modules.

``pip install saltsphere`` registers this under ``salt.loader``; Salt then finds
the roster, ext_pillar, runners, execution and state modules without any
``extension_modules`` setting.  States and orchestrations are plain files:
``saltsphere paths`` prints the directories to add to ``file_roots`` and
``pillar_roots``.
"""

from saltsphere import paths


def get_dirs() -> dict:
    base = paths.project_root() / "extension_modules"
    return {
        kind: [str(base / kind)]
        for kind in ("roster", "pillar", "runners", "modules", "states", "utils")
        if (base / kind).is_dir()
    }
