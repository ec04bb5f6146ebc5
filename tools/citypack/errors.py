"""What can be wrong with a city pack.

::

    CityPackError            the pack cannot be used; ``problems`` lists every one (file, line, message)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing to fix in a pack: the file (relative to the pack), the line when known, what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class CityPackError(ValueError):
    """A pack with problems; the message lists them all, one a line."""

    def __init__(self, root: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{root}: {len(problems)} problem(s) in the city pack:\n{lines}")
