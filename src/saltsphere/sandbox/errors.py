"""The one exception the sandbox raises for failures a person can act on."""

from saltsphere.errors import ActionableError


class SandboxError(ActionableError):
    """A sandbox step failed; the message names the host or step and the cause.

    The command line prints it without a traceback and exits non-zero.
    """
