"""Function signatures a component imports, decoded from its binary without compiling it.

A type check needs the consumer's import types and the provider's export
types. The consumer is usually the root, an 18 MB componentize-py binary whose
compilation costs seconds; its import types, though, sit in small depth-0 type
sections in front of the code. This module decodes those sections (and the
alias, import, export and instance sections that shape the index spaces) and
renders each function signature as the WIT-like text ``typecheck`` renders
from wasmtime's reflection, so the two sources compare directly.

Anything this decoder does not model (core types inside instance types, async
functions, fixed-size lists, instances whose type comes from instantiation)
raises ``Undecidable``, and callers fall back to wasmtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

from .errors import ComponentFormatError
from .wasm import COMPONENT_VERSION, MAGIC, Cursor


class Undecidable(Exception):
    """The binary uses something this decoder does not model; ask wasmtime instead."""


@dataclass(frozen=True)
class Signature:
    """A component function: named parameters and an optional result, types rendered as WIT-like text."""

    params: tuple[tuple[str, str], ...]
    result: str | None

    def __str__(self) -> str:
        params = ", ".join(f"{name}: {text}" for name, text in self.params)
        return f"func({params})" + (f" -> {self.result}" if self.result is not None else "")

    @property
    def shape(self) -> tuple[tuple[str, ...], str | None]:
        """What must match for a call to link: parameter types in order, and the result type."""
        return tuple(text for _, text in self.params), self.result


@dataclass(frozen=True)
class InstanceSignatures:
    """An instance's function exports (its type and resource exports are left to the linker)."""

    functions: Mapping[str, Signature]


@dataclass(frozen=True)
class OtherItem:
    """An import or export that is neither a function nor an instance: named by its kind only."""

    kind: str


Item = Union[Signature, InstanceSignatures, OtherItem]


def describe(item: Item) -> str:
    if isinstance(item, Signature):
        return "function"
    return "instance" if isinstance(item, InstanceSignatures) else item.kind


# A value type while decoding: a primitive's name, or a tuple (constructor, parts...) whose parts
# are earlier nodes, shared rather than copied, so decoding stays linear in the input. Text is
# rendered only for the functions a component imports, within a budget.
_Node = Union[str, tuple]


@dataclass(frozen=True)
class _Func:
    params: tuple[tuple[str, _Node], ...]
    result: _Node | None


@dataclass(frozen=True)
class _Instance:
    exports: Mapping[str, object]  # export name -> _Func | _Instance | _TypeExport | _OPAQUE


@dataclass(frozen=True)
class _TypeExport:
    target: object  # what the exported type name stands for


class _Marker:
    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


_RESOURCE = _Marker("resource")
_OPAQUE = _Marker("opaque")  # a component type, core module or value: known to exist, never compared
_MAX_NESTING = 64  # instance and component types inside each other
_MAX_DEPTH = 200  # value types inside each other, when rendered
_RENDER_BUDGET = 1 << 20  # characters of signature text per component

_PRIMITIVES = {0x7F: "bool", 0x7E: "s8", 0x7D: "u8", 0x7C: "s16", 0x7B: "u16", 0x7A: "s32", 0x79: "u32",
               0x78: "s64", 0x77: "u64", 0x76: "f32", 0x75: "f64", 0x74: "char", 0x73: "string",
               0x64: "error-context"}
_SECTION_TYPE, _SECTION_ALIAS, _SECTION_IMPORT, _SECTION_EXPORT, _SECTION_INSTANCE = 7, 6, 10, 11, 5
_SHAPING_SECTIONS = (_SECTION_TYPE, _SECTION_ALIAS, _SECTION_IMPORT, _SECTION_EXPORT, _SECTION_INSTANCE)
_SORT_TYPE, _SORT_INSTANCE = 0x03, 0x05


def import_signatures(data: bytes, path: str = "<bytes>") -> dict[str, Item]:
    """Every top-level import of the component in ``data``, by exact name.

    Raises ``Undecidable`` for what is not modelled, and for bytes that do not
    decode (the caller's full check, wasmtime, will then say what is wrong).
    """
    if data[:4] != MAGIC or data[4:8] != bytes([COMPONENT_VERSION, 0, 1, 0]):
        raise Undecidable("not a component binary")
    decoder = _Decoder()
    try:
        for section_id, cursor in _sections(data, path):
            decoder.section(section_id, cursor)
    except ComponentFormatError as error:
        raise Undecidable(error.reason) from None
    renderer = _Renderer()
    return {name: renderer.item(item) for name, item in decoder.imports.items()}


