"""The verification gate: the one check every consumer of a bundle goes through.

``verify``, ``run``, ``trust``, ``compose`` and a wheel built from an sdist
all call ``verify_bundle`` once, with what ``_sources.open_target`` yields (or
a folder); what it refuses, they all refuse, with the same messages. It
checks, reporting every problem it finds:

- what unpacking the archive found (a wheel's bundle files against its ``RECORD``);

- the plan, through the one parser (``_plan.parse_plan``), re-written to canonical bytes;
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
from typing import TYPE_CHECKING

from ._errors import ComponentFormatError, PylonError, VerificationError
from ._fs import TempFile, TooLarge, open_inside, os_reason
from ._layout import BLOBS_DIR, META_FILE, PLAN_FILE, STORE_DIR, blob_relpath
from ._plan import MAX_PLAN_BYTES, Binding, Plan, PlanFormatError, parse_plan
from ._wasm import Limits, WasmInfo, scan_stream

if TYPE_CHECKING:
    from ._compiler import Compiler
    from ._sources import BundleFolder

DEFAULT_IGNORE = ("wasi:",)
DEFAULT_LIMIT = 2 << 30


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked_components: int = 0
    checked_bindings: int = 0
    typed: bool = False
    compiled_all: bool = False
    skipped: list[str] = field(default_factory=list)  # what could not be checked, and why
    passes_resources: bool | None = None  # from the type check: a binding passes resource handles

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class BundleMeta:
    """hatch-pylon's record of how the build judged the bundle (``pylon.json``), outside the composectl plan."""

    ignore_imports: tuple[str, ...] = DEFAULT_IGNORE
    composed: str | None = None  # file name of the composed component, next to plan.json
    composed_digest: str | None = None

    def to_json(self) -> bytes:
        document: dict[str, object] = {"version": 1, "ignore-imports": list(self.ignore_imports)}
        if self.composed is not None:
            document["composed"] = {"file": self.composed, "digest": self.composed_digest}
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

    def or_raise(self) -> Verified:
        if self.report.problems:
            raise VerificationError(self.label, self.report.problems)
        return self


def verify_bundle(
    bundle: BundleFolder | str | os.PathLike[str],
    *,
    types: bool = True,
    compile_all: bool = False,
    compiler: Compiler | Callable[[], Compiler | None] | None = None,
    ignore_imports: tuple[str, ...] | None = None,
    limit: int = DEFAULT_LIMIT,
    copy_to: Path | None = None,
) -> Verified:
    """Check ``bundle``: what ``_sources.open_target`` yields (its unpacking problems, RECORD mismatches,
    are reported first) or a bundle folder. With ``copy_to``, verified blobs are copied into a store there
    as they are hashed.

    ``compiler`` is a Compiler, None (decode only; what cannot be decoded is
    skipped) or a callable making one when the first compile is needed.
    """
    if isinstance(bundle, (str, os.PathLike)):
        root, label, report = Path(bundle), os.fspath(bundle), Report()
    else:
        root, label, report = bundle.folder, bundle.label, Report(list(bundle.problems))
    try:
        plan = _read_plan(root)
    except PlanFormatError as error:
        report.problems += [f"{PLAN_FILE}: {problem}" for problem in error.problems]
        return Verified(report, label=label)
    except PylonError as error:
        report.problems.append(str(error))
        return Verified(report, label=label)
    meta = _read_meta(root, report)
    ignore = ignore_imports if ignore_imports is not None else meta.ignore_imports
    digests = {c.id: c.digest for c in plan.components}
    blobs, sizes, infos = _check_blobs(root, plan, Limits(max_size=limit), report, copy_to)
    _check_strays(root, set(digests.values()), report)
    _check_names(infos, list(plan.bindings), ignore, report)
    _check_composed(root, plan, meta, ignore, Limits(max_size=limit), report)
    if types and len(infos) == len(digests):
        from ._typecheck import type_problems

        files = {cid: (blobs[digest], digest) for cid, digest in digests.items()}
        typed = type_problems(files, list(plan.bindings), compiler, compile_all=compile_all)
        report.problems += typed.problems
        report.skipped += [
            f"types of {cid!r} (it needs wasmtime to read: pip install 'hatch-pylon[run]')" for cid in typed.skipped
        ]
        report.typed = True
        report.passes_resources = typed.passes_resources
        report.compiled_all = compile_all and not typed.skipped
    report.checked_components = len(digests)
    report.checked_bindings = len(plan.bindings)
    return Verified(report, plan, meta, blobs, sizes, label)


def _read_small(root: Path, name: str) -> bytes:
    try:
        with open_inside(root, name) as file:
            data = file.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise PylonError(f"{name}: not found in the bundle") from None
    except OSError as exc:
        raise PylonError(f"{name}: cannot be read ({os_reason(exc)})") from None
    if len(data) > MAX_PLAN_BYTES:
        raise PylonError(f"{name}: over the limit of {MAX_PLAN_BYTES} bytes")
    return data


