"""Ship the Salt trees (states, orchestrations, pillar defaults, extension
modules, example conf) as data under <prefix>/share/saltsphere; setup.cfg has the rest."""

from pathlib import Path

from setuptools import setup

TREES = ("salt", "orchestrate", "pillar", "extension_modules", "conf")


def data_files():
    found = {}
    for tree in TREES:
        for path in sorted(Path(tree).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found.setdefault(str(Path("share", "saltsphere", path.parent)), []).append(str(path))
    return sorted(found.items())


setup(data_files=data_files())
