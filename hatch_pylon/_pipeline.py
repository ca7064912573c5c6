"""The whole pipeline, for any adapter: config -> components -> bindings -> blobs -> plan.

A *bundle* is a plan plus the blob files it names. ``build_bundle`` makes
one from the configured component files; a bundle shipped in an sdist is
instead taken through the verification gate (``_verify``), which hands back
the same ``Bundle``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ._components import Progress, discover
from ._config import PylonConfig
from ._errors import (
    PylonError,
    ResolveError,
    Say,
    VerificationError,
    bullets,
    human_size,
    plural,
    say_nothing,
    warning,
)
from ._fs import TempFile, atomic_write, make_private_folder, open_inside, sha256_of
from ._layout import META_FILE, PLAN_FILE, SDIST_BUNDLE_DIR, STORE_DIR, blob_relpath, composed_name
from ._plan import Plan, PlanComponent
from ._resolve import Resolution, resolve

if TYPE_CHECKING:
    from ._ingest import Ingest


class Bundle(NamedTuple):
    plan: Plan
    plan_json: bytes
    blobs: dict[str, Path]  # digest -> a file holding exactly those bytes
    sizes: dict[str, int]
    resolution: Resolution | None = None  # None when loaded from an earlier build
    meta_json: bytes = b""  # pylon.json: how the build judged the bundle (always bundled)
    composed: Path | None = None  # the composed component, when `compose = true`

    def write_records(self, folder: Path) -> Path:
        """Write ``plan.json`` and ``pylon.json`` (mode 0644) into ``folder``; the plan file's path."""
        for name, data in ((PLAN_FILE, self.plan_json), (META_FILE, self.meta_json)):
            (folder / name).write_bytes(data)
            os.chmod(folder / name, 0o644)
        return folder / PLAN_FILE

    def layout(self, plan_file: Path, folder: str) -> dict[str, str]:
        """Source file -> archive path for ``plan.json``, ``pylon.json`` (next to the plan file), the composed
        component and every blob below ``folder``."""
        mapping = {os.fspath(plan_file): f"{folder}/{PLAN_FILE}"}
        if self.meta_json:
            mapping[os.fspath(plan_file.parent / META_FILE)] = f"{folder}/{META_FILE}"
        if self.composed is not None:
            mapping[os.fspath(self.composed)] = f"{folder}/{composed_name(self.plan.root)}"
        for digest in sorted(self.blobs):
            mapping[os.fspath(self.blobs[digest])] = f"{folder}/{STORE_DIR}/{blob_relpath(digest)}"
        return mapping

    def write_to(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``plan.json``, ``pylon.json``, the composed component and a ``.compose`` store into ``folder``."""
        folder = Path(folder)
        from ._store import BlobStore

        store = BlobStore(folder / STORE_DIR)
        for digest, source in sorted(self.blobs.items()):
            store.stage_file(source, digest)
        (folder / PLAN_FILE).write_bytes(self.plan_json)
        if self.meta_json:
            (folder / META_FILE).write_bytes(self.meta_json)
        if self.composed is not None:
            target = folder / composed_name(self.plan.root)
            if os.path.abspath(target) != os.path.abspath(self.composed):
                import shutil

                shutil.copyfile(self.composed, target)
        return folder

    def headline(self, plan_path: str) -> str:
        total = sum(self.sizes.values())
        return (
            f"{plural(len(self.plan.components), 'component')} ({human_size(total)}), "
            f"{plural(len(self.plan.bindings), 'binding')}; plan -> {plan_path}"
        )

    def summary(self) -> list[str]:
        """One line per component and per binding, for build logs and the CLI."""
        lines = summary_lines(self.plan, self.sizes)
        if self.composed is not None:
            size = os.path.getsize(self.composed)
            digest = json.loads(self.meta_json)["composed"]["digest"]
            lines.append(f"composed  {self.composed.name}  sha256:{digest[:12]}  {human_size(size)}")
        return lines


def summary_lines(plan: Plan, sizes: dict[str, int]) -> list[str]:
    lines = []
    for component in plan.components:
        role = " (root)" if component.id == plan.root else ""
        size = human_size(sizes[component.digest])
        lines.append(f"component {component.id}{role}  sha256:{component.digest[:12]}  {size}")
    for b in plan.bindings:
        lines.append(f"binding   {b.consumer_id}: {b.import_name} -> {b.provider_id}: {b.export_name}")
    return lines


def plan_project(
    config: PylonConfig, ingest: Ingest | None = None, progress: Progress | None = None, say: Say = say_nothing
) -> tuple[Resolution, Plan]:
    """Read and resolve the components; without ``ingest`` no files are written."""
    catalog = discover(config, ingest, progress)
    for component_id, loser, winner in catalog.shadowed:
        say(warning(f"{loser} is not used: the id {component_id!r} is already taken by {winner}"))
    resolution = resolve(catalog, config)
    if config.validate == "types":
        _check_types(resolution, say)
    urls = {c.id: c.fetch_url for c in config.components}
    components = (PlanComponent(c.id, c.file.digest, urls.get(c.id)) for c in resolution.components)
    plan = Plan.create(
        config.root.id, components, resolution.bindings, config.policy, config.linkage, secrets=config.secrets
    )
    return resolution, plan


def build_bundle(
    config: PylonConfig, say: Say = say_nothing, progress: Progress | None = None, staging: Path | None = None
) -> Bundle:
    """Resolve, then stage every chosen component into the configured blob store.

    Each component file is read once: hashing, parsing and staging share the pass.
    With ``compose = true`` the graph is then composed from the staged blobs into
    ``staging`` (a temporary folder removed at exit when not given).
    """
    from ._ingest import Ingest
    from ._store import BlobStore
    from ._verify import BundleMeta

    with Ingest(BlobStore(config.store)) as ingest:
        for path in ingest.swept:
            say(warning(f"removed {path}, left behind by a build that did not finish"))
        resolution, plan = plan_project(config, ingest, progress, say)
        blobs: dict[str, Path] = {}
        for component in resolution.components:
            staged = ingest.commit(component.path)
            if staged.status == "repaired":
                say(
                    warning(
                        f"blob {staged.path} was corrupt (its bytes differ from {component.display}, which hashes "
                        "to its name); replaced it"
                    )
                )
            blobs[component.file.digest] = staged.path
        ingest.save_index()
    sizes = {c.file.digest: c.file.size for c in resolution.components}
    meta = BundleMeta(ignore_imports=config.ignore_imports)
    composed_path = None
    if config.compose:
        from ._compose import compose_plan

        composed = compose_plan(plan, blobs, ignore_imports=config.ignore_imports, strip=config.strip)
        if staging is None:
            staging = make_private_folder("hatch-pylon-")  # swept if this process is killed
            import atexit
            import shutil

            atexit.register(shutil.rmtree, staging, True)
        composed_path = staging / composed_name(plan.root)
        atomic_write(composed_path, composed.data)
        meta = BundleMeta(config.ignore_imports, composed_path.name, composed.digest, config.strip)
    return Bundle(plan, plan.to_json(), blobs, sizes, resolution, meta.to_json(), composed_path)


def _check_types(resolution: Resolution, say: Say) -> None:
    """Type-check every binding from the types decoded from the binaries; nothing is compiled.

    A component the decoder does not model is not compiled either (a build must not need wasmtime):
    each binding it takes part in is named in a warning, and ``verify`` checks it with wasmtime.
    """
    from ._typecheck import type_problems

    files = {c.id: (Path(c.path), c.file.digest) for c in resolution.components}
    report = type_problems(files, list(resolution.bindings), None)
    if report.problems:
        raise ResolveError("bindings do not type-check:\n" + bullets(report.problems))
    undecided = set(report.skipped)
    for b in resolution.bindings:
        if b.consumer_id in undecided or b.provider_id in undecided:
            who = sorted({b.consumer_id, b.provider_id} & undecided)
            say(
                warning(
                    f"binding {b.consumer_id} -> {b.provider_id} ({b.import_name}) is not type-checked: the types of "
                    f"{' and '.join(who)} cannot be decoded from the binary; hatch-pylon verify checks it with wasmtime"
                )
            )


def shipped_bundle(project_root: Path, staging: Path, say: Say = say_nothing) -> Bundle | None:
    """The bundle an unpacked sdist carries, through the verification gate; None when this is no sdist.

    Blobs are copied into ``staging`` as they are re-hashed, and the plan is
    re-written from the parsed model, so the wheel holds exactly what was
    verified and nothing else from the sdist.
    """
    prebuilt = project_root / SDIST_BUNDLE_DIR
    if not ((project_root / "PKG-INFO").is_file() and os.path.lexists(prebuilt / PLAN_FILE)):
        return None
    from ._compiler import optional_compiler
    from ._sources import BundleFolder
    from ._verify import verify_bundle

    say(f"using the bundle shipped in the sdist ({SDIST_BUNDLE_DIR}/)")
    label = f"the bundle in {SDIST_BUNDLE_DIR}/"
    bundle = BundleFolder(prebuilt, label, "sdist")
    verified = verify_bundle(bundle, copy_to=staging, compiler=optional_compiler).or_raise()
    assert verified.plan is not None
    composed = None
    if verified.meta.composed is not None:  # copied as it is re-hashed: the wheel gets the bytes checked
        if not verified.report.composed_proven:
            from ._compose import install_hint

            raise VerificationError(
                label,
                [
                    f"composed component {verified.meta.composed}: cannot be proven without wasm-tools, so it "
                    f"is not shipped ({install_hint()})"
                ],
            )
        composed = staging / verified.meta.composed
        with open_inside(prebuilt, verified.meta.composed) as source, TempFile(staging) as temp:
            digest, _ = sha256_of(source, copy_to=temp.file)
            if digest != verified.meta.composed_digest:
                raise VerificationError(label, [f"{verified.meta.composed} changed after it was verified"])
            temp.commit(composed)
    return Bundle(
        verified.plan,
        verified.plan.to_json(),
        dict(verified.blobs),
        dict(verified.sizes),
        meta_json=verified.meta.to_json(),
        composed=composed,
    )


def adapter_bundle(config: PylonConfig, staging: Path, say: Say) -> Bundle:
    """The one build entry of every adapter (hatchling hook, setuptools): the bundle a build packages.

    The placement is checked first, its messages naming the table the configuration came from; then
    an unpacked sdist's shipped bundle is taken through the gate, else the configured components
    are built. A build of an unpacked sdist that ships no bundle says why it has none.
    """
    from ._placement import check_placement

    check_placement(config.project_root, config.destination, config.store, key=config.table)
    shipped = shipped_bundle(config.project_root, staging, say)
    if shipped is not None:
        return shipped
    try:
        return build_bundle(config, say=say, progress=throttled_progress(say), staging=staging)
    except PylonError as error:
        if not (config.project_root / "PKG-INFO").is_file():
            raise
        raise PylonError(f"{error}\n{_no_shipped_bundle_hint(config.table)}") from None


def _no_shipped_bundle_hint(table: str) -> str:
    from ._schema import SETUPTOOLS_TABLE

    if table == SETUPTOOLS_TABLE:
        return (
            f"This is an unpacked sdist without a {SDIST_BUNDLE_DIR}/ bundle: hatch-pylon did not run when the "
            "sdist was made. List hatch-pylon in build-system.requires and build the sdist again."
        )
    return (
        f"This is an unpacked sdist without a {SDIST_BUNDLE_DIR}/ bundle: the hook did not run for the sdist "
        "target. Configure it in [tool.hatch.build.hooks.pylon] (for every target), not only under "
        "[tool.hatch.build.targets.wheel.hooks.pylon], and build the sdist again."
    )


def throttled_progress(
    say: Say, *, after: float = 2.0, every: float = 10.0, clock: Callable[[], float] = time.monotonic
) -> Progress:
    """A progress callback that stays silent for quick builds and speaks at most every ``every`` seconds."""
    start = clock()
    next_at = [start + after]

    def progress(files: int, size: int) -> None:
        now = clock()
        if now >= next_at[0]:
            next_at[0] = now + every
            say(f"reading components: {files} read, {human_size(size)} hashed and staged ({now - start:.0f} s)")

    return progress
