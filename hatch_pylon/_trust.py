"""Make a bundle runnable by composectl: copy its blobs into a store and write trust entries.

composectl's trust store keeps one JSON file of verification metadata per
trusted digest at ``trust/<hex[0:2]>/<hex[2:]>.json``. The bundle goes
through the verification gate first; its blobs are copied into the store
as they are re-hashed, and every file is written through an exclusive temp
file and an atomic rename, never through a link already in the store.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import StoreError
from ._fs import atomic_write
from ._store import BlobStore, write_problem
from ._verify import verify_bundle

if TYPE_CHECKING:
    from ._sources import BundleFolder

TRUST_METADATA = {"signer": "hatch-pylon", "backend": "dev"}


def trust_bundle(bundle: BundleFolder | str | os.PathLike[str], store: str | os.PathLike[str]) -> list[Path]:
    """Verify ``bundle`` (what ``open_target`` yields, or a folder), stage every plan blob into ``store`` and
    trust it; returns the trust files written."""
    from ._compiler import optional_compiler

    verified = verify_bundle(bundle, compiler=optional_compiler).or_raise()
    blob_store = BlobStore(store)
    entry_body = (json.dumps(TRUST_METADATA, indent=2) + "\n").encode("utf-8")
    written = []
    for digest, source in sorted(verified.blobs.items()):
        blob_store.stage_file(source, digest)
        entry = Path(store) / "trust" / digest[:2] / f"{digest[2:]}.json"
        try:
            _real_folders(Path(store), entry.parent)
            atomic_write(entry, entry_body)
        except OSError as exc:
            raise write_problem(entry, exc) from None
        written.append(entry)
    return written


def _real_folders(store: Path, folder: Path) -> None:
    """Create ``trust/`` and its shard folder, refusing a link or a file where a folder belongs."""
    for path in (store, store / "trust", folder):
        if os.path.lexists(path) and not stat.S_ISDIR(os.lstat(path).st_mode) and path != store:
            raise StoreError(f"{path} is not a folder (a link or a file is in the way); nothing was written there")
        path.mkdir(exist_ok=True)
