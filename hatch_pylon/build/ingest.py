"""Stage components into the blob store during the one pass that reads them.

``Ingest`` hands the scanner a ``Sink`` per file. While the file is read,
parsed and hashed, the sink's *strategy* stages it:

- ``Tee``: bytes are written to an exclusive temp file as they stream by;
- ``KernelCopy`` (large files, where ``os.copy_file_range`` exists): a
  thread copies the file into the temp file while the scanner reads, hashes
  and parses *the copy* as it grows, so the blob is exactly the bytes that
  were hashed and the copy overlaps the hashing;
- ``Compare`` (the stat index predicts an existing blob): bytes are compared
  with it as they stream by; on the first difference the matching prefix is
  copied and the sink switches to a ``Tee``;
- ``Rehash`` (large file, predicted blob): a thread re-hashes the blob on
  another core while the scanner hashes the source; the blob is reused only
  if both digests agree, else the file is staged again from its source.

Once a file is read, its sink is *parked*: the temp file is closed and moved
into this build's staging folder (``hatch-pylon-park-*`` in the store, made by
``_fs.make_private_folder``: one locked marker protects every parked file from
other builds' sweepers), and a comparison's verdict is kept instead of its open
blob. So a build holds open only the files being read, whatever the number of
components (10,000 build under ``ulimit -n 256``).

``commit`` places the files the plan uses; everything else is removed on
exit, whatever the exception.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, Union, cast

from .._errors import StoreError
from .._fs import (
    CHUNK_SIZE,
    LARGE_FILE,
    TempFile,
    atomic_write,
    hash_file,
    make_private_folder,
    open_regular,
    os_reason,
    release_private_folder,
)
from .._layout import BLOBS_DIR, INDEX_FILE
from ..composectl.store import BlobStore, StagedBlob, write_problem

if TYPE_CHECKING:
    import io

_FIRST_COPY = 64 << 10  # a small first step, so the scanner can start on the header at once
# copy_file_range refuses some pairs of files (other filesystems, special files): copy by hand then.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}

Chunk = Union[bytes, memoryview]


class Strategy(Protocol):
    def reading(self, source: BinaryIO) -> BinaryIO:
        """The stream the scanner should read (the source itself, or the copy being made)."""

    def feed(self, data: Chunk) -> Strategy:
        """Take the next bytes; returns the strategy that continues (itself, or a replacement)."""

    def finish(self, digest: str, target: Path) -> str | None:
        """Place or reuse the blob: its status ("new", "reused", "repaired"), or None to stage it from the source."""

    def discard(self) -> None:
        """Stop any thread and remove any temp file."""

    def park(self, digest: str, folder: Path) -> Strategy:
        """The file is read: the strategy that finishes it holding no open file (a temp file moves to ``folder``)."""


class Parked:
    """A finished temp file, closed and waiting in the build's staging folder."""

    def __init__(self, path: Path, mode: int) -> None:
        self.path = path
        self.mode = mode

    def reading(self, source: BinaryIO) -> BinaryIO:
        return source

    def feed(self, data: Chunk) -> Strategy:
        return self

    def finish(self, digest: str, target: Path) -> str | None:
        status = "new"
        if os.path.lexists(target):
            status = "repaired"
            with contextlib.suppress(OSError):
                if os.path.isfile(target) and not os.path.islink(target) and _same_content(self.path, target):
                    self.discard()
                    return "reused"
        os.chmod(self.path, self.mode)
        os.replace(self.path, target)
        return status

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def park(self, digest: str, folder: Path) -> Strategy:
        return self


class Decided:
    """A comparison's verdict, kept once the file is read: reuse the blob, or stage from the source."""

    def __init__(self, status: str | None) -> None:
        self.status = status

    def reading(self, source: BinaryIO) -> BinaryIO:
        return source

    def feed(self, data: Chunk) -> Strategy:
        return self

    def finish(self, digest: str, target: Path) -> str | None:
        return self.status

    def discard(self) -> None:
        pass

    def park(self, digest: str, folder: Path) -> Strategy:
        return self


def _park_temp(temp: TempFile, folder: Path) -> Parked:
    """Move ``temp`` into ``folder`` (same filesystem: the store), then close it: renamed while still open and
    locked (``TempFile.commit``), so another build's sweep never finds it unlocked among the blobs."""
    parked = folder / temp.path.name
    try:
        temp.commit(parked)
    except BaseException:
        temp.discard()
        raise
    return Parked(parked, temp.mode)


