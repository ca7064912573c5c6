"""Function signatures a component imports and exports, decoded from its binary without compiling it.

A type check needs the consumer's import types and the provider's export
types. The consumer is usually the root, an 18 MB componentize-py binary whose
compilation costs seconds; its import types, though, sit in small depth-0 type
sections in front of the code. This module decodes those sections (and the
alias, import, export and instance sections that shape the index spaces) and
renders each function signature as the WIT-like text ``wasm.reflect`` renders
from wasmtime's reflection, so the two sources compare directly.

Anything this decoder does not model (core types inside instance types, async
functions, fixed-size lists, instances whose type comes from instantiation)
raises ``Undecidable``, and callers fall back to wasmtime.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar, Union, cast

from .._errors import ComponentFormatError
from .binary import (
    COMPONENT_VERSION,
    MAGIC,
    SECTION_ALIAS,
    SECTION_CANON,
    SECTION_COMPONENT,
    SECTION_EXPORT,
    SECTION_IMPORT,
    SECTION_TYPE,
    SHAPING_SECTIONS,
    Cursor,
    top_level_sections,
)

if TYPE_CHECKING:
    import mmap

T = TypeVar("T")
R = TypeVar("R")


class Undecidable(Exception):
    """The binary uses something this decoder does not model; ask wasmtime instead."""


class _Record:
    """A value compared and hashed by its fields (``_key``), never changed once made.

    Plain classes rather than dataclasses: ``dataclasses`` (with ``inspect``) is the largest import
    on ``hatch-pylon plan``'s path, which decodes types by default.
    """

    __slots__ = ()

    def _key(self) -> tuple[object, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self._key()!r}"


# A value type's structure, for saying where two types differ: (kind, WIT name or None, labels, parts).
# kind: a primitive's name, or record, variant, enum, flags, list, option, result, tuple, own, borrow,
# stream, future; labels: field, case or flag names (a handle: its resource's name; a result: ok, error);
# parts: the member types (None: no payload). The name is the one the binary gives the type (an instance's
# type export, ``point``), where it gives one; it never takes part in comparing.
Tree = tuple[str, Union[str, None], tuple[str, ...], tuple[Union["Tree", None], ...]]
Trees = tuple[tuple[Tree, ...], Union[Tree, None]]  # a function's parameter types and its result type


class Signature(_Record):
    """A component function: named parameters and an optional result, types rendered as WIT-like text.

    ``handles``: an ``own`` or ``borrow`` handle appears somewhere in a parameter or the result, as
    found while walking the type structure (decoded or reflected), never by reading the text.
    ``trees``: makes the types' structure (``Tree``) with the names the binary gives them, for messages;
    only asked for when two signatures differ. ``borrows``: how many ``borrow`` handles one call's
    parameters can carry, 2 meaning two or more (one inside a list counts as many; the cases of a
    variant, option or result add up); derived from the types, so not compared.
    """

    __slots__ = ("borrows", "handles", "params", "result", "trees")

    def __init__(
        self,
        params: tuple[tuple[str, str], ...],
        result: str | None,
        handles: bool = False,
        trees: Callable[[], Trees] | None = None,
        borrows: int = 0,
    ) -> None:
        self.params = params
        self.result = result
        self.handles = handles
        self.borrows = min(borrows, 2)
        self.trees = trees

    def named(self) -> str:
        """Like ``str()``, with the WIT names the binary gives types (``list<point>``), where it gives them."""
        if self.trees is None:
            return str(self)
        params, result = self.trees()
        text = ", ".join(f"{name}: {render(tree)}" for (name, _), tree in zip(self.params, params))
        return f"func({text})" + (f" -> {render(result)}" if result is not None else "")

    def _key(self) -> tuple[object, ...]:
        return self.params, self.result, self.handles

    def __str__(self) -> str:
        params = ", ".join(f"{name}: {text}" for name, text in self.params)
        return f"func({params})" + (f" -> {self.result}" if self.result is not None else "")

    @property
    def shape(self) -> tuple[tuple[str, ...], str | None]:
        """What must match for a call to link: parameter types in order, and the result type."""
        return tuple(text for _, text in self.params), self.result


class InstanceSignatures(_Record):
    """An instance's function exports; handles in them name the instance's own resource exports.

    ``type_only``: types only, no resource (a linker defines nothing); not compared. ``resources``: the
    names its resource types are exported under, sorted.
    """

    __slots__ = ("functions", "resources", "type_only")

    def __init__(
        self, functions: Mapping[str, Signature], type_only: bool = False, resources: tuple[str, ...] = ()
    ) -> None:
        self.functions = functions
        self.type_only = type_only
        self.resources = resources

    def _key(self) -> tuple[object, ...]:
        return self.functions, self.resources


class OtherItem(_Record):
    """An import or export that is neither a function nor an instance: named by its kind only."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _key(self) -> tuple[object, ...]:
        return (self.kind,)


