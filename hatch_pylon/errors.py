"""The one exception family every adapter turns into a clean, traceback-free failure."""

from __future__ import annotations


class PylonError(Exception):
    """A problem the user can act on; ``str()`` is the whole message."""


class ConfigError(PylonError):
    """Every configuration problem found, reported together."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"pylon configuration has {len(self.problems)} {noun}:\n{lines}")


class ComponentFormatError(PylonError):
    """A file that is not a well-formed component binary."""

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        where = f" at offset {offset} (0x{offset:x})" if offset is not None else ""
        super().__init__(f"{path}: {reason}{where}")


class ResolveError(PylonError):
    """Imports that cannot be bound, ambiguous providers, or a cycle."""


class StoreError(PylonError):
    """The blob store or a bundled blob is unusable."""
