"""The verification gate: the one check every consumer of a bundle goes through.

``verify``, ``run``, ``trust``, ``compose`` and a wheel built from an sdist
all call ``verify_bundle`` once, with what ``bundle.sources.open_target`` yields (or
a folder); what it refuses, they all refuse, with the same messages. It
checks, reporting every problem it finds:

- what unpacking the archive found (a wheel's bundle files against its ``RECORD``);

- the plan, through the one parser (``composectl.plan.parse_plan``), re-written to canonical bytes;
- every blob: opened without following any link, streamed through SHA-256
  (never held whole), compared with its digest, and read as a component in
  the same pass; a blob the plan does not name is a problem too;
- names: every non-ignored import of every component is bound, to an
  export the provider really has;
- types (optional): every bound function has the same signature on both
  sides, decoded from the binaries; wasmtime compiles only what the decoder
  cannot read, and is skipped (and said so) where it is not installed;
- the bundle record (``pylon.json``) and a composed component, if any.

A blob's imports and exports are read in the pass that hashes it; one that
fails its digest is reported as modified, and is never type-decoded, compiled
or run.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .._errors import (
    ComponentFormatError,
    ComposeError,
    PlanFormatError,
    PylonError,
    TooLarge,
    VerificationError,
    printable,
    quoted,
    shell_word,
)
from .._fs import TempFile, inside, open_inside, os_reason
from .._layout import (
    BLOBS_DIR,
    DEFAULT_IGNORE_IMPORTS,
    DEFAULT_MAX_COMPONENT_SIZE,
    META_FILE,
    PLAN_FILE,
    STORE_DIR,
    blob_relpath,
)
from ..composectl.linkage import ExecDecision, exec_decision, host_provides
from ..composectl.plan import MAX_PLAN_BYTES, Binding, Plan, find_cycle, parse_plan
from ..wasm.binary import Limits, ScannedFile, WasmInfo, scan_stream
from .distributions import (
    BadReference,
    ComponentDistribution,
    ProvidedComponent,
    Reference,
    exact_requirement,
    locate_references,
    parse_references,
    read_capped,
    references_json,
)

if TYPE_CHECKING:
    from ..wasm.compiler import Compiler
    from .sources import BundleFolder


# Who objects, said after a failed bundle's problems: composectl's own rules for reading a plan, or hatch-pylon's
OURS = "hatch-pylon's checks: composectl's validation accepts this plan"
THEIRS = "composectl's validation refuses this plan"


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked_components: int = 0
    checked_bindings: int = 0
    typed: bool = False
    compiled_all: bool = False
    skipped: list[str] = field(default_factory=list)  # what could not be checked, and why
    resource_bindings: list[str] | None = None  # from the type check: bound imports passing resource handles
    notes: list[str] = field(default_factory=list)  # sound, but worth knowing (what composectl will do)
    composed_proven: bool = False  # the bundled composed component is what the plan composes to
    unchecked_references: int = 0  # referenced components a bundle checked alone could not check
    plan_digest: str = ""  # composectl's plan digest of the plan proved (the re-resolved one, if any)
    relocked_from: str = ""  # the bundle's own plan digest, when newer compatible releases re-resolved it
    exec: ExecDecision | None = None  # how composectl's exec takes the plan (None: the root could not be read)
    by: str = OURS  # who objects to the problems: hatch-pylon's checks, or composectl's rules for the plan

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class BundleMeta:
    """hatch-pylon's record of how the build judged the bundle (``pylon.json``), outside the composectl plan."""

    ignore_imports: tuple[str, ...] = DEFAULT_IGNORE_IMPORTS
    composed: str | None = None  # file name of the composed component, next to plan.json
    composed_digest: str | None = None
    composed_strip: bool = False  # composed with ``strip = true``: re-composing strips too
    references: tuple[Reference, ...] = ()  # components whose blobs stay in other distributions
    plan_digest: str | None = None  # composectl's plan digest of the plan built (None in older bundles)
    validate: str = "types"  # what the build checked: "names" did not compare the bindings' types

    def to_json(self) -> bytes:
        document: dict[str, object] = {"version": 1, "ignore-imports": list(self.ignore_imports)}
        if self.validate != "types":
            document["validate"] = self.validate
        if self.plan_digest is not None:
            document["plan-digest"] = self.plan_digest
        if self.composed is not None:
            composed: dict[str, object] = {"file": self.composed, "digest": self.composed_digest}
            if self.composed_strip:
                composed["strip"] = True
            document["composed"] = composed
        if self.references:
            document["references"] = references_json(self.references)
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Verified:
    """A bundle that passed the gate (or the report of why it did not)."""

    report: Report
    plan: Plan | None = None
    meta: BundleMeta = BundleMeta()
    blobs: dict[str, Path] = field(default_factory=dict)  # digest -> a file holding exactly those bytes
    sizes: dict[str, int] = field(default_factory=dict)
    label: str = ""  # what the user named, for messages
    sources: dict[str, tuple[Path, str]] = field(default_factory=dict)  # digest -> (folder, relative path) to open
    referenced: frozenset[str] = frozenset()  # digests whose blobs stay in another distribution

    def open_blob(self, digest: str) -> BinaryIO:
        """A verified blob for reading, reopened below the folder the gate read it from, following no link."""
        base, relative = self.sources[digest]
        return open_inside(base, relative)

    def or_raise(self) -> Verified:
        if self.report.problems:
            raise VerificationError(self.label, self.report.problems, self.report.by)
        return self