Item = Union[Signature, InstanceSignatures, OtherItem]


def resource_uses(item: Item) -> tuple[str, ...]:
    """What in ``item`` involves resources, from the type structure: an instance's exported resource types
    and its functions that pass ``own``/``borrow`` handles, sorted; ``("",)`` for such a function itself;
    empty when only values cross. The one resource check, for decoded and for reflected types alike."""
    if isinstance(item, Signature):
        return ("",) if item.handles else ()
    if isinstance(item, InstanceSignatures):
        return tuple(sorted({*item.resources, *(name for name, f in item.functions.items() if f.handles)}))
    return ()


def uses_resources(item: Item) -> bool:
    return bool(resource_uses(item))


def describe(item: Item) -> str:
    if isinstance(item, Signature):
        return "function"
    return "instance" if isinstance(item, InstanceSignatures) else item.kind


def render(tree: Tree, top: bool = True) -> str:
    """WIT-like text of ``tree``; a named type inside it by its name."""
    kind, name, labels, parts = tree
    if name is not None and not top:
        return name

    def text(part: Tree | None) -> str:
        return "_" if part is None else render(part, False)

    if kind in ("record", "variant"):
        if kind == "record":
            members = (f"{label}: {text(part)}" for label, part in zip(labels, parts))
        else:
            members = (label if part is None else f"{label}({text(part)})" for label, part in zip(labels, parts))
        return f"{kind} {{ " + ", ".join(members) + " }"
    if kind in ("enum", "flags"):
        return f"{kind} {{ " + ", ".join(labels) + " }"
    if kind == "result":
        return "result" if parts == (None, None) else f"result<{text(parts[0])}, {text(parts[1])}>"
    if kind in ("own", "borrow"):
        return f"{kind}<{labels[0]}>"
    if kind in ("stream", "future") and parts[0] is None:
        return kind
    if parts:
        return f"{kind}<{', '.join(text(part) for part in parts)}>"
    return kind


def shape_of(tree: Tree | None) -> object:
    """What two types must share to link: ``tree`` without its names."""
    if tree is None:
        return None
    kind, _, labels, parts = tree
    return kind, labels, tuple(shape_of(part) for part in parts)


# A value type while decoding: a primitive's name, or a tuple (constructor, parts...) whose parts
# are earlier nodes, shared rather than copied, so decoding stays linear in the input. Text is
# rendered only for the functions a component imports, within a budget.
_Node = Union[str, tuple]


class _Func:
    __slots__ = ("params", "result")

    def __init__(self, params: tuple[tuple[str, _Node], ...], result: _Node | None) -> None:
        self.params = params
        self.result = result


class _Instance:
    __slots__ = ("exports",)

    def __init__(self, exports: Mapping[str, object]) -> None:
        self.exports = exports  # export name -> _Func | _Instance | _TypeExport | _OPAQUE | _UNKNOWN


class _Component:
    __slots__ = ("exports",)

    def __init__(self, exports: Mapping[str, object]) -> None:
        self.exports = exports  # what an instance of it provides, as in ``_Instance``


class _TypeExport:
    __slots__ = ("target",)

    def __init__(self, target: object) -> None:
        self.target = target  # what the exported type name stands for


class _Marker:
    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


class _Resource:
    """One resource type. Each definition or ``(sub resource)`` bound is a new one: resources are
    compared by identity, as wasm-compose and wasmtime do, never by shape."""

    __slots__ = ()


_OPAQUE = _Marker("opaque")  # known not to be a function (a core item, a value); never compared
_COMPONENT_TYPE = _Marker("component")  # an imported component's type: not modelled further
_MODULE = _Marker("module")
_UNKNOWN = _Marker("unknown")  # something this decoder could not work out: fatal if it is ever needed
_MAX_NESTING = 64  # instance and component types inside each other
_MAX_DEPTH = 200  # value types inside each other, when rendered
_RENDER_BUDGET = 1 << 20  # characters of signature text per component