def _place(temp: TempFile, target: Path) -> str:
    """Rename a finished temp file over ``target``, unless ``target`` already holds the same bytes."""
    status = "new"
    if os.path.lexists(target):
        status = "repaired"
        temp.file.flush()  # compared by path: its buffered tail must be in the file
        with contextlib.suppress(OSError):
            if os.path.isfile(target) and not os.path.islink(target) and _same_content(temp.path, target):
                temp.discard()
                return "reused"
    temp.commit(target)
    return status


def _same_content(first: Path, second: Path) -> bool:
    """Byte comparison in chunks: far cheaper than hashing both files again."""
    if first.stat().st_size != second.stat().st_size:
        return False
    with open(first, "rb") as a, open(second, "rb") as b:
        while True:
            chunk = a.read(CHUNK_SIZE)
            if chunk != b.read(CHUNK_SIZE):
                return False
            if not chunk:
                return True


class Tee:
    """Writes every byte into a private temp file that ``finish`` renames into place."""

    def __init__(self, store: BlobStore) -> None:
        self.temp = store_temp(store)

    def reading(self, source: BinaryIO) -> BinaryIO:
        return source

    def feed(self, data: Chunk) -> Strategy:
        self.temp.file.write(data)
        return self

    def finish(self, digest: str, target: Path) -> str | None:
        return _place(self.temp, target)

    def discard(self) -> None:
        self.temp.discard()

    def park(self, digest: str, folder: Path) -> Strategy:
        return _park_temp(self.temp, folder)


class Compare:
    """Checks the source against the blob the stat index predicts, as the bytes stream by."""

    def __init__(self, store: BlobStore, predicted: str) -> None:
        self.store = store
        self.predicted = predicted
        self.existing = store.open_blob(predicted)
        self.seen = 0
        self.other = bytearray()

    def reading(self, source: BinaryIO) -> BinaryIO:
        return source

    def feed(self, data: Chunk) -> Strategy:
        if self._matches(data):
            self.seen += len(data)
            return self
        return self._divert().feed(data)

    def _matches(self, data: Chunk) -> bool:
        # Comparing a memoryview goes element by element (~70x slower than memcmp), and a fresh 1 MiB
        # bytes per chunk costs page faults; full chunks are compared bytearray to bytearray instead.
        size = len(data)
        whole = data.obj if isinstance(data, memoryview) else None
        if isinstance(whole, bytearray) and len(whole) == size:
            if len(self.other) != size:
                self.other = bytearray(size)
            return cast("io.BufferedIOBase", self.existing).readinto(self.other) == size and self.other == whole
        return self.existing.read(size) == bytes(data)

    def _divert(self) -> Tee:
        """The prediction was wrong: copy the prefix that did match, then keep teeing."""
        tee = Tee(self.store)
        try:
            self.existing.seek(0)
            remaining = self.seen
            while remaining:
                chunk = self.existing.read(min(remaining, CHUNK_SIZE))
                if not chunk:
                    raise StoreError(f"blob {self.predicted} shrank while it was being compared")
                tee.temp.file.write(chunk)
                remaining -= len(chunk)
        except BaseException:
            tee.discard()
            raise
        finally:
            self.existing.close()
        return tee

    def finish(self, digest: str, target: Path) -> str | None:
        same = digest == self.predicted and self.existing.read(1) == b""
        self.existing.close()
        return "reused" if same else None

    def discard(self) -> None:
        self.existing.close()

    def park(self, digest: str, folder: Path) -> Strategy:
        return Decided(self.finish(digest, folder))