def verify_bundle(
    bundle: BundleFolder | str | os.PathLike[str],
    *,
    types: bool = True,
    compile_all: bool = False,
    compiler: Compiler | Callable[[], Compiler | None] | None = None,
    ignore_imports: tuple[str, ...] | None = None,
    limit: int = DEFAULT_MAX_COMPONENT_SIZE,
    copy_to: Path | None = None,
    references_required: bool = True,
    relock: bool = True,
) -> Verified:
    """Check ``bundle``: what ``bundle.sources.open_target`` yields (its unpacking problems, RECORD mismatches,
    are reported first) or a bundle folder. With ``copy_to``, verified blobs are copied into a store there
    as they are hashed.

    ``compiler`` is a Compiler, None (decode only; what cannot be decoded is
    skipped) or a callable making one when the first compile is needed.
    Blobs the bundle references in other distributions (``pylon.json``
    ``references``) are found in the installed ones and checked the same way,
    never copied; with ``references_required`` false (a wheel, sdist or folder
    checked alone) a reference to a distribution not installed here is
    reported as not checked instead of as a problem.

    A compatible reference (``distributed-versions = "compatible"``) whose distribution is installed at a
    newer release its requirement allows is re-resolved (with ``relock``): that release's components of the
    same ids replace the recorded ones in the plan, each binding to them is re-bound to the export of the
    import's name (else the highest semver-compatible one), and that plan is what every check below proves
    and what ``Verified.plan`` is. ``Report.relocked_from`` keeps the bundle's own plan digest.
    """
    if isinstance(bundle, (str, os.PathLike)):
        root, label, report = Path(bundle), os.fspath(bundle), Report()
    else:
        root, label, report = bundle.folder, bundle.label, Report(list(bundle.problems))
        if bundle.provided is not None or bundle.dist_info is not None:
            report.problems.append(
                f"{label} is a component distribution: it provides components and has no plan of its own "
                f"(hatch-pylon verify {label} checks it; run an app that references it)"
            )
            return Verified(report, label=label)
    try:
        plan = _read_plan(root, report.notes)
    except PlanFormatError as error:
        report.problems += [f"{PLAN_FILE}: {problem}" for problem in error.problems]
        report.by = OURS if error.ours else THEIRS
        return Verified(report, label=label)
    except PylonError as error:
        report.problems.append(str(error))
        return Verified(report, label=label)
    report.plan_digest = plan.plan_digest()
    report.problems += plan_problems(plan)
    meta = _read_meta(root, report)
    if meta.plan_digest is not None and meta.plan_digest != report.plan_digest:
        report.problems.append(
            f"{META_FILE} records plan digest {meta.plan_digest}, but {PLAN_FILE}'s is {report.plan_digest}: "
            "the plan changed after the build"
        )
    ignore = ignore_imports if ignore_imports is not None else meta.ignore_imports
    digests = {c.id: c.digest for c in plan.components}
    referenced = _check_references(plan, meta, report)
    located = locate_references(meta.references, required=references_required, relock=relock)
    report.problems += located.problems
    if located.replaced:
        report.relocked_from = report.plan_digest
        plan = _relocked(plan, located.replaced, report)
        old = {digest for r in meta.references for cid, digest in r.components if cid in located.replaced}
        referenced = (referenced - old) | {provided.digest or "" for provided, _ in located.replaced.values()}
        digests = {c.id: c.digest for c in plan.components}
        report.plan_digest = plan.plan_digest()
        report.notes += located.replacements
        if meta.composed is not None:
            from dataclasses import replace

            report.notes.append(
                f"{printable(meta.composed)} holds the components the plan was built with; the re-resolved plan "
                "is linked instead"
            )
            meta = replace(meta, composed=None, composed_digest=None)
    report.skipped += [f"referenced component {item}" for item in located.unchecked]
    report.unchecked_references = len(located.unchecked)
    blobs, sizes, infos, sources = _check_blobs(
        root, plan, Limits(max_size=limit), report, copy_to, located.blobs, referenced
    )
    _check_strays(root, set(digests.values()) - referenced, report)
    _check_names(infos, list(plan.bindings), ignore, plan.linkage, report)
    report.exec = exec_of(plan, infos)
    if report.exec is not None and report.exec.refusal is not None:
        report.notes.append(report.exec.message())
    _check_composed(root, plan, meta, ignore, Limits(max_size=limit), report)
    if types and len(infos) == len(digests):
        from .typecheck import type_problems

        files = {cid: (blobs[digest], digest) for cid, digest in digests.items()}
        typed = type_problems(
            files, list(plan.bindings), compiler, compile_all=compile_all, root=plan.root, linkage=plan.linkage
        )
        report.problems += typed.problems
        if typed.problems and meta.validate == "names":
            report.problems.append(
                'the build checked names only (validate = "names"), so it did not compare these types: make '
                "both sides' WIT agree, then rebuild (a rebuild alone makes the same bundle)"
            )
        report.skipped += [
            f"types of {cid!r} (it needs wasmtime to read: pip install 'hatch-pylon[run]')" for cid in typed.skipped
        ]
        report.typed = True
        report.resource_bindings = typed.resource_bindings
        report.compiled_all = compile_all and not typed.skipped
    elif types and located.unchecked:
        report.skipped.append("types of the bindings (a referenced component could not be checked)")
    if meta.composed is not None and not report.problems and not located.unchecked:
        _prove_composed(root, plan, meta, ignore, report, sources)
    if report.relocked_from and report.problems:
        built = ", ".join(
            f"pip install {shell_word(exact_requirement(r.distribution, r.version))}"
            for r in meta.references
            if any(cid in located.replaced for cid, _ in r.components)
        )
        report.problems.append(
            f"the plan checked is the bundle's re-resolved against newer releases ({'; '.join(located.replacements)}); "
            f"to check the plan it was built with instead: {built}"
        )
    report.checked_components = len(infos)
    report.checked_bindings = len(plan.bindings)
    return Verified(report, plan, meta, blobs, sizes, label, sources, frozenset(referenced))


