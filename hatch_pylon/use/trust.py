"""Stage a bundle for composectl: copy its blobs into a store and write composectl trust entries.

What is written is composectl's layout (``compose-core``'s ``BlobStore`` and
``TrustStore``): ``blobs/<hex[0:2]>/<hex[2:]>`` and, for each blob,
``trust/<hex[0:2]>/<hex[2:]>.json`` holding ``serde_json::to_string_pretty``
of its ``VerificationMetadata`` (``{"signer": "hatch-pylon", "backend": "dev"}``,
two-space indent, no trailing newline, no ``timestamp``), byte for byte what
``TrustStore::trust_digest`` writes. ``--store .compose`` is composectl's
default ``blob_dir`` and ``trust_dir`` parent.

What it does not do: composectl's ``TrustStore`` at its current revision
keeps the trusted set in memory and never reads ``trust/*.json`` back (``new``
only creates the folder), so a new composectl process does not see these
entries. composectl consults trust only for what it links at run time
(runtime linkage: the endpoint provider a binding names, and each component a
linker guest resolves); a launcher that trusts through composectl's API calls
``TrustStore::trust_digest`` for those digests, which ``trust`` prints with
the plan digest.

The bundle goes through the verification gate first; its blobs are copied
into the store as they are re-hashed, and every file is written through an
exclusive temp file and an atomic rename, never through a link already in
the store.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import StoreError
from .._fs import atomic_write
from .._records import NamedTuple
from ..bundle.verify import verify_bundle
from ..composectl.store import BlobStore, write_problem

if TYPE_CHECKING:
    from ..bundle.sources import BundleFolder

TRUST_METADATA = {"signer": "hatch-pylon", "backend": "dev"}
# serde_json::to_string_pretty of composectl's VerificationMetadata, as TrustStore::trust_digest writes it
TRUST_ENTRY = json.dumps(TRUST_METADATA, indent=2).encode("utf-8")
NOT_LOADED = (
    "staged for composectl in {store}: the plan's blobs in {store}/blobs (composectl's blob store, where it reads "
    "the components a plan names) and a trust entry per blob in TrustStore's on-disk format; composectl keeps "
    "trust in memory and does not load trust/*.json, so a launcher trusts the digests above with "
    "TrustStore::trust_digest before it runs the plan"
)


class Trusted(NamedTuple):
    """What ``trust_bundle`` staged: the plan's digest, and each component with its digest and trust entry."""

    plan_digest: str
    entries: tuple[tuple[str, str, Path], ...]  # (component id, digest, trust entry), by id

    def lines(self) -> list[str]:
        lines = [f"plan digest {self.plan_digest}"]
        lines += [f"component {cid!r}  sha256 {digest}  {entry}" for cid, digest, entry in self.entries]
        return lines


def trust_bundle(bundle: BundleFolder | str | os.PathLike[str], store: str | os.PathLike[str]) -> Trusted:
    """Verify ``bundle`` (what ``open_target`` yields, or a folder), stage every plan blob into ``store`` and
    write its trust entry."""
    from ..wasm.compiler import optional_compiler

    verified = verify_bundle(bundle, compiler=optional_compiler).or_raise()
    assert verified.plan is not None
    blob_store = BlobStore(store)
    written: dict[str, Path] = {}
    for digest, source in sorted(verified.blobs.items()):
        blob_store.stage_file(source, digest)
        entry = Path(store) / "trust" / digest[:2] / f"{digest[2:]}.json"
        try:
            _real_folders(Path(store), entry.parent)
            atomic_write(entry, TRUST_ENTRY)
        except OSError as exc:
            raise write_problem(entry, exc) from None
        written[digest] = entry
    entries = tuple((c.id, c.digest, written[c.digest]) for c in verified.plan.components)
    return Trusted(verified.plan.plan_digest(), entries)


def _real_folders(store: Path, folder: Path) -> None:
    """Create ``trust/`` and its shard folder, refusing a link or a file where a folder belongs."""
    for path in (store, store / "trust", folder):
        if os.path.lexists(path) and not stat.S_ISDIR(os.lstat(path).st_mode) and path != store:
            raise StoreError(f"{path} is not a folder (a link or a file is in the way); nothing was written there")
        path.mkdir(exist_ok=True)
