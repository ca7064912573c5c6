"""The user cache: where it is, what it holds, and clearing it (``hatch-pylon cache``).

Its place is ``$HATCH_PYLON_CACHE_DIR``, else ``$XDG_CACHE_HOME/hatch-pylon``,
else ``~/.cache/hatch-pylon``. It holds only what can be made again:
wasmtime's compiled components (``wasmtime-<version>-epoch[-fuel]/<sha256>.cwasm``,
keyed by blob digest, one folder per engine setting) and composed graphs run
from memory (``composed/<plan sha256>.wasm``). Clearing removes exactly those
entries (and temp files left beside them), never anything else a misdirected
variable might point at.

Entries are machine code or components run without further checks, so one
is used only when it, its folder and the cache root are the current user's
and not writable by group or others (``cache_problem``); anything else is
ignored with a note, and the folders the cache creates are private (0700).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import NamedTuple

from .._errors import Say, warning
from .._fs import NASCENT_PREFIX, atomic_write, make_private_dirs, os_reason, private_problem
from .._layout import TEMP_PREFIX

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


def cache_problem(root: Path, entry: Path, *, folder: bool = False) -> str | None:
    """Why a cache entry (or, with ``folder``, a cache folder) must not be used; "" when it does not exist.

    The entry and every folder from ``root`` down to it must be real (no symlink below the root), owned by
    the current user and not writable by group or others (``_fs.private_problem``): a compiled artifact is
    machine code that wasmtime runs without further checks, and a composition is run as is.
    """
    folders: list[Path] = []
    if root == entry or root in entry.parents:
        current = entry
        while current != root:
            current = current.parent
            folders.append(current)
    else:  # outside the root: judge its own folder
        folders.append(entry.parent)
    for path in [*reversed(folders), entry]:
        try:
            info = os.stat(path) if path == root else os.lstat(path)  # the root itself may be a link
        except FileNotFoundError:
            return ""
        except OSError as exc:
            return f"{path} ({os_reason(exc)})"
        problem = private_problem(info, folder=folder or path != entry)
        if problem is not None:
            return f"{path}: {problem}"
    return None


class Vetting:
    """``cache_problem`` for many entries of a few folders: each folder is judged once; each problem said once."""

    def __init__(self, root: Path, say: Say) -> None:
        self.root = root
        self.say = say
        self._sound: set[Path] = set()
        self._noted: set[str] = set()

    def usable(self, entry: Path) -> bool:
        """Whether ``entry`` exists and may be loaded."""
        problem: str | None
        if entry.parent not in self._sound:
            problem = cache_problem(self.root, entry.parent, folder=True)
            if problem is None:
                self._sound.add(entry.parent)
        if entry.parent in self._sound:
            try:
                info = os.lstat(entry)
            except FileNotFoundError:
                return False
            except OSError as exc:
                problem = f"{entry} ({os_reason(exc)})"
            else:
                reason = private_problem(info, folder=False)
                if reason is None:
                    return True
                problem = f"{entry}: {reason}"
        if problem and problem not in self._noted:
            self._noted.add(problem)
            self.say(warning(f"ignoring the cache at {problem}"))
        return False


def keep(root: Path, path: Path, data: bytes | bytearray, what: str, say: Say) -> None:
    """Write the cache entry ``path`` atomically, its missing folders created private (0700); a read-only or
    full cache only costs speed, and ``say`` is told. Nothing is written into a folder others could change
    (its entries would be ignored anyway)."""
    try:
        make_private_dirs(path.parent)
        if cache_problem(root, path.parent, folder=True):
            return
        atomic_write(path, data)
    except OSError as exc:
        say(warning(f"not caching the {what} in {path.parent} ({os_reason(exc)})"))
