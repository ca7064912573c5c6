"""Do a provider's exports have the types its consumers import?

Types come from wasmtime's reflection (``imports_of``, ``exports_of``) or, for consumers, straight
from the binary (``signatures``); both are rendered as WIT-like text
(``func(a: s64, b: s64) -> s64``) and compared positionally: what links is the
shape of the values, and the rendering is what a mismatch message shows.
"""

from __future__ import annotations

from collections.abc import Mapping

from wasmtime.component import (
    BorrowType,
    ComponentInstanceType,
    ComponentType,
    EnumType,
    FlagsType,
    FuncType,
    FutureType,
    ListType,
    ModuleType,
    OptionType,
    OwnType,
    RecordType,
    ResourceType,
    ResultType,
    StreamType,
    TupleType,
    VariantType,
)

from .resolve import Binding
from .signatures import InstanceSignatures, Item, OtherItem, Signature, describe

_RESOURCE_TYPES = (OwnType, BorrowType)


def render(value_type: object) -> str:
    """WIT-like text of a wasmtime value type."""
    if isinstance(value_type, ListType):
        return f"list<{render(value_type.element)}>"
    if isinstance(value_type, OptionType):
        return f"option<{render(value_type.payload)}>"
    if isinstance(value_type, ResultType):
        ok = render(value_type.ok) if value_type.ok is not None else "_"
        err = render(value_type.err) if value_type.err is not None else "_"
        return "result" if ok == err == "_" else f"result<{ok}, {err}>"
    if isinstance(value_type, TupleType):
        return f"tuple<{', '.join(render(t) for t in value_type.elements)}>"
    if isinstance(value_type, RecordType):
        return "record { " + ", ".join(f"{n}: {render(t)}" for n, t in value_type.fields) + " }"
    if isinstance(value_type, VariantType):
        cases = (f"{n}({render(t)})" if t is not None else n for n, t in value_type.cases)
        return "variant { " + ", ".join(cases) + " }"
    if isinstance(value_type, EnumType):
        return "enum { " + ", ".join(value_type.names) + " }"
    if isinstance(value_type, FlagsType):
        return "flags { " + ", ".join(value_type.names) + " }"
    if isinstance(value_type, (FutureType, StreamType)):
        kind = "future" if isinstance(value_type, FutureType) else "stream"
        return f"{kind}<{render(value_type.payload)}>" if value_type.payload is not None else kind
    if isinstance(value_type, OwnType):
        return "own<resource>"
    if isinstance(value_type, BorrowType):
        return "borrow<resource>"
    return type(value_type).__name__.lower().replace("errorcontext", "error-context")


def signature(func: FuncType) -> Signature:
    result = render(func.result) if func.result is not None else None
    return Signature(tuple((name, render(t)) for name, t in func.params), result)


def imports_of(component: ComponentType, engine) -> dict[str, Item]:
    """wasmtime's view of a component's imports, in the form ``signatures`` decodes from binaries."""
    return {name: _item(extern.ty, engine) for name, extern in component.imports(engine).items()}


def exports_of(component: ComponentType, engine) -> dict[str, Item]:
    return {name: _item(extern.ty, engine) for name, extern in component.exports(engine).items()}


def _item(ty: object, engine) -> Item:
    if isinstance(ty, FuncType):
        return signature(ty)
    if isinstance(ty, ComponentInstanceType):
        exports = ty.exports(engine).items()
        return InstanceSignatures({n: signature(e.ty) for n, e in exports if isinstance(e.ty, FuncType)})
    if isinstance(ty, ComponentType):
        return OtherItem("component")
    return OtherItem("module" if isinstance(ty, ModuleType) else "type")  # value and resource types


def uses_resources(item: object) -> bool:
    if isinstance(item, ResourceType):
        return True
    if isinstance(item, FuncType):
        types = [t for _, t in item.params] + ([item.result] if item.result is not None else [])
        return any(_contains_resource(t) for t in types)
    return False


def _contains_resource(value_type: object) -> bool:
    if isinstance(value_type, _RESOURCE_TYPES):
        return True
    children: list[object] = []
    if isinstance(value_type, ListType):
        children = [value_type.element]
    elif isinstance(value_type, OptionType):
        children = [value_type.payload]
    elif isinstance(value_type, ResultType):
        children = [value_type.ok, value_type.err]
    elif isinstance(value_type, TupleType):
        children = list(value_type.elements)
    elif isinstance(value_type, RecordType):
        children = [t for _, t in value_type.fields]
    elif isinstance(value_type, VariantType):
        children = [t for _, t in value_type.cases]
    return any(_contains_resource(child) for child in children if child is not None)


def binding_problems(binding: Binding, imports: Mapping[str, Item], exports: Mapping[str, Item]) -> list[str]:
    """Every function the consumer imports through ``binding`` must exist in the provider with the same types.

    ``imports`` are the consumer's, ``exports`` the provider's; functions are
    compared by shape, and types or resources are left to the linker.
    """
    label = f"{binding.consumer_id} -> {binding.provider_id} ({binding.import_name})"
    wanted = imports.get(binding.import_name)
    offered = exports.get(binding.export_name)
    if wanted is None:
        return [f"{label}: {binding.consumer_id} has no import {binding.import_name!r}"]
    if offered is None:
        return [f"{label}: {binding.provider_id} has no export {binding.export_name!r}"]
    if isinstance(wanted, Signature) and isinstance(offered, Signature):
        return _compare({"": wanted}, {"": offered}, label)
    if not isinstance(wanted, InstanceSignatures) or not isinstance(offered, InstanceSignatures):
        return [f"{label}: import is a {describe(wanted)}, export is a {describe(offered)}"]
    return _compare(wanted.functions, offered.functions, label)


def _compare(wanted: Mapping[str, Signature], offered: Mapping[str, Signature], label: str) -> list[str]:
    problems = []
    for name, item in sorted(wanted.items()):
        where = f"function {name!r}" if name else "the function"
        match = offered.get(name)
        if match is None:
            problems.append(f"{label}: provider does not export {where} ({item})")
        elif item.shape != match.shape:
            problems.append(f"{label}: {where} differs: consumer imports {item}, provider exports {match}")
    return problems
