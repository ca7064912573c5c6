"""The whole pipeline, for any adapter: config -> components -> bindings -> plan -> blobs committed.

A *bundle* is a plan plus the blob files it names. ``build_bundle`` makes
one from the configured component files: every file is read once (hashed,
parsed and staged in one pass), the bindings and the plan are made from
what was read, and only then are the chosen blobs committed to the store.
A bundle shipped in an sdist is instead taken through the verification gate
(``bundle.verify``), and the ``Bundle`` is made from what the gate returns
(``Verified``: the parsed plan, blobs copied as they were re-hashed).
``adapter_bundle`` is the one entry every adapter calls.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import (
    PylonError,
    ResolveError,
    Say,
    VerificationError,
    bullets,
    human_size,
    plural,
    printable,
    say_nothing,
    warning,
)
from .._fs import TempFile, atomic_write, make_private_folder, open_inside, sha256_of
from .._layout import META_FILE, PLAN_FILE, SDIST_BUNDLE_DIR, STORE_DIR, blob_relpath, composed_name
from .._records import NamedTuple
from ..composectl.linkage import exec_decision
from ..composectl.plan import Plan, PlanComponent
from .components import Progress, discover
from .config import PylonConfig
from .resolve import Resolution, resolve

if TYPE_CHECKING:
    from ..bundle.distributions import DescribedComponent, Reference
    from .ingest import Ingest


class Bundle(NamedTuple):
    plan: Plan
    plan_json: bytes
    blobs: dict[str, Path]  # digest -> a file holding exactly those bytes
    sizes: dict[str, int]
    resolution: Resolution | None = None  # None when loaded from an earlier build
    meta_json: bytes = b""  # pylon.json: how the build judged the bundle (always bundled)
    composed: Path | None = None  # the composed component, when `compose = true`
    references: tuple[Reference, ...] = ()  # components left in other distributions (not in ``blobs``)

    @property
    def requirements(self) -> list[str]:
        """The Requires-Dist the references need: each distribution at the version the build used (or its track)."""
        return sorted({reference.requirement for reference in self.references})

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
        from ..composectl.store import BlobStore

        store = BlobStore(folder / STORE_DIR)
        folder.mkdir(parents=True, exist_ok=True)  # a bundle whose components are all referenced has no store
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
        total = sum(self.sizes.get(digest, 0) for digest in self.blobs)
        shared = sum(len(r.components) for r in self.references)
        here = f"{human_size(total)}; {shared} referenced, not copied" if shared else human_size(total)
        return (
            f"{plural(len(self.plan.components), 'component')} ({here}), "
            f"{plural(len(self.plan.bindings), 'binding')}; plan -> {plan_path}"
        )

    def summary(self) -> list[str]:
        """One line per component and per binding, for build logs and the CLI."""
        import json

        lines = summary_lines(self.plan, self.sizes, self.resolution, self.references)
        if self.composed is not None:
            size = os.path.getsize(self.composed)
            digest = json.loads(self.meta_json)["composed"]["digest"]
            lines.append(f"composed  {printable(self.composed.name)}  sha256:{digest[:12]}  {human_size(size)}")
        return lines


def summary_lines(
    plan: Plan, sizes: dict[str, int], resolution: Resolution | None = None, references: tuple[Reference, ...] = ()
) -> list[str]:
    """Components (with their roles and where a referenced one stays), bindings and, from a resolution, the
    imports the host serves."""
    roles = resolution.roles() if resolution is not None else {}
    registry = set(resolution.registry) if resolution is not None else set()
    lines = []
    where = {digest: r.requirement for r in references for _, digest in r.components}
    sources = {c.file.digest: c.source[0] for c in resolution.components if c.source} if resolution else {}
    for component in plan.components:
        these = [*(["root"] if component.id == plan.root else []), *roles.get(component.id, ())]
        if component.id in registry:
            these.append("unbound: resolved by id or digest at run time")
        role = f" ({'; '.join(these)})" if these else ""
        size = human_size(sizes[component.digest]) if component.digest in sizes else "size not known here"
        source = f"  source {component.source}" if component.source is not None else ""
        shared = f"  referenced from {where[component.digest]}" if component.digest in where else ""
        distribution = sources.get(component.digest)
        if distribution is not None and not shared:
            why = " (wasm32 only: a host pip cannot install it)" if distribution.wasm_only else ""
            shared = f"  copied from {distribution.label}{why}"
        if distribution is not None:
            shared += f", found in {distribution.found_in}"
        lines.append(
            f"component {printable(component.id)}{role}  sha256:{component.digest[:12]}  {size}{source}{shared}"
        )
    for b in plan.bindings:
        lines.append(f"binding   {b.described()}")
    for secret in plan.secrets:
        lines.append(f"secret    {printable(secret.secret_id)}  from {printable(secret.backend_uri)}")
    for consumer, name in resolution.host_imports if resolution is not None else ():
        lines.append(f"host      {printable(consumer)}: {printable(name)} (served by the runtime host)")
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
        _check_types(resolution, config, say)
    urls = {c.id: c.fetch_url for c in config.components}
    components = (PlanComponent(c.id, c.file.digest, urls.get(c.id)) for c in resolution.components)
    plan = Plan.create(
        config.root_id, components, resolution.bindings, config.policy, resolution.linkage, secrets=config.secrets
    )
    exports = {c.id: [e.name for e in c.file.info.exports] for c in resolution.components}
    provider = exports.get(plan.bindings[0].provider_id) if len(plan.bindings) == 1 else None
    decision = exec_decision(plan, (e.name for e in catalog.root.file.info.imports), provider)
    if decision.refusal is not None:
        say(warning(decision.message()))
    return resolution, plan


def build_bundle(
    config: PylonConfig, say: Say = say_nothing, progress: Progress | None = None, staging: Path | None = None
) -> Bundle:
    """Resolve, then stage every chosen component into the configured blob store.

    Each component file is read once: hashing, parsing and staging share the pass.
    With ``compose = true`` the graph is then composed from the staged blobs into
    ``staging`` (a temporary folder removed at exit when not given).
    """
    from ..bundle.verify import BundleMeta
    from ..composectl.store import BlobStore
    from .ingest import Ingest

    with Ingest(BlobStore(config.store)) as ingest:
        for path in ingest.swept:
            say(warning(f"removed {printable(str(path))}, left behind by a build that did not finish"))
        resolution, plan = plan_project(config, ingest, progress, say)
        blobs: dict[str, Path] = {}
        references = _references(resolution, config)
        referenced = {digest for reference in references for _, digest in reference.components}
        for component in resolution.components:
            if component.file.digest in referenced:
                continue  # its blob stays in the distribution that provides it
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
    meta = BundleMeta(
        ignore_imports=config.ignore_imports,
        plan_digest=plan.plan_digest(),
        references=references,
        validate=config.validate,
    )
    composed_path = None
    if config.compose:
        from ..bundle.compose import compose_plan

        everything = {**blobs, **{c.file.digest: Path(c.path) for c in resolution.components if c.source}}
        composed = compose_plan(plan, everything, ignore_imports=config.ignore_imports, strip=config.strip)
        if staging is None:
            staging = make_private_folder("hatch-pylon-")  # swept if this process is killed
            import atexit
            import shutil

            atexit.register(shutil.rmtree, staging, True)
        composed_path = staging / composed_name(plan.root)
        atomic_write(composed_path, composed.data)
        from dataclasses import replace

        meta = replace(meta, composed=composed_path.name, composed_digest=composed.digest, composed_strip=config.strip)
    return Bundle(plan, plan.to_json(), blobs, sizes, resolution, meta.to_json(), composed_path, references)


def _references(resolution: Resolution, config: PylonConfig) -> tuple[Reference, ...]:
    """The chosen components of component distributions, by distribution, when they are referenced, not copied.

    A ``wasm32``-only distribution's components are always copied: a host pip can never install it, so an app
    requiring it could never be installed. Asking for ``distributed = "reference"`` with one is an error.
    """
    from ..bundle.distributions import Reference

    if config.distributed != "reference":
        return ()
    problems = [
        f'{config.table}.distributed: "reference" cannot apply to component {c.id!r} of '
        f"{c.source[0].label}: that distribution is built for {', '.join(c.source[0].tags)} only, so a host pip can "
        "never install a Requires-Dist on it and the app could not be installed; remove the distributed key (its "
        'components are then copied into the bundle) or write distributed = "copy"'
        for c in resolution.components
        if c.source is not None and c.source[0].wasm_only and config.distributed_set
    ]
    if problems:
        raise ResolveError("cannot reference the components:\n" + bullets(problems))
    grouped: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for component in resolution.components:
        if component.source is not None and not component.source[0].wasm_only:
            distribution = component.source[0]
            entry = grouped.setdefault(distribution.name, (distribution.version, []))
            entry[1].append((component.id, component.file.digest))
    compatible = config.distributed_versions == "compatible"
    return tuple(
        Reference(name, version, tuple(sorted(ids)), compatible) for name, (version, ids) in sorted(grouped.items())
    )


class Provided(NamedTuple):
    """What a component wheel carries: its blobs and the descriptor listing them (``provides``)."""

    blobs: dict[str, Path]  # digest -> a file holding exactly those bytes
    descriptor: bytes  # pylon-components.json
    components: tuple[DescribedComponent, ...]

    def layout(self, folder: str) -> dict[str, str]:
        """Source file -> archive path for every blob, in a composectl store below ``folder``."""
        return {
            os.fspath(self.blobs[digest]): f"{folder}/{STORE_DIR}/{blob_relpath(digest)}"
            for digest in sorted(self.blobs)
        }

    def write_to(self, folder: str | os.PathLike[str], *, descriptor: bool) -> Path:
        """The blobs as a ``.compose`` store in ``folder``; with ``descriptor``, the descriptor beside it (an sdist)."""
        from ..bundle.distributions import DESCRIPTOR
        from ..composectl.store import BlobStore

        folder = Path(folder)
        store = BlobStore(folder / STORE_DIR)
        for digest, source in sorted(self.blobs.items()):
            store.stage_file(source, digest)
        if descriptor:
            atomic_write(folder / DESCRIPTOR, self.descriptor)
        return folder

    def summary(self) -> list[str]:
        return [
            f"provides  {printable(c.id)}  sha256:{c.digest[:12]}  {human_size(c.size)}  "
            f"exports {', '.join(printable(n) for n in interface_exports(c.exports)) or 'nothing an app imports'}"
            for c in self.components
        ]

    def headline(self, where: str) -> str:
        total = sum(c.size for c in self.components)
        return f"provides {plural(len(self.components), 'component')} ({human_size(total)}); descriptor -> {where}"


def interface_exports(exports: tuple[tuple[str, str], ...]) -> list[str]:
    """What an app binds to: interfaces (``ns:pkg/name@v``) and functions. A plain-named instance
    (componentize-py's ``exports``) is its bindings' own and binds nothing an app imports by interface."""
    return [name for name, kind in exports if kind != "instance" or ":" in name]


def build_provided(config: PylonConfig, say: Say = say_nothing, progress: Progress | None = None) -> Provided:
    """A component wheel's contents: every ``provides`` id staged into the store, and the descriptor listing them.

    Nothing is resolved: a provided component's imports are bound by each app that uses it.
    """
    from ..bundle.distributions import DescribedComponent, descriptor_json, dist_store
    from ..composectl.store import BlobStore
    from .components import scan_candidates
    from .ingest import Ingest

    with Ingest(BlobStore(config.store)) as ingest:
        for path in ingest.swept:
            say(warning(f"removed {printable(str(path))}, left behind by a build that did not finish"))
        candidates, _, shadowed = scan_candidates(config, ingest, progress, with_root=False)
        for component_id, loser, winner in shadowed:
            say(warning(f"{loser} is not used: the id {component_id!r} is already taken by {winner}"))
        by_id = {c.id: c for c in candidates}
        problems = []
        for index, component_id in enumerate(config.provides):
            candidate = by_id.get(component_id)
            if candidate is None:
                known = ", ".join(sorted(by_id)) or "none"
                problems.append(
                    f"{config.table}.provides[{index}]: no configured component has the id {component_id!r} "
                    f"(configured: {known})"
                )
            elif candidate.source is not None:
                problems.append(
                    f"{config.table}.provides[{index}]: {component_id!r} comes from {candidate.source[0].label}, "
                    "which provides it already"
                )
        if problems:
            raise ResolveError("cannot build the component wheel:\n" + bullets(problems))
        blobs: dict[str, Path] = {}
        described = []
        for component_id in config.provides:
            candidate = by_id[component_id]
            blobs[candidate.file.digest] = ingest.commit(candidate.path).path
            info = candidate.file.info
            described.append(
                DescribedComponent(
                    component_id,
                    candidate.file.digest,
                    candidate.file.size,
                    tuple((e.name, e.kind) for e in info.imports),
                    tuple((e.name, e.kind) for e in info.exports),
                    None
                    if config.pyforge is None
                    else f"{config.pyforge.bridge.name}_component/{Path(candidate.path).name}",
                )
            )
        ingest.save_index()
    described.sort(key=lambda c: c.id)
    store = None if config.pyforge is not None else dist_store(config.destination)  # an extension: its own path
    return Provided(blobs, descriptor_json(store, described), tuple(described))


def check_requirements(needed: list[str], declared: list[str], table: str) -> None:
    """The project's dependencies must require each referenced distribution as its reference says."""
    from ..bundle.distributions import requirement_problems

    problems = requirement_problems(needed, declared, table)
    if problems:
        raise ResolveError("the project's dependencies do not match its references:\n" + bullets(problems))


def project_requirements(config: PylonConfig) -> list[str]:
    """The Requires-Dist the project's references need, resolved as the build resolves (nothing is written)."""
    if config.provides or not config.component_distributions or config.distributed != "reference":
        return []
    resolution, _ = plan_project(config)
    return sorted({reference.requirement for reference in _references(resolution, config)})


def shipped_provided(project_root: Path, staging: Path, say: Say = say_nothing) -> Provided | None:
    """The components an unpacked component-wheel sdist carries, re-hashed into ``staging``; None when it is none."""
    import json

    from ..bundle.distributions import DESCRIPTOR, DescribedComponent, descriptor_json

    prebuilt = project_root / SDIST_BUNDLE_DIR
    if not ((project_root / "PKG-INFO").is_file() and os.path.lexists(prebuilt / DESCRIPTOR)):
        return None
    from ..bundle.verify import verify_provided

    say(f"using the components shipped in the sdist ({SDIST_BUNDLE_DIR}/)")
    checked = verify_provided(prebuilt, DESCRIPTOR, STORE_DIR, copy_to=staging)
    checked.or_raise(f"the components in {SDIST_BUNDLE_DIR}/")
    document = json.loads(checked.descriptor)
    paths = {entry["id"]: entry.get("path") for entry in document["components"]}  # parsed by the gate already
    described = tuple(
        DescribedComponent(c.id, c.digest or "", c.size or 0, c.imports, c.exports, paths.get(c.id))
        for c in checked.components
    )
    return Provided(dict(checked.blobs), descriptor_json(document.get("store"), described), described)


def _check_types(resolution: Resolution, config: PylonConfig, say: Say) -> None:
    """Type-check every binding, and what the runtime host calls (the root's entry point, a linker, registry
    members' endpoints), from the types decoded from the binaries; nothing is compiled.

    A component the decoder does not model is not compiled either (a build must not need wasmtime):
    each binding it takes part in is named in a warning, and ``verify`` checks it with wasmtime.
    """
    from ..bundle.typecheck import type_problems

    files = {c.id: (Path(c.path), c.file.digest) for c in resolution.components}
    shaping = {c.id: c.file.shaping for c in resolution.components if c.file.shaping is not None}
    report = type_problems(
        files, list(resolution.bindings), None, shaping=shaping, root=config.root_id, linkage=resolution.linkage
    )
    if report.problems:
        raise ResolveError("bindings do not type-check:\n" + bullets(report.problems))
    undecided = set(report.skipped)
    for b in resolution.bindings:
        if b.consumer_id in undecided or b.provider_id in undecided:
            who = sorted({b.consumer_id, b.provider_id} & undecided)
            consumer, provider, name = printable(b.consumer_id), printable(b.provider_id), printable(b.import_name)
            say(
                warning(
                    f"binding {consumer} -> {provider} ({name}) is not type-checked: the types of "
                    f"{printable(' and '.join(who))} cannot be decoded from the binary; hatch-pylon verify checks it "
                    "with wasmtime"
                )
            )


def has_shipped_bundle(project_root: str | os.PathLike[str]) -> bool:
    """An unpacked sdist (``PKG-INFO``) carrying its bundle (or a component wheel's components): its wheel is
    built from that bundle alone."""
    from ..bundle.distributions import DESCRIPTOR

    root = Path(project_root)
    carried = (root / SDIST_BUNDLE_DIR / name for name in (PLAN_FILE, DESCRIPTOR))
    return (root / "PKG-INFO").is_file() and any(os.path.lexists(path) for path in carried)


def shipped_bundle(
    project_root: Path, staging: Path, say: Say = say_nothing, *, required: bool = False
) -> Bundle | None:
    """The bundle an unpacked sdist carries, through the verification gate; None when this is no sdist.

    Blobs are copied into ``staging`` as they are re-hashed, and the plan is
    re-written from the parsed model, so the wheel holds exactly what was
    verified and nothing else from the sdist. The bundle is
    ``<sdist>/.pylon-bundle/`` and nowhere else: a ``.pylon-bundle`` anywhere
    else in the sdist is refused, as ``verify`` refuses it. ``required``: the
    hook built this sdist (its configuration covers the sdist target), so a
    missing bundle is an error, never a reason to build from the raw components.
    """
    if not (project_root / "PKG-INFO").is_file():
        return None
    prebuilt = project_root / SDIST_BUNDLE_DIR
    elsewhere = _other_sdist_bundles(project_root)
    if elsewhere or os.path.islink(prebuilt):
        where = elsewhere or [f"{SDIST_BUNDLE_DIR} (a symbolic link)"]
        raise VerificationError(
            f"this sdist ({project_root})",
            [f"it carries its bundle in {SDIST_BUNDLE_DIR}/ at its top only, not in {printable(w)}" for w in where],
        )
    if not os.path.lexists(prebuilt / PLAN_FILE):
        if required:
            raise VerificationError(
                f"this sdist ({project_root})",
                [
                    f"it was built with hatch-pylon but carries no {SDIST_BUNDLE_DIR}/{PLAN_FILE}; a wheel is "
                    "never built from an sdist's raw components"
                ],
            )
        return None
    import dataclasses

    from ..bundle.sources import BundleFolder
    from ..bundle.verify import verify_bundle
    from ..wasm.compiler import optional_compiler

    say(f"using the bundle shipped in the sdist ({SDIST_BUNDLE_DIR}/)")
    label = f"the bundle in {SDIST_BUNDLE_DIR}/"
    bundle = BundleFolder(prebuilt, label, "sdist")
    verified = verify_bundle(
        bundle, copy_to=staging, compiler=optional_compiler, references_required=False, relock=False
    ).or_raise()
    assert verified.plan is not None
    composed = None
    if verified.meta.composed is not None:  # copied as it is re-hashed: the wheel gets the bytes checked
        if not verified.report.composed_proven:
            from ..bundle.compose import install_hint

            name = printable(verified.meta.composed)
            missing = [s for s in verified.report.skipped if s.startswith("referenced component")]
            if missing:  # composing needs every blob: the referenced ones are in distributions not installed here
                raise VerificationError(
                    label,
                    [
                        f"composed component {name}: cannot be proven without the components it references, so it "
                        "is not shipped; the wheel's build needs their distributions installed (build-system.requires)",
                        *missing,
                    ],
                )
            raise VerificationError(
                label,
                [
                    f"composed component {name}: cannot be proven without wasm-tools, so it is not shipped "
                    f"({install_hint()})"
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
        {digest: path for digest, path in verified.blobs.items() if digest not in verified.referenced},
        dict(verified.sizes),
        meta_json=dataclasses.replace(verified.meta, plan_digest=verified.plan.plan_digest()).to_json(),
        composed=composed,
        references=verified.meta.references,
    )


def _other_sdist_bundles(project_root: Path) -> list[str]:
    """Every ``.pylon-bundle`` in an unpacked sdist but the one at its top (links are listed, never followed)."""
    found = []
    for folder, folders, files in os.walk(project_root):
        relative = Path(folder).relative_to(project_root)
        if relative == Path("."):
            folders[:] = [f for f in folders if f != SDIST_BUNDLE_DIR]
            files = [f for f in files if f != SDIST_BUNDLE_DIR]
        found += [(relative / name).as_posix() for name in (*folders, *files) if name == SDIST_BUNDLE_DIR]
    return sorted(found)


def adapter_bundle(config: PylonConfig, staging: Path, say: Say, *, required: bool = False) -> Bundle:
    """The one build entry of every adapter (hatchling hook, setuptools): the bundle a build packages.

    The placement is checked first, its messages naming the table the configuration came from; then
    an unpacked sdist's shipped bundle is taken through the gate, else the configured components
    are built. A build of an unpacked sdist that ships no bundle says why it has none; with
    ``required`` (the hook ran for the sdist target too) it is refused instead.
    """
    from ..bundle.placement import check_placement

    check_placement(config.project_root, config.destination, config.store, key=config.table)
    shipped = shipped_bundle(config.project_root, staging, say, required=required)
    if shipped is not None:
        return shipped
    try:
        return build_bundle(config, say=say, progress=throttled_progress(say), staging=staging)
    except PylonError as error:
        if not (config.project_root / "PKG-INFO").is_file():
            raise
        raise PylonError(f"{error}\n{_no_shipped_bundle_hint(config.table)}") from None


def adapter_provided(config: PylonConfig, staging: Path, say: Say) -> Provided:
    """A component wheel's contents, for every adapter: the placement checked, then an unpacked sdist's shipped
    components through the gate, else the ``provides`` components built."""
    from ..bundle.placement import check_placement

    check_placement(config.project_root, config.destination, config.store, key=config.table)
    shipped = shipped_provided(config.project_root, staging, say)
    return shipped or build_provided(config, say=say, progress=throttled_progress(say))


def _no_shipped_bundle_hint(table: str) -> str:
    from .schema import SETUPTOOLS_TABLE

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
