"""The user cache: where it is, what it holds, its size limit, and clearing it (``hatch-pylon cache``).

Its place is ``$HATCH_PYLON_CACHE_DIR``, else ``$XDG_CACHE_HOME/hatch-pylon``,
else ``~/.cache/hatch-pylon``. It holds only what can be made again:
wasmtime's compiled components (``wasmtime-<version>-epoch[-fuel]/<sha256>.cwasm``,
keyed by blob digest, one folder per engine setting) and composed graphs run
from memory (``composed/<sha256>.wasm``).

What hatch-pylon made is told by exact name shape: a folder named as above
directly in the root, and in it a ``<64 hex>`` entry with its suffix or a
temp file named as the one atomic writer names them. Clearing and eviction
remove only such entries (a temp file only once its writer is gone), never
anything else a misdirected variable might point at; what they leave is
named. The root itself is removed only when hatch-pylon created it (it then
holds ``CACHEDIR.TAG``, which also tells backup tools to skip it) and
nothing else is left in it.

The cache is bounded: past ``$HATCH_PYLON_CACHE_MAX`` (bytes, or ``100M``,
``2G``; default 1 GiB), the least recently used entries (a hit touches its
entry's modification time) are removed after each new one is written,
except those a running process holds: each process that uses the cache
lists the entries it loaded or wrote in a pin file under
``.hatch-pylon-pins/``, locked for as long as it lives (a lock-free pin file
is a dead process's and is removed).

Entries are machine code or components run without further checks, so one
is used only when it, its folder and the cache root are the current user's
and not writable by group or others (``cache_problem``); anything else is
ignored with a note, and the folders the cache creates are private (0700).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path

from .._errors import PylonError, Say, human_size, plural, warning
from .._fs import TempFile, _abandoned, atomic_write, is_own_temp, make_private_dirs, os_reason, private_problem
from .._records import NamedTuple

CACHE_VARIABLE = "HATCH_PYLON_CACHE_DIR"
LIMIT_VARIABLE = "HATCH_PYLON_CACHE_MAX"
DEFAULT_LIMIT = 1 << 30  # bytes: ~30 compiled CPython components
COMPOSED_DIR = "composed"
COMPILED_PREFIX = "wasmtime-"
PINS_DIR = ".hatch-pylon-pins"
MARKER = "CACHEDIR.TAG"  # https://bford.info/cachedir/: written in a root hatch-pylon creates
MARKER_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by hatch-pylon (compiled WebAssembly components).\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_COMPILED_FOLDER = re.compile(r"wasmtime-[0-9][0-9A-Za-z.+]*-epoch(?:-fuel)?")
_ENTRY = {"cwasm": re.compile(r"[0-9a-f]{64}\.cwasm"), "wasm": re.compile(r"[0-9a-f]{64}\.wasm")}
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def default_cache_dir() -> Path:
    """``$HATCH_PYLON_CACHE_DIR``, else ``$XDG_CACHE_HOME/hatch-pylon``, else ``~/.cache/hatch-pylon``."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hatch-pylon"