_PRIMITIVES = {
    0x7F: "bool",
    0x7E: "s8",
    0x7D: "u8",
    0x7C: "s16",
    0x7B: "u16",
    0x7A: "s32",
    0x79: "u32",
    0x78: "s64",
    0x77: "u64",
    0x76: "f32",
    0x75: "f64",
    0x74: "char",
    0x73: "string",
    0x64: "error-context",
}
_SORT_CORE, _SORT_FUNC, _SORT_TYPE, _SORT_COMPONENT, _SORT_INSTANCE = 0x00, 0x01, 0x03, 0x04, 0x05
# extern descriptor tag -> the sort of the index an import of it adds (core modules and values: not tracked)
_DESCRIPTOR_SORTS = {0x01: _SORT_FUNC, 0x03: _SORT_TYPE, 0x04: _SORT_COMPONENT, 0x05: _SORT_INSTANCE}


def import_signatures(data: bytes | mmap.mmap, path: str = "<bytes>") -> dict[str, Item]:
    """Every top-level import of the component in ``data``, by exact name.

    Raises ``Undecidable`` for what is not modelled, and for bytes that do not
    decode (the caller's full check, wasmtime, will then say what is wrong).
    """
    return _decode(data, path, exports=False)[0]


def export_signatures(data: bytes | mmap.mmap, path: str = "<bytes>") -> dict[str, Item]:
    """Every top-level export of the component in ``data``, by exact name (``Undecidable`` as above).

    An exported instance's functions are followed through inline instances,
    ``canon lift`` and instantiated nested components (the shims wit-component
    generates), whose exports carry their types.
    """
    return _decode(data, path, exports=True)[1]


def decode_file(path: str | os.PathLike[str], *, exports: bool) -> tuple[dict[str, Item], dict[str, Item]]:
    """(imports, exports if asked) of a component file, decoded from a memory map: only pages holding types are read."""
    reason = None
    name = os.fspath(path)
    found: tuple[dict[str, Item], dict[str, Item]] = ({}, {})
    import mmap

    from .._fs import open_regular

    with open_regular(name) as file:
        if os.fstat(file.fileno()).st_size == 0:
            raise Undecidable("empty file")
        view = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            found = decode_types(view, name, exports=exports)
        except Undecidable as exc:
            reason = str(exc)  # not the exception itself: its frames hold views into the map
        finally:
            with contextlib.suppress(BufferError):  # a view still alive: the map closes when it goes
                view.close()
    if reason is not None:
        raise Undecidable(reason)
    return found


def decode_types(data: bytes | mmap.mmap, path: str, *, exports: bool) -> tuple[dict[str, Item], dict[str, Item]]:
    """(imports, exports if asked) of the component in ``data``, in one pass over its sections: a file's
    bytes, or the type-shaping sections a scan kept (``ScannedFile.shaping``)."""
    return _decode(data, path, exports=exports)


def _decode(data: bytes | mmap.mmap, path: str, *, exports: bool) -> tuple[dict[str, Item], dict[str, Item]]:
    if data[:8] != MAGIC + bytes([COMPONENT_VERSION, 0, 1, 0]):
        raise Undecidable("not a component binary")
    decoder = _Decoder()
    try:
        for section_id, cursor in _sections(data, path, up_to_last_import=not exports):
            decoder.section(section_id, cursor)
    except ComponentFormatError as error:
        raise Undecidable(error.reason) from None
    rendered = []
    for items in (decoder.imports, decoder.exports if exports else {}):
        top, renderer = resource_names(items.items(), _resource_of), _Renderer()
        rendered.append({name: renderer.item(item, top) for name, item in items.items()})
    return rendered[0], rendered[1]


def _resource_of(item: object) -> _Resource | None:
    target = item.target if isinstance(item, _TypeExport) else None
    return target if isinstance(target, _Resource) else None


def resource_names(items: Iterable[tuple[str, T]], resource_of: Callable[[T], R | None]) -> list[tuple[R, str]]:
    """Each resource an instance exports, with the name it is exported under (the first, sorted, if several).

    A handle renders as ``own<name>``: two handles agree only when they name
    the same resource of their instance, which is how wasm-compose and
    wasmtime tell resources apart (by identity, never by shape). A handle to
    a resource its instance does not export renders as ``own<resource>``.
    """
    found: list[tuple[R, str]] = []
    for name, item in sorted(items, key=lambda pair: pair[0]):
        resource = resource_of(item)
        if resource is not None and not any(known == resource for known, _ in found):
            found.append((resource, name))
    return found


