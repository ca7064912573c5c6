"""Portable file primitives: the one hash routine, the one atomic writer, safe opens, abandoned temp files.

Every OS-specific facility is looked up when it is used, never assumed, so
the same code runs on Linux, macOS and Windows (the tests run it with the
Linux-only calls deleted from ``os``):

- ``O_NOFOLLOW`` / ``O_NONBLOCK``: without them, ``lstat`` before the open and
  an inode comparison after it refuse links and special files;
- ``fcntl.flock``: a temp file's writer holds a lock on it, so a sweeper can
  tell a dead writer's file from a live one's (a PID says nothing across PID
  namespaces); a file whose writer could not lock it carries ``UNLOCKED_TAG``
  in its name, and for it, as everywhere without locks, only age decides;
- sweepers remove only what hatch-pylon made: a temp file whose whole name has
  the shape ``_born_locked`` gives (``is_own_temp``), a private folder whose name
  has ``mkdtemp``'s shape and that holds its creator's marker file; a name that
  merely starts like one (a user's ``.tmp-keep``, ``hatch-pylon-notes/``) is
  never judged, whatever its age;
- ``os.replace`` over a file another process holds open fails on Windows:
  the temp file is closed and the rename retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from ._errors import TooLarge
from ._layout import TEMP_PREFIX

if TYPE_CHECKING:
    import io
    from pathlib import Path

CHUNK_SIZE = 1 << 20  # bytes per read: files stream through buffers this big
LARGE_FILE = 4 << 20  # bytes; below this a helper thread costs more than overlapping saves
STALE_AFTER = 24 * 3600  # seconds after which any temp file is garbage, lock or no lock
_NASCENT_GRACE = 60.0  # seconds; a file still under its nascent name after this was left by a dead writer
NASCENT_PREFIX = ".tmp~"  # a new file's name until it is locked (see ``_born_locked``)
UNLOCKED_TAG = "nolock-"  # after the prefix: its writer could not lock it, so a free lock proves nothing
_TOKEN_HEX = 24  # hex digits of the random part of every name ``_born_locked`` gives


class NotRegularFile(OSError):
    """A path that is a link, a folder, a FIFO, a socket or a device where a regular file was required."""


def describe_mode(mode: int) -> str:
    for test, text in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return text
    return "not a regular file"


def os_reason(error: OSError) -> str:
    return error.strerror or str(error)


# -- reading ----------------------------------------------------------------------------------------------


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> BinaryIO:
    """Open a regular file for reading, never blocking on (or reading from) anything else.

    The path is stat'ed first, so a FIFO, socket or device is refused before
    ``open()`` could block on it; the descriptor is checked again after, so a
    file swapped in between is refused too. With ``follow_symlinks=False`` a
    symbolic link is refused as well.
    """
    before = os.stat(path) if follow_symlinks else os.lstat(path)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegularFile(0, f"is {describe_mode(before.st_mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise NotRegularFile(0, "changed while it was being opened")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def inside(root: Path, relative: str) -> Path:
    """``root/relative`` for a POSIX relative path with no ``..``, no absolute part and no empty part."""
    from pathlib import PurePosixPath  # here: the reader's start-up (inspect) does not need pathlib

    posix = PurePosixPath(relative)
    if (
        posix.is_absolute()
        or not posix.parts
        or any(part in ("..", ".") for part in posix.parts)
        or "\\" in relative
        or ":" in posix.parts[0]
    ):
        raise NotRegularFile(0, f"{relative!r} is not a plain relative path")
    return root.joinpath(*posix.parts)


def open_inside(root: Path, relative: str) -> BinaryIO:
    """Open ``root/relative`` only if every component below ``root`` is a real folder and the last a regular file.

    No symbolic link is followed anywhere below ``root``, so what is opened
    is inside ``root``.
    """
    path = inside(root, relative)
    current = root
    for part in relative.split("/")[:-1]:
        current = current / part
        mode = os.lstat(current).st_mode
        if not stat.S_ISDIR(mode):
            raise NotRegularFile(0, f"{current.relative_to(root).as_posix()} is {describe_mode(mode)}, not a folder")
    return open_regular(path, follow_symlinks=False)


def read_small(base: Path, relative: str, limit: int) -> bytes:
    """A small file below ``base`` (a plan, a record, a descriptor), opened without following a link.

    Raises ``FileNotFoundError`` or ``OSError`` as the open does, and ``TooLarge`` past ``limit`` bytes.
    """
    with open_inside(base, relative) as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"over the limit of {limit} bytes")
    return data


def new_hasher() -> hashlib._Hash:
    """A fresh SHA-256, the one digest every blob name, plan digest and check uses."""
    return hashlib.sha256()


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    """SHA-256 hex of bytes already in memory."""
    return hashlib.sha256(data).hexdigest()


def sha256_of(file: IO[bytes], limit: int | None = None, *, copy_to: IO[bytes] | None = None) -> tuple[str, int]:
    """(SHA-256 hex, size) of the rest of ``file``, streamed; optionally copied to ``copy_to`` on the way.

    Raises ``TooLarge`` once more than ``limit`` bytes have been read.
    """
    hasher = new_hasher()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    total = 0
    while got := cast("io.BufferedIOBase", file).readinto(buffer):
        total += got
        if limit is not None and total > limit:
            raise TooLarge(f"is over the limit of {limit} bytes")
        hasher.update(view[:got])
        if copy_to is not None:
            copy_to.write(view[:got])
    return hasher.hexdigest(), total


def hash_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a regular file as lower-case hex."""
    with open_regular(path) as file:
        return sha256_of(file)[0]