def plan_problems(plan: Plan) -> list[str]:
    """hatch-pylon's own checks of a plan composectl's validation accepts: what it needs to link the graph (each
    binding's consumer a component, one provider per import, no cycle anywhere)."""
    ids = {c.id for c in plan.components}
    problems = []
    seen: set[tuple[str, str]] = set()
    for binding in plan.bindings:
        if binding.consumer_id not in ids:
            problems.append(f"binding {binding.described()}: its consumer is not a component of the plan")
        key = (binding.consumer_id, binding.import_name)
        if key in seen:
            problems.append(
                f"import {printable(binding.import_name)!r} of {printable(binding.consumer_id)!r} is bound more than "
                "once"
            )
        seen.add(key)
    cycle = find_cycle(plan.bindings)
    if cycle is not None:
        problems.append(f"dependency cycle: {cycle}")
    return problems


def exec_of(plan: Plan, infos: dict[str, WasmInfo]) -> ExecDecision | None:
    """composectl's exec decision for a plan whose root (and a flavor-A provider, if any) were read."""
    if plan.root not in infos:
        return None
    provider = infos.get(plan.bindings[0].provider_id) if len(plan.bindings) == 1 else None
    exports = [e.name for e in provider.exports] if provider is not None else None
    return exec_decision(plan, (e.name for e in infos[plan.root].imports), exports)