def resource_name(names: list[tuple[R, str]], resource: R) -> str:
    return next((name for known, name in names if known == resource), "resource")


def _sections(
    data: bytes | memoryview | mmap.mmap, path: str, *, up_to_last_import: bool, base: int = 0
) -> list[tuple[int, Cursor]]:
    """The sections that shape types, optionally only up to the last import (nothing later changes an import).

    Sections, nested components above all, are decoded in place, never copied.
    """
    found = [(i, cursor) for i, cursor in top_level_sections(data, path, base) if i in SHAPING_SECTIONS]
    while up_to_last_import and found and found[-1][0] != SECTION_IMPORT:
        found.pop()
    return found


class _Decoder:
    """One component's index spaces (types, instances, functions, components) as its sections unfold.

    Nested components get their own decoder, chained to this one for outer
    aliases; what matters of them is what they export, which is what an
    instance of them provides.
    """

    def __init__(self, parent: _Decoder | None = None) -> None:
        self.parent = parent
        self.scopes: list[list[object]] = [*(parent.scopes if parent else []), []]
        self.types = self.scopes[-1]
        self.instances: list[object] = []
        self.funcs: list[object] = []
        self.components: list[object] = []
        self.imports: dict[str, object] = {}
        self.exports: dict[str, object] = {}
        if len(self.scopes) > _MAX_NESTING:
            raise Undecidable("components nested too deeply")

    def section(self, section_id: int, cursor: Cursor) -> None:
        if section_id == SECTION_COMPONENT:
            self.components.append(_Component(_nested(self, cursor).exports))
            return
        for _ in range(cursor.u32()):
            if section_id == SECTION_TYPE:
                self.types.append(_typedef(cursor, self.scopes))
            elif section_id == SECTION_ALIAS:
                self._alias(cursor)
            elif section_id == SECTION_IMPORT:
                self._import(cursor)
            elif section_id == SECTION_EXPORT:
                self._export(cursor)
            elif section_id == SECTION_CANON:
                self._canon(cursor)
            else:
                self._instance(cursor)
        if not cursor.at_end():
            raise Undecidable(f"section {section_id} has trailing bytes")

    def _space(self, sort: int) -> list[object] | None:
        return {
            _SORT_TYPE: self.types,
            _SORT_INSTANCE: self.instances,
            _SORT_FUNC: self.funcs,
            _SORT_COMPONENT: self.components,
        }.get(sort)

    def _alias(self, cursor: Cursor) -> None:
        sort = _sort(cursor)
        target = cursor.byte()
        if target == 0x00:  # an export of an instance
            instance = _lookup(self.instances, cursor.u32())
            name = cursor.name()
            found = instance.exports.get(name, _UNKNOWN) if isinstance(instance, _Instance) else _UNKNOWN
            if sort == _SORT_TYPE:
                found = found.target if isinstance(found, _TypeExport) else _UNKNOWN
        elif target == 0x01:  # an export of a core instance
            cursor.u32()
            cursor.name()
            return
        elif target == 0x02:  # an item of an enclosing component
            count, index = cursor.u32(), cursor.u32()
            if count >= len(self.scopes):  # checked first: the count is the file's to choose
                raise Undecidable("outer alias past the outermost component")
            outer = self
            for _ in range(count):
                outer = cast(_Decoder, outer.parent)  # count < len(scopes): a parent exists
            space = outer._space(sort)
            found = _lookup(space, index) if space is not None else _UNKNOWN
        else:
            raise Undecidable(f"unknown alias target 0x{target:02x}")
        space = self._space(sort)
        if space is not None:
            space.append(found)

    def _import(self, cursor: Cursor) -> None:
        name = cursor.extern_name()
        sort = _DESCRIPTOR_SORTS.get(cursor.data[cursor.pos]) if not cursor.at_end() else None
        item = _externdesc(cursor, self.scopes)
        self._add(item, sort)
        self.imports[name] = item

    def _add(self, item: object, sort: int | None) -> None:
        """An import or export adds a new index to its sort's space, standing for the item."""
        if sort == _SORT_TYPE:
            self.types.append(item.target if isinstance(item, _TypeExport) else item)
        elif sort is not None and (space := self._space(sort)) is not None:
            space.append(item)

    def _export(self, cursor: Cursor) -> None:
        name = cursor.extern_name()
        sort = _sort(cursor)
        index = cursor.u32()
        ascribed = _externdesc(cursor, self.scopes) if _flag(cursor) else None
        space = self._space(sort)
        item = ascribed if ascribed is not None else _lookup(space, index) if space is not None else _OPAQUE
        if sort == _SORT_CORE:
            item = _MODULE  # the one core sort a component can export
        if sort == _SORT_TYPE and not isinstance(item, _TypeExport):
            item = _TypeExport(item)
        self._add(item, sort)
        self.exports[name] = item

    def _canon(self, cursor: Cursor) -> None:
        """Only ``canon lift`` makes a component function; the rest make core functions."""
        op = cursor.byte()
        if op in (0x00, 0x01):
            if cursor.byte() != 0x00:
                raise Undecidable("canonical function on a non-function sort")
            cursor.u32()
            for _ in range(cursor.u32()):
                option = cursor.byte()
                if option in (0x03, 0x04, 0x05, 0x07):  # memory, realloc, post-return, callback
                    cursor.u32()
                elif option not in (0x00, 0x01, 0x02, 0x06):  # string encodings, async
                    raise Undecidable(f"canonical option 0x{option:02x}")
            if op == 0x00:
                found = _lookup(self.types, cursor.u32())
                self.funcs.append(found if isinstance(found, _Func) else _UNKNOWN)
        elif op in (0x02, 0x03, 0x04, 0x07):  # resource.new / drop / rep, drop async
            cursor.u32()
        else:
            raise Undecidable(f"canonical built-in 0x{op:02x}")

    def _instance(self, cursor: Cursor) -> None:
        kind = cursor.byte()
        if kind == 0x00:  # instantiate a component: the instance provides what the component exports
            component = _lookup(self.components, cursor.u32())
            for _ in range(cursor.u32()):
                cursor.name()
                _sort(cursor)
                cursor.u32()
            self.instances.append(_Instance(component.exports) if isinstance(component, _Component) else _UNKNOWN)
        elif kind == 0x01:  # bundle of inline exports
            exports: dict[str, object] = {}
            for _ in range(cursor.u32()):
                name = cursor.extern_name()
                sort = _sort(cursor)
                space = self._space(sort)
                found = _lookup(space, cursor.u32()) if space is not None else _OPAQUE
                exports[name] = _TypeExport(found) if sort == _SORT_TYPE else found
            self.instances.append(_Instance(exports))
        else:
            raise Undecidable(f"unknown instance expression 0x{kind:02x}")


