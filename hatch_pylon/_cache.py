"""The user cache: where it is, what it holds, and clearing it (``hatch-pylon cache``).

Its place is ``$HATCH_PYLON_CACHE_DIR``, else ``$XDG_CACHE_HOME/hatch-pylon``,
else ``~/.cache/hatch-pylon``. It holds only what can be made again:
wasmtime's compiled components (``wasmtime-<version>/<sha256>.cwasm``, keyed
by blob digest) and composed graphs run from memory (``composed/<plan
sha256>.wasm``). Clearing removes exactly those entries (and temp files left
beside them), never anything else a misdirected variable might point at.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import NamedTuple

from ._errors import Say, warning
from ._fs import NASCENT_PREFIX, atomic_write, os_reason
from ._layout import TEMP_PREFIX

CACHE_VARIABLE = "HATCH_PYLON_CACHE_DIR"
COMPOSED_DIR = "composed"
COMPILED_PREFIX = "wasmtime-"


def default_cache_dir() -> Path:
    """``$HATCH_PYLON_CACHE_DIR``, else ``$XDG_CACHE_HOME/hatch-pylon``, else ``~/.cache/hatch-pylon``."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hatch-pylon"


class Section(NamedTuple):
    name: str  # "wasmtime-50.0.1" or "composed"
    entries: list[Path]  # regular files only; links and anything else are not ours

    @property
    def size(self) -> int:
        return sum(_size(path) for path in self.entries)


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _ours(name: str, folder: str) -> bool:
    if name.startswith((TEMP_PREFIX, NASCENT_PREFIX)):
        return True
    return name.endswith(".wasm") if folder == COMPOSED_DIR else name.endswith(".cwasm")


def sections(root: Path) -> list[Section]:
    """The cache's folders that hatch-pylon writes, each with its files, sorted by name."""
    found = []
    try:
        folders = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError:
        return []
    for folder in folders:
        if not (folder.name == COMPOSED_DIR or folder.name.startswith(COMPILED_PREFIX)):
            continue
        if not folder.is_dir(follow_symlinks=False):
            continue
        try:
            files = sorted(os.scandir(folder.path), key=lambda entry: entry.name)
        except OSError:
            continue
        entries = [
            Path(entry.path)
            for entry in files
            if _ours(entry.name, folder.name) and stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode)
        ]
        found.append(Section(folder.name, entries))
    return found


def clear(root: Path) -> tuple[int, int]:
    """Remove every cache entry below ``root`` (then its emptied folders); (files removed, bytes freed)."""
    removed = freed = 0
    for section in sections(root):
        for path in section.entries:
            size = _size(path)
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            freed += size
        with contextlib.suppress(OSError):  # it fails when something that is not ours is left in it
            (root / section.name).rmdir()
    with contextlib.suppress(OSError):
        root.rmdir()
    return removed, freed


def keep(path: Path, data: bytes | bytearray, what: str, say: Say) -> None:
    """Write the cache entry ``path`` atomically; a read-only or full cache only costs speed, and ``say`` is told."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        say(warning(f"not caching the {what} in {path.parent} ({os_reason(exc)})"))