def _relocked(plan: Plan, replaced: dict[str, tuple[ProvidedComponent, str]], report: Report) -> Plan:
    """``plan`` with each replaced component's digest, and each binding to it re-bound by name: the export of
    the import's name if the new release has it, else its highest semver-compatible one (as the build
    resolves); a binding it cannot satisfy is a problem."""
    from ..composectl.plan import PlanComponent
    from ..wasm.names import compatible, parse_name

    components = [
        PlanComponent(c.id, replaced[c.id][0].digest or c.digest, c.source) if c.id in replaced else c
        for c in plan.components
    ]
    bindings = []
    for binding in plan.bindings:
        if binding.provider_id not in replaced:
            bindings.append(binding)
            continue
        provided, label = replaced[binding.provider_id]
        names = [name for name, _ in provided.exports]
        if binding.export_name not in names:
            wanted = parse_name(binding.import_name)
            fits = [parse_name(name) for name in names if compatible(wanted, parse_name(name))]
            if fits:
                best = max(fits, key=lambda name: name.version or (0, 0, 0))
                binding = binding._replace(export_name=best.text)
            else:
                report.problems.append(
                    f"binding {binding.described()}: {printable(label)}'s component {quoted(binding.provider_id)} "
                    f"exports nothing {quoted(binding.import_name)} can bind to"
                )
        bindings.append(binding)
    return Plan.create(plan.root, components, bindings, plan.policy, plan.linkage, plan.explicit_exports, plan.secrets)


def _check_references(plan: Plan, meta: BundleMeta, report: Report) -> set[str]:
    """The referenced digests; each reference must name a plan component by its id and digest."""
    digests = {c.id: c.digest for c in plan.components}
    referenced: set[str] = set()
    for reference in meta.references:
        for cid, digest in reference.components:
            if digests.get(cid) != digest:
                report.problems.append(
                    f"{META_FILE}: references {cid!r} (sha256 {digest}) from {reference.requirement}, "
                    "which the plan does not name"
                )
            referenced.add(digest)
    return referenced


def bundle_meta(folder: Path) -> BundleMeta:
    """A bundle's ``pylon.json`` alone (what the metadata hook needs of an sdist's bundle); PylonError if damaged."""
    report = Report()
    meta = _read_meta(folder, report)
    if report.problems:
        raise PylonError("; ".join(report.problems))
    return meta


def _read_small(root: Path, name: str) -> bytes:
    """A bundle's plan or ``pylon.json``: a regular file of at most ``MAX_PLAN_BYTES``."""
    return read_capped(root, name, name, limit=MAX_PLAN_BYTES, missing="not found in the bundle", error=PylonError)


def _read_plan(root: Path, notes: list[str]) -> Plan:
    return parse_plan(_read_small(root, PLAN_FILE), PLAN_FILE, notes)


def _read_meta(root: Path, report: Report) -> BundleMeta:
    if not os.path.lexists(root / META_FILE):
        return BundleMeta()
    try:
        raw = json.loads(_read_small(root, META_FILE))
    except (PylonError, ValueError, RecursionError) as error:
        report.problems.append(f"{META_FILE}: cannot be read ({error})")
        return BundleMeta()
    ignore = raw.get("ignore-imports") if isinstance(raw, dict) else None
    composed = raw.get("composed") if isinstance(raw, dict) else None
    plan_digest = raw.get("plan-digest") if isinstance(raw, dict) else None
    validate = raw.get("validate", "types") if isinstance(raw, dict) else "types"
    try:
        references = parse_references(raw.get("references", [])) if isinstance(raw, dict) else None
    except BadReference as error:
        report.problems.append(f"{META_FILE}: {error}")
        return BundleMeta()
    if (
        references is None
        or not isinstance(ignore, list)
        or not (
            plan_digest is None
            or (isinstance(plan_digest, str) and len(plan_digest) == 64 and set(plan_digest) <= set("0123456789abcdef"))
        )
        or not all(isinstance(p, str) and p for p in ignore)
        or validate not in ("names", "types")
        or (
            composed is not None
            and not (
                isinstance(composed, dict)
                and isinstance(composed.get("file"), str)
                and isinstance(composed.get("digest"), str)
                and isinstance(composed.get("strip", False), bool)
            )
        )
    ):
        report.problems.append(f"{META_FILE}: not a hatch-pylon bundle record")
        return BundleMeta()
    if composed is None:
        return BundleMeta(tuple(ignore), plan_digest=plan_digest, references=references, validate=validate)
    strip = composed.get("strip", False)
    return BundleMeta(
        tuple(ignore),
        composed["file"],
        composed["digest"],
        strip,
        plan_digest=plan_digest,
        references=references,
        validate=validate,
    )