def parse_size(text: str) -> int:
    """``1048576``, ``100M``, ``2G``, ``1.5GiB``, ``512k`` as bytes (binary multiples); ValueError otherwise."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if found is None or (found[2] == "" and "." in found[1]):
        raise ValueError(text)
    return int(float(found[1]) * _UNITS[found[2].lower()])


def cache_limit() -> tuple[int, bool]:
    """(the cache's size limit in bytes, whether ``$HATCH_PYLON_CACHE_MAX`` set it); PylonError if it is not a size."""
    text = os.environ.get(LIMIT_VARIABLE, "")
    if not text:
        return DEFAULT_LIMIT, False
    try:
        return parse_size(text), True
    except ValueError:
        raise PylonError(
            f"{LIMIT_VARIABLE}={text!r} is not a size: give bytes, or a number with K, M, G or T (100M, 2G)"
        ) from None


def _section_kind(name: str) -> str | None:
    """The entry suffix of a cache folder hatch-pylon writes, by its exact name; None for any other name."""
    if name == COMPOSED_DIR:
        return "wasm"
    return "cwasm" if _COMPILED_FOLDER.fullmatch(name) else None


class Section(NamedTuple):
    name: str  # "wasmtime-50.0.1-epoch" or "composed"
    entries: list[Path]  # regular files named <64 hex>.<suffix>
    temps: list[Path]  # temp files of the atomic writer
    foreign: list[str]  # everything else in the folder: not hatch-pylon's

    @property
    def size(self) -> int:
        return sum(_size(path) for path in self.entries)


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _regular(entry: os.DirEntry[str]) -> bool:
    try:
        return stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        return False


def _scan(folder: Path | str) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return []


def sections(root: Path) -> list[Section]:
    """The cache's folders that hatch-pylon writes, each with its entries, sorted by name."""
    found = []
    for folder in _scan(root):
        kind = _section_kind(folder.name)
        if kind is None or not folder.is_dir(follow_symlinks=False):
            continue
        entries, temps, foreign = [], [], []
        for entry in _scan(folder.path):
            if _regular(entry) and _ENTRY[kind].fullmatch(entry.name):
                entries.append(Path(entry.path))
            elif _regular(entry) and is_own_temp(entry.name):
                temps.append(Path(entry.path))
            else:
                foreign.append(f"{folder.name}/{entry.name}" + ("/" if entry.is_dir(follow_symlinks=False) else ""))
        found.append(Section(folder.name, entries, temps, foreign))
    return found


def foreign_entries(root: Path) -> list[str]:
    """What in ``root`` hatch-pylon did not make (paths relative to it, sorted): left by clearing, and named."""
    ours = {MARKER, PINS_DIR}
    found = [
        entry.name + ("/" if entry.is_dir(follow_symlinks=False) else "")
        for entry in _scan(root)
        if entry.name not in ours and not (_section_kind(entry.name) and entry.is_dir(follow_symlinks=False))
    ]
    return sorted(found + [name for section in sections(root) for name in section.foreign])


class Cleared(NamedTuple):
    removed: int
    freed: int
    left: list[str]  # what is not hatch-pylon's, relative to the root


def clear(root: Path) -> Cleared:
    """Remove every cache entry below ``root``, and temp files whose writers are gone; then the emptied
    folders, and the root if hatch-pylon created it. Nothing else is touched."""
    removed = freed = 0
    for section in sections(root):
        for path in section.entries:
            size = _size(path)
            try:
                path.unlink()
            except OSError:
                continue
            removed += 1
            freed += size
        _remove_abandoned(section.temps)
        with contextlib.suppress(OSError):  # fails when a foreign entry or a live writer's temp file is left
            (root / section.name).rmdir()
    left = foreign_entries(root)
    if not left and (root / MARKER).is_file():
        with contextlib.suppress(OSError):
            _sweep_pins(root / PINS_DIR)
            (root / PINS_DIR).rmdir()
            (root / MARKER).unlink()
            root.rmdir()
    return Cleared(removed, freed, left)


def _remove_abandoned(temps: list[Path]) -> None:
    for path in temps:
        with contextlib.suppress(OSError):  # raced with its writer finishing: fine
            if _abandoned(path):
                path.unlink()


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


def touch(entry: Path) -> None:
    """Mark ``entry`` used now: eviction removes the least recently used first."""
    with contextlib.suppress(OSError):
        os.utime(entry)


class Pins:
    """The entries this process holds, listed in a pin file locked while it lives: eviction leaves them.

    The file is made on the first ``hold`` (a process that never uses the cache writes nothing) and removed
    when the process exits; a killed process's lock goes with it, and the next eviction removes its file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.held: set[str] = set()
        self._file: TempFile | None = None

    def hold(self, entry: Path) -> None:
        name = entry.relative_to(self.root).as_posix()
        if name in self.held:
            return
        self.held.add(name)
        try:
            if self._file is None:
                folder = self.root / PINS_DIR
                make_cache_dirs(self.root, folder)
                self._file = TempFile(folder, 0o600)
                import atexit

                atexit.register(self._file.discard)
            self._file.file.write(f"{name}\n".encode())
            self._file.file.flush()
        except OSError:
            pass  # an unwritable cache only costs speed; without a pin file another process may evict it


def _sweep_pins(folder: Path) -> set[str]:
    """The entries live processes hold (their pin files' lines); dead processes' pin files are removed."""
    held: set[str] = set()
    for entry in _scan(folder):
        if not (_regular(entry) and is_own_temp(entry.name)):
            continue
        path = Path(entry.path)
        try:
            if _abandoned(path):
                path.unlink()
                continue
            with open(path, "rb") as file:
                held.update(line.decode("utf-8", "replace") for line in file.read(1 << 20).split(b"\n"))
        except OSError:
            continue
    return held


def trim(root: Path, limit: int, pins: Pins, say: Say) -> None:
    """Remove the least recently used entries until the cache's entries fit in ``limit`` bytes, except those
    a running process holds (its own included)."""
    entries: list[tuple[float, int, Path]] = []
    for section in sections(root):
        for path in section.entries:
            try:
                info = os.lstat(path)
            except OSError:
                continue
            entries.append((info.st_mtime, info.st_size, path))
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return
    held = _sweep_pins(root / PINS_DIR) | pins.held
    removed = freed = 0
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        if path.relative_to(root).as_posix() in held:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        removed += 1
        freed += size
    if removed:
        say(
            f"removed {plural(removed, 'least recently used cache entry', 'least recently used cache entries')} "
            f"({human_size(freed)}) to keep the cache within {human_size(limit)} (${LIMIT_VARIABLE})"
        )


def make_cache_dirs(root: Path, folder: Path) -> None:
    """``folder`` below ``root`` and its missing parents, private (0700); a root made here gets ``CACHEDIR.TAG``."""
    created = not os.path.lexists(root)
    make_private_dirs(folder)
    if created:
        with contextlib.suppress(OSError):
            atomic_write(root / MARKER, MARKER_TEXT.encode())


def keep(root: Path, path: Path, data: bytes | bytearray, what: str, say: Say) -> bool:
    """Write the cache entry ``path`` atomically, its missing folders created private (0700), the root with its
    ``CACHEDIR.TAG``; a read-only or full cache only costs speed, and ``say`` is told. Nothing is written into a
    folder others could change (its entries would be ignored anyway). Whether it was written."""
    try:
        make_cache_dirs(root, path.parent)
        if cache_problem(root, path.parent, folder=True):
            return False
        atomic_write(path, data)
    except OSError as exc:
        say(warning(f"not caching the {what} in {path.parent} ({os_reason(exc)})"))
        return False
    return True
