"""Problems found in user input, collected rather than raised one at a time.

Every check on the taskbox appends to a :class:`Problems` list so that the user
sees all of them in one run, each tied to a place (file and line, or file and
key) and to a fix.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    fix: str = ""
    line: int | None = None
    key: str | None = None
    warning: bool = False

    def where(self) -> str:
        if self.line is not None:
            return f"{self.path}:{self.line}"
        if self.key is not None:
            return f"{self.path}: {self.key}"
        return self.path

    def __str__(self) -> str:
        text = f"{self.where()}: {self.message}"
        if self.fix:
            text += f" -> {self.fix}"
        return text


class Problems(list):
    """A list of :class:`Problem` with helpers to add errors and warnings."""

    def error(self, path, message, fix="", line=None, key=None):
        self.append(Problem(str(path), message, fix, line, key))

    def warn(self, path, message, fix="", line=None, key=None):
        self.append(Problem(str(path), message, fix, line, key, warning=True))

    @property
    def errors(self):
        return [p for p in self if not p.warning]

    @property
    def warnings(self):
        return [p for p in self if p.warning]


class InvalidInput(Exception):
    """Raised once all checks ran and at least one error was found."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        errors = sorted(self.problems.errors, key=lambda p: (p.path, p.line or 0))
        lines = [f"{len(errors)} problem(s) in the cluster's inventory or config:"]
        for problem in errors:
            lines.append(f"  - {problem.where()}: {problem.message}")
            if problem.fix:
                lines.append(f"      fix: {problem.fix}")
        return "\n".join(lines)