def _check_blobs(
    root: Path,
    plan: Plan,
    limits: Limits,
    report: Report,
    copy_to: Path | None,
    external: dict[str, tuple[Path, str, str]],
    referenced: set[str],
) -> tuple[dict[str, Path], dict[str, int], dict[str, WasmInfo], dict[str, tuple[Path, str]]]:
    blobs: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    infos: dict[str, WasmInfo] = {}
    sources: dict[str, tuple[Path, str]] = {}
    scans: dict[str, ScannedFile | None] = {}  # digest -> its scan: each distinct blob is read once, whatever names it
    for component in plan.components:
        if component.digest in scans:
            earlier = scans[component.digest]
            if earlier is not None:
                infos[component.id] = earlier.info
            continue
        scans[component.digest] = None
        base, relative = root, f"{STORE_DIR}/{blob_relpath(component.digest)}"
        where = f"component {component.id!r}: blob {relative}"
        if component.digest in referenced:
            if component.digest not in external:
                continue  # reported by locate_references (a problem, or not checked)
            base, relative, label = external[component.digest]
            where = f"component {component.id!r}: blob {relative} of {label}"
        copy = copy_to if base is root else None
        checked = _check_blob(base, relative, component.digest, where, "plan", limits, report, copy)
        if checked is None:
            continue
        scanned, blobs[component.digest] = checked
        scans[component.digest] = scanned
        if copy is not None:
            sources[component.digest] = (copy, f"{STORE_DIR}/{blob_relpath(component.digest)}")
        else:
            sources[component.digest] = (base, relative)
        sizes[component.digest] = scanned.size
        infos[component.id] = scanned.info
    return blobs, sizes, infos, sources


def _check_blob(
    base: Path,
    relative: str,
    digest: str,
    where: str,
    says: str,
    limits: Limits,
    report: Report,
    copy_to: Path | None = None,
    also: Callable[[ScannedFile], str | None] | None = None,
) -> tuple[ScannedFile, Path] | None:
    """The one blob check: ``relative`` below ``base``, opened without following a link, streamed through
    SHA-256 (and into ``copy_to``'s store as it is hashed), compared with ``digest`` (what ``says`` says) and
    read as a component in the same pass; ``also`` may name one more problem. The scan and the file holding
    exactly the checked bytes, or None with every problem in ``report``."""
    temp = None
    try:
        with open_inside(base, relative) as file:
            if copy_to is not None:
                destination = copy_to / STORE_DIR / blob_relpath(digest)
                destination.parent.mkdir(parents=True, exist_ok=True)
                temp = TempFile(destination.parent)
            scanned = scan_stream(file, relative, temp.file.write if temp else None, limits)
        if scanned.digest != digest:
            report.problems.append(f"{where} was modified (sha256 {scanned.digest}, {says} says {digest})")
            return None
        if scanned.info.kind != "component":
            report.problems.append(f"{where} is a core WebAssembly module, not a component")
            return None
        problem = also(scanned) if also is not None else None
        if problem is not None:
            report.problems.append(f"{where}: {problem}")
            return None
        if temp is not None:
            temp.commit(destination)
            return scanned, destination
        return scanned, inside(base, relative)
    except FileNotFoundError:
        report.problems.append(f"{where} is missing")
    except ComponentFormatError as error:
        report.problems.append(f"{where}: {_hashed_or_not(base, relative, digest, limits)}{error.detail}")
    except (OSError, TooLarge) as error:
        reason = os_reason(error) if isinstance(error, OSError) else str(error)
        report.problems.append(f"{where} cannot be used: {reason}")
    finally:
        if temp is not None and not temp.done:
            temp.discard()
    return None


