"""The one error the artifact code raises: its message tells the operator what to do."""


class ArtifactError(Exception):
    """A bundle cannot be built or read; ``str(exc)`` is the whole explanation."""
