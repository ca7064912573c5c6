"""Component-model extern names and the semver tracks wasmtime links across.

A name such as ``arrow:core/array@0.1.3`` has an unversioned part
(``arrow:core/array``) and a version. Like wasmtime's linker, two versions are
compatible when they share a *track*: the major version when it is not 0
(``1.x.y`` ~ ``1``), else ``0.minor`` when minor is not 0 (``0.2.x`` ~ ``0.2``).
``0.0.x`` and pre-releases have no track and only ever match exactly.
"""

from __future__ import annotations

import re

from .._records import NamedTuple

_SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)


class ExternName(NamedTuple):
    """A parsed extern name; ``version`` is None for unversioned names."""

    text: str
    base: str
    version: tuple[int, int, int] | None
    prerelease: bool

    @property
    def track(self) -> str | None:
        """The key shared by semver-compatible versions, or None if only exact matches count."""
        if self.version is None or self.prerelease:
            return None
        major, minor, _ = self.version
        if major:
            return f"{self.base}@{major}"
        if minor:
            return f"{self.base}@0.{minor}"
        return None


def parse_name(text: str) -> ExternName:
    """Split ``text`` at its version suffix; a suffix that is not semver keeps the name unversioned."""
    base, at, version = text.rpartition("@")
    match = _SEMVER.fullmatch(version) if at else None
    if match is None:
        return ExternName(text=text, base=text, version=None, prerelease=False)
    triple = (int(match["major"]), int(match["minor"]), int(match["patch"]))
    return ExternName(text=text, base=base, version=triple, prerelease=match["pre"] is not None)


def compatible(wanted: ExternName, offered: ExternName) -> bool:
    """True when wasmtime would satisfy import ``wanted`` with export ``offered``."""
    if wanted.text == offered.text:
        return True
    return wanted.track is not None and wanted.track == offered.track