def _hashed_or_not(root: Path, relative: str, digest: str, limits: Limits) -> str:
    """A blob that does not parse: say first whether it is even the blob the plan names."""
    from .._fs import sha256_of

    try:
        with open_inside(root, relative) as file:
            actual, _ = sha256_of(file, limits.max_size)
    except (OSError, TooLarge):
        return ""
    return "" if actual == digest else f"was modified (sha256 {actual}, plan says {digest}); "


def _check_strays(root: Path, digests: set[str], report: Report, owned: set[str] | None = None) -> None:
    """Everything under ``.compose/`` must be a plan blob: no extra files, no links, nothing special. With
    ``owned`` (paths below ``root``), only those entries are this bundle's to judge."""
    expected = {blob_relpath(d) for d in digests}
    store = root / STORE_DIR
    pending = [(store, STORE_DIR)]
    while pending:
        folder, label = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            report.problems.append(f"{label}: cannot be listed ({os_reason(exc)})")
            continue
        for entry in entries:
            name = f"{label}/{printable(entry.name)}"
            mode = entry.stat(follow_symlinks=False).st_mode
            if owned is not None and not stat.S_ISDIR(mode) and f"{label}/{entry.name}" not in owned:
                continue  # another distribution's file in a shared folder
            if stat.S_ISDIR(mode):
                if label == STORE_DIR and entry.name != BLOBS_DIR:
                    report.problems.append(f"{name} is not part of a bundle")
                else:
                    pending.append((Path(entry.path), name))
            elif stat.S_ISLNK(mode):
                report.problems.append(f"{name} is a symbolic link; a bundle holds files only")
            elif not stat.S_ISREG(mode):
                report.problems.append(f"{name} is not a regular file")
            elif name[len(STORE_DIR) + 1 :] not in expected:
                report.problems.append(f"blob {name} is not named by the plan")


def _check_composed(
    root: Path, plan: Plan, meta: BundleMeta, ignore: tuple[str, ...], limits: Limits, report: Report
) -> None:
    """The composed component pylon.json records: a regular file, the recorded digest, only ignored imports."""
    if meta.composed is None:
        return
    from .._layout import composed_name

    name = meta.composed
    shown = printable(name)
    expected = composed_name(plan.root)
    if name != expected:
        report.problems.append(f"{META_FILE}: the composed component must be named {expected!r}, not {name!r}")
        return
    try:
        with open_inside(root, name) as file:
            scanned = scan_stream(file, name, None, limits)
    except FileNotFoundError:
        report.problems.append(f"composed component {shown} is missing")
        return
    except ComponentFormatError as error:
        modified = _hashed_or_not(root, name, meta.composed_digest or "", limits)
        report.problems.append(f"composed component {shown}: {modified}{error.detail}")
        return
    except (OSError, TooLarge) as error:
        reason = os_reason(error) if isinstance(error, OSError) else str(error)
        report.problems.append(f"composed component {shown} cannot be used: {reason}")
        return
    if scanned.digest != meta.composed_digest:
        report.problems.append(
            f"composed component {shown} was modified "
            f"(sha256 {scanned.digest}, {META_FILE} says {meta.composed_digest})"
        )
        return
    if scanned.info.kind != "component":
        report.problems.append(f"composed component {shown} is a core WebAssembly module, not a component")
        return
    for extern in scanned.info.imports:
        if not extern.name.startswith(ignore) and not host_provides(extern.name, plan.linkage):
            report.problems.append(f"composed component {shown}: import {extern.name!r} is not an ignored prefix")