def _read_plan(root: Path) -> Plan:
    return parse_plan(_read_small(root, PLAN_FILE), PLAN_FILE)


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
    if (
        not isinstance(ignore, list)
        or not all(isinstance(p, str) and p for p in ignore)
        or (
            composed is not None
            and not (
                isinstance(composed, dict)
                and isinstance(composed.get("file"), str)
                and isinstance(composed.get("digest"), str)
            )
        )
    ):
        report.problems.append(f"{META_FILE}: not a hatch-pylon bundle record")
        return BundleMeta()
    if composed is None:
        return BundleMeta(tuple(ignore))
    return BundleMeta(tuple(ignore), composed["file"], composed["digest"])


def _check_blobs(
    root: Path, plan: Plan, limits: Limits, report: Report, copy_to: Path | None
) -> tuple[dict[str, Path], dict[str, int], dict[str, WasmInfo]]:
    blobs: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    infos: dict[str, WasmInfo] = {}
    for component in plan.components:
        relative = f"{STORE_DIR}/{blob_relpath(component.digest)}"
        where = f"component {component.id!r}: blob {relative}"
        temp = None
        try:
            with open_inside(root, relative) as file:
                if copy_to is not None:
                    destination = copy_to / STORE_DIR / blob_relpath(component.digest)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    temp = TempFile(destination.parent)
                scanned = scan_stream(file, relative, temp.file.write if temp else None, limits)
            if scanned.digest != component.digest:
                report.problems.append(f"{where} was modified (sha256 {scanned.digest}, plan says {component.digest})")
                continue
            if scanned.info.kind != "component":
                report.problems.append(f"{where} is a core WebAssembly module, not a component")
                continue
            if temp is not None:
                temp.commit(destination)
                blobs[component.digest] = destination
            else:
                blobs[component.digest] = root / relative
            sizes[component.digest] = scanned.size
            infos[component.id] = scanned.info
        except FileNotFoundError:
            report.problems.append(f"{where} is missing")
        except ComponentFormatError as error:
            report.problems.append(f"{where}: {_hashed_or_not(root, relative, component.digest, limits)}{error.detail}")
        except (OSError, TooLarge) as error:
            reason = os_reason(error) if isinstance(error, OSError) else str(error)
            report.problems.append(f"{where} cannot be used: {reason}")
        finally:
            if temp is not None and not temp.done:
                temp.discard()
    return blobs, sizes, infos


def _hashed_or_not(root: Path, relative: str, digest: str, limits: Limits) -> str:
    """A blob that does not parse: say first whether it is even the blob the plan names."""
    from ._fs import sha256_of

    try:
        with open_inside(root, relative) as file:
            actual, _ = sha256_of(file, limits.max_size)
    except (OSError, TooLarge):
        return ""
    return "" if actual == digest else f"was modified (sha256 {actual}, plan says {digest}); "


def _check_strays(root: Path, digests: set[str], report: Report) -> None:
    """Everything under ``.compose/`` must be a plan blob: no extra files, no links, nothing special."""
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
            name = f"{label}/{entry.name}"
            mode = entry.stat(follow_symlinks=False).st_mode
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
    from ._layout import composed_name

    name = meta.composed
    expected = composed_name(plan.root)
    if name != expected:
        report.problems.append(f"{META_FILE}: the composed component must be named {expected!r}, not {name!r}")
        return
    try:
        with open_inside(root, name) as file:
            scanned = scan_stream(file, name, None, limits)
    except FileNotFoundError:
        report.problems.append(f"composed component {name} is missing")
        return
    except ComponentFormatError as error:
        modified = _hashed_or_not(root, name, meta.composed_digest or "", limits)
        report.problems.append(f"composed component {name}: {modified}{error.detail}")
        return
    except (OSError, TooLarge) as error:
        reason = os_reason(error) if isinstance(error, OSError) else str(error)
        report.problems.append(f"composed component {name} cannot be used: {reason}")
        return
    if scanned.digest != meta.composed_digest:
        report.problems.append(
            f"composed component {name} was modified (sha256 {scanned.digest}, {META_FILE} says {meta.composed_digest})"
        )
        return
    if scanned.info.kind != "component":
        report.problems.append(f"composed component {name} is a core WebAssembly module, not a component")
        return
    for extern in scanned.info.imports:
        if not extern.name.startswith(ignore):
            report.problems.append(f"composed component {name}: import {extern.name!r} is not an ignored prefix")


def _check_names(infos: dict[str, WasmInfo], bindings: list[Binding], ignore: tuple[str, ...], report: Report) -> None:
    bound = {(b.consumer_id, b.import_name) for b in bindings}
    for component_id, info in sorted(infos.items()):
        for extern in info.imports:
            if not extern.name.startswith(ignore) and (component_id, extern.name) not in bound:
                report.problems.append(f"component {component_id!r}: import {extern.name!r} is not bound")
    names = {cid: ({e.name for e in info.imports}, {e.name for e in info.exports}) for cid, info in infos.items()}
    for b in bindings:
        label = f"binding {b.consumer_id}: {b.import_name} -> {b.provider_id}: {b.export_name}"
        if b.consumer_id in names and b.import_name not in names[b.consumer_id][0]:
            report.problems.append(f"{label}: {b.consumer_id!r} has no import {b.import_name!r}")
        if b.provider_id in names and b.export_name not in names[b.provider_id][1]:
            report.problems.append(f"{label}: {b.provider_id!r} does not export {b.export_name!r}")
