"""A content-addressed blob store in composectl's layout: ``blobs/<hex[0:2]>/<hex[2:]>``.

Writes are atomic (a private temp file in the target folder, then
``os.replace``), so a reader or a concurrent build never sees half a blob,
and a build killed mid-copy leaves only a stray temp file, never a bad blob.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

_CHUNK = 1 << 20
TEMP_PREFIX = ".tmp-"


def blob_relpath(digest: str) -> str:
    """The blob's path below the store root, POSIX-style."""
    return f"blobs/{digest[:2]}/{digest[2:]}"


def hash_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file as lower-case hex, read in fixed-size chunks."""
    hasher = hashlib.sha256()
    buffer = bytearray(_CHUNK)
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

    def path_for(self, digest: str) -> Path:
        return self.root / blob_relpath(digest)

    def stage(self, source: str | os.PathLike[str], digest: str) -> StagedBlob:
        """Make the blob ``digest`` present, copying it from ``source`` unless a good copy exists."""
        target = self.path_for(digest)
        self._ensure_folder(target.parent)
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

    def _ensure_folder(self, folder: Path) -> None:
        for parent in (self.root, self.root / "blobs", folder):
            if parent.exists() and not parent.is_dir():
                raise StoreError(f"blob store path {parent} exists but is not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create blob store folder {folder} ({exc.strerror or exc})") from None

    def _write(self, source: str | os.PathLike[str], digest: str, target: Path) -> None:
        temp = target.parent / f"{TEMP_PREFIX}{digest[:16]}-{os.getpid()}-{secrets.token_hex(4)}"
        hasher = hashlib.sha256()
        buffer = bytearray(_CHUNK)
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
