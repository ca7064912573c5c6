"""Run a bundled plan with wasmtime: verify, compile, link caps to consumers, call the root.

Trust: the bundle goes through the verification gate (``bundle.verify``) first, the
same checks as ``verify``, types included, so nothing is compiled unless all
of them pass; each blob is then re-hashed as it is read for compiling.

How the graph is linked, in order of preference:

1. the bundle carries a composed component (``compose = true``) the gate
   proved (re-composed from the plan, byte for byte): it runs as is, with
   only WASI; one it could not prove (no wasm-tools) is never run;
2. a ``determinism = "strict"`` plan, or a bound import with a function
   whose call passes more than one ``borrow`` (wasmtime 50 traps before such a
   host function runs: ``use.handles``): the graph is composed in memory
   (``bundle.compose``, from copies of the blobs re-hashed on the way) and
   that runs with only WASI; the composed bytes are cached next to the
   compile cache, keyed by composectl's plan digest. Without wasm-tools this
   is refused by name, before anything is compiled;
3. otherwise each component is instantiated from its own compile (cached by
   its digest), providers first, and each bound import is defined on the
   consumer's linker as Python functions forwarding to the provider
   instance's export; resource types are served as host types whose handles
   stand for the provider's (``use.handles``). An edit to one component costs
   that component's compile.

One component file (``Runtime.single``: what ``compose`` writes) runs as 1
does, with WASI alone.

Runtime linking as composectl runs it (``use.dynlink``): a ``compose:dynlink/linker``
import is served by the host, whose guest resolves registry components at run
time, each in a store of its own; a bound ``compose:dynlink/endpoint`` import
forwards to its provider in a store of its own. Neither is instantiated with
the rest of the graph. A plan composectl's exec refuses (``composectl.linkage``:
a runtime plan without both dynlink capabilities, neither flavor A nor B; a
static plan whose root imports the linker) is refused before anything is
compiled, unless ``lenient``; the linker is served to runtime plans only (to
any with ``lenient``).

A plan with ``determinism = "strict"`` runs only as 1 or 2 (composectl refuses
runtime linking under it). What the plan's limits and signals do is
``use.sandbox``'s part: every store is made by ``_new_store``, with the plan's
fuel budget and memory limit. Linking is linear in the number of components
and bindings.
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime.component import Component, ComponentInstanceType, FuncType, Instance, Linker, Variant

from .._errors import CompileError, ComposeError, PylonError, RunError, plural, printable, warning
from .._fs import open_inside, open_regular, os_reason, sha256_hex
from .._layout import WASI_PREFIX
from ..bundle.verify import Report, Verified, verify_bundle
from ..composectl.linkage import bound_closure, host_provides, is_endpoint, is_linker
from ..composectl.plan import Binding, Plan
from ..wasm.cache import COMPOSED_DIR
from ..wasm.compiler import Compiler, wasmtime_reason
from ..wasm.signatures import InstanceSignatures, Item, Signature, Undecidable, decode_file
from .handles import Convert, Handles, functions_of
from .sandbox import (
    EXIT_ERR,
    EXIT_TRAP,
    NO_OPTIONS,
    Limits,
    RunOptions,
    StopOnSignal,
    stopped,
    wasi_config,
)

if TYPE_CHECKING:
    from wasmtime.component import Func

    from ..bundle.sources import BundleFolder
    from .dynlink import LinkerHost


class Runtime:
    """A verified plan, ready to instantiate in one wasmtime store."""

    def __init__(
        self, bundle: BundleFolder | str | os.PathLike[str], compiler: Compiler | None = None, lenient: bool = False
    ) -> None:
        """``bundle``: what ``bundle.sources.open_target`` yields, or a bundle folder. A plan composectl's exec
        refuses is refused too, unless ``lenient``: then it runs as hatch-pylon can run it, and that is said."""
        self.bundle = bundle
        self.lenient = lenient
        if isinstance(bundle, (str, os.PathLike)):
            self.folder, self.label = Path(bundle), os.fspath(bundle)
        else:
            self.folder, self.label = bundle.folder, bundle.label
        self.compiler = compiler or Compiler()
        self.components: dict[str, Component] = {}
        self.composed: Component | None = None  # set when the graph runs as one composed component
        self.linked = ""  # how: "composed (bundled)", "composed (in memory)", "runtime" or "component" (one file)
        self.dynlink: LinkerHost | None = None  # the compose:dynlink linker host, when a component imports it
        self._plan: Plan | None = None
        self._verified: Verified = Verified(Report())
        self.limits = Limits()
        self._digests: dict[str, str] = {}
        self._trapped_in: tuple[str, str] | None = None  # (provider, export) of the deepest forward that trapped
        self._entry = "run"  # the root's export ``run`` calls
        self._handles: Handles | None = None  # the resource bridges of the store instantiated last

    @classmethod
    def single(cls, path: str, compiler: Compiler) -> Runtime:
        """One component file (what ``compose`` writes), checked as the gate checks a blob (a regular file within
        the size limit, a component, hashed as read), importing only WASI; it runs as a composed graph does."""
        from ..composectl.plan import PlanComponent, Policy
        from ..wasm.binary import scan

        shown = printable(path)
        scanned = scan(path)  # ComponentFormatError: not a regular file, too large, not WebAssembly
        if scanned.info.kind != "component":
            raise RunError(f"{shown} is a core module, not a component: run the component built from it")
        foreign = sorted({e.name for e in scanned.info.imports if not e.name.startswith(WASI_PREFIX)})
        if foreign:
            raise RunError(
                f"{shown} imports {printable(', '.join(foreign))}: run alone, a component is given WASI only "
                "(run the bundle it came from, or compose it with its providers: hatch-pylon compose)"
            )
        runtime = cls(path, compiler)
        root = Path(path).name.split(".")[0] or "component"
        component = PlanComponent(root, scanned.digest)
        runtime._plan = Plan.create(root, [component], [], Policy())
        runtime.composed = runtime._compile(lambda: runtime._read_file(path, scanned.digest), scanned.digest, shown)
        runtime.linked = "component"
        return runtime

    def _read_file(self, path: str, digest: str) -> bytes:
        """A component file's bytes, re-hashed: the bytes compiled must be the bytes checked."""
        try:
            with open_regular(path) as file:
                data = file.read()
        except OSError as exc:
            raise RunError(f"{printable(path)}: cannot be read ({os_reason(exc)})") from None
        if sha256_hex(data) != digest:
            raise RunError(f"{printable(path)} changed while it was being checked; refusing to run it")
        return data

    @property
    def verified(self) -> Verified:
        """What the gate proved: the plan that runs (re-resolved, for a compatible reference) and its report."""
        if self._plan is None:
            self.load()
        return self._verified

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            self.load()
        assert self._plan is not None
        return self._plan

    def load(self, verified: Verified | None = None) -> None:
        """Pass the bundle through the verification gate, then compile (or fetch from cache) what runs: each
        blob, or the graph composed. ``verified``: the gate's passing result for this bundle, when the caller
        has it (``verify --compile-all`` warms the cache with exactly what ``run`` uses).

        Nothing is compiled unless every check passes; the bytes compiled are re-hashed right here (a
        compile cache hit reads none). A plan with ``cpu_ms`` is compiled for an engine that meters fuel.
        A plan composectl's exec refuses is refused here, before anything is compiled (unless ``lenient``);
        warming the cache for ``verify`` (``verified`` given) compiles what ``run --lenient`` would run.
        """
        if verified is None:
            verified = verify_bundle(self.bundle, compiler=self.compiler).or_raise()
            self._judge(verified)
        assert verified.plan is not None
        self._plan = verified.plan
        self._verified = verified
        self.limits = Limits.of(verified.plan.policy.limits)
        if self.limits.fuel is not None:
            self.compiler = self.compiler.with_fuel()
        self._digests = {component.id: component.digest for component in verified.plan.components}
        meta = verified.meta
        if meta.composed is not None and not verified.report.composed_proven:
            self.compiler.say(f"not running {meta.composed}: it cannot be proven without wasm-tools; linking the plan")
        if meta.composed is not None and meta.composed_digest is not None and verified.report.composed_proven:
            composed, digest = meta.composed, meta.composed_digest
            self.composed = self._compile(
                lambda: self._read_verified(composed, digest, f"composed component {composed}"), digest, composed
            )
            self.linked = "composed (bundled)"
            return
        strict = self._plan.policy.determinism == "strict" and bool(self._plan.bindings)
        unlinkable = self._unlinkable()  # said before anything is compiled, when the binaries tell
        if strict or unlinkable:
            self._compose(meta.ignore_imports, unlinkable or [])
            return
        for component_id in sorted(self._instantiated()):
            digest = self._digests[component_id]
            self.components[component_id] = self._compile(self._blob_reader(component_id, digest), digest, component_id)
        if unlinkable is None:  # the decoder could not tell: wasmtime's reflection can
            unlinkable = self._unlinkable_reflected()
            if unlinkable:
                self.components = {}
                self._compose(meta.ignore_imports, unlinkable)
                return
        self.linked = "runtime"

    def _judge(self, verified: Verified) -> None:
        """Refuse a plan composectl's exec refuses, with exec's reason and the fix; with ``lenient``, say so."""
        decision = verified.report.exec
        if decision is None or decision.refusal is None:
            return
        if not self.lenient:
            raise RunError(f"{self.label}: {decision.message()} (hatch-pylon run --lenient runs it anyway)")
        self.compiler.say(warning(decision.message()))
        self.compiler.say("running it anyway, as hatch-pylon runs it (--lenient)")

    @property
    def _serves(self) -> str:
        """The linkage whose host interfaces this run serves: the plan's, or runtime's with --lenient."""
        return "runtime" if self.lenient else self.plan.linkage

    def _compose(self, ignore: tuple[str, ...], unlinkable: list[str]) -> None:
        """Run the graph as one component composed in memory: a strict plan, or an import the host cannot link."""
        from ..bundle.compose import find_wasm_tools, install_hint

        tool = find_wasm_tools()
        if tool is None and unlinkable:
            raise RunError(
                f"{unlinkable[0]}: wasmtime cannot pass more than one borrowed handle per call through the host, "
                f"so the graph runs composed, which needs wasm-tools: {install_hint('run')}"
            )
        if tool is None:
            raise RunError(
                f"{self.label}: the plan's determinism is 'strict', which allows no runtime linking, so it runs "
                f"statically composed, which needs wasm-tools: {install_hint('run')} (or build with compose = true)"
            )
        data = self._compose_in_memory(ignore, tool, unlinkable)
        label = f"{printable(self.plan.root)} (composed)"
        self.composed = self._compile(data, sha256_hex(data), label)
        self.linked = "composed (in memory)"

    def _blob_reader(self, component_id: str, digest: str) -> Callable[[], bytes]:
        """The component's blob, re-hashed when it is read (only a compile cache miss reads it)."""
        return lambda: self._read_blob(component_id, digest)

    def _instantiated(self) -> set[str]:
        """What runs in the root's store: the root and what its bindings reach, except endpoint providers (and
        registry members), which run in stores of their own."""
        own_store = {b.provider_id for b in self.plan.bindings if is_endpoint(b.import_name)}
        return bound_closure(self.plan.root, self.plan.bindings, stop_at=own_store)

    def _load_provider(self, component_id: str, digest: str) -> Component:
        """A provider resolved at run time: its blob re-hashed, then compiled (or taken from the cache)."""
        from .dynlink import HostError

        if component_id in self.components:
            return self.components[component_id]
        try:
            data = self._read_blob(component_id, digest)
        except RunError as error:  # composectl's resolve says blob-not-found for any blob it cannot get
            raise HostError("blob-not-found", str(error)) from None
        try:
            component = self.compiler.component(data, digest, component_id)
        except CompileError as error:
            raise HostError("emit-link-error", f"failed to load provider component: {error}") from None
        self.components[component_id] = component
        return component

    def _new_store(self) -> wasmtime.Store:
        """A store on the compiler's engine with the plan's fuel budget and memory limit (every store of a run is
        made here: a provider in a store of its own gets the same limits)."""
        store = self.compiler.store(self.limits.fuel)
        self.limits.apply(store)
        return store

    def _host_imports(self, component_id: str, component: Component, linker: Linker) -> None:
        """Define what the runtime host serves: the compose:dynlink linker; type-only sys:compose interfaces need
        nothing. Anything else the host would have to serve is refused by name."""
        from ..composectl.linkage import host_provides
        from .dynlink import LinkerHost, unserved_host_imports

        engine = self.compiler.engine
        bound = {b.import_name for b in self._wanted.get(component_id, ())}
        # The gate has checked that every unbound import is ignored or the host's. composectl's exec serves the
        # linker to runtime plans only; a static plan's ignored linker import is served only with --lenient.
        served = sorted(n for n in component.type.imports(engine) if n not in bound and host_provides(n, self._serves))
        unserved = unserved_host_imports(engine, component, served)
        if unserved:
            raise RunError(
                f"{printable(component_id)} imports {printable(', '.join(unserved))}, which hatch-pylon's runtime host "
                "does not implement "
                "(it serves compose:dynlink/linker and type-only sys:compose interfaces)"
            )
        linkers = [name for name in served if is_linker(name)]
        if not linkers:
            return
        if self.dynlink is None:
            self.dynlink = LinkerHost(engine, self.plan, self._load_provider, self._new_store)
        with linker.root() as root:
            for name in linkers:
                self.dynlink.define(root, name)

    def _read_blob(self, component_id: str, digest: str) -> bytes:
        """A plan blob's bytes, re-hashed, from where the gate found it (this bundle or a referenced distribution)."""
        base, relative = self._verified.sources[digest]
        return self._read_verified(relative, digest, f"component {component_id!r}: blob", base)

    def _read_verified(self, relative: str, digest: str, what: str, base: Path | None = None) -> bytes:
        """The file's bytes, re-hashed: the bytes compiled must be the bytes the gate checked."""
        try:
            with open_inside(self.folder if base is None else base, relative) as file:
                data = file.read()
        except OSError as exc:
            raise RunError(f"{what} {relative}: cannot be read ({os_reason(exc)})") from None
        actual = sha256_hex(data)
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

    def _unlinkable(self) -> list[str] | None:
        """The bound imports the host cannot link (``consumer imports 'a:b/c' (f)``): a function whose call
        passes more than one ``borrow`` (wasmtime traps before a host function receiving two runs). Decoded
        from the consumers' binaries, no compile; None when the decoder cannot tell."""
        imports: dict[str, dict[str, Item]] = {}
        found: list[str] = []
        for binding in self.plan.bindings:
            if binding.consumer_id not in imports:
                path = self._verified.blobs[self._digests[binding.consumer_id]]
                try:
                    imports[binding.consumer_id] = dict(decode_file(path, exports=False)[0])
                except (Undecidable, OSError):
                    return None
            item = imports[binding.consumer_id].get(binding.import_name)
            functions = item.functions if isinstance(item, InstanceSignatures) else {"": item}
            heavy = sorted(name for name, f in functions.items() if isinstance(f, Signature) and f.borrows > 1)
            found += [f"{binding.described()} ({printable(', '.join(heavy))})"] if heavy else []
        return found

    def _unlinkable_reflected(self) -> list[str]:
        """``_unlinkable`` from wasmtime's reflection of the compiled consumers."""
        from .handles import borrows

        engine = self.compiler.engine
        found: list[str] = []
        for binding in self.plan.bindings:
            component = self.components.get(binding.consumer_id)
            wanted = component.type.imports(engine).get(binding.import_name) if component is not None else None
            if wanted is None:
                continue
            functions = functions_of(wanted.ty, engine)
            heavy = sorted(name for name, func in functions if borrows(func) > 1)
            found += [f"{binding.described()} ({printable(', '.join(heavy))})"] if heavy else []
        return found

    def _compose_in_memory(self, ignore: tuple[str, ...], tool: str, unlinkable: list[str]) -> bytes:
        """The graph composed with wasm-tools from re-hashed copies of the blobs; cached by plan digest."""
        from ..bundle.compose import compose_bundle

        plan_digest = self.plan.plan_digest()
        cached = self.compiler.cache_root / COMPOSED_DIR / f"{plan_digest}.wasm"
        data = self.compiler.cached(cached)  # the compile cache's ownership rules
        if data is not None:
            return data
        caps = plural(len(bound_closure(self.plan.root, self.plan.bindings)) - 1, "cap")
        root = printable(self.plan.root)
        why = (
            f"{unlinkable[0]} passes more than one borrowed handle per call, which only composition links"
            if unlinkable
            else "the plan's determinism is 'strict'"
        )
        self.compiler.say(f"composing {root} with {caps} to run it: {why}")
        try:
            composed = compose_bundle(
                self.folder, self.plan, ignore_imports=ignore, tool=tool, sources=self._verified.sources
            )
        except ComposeError as error:
            raise RunError(f"cannot compose {self.label} to run it: {error}") from None
        self.compiler.keep(cached, composed.data, "composed component")
        return composed.data

    def instantiate(
        self, args: Sequence[str] = (), options: RunOptions = NO_OPTIONS
    ) -> tuple[wasmtime.Store, Instance]:
        """A store holding the graph, instantiated with the plan's limits; (store, root instance)."""
        if not self.components and self.composed is None:
            self.load()
        engine = self.compiler.engine
        store = self._new_store()
        store.set_wasi(wasi_config([self.plan.root, *args], options))
        if self.composed is not None:  # one component: only WASI and the runtime host's interfaces are left to link
            linker = Linker(engine)
            linker.add_wasip2()
            self._host_imports(self.plan.root, self.composed, linker)
            try:
                return store, linker.instantiate(store, self.composed)
            except wasmtime.WasmtimeError as error:
                raise self._failed(f"the composed {printable(self.plan.root)}", error, instantiating=True) from None
        instances: dict[str, Instance] = {}
        self._handles = Handles(store, engine, self.components)
        for component_id in self._dependency_order():
            instances[component_id] = self._instantiate_one(store, component_id, instances)
        return store, instances[self.plan.root]

    @property
    def _wanted(self) -> dict[str, list[Binding]]:
        """Each consumer's bindings, grouped once (a scan per component would be quadratic)."""
        if getattr(self, "_grouped", None) is None:
            grouped: dict[str, list[Binding]] = {}
            for binding in self.plan.bindings:
                grouped.setdefault(binding.consumer_id, []).append(binding)
            self._grouped = grouped
        return self._grouped

    def run(self, args: Sequence[str] = (), options: RunOptions = NO_OPTIONS) -> tuple[int, Any]:
        """Call the root's ``wasi:cli/run@0.2.*`` ``run`` or its top-level ``run``; (exit status, value).

        A trap or an exceeded limit raises ``GuestStopped`` (one line, with its exit status); SIGINT and
        SIGTERM stop the guest (``use.sandbox.StopOnSignal``) and then act as they would have.
        """
        failure: wasmtime.WasmtimeError | None = None
        with StopOnSignal(lambda: self.compiler.engine.increment_epoch()) as stop:
            if not self.components and self.composed is None:
                self.load()
            if self.limits.io_ops is not None:
                self.compiler.say(
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
            found = self._trapped_in or self._trap_site(failure)
            component, export = found or (self.plan.root, self._entry)
            suffix = " (composed with its caps)" if self.composed is not None and found is None else ""
            raise self._failed(f"component {printable(component)!r}{suffix}", failure, where=export)
        if isinstance(value, Variant) and value.tag == "err":
            return EXIT_ERR, None
        return 0, (None if isinstance(value, Variant) else value)

    def _trap_site(self, error: wasmtime.WasmtimeError) -> tuple[str, str] | None:
        """(component, export) of the innermost backtrace frame that is a bound export, in a composed graph.

        Bindings generators name a lifted export's core function ``<interface>#<function>`` (wit-bindgen,
        componentize-py), and a wasm backtrace names frames ``<module>!<function>``: the innermost frame so
        named whose interface a binding names is the provider's export that trapped.
        """
        providers = {b.export_name: b.provider_id for b in self.plan.bindings}
        for line in str(error).splitlines():
            frame = re.fullmatch(r"\s*\d+:\s+0x[0-9a-f]+ - .*?!(.+)", line)
            interface, hash_sign, function = frame[1].rpartition("#") if frame else ("", "", "")
            if hash_sign and interface in providers:
                return providers[interface], f"{interface}#{function}"
        return None

    def _failed(
        self, who: str, error: wasmtime.WasmtimeError, instantiating: bool = False, where: str | None = None
    ) -> PylonError:
        """The one-line error for a failed call (a trap or a limit) or instantiation (a limit or a link error);
        ``where``: the export whose call trapped."""
        failure = stopped(who, error, self.limits, where)
        if instantiating and failure.exit_status == EXIT_TRAP:
            return RunError(f"cannot instantiate {who}: {wasmtime_reason(error)}")
        return failure

    def _dependency_order(self) -> list[str]:
        """Providers before their consumers, ties broken by id so runs are repeatable (Kahn's algorithm)."""
        instantiated = self._instantiated()
        waiting = dict.fromkeys(instantiated, 0)
        consumers: dict[str, list[str]] = {}
        for binding in self.plan.bindings:
            if binding.consumer_id in instantiated and binding.provider_id in instantiated:
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
            raise RunError(f"dependency cycle among {', '.join(sorted(set(waiting) - set(order)))}")
        return order

    def _instantiate_one(self, store: wasmtime.Store, component_id: str, done: dict[str, Instance]) -> Instance:
        engine = self.compiler.engine
        component = self.components[component_id]
        imports = component.type.imports(engine)
        linker = Linker(engine)
        if any(name.startswith(WASI_PREFIX) for name in imports):
            linker.add_wasip2()  # a third of the cost of linking a small component: only where it is imported
        if any(host_provides(name, self._serves) for name in imports):
            self._host_imports(component_id, component, linker)
        bound = [b for b in self._wanted.get(component_id, ()) if not is_endpoint(b.import_name)]
        handles = self._handles
        assert handles is not None
        resources = {  # first, so a function of one import can name a resource type another declares
            b.import_name: handles.imported(component_id, imports[b.import_name].ty, b.provider_id, b.export_name)
            for b in bound
        }
        with linker.root() as root:
            for binding in self._wanted.get(component_id, ()):
                if is_endpoint(binding.import_name):
                    self._forward_endpoint(root, binding)
            for binding in bound:
                wanted = imports[binding.import_name].ty
                provider, where = done[binding.provider_id], binding.provider_id
                functions = functions_of(wanted, engine)
                if isinstance(wanted, FuncType):
                    params, result = handles.converters(component_id, where, wanted)
                    forward = self._forward(store, provider, where, binding.export_name, None, params, result)
                    root.add_func(binding.import_name, forward)
                    continue
                if not isinstance(wanted, ComponentInstanceType):
                    raise RunError(
                        f"{printable(component_id)} imports {printable(binding.import_name)!r}, which is neither a "
                        "function nor an interface; the runtime cannot forward it"
                    )
                with root.add_instance(binding.import_name) as interface:
                    handles.define(interface, resources[binding.import_name])
                    for name, func in functions:
                        params, result = handles.converters(component_id, where, func)
                        forward = self._forward(store, provider, where, binding.export_name, name, params, result)
                        interface.add_func(name, forward)
        try:
            return linker.instantiate(store, component)
        except wasmtime.WasmtimeError as error:
            raise self._failed(f"component {printable(component_id)!r}", error, instantiating=True) from None

    def held(self) -> dict[str, list[int]]:
        """The handles importers still hold, by resource type (``Handles.held``), in the store instantiated last."""
        return self._handles.held() if self._handles is not None else {}

    def _forward_endpoint(self, root: Any, binding: Any) -> None:
        """Flavor A: the provider runs in a store of its own with an empty WASI context; calls are forwarded."""
        from .dynlink import HostError, Provider, forward_endpoint

        digest = self._digests[binding.provider_id]
        if binding.provider_id in self._wanted:
            raise RunError(
                f"endpoint provider {binding.provider_id!r} has imports bound to other components; composectl runs "
                "it with WASI alone, so compose them into it first"
            )
        try:
            component = self._load_provider(binding.provider_id, digest)
            provider = Provider(self.compiler.engine, component, repr(binding.provider_id), self._new_store)
        except HostError as error:
            raise RunError(f"{binding.described()}: {error}") from None
        forward_endpoint(root, binding.import_name, provider)

    def _forward(
        self,
        store: wasmtime.Store,
        provider: Instance,
        provider_id: str,
        export: str,
        name: str | None = None,
        params: Sequence[Convert | None] = (),
        result: Convert | None = None,
    ) -> Callable[..., Any]:
        """The host function calling ``provider``'s export ``export`` (``#name``), translating handles in the
        arguments and the result (``params``, ``result``: ``Handles.converters``; none for value types)."""
        index = provider.get_export_index(store, export)
        if name is not None and index is not None:
            index = provider.get_export_index(store, name, index)
        func = provider.get_func(store, index) if index is not None else None
        if func is None:
            raise RunError(f"provider does not export {export}{'#' + name if name else ''}")

        def forward(_caller: Any, *args: Any) -> Any:
            try:
                value = func(store, *args)
                func.post_return(store)
            except wasmtime.WasmtimeError:
                if self._trapped_in is None:  # the innermost forward sees the trap first
                    self._trapped_in = (provider_id, f"{export}#{name}" if name is not None else export)
                raise
            return value

        if not any(params) and result is None:
            return forward
        converters = list(params)
        translate = result

        def forward_handles(caller: Any, *args: Any) -> Any:
            value = forward(caller, *(arg if f is None else f(arg) for f, arg in zip(converters, args)))
            return value if translate is None else translate(value)

        return forward_handles

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
                self._entry = f"{name}#run"
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
