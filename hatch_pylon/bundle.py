"""The whole pipeline, for any adapter: config -> components -> bindings -> blobs -> plan.

A *bundle* is a plan plus the blob files it names. It is either built
from the configured component files (``build_bundle``) or loaded, with
every digest re-checked, from a folder an earlier build wrote
(``load_bundle``: how a wheel is built from an sdist without the originals).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .components import Progress, discover
from .config import PylonConfig
from .errors import ResolveError, StoreError
from .ingest import Ingest
from .plan import Plan, parse_plan
from .resolve import Resolution, resolve
from .store import BlobStore, blob_relpath, hash_file

PLAN_FILE = "plan.json"
STORE_DIR = ".compose"  # composectl's default store, next to plan.json
SDIST_BUNDLE_DIR = ".pylon-bundle"  # where an sdist carries the bundle

Report = Callable[[str], None]


@dataclass(frozen=True)
class Bundle:
    plan: Plan
    plan_json: bytes
    blobs: dict[str, Path]  # digest -> a file holding exactly those bytes
    sizes: dict[str, int]
    resolution: Resolution | None = None  # None when loaded from an earlier build

    def layout(self, plan_file: Path, folder: str) -> dict[str, str]:
        """Source file -> archive path for ``plan.json`` and every blob below ``folder``."""
        mapping = {os.fspath(plan_file): f"{folder}/{PLAN_FILE}"}
        for digest in sorted(self.blobs):
            mapping[os.fspath(self.blobs[digest])] = f"{folder}/{STORE_DIR}/{blob_relpath(digest)}"
        return mapping

    def write_to(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``plan.json`` and a ``.compose`` store holding every blob into ``folder``."""
        folder = Path(folder)
        store = BlobStore(folder / STORE_DIR)
        for digest, source in sorted(self.blobs.items()):
            store.stage(source, digest)
        (folder / PLAN_FILE).write_bytes(self.plan_json)
        return folder

    def headline(self, plan_path: str) -> str:
        total = sum(self.sizes.values())
        noun = "component" if len(self.plan.components) == 1 else "components"
        return (f"{len(self.plan.components)} {noun} ({_size(total)}), {len(self.plan.bindings)} bindings; "
                f"plan -> {plan_path}")

    def summary(self) -> list[str]:
        """One line per component and per binding, for build logs and the CLI."""
        lines = []
        for component in self.plan.components:
            size = self.sizes[component.digest]
            role = " (root)" if component.id == self.plan.root else ""
            lines.append(f"component {component.id}{role}  sha256:{component.digest[:12]}  {_size(size)}")
        for b in self.plan.bindings:
            lines.append(f"binding   {b.consumer_id}: {b.import_name} -> {b.provider_id}: {b.export_name}")
        return lines


def plan_project(config: PylonConfig, ingest: Ingest | None = None, progress: Progress | None = None,
                 warn: Report = lambda _: None) -> tuple[Resolution, Plan]:
    """Read and resolve the components; without ``ingest`` no files are written."""
    catalog = discover(config, ingest, progress)
    for component_id, loser, winner in catalog.shadowed:
        warn(f"{loser} is not used: the id {component_id!r} is already taken by {winner}")
    resolution = resolve(catalog, config)
    return resolution, Plan.from_resolution(resolution, config.root.id, config.policy)


def build_bundle(config: PylonConfig, warn: Report = lambda _: None, progress: Progress | None = None) -> Bundle:
    """Resolve, then stage every chosen component into the configured blob store.

    Each component file is read once: hashing, parsing and staging share the pass.
    """
    with Ingest(BlobStore(config.store)) as ingest:
        for path in ingest.swept:
            warn(f"removed {path}, left behind by a build that did not finish")
        resolution, plan = plan_project(config, ingest, progress, warn)
        if config.validate == "types":
            _check_types(resolution)
        blobs: dict[str, Path] = {}
        for component in resolution.components:
            staged = ingest.commit(component.path)
            if staged.status == "repaired":
                warn(f"blob {staged.path} was corrupt (its bytes differ from {component.display}, which hashes "
                     "to its name); replaced it")
            blobs[component.file.digest] = staged.path
        ingest.save_index()
    sizes = {c.file.digest: c.file.size for c in resolution.components}
    return Bundle(plan, plan.to_json(), blobs, sizes, resolution)


def _check_types(resolution: Resolution) -> None:
    # wasmtime is only imported when type validation is asked for
    from .compiler import Compiler
    from .verify import type_problems

    files = {c.id: (Path(c.path), c.file.digest) for c in resolution.components}
    problems = type_problems(files, list(resolution.bindings), Compiler())
    if problems:
        raise ResolveError("bindings do not type-check:\n" + "\n".join(f"  - {p}" for p in problems))


def load_bundle(folder: str | os.PathLike[str]) -> Bundle:
    """Load ``folder/plan.json`` and its blobs from ``folder/.compose``, re-hashing every one."""
    folder = Path(folder)
    plan_path = folder / PLAN_FILE
    plan_json = plan_path.read_bytes()
    plan = parse_plan(plan_json, os.fspath(plan_path))
    store = BlobStore(folder / STORE_DIR)
    blobs: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    problems = []
    for component in plan.components:
        path = store.path_for(component.digest)
        if not path.is_file():
            problems.append(f"component {component.id!r}: blob {path} is missing")
            continue
        actual = hash_file(path)
        if actual != component.digest:
            problems.append(f"component {component.id!r}: blob {path} hashes to {actual}, not {component.digest}")
            continue
        blobs[component.digest] = path
        sizes[component.digest] = path.stat().st_size
    if problems:
        raise StoreError(f"bundle in {folder} failed verification:\n" + "\n".join(f"  - {p}" for p in problems))
    return Bundle(plan, plan_json, blobs, sizes)


def throttled_progress(say: Report, *, after: float = 2.0, every: float = 10.0,
                       clock: Callable[[], float] = time.monotonic) -> Progress:
    """A progress callback that stays silent for quick builds and speaks at most every ``every`` seconds."""
    start = clock()
    next_at = [start + after]

    def progress(files: int, size: int) -> None:
        now = clock()
        if now >= next_at[0]:
            next_at[0] = now + every
            say(f"reading components: {files} read, {_size(size)} hashed and staged ({now - start:.0f} s)")

    return progress


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
