"""The base of the errors a person can act on: the CLI prints them without a traceback."""


class ActionableError(Exception):
    """A step failed; ``str(exc)`` names what failed, where, and what to do."""
