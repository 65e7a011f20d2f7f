"""The one error the artifact code raises: its message tells the operator what to do."""

from saltsphere.errors import ActionableError


class ArtifactError(ActionableError):
    """A bundle cannot be built or read; ``str(exc)`` is the whole explanation."""
