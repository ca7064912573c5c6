"""Do a provider's exports have the types its consumers import?

Types are decoded from the binaries (``wasm.signatures``) without compiling
anything; only a component the decoder cannot read is compiled, and then
wasmtime's reflection (``wasm.reflect``) stands in. Signatures are compared
positionally: what links is the shape of the values, and the rendering is
what a mismatch message shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Union

from .._errors import printable, quoted
from .._fs import open_regular, os_reason, sha256_hex
from ..composectl.linkage import ENDPOINT, LINKER, bound_closure, is_endpoint, is_linker
from ..composectl.plan import Binding
from ..wasm.names import parse_name
from ..wasm.signatures import (
    InstanceSignatures,
    Item,
    Signature,
    Tree,
    Undecidable,
    decode_file,
    decode_types,
    describe,
    render,
    shape_of,
    uses_resources,
)

if TYPE_CHECKING:
    from ..wasm.compiler import Compiler


class TypeReport:
    """What a type check found (a plain class: ``dataclasses`` would cost ``plan``'s start-up)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.compiled: list[str] = []  # components wasmtime had to read
        self.skipped: list[str] = []  # components nobody could read (no wasmtime)
        self.resource_bindings: list[str] | None = None  # bound imports passing handles; None: not known for all


CompilerSource = Union["Compiler", Callable[[], Union["Compiler", None]], None]


def type_problems(
    files: Mapping[str, tuple[Path, str]],
    bindings: list[Binding],
    compiler: CompilerSource,
    compile_all: bool = False,
    shaping: Mapping[str, bytes] | None = None,
    root: str | None = None,
    linkage: str = "static",
) -> TypeReport:
    """Type-check ``bindings`` between components given as id -> (file, expected sha256).

    Import and export types are decoded from each binary, mapped rather than
    read whole, or from ``shaping[id]``: the type sections a scan kept from
    the bytes it hashed (``ScannedFile.shaping``), so the file is not read
    again. A component the decoder does not model is compiled instead
    (through the cache), and so is every component with ``compile_all``,
    which also proves wasmtime accepts its code. ``compiler`` is a Compiler,
    or a callable making one (or None) only when the first compile is needed,
    so wasmtime is not even imported when every type can be read. Without
    one (wasmtime not installed) such components are listed in ``skipped``.

    With ``root`` (the plan's), what ``run`` and the runtime host call is typed here too
    (``contract_problems``): the root's entry point, the linker a guest imports from the host, and the
    endpoint of every provider the host calls.
    """
    report = TypeReport()
    made: list[Compiler | None] = []

    def get_compiler() -> Compiler | None:
        if not made:
            made.append(compiler() if callable(compiler) else compiler)
        return made[0]

    imports: dict[str, Mapping[str, Item]] = {}
    exports: dict[str, Mapping[str, Item]] = {}
    providers = {b.provider_id for b in bindings}
    if root is not None:  # the root's entry point, and every component the host may call into
        providers |= {root, *(set(files) - bound_closure(root, bindings))}
    with_exports = {files[cid][1] for cid in providers if cid in files}  # digests whose exports are needed
    done: dict[str, str] = {}  # digest -> the id it was read for: each distinct blob is read once
    for component_id, (path, expected) in sorted(files.items()):
        first = done.setdefault(expected, component_id)
        if first != component_id:  # the same bytes under another id: the same types, or the same verdict
            if first in imports:
                imports[component_id], exports[component_id] = imports[first], exports[first]
            elif first in report.skipped:
                report.skipped.append(component_id)
            continue
        if not compile_all:
            try:
                kept = (shaping or {}).get(component_id)
                wanted = expected in with_exports
                decoded = (
                    decode_file(path, exports=wanted) if kept is None else decode_types(kept, str(path), exports=wanted)
                )
                imports[component_id], exports[component_id] = decoded
                continue
            except Undecidable:
                pass
            except OSError as exc:  # removed or replaced after the gate hashed it
                report.problems.append(f"component {component_id!r}: {path} cannot be read ({os_reason(exc)})")
                continue
        chosen = get_compiler()
        if chosen is None:
            report.skipped.append(component_id)
            continue
        try:
            with open_regular(path, follow_symlinks=False) as file:
                data = file.read()  # wasmtime compiles from memory; only the undecodable ones come here
        except OSError as exc:
            report.problems.append(f"component {component_id!r}: {path} cannot be read ({os_reason(exc)})")
            continue
        if sha256_hex(data) != expected:  # the bytes compiled must be the bytes checked
            report.problems.append(f"component {component_id!r}: {path} changed while being verified")
            continue
        from .._errors import CompileError
        from ..wasm.reflect import exports_of, imports_of

        try:
            component = chosen.component(data, expected, component_id).type
        except CompileError as error:
            report.problems.append(f"component {component_id!r}: {error}")
            continue
        report.compiled.append(component_id)
        imports[component_id] = imports_of(component, chosen.engine)
        exports[component_id] = exports_of(component, chosen.engine)
    for binding in bindings:
        if binding.consumer_id in imports and binding.provider_id in exports:
            report.problems += binding_problems(binding, imports[binding.consumer_id], exports[binding.provider_id])
    if root is not None:
        report.problems += contract_problems(root, linkage, bindings, imports, exports)
    if all(b.consumer_id in imports for b in bindings):
        report.resource_bindings = [
            f"{b.consumer_id} imports {b.import_name!r}"
            for b in bindings
            if (item := imports[b.consumer_id].get(b.import_name)) is not None and uses_resources(item)
        ]
    return report


def binding_problems(binding: Binding, imports: Mapping[str, Item], exports: Mapping[str, Item]) -> list[str]:
    """Every function the consumer imports through ``binding`` must exist in the provider with the same types.

    ``imports`` are the consumer's, ``exports`` the provider's; functions are
    compared by shape, and a handle names the resource its instance exports
    it as, so ``borrow<a>`` never matches ``borrow<b>`` (resources are told
    apart by identity, as wasm-compose and wasmtime do).
    """
    consumer, provider = printable(binding.consumer_id), printable(binding.provider_id)
    label = f"{consumer} -> {provider} ({printable(binding.import_name)})"
    wanted = imports.get(binding.import_name)
    offered = exports.get(binding.export_name)
    if wanted is None:
        return [f"{label}: {consumer} has no import {quoted(binding.import_name)}"]
    if offered is None:
        return [f"{label}: {provider} has no export {quoted(binding.export_name)}"]
    if isinstance(wanted, Signature) and isinstance(offered, Signature):
        return _compare({"": wanted}, {"": offered}, label)
    if not isinstance(wanted, InstanceSignatures) or not isinstance(offered, InstanceSignatures):
        return [f"{label}: import is a {describe(wanted)}, export is a {describe(offered)}"]
    return _compare(wanted.functions, offered.functions, label)


def _compare(wanted: Mapping[str, Signature], offered: Mapping[str, Signature], label: str) -> list[str]:
    """One line per cause: a missing function, a function of another arity, or the first place a parameter's or
    the result's types differ, named by the WIT type it is in (shared by every function using that type)."""
    problems = []
    causes: dict[tuple[str, str, str], list[str]] = {}  # (where, consumer's, provider's) -> functions
    for name, item in sorted(wanted.items()):
        where = f"function {quoted(name)}" if name else "the function"
        match = offered.get(name)
        if match is None:
            problems.append(f"{label}: provider does not export {where} ({printable(item.named())})")
            continue
        if item.shape == match.shape:
            continue
        found = _differences(item, match, where)
        if found is None:
            problems.append(
                f"{label}: {where} differs: consumer imports {printable(item.named())}, "
                f"provider exports {printable(match.named())}"
            )
        for cause in found or ():
            functions = causes.setdefault(cause, [])
            functions += [] if name in functions else [name]
    for (where, mine, theirs), names in causes.items():
        used = (
            f" (used by {', '.join(quoted(n) for n in names)})" if where.startswith("type ") and names != [""] else ""
        )
        problems.append(
            f"{label}: {where}: consumer imports {printable(mine)}, provider exports {printable(theirs)}{used}"
        )
    return problems


def _differences(wanted: Signature, offered: Signature, where: str) -> list[tuple[str, str, str]] | None:
    """(where, consumer's text, provider's text) for each parameter and the result whose types differ, at the
    first place they do; None when the signatures do not line up (another count, a result on one side only)."""
    if wanted.trees is None or offered.trees is None:
        return None
    (mine, my_result), (theirs, their_result) = wanted.trees(), offered.trees()
    if len(mine) != len(theirs) or (my_result is None) != (their_result is None):
        return None
    pairs = [(f"{where}, parameter {quoted(n)}", a, b) for (n, _), a, b in zip(wanted.params, mine, theirs)]
    if my_result is not None and their_result is not None:
        pairs.append((f"{where}, result", my_result, their_result))
    found = []
    for at, a, b in pairs:
        if shape_of(a) != shape_of(b):
            anchor, steps, texts = _first_difference(a, b, None, ())
            place = f"type {quoted(anchor)}" if anchor is not None else at
            found.append((", ".join((place, *steps)), *texts))
    return found


def _first_difference(
    a: Tree, b: Tree, anchor: str | None, steps: tuple[str, ...]
) -> tuple[str | None, tuple[str, ...], tuple[str, str]]:
    """The innermost WIT type name on the way, the steps from it, and both sides' text where ``a`` and ``b``
    first differ (``a`` and ``b`` differ somewhere)."""
    name = a[1] or b[1]
    if name is not None:
        anchor, steps = name, ()
    here = (anchor, steps, (render(a), render(b)))
    (kind, _, labels, parts), (other, _, their_labels, their_parts) = a, b
    if kind != other or len(labels) != len(their_labels) or len(parts) != len(their_parts):
        return here
    what = {"record": "field", "variant": "case", "enum": "case", "flags": "flag"}.get(kind)
    for index, (mine, theirs) in enumerate(zip(labels, their_labels)):
        if mine != theirs and kind in ("record", "variant"):
            texts = (_member(kind, mine, parts[index]), _member(kind, theirs, their_parts[index]))
            return anchor, (*steps, f"{what} {index + 1}"), texts
        if mine != theirs and what is None:  # a handle's resource: the types themselves differ
            return here
        if mine != theirs:
            return anchor, (*steps, f"{what} {index + 1}"), (quoted(mine), quoted(theirs))
    for index, (mine_part, their_part) in enumerate(zip(parts, their_parts)):
        if shape_of(mine_part) == shape_of(their_part):
            continue
        step = _step(kind, labels, index)
        if mine_part is None or their_part is None:
            texts = (
                "none" if mine_part is None else render(mine_part),
                "none" if their_part is None else render(their_part),
            )
            return anchor, (*steps, step), texts
        return _first_difference(mine_part, their_part, anchor, (*steps, step))
    return here


def _member(kind: str, label: str, part: Tree | None) -> str:
    if kind == "record":
        return f"{label}: {render(part) if part is not None else '_'}"
    return label if part is None else f"{label}({render(part)})"


def _step(kind: str, labels: tuple[str, ...], index: int) -> str:
    """How a message names member ``index`` of a ``kind``."""
    if kind == "record":
        return f"field {quoted(labels[index])}"
    if kind == "variant":
        return f"case {quoted(labels[index])}"
    if kind == "result":
        return f"{labels[index]} value"
    if kind == "tuple":
        return f"element {index + 1}"
    return {"list": "element", "option": "value"}.get(kind, "payload")


# -- what the runtime host calls, and what it serves --------------------------------------------------------

# sys:compose/types@1.0.0's error record, as the decoder (and wasmtime's reflection) render it.
_ERROR_CODES = (
    "plan-invalid-schema, plan-invalid-cbor, plan-missing-field, plan-invalid-graph, plan-cycle-detected, "
    "emit-missing-blob, emit-invalid-digest, emit-composition-failed, emit-link-error, exec-trap, exec-timeout, "
    "exec-resource-exhausted, exec-capability-denied, exec-missing-export, blob-not-found, blob-digest-mismatch, "
    "blob-io-error, trust-verification-failed, trust-signature-invalid, trust-certificate-expired, "
    "trust-untrusted-source, secret-not-found, secret-access-denied, secret-backend-error, invalid-input, "
    "internal-error, not-implemented"
)
_ERROR = f"record {{ code: variant {{ {_ERROR_CODES} }}, message: string, context: option<string> }}"
ENDPOINT_TRACK = f"{ENDPOINT}@0.1"  # the endpoint the host calls: compose:dynlink/endpoint@0.1.x
# What the host's compose:dynlink/linker@0.1.x defines, and the endpoint it calls: parameter types, result type.
LINKER_FUNCTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "[method]instance.invoke": (("borrow<instance>", "string", "list<u8>"), f"result<list<u8>, {_ERROR}>"),
    "resolve-by-digest": (("list<u8>",), f"result<own<instance>, {_ERROR}>"),
    "resolve-by-id": (("string",), f"result<own<instance>, {_ERROR}>"),
}
LINKER_RESOURCES = ("instance",)
ENDPOINT_FUNCTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "handle": (("string", "list<u8>"), f"result<list<u8>, {_ERROR}>"),
}
RUN_INTERFACE = "wasi:cli/run@0.2."  # what ``run`` calls first; else a top-level ``run`` function


