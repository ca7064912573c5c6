"""Check a bundle folder: plan structure, blobs, bindings by name, and (optionally) by type.

Every problem found is reported, not just the first. Blob bytes are hashed
before anything reads their contents, and a blob that fails its digest is
never parsed or compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .bundle import PLAN_FILE, STORE_DIR
from .compiler import CompileError, Compiler
from .errors import ComponentFormatError
from .plan import structural_problems
from .resolve import Binding
from .signatures import Item, Undecidable, export_signatures, import_signatures
from .store import blob_relpath
from .typecheck import binding_problems, exports_of, imports_of
from .wasm import WasmInfo, inspect


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked_components: int = 0
    checked_bindings: int = 0
    typed: bool = False
    compiled_all: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_folder(folder: str | os.PathLike[str], *, types: bool = True, ignore_imports: tuple[str, ...] = ("wasi:",),
                  compiler: Compiler | None = None, compile_all: bool = False) -> Report:
    """Check ``folder/plan.json`` and its blobs; ``compile_all`` also has wasmtime validate every component."""
    folder = Path(folder)
    report = Report()
    try:
        raw = json.loads((folder / PLAN_FILE).read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.problems.append(f"{PLAN_FILE}: cannot be read as JSON ({exc})")
        return report
    report.problems += [f"{PLAN_FILE}: {p}" for p in structural_problems(raw)]
    components = _components(raw)
    bindings = _bindings(raw)
    good = _check_blobs(folder / STORE_DIR, components, report)
    infos = _check_names(good, bindings, ignore_imports, report)
    if types and len(infos) == len(components):
        files = {component_id: (path, components[component_id]) for component_id, path in good.items()}
        report.problems += type_problems(files, bindings, compiler or Compiler(), compile_all=compile_all)
        report.typed = True
        report.compiled_all = compile_all
    report.checked_components = len(components)
    report.checked_bindings = len(bindings)
    return report


def _components(raw: object) -> dict[str, str]:
    result = {}
    for component in raw.get("components", []) if isinstance(raw, dict) else []:
        digest = component.get("digest") if isinstance(component, dict) else None
        if isinstance(digest, list) and len(digest) == 32 and all(isinstance(b, int) and 0 <= b < 256 for b in digest):
            result[str(component.get("id"))] = bytes(digest).hex()
    return result


def _bindings(raw: object) -> list[Binding]:
    fields = ("consumer_id", "import_name", "provider_id", "export_name")
    items = raw.get("bindings", []) if isinstance(raw, dict) else []
    return [Binding(*(b[f] for f in fields)) for b in items
            if isinstance(b, dict) and all(isinstance(b.get(f), str) for f in fields)]


def _check_blobs(store: Path, components: dict[str, str], report: Report) -> dict[str, Path]:
    good = {}
    expected = set()
    for component_id, digest in sorted(components.items()):
        relative = blob_relpath(digest)
        expected.add(relative)
        path = store / relative
        if not path.is_file():
            report.problems.append(f"component {component_id!r}: blob {STORE_DIR}/{relative} is missing")
            continue
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != digest:
            report.problems.append(f"component {component_id!r}: blob {STORE_DIR}/{relative} was modified "
                                   f"(sha256 {actual}, plan says {digest})")
            continue
        good[component_id] = path
    blobs = store / "blobs"
    if blobs.is_dir():
        for path in sorted(p for p in blobs.rglob("*") if p.is_file()):
            relative = path.relative_to(store).as_posix()
            if relative not in expected:
                report.problems.append(f"blob {STORE_DIR}/{relative} is not named by the plan")
    return good


def _check_names(good: dict[str, Path], bindings: list[Binding], ignore: tuple[str, ...],
                 report: Report) -> dict[str, WasmInfo]:
    infos = {}
    for component_id, path in good.items():
        try:
            infos[component_id] = inspect(path)
        except ComponentFormatError as error:
            report.problems.append(f"component {component_id!r}: {error.reason}")
    bound = {(b.consumer_id, b.import_name) for b in bindings}
    for component_id, info in sorted(infos.items()):
        for extern in info.imports:
            if not extern.name.startswith(ignore) and (component_id, extern.name) not in bound:
                report.problems.append(f"component {component_id!r}: import {extern.name!r} is not bound")
    for b in bindings:
        label = f"binding {b.consumer_id}: {b.import_name} -> {b.provider_id}: {b.export_name}"
        consumer, provider = infos.get(b.consumer_id), infos.get(b.provider_id)
        if consumer is not None and b.import_name not in {e.name for e in consumer.imports}:
            report.problems.append(f"{label}: {b.consumer_id!r} has no import {b.import_name!r}")
        if provider is not None and b.export_name not in {e.name for e in provider.exports}:
            report.problems.append(f"{label}: {b.provider_id!r} does not export {b.export_name!r}")
    return infos


def type_problems(files: dict[str, tuple[Path, str]], bindings: list[Binding], compiler: Compiler,
                  compile_all: bool = False) -> list[str]:
    """Type-check ``bindings`` between components given as id -> (file, expected sha256).

    Import and export types are decoded from each binary (``signatures``);
    a component with something the decoder does not model is compiled
    instead, with the cache. With ``compile_all`` every component is
    compiled, which also proves wasmtime accepts its code.
    """
    problems = []
    imports: dict[str, dict[str, Item]] = {}
    exports: dict[str, dict[str, Item]] = {}
    providers = {b.provider_id for b in bindings}
    for component_id, (path, expected) in sorted(files.items()):
        data = Path(path).read_bytes()
        if hashlib.sha256(data).hexdigest() != expected:  # the bytes compiled must be the bytes checked
            problems.append(f"component {component_id!r}: {path} changed while being verified")
            continue
        if not compile_all:
            try:
                decoded_imports = import_signatures(data, os.fspath(path))
                if component_id in providers:
                    exports[component_id] = export_signatures(data, os.fspath(path))
                imports[component_id] = decoded_imports
                continue
            except Undecidable:
                pass
        try:
            component = compiler.component(data, expected).type
        except CompileError as error:
            problems.append(f"component {component_id!r}: {error}")
            continue
        imports[component_id] = imports_of(component, compiler.engine)
        exports[component_id] = exports_of(component, compiler.engine)
    for binding in bindings:
        if binding.consumer_id in imports and binding.provider_id in exports:
            problems += binding_problems(binding, imports[binding.consumer_id], exports[binding.provider_id])
    return problems
