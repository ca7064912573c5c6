"""wasmtime's reflection of a compiled component, in the form ``wasm.signatures`` decodes from binaries.

Only imported where wasmtime is needed anyway (a compile fallback, ``run``);
the rendering (``func(a: s64, b: s64) -> s64``) matches ``wasm.signatures``'
text exactly, so the two sources compare directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

from .signatures import InstanceSignatures, Item, OtherItem, Signature, Tree, Trees, resource_name, resource_names

if TYPE_CHECKING:
    from wasmtime import Engine

Names = list[tuple[ResourceType, str]]


def _render(value_type: object, names: Names, handles: list[bool], listed: bool = False) -> str:
    """WIT-like text of a wasmtime value type; ``names`` are the resources its instance exports. A handle
    met on the way is recorded in ``handles`` (True for a borrow, twice inside a list: ``listed``)."""

    def render(inner: object) -> str:
        return _render(inner, names, handles, listed)

    if isinstance(value_type, ListType):
        return f"list<{_render(value_type.element, names, handles, True)}>"
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
    if isinstance(value_type, (OwnType, BorrowType)):
        kind = "own" if isinstance(value_type, OwnType) else "borrow"
        handles += [kind == "borrow"] * (2 if listed and kind == "borrow" else 1)
        return f"{kind}<{resource_name(names, value_type.ty)}>"
    return type(value_type).__name__.lower().replace("errorcontext", "error-context")


def _tree(value_type: object, names: Names) -> Tree:
    """A wasmtime value type's structure, for messages (wasmtime's reflection gives no type names)."""

    def tree(inner: object) -> Tree | None:
        return None if inner is None else _tree(inner, names)

    if isinstance(value_type, (ListType, OptionType)):
        inner = value_type.element if isinstance(value_type, ListType) else value_type.payload
        return ("list" if isinstance(value_type, ListType) else "option", None, (), (tree(inner),))
    if isinstance(value_type, ResultType):
        return ("result", None, ("ok", "error"), (tree(value_type.ok), tree(value_type.err)))
    if isinstance(value_type, TupleType):
        return ("tuple", None, (), tuple(tree(t) for t in value_type.elements))
    if isinstance(value_type, RecordType):
        return ("record", None, tuple(n for n, _ in value_type.fields), tuple(tree(t) for _, t in value_type.fields))
    if isinstance(value_type, VariantType):
        return ("variant", None, tuple(n for n, _ in value_type.cases), tuple(tree(t) for _, t in value_type.cases))
    if isinstance(value_type, (EnumType, FlagsType)):
        return ("enum" if isinstance(value_type, EnumType) else "flags", None, tuple(value_type.names), ())
    if isinstance(value_type, (FutureType, StreamType)):
        kind = "future" if isinstance(value_type, FutureType) else "stream"
        return (kind, None, (), (tree(value_type.payload),))
    if isinstance(value_type, (OwnType, BorrowType)):
        kind = "own" if isinstance(value_type, OwnType) else "borrow"
        return (kind, None, (resource_name(names, value_type.ty),), ())
    return (_render(value_type, names, []), None, (), ())


def signature(func: FuncType, names: Names = []) -> Signature:  # noqa: B006 (never mutated)
    handles: list[bool] = []
    params = tuple((name, _render(t, names, handles)) for name, t in func.params)
    borrows = sum(handles)
    result = _render(func.result, names, handles) if func.result is not None else None

    def trees() -> Trees:
        made = tuple(_tree(t, names) for _, t in func.params)
        return made, None if func.result is None else _tree(func.result, names)

    return Signature(params, result, bool(handles), trees, borrows)


def imports_of(component: ComponentType, engine: Engine) -> dict[str, Item]:
    """wasmtime's view of a component's imports, in the form ``signatures`` decodes from binaries."""
    return _items(component.imports(engine).items(), engine)


def exports_of(component: ComponentType, engine: Engine) -> dict[str, Item]:
    return _items(component.exports(engine).items(), engine)


def _items(externs: object, engine: Engine) -> dict[str, Item]:
    pairs = [(name, extern.ty) for name, extern in externs]  # type: ignore[attr-defined]
    top = resource_names(pairs, _resource_of)
    return {name: _item(ty, engine, top) for name, ty in pairs}


def item_of(ty: object, engine: Engine) -> Item:
    """wasmtime's view of one imported or exported type (an instance's handles name its own resources)."""
    return _item(ty, engine, [])


def _resource_of(ty: object) -> ResourceType | None:
    return ty if isinstance(ty, ResourceType) else None


def _item(ty: object, engine: Engine, top: Names) -> Item:
    if isinstance(ty, FuncType):
        return signature(ty, top)
    if isinstance(ty, ComponentInstanceType):
        exports = [(n, e.ty) for n, e in ty.exports(engine).items()]
        names = resource_names(exports, _resource_of)
        resources = tuple(sorted(n for n, t in exports if isinstance(t, ResourceType)))
        functions = {n: signature(t, names) for n, t in exports if isinstance(t, FuncType)}
        return InstanceSignatures(functions, resources=resources)
    if isinstance(ty, ComponentType):
        return OtherItem("component")
    return OtherItem("module" if isinstance(ty, ModuleType) else "type")  # value and resource types
