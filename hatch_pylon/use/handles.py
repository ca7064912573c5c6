"""Resource handles across components linked through the host, without composing them.

Each resource type a component defines and another imports is served to
the importers as a host resource type (``ResourceType.host``), one per
defining export: a ``Bridge``. A handle crossing the host is a number
(``rep``) of its bridge, which holds the definer's own handle (its
``ResourceAny``) for as long as some importer holds that number. Calls are
forwarded as for value types, with each argument and result translated
where its type holds a handle, however deep (records, tuples, lists,
options, results, variants):

- towards the definer, a number becomes the definer's handle again: taken
  out of the bridge for an ``own`` (the definer owns it from then on), lent
  for a ``borrow``;
- towards another importer (one consumer handing a handle to another), it
  stays the same number, as a host handle of the bridge's type;
- an ``own`` the definer returns is kept under a new number.

When an importer drops a handle it owns, wasmtime calls the bridge's
destructor, which drops the definer's handle: the definer's destructor runs
then, as it would composed. A resource type no binding provides (a WASI
stream, say) passes through unchanged.

Limit: wasmtime 50 traps before a host function runs whose call passes more
than one ``borrow`` ("deferred host scope has no call context"), so an
import with such a function (``borrows``) is linked by composition instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from wasmtime.component import (
    BorrowType,
    ComponentInstanceType,
    FuncType,
    ListType,
    OptionType,
    OwnType,
    Record,
    RecordType,
    ResourceAny,
    ResourceHost,
    ResourceType,
    ResultType,
    TupleType,
    Variant,
    VariantType,
)

from .._errors import RunError, printable

if TYPE_CHECKING:
    import wasmtime
    from wasmtime.component import Component, LinkerInstance

Convert = Callable[[Any], Any]
_TYPE_IDS = itertools.count(0x5059_4C4F_4E00)  # host resource type ids, unique in this process


class Bridge:
    """One defined resource type (``export``'s ``name`` in ``definer``) as its importers see it."""

    def __init__(self, definer: str, export: str, name: str) -> None:
        self.definer = definer
        self.label = f"{definer}: {export}#{name}"
        self.id = next(_TYPE_IDS)
        self.held: dict[int, ResourceAny] = {}  # number -> the definer's own handle
        self._numbers: Iterator[int] = itertools.count(1)

    def adopt(self, handle: ResourceAny) -> int:
        """Keep the definer's own handle; its number."""
        number = next(self._numbers)
        self.held[number] = handle
        return number

    def take(self, number: int) -> ResourceAny:
        """The definer's handle under ``number``, no longer kept (an ``own`` going back to the definer)."""
        return self.held.pop(number)

    def lend(self, number: int) -> ResourceAny:
        return self.held[number]


def functions_of(ty: object, engine: wasmtime.Engine) -> list[tuple[str, FuncType]]:
    """An imported or exported item's functions by name, sorted (a function item: itself, named "")."""
    if isinstance(ty, FuncType):
        return [("", ty)]
    if not isinstance(ty, ComponentInstanceType):
        return []
    found = ((name, extern.ty) for name, extern in ty.exports(engine).items())
    return sorted((name, item) for name, item in found if isinstance(item, FuncType))


def resources_of(ty: object, engine: wasmtime.Engine) -> list[tuple[str, ResourceType]]:
    if not isinstance(ty, ComponentInstanceType):
        return []
    found = ((name, extern.ty) for name, extern in ty.exports(engine).items())
    return sorted((name, item) for name, item in found if isinstance(item, ResourceType))


def borrows(func: FuncType) -> int:
    """How many ``borrow`` handles one call's parameters can carry; 2 means two or more (a list's count as
    many; the cases of a variant, option or result add up)."""

    def count(ty: Any) -> int:
        if isinstance(ty, BorrowType):
            return 1
        if isinstance(ty, ListType):
            return 2 * count(ty.element)
        if isinstance(ty, OptionType):
            return count(ty.payload)
        if isinstance(ty, TupleType):
            return sum(count(t) for t in ty.elements)
        if isinstance(ty, RecordType):
            return sum(count(t) for _, t in ty.fields)
        if isinstance(ty, (ResultType, VariantType)):
            return sum(count(t) for _, t in ty._cases() if t is not None)
        return 0

    return min(2, sum(count(ty) for _, ty in func.params))


class Handles:
    """The bridges of one store: which bridge each component's resource types belong to, and the converters
    of the calls forwarded between them."""

    def __init__(self, store: wasmtime.Store, engine: wasmtime.Engine, components: Mapping[str, Component]) -> None:
        self.store = store
        self.engine = engine
        self.components = components
        self._bridges: dict[tuple[str, str, str], Bridge] = {}
        self._seen: dict[str, list[tuple[ResourceType, Bridge]]] = {}  # component id -> its types' bridges

    def held(self) -> dict[str, list[int]]:
        """Each bridge's numbers still held for an importer (handles not dropped yet), by ``definer: export#name``."""
        return {bridge.label: sorted(bridge.held) for bridge in self._bridges.values()}

    def bridge_of(self, component_id: str, ty: ResourceType) -> Bridge | None:
        for known, bridge in self._seen.get(component_id, ()):
            if known == ty:
                return bridge
        return None

    def _exported(self, provider_id: str, export: str, name: str) -> Bridge:
        """The bridge of the resource type ``provider_id`` exports in ``export`` as ``name``: its own, or, when
        it re-exports a type it imports, that type's."""
        key = (provider_id, export, name)
        if key not in self._bridges:
            exported = self.components[provider_id].type.exports(self.engine)[export].ty
            ty = dict(resources_of(exported, self.engine)).get(name)
            if ty is None:
                raise RunError(
                    f"{printable(provider_id)} exports no resource type {printable(name)!r} in {printable(export)!r}, "
                    "which a binding to it imports"
                )
            bridge = self.bridge_of(provider_id, ty)
            if bridge is None:
                bridge = Bridge(provider_id, export, name)
                self._seen.setdefault(provider_id, []).append((ty, bridge))
            self._bridges[key] = bridge
        return self._bridges[key]

    def imported(self, consumer_id: str, wanted: object, provider_id: str, export: str) -> list[tuple[str, Bridge]]:
        """Record the bridges of the resource types a bound import of ``consumer_id`` names; (name, bridge) each.

        Every bound import of a consumer is recorded before its functions are forwarded: a function may name
        a resource type another import declares.
        """
        found = []
        for name, ty in resources_of(wanted, self.engine):
            bridge = self._exported(provider_id, export, name)
            self._seen.setdefault(consumer_id, []).append((ty, bridge))
            found.append((name, bridge))
        return found

    def define(self, interface: LinkerInstance, resources: Iterable[tuple[str, Bridge]]) -> None:
        """Serve the resource types of a consumer's import as host types, each drop forwarded to its definer."""
        for name, bridge in resources:
            interface.add_resource(name, ResourceType.host(bridge.id), self._destructor(bridge))

    def _destructor(self, bridge: Bridge) -> Callable[[Any, int], None]:
        store = self.store

        def drop(_context: Any, number: int) -> None:
            handle = bridge.held.pop(number, None)
            if handle is not None:
                handle.drop(store)  # runs the definer's destructor

        return drop

    def converters(
        self, consumer_id: str, provider_id: str, func: FuncType
    ) -> tuple[list[Convert | None], Convert | None]:
        """For a call ``consumer_id`` makes into ``provider_id``: one converter per parameter and one for the
        result, each None where no handle can appear (``func`` is the consumer's view of the function)."""
        params = [self._convert(ty, consumer_id, consumer_id, provider_id) for _, ty in func.params]
        result = None
        if func.result is not None:
            result = self._convert(func.result, consumer_id, provider_id, consumer_id)
        return params, result

    def _handle(self, ty: OwnType | BorrowType, viewer: str, source: str, target: str) -> Convert | None:
        """A handle of ``viewer``'s type ``ty`` going from ``source`` to ``target``."""
        bridge = self.bridge_of(viewer, ty.ty)
        if bridge is None:
            return None  # a type no binding provides (WASI's): it passes as it is
        store = self.store

        def number(value: Any) -> int:
            if source == bridge.definer:
                return bridge.adopt(value)
            return int(value.to_host(store).rep)

        own = isinstance(ty, OwnType)
        if target == bridge.definer:
            back = bridge.take if own else bridge.lend
            return lambda value: back(number(value))
        make = ResourceHost.own if own else ResourceHost.borrow
        return lambda value: make(number(value), bridge.id)

    def _convert(self, ty: Any, viewer: str, source: str, target: str) -> Convert | None:
        """Translates every handle in a value of ``viewer``'s type ``ty``; None when it can hold none."""
        if isinstance(ty, (OwnType, BorrowType)):
            return self._handle(ty, viewer, source, target)
        if isinstance(ty, ListType):
            element = self._convert(ty.element, viewer, source, target)
            return None if element is None else lambda value: [element(item) for item in value]
        if isinstance(ty, TupleType):
            elements = [self._convert(t, viewer, source, target) for t in ty.elements]
            if not any(elements):
                return None
            return lambda value: tuple(_apply(f, item) for f, item in zip(elements, value))
        if isinstance(ty, RecordType):
            fields = [(name, self._convert(t, viewer, source, target)) for name, t in ty.fields]
            if not any(f for _, f in fields):
                return None
            return lambda value: _record((name, _apply(f, getattr(value, name))) for name, f in fields)
        if isinstance(ty, (OptionType, ResultType, VariantType)):
            return self._cases(ty, viewer, source, target)
        return None

    def _cases(
        self, ty: OptionType | ResultType | VariantType, viewer: str, source: str, target: str
    ) -> Convert | None:
        """Variants, options and results in wasmtime-py's two forms: a ``Variant`` when two cases cannot be told
        apart by their Python class (``_tagged``), else the bare payload (None for a case without one)."""
        cases = ty._cases()
        converters = {name: None if t is None else self._convert(t, viewer, source, target) for name, t in cases}
        if not any(converters.values()):
            return None
        if ty._tagged():
            return lambda value: Variant(value.tag, _apply(converters[value.tag], value.payload))
        kinds: list[tuple[tuple[type, ...] | None, Convert | None]] = []
        for name, t in cases:  # in order, as wasmtime-py tells the case of an untagged value
            classes: set[type] = set()
            if t is not None:
                t.add_classes(classes)
            kinds.append((tuple(classes) if t is not None else None, converters[name]))

        def untagged(value: Any) -> Any:
            for classes, convert in kinds:
                if classes is None and value is None:
                    return None
                if classes is not None and isinstance(value, classes):
                    return _apply(convert, value)
            return value

        return untagged


def _apply(convert: Convert | None, value: Any) -> Any:
    return value if convert is None else convert(value)


def _record(fields: Iterable[tuple[str, Any]]) -> Record:
    record = Record()
    for name, value in fields:
        setattr(record, name, value)
    return record