def _prove_composed(
    root: Path,
    plan: Plan,
    meta: BundleMeta,
    ignore: tuple[str, ...],
    report: Report,
    sources: dict[str, tuple[Path, str]],
) -> None:
    """The composed component must be exactly what wasm-tools composes from the plan's verified blobs.

    Composition is reproducible (no paths or timestamps reach the output), so
    a file with the right digest in ``pylon.json`` but other bytes than the
    plan composes to is refused. Without wasm-tools it cannot be proven: that
    is said, and ``run`` links the plan instead of running it.
    """
    from .compose import compose_bundle, find_wasm_tools, install_hint

    name = meta.composed or ""  # called only when pylon.json names one
    shown = printable(name)
    tool = find_wasm_tools()
    if tool is None:
        report.skipped.append(f"composed component {shown}: cannot be proven without wasm-tools ({install_hint()})")
        return
    try:
        composed = compose_bundle(
            root, plan, ignore_imports=ignore, strip=meta.composed_strip, tool=tool, sources=sources
        )
    except ComposeError as error:
        report.problems.append(f"composed component {shown}: the plan does not compose ({error})")
        return
    if composed.digest != meta.composed_digest:
        report.problems.append(
            f"composed component {shown} is not what the plan composes to "
            f"(sha256 {meta.composed_digest}; wasm-tools composes sha256 {composed.digest})"
        )
        return
    report.composed_proven = True


def _check_names(
    infos: dict[str, WasmInfo], bindings: list[Binding], ignore: tuple[str, ...], linkage: str, report: Report
) -> None:
    """Every import bound or left to the host (an ignored prefix, or an interface the runtime host serves)."""
    bound = {(b.consumer_id, b.import_name) for b in bindings}
    for component_id, info in sorted(infos.items()):
        for extern in info.imports:
            if extern.name.startswith(ignore) or host_provides(extern.name, linkage):
                continue
            if (component_id, extern.name) not in bound:
                report.problems.append(f"component {component_id!r}: import {extern.name!r} is not bound")
    names = {cid: ({e.name for e in info.imports}, {e.name for e in info.exports}) for cid, info in infos.items()}
    for b in bindings:
        label = f"binding {b.described()}"
        if b.consumer_id in names and b.import_name not in names[b.consumer_id][0]:
            report.problems.append(f"{label}: {b.consumer_id!r} has no import {b.import_name!r}")
        if b.provider_id in names and b.export_name not in names[b.provider_id][1]:
            report.problems.append(f"{label}: {b.provider_id!r} does not export {b.export_name!r}")


@dataclass(frozen=True)
class ProvidedCheck:
    """A component distribution's descriptor and blobs, checked (or the report of why not)."""

    report: Report
    descriptor: bytes = b""
    components: tuple[ProvidedComponent, ...] = ()
    blobs: dict[str, Path] = field(default_factory=dict)  # digest -> a file holding exactly those bytes

    def or_raise(self, label: str) -> ProvidedCheck:
        if self.report.problems:
            raise VerificationError(label, self.report.problems)
        return self


def verify_provided(
    base: str | os.PathLike[str],
    descriptor: str,
    store: str | None = None,
    *,
    limit: int = DEFAULT_MAX_COMPONENT_SIZE,
    copy_to: Path | None = None,
    owned: frozenset[str] | None = None,
) -> ProvidedCheck:
    """Check a component distribution: its descriptor (``descriptor``, below ``base``) and every blob it lists.

    Each blob is opened below ``base`` without following a link, streamed through SHA-256 and read as a
    component in the same pass; its digest, size, imports and exports must be the descriptor's, and the store
    holds nothing else. ``store`` replaces the descriptor's store folder (an sdist carries it elsewhere); with
    ``copy_to``, blobs are copied into a store there as they are hashed. ``owned`` (an installed distribution:
    the files its RECORD lists, below ``base``): a file in the store that it does not list belongs to another
    distribution sharing the folder (a namespace package), and is not this one's stray.
    """
    from .._errors import ComponentsError
    from .distributions import parse_descriptor

    root = Path(base)
    report = Report()
    try:
        data = read_capped(root, descriptor, descriptor)
        listed_store, components = parse_descriptor(data, descriptor)
    except ComponentsError as error:
        report.problems.append(str(error))
        return ProvidedCheck(report)
    if store is not None:  # every component is a blob in the store given
        components = tuple(c._replace(relative=f"{store}/{blob_relpath(c.digest or '')}") for c in components)
    else:
        store = listed_store
    blobs = _check_provided(root, components, descriptor, Limits(max_size=limit), report, copy_to)
    if store is not None and (store == STORE_DIR or store.endswith(f"/{STORE_DIR}")):
        prefix = store[: -len(STORE_DIR)]
        mine = None if owned is None else {f[len(prefix) :] for f in owned if f.startswith(prefix)}
        _check_strays(root / prefix, {c.digest or "" for c in components}, report, mine)
    report.checked_components = len(blobs)
    return ProvidedCheck(report, data, components, blobs)