def _sections(data: bytes, path: str) -> list[tuple[int, Cursor]]:
    """The sections that shape import types, up to the last import section (nothing later can)."""
    outer = Cursor(data, 0, path)
    outer.pos = 8
    found: list[tuple[int, int, int]] = []
    while not outer.at_end():
        section_id = outer.byte()
        size = outer.u32()
        if size > len(data) - outer.pos:
            raise Undecidable(f"section {section_id} runs past the end of the file")
        if section_id in _SHAPING_SECTIONS:
            found.append((section_id, outer.pos, size))
        outer.pos += size
    while found and found[-1][0] != _SECTION_IMPORT:
        found.pop()
    return [(section_id, Cursor(data[start : start + size], start, path)) for section_id, start, size in found]


class _Decoder:
    """The depth-0 index spaces that import types can refer to: types and instances."""

    def __init__(self) -> None:
        self.types: list[object] = []
        self.instances: list[object] = []
        self.imports: dict[str, object] = {}

    def section(self, section_id: int, cursor: Cursor) -> None:
        for _ in range(cursor.u32()):
            if section_id == _SECTION_TYPE:
                self.types.append(_typedef(cursor, [self.types]))
            elif section_id == _SECTION_ALIAS:
                self._alias(cursor)
            elif section_id == _SECTION_IMPORT:
                self._import(cursor)
            elif section_id == _SECTION_EXPORT:
                self._export(cursor)
            else:
                self._instance(cursor)
        if not cursor.at_end():
            raise Undecidable(f"section {section_id} has trailing bytes")

    def _alias(self, cursor: Cursor) -> None:
        sort = _sort(cursor)
        target = cursor.byte()
        if target == 0x00:  # an export of an instance
            instance = _lookup(self.instances, cursor.u32())
            name = cursor.name()
            found = instance.exports.get(name, _OPAQUE) if isinstance(instance, _Instance) else _OPAQUE
        elif target == 0x01:  # an export of a core instance
            cursor.u32()
            cursor.name()
            return
        elif target == 0x02:
            raise Undecidable("outer alias at the top level")
        else:
            raise Undecidable(f"unknown alias target 0x{target:02x}")
        if sort == _SORT_TYPE:
            self.types.append(found.target if isinstance(found, _TypeExport) else _OPAQUE)
        elif sort == _SORT_INSTANCE:
            self.instances.append(found)

    def _import(self, cursor: Cursor) -> None:
        name = cursor.extern_name()
        item = _externdesc(cursor, [self.types])
        if isinstance(item, _Instance):
            self.instances.append(item)
        elif isinstance(item, _TypeExport):
            self.types.append(item.target)
        self.imports[name] = item

    def _export(self, cursor: Cursor) -> None:
        cursor.extern_name()
        sort = _sort(cursor)
        index = cursor.u32()
        ascribed = _externdesc(cursor, [self.types]) if _flag(cursor) else None
        # An export adds a new index to its sort's space, standing for the exported item.
        if sort == _SORT_TYPE:
            self.types.append(ascribed.target if isinstance(ascribed, _TypeExport) else _lookup(self.types, index))
        elif sort == _SORT_INSTANCE:
            self.instances.append(ascribed if ascribed is not None else _lookup(self.instances, index))

    def _instance(self, cursor: Cursor) -> None:
        kind = cursor.byte()
        if kind == 0x00:  # instantiate a component: the result's type needs the component's, not modelled
            cursor.u32()
            for _ in range(cursor.u32()):
                cursor.name()
                _sort(cursor)
                cursor.u32()
        elif kind == 0x01:  # bundle of inline exports
            for _ in range(cursor.u32()):
                cursor.extern_name()
                _sort(cursor)
                cursor.u32()
        else:
            raise Undecidable(f"unknown instance expression 0x{kind:02x}")
        self.instances.append(_OPAQUE)


