"""Run a bundled plan with wasmtime: verify, compile, link caps to consumers, call the root.

Trust: the bundle goes through the verification gate (``_verify``) first, the
same checks as ``verify``, types included, so nothing is compiled unless all
of them pass; each blob is then re-hashed as it is read for compiling.

How the graph is linked, in order of preference:

1. the bundle carries a verified composed component (``compose = true``): it
   runs as is, with only WASI;
2. a binding's interface uses resources and ``wasm-tools`` is installed: the
   graph is composed in memory (``_compose``, from copies of the blobs
   re-hashed on the way) and that runs with only WASI. The composed bytes are
   cached next to the compile cache, keyed by the plan's digest. Composition
   is chosen over proxying resource handles through Python, which measured
   10-20x slower per call (docs/design.md), and wasmtime(-py) 50 traps
   ("deferred host scope has no call context") on a ``borrow`` nested in a
   list or option parameter of a host function, which composition avoids;
3. otherwise (value types only) each bound import is defined on the
   consumer's linker as Python functions forwarding to the provider
   instance's export; this keeps the per-component compile cache warm and
   needs no extra tool. Resources without wasm-tools are refused by name.

A plan with ``determinism = "strict"`` runs only as 1 or 2 (composectl refuses
runtime linking under it). What the plan's limits and signals do is
``_sandbox``'s part; everything here is linear in the number of components
and bindings.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime.component import Component, ComponentInstanceType, FuncType, Instance, Linker, Variant

from ._compiler import CompileError, Compiler, cache_problem
from ._errors import PylonError, plural
from ._fs import atomic_write, make_private_dirs, open_inside, os_reason, private_folder
from ._layout import STORE_DIR, blob_relpath
from ._plan import Binding, Plan, PlanComponent
from ._reflect import uses_resources
from ._sandbox import (
    EXIT_ERR,
    EXIT_TRAP,
    NO_OPTIONS,
    Limits,
    RunOptions,
    StopOnSignal,
    stopped,
    trap_reason,
    wasi_config,
)
from ._verify import verify_bundle

if TYPE_CHECKING:
    from wasmtime.component import Func

    from ._sources import BundleFolder


class RunError(PylonError):
    """The plan could not be loaded, linked or run."""


class Runtime:
    """A verified plan, ready to instantiate in one wasmtime store."""

    def __init__(self, bundle: BundleFolder | str | os.PathLike[str], compiler: Compiler | None = None) -> None:
        """``bundle``: what ``_sources.open_target`` yields, or a bundle folder."""
        self.bundle = bundle
        if isinstance(bundle, (str, os.PathLike)):
            self.folder, self.label = Path(bundle), os.fspath(bundle)
        else:
            self.folder, self.label = bundle.folder, bundle.label
        self.compiler = compiler or Compiler()
        self.components: dict[str, Component] = {}
        self.composed: Component | None = None  # set when the graph runs as one composed component
        self.linked = ""  # how: "composed (bundled)", "composed (in memory)" or "runtime"
        self._plan: Plan | None = None
        self.limits = Limits()
        self._digests: dict[str, str] = {}

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            self.load()
        assert self._plan is not None
        return self._plan

    def load(self) -> None:
        """Pass the bundle through the verification gate, then compile (or fetch from cache) each blob.

        Nothing is compiled unless every check passes; the bytes compiled are re-hashed right here.
        A plan with ``cpu_ms`` is compiled for an engine that meters fuel (its own cache folder).
        """
        verified = verify_bundle(self.bundle, compiler=self.compiler).or_raise()
        assert verified.plan is not None
        plan = self._plan = verified.plan
        self.limits = Limits.of(plan.policy.limits)
        if self.limits.fuel is not None:
            self.compiler = self.compiler.with_fuel()
        self._digests = {component.id: component.digest for component in plan.components}
        meta = verified.meta
        if meta.composed is not None and meta.composed_digest is not None:
            composed, digest = meta.composed, meta.composed_digest
            self.composed = self._compile(
                lambda: self._read_verified(composed, digest, f"composed component {composed}"), digest, composed
            )
            self.linked = "composed (bundled)"
            return
        strict = plan.policy.determinism == "strict" and bool(plan.bindings)
        if strict or self._bindings_use_resources(verified.report.passes_resources):
            from ._compose import find_wasm_tools

            tool = find_wasm_tools()
            if tool is not None:
                data = self._compose_in_memory(meta.ignore_imports, tool)
                self.composed = self._compile(data, hashlib.sha256(data).hexdigest(), f"{plan.root} (composed)")
                self.linked = "composed (in memory)"
                return
            if strict:
                raise RunError(
                    f"{self.label}: the plan's determinism is 'strict', which allows no runtime linking, and the "
                    "bundle has no composed component: composing it to run needs wasm-tools "
                    "(pip install 'hatch-pylon[compose]'), or build it with compose = true"
                )
        for component in plan.components:
            self.components[component.id] = self._compile(self._blob_reader(component), component.digest, component.id)
        self.linked = "runtime"

    def _blob_reader(self, component: PlanComponent) -> Callable[[], bytes]:
        """The component's blob, re-hashed when it is read (only a compile cache miss reads it)."""
        relative = f"{STORE_DIR}/{blob_relpath(component.digest)}"
        return lambda: self._read_verified(relative, component.digest, f"component {component.id!r}: blob")

    def _read_verified(self, relative: str, digest: str, what: str) -> bytes:
        """The file's bytes, re-hashed: the bytes compiled must be the bytes the gate checked."""
        try:
            with open_inside(self.folder, relative) as file:
                data = file.read()
        except OSError as exc:
            raise RunError(f"{what} {relative}: cannot be read ({os_reason(exc)})") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise RunError(
                f"{what} {relative} changed after it was verified (sha256 {actual}, expected {digest}); "
                "refusing to run it"
            )
        return data

    def _compile(self, data: bytes | Callable[[], bytes], digest: str, label: str) -> Component:
        try:
            return self.compiler.component(data, digest, label)
        except CompileError as error:
            raise RunError(f"{label}: {error}") from None

    def _bindings_use_resources(self, known: bool | None) -> bool:
        """Whether a bound interface uses resources: the gate's answer, else decoded here (no compile).

        What the decoder cannot read counts as "yes": composition is correct for every graph.
        """
        if known is not None:
            return known
        from ._signatures import Undecidable, decode_file
        from ._typecheck import passes_handles

        imports: dict[str, dict[str, object]] = {}
        for binding in self.plan.bindings:
            if binding.consumer_id not in imports:
                path = self.folder / STORE_DIR / blob_relpath(self._digests[binding.consumer_id])
                try:
                    imports[binding.consumer_id] = dict(decode_file(path, exports=False)[0])
                except (Undecidable, OSError):
                    return True
            if passes_handles(imports[binding.consumer_id].get(binding.import_name)):  # type: ignore[arg-type]
                return True
        return False

    def _compose_in_memory(self, ignore: tuple[str, ...], tool: str) -> bytes:
        """The graph composed with wasm-tools from re-hashed copies of the blobs; cached by plan digest.

        The cached file is used only if it passes the compile cache's ownership rules (``cache_problem``).
        """
        from ._compose import ComposeError, compose_plan

        plan_digest = hashlib.sha256(self.plan.to_json()).hexdigest()
        root = self.compiler.cache_root
        cached = root / "composed" / f"{plan_digest}.wasm"
        problem = cache_problem(root, cached)
        if problem is None:
            try:
                return cached.read_bytes()
            except OSError:
                pass
        elif problem:
            self._say(f"ignoring the cache at {problem}")
        if self.compiler.say is not None:
            caps = plural(len(self.plan.components) - 1, "cap")
            self.compiler.say(f"composing {self.plan.root} with {caps} to run it (bound interfaces use resources)")
        with private_folder("hatch-pylon-run-") as work:
            copies: dict[str, Path] = {}
            for component in self.plan.components:
                relative = f"{STORE_DIR}/{blob_relpath(component.digest)}"
                copies[component.digest] = work / f"{component.digest}.wasm"
                copies[component.digest].write_bytes(
                    self._read_verified(relative, component.digest, f"component {component.id!r}: blob")
                )
            try:
                composed = compose_plan(self.plan, copies, ignore_imports=ignore, tool=tool)
            except ComposeError as error:
                raise RunError(f"cannot compose {self.label} to run it: {error}") from None
        try:
            make_private_dirs(cached.parent)
            if not cache_problem(root, cached.parent, folder=True):
                atomic_write(cached, composed.data)
        except OSError as exc:  # a read-only or full cache only costs speed
            self._say(f"not caching the composed component in {cached.parent} ({os_reason(exc)})")
        return composed.data

    def _say(self, line: str) -> None:
        if self.compiler.say is not None:
            self.compiler.say(line)
        else:
            print(f"hatch-pylon: {line}", file=sys.stderr)

    def instantiate(
        self, args: Sequence[str] = (), options: RunOptions = NO_OPTIONS
    ) -> tuple[wasmtime.Store, Instance]:
        """A store holding the whole graph, instantiated with the plan's limits; (store, root instance)."""
        if not self.components and self.composed is None:
            self.load()
        engine = self.compiler.engine
        store = self.compiler.store(self.limits.fuel)
        self.limits.apply(store)
        store.set_wasi(wasi_config([self.plan.root, *args], options))
        if self.composed is not None:  # one component: only WASI is left to link
            linker = Linker(engine)
            linker.add_wasip2()
            try:
                return store, linker.instantiate(store, self.composed)
            except wasmtime.WasmtimeError as error:
                raise self._failed(f"the composed {self.plan.root!r}", error, instantiating=True) from None
        instances: dict[str, Instance] = {}
        wanted: dict[str, list[Binding]] = {}
        for binding in self.plan.bindings:
            wanted.setdefault(binding.consumer_id, []).append(binding)
        for component_id in self._dependency_order():
            bindings = wanted.get(component_id, [])
            instances[component_id] = self._instantiate_one(store, component_id, bindings, instances)
        return store, instances[self.plan.root]

    def run(self, args: Sequence[str] = (), options: RunOptions = NO_OPTIONS) -> tuple[int, Any]:
        """Call the root's ``wasi:cli/run@0.2.*`` ``run`` or its top-level ``run``; (exit status, value).

        A trap or an exceeded limit raises ``GuestStopped`` (one line, with its exit status); SIGINT and
        SIGTERM stop the guest (``_sandbox.StopOnSignal``) and then act as they would have.
        """
        failure: wasmtime.WasmtimeError | None = None
        with StopOnSignal(lambda: self.compiler.engine.increment_epoch()) as stop:
            if not self.components and self.composed is None:
                self.load()
            if self.limits.io_ops is not None:
                self._say(
                    f"policy.limits.io_ops = {self.limits.io_ops} is not enforced "
                    "(neither composectl's wasmtime host nor wasmtime counts I/O operations)"
                )
            stop.guest = True
            store, root = self.instantiate(args, options)
            func = self._entry_point(store, root)
            try:
                value = func(store)
                func.post_return(store)
            except wasmtime.ExitTrap as trap:
                return trap.code, None
            except wasmtime.WasmtimeError as error:
                failure = error
            stop.guest = False
        if failure is not None:  # after the signal, if any, had its say
            who = self._trapped_in or self.plan.root
            suffix = " (composed with its caps)" if self.composed is not None else ""
            raise self._failed(f"component {who!r}{suffix}", failure)
        if isinstance(value, Variant) and value.tag == "err":
            return EXIT_ERR, None
        return 0, (None if isinstance(value, Variant) else value)

    _trapped_in: str | None = None  # the deepest provider a forwarded call trapped in

    def _failed(self, who: str, error: wasmtime.WasmtimeError, instantiating: bool = False) -> PylonError:
        """The one-line error for a failed call (a trap or a limit) or instantiation (a limit or a link error)."""
        failure = stopped(who, error, self.limits)
        if instantiating and failure.exit_status == EXIT_TRAP:
            return RunError(f"cannot instantiate {who}: {trap_reason(error)}")
        return failure

    def _dependency_order(self) -> list[str]:
        """Providers before their consumers, ties broken by id so runs are repeatable (Kahn's algorithm)."""
        waiting = {c.id: 0 for c in self.plan.components}
        consumers: dict[str, list[str]] = {}
        for binding in self.plan.bindings:
            consumers.setdefault(binding.provider_id, []).append(binding.consumer_id)
            waiting[binding.consumer_id] += 1
        ready = [component_id for component_id, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            component_id = heapq.heappop(ready)
            order.append(component_id)
            for consumer in consumers.get(component_id, ()):
                waiting[consumer] -= 1
                if waiting[consumer] == 0:
                    heapq.heappush(ready, consumer)
        if len(order) != len(waiting):
            stuck = sorted(set(waiting) - set(order))
            raise RunError(f"dependency cycle among {', '.join(stuck)}")
        return order

    def _instantiate_one(
        self, store: wasmtime.Store, component_id: str, bindings: list[Binding], done: dict[str, Instance]
    ) -> Instance:
        engine = self.compiler.engine
        component = self.components[component_id]
        imports = component.type.imports(engine)
        linker = Linker(engine)
        if any(name.startswith("wasi:") for name in imports):
            linker.add_wasip2()  # a third of the cost of linking a small component: only where it is imported
        with linker.root() as root:
            for binding in bindings:
                wanted = imports[binding.import_name].ty
                provider = done[binding.provider_id]
                where = binding.provider_id
                if isinstance(wanted, FuncType):
                    root.add_func(binding.import_name, self._forward(store, provider, where, binding.export_name))
                    continue
                if not isinstance(wanted, ComponentInstanceType):
                    raise RunError(
                        f"{component_id} imports {binding.import_name!r}, which is neither a "
                        "function nor an interface; the runtime cannot forward it"
                    )
                items = {name: extern.ty for name, extern in wanted.exports(engine).items()}
                heavy = sorted(name for name, item in items.items() if uses_resources(item))
                if heavy:
                    raise RunError(
                        f"{component_id} imports {binding.import_name!r}, which uses resources ({', '.join(heavy)}); "
                        "hatch-pylon's runtime links value types only; a graph with resources runs composed, "
                        "which needs wasm-tools (pip install 'hatch-pylon[compose]')"
                    )
                with root.add_instance(binding.import_name) as interface:
                    for name, item in sorted(items.items()):
                        if isinstance(item, FuncType):
                            interface.add_func(name, self._forward(store, provider, where, binding.export_name, name))
        try:
            return linker.instantiate(store, component)
        except wasmtime.WasmtimeError as error:
            raise self._failed(f"component {component_id!r}", error, instantiating=True) from None

    def _forward(
        self, store: wasmtime.Store, provider: Instance, provider_id: str, export: str, name: str | None = None
    ) -> Callable[..., Any]:
        index = provider.get_export_index(store, export)
        if name is not None and index is not None:
            index = provider.get_export_index(store, name, index)
        func = provider.get_func(store, index) if index is not None else None
        if func is None:
            raise RunError(f"provider does not export {export}{'#' + name if name else ''}")

        def forward(_caller: Any, *args: Any) -> Any:
            try:
                result = func(store, *args)
                func.post_return(store)
            except wasmtime.WasmtimeError:
                if self._trapped_in is None:  # the innermost forward sees the trap first
                    self._trapped_in = provider_id
                raise
            return result

        return forward

    def _entry_point(self, store: wasmtime.Store, root: Instance) -> Func:
        engine = self.compiler.engine
        entry = self.composed if self.composed is not None else self.components[self.plan.root]
        exports = entry.type.exports(engine)
        found: Func | None = None
        for name in sorted(exports):
            if name.startswith("wasi:cli/run@0.2."):
                interface = root.get_export_index(store, name)
                index = root.get_export_index(store, "run", interface) if interface is not None else None
                found = root.get_func(store, index) if index is not None else None
                break
        else:
            if "run" in exports and isinstance(exports["run"].ty, FuncType):
                found = root.get_func(store, "run")
        if found is None:
            raise RunError(
                f"root {self.plan.root!r} exports neither wasi:cli/run@0.2.* (with a run function) nor a "
                "top-level run function"
            )
        return found
