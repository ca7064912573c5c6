"""composectl's runtime linking, hosted with wasmtime: the ``compose:dynlink`` linker and endpoint forwarding.

What composectl's host does (``hosts/wasmtime/src/dynlink.rs``), and so what this does:

- **the linker** (``compose:dynlink/linker``, flavor B, defined under the name the guest imports):
  ``resolve-by-id`` maps a plan component id to its digest (unknown: ``invalid-input``, ``unknown component
  id: <id>``) and goes on as ``resolve-by-digest``, which refuses under strict
  determinism and without ``dynlink:resolve`` (``exec-capability-denied``), accepts
  only the digest of a verified plan component (else ``trust-untrusted-source``),
  and instantiates that component in a ``Store`` of its own with an empty WASI
  context. The guest gets an opaque ``instance`` handle (a host resource);
  ``invoke`` needs ``dynlink:invoke`` and calls the provider's
  ``compose:dynlink/endpoint.handle``: the provider's own error comes back as
  ``exec-trap`` ``provider endpoint error: <message>`` with its context, a trap
  as ``exec-trap`` ``provider handle trapped: <reason>``. Dropping the handle
  drops the provider's store.
- **endpoint forwarding** (flavor A): a consumer's bound
  ``compose:dynlink/endpoint`` import calls the provider, which runs in its own
  store; errors are mapped as composectl maps them (its context is not kept).
- ``sys:compose/types`` declares types only: nothing to define.

Every failure reaches the guest as a ``sys:compose/types.error`` record of one
line; wasmtime's own text is reduced to its reason. Nothing here raises into
wasmtime from a host function: an exception there would trap the guest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime.component import (
    Component,
    ComponentInstanceType,
    FuncType,
    Linker,
    LinkerInstance,
    Record,
    ResourceAny,
    ResourceHost,
    ResourceType,
    Variant,
)

from .._errors import printable
from ..composectl.linkage import CAP_INVOKE, CAP_RESOLVE, ENDPOINT, is_endpoint
from ..composectl.plan import Plan
from ..wasm.compiler import wasmtime_reason

INSTANCE_RESOURCE = 0x64796E6C  # the host resource type behind the linker's `instance` handles ("dynl")

# One resolved provider's bytes, compiled: (component id, digest) -> Component; raises HostError when it cannot be.
LoadComponent = Callable[[str, str], Component]
MakeStore = Callable[[], wasmtime.Store]


class HostError(Exception):
    """A failure the guest receives as a ``sys:compose/types.error``: code, one-line message, optional context."""

    def __init__(self, code: str, message: str, context: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context

    def record(self) -> Record:
        value = Record()
        value.code = Variant(self.code)  # type: ignore[attr-defined]
        value.message = self.message  # type: ignore[attr-defined]
        value.context = self.context  # type: ignore[attr-defined]
        return value


def empty_wasi_store(make_store: MakeStore) -> wasmtime.Store:
    """A store whose WASI context is empty: no arguments, environment, preopens or stdio (composectl's provider)."""
    store = make_store()
    store.set_wasi(wasmtime.WasiConfig())
    return store


class Provider:
    """An endpoint provider instantiated in a store of its own; calls go to its ``endpoint.handle``."""

    def __init__(self, engine: wasmtime.Engine, component: Component, label: str, make_store: MakeStore) -> None:
        self.label = label
        names = [name for name in component.type.exports(engine) if is_endpoint(name)]
        if not names:
            raise HostError("exec-trap", f"failed to instantiate provider: {label} does not export {ENDPOINT}")
        self.store = empty_wasi_store(make_store)
        linker = Linker(engine)
        linker.add_wasip2()  # a provider gets WASI alone; type-only imports (sys:compose/types) need nothing
        try:
            instance = linker.instantiate(self.store, component)
        except wasmtime.WasmtimeError as error:
            raise HostError("exec-trap", f"failed to instantiate provider: {label}: {wasmtime_reason(error)}") from None
        interface = instance.get_export_index(self.store, sorted(names)[-1])
        index = instance.get_export_index(self.store, "handle", interface) if interface is not None else None
        func = instance.get_func(self.store, index) if index is not None else None
        if func is None:
            raise HostError("exec-trap", f"failed to instantiate provider: {label} exports no {ENDPOINT}.handle")
        self.handle = func

    def call(self, method: str, payload: bytes) -> bytes | Record:
        """The provider's answer: its bytes, or its own error record; a trap is a ``HostError``."""
        try:
            result = self.handle(self.store, method, payload)
            self.handle.post_return(self.store)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as error:
            raise HostError("exec-trap", f"provider handle trapped: {wasmtime_reason(error)}") from None
        return bytes(result) if isinstance(result, (bytes, bytearray, list)) else result


def provider_failure(error: Record, keep_context: bool) -> HostError:
    """A provider's own error, as composectl hands it on: ``exec-trap``, its message prefixed."""
    context = getattr(error, "context", None) if keep_context else None
    return HostError("exec-trap", f"provider endpoint error: {getattr(error, 'message', '')}", context)


class LinkerHost:
    """The ``compose:dynlink/linker`` host for one run: the plan's components are the registry."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        plan: Plan,
        load: LoadComponent,
        make_store: MakeStore,
    ) -> None:
        self.engine = engine
        self.load = load
        self.make_store = make_store
        self.determinism = plan.policy.determinism
        self.granted = frozenset(capability.name for capability in plan.policy.capabilities)
        self.registry = {component.id: component.digest for component in plan.components}
        self.trusted = {component.digest: component.id for component in plan.components}  # verified by the gate
        self.handles: dict[int, Provider] = {}  # live `instance` handles: rep -> its provider (and store)
        self.resolved: set[str] = set()  # digests resolved during this run
        self._next = 1

    def define(self, root: LinkerInstance, import_name: str) -> None:
        """Define the linker interface under the exact name the guest imports."""
        with root.add_instance(import_name) as interface:
            interface.add_resource("instance", ResourceType.host(INSTANCE_RESOURCE), self._drop)
            interface.add_func("resolve-by-id", self._resolve_by_id)
            interface.add_func("resolve-by-digest", self._resolve_by_digest)
            interface.add_func("[method]instance.invoke", self._invoke)

    # -- the interface (each returns the ok value or an error record; never raises) ----------------------------

    def _resolve_by_id(self, _store: Any, component_id: str) -> ResourceHost | Record:
        digest = self.registry.get(component_id)
        if digest is None:
            return HostError("invalid-input", f"unknown component id: {printable(component_id)}").record()
        return self._resolve_by_digest(_store, list(bytes.fromhex(digest)))

    def _resolve_by_digest(self, _store: Any, digest: Any) -> ResourceHost | Record:
        try:
            return self._resolve(bytes(digest).hex())
        except HostError as error:
            return error.record()

    def _resolve(self, digest: str) -> ResourceHost:
        if self.determinism == "strict":
            raise HostError("exec-capability-denied", "runtime linking is not permitted under strict determinism")
        if CAP_RESOLVE not in self.granted:
            raise HostError("exec-capability-denied", f"resolution requires the '{CAP_RESOLVE}' capability")
        component_id = self.trusted.get(digest)
        if component_id is None:
            raise HostError("trust-untrusted-source", f"TrustUntrustedSource: digest {digest} not in trusted set")
        provider = Provider(self.engine, self.load(component_id, digest), repr(component_id), self.make_store)
        rep, self._next = self._next, self._next + 1
        self.handles[rep] = provider
        self.resolved.add(digest)
        return ResourceHost.own(rep, INSTANCE_RESOURCE)

    def _invoke(self, store: Any, handle: ResourceAny, method: str, payload: Any) -> bytes | Record:
        try:
            provider = self.handles.get(handle.to_host(store).rep)
        except wasmtime.WasmtimeError as error:
            return HostError("internal-error", f"unknown dynlink handle: {wasmtime_reason(error)}").record()
        if provider is None:
            return HostError("internal-error", "unknown dynlink handle").record()
        if CAP_INVOKE not in self.granted:
            return HostError("exec-capability-denied", f"invoke requires the '{CAP_INVOKE}' capability").record()
        try:
            answer = provider.call(method, bytes(payload))
        except HostError as error:
            return error.record()
        return answer if isinstance(answer, bytes) else provider_failure(answer, keep_context=True).record()

    def _drop(self, _store: Any, rep: int) -> None:
        self.handles.pop(rep, None)  # the provider's store goes with it


def forward_endpoint(root: LinkerInstance, import_name: str, provider: Provider) -> None:
    """Flavor A: define the consumer's endpoint import as calls into ``provider``, in its own store."""

    def handle(_store: Any, method: str, payload: Any) -> bytes | Record:
        try:
            answer = provider.call(method, bytes(payload))
        except HostError as error:
            return error.record()
        return answer if isinstance(answer, bytes) else provider_failure(answer, keep_context=False).record()

    with root.add_instance(import_name) as interface:
        interface.add_func("handle", handle)


def unserved_host_imports(engine: wasmtime.Engine, component: Component, names: list[str]) -> list[str]:
    """Of these host-side imports, those this host cannot serve: anything but the linker and type-only interfaces."""
    from ..composectl.linkage import is_linker

    imports = component.type.imports(engine)
    unserved = []
    for name in names:
        if is_linker(name) or name not in imports:
            continue
        wanted = imports[name].ty
        if not isinstance(wanted, ComponentInstanceType) or any(
            isinstance(item.ty, FuncType) or not _is_plain_type(item.ty) for item in wanted.exports(engine).values()
        ):
            unserved.append(name)
    return unserved


def _is_plain_type(item: object) -> bool:
    """A value type (record, variant, ...), as opposed to a function, resource, instance or component."""
    from wasmtime.component import ComponentType, ModuleType
    from wasmtime.component import ResourceType as Resource

    return not isinstance(item, (FuncType, Resource, ComponentInstanceType, ComponentType, ModuleType))