def _wit(shape: tuple[tuple[str, ...], str | None]) -> str:
    params, result = shape
    text = f"func({', '.join(params)})" + (f" -> {result}" if result is not None else "")
    return text.replace(_ERROR, "error")


def contract_problems(
    root: str,
    linkage: str,
    bindings: list[Binding],
    imports: Mapping[str, Mapping[str, Item]],
    exports: Mapping[str, Mapping[str, Item]],
) -> list[str]:
    """What ``run`` would otherwise meet only when it calls: each problem names the component and the function.

    - the root's entry point (``wasi:cli/run@0.2.x``'s ``run``, else a top-level ``run``) takes no parameters:
      ``run`` passes ARGS as WASI's argv;
    - a linker the host serves (an unbound ``compose:dynlink/linker@0.1.x`` import) is imported with the
      host's types, and only what the host defines;
    - when a component imports that linker, every component outside the root's bound graph (a registry
      member, resolved at run time) exports ``compose:dynlink/endpoint@0.1.x`` with its ``handle``, and no
      other endpoint; under runtime linkage, a bound endpoint import is on that track with that signature.
    """
    problems = _entry_problems(root, exports.get(root))
    bound = {(b.consumer_id, b.import_name) for b in bindings}
    guests = []
    for component_id, items in sorted(imports.items()):
        for name, item in sorted(items.items()):
            if is_linker(name) and (component_id, name) not in bound:
                guests.append(component_id)
                problems += _linker_problems(component_id, name, item)
            elif linkage == "runtime" and is_endpoint(name) and (component_id, name) in bound:
                problems += _endpoint_problems(component_id, "imports", {name: item})
    if guests:
        for member in sorted(set(exports) - bound_closure(root, bindings)):
            offered = {name: item for name, item in exports[member].items() if is_endpoint(name)}
            if not offered:
                problems.append(
                    f"component {quoted(member)}: a linker guest may resolve it at run time, but it exports no "
                    f"{ENDPOINT_TRACK}.x"
                )
            problems += _endpoint_problems(member, "exports", offered)
    return problems