# -- writing ----------------------------------------------------------------------------------------------


def _lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False where locks are unavailable or held."""
    try:
        import fcntl
    except ImportError:
        return False
    flock = getattr(fcntl, "flock", None)
    if flock is None:
        return False
    try:
        flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def can_lock() -> bool:
    try:
        import fcntl
    except ImportError:
        return False
    return hasattr(fcntl, "flock")


def _born_locked(folder: Path, prefix: str) -> tuple[Path, int]:
    """An exclusive new file named ``prefix<random>`` that is locked before anyone can see that name.

    It is created under a name sweepers ignore (``.tmp~…``), locked, then
    renamed: a lock-free file under ``prefix`` therefore always means its
    writer is gone, with no window in which a live writer looks dead. Where
    the lock cannot be taken (no ``flock``, or a file system without locks)
    the name says so (``prefix`` + ``UNLOCKED_TAG``), and only age judges it.
    """
    import secrets  # here, not at the top: the CLI's start-up does not need it

    token = secrets.token_hex(_TOKEN_HEX // 2)
    nascent = folder / f"{NASCENT_PREFIX}{token}"
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(nascent, flags, 0o600)
    try:
        tag = "" if _lock(fd) else UNLOCKED_TAG
        path = folder / f"{prefix}{tag}{token}"
        os.replace(nascent, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(nascent)
        raise
    return path, fd


class TempFile:
    """An exclusive, randomly named ``.tmp-*`` file in ``folder``, locked while its writer lives.

    Created with ``O_EXCL`` (and ``O_NOFOLLOW`` where it exists), so it is
    never a file or link someone planted. ``commit`` renames it over its
    target; anything else removes it. Use as a context manager.
    """

    def __init__(self, folder: Path, mode: int = 0o644) -> None:
        self.folder = folder
        self.mode = mode
        self.path, fd = _born_locked(folder, TEMP_PREFIX)
        self.file: BinaryIO = os.fdopen(fd, "wb")  # write-only buffering: read-write (w+b) costs ~20% per MiB
        self.done = False

    def __enter__(self) -> TempFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.done:
            self.discard()

    def commit(self, target: Path) -> None:
        """Make ``target`` this file's bytes, atomically."""
        self.file.flush()
        os.chmod(self.path, self.mode)
        try:
            os.replace(self.path, target)  # POSIX: renamed while still open and locked
        except PermissionError:
            self.file.close()  # Windows renames only closed files, and not over open ones: retry a while
            for delay in (0.01, 0.05, 0.2, 0.5):
                time.sleep(delay)
                with contextlib.suppress(PermissionError):
                    os.replace(self.path, target)
                    break
            else:
                os.replace(self.path, target)
        self.file.close()
        self.done = True

    def discard(self) -> None:
        """Remove the temp file; never raises for a file being thrown away (a full disk fails the close's flush)."""
        try:
            with contextlib.suppress(OSError):
                self.file.close()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.done = True