class Rehash:
    """Re-hashes the predicted blob on a thread while the scanner hashes the source."""

    def __init__(self, store: BlobStore, predicted: str) -> None:
        self.predicted = predicted
        self.blob = store.path_for(predicted)
        self.result = ""
        self.thread = threading.Thread(target=self._run, name="hatch-pylon-rehash", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # an unreadable blob is simply not reused
            self.result = hash_file(self.blob)

    def reading(self, source: BinaryIO) -> BinaryIO:
        return source

    def feed(self, data: Chunk) -> Strategy:
        return self

    def finish(self, digest: str, target: Path) -> str | None:
        self.thread.join()
        return "reused" if digest == self.predicted == self.result else None

    def discard(self) -> None:
        self.thread.join()

    def park(self, digest: str, folder: Path) -> Strategy:
        return Decided(self.finish(digest, folder))


class KernelCopy:
    """The kernel copies the source into a temp file on a thread; the scanner reads that copy as it grows."""

    def __init__(self, store: BlobStore) -> None:
        self.temp = store_temp(store)
        self.copy: _CopyThread | None = None

    def reading(self, source: BinaryIO) -> BinaryIO:
        self.copy = _CopyThread(source, self.temp.file)
        self.copy.folder = self.temp.path.parent
        return cast(BinaryIO, _Growing(self.copy, self.temp.path))  # reads, in order, what the copy wrote

    def feed(self, data: Chunk) -> Strategy:
        return self

    def finish(self, digest: str, target: Path) -> str | None:
        self._stop()
        return _place(self.temp, target)

    def _stop(self) -> None:
        copy, self.copy = self.copy, None
        if copy is not None and (error := copy.stop()) is not None:
            raise write_problem(self.temp.path, error)

    def discard(self) -> None:
        with contextlib.suppress(StoreError):  # the file is being thrown away anyway
            self._stop()
        self.temp.discard()

    def park(self, digest: str, folder: Path) -> Strategy:
        self._stop()
        return _park_temp(self.temp, folder)


def store_temp(store: BlobStore) -> TempFile:
    folder = store.root / BLOBS_DIR
    store.ensure_folder(folder)
    try:
        return TempFile(folder)
    except OSError as exc:
        raise StoreError(f"cannot create a temp file in {folder} ({os_reason(exc)})") from None


class _CopyThread:
    """Copies a source file into a temp file on a thread; ``wait_for`` blocks until enough bytes are there.

    Uses ``os.copy_file_range`` while the kernel accepts it, and plain reads
    and writes from the same offset on when it does not.
    """

    def __init__(self, source: BinaryIO, out: BinaryIO) -> None:
        self.source = os.dup(source.fileno())  # our own descriptor: the scanner may close its file first
        self.out = out.fileno()
        self.size = os.fstat(self.source).st_size
        self.copied = 0
        self.finished = False
        self.cancelled = False
        self.error: OSError | None = None
        self.folder: object = "the blob store"  # for messages
        self.progress = threading.Condition()
        self.waiting = False  # set by the reader, under the lock, before it sleeps
        self.thread = threading.Thread(target=self._run, name="hatch-pylon-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        kernel = getattr(os, "copy_file_range", None)
        try:
            while self.copied < self.size and not self.cancelled:
                count = min(self.size - self.copied, CHUNK_SIZE if self.copied else _FIRST_COPY)
                if kernel is not None:
                    try:
                        got = kernel(self.source, self.out, count, self.copied, self.copied)
                    except OSError as exc:
                        if exc.errno not in _NO_KERNEL_COPY:
                            raise
                        kernel = None
                        continue
                else:
                    got = self._copy_by_hand(count)
                if not got:
                    break  # the source shrank: the reader will say so
                self.copied += got
                # Only a reader that has caught up is woken: it sets ``waiting`` under the lock and then
                # looks at ``copied`` again, so an update it could miss here is one it will see there.
                if self.waiting:
                    with self.progress:
                        self.progress.notify_all()
        except OSError as exc:
            self.error = exc
        finally:
            os.close(self.source)
            with self.progress:
                self.finished = True
                self.progress.notify_all()

    def _copy_by_hand(self, count: int) -> int:
        os.lseek(self.source, self.copied, os.SEEK_SET)
        os.lseek(self.out, self.copied, os.SEEK_SET)
        data = os.read(self.source, count)
        view = memoryview(data)
        while view:
            view = view[os.write(self.out, view) :]
        return len(data)

    def wait_for(self, end: int) -> int:
        """Wait until ``end`` bytes are copied or the copy is over; how many bytes are there."""
        if self.copied < end and not self.finished:
            with self.progress:
                self.waiting = True
                self.progress.wait_for(lambda: self.copied >= end or self.finished)
                self.waiting = False
        if self.error is not None:
            raise StoreError(f"cannot write a copy of a component in {self.folder} ({os_reason(self.error)})")
        return self.copied

    def stop(self) -> OSError | None:
        self.cancelled = True
        self.thread.join()
        return self.error


class _Growing:
    """Reads the temp file only as far as the copy thread has written it (what ``wasm.binary._Reader`` needs)."""

    def __init__(self, copy: _CopyThread, temp: Path) -> None:
        self.copy = copy
        self.file = open(temp, "rb")  # noqa: SIM115 - closed by the sink
        self.position = 0

    def fileno(self) -> int:
        return self.file.fileno()

    def read(self, count: int) -> bytes:
        self.copy.wait_for(self.position + count)
        data = self.file.read(count)
        self.position += len(data)
        return data

    def readinto(self, view: memoryview) -> int:
        available = self.copy.wait_for(self.position + 1) - self.position
        if available <= 0:
            return 0
        got = self.file.readinto(view[: min(len(view), available)])
        self.position += got
        return got

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        raise OSError(errno.ESPIPE, "the growing copy is read in order")

    def close(self) -> None:
        self.file.close()


class Sink:
    """What the scanner feeds one file's bytes to; delegates to the current strategy."""

    source: object = "a component"  # for messages: the file read, and the folder its copy goes to
    folder: object = "the blob store"

    def __init__(self, strategy: Strategy, signature: tuple[int, int, int]) -> None:
        self.strategy = strategy
        self.signature = signature
        self.digest = ""
        self.stream: BinaryIO | None = None

    def reading(self, source: BinaryIO) -> BinaryIO:
        self.stream = self.strategy.reading(source)
        return self.stream

    def __call__(self, data: Chunk) -> None:
        try:
            self.strategy = self.strategy.feed(data)
        except OSError as exc:
            raise StoreError(f"cannot write a copy of {self.source} in {self.folder} ({os_reason(exc)})") from None

    def close_stream(self) -> None:
        if self.stream is not None and isinstance(self.stream, _Growing):
            self.stream.close()
        self.stream = None


class Ingest:
    """Stage components while they are read: one pass hashes, parses and copies each file.

    Use as a context manager around discovery and resolution; ``commit`` the
    files the plan uses. Whatever is not committed is removed on exit, so a
    failed build leaves no temp files behind.
    """

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.index_path = store.root / INDEX_FILE
        self.index = self._load_index()
        self.sinks: dict[str, Sink] = {}
        self.swept = store.sweep() if store.root.is_dir() else []
        self._parking: Path | None = None  # this build's staging folder in the store, made on first need
        self._lock = threading.Lock()  # files are scanned on several threads

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sink in self.sinks.values():
            with contextlib.suppress(Exception):  # cleanup must not hide the error that got us here
                sink.close_stream()
                sink.strategy.discard()
        self.sinks.clear()
        if self._parking is not None:
            release_private_folder(self._parking)
            self._parking = None

    def sink(self, path: str) -> Sink | None:
        """A sink to feed ``path``'s bytes to; None if the file cannot even be stat'ed (the reader says why)."""
        try:
            info = os.stat(path)
        except OSError:
            return None
        signature = (info.st_size, info.st_mtime_ns, info.st_ino)
        entry = self.index.get(path)
        predicted = entry[3] if isinstance(entry, list) and len(entry) == 4 and tuple(entry[:3]) == signature else None
        large = info.st_size >= LARGE_FILE
        strategy: Strategy
        if isinstance(predicted, str) and self.store.holds(predicted):
            strategy = Rehash(self.store, predicted) if large else Compare(self.store, predicted)
        elif large and hasattr(os, "copy_file_range"):
            strategy = KernelCopy(self.store)
        else:
            strategy = Tee(self.store)
        sink = self.sinks[path] = Sink(strategy, signature)
        sink.source, sink.folder = path, self.store.root / BLOBS_DIR
        return sink

    def scanned(self, path: str, digest: str) -> None:
        """``path`` is read and hashes to ``digest``: park its sink, so it holds no open file until ``commit``."""
        sink = self.sinks[path]
        sink.digest = digest
        sink.close_stream()
        try:
            sink.strategy = sink.strategy.park(digest, self._park_folder())
        except OSError as exc:
            raise StoreError(f"cannot stage a copy of {path} in {self.store.root} ({os_reason(exc)})") from None

    def failed(self, path: str) -> None:
        """``path`` could not be read as a component: drop what its sink holds."""
        sink = self.sinks.pop(path, None)
        if sink is not None:
            sink.close_stream()
            sink.strategy.discard()

    def _park_folder(self) -> Path:
        with self._lock:
            if self._parking is None:
                self._parking = make_private_folder("hatch-pylon-park-", self.store.root)
            return self._parking

    def commit(self, path: str) -> StagedBlob:
        sink = self.sinks.pop(path)
        sink.close_stream()
        target = self.store.path_for(sink.digest)
        try:
            self.store.ensure_folder(target.parent)
            status = sink.strategy.finish(sink.digest, target)
            if status is None:  # the predicted blob is damaged (or the source changed): copy it now
                sink.strategy.discard()
                staged = self.store.stage_file(path, sink.digest)
            else:
                staged = StagedBlob(sink.digest, target, status)
        except OSError as exc:
            sink.strategy.discard()
            raise write_problem(target, exc) from None
        except BaseException:
            sink.strategy.discard()
            raise
        self.index[path] = [*sink.signature, sink.digest]
        return staged

    def save_index(self) -> None:
        """Remember (size, mtime, inode) -> digest so an unchanged source is checked against its blob, not copied."""
        with contextlib.suppress(OSError):  # the index only saves time
            atomic_write(self.index_path, json.dumps(self.index, sort_keys=True).encode("utf-8"))

    def _load_index(self) -> dict[str, list[object]]:
        try:
            with open_regular(self.index_path, follow_symlinks=False) as file:
                data = json.loads(file.read())
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}
