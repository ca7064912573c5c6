"""Every exception hatch-pylon raises for the user (``PylonError`` and its subclasses, all defined here), the one
problem formatter, and the one message callback (``Say``).

Adapters turn a ``PylonError`` into a clean, traceback-free failure; ``str()`` is the whole message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Say = Callable[[str], None]
"""The one message callback: one line for the user, without the ``hatch-pylon:`` prefix; the adapter decides
where it goes (hatchling's display, stderr). A warning starts with ``WARNING`` (see ``warning``)."""
WARNING = "warning: "


def warning(message: str) -> str:
    """``message`` marked as a warning, for a ``Say`` callback to show as one."""
    return WARNING + message


def is_warning(message: str) -> bool:
    return message.startswith(WARNING)


def say_nothing(message: str) -> None:
    """A ``Say`` that drops every line (the default where no one listens)."""


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 problem``, ``2 problems`` (``nouns`` for an irregular plural): every count is spelled this way."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def human_size(size: int) -> str:
    """``512 B``, ``3.2 KiB``, ``17.5 MiB``, ``1.2 GiB``: every size in a message is spelled this way."""
    if size < 1024:
        return f"{size} B"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    if size < 1 << 30:
        return f"{size / (1 << 20):.1f} MiB"
    return f"{size / (1 << 30):.1f} GiB"


MAX_LISTED = 20  # items a list in a message shows; the rest are counted


def bullets(items: Iterable[str], indent: str = "  ") -> str:
    """One ``- item`` line each, at most ``MAX_LISTED``, then ``- ... and N more``: the one way a list of
    problems is shown."""
    shown: list[str] = []
    more = 0
    for item in items:
        if len(shown) < MAX_LISTED:
            shown.append(f"{indent}- {item}")
        else:
            more += 1
    if more:
        shown.append(f"{indent}- ... and {more} more")
    return "\n".join(shown)


def printable(text: str) -> str:
    """``text`` with every character that is not printable (control characters, terminal escapes,
    bidirectional overrides) spelled as its Python escape: the one way a message prints an id, a name or a
    path that came from a file, so nothing in one can drive the terminal or hide what follows."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shell_word(text: str) -> str:
    """``text`` as one word of a command a message suggests (``pip install 'name==1.0'``): quoted by
    ``shlex.quote``, always in single quotes, so nothing in it can end the word or start another command, and
    escaped as ``printable`` does."""
    import shlex

    word = shlex.quote(text)
    return printable(word if word.startswith("'") else f"'{word}'")


def quoted(text: str) -> str:
    """``'text'``, escaped as ``printable`` does (Python's ``repr``, which escapes the same characters)."""
    return repr(text)


def problems_message(subject: str, problems: list[str], noun: str = "problem") -> str:
    """``<subject> has N problems:`` followed by one bullet each."""
    return f"{subject} has {plural(len(problems), noun)}:\n{bullets(problems)}"


class PylonError(Exception):
    """A problem the user can act on; ``str()`` is the whole message."""


class ConfigError(PylonError):
    """Every configuration problem found, reported together."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(problems_message("pylon configuration", self.problems))


class ComponentFormatError(PylonError):
    """A file that is not a well-formed component binary."""

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(f"{path}: {self.detail}")

    @property
    def detail(self) -> str:
        """The reason with its offset, without the path."""
        where = f" at offset {self.offset} (0x{self.offset:x})" if self.offset is not None else ""
        return f"{self.reason}{where}"


class ResolveError(PylonError):
    """Imports that cannot be bound, ambiguous providers, or a cycle."""


class StoreError(PylonError):
    """The blob store or a bundled blob is unusable."""


class PlanFormatError(PylonError):
    """A plan.json that composectl, or hatch-pylon, would not accept."""

    def __init__(self, source: str, problems: list[str], ours: bool = False) -> None:
        """``ours``: hatch-pylon's deliberate refusal of a plan composectl would read (docs/design.md)."""
        self.problems = problems
        self.ours = ours
        super().__init__(f"{source}: invalid plan:\n{bullets(problems)}")


class ArchiveError(PylonError):
    """An archive that cannot be a trustworthy bundle."""


class TooLarge(PylonError):
    """A stream that went past its byte limit."""


class ComposeError(PylonError):
    """The graph could not be composed into one component."""


class CompileError(PylonError):
    """wasmtime rejected a component's bytes."""


class WasmtimeMissing(PylonError):
    """wasmtime is not installed."""


class RunError(PylonError):
    """The plan could not be loaded, linked or run."""


class GuestStopped(PylonError):
    """The guest trapped or hit a limit of the plan: one line, and the exit status it gives ``run``."""

    def __init__(self, message: str, exit_status: int, detail: str = "") -> None:
        super().__init__(message)
        self.exit_status = exit_status
        self.detail = detail  # wasmtime's full report (the wasm backtrace), shown with -v


class ComponentsError(PylonError):
    """A component distribution that cannot be used: not installed, or its descriptor missing or damaged."""


class VerificationError(PylonError):
    """A bundle the verification gate refused; ``problems`` lists every reason."""

    def __init__(self, label: str, problems: list[str], by: str = "") -> None:
        """``by``: who objects (hatch-pylon's checks or composectl's validation), said after the problems."""
        self.label = label
        self.problems = list(problems)
        said = f"\n  ({by})" if by else ""
        super().__init__(
            f"{label}: failed verification ({plural(len(self.problems), 'problem')}):\n{bullets(self.problems)}{said}"
        )
