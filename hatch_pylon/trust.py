"""Make a bundle runnable by composectl: copy its blobs into a store and write trust entries.

composectl's trust store keeps one JSON file of verification metadata per
trusted digest at ``trust/<hex[0:2]>/<hex[2:]>.json``. Blobs are verified
against the plan before they are trusted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .bundle import load_bundle
from .store import BlobStore

TRUST_METADATA = {"signer": "hatch-pylon", "backend": "dev"}


def trust_bundle(folder: str | os.PathLike[str], store: str | os.PathLike[str]) -> list[Path]:
    """Stage every plan blob into ``store`` and trust it; returns the trust files written."""
    bundle = load_bundle(folder)  # re-hashes every blob, refuses on mismatch
    blob_store = BlobStore(store)
    written = []
    for digest, source in sorted(bundle.blobs.items()):
        blob_store.stage(source, digest)
        entry = Path(store) / "trust" / digest[:2] / f"{digest[2:]}.json"
        entry.parent.mkdir(parents=True, exist_ok=True)
        temp = entry.with_name(f".tmp-{entry.name}")
        temp.write_text(json.dumps(TRUST_METADATA, indent=2) + "\n", encoding="utf-8")
        os.replace(temp, entry)
        written.append(entry)
    return written