def atomic_write(target: Path, data: bytes | bytearray, mode: int = 0o644) -> None:
    """Write ``data`` to ``target`` through an exclusive temp file and an atomic rename; nothing left on failure."""
    with TempFile(target.parent, mode) as temp:
        temp.file.write(data)
        temp.commit(target)


def _own_name(prefix: str) -> re.Pattern[str]:
    """The whole-name shape ``_born_locked(folder, prefix)`` gives: prefix, optional lock-less tag, random hex."""
    return re.compile(f"{re.escape(prefix)}(?:{re.escape(UNLOCKED_TAG)})?[0-9a-f]{{{_TOKEN_HEX}}}")


_OWN_TEMP = _own_name(TEMP_PREFIX)
_OWN_NASCENT = re.compile(f"{re.escape(NASCENT_PREFIX)}[0-9a-f]{{{_TOKEN_HEX}}}")


def is_own_temp(name: str) -> bool:
    """Whether ``name`` is, in full, the name of a temp file hatch-pylon writes (``TempFile``, or one being born).

    Sweepers and the cache judge by this, never by the prefix alone: a user's ``.tmp-keep`` is not ours.
    """
    return bool(_OWN_TEMP.fullmatch(name) or _OWN_NASCENT.fullmatch(name))


def sweep_temps(folder: Path) -> list[Path]:
    """Remove hatch-pylon's temp files (``is_own_temp``) in ``folder`` whose writers are gone; returns what was
    removed. Anything else, whatever its name starts with or its age, is left alone."""
    removed: list[Path] = []
    root_type = type(folder)
    try:
        entries = [entry for entry in os.scandir(folder) if is_own_temp(entry.name)]
    except OSError:
        return removed
    for entry in entries:
        path = root_type(entry.path)
        with contextlib.suppress(OSError):  # raced with its writer finishing: fine
            if entry.is_file(follow_symlinks=False) and _abandoned(path):
                os.unlink(path)
                removed.append(path)
    return removed


def _abandoned(path: Path) -> bool:
    info = os.lstat(path)
    age = time.time() - info.st_mtime
    if age > STALE_AFTER:
        return True
    if path.name.startswith(NASCENT_PREFIX):
        return age > _NASCENT_GRACE  # its writer died between creating and naming it
    if not can_lock() or UNLOCKED_TAG in path.name:
        return False  # without a lock only age can tell
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        return _lock(fd)  # free: its writer is gone (a live one locked it before it had this name)
    finally:
        os.close(fd)


FOLDER_MARKER = ".hatch-pylon-alive"  # inside each private folder; its creator holds a lock on it
SWEPT_PREFIX = "hatch-pylon-"  # private folders of every kind start with this
# A private folder's whole name: SWEPT_PREFIX, its kind's words ("unpack-", ...), mkdtemp's 8 random characters.
_OWN_FOLDER = re.compile(f"{re.escape(SWEPT_PREFIX)}(?:[a-z]+-)*[a-z0-9_]{{8}}")
_OWN_MARKER = _own_name(FOLDER_MARKER)
_markers: dict[Path, int] = {}