def _entry_problems(root: str, offered: Mapping[str, Item] | None) -> list[str]:
    if offered is None:
        return []
    shown = quoted(root)
    run = [name for name in sorted(offered) if name.startswith(RUN_INTERFACE)]
    if run:
        item = offered[run[0]]
        func = item.functions.get("run") if isinstance(item, InstanceSignatures) else None
        if func is None:
            return [f"root {shown}: its export {quoted(run[0])} has no run function for hatch-pylon run to call"]
        where = f"{run[0]}#run"
    elif isinstance(offered.get("run"), Signature):
        func, where = offered["run"], "run"  # type: ignore[assignment]
    else:
        return []  # no entry point: run says so; composectl and other hosts call what they call
    assert isinstance(func, Signature)
    if func.params:
        return [
            f"root {shown}: {where} is {printable(str(func))}; hatch-pylon run calls it with no parameters (ARGS "
            "reach the root as WASI's argv), so it must take none"
        ]
    return []


def _linker_problems(component_id: str, name: str, item: Item) -> list[str]:
    where = f"component {quoted(component_id)}: its import {quoted(name)}"
    if not isinstance(item, InstanceSignatures):
        return [f"{where} is a {describe(item)}; the host serves {LINKER}@0.1.x as an interface"]
    problems = [
        f"{where} declares the resource {quoted(resource)}, which the host's linker does not define"
        for resource in item.resources
        if resource not in LINKER_RESOURCES
    ]
    for function, signature in sorted(item.functions.items()):
        expected = LINKER_FUNCTIONS.get(function)
        if expected is None:
            problems.append(f"{where} declares {quoted(function)}, which the host's linker does not define")
        elif signature.shape != expected:
            problems.append(
                f"{where} declares {quoted(function)} as {_wit(signature.shape)}; the host's linker has "
                f"{_wit(expected)}"
            )
    return problems


def _endpoint_problems(component_id: str, role: str, items: Mapping[str, Item]) -> list[str]:
    problems = []
    for name, item in sorted(items.items()):
        where = f"component {quoted(component_id)}: it {role} {quoted(name)}"
        if parse_name(name).track != ENDPOINT_TRACK:
            problems.append(f"{where}, but the host calls {ENDPOINT_TRACK}.x")
            continue
        functions = item.functions if isinstance(item, InstanceSignatures) else {}
        for function, expected in ENDPOINT_FUNCTIONS.items():
            found = functions.get(function)
            if found is None:
                problems.append(f"{where} without {quoted(function)}, which the host calls")
            elif found.shape != expected:
                problems.append(
                    f"{where} with {quoted(function)} as {_wit(found.shape)}; the host calls {_wit(expected)}"
                )
    return problems