def _nested(parent: _Decoder, cursor: Cursor) -> _Decoder:
    """Decode a nested component's whole body (its own preamble and sections) under ``parent``."""
    body = cursor.data
    if body[:8] != MAGIC + bytes([COMPONENT_VERSION, 0, 1, 0]):
        raise Undecidable("nested component without a component preamble")
    decoder = _Decoder(parent)
    for section_id, section in _sections(body, cursor.path, up_to_last_import=False, base=cursor.base):
        decoder.section(section_id, section)
    cursor.pos = len(body)
    return decoder


class _Renderer:
    """Turns decoded items into ``Item``s, rendering value types as text within one budget."""

    def __init__(self) -> None:
        self.budget = _RENDER_BUDGET
        self.names: list[tuple[_Resource, str]] = []
        self.type_names: dict[int, tuple[object, str]] = {}  # id of a type node -> (the node, its WIT name)
        self.handles = False
        self.borrows = 0
        self._lists = 0  # lists being rendered around the current node

    def item(self, item: object, top: list[tuple[_Resource, str]]) -> Item:
        if item is _UNKNOWN or (isinstance(item, _Instance) and _UNKNOWN in item.exports.values()):
            raise Undecidable("an item whose type could not be worked out from the binary")
        if isinstance(item, _Func):
            self.names, self.type_names = top, {}
            return self.signature(item)
        if isinstance(item, _Instance):
            self.names = resource_names(item.exports.items(), _resource_of)
            self.type_names = _type_names(item.exports.items())
            type_only = all(isinstance(e, _TypeExport) and _resource_of(e) is None for e in item.exports.values())
            resources = tuple(sorted(n for n, e in item.exports.items() if _resource_of(e) is not None))
            return InstanceSignatures(
                {n: self.signature(f) for n, f in item.exports.items() if isinstance(f, _Func)}, type_only, resources
            )
        if isinstance(item, _TypeExport):
            return OtherItem("type")
        if isinstance(item, _Component) or item is _COMPONENT_TYPE:
            return OtherItem("component")
        return OtherItem("module" if item is _MODULE else "other")

    def signature(self, func: _Func) -> Signature:
        self.handles = False  # set by ``_compound`` when it renders an own or borrow node
        self.borrows = 0  # counted by ``_compound``: each borrow node once, twice inside a list
        params = tuple((name, self.text(node)) for name, node in func.params)
        borrows = self.borrows
        result = None if func.result is None else self.text(func.result)
        resources, names = self.names, self.type_names

        def trees() -> Trees:
            made = tuple(_tree(node, resources, names) for _, node in func.params)
            return made, None if func.result is None else _tree(func.result, resources, names)

        return Signature(params, result, self.handles, trees, borrows)

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
            return f"tuple<{', '.join(cast(str, text(t)) for t in parts[0])}>"
        if kind in ("enum", "flags"):  # only labels: text as long as their bytes
            return f"{kind} {{ " + ", ".join(parts[0]) + " }"
        if kind == "result":
            ok, err = text(parts[0]), text(parts[1])
            return "result" if ok is None and err is None else f"result<{ok or '_'}, {err or '_'}>"
        if kind in ("own", "borrow"):
            self.handles = True
            self.borrows += (2 if self._lists else 1) if kind == "borrow" else 0
            return f"{kind}<{resource_name(self.names, parts[0])}>"
        if kind in ("stream", "future"):
            return f"{kind}<{text(parts[0])}>" if parts[0] is not None else kind
        self._lists += kind == "list"
        try:
            return f"{kind}<{text(parts[0])}>"  # list, option
        finally:
            self._lists -= kind == "list"


