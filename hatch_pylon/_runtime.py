"""Run a bundled plan with wasmtime: verify, compile, link caps to consumers, call the root.

Trust: only blobs named by the plan are loaded, and every one is re-hashed
(all of them, before anything is compiled); a mismatch is refused. wasmtime
cannot link one component instance to another directly, so each bound
import is defined on the consumer's linker as Python functions forwarding
to the provider instance's export. Value types only: interfaces with
resources are refused by name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime.component import Component, ComponentInstanceType, FuncType, Instance, Linker, Variant

from ._compiler import CompileError, Compiler
from ._errors import PylonError
from ._fs import open_inside, os_reason
from ._layout import STORE_DIR, blob_relpath
from ._plan import Plan
from ._reflect import uses_resources
from ._verify import verify_bundle


class RunError(PylonError):
    """The plan could not be loaded, linked or run."""


class Runtime:
    """A verified plan, ready to instantiate in one wasmtime store."""

    def __init__(self, folder: str | os.PathLike[str], compiler: Compiler | None = None, label: str = "") -> None:
        self.folder = Path(folder)
        self.label = label or os.fspath(folder)
        self.compiler = compiler or Compiler()
        self.components: dict[str, Component] = {}
        self._plan: Plan | None = None

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            self.load()
        assert self._plan is not None
        return self._plan

    def load(self) -> None:
        """Pass the bundle through the verification gate, then compile (or fetch from cache) each blob.

        Nothing is compiled unless every check passes; the bytes compiled are re-hashed right here.
        """
        verified = verify_bundle(self.folder, compiler=self.compiler).or_raise(self.label)
        assert verified.plan is not None
        self._plan = verified.plan
        for component in self._plan.components:
            relative = f"{STORE_DIR}/{blob_relpath(component.digest)}"
            try:
                with open_inside(self.folder, relative) as file:
                    data = file.read()
            except OSError as exc:
                raise RunError(f"component {component.id!r}: cannot read blob {relative} ({os_reason(exc)})") from None
            actual = hashlib.sha256(data).hexdigest()
            if actual != component.digest:  # changed since the gate: the bytes compiled must be the bytes checked
                raise RunError(f"component {component.id!r}: blob {relative} changed after it was verified "
                               f"(sha256 {actual}, plan says {component.digest}); refusing to run it")
            try:
                self.components[component.id] = self.compiler.component(data, component.digest, component.id)
            except CompileError as error:
                raise RunError(f"component {component.id!r}: {error}") from None

    def instantiate(self, args: Sequence[str] = ()) -> tuple[wasmtime.Store, Instance]:
        if not self.components:
            self.load()
        engine = self.compiler.engine
        store = wasmtime.Store(engine)
        wasi = wasmtime.WasiConfig()
        wasi.argv = [self.plan.root, *args]
        wasi.inherit_stdin()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        store.set_wasi(wasi)
        instances: dict[str, Instance] = {}
        for component_id in self._dependency_order():
            instances[component_id] = self._instantiate_one(store, component_id, instances)
        return store, instances[self.plan.root]

    def run(self, args: Sequence[str] = ()) -> tuple[int, Any]:
        """Call the root's ``wasi:cli/run@0.2.*`` ``run`` or its top-level ``run``; (exit status, value)."""
        store, root = self.instantiate(args)
        func = self._entry_point(store, root)
        try:
            value = func(store)
            func.post_return(store)
        except wasmtime.ExitTrap as trap:
            return trap.code, None
        except wasmtime.WasmtimeError as error:
            raise RunError(f"{self.plan.root} trapped: {error}") from None
        if isinstance(value, Variant) and value.tag == "err":
            return 1, None
        return 0, (None if isinstance(value, Variant) else value)

    def _dependency_order(self) -> list[str]:
        """Providers before their consumers; ties broken by id so runs are repeatable."""
        needs: dict[str, set[str]] = {c.id: set() for c in self.plan.components}
        for binding in self.plan.bindings:
            needs[binding.consumer_id].add(binding.provider_id)
        order: list[str] = []
        while needs:
            ready = sorted(i for i, deps in needs.items() if deps <= set(order))
            if not ready:
                raise RunError(f"dependency cycle among {', '.join(sorted(needs))}")
            order += ready
            for component_id in ready:
                del needs[component_id]
        return order

    def _instantiate_one(self, store: wasmtime.Store, component_id: str, done: dict[str, Instance]) -> Instance:
        engine = self.compiler.engine
        component = self.components[component_id]
        imports = component.type.imports(engine)
        linker = Linker(engine)
        linker.add_wasip2()
        with linker.root() as root:
            for binding in (b for b in self.plan.bindings if b.consumer_id == component_id):
                wanted = imports[binding.import_name].ty
                provider = done[binding.provider_id]
                if isinstance(wanted, FuncType):
                    root.add_func(binding.import_name, self._forward(store, provider, binding.export_name))
                    continue
                if not isinstance(wanted, ComponentInstanceType):
                    raise RunError(f"{component_id} imports {binding.import_name!r}, which is neither a "
                                        "function nor an interface; the runtime cannot forward it")
                items = {name: extern.ty for name, extern in wanted.exports(engine).items()}
                heavy = sorted(name for name, item in items.items() if uses_resources(item))
                if heavy:
                    raise RunError(
                        f"{component_id} imports {binding.import_name!r}, which uses resources ({', '.join(heavy)}); "
                        "hatch-pylon's runtime links value types only"
                    )
                with root.add_instance(binding.import_name) as interface:
                    for name, item in sorted(items.items()):
                        if isinstance(item, FuncType):
                            interface.add_func(name, self._forward(store, provider, binding.export_name, name))
        try:
            return linker.instantiate(store, component)
        except wasmtime.WasmtimeError as error:
            raise RunError(f"cannot instantiate {component_id}: {error}") from None

    @staticmethod
    def _forward(store: wasmtime.Store, provider: Instance, export: str, name: str | None = None):
        index = provider.get_export_index(store, export)
        if name is not None and index is not None:
            index = provider.get_export_index(store, name, index)
        func = provider.get_func(store, index) if index is not None else None
        if func is None:
            raise RunError(f"provider does not export {export}{'#' + name if name else ''}")

        def forward(_caller: Any, *args: Any) -> Any:
            result = func(store, *args)
            func.post_return(store)
            return result

        return forward

    def _entry_point(self, store: wasmtime.Store, root: Instance):
        engine = self.compiler.engine
        exports = self.components[self.plan.root].type.exports(engine)
        for name in sorted(exports):
            if name.startswith("wasi:cli/run@0.2."):
                index = root.get_export_index(store, "run", root.get_export_index(store, name))
                return root.get_func(store, index)
        if "run" in exports and isinstance(exports["run"].ty, FuncType):
            return root.get_func(store, "run")
        raise RunError(f"root {self.plan.root!r} exports neither wasi:cli/run@0.2.* nor a top-level run function")