def _check_provided(
    root: Path,
    components: tuple[ProvidedComponent, ...],
    says: str,
    limits: Limits,
    report: Report,
    copy_to: Path | None = None,
    distribution: str = "",
) -> dict[str, Path]:
    """Each provided component through the one blob check (each distinct blob read once): its digest and size,
    the imports and exports the descriptor lists (when it lists them), and every capability its bridge requires
    exported. Digest -> the file holding exactly the checked bytes."""
    from .distributions import capability_problem

    blobs: dict[str, Path] = {}
    scans: dict[str, ScannedFile | None] = {}  # digest -> its scan: each distinct blob is read once
    for component in components:

        def listed(scanned: ScannedFile, component: ProvidedComponent = component) -> str | None:
            imports = tuple(sorted({(e.name, e.kind) for e in scanned.info.imports}))
            exports = tuple(sorted({(e.name, e.kind) for e in scanned.info.exports}))
            if component.size is not None and scanned.size != component.size:
                return f"it is {scanned.size} bytes, {says} says {component.size}"
            if component.listed and (imports, exports) != (
                tuple(sorted(component.imports)),
                tuple(sorted(component.exports)),
            ):
                return f"its imports or exports are not what {says} lists"
            return capability_problem(distribution or says, component, (name for name, _ in exports))

        where = f"component {component.id!r}: {'blob ' if '/blobs/' in component.relative else ''}{component.relative}"
        digest = component.digest or ""
        if digest in scans:  # read already: only what this entry lists is compared
            earlier = scans[digest]
            problem = listed(earlier) if earlier is not None else None
            if problem is not None:
                report.problems.append(f"{where}: {problem}")
            continue
        scans[digest] = None
        checked = _check_blob(root, component.relative, digest, where, says, limits, report, copy_to, listed)
        if checked is not None:
            scans[digest] = checked[0]
            blobs[digest] = checked[1]
    report.checked_components = len(blobs)
    return blobs


def verify_distribution(
    base: Path, dist_info: str, found_in: str, *, limit: int = DEFAULT_MAX_COMPONENT_SIZE
) -> Checked:
    """Check a component distribution laid out as installed below ``base`` (site-packages, or an unpacked wheel):
    what it provides (hatch-pylon's descriptor, or python-wasm's bridge manifests), each file opened below
    ``base`` without following a link and streamed through SHA-256 against the digest and size its descriptor or
    RECORD gives, read as a component in the same pass, every capability its bridge requires exported; a
    descriptor's store holds nothing else."""
    from importlib.metadata import PathDistribution

    from .._errors import ComponentsError
    from .distributions import DESCRIPTOR, read_distribution

    report = Report()
    record = PathDistribution(base / dist_info)
    name = record.metadata["Name"] or dist_info
    try:
        distribution = read_distribution(record, name, found_in)
    except ComponentsError as error:
        report.problems.append(str(error))
        return Checked(report)
    says = "its descriptor" if DESCRIPTOR in distribution.descriptor else "RECORD"
    _check_provided(base, distribution.components, says, Limits(max_size=limit), report, None, distribution.label)
    store = distribution.store
    if store is not None and (store == STORE_DIR or store.endswith(f"/{STORE_DIR}")):
        in_store = {c.digest or "" for c in distribution.components if c.relative.startswith(f"{store}/")}
        _check_strays(base / store[: -len(STORE_DIR)], in_store, report)
    return Checked(report, distribution)


@dataclass(frozen=True)
class Checked:
    """A component distribution, checked (or the report of why not)."""

    report: Report
    distribution: ComponentDistribution | None = None