def _type_names(exports: Iterable[tuple[str, object]]) -> dict[int, tuple[object, str]]:
    """The WIT names an instance gives its value types (``(export "point" (type (eq …)))``), by node identity.

    The node is kept with its name, so an identity is never mistaken for another node's after this one is gone.
    """
    names: dict[int, tuple[object, str]] = {}
    for name, item in sorted(exports, key=lambda pair: pair[0]):
        target = item.target if isinstance(item, _TypeExport) else None
        if isinstance(target, tuple) and id(target) not in names:
            names[id(target)] = (target, name)
    return names


def _tree(node: _Node, resources: list[tuple[_Resource, str]], names: dict[int, tuple[object, str]]) -> Tree:
    """A decoded value type as a ``Tree`` (made only for a message, from a node that rendered within budget)."""
    if isinstance(node, str):
        return (node, None, (), ())
    known = names.get(id(node))
    name = known[1] if known is not None and known[0] is node else None
    kind, *parts = node

    def tree(part: _Node | None) -> Tree | None:
        return None if part is None else _tree(part, resources, names)

    if kind in ("record", "variant"):
        return (kind, name, tuple(label for label, _ in parts[0]), tuple(tree(t) for _, t in parts[0]))
    if kind in ("enum", "flags"):
        return (kind, name, tuple(parts[0]), ())
    if kind == "tuple":
        return (kind, name, (), tuple(tree(t) for t in parts[0]))
    if kind == "result":
        return (kind, name, ("ok", "error"), (tree(parts[0]), tree(parts[1])))
    if kind in ("own", "borrow"):
        return (kind, name, (resource_name(resources, parts[0]),), ())
    return (kind, name, (), (tree(parts[0]),))  # list, option, stream, future


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
        return _COMPONENT_TYPE
    if tag == 0x3F:  # resource: rep i32, optional destructor
        if cursor.byte() != 0x7F:
            raise Undecidable("resource representation is not i32")
        if _flag(cursor):
            cursor.u32()
        return _Resource()
    return _defvaltype(tag, cursor, scopes)


def _defvaltype(tag: int, cursor: Cursor, scopes: list[list[object]]) -> _Node:
    def many(read: Callable[[], object]) -> tuple:
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
    if tag in (0x6E, 0x6D):
        return ("flags" if tag == 0x6E else "enum", many(cursor.name))
    if tag == 0x6A:
        return ("result", optional(), optional())
    if tag in (0x69, 0x68):
        resource = _lookup(scopes[-1], cursor.u32())
        if not isinstance(resource, _Resource):
            raise Undecidable("handle to something that is not a resource")
        return ("own" if tag == 0x69 else "borrow", resource)
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
        return _MODULE
    if tag == 0x02:
        if cursor.byte() == 0x00:
            cursor.u32()
        else:
            cursor.s33()
        return _OPAQUE
    if tag == 0x03:
        bound = cursor.byte()
        target = _lookup(scopes[-1], cursor.u32()) if bound == 0x00 else _Resource()
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
