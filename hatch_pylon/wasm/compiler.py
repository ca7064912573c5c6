"""Compile components with wasmtime, once: a disk cache keyed by blob digest, wasmtime version and engine settings.

Compiling an 18 MB componentize-py root costs seconds; deserializing the
cached artifact costs ~0.1 s. Callers hand over bytes they have already
hashed, so what gets compiled is exactly what was verified. wasmtime is an
optional dependency (``hatch-pylon[run]``): ``optional_compiler`` says
whether it is there.

Every engine interrupts on epochs (so ``run`` can stop a guest on SIGINT or
SIGTERM); one made for a plan with ``cpu_ms`` also meters fuel. Both change
the machine code, so each setting has its own cache folder
(``wasmtime-<version>-epoch``, ``…-epoch-fuel``). A cached entry is loaded
only if it, its folder and the cache root belong to the current user and
are not writable by group or others (``wasm.cache.cache_problem``); anything
else is ignored with a note.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import CompileError, Say, WasmtimeMissing, say_nothing
from .cache import COMPILED_PREFIX, Pins, Vetting, cache_limit, default_cache_dir, keep, touch, trim

if TYPE_CHECKING:
    import wasmtime
    from wasmtime.component import Component

INSTALL_HINT = "pip install 'hatch-pylon[run]'"
_SLOW_COMPILE = 1 << 20  # bytes; a compile of a component this big takes long enough to deserve a line
_MAPPED = 4 << 20  # bytes; a cached artifact this big is mapped from its file rather than read


def wasmtime_reason(error: Exception) -> str:
    """wasmtime's message on one line: the headline, then its root cause ("failed to parse ... (cause)")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and line.strip() != "Caused by:"]
    if not lines:
        return "no reason given"
    return lines[0] if len(lines) == 1 else f"{lines[0]} ({lines[-1]})"


def require_wasmtime(purpose: str) -> None:
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        raise WasmtimeMissing(f"{purpose} needs wasmtime, which is not installed: {INSTALL_HINT}") from None


def optional_compiler(say: Say = say_nothing) -> Compiler | None:
    """A compiler, or None when wasmtime is not installed."""
    try:
        return Compiler(say=say)
    except WasmtimeMissing:
        return None


def _wasmtime_version() -> str:
    from importlib.metadata import version

    return version("wasmtime")


class Compiler:
    """One engine and its compile cache; ``compiled`` counts real compilations.

    ``say`` receives a progress line before a compile that will take a
    while (``compiling python (17.5 MiB); cached for next time``).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        say: Say = say_nothing,
        *,
        fuel: bool = False,
    ) -> None:
        require_wasmtime("compiling a component")
        import wasmtime

        config = wasmtime.Config()
        config.epoch_interruption = True  # a store traps once the engine's epoch passes its deadline
        config.consume_fuel = fuel
        self.engine = wasmtime.Engine(config)
        self.fuel = fuel
        self.cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.limit, _ = cache_limit()  # a bad $HATCH_PYLON_CACHE_MAX is said before anything is compiled
        self.pins = Pins(self.cache_root)
        self.cache_dir = self.cache_root / f"{COMPILED_PREFIX}{_wasmtime_version()}-epoch{'-fuel' if fuel else ''}"
        self.compiled = 0
        self.say = say
        self.vetting = Vetting(self.cache_root, say)

    def _deserialize(self, cached: Path) -> Component:
        """A cached artifact loaded: a large one mapped from its file (wasmtime keeps that file open while the
        component lives), a small one read into memory, so a graph of thousands of components holds no file open."""
        from wasmtime.component import Component

        if os.lstat(cached).st_size >= _MAPPED:
            return Component.deserialize_file(self.engine, str(cached))
        with open(cached, "rb") as file:
            return Component.deserialize(self.engine, file.read())

    def with_fuel(self) -> Compiler:
        """This compiler's cache and output, with an engine that meters fuel."""
        if self.fuel:
            return self
        fueled = Compiler(self.cache_root, self.say, fuel=True)
        fueled.pins = self.pins  # one pin file per process
        return fueled

    def store(self, fuel: int | None = None) -> wasmtime.Store:
        """A store of this engine that runs until the epoch moves (and, if metering, for ``fuel`` units)."""
        import wasmtime

        store = wasmtime.Store(self.engine)
        store.set_epoch_deadline(1)  # the epoch moves only when run is told to stop
        if self.fuel:
            store.set_fuel((1 << 64) - 1 if fuel is None else fuel)
        return store

    def keep(self, entry: Path, data: bytes | bytearray, what: str) -> None:
        """Write a cache entry (held by this process), then evict what the cache's limit leaves no room for."""
        self.pins.hold(entry)
        if keep(self.cache_root, entry, data, what, self.say):
            trim(self.cache_root, self.limit, self.pins, self.say)

    def cached(self, entry: Path) -> bytes | None:
        """A cache entry's bytes (held by this process, marked used), or None when it is absent or not usable."""
        self.pins.hold(entry)
        if not self.vetting.usable(entry):
            return None
        try:
            data = entry.read_bytes()
        except OSError:
            return None
        touch(entry)
        return data

    def component(self, data: bytes | Callable[[], bytes], digest: str, label: str = "") -> Component:
        """A compiled component for ``data``, whose SHA-256 the caller has checked is ``digest``.

        ``data`` may be a callable returning the bytes: it is called only when the cache cannot answer.
        """
        import wasmtime
        from wasmtime.component import Component

        cached = self.cache_dir / f"{digest}.cwasm"
        self.pins.hold(cached)  # before it is read: an eviction running meanwhile leaves it
        if self.vetting.usable(cached):
            try:
                component = self._deserialize(cached)
            except wasmtime.WasmtimeError:
                with contextlib.suppress(OSError):
                    cached.unlink()  # stale or damaged: compile again
            except OSError:
                pass  # removed since it was looked at: compile again
            else:
                touch(cached)
                return component
        if callable(data):
            data = data()
        if len(data) >= _SLOW_COMPILE:
            self.say(f"compiling {label or digest[:12]} ({len(data) / (1 << 20):.1f} MiB); cached for next time")
        started = time.monotonic()
        try:
            component = Component(self.engine, data)
        except wasmtime.WasmtimeError as error:
            raise CompileError(f"wasmtime cannot compile it: {wasmtime_reason(error)}") from None
        self.compiled += 1
        self.keep(cached, component.serialize(), "compiled component")
        if len(data) >= _SLOW_COMPILE:
            self.say(f"compiled {label or digest[:12]} in {time.monotonic() - started:.1f} s")
        return component
