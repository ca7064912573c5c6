"""A content-addressed blob store in composectl's layout: ``blobs/<hex[0:2]>/<hex[2:]>``.

Writes go through ``_fs.TempFile`` (exclusive, randomly named, locked while
written) and an atomic rename, so a reader or a concurrent build never sees
half a blob, and a build killed mid-copy leaves only a temp file that the
next build can tell is abandoned. Nothing is written through a link: a
blob path that is a symbolic link or a special file is replaced, not
followed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .._errors import StoreError
from .._fs import NotRegularFile, TempFile, open_regular, os_reason, sha256_of, sweep_private_folders, sweep_temps
from .._layout import BLOBS_DIR, blob_relpath


@dataclass(frozen=True)
class StagedBlob:
    digest: str
    path: Path
    status: str  # "new", "reused" or "repaired"


def write_problem(path: Path, error: OSError) -> StoreError:
    """The one message for a failed write: the file, its folder and the system's reason."""
    return StoreError(f"cannot write {path.name} in {path.parent} ({os_reason(error)})")


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._folders: set[Path] = set()  # known to exist: saves a mkdir per blob

    def sweep(self) -> list[Path]:
        """Delete temp files (and staging folders) whose writers are gone (a killed build); returns what was removed."""
        return [*sweep_temps(self.root), *sweep_temps(self.root / BLOBS_DIR), *sweep_private_folders(self.root)]

    def path_for(self, digest: str) -> Path:
        return self.root / blob_relpath(digest)

    def holds(self, digest: str) -> bool:
        """True when the blob exists as a regular file (a link or anything else does not count)."""
        try:
            return stat.S_ISREG(os.lstat(self.path_for(digest)).st_mode)
        except OSError:
            return False

    def open_blob(self, digest: str) -> BinaryIO:
        """The blob for reading, refusing links and special files."""
        return open_regular(self.path_for(digest), follow_symlinks=False)

    def stage(self, source: BinaryIO, digest: str, limit: int | None = None) -> StagedBlob:
        """Make the blob ``digest`` present from the stream ``source``, unless a good copy exists.

        The bytes are hashed as they are copied; a stream that does not hash
        to ``digest`` leaves nothing behind.
        """
        target = self.path_for(digest)
        status = "new"
        if self.holds(digest):
            try:
                with self.open_blob(digest) as existing:
                    if sha256_of(existing)[0] == digest:
                        return StagedBlob(digest, target, "reused")
            except OSError as exc:
                raise StoreError(f"cannot read existing blob {target} ({os_reason(exc)})") from None
            status = "repaired"
        elif os.path.lexists(target):
            status = "repaired"  # a link or special file where a blob belongs: replaced, never followed
        self.ensure_folder(target.parent)
        try:
            with TempFile(self.root / BLOBS_DIR) as temp:
                actual, _ = sha256_of(source, limit, copy_to=temp.file)
                if actual != digest:
                    raise StoreError(f"the bytes for blob {digest} hash to {actual}; nothing was stored")
                temp.commit(target)
        except OSError as exc:
            raise write_problem(target, exc) from None
        return StagedBlob(digest, target, status)

    def stage_file(self, source: str | os.PathLike[str], digest: str) -> StagedBlob:
        try:
            with open_regular(source) as stream:
                return self.stage(stream, digest)
        except (NotRegularFile, FileNotFoundError) as exc:
            raise StoreError(f"cannot read {source} ({os_reason(exc)})") from None

    def ensure_folder(self, folder: Path) -> None:
        if folder in self._folders:
            return
        for parent in (self.root, self.root / BLOBS_DIR, folder):
            if os.path.lexists(parent) and not stat.S_ISDIR(os.lstat(parent).st_mode):
                raise StoreError(f"blob store path {parent} exists but is not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create blob store folder {folder} ({os_reason(exc)})") from None
        self._folders.add(folder)