class _Renderer:
    """Turns decoded items into ``Item``s, rendering value types as text within one budget."""

    def __init__(self) -> None:
        self.budget = _RENDER_BUDGET

    def item(self, item: object) -> Item:
        if isinstance(item, _Func):
            return self.signature(item)
        if isinstance(item, _Instance):
            return InstanceSignatures({n: self.signature(f) for n, f in item.exports.items() if isinstance(f, _Func)})
        return OtherItem("type" if isinstance(item, _TypeExport) else "other")

    def signature(self, func: _Func) -> Signature:
        params = tuple((name, self.text(node)) for name, node in func.params)
        return Signature(params, None if func.result is None else self.text(func.result))

    def text(self, node: _Node, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise Undecidable("value types nested too deeply")
        rendered = node if isinstance(node, str) else self._compound(node, depth + 1)
        self.budget -= len(rendered)  # every level counts, so no string grows far past the budget
        if self.budget < 0:
            raise Undecidable("signatures too large to render")
        return rendered

    def _compound(self, node: tuple, depth: int) -> str:
        kind, *parts = node

        def text(part: _Node | None) -> str | None:
            return None if part is None else self.text(part, depth)

        if kind == "record":
            return "record { " + ", ".join(f"{name}: {text(t)}" for name, t in parts[0]) + " }"
        if kind == "variant":
            cases = (f"{name}({text(t)})" if t is not None else name for name, t in parts[0])
            return "variant { " + ", ".join(cases) + " }"
        if kind == "tuple":
            return f"tuple<{', '.join(text(t) for t in parts[0])}>"
        if kind == "result":
            ok, err = text(parts[0]), text(parts[1])
            return "result" if ok is None and err is None else f"result<{ok or '_'}, {err or '_'}>"
        if kind in ("stream", "future"):
            return f"{kind}<{text(parts[0])}>" if parts[0] is not None else kind
        return f"{kind}<{text(parts[0])}>"  # list, option


def _lookup(space: list[object], index: int) -> object:
    if index >= len(space):
        raise Undecidable(f"index {index} is out of range")
    return space[index]


def _flag(cursor: Cursor) -> bool:
    flag = cursor.byte()
    if flag not in (0x00, 0x01):
        raise Undecidable(f"bad option marker 0x{flag:02x}")
    return flag == 0x01


def _sort(cursor: Cursor) -> int:
    sort = cursor.byte()
    if sort == 0x00:
        cursor.byte()  # core sort: never a type the imports can name
    return sort


def _typedef(cursor: Cursor, scopes: list[list[object]]) -> object:
    tag = cursor.byte()
    if tag in _PRIMITIVES:
        return _PRIMITIVES[tag]
    if tag == 0x40:
        params = tuple((cursor.name(), _valtype(cursor, scopes)) for _ in range(cursor.u32()))
        marker = cursor.byte()
        if marker == 0x00:
            return _Func(params, _valtype(cursor, scopes))
        if marker == 0x01 and cursor.byte() == 0x00:
            return _Func(params, None)
        raise Undecidable("named or multiple function results")
    if tag == 0x42:
        return _instance_type(cursor, scopes)
    if tag == 0x41:
        _component_type(cursor, scopes)
        return _OPAQUE
    if tag == 0x3F:  # resource: rep i32, optional destructor
        if cursor.byte() != 0x7F:
            raise Undecidable("resource representation is not i32")
        if _flag(cursor):
            cursor.u32()
        return _RESOURCE
    return _defvaltype(tag, cursor, scopes)


def _defvaltype(tag: int, cursor: Cursor, scopes: list[list[object]]) -> _Node:
    def many(read) -> tuple:
        return tuple(read() for _ in range(cursor.u32()))

    def optional() -> _Node | None:
        return _valtype(cursor, scopes) if _flag(cursor) else None

    def case() -> tuple[str, _Node | None]:
        label, payload = cursor.name(), optional()
        if cursor.byte() != 0x00:
            raise Undecidable("variant case with refines")
        return label, payload

    if tag == 0x72:
        return ("record", many(lambda: (cursor.name(), _valtype(cursor, scopes))))
    if tag == 0x71:
        return ("variant", many(case))
    if tag in (0x70, 0x6B):
        return ("list" if tag == 0x70 else "option", _valtype(cursor, scopes))
    if tag == 0x6F:
        return ("tuple", many(lambda: _valtype(cursor, scopes)))
    if tag in (0x6E, 0x6D):  # flags and enums are only labels: text as long as their bytes
        kind = "flags" if tag == 0x6E else "enum"
        return f"{kind} {{ " + ", ".join(many(cursor.name)) + " }"
    if tag == 0x6A:
        return ("result", optional(), optional())
    if tag in (0x69, 0x68):
        if _lookup(scopes[-1], cursor.u32()) is not _RESOURCE:
            raise Undecidable("handle to something that is not a resource")
        return "own<resource>" if tag == 0x69 else "borrow<resource>"
    if tag in (0x66, 0x65):
        return ("stream" if tag == 0x66 else "future", optional())
    raise Undecidable(f"type constructor 0x{tag:02x}")


def _valtype(cursor: Cursor, scopes: list[list[object]]) -> _Node:
    first = cursor.data[cursor.pos] if not cursor.at_end() else 0
    if first in _PRIMITIVES:  # a one-byte negative s33
        cursor.pos += 1
        return _PRIMITIVES[first]
    found = _lookup(scopes[-1], cursor.u32())
    if not isinstance(found, (str, tuple)):
        raise Undecidable("value type refers to a non-value type")
    return found


def _instance_type(cursor: Cursor, scopes: list[list[object]]) -> _Instance:
    if len(scopes) > _MAX_NESTING:
        raise Undecidable("types nested too deeply")
    local: list[object] = []
    exports: dict[str, object] = {}
    for _ in range(cursor.u32()):
        _declaration(cursor, [*scopes, local], exports)
    return _Instance(exports)


def _component_type(cursor: Cursor, scopes: list[list[object]]) -> None:
    if len(scopes) > _MAX_NESTING:
        raise Undecidable("types nested too deeply")
    local: list[object] = []
    for _ in range(cursor.u32()):
        if cursor.data[cursor.pos : cursor.pos + 1] == b"\x03":
            cursor.pos += 1
            cursor.extern_name()
            _externdesc(cursor, [*scopes, local], local)
        else:
            _declaration(cursor, [*scopes, local], {})


def _declaration(cursor: Cursor, scopes: list[list[object]], exports: dict[str, object]) -> None:
    local = scopes[-1]
    kind = cursor.byte()
    if kind == 0x01:
        local.append(_typedef(cursor, scopes))
    elif kind == 0x02:
        sort = _sort(cursor)
        if cursor.byte() != 0x02:
            raise Undecidable("alias inside a type that is not an outer alias")
        count, index = cursor.u32(), cursor.u32()
        if count >= len(scopes):
            raise Undecidable("outer alias past the outermost scope")
        if sort == _SORT_TYPE:
            local.append(_lookup(scopes[-1 - count], index))
    elif kind == 0x04:
        name = cursor.extern_name()
        exports[name] = _externdesc(cursor, scopes, local)
    else:
        raise Undecidable(f"declaration 0x{kind:02x} (core types are not modelled)")


def _externdesc(cursor: Cursor, scopes: list[list[object]], local: list[object] | None = None) -> object:
    """Decode an extern descriptor; a type bound also adds its index to ``local`` when given."""
    tag = cursor.byte()
    if tag == 0x00:
        cursor.byte()
        cursor.u32()
        return _OPAQUE
    if tag == 0x02:
        if cursor.byte() == 0x00:
            cursor.u32()
        else:
            cursor.s33()
        return _OPAQUE
    if tag == 0x03:
        bound = cursor.byte()
        target = _lookup(scopes[-1], cursor.u32()) if bound == 0x00 else _RESOURCE
        if bound not in (0x00, 0x01):
            raise Undecidable(f"unknown type bound 0x{bound:02x}")
        if local is not None:
            local.append(target)
        return _TypeExport(target)
    if tag in (0x01, 0x04, 0x05):
        found = _lookup(scopes[-1], cursor.u32())
        wanted = {0x01: _Func, 0x05: _Instance}.get(tag)
        if wanted is not None and not isinstance(found, wanted):
            raise Undecidable("extern descriptor names a type of another kind")
        return found
    raise Undecidable(f"unknown extern descriptor 0x{tag:02x}")