def make_private_folder(prefix: str, parent: Path | None = None) -> Path:
    """A fresh folder (0700) holding a locked marker file, in the temp dir or ``parent``; abandoned ones (killed
    builds) are swept first. ``prefix`` is ``SWEPT_PREFIX`` followed by lower-case words, each ending in ``-``.

    The folder is the caller's to remove (``release_private_folder``); if the
    process dies instead, its lock goes with it and the next call sweeps the folder.
    """
    import tempfile
    from pathlib import Path

    where = Path(tempfile.gettempdir()) if parent is None else parent
    sweep_private_folders(where)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
    try:
        _, fd = _born_locked(path, FOLDER_MARKER)
    except OSError:
        return path  # no marker: never swept (the caller still removes it)
    _markers[path] = fd
    return path


def release_private_folder(path: Path) -> None:
    """Remove a folder from ``make_private_folder`` and drop its lock."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    fd = _markers.pop(path, None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def release_all_private_folders() -> None:
    """Remove every folder this process made with ``make_private_folder`` (for an exit that skips unwinding)."""
    for path in list(_markers):
        release_private_folder(path)


def sweep_private_folders(temp_dir: Path) -> list[Path]:
    """Remove private folders in ``temp_dir`` whose creators are gone; returns what was removed.

    A folder is judged only when its whole name has the private folders' shape and it holds exactly one
    marker file of the shape ``make_private_folder`` writes: a folder that merely starts with
    ``hatch-pylon-`` (a user's ``hatch-pylon-notes/``) is never removed, however old.
    """
    import shutil

    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(temp_dir) if _OWN_FOLDER.fullmatch(e.name)]
    except OSError:
        return removed
    for entry in entries:
        path = type(temp_dir)(entry.path)
        with contextlib.suppress(OSError):
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or path in _markers:
                continue
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                continue  # someone else's: not ours to judge
            if _folder_abandoned(path, info):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _folder_abandoned(path: Path, info: os.stat_result) -> bool:
    """Whether ``path`` is a private folder whose creator is gone: it holds its marker (without one it is not
    known to be ours, and is left), and the marker's lock is free or the folder is over a day old."""
    markers = [e for e in os.scandir(path) if _OWN_MARKER.fullmatch(e.name)]
    if len(markers) != 1 or not markers[0].is_file(follow_symlinks=False):
        return False
    if time.time() - info.st_mtime > STALE_AFTER:
        return True
    if not can_lock() or UNLOCKED_TAG in markers[0].name:
        return False  # made without a lock: age decides
    fd = os.open(markers[0].path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        return _lock(fd)  # the lock was free: its creator is gone
    finally:
        os.close(fd)


@contextlib.contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    """A fresh temp folder, removed on every exit path (see ``_cleanup`` for signals)."""
    path = make_private_folder(prefix)
    try:
        yield path
    finally:
        release_private_folder(path)


# -- private caches ---------------------------------------------------------------------------------------


def private_problem(info: os.stat_result, *, folder: bool) -> str | None:
    """Why a cache file or folder with this ``lstat`` must not be trusted, or None.

    It must be a real file (folder), not a link; where the OS has user ids (``os.getuid``), it must be
    the current user's and not writable by group or others. Without user ids (Windows) only the type is
    checked: the cache lives in the user's own profile, whose access control lists keep others out.
    """
    expected = stat.S_ISDIR if folder else stat.S_ISREG
    if not expected(info.st_mode):
        return f"is {describe_mode(info.st_mode)}, not a {'folder' if folder else 'regular file'}"
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return None
    if info.st_uid != getuid():
        return f"owned by user id {info.st_uid}, not by you ({getuid()})"
    writers = [who for bit, who in ((stat.S_IWGRP, "group"), (stat.S_IWOTH, "others")) if info.st_mode & bit]
    if writers:
        return f"writable by {' and '.join(writers)} (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def make_private_dirs(path: Path) -> None:
    """``path`` and its missing parents, each new one created private (0700); existing ones are left as they are."""
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process: judged when used
            os.mkdir(folder, 0o700)
