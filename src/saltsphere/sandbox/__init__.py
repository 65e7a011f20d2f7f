"""A local sandbox of real Linux hosts (systemd-nspawn) to run saltsphere against.

``Sandbox(name).up()`` boots the hosts and returns the path of a hosts.ini that
describes them; ``register()`` adds the same as ``saltsphere sandbox ...``.
"""

from saltsphere.sandbox.cli import register
from saltsphere.sandbox.errors import SandboxError
from saltsphere.sandbox.sandbox import Sandbox

__all__ = ["Sandbox", "SandboxError", "register"]
