"""The whole pipeline, for any adapter: config -> components -> bindings -> blobs -> plan.

A *bundle* is a plan plus the blob files it names. ``build_bundle`` makes
one from the configured component files; a bundle shipped in an sdist is
instead taken through the verification gate (``_verify``), which hands back
the same ``Bundle``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._components import Progress, discover
from ._config import PylonConfig
from ._errors import ResolveError, bullets
from ._ingest import Ingest
from ._layout import PLAN_FILE, SDIST_BUNDLE_DIR, STORE_DIR, blob_relpath
from ._plan import Plan, PlanComponent
from ._resolve import Resolution, resolve
from ._store import BlobStore

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
            store.stage_file(source, digest)
        (folder / PLAN_FILE).write_bytes(self.plan_json)
        return folder

    def headline(self, plan_path: str) -> str:
        total = sum(self.sizes.values())
        noun = "component" if len(self.plan.components) == 1 else "components"
        return (f"{len(self.plan.components)} {noun} ({_size(total)}), {len(self.plan.bindings)} bindings; "
                f"plan -> {plan_path}")

    def summary(self) -> list[str]:
        """One line per component and per binding, for build logs and the CLI."""
        return summary_lines(self.plan, self.sizes)


def summary_lines(plan: Plan, sizes: dict[str, int]) -> list[str]:
    lines = []
    for component in plan.components:
        role = " (root)" if component.id == plan.root else ""
        size = _size(sizes[component.digest])
        lines.append(f"component {component.id}{role}  sha256:{component.digest[:12]}  {size}")
    for b in plan.bindings:
        lines.append(f"binding   {b.consumer_id}: {b.import_name} -> {b.provider_id}: {b.export_name}")
    return lines


def plan_project(config: PylonConfig, ingest: Ingest | None = None, progress: Progress | None = None,
                 warn: Report = lambda _: None) -> tuple[Resolution, Plan]:
    """Read and resolve the components; without ``ingest`` no files are written."""
    catalog = discover(config, ingest, progress)
    for component_id, loser, winner in catalog.shadowed:
        warn(f"{loser} is not used: the id {component_id!r} is already taken by {winner}")
    resolution = resolve(catalog, config)
    components = (PlanComponent(c.id, c.file.digest) for c in resolution.components)
    return resolution, Plan.create(config.root.id, components, resolution.bindings, config.policy, config.linkage)


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
    from ._compiler import optional_compiler
    from ._typecheck import type_problems

    files = {c.id: (Path(c.path), c.file.digest) for c in resolution.components}
    report = type_problems(files, list(resolution.bindings), optional_compiler())
    if report.problems:
        raise ResolveError("bindings do not type-check:\n" + bullets(report.problems))
    if report.skipped:
        raise ResolveError(f"cannot type-check {', '.join(report.skipped)} without wasmtime; install "
                           "hatch-pylon[run] or set validate = \"names\"")


def shipped_bundle(project_root: Path, staging: Path, report: Report = lambda _: None) -> Bundle | None:
    """The bundle an unpacked sdist carries, through the verification gate; None when this is no sdist.

    Blobs are copied into ``staging`` as they are re-hashed, and the plan is
    re-written from the parsed model, so the wheel holds exactly what was
    verified and nothing else from the sdist.
    """
    prebuilt = project_root / SDIST_BUNDLE_DIR
    if not ((project_root / "PKG-INFO").is_file() and os.path.lexists(prebuilt / PLAN_FILE)):
        return None
    from ._compiler import optional_compiler
    from ._verify import verify_bundle

    report(f"using the bundle shipped in the sdist ({SDIST_BUNDLE_DIR}/)")
    verified = verify_bundle(prebuilt, copy_to=staging, compiler=optional_compiler)
    verified.or_raise(f"the bundle in {SDIST_BUNDLE_DIR}/")
    assert verified.plan is not None
    return Bundle(verified.plan, verified.plan.to_json(), dict(verified.blobs), dict(verified.sizes))


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
