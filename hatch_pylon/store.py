"""A content-addressed blob store in composectl's layout: ``blobs/<hex[0:2]>/<hex[2:]>``.

Writes are atomic (a private temp file in the target folder, then
``os.replace``), so a reader or a concurrent build never sees half a blob,
and a build killed mid-copy leaves only a stray temp file, never a bad blob.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

CHUNK_SIZE = 1 << 20  # bytes per read: files stream through buffers this big
TEMP_PREFIX = ".tmp-"
STALE_AFTER = 24 * 3600  # seconds; a temp file this old is garbage even if its pid was reused


def temp_name() -> str:
    """``.tmp-<pid>-<random>``: the pid lets a later build tell a dead writer's leftovers from a live one's."""
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"


def _writer_alive(name: str) -> bool:
    try:
        pid = int(name[len(TEMP_PREFIX):].split("-", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def blob_relpath(digest: str) -> str:
    """The blob's path below the store root, POSIX-style."""
    return f"blobs/{digest[:2]}/{digest[2:]}"


def hash_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file as lower-case hex, read in fixed-size chunks."""
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    with open(path, "rb") as file:
        while got := file.readinto(buffer):
            hasher.update(view[:got])
    return hasher.hexdigest()


@dataclass(frozen=True)
class StagedBlob:
    digest: str
    path: Path
    status: str  # "new", "reused" or "repaired"


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._folders: set[Path] = set()  # known to exist: saves a mkdir per blob

    def sweep(self) -> list[Path]:
        """Delete temp files left by writers that died (a killed build); returns what was removed."""
        removed = []
        now = time.time()
        for folder in (self.root, self.root / "blobs"):  # every temp file is made in one of these
            for path in folder.glob(f"{TEMP_PREFIX}*"):
                try:
                    stale = now - path.lstat().st_mtime > STALE_AFTER
                    if stale or not _writer_alive(path.name):
                        path.unlink()
                        removed.append(path)
                except OSError:
                    continue  # raced with its owner finishing: fine
        return removed

    def path_for(self, digest: str) -> Path:
        return self.root / blob_relpath(digest)

    def stage(self, source: str | os.PathLike[str], digest: str) -> StagedBlob:
        """Make the blob ``digest`` present, copying it from ``source`` unless a good copy exists."""
        target = self.path_for(digest)
        self.ensure_folder(target.parent)
        status = "new"
        if target.exists():
            try:
                if hash_file(target) == digest:
                    return StagedBlob(digest, target, "reused")
            except OSError as exc:
                raise StoreError(f"cannot read existing blob {target} ({exc.strerror or exc})") from None
            status = "repaired"
        self._write(source, digest, target)
        return StagedBlob(digest, target, status)

    def ensure_folder(self, folder: Path) -> None:
        if folder in self._folders:
            return
        for parent in (self.root, self.root / "blobs", folder):
            if parent.exists() and not parent.is_dir():
                raise StoreError(f"blob store path {parent} exists but is not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create blob store folder {folder} ({exc.strerror or exc})") from None
        self._folders.add(folder)

    def _write(self, source: str | os.PathLike[str], digest: str, target: Path) -> None:
        temp = self.root / "blobs" / temp_name()
        hasher = hashlib.sha256()
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        try:
            with open(source, "rb") as reader, open(temp, "xb") as writer:
                while got := reader.readinto(buffer):
                    hasher.update(view[:got])
                    writer.write(view[:got])
            if hasher.hexdigest() != digest:
                raise StoreError(
                    f"{source} changed while it was being staged (expected sha256 {digest}, "
                    f"copied {hasher.hexdigest()}); rebuild once the file is stable"
                )
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except OSError as exc:
            raise StoreError(f"cannot write blob {target} ({exc.strerror or exc})") from None
        finally:
            if temp.exists():
                temp.unlink()
