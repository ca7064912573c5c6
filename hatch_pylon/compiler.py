"""Compile components with wasmtime, once: a disk cache keyed by blob digest and wasmtime version.

Compiling an 18 MB componentize-py root costs seconds; deserializing the
cached artifact costs ~0.1 s. Callers hand over bytes they have already
hashed, so what gets compiled is exactly what was verified.
"""

from __future__ import annotations

import os
import secrets
from importlib.metadata import version
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from .errors import PylonError


class CompileError(PylonError):
    """wasmtime rejected a component's bytes."""


def _reason(error: Exception) -> str:
    """wasmtime's message on one line: the headline, then its root cause ("failed to parse ... (cause)")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and line.strip() != "Caused by:"]
    if not lines:
        return "no reason given"
    return lines[0] if len(lines) == 1 else f"{lines[0]} ({lines[-1]})"


def default_cache_dir() -> Path:
    if "HATCH_PYLON_CACHE_DIR" in os.environ:
        return Path(os.environ["HATCH_PYLON_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hatch-pylon"


class Compiler:
    """One engine and its compile cache; ``compiled`` counts real compilations."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None, engine: wasmtime.Engine | None = None):
        self.engine = engine or wasmtime.Engine()
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.cache_dir = root / f"wasmtime-{version('wasmtime')}"
        self.compiled = 0

    def component(self, data: bytes, digest: str) -> Component:
        """A compiled component for ``data``, whose SHA-256 the caller has checked is ``digest``."""
        cached = self.cache_dir / f"{digest}.cwasm"
        if cached.is_file():
            try:
                return Component.deserialize_file(self.engine, str(cached))
            except wasmtime.WasmtimeError:
                cached.unlink(missing_ok=True)  # stale or damaged: compile again
        try:
            component = Component(self.engine, data)
        except wasmtime.WasmtimeError as error:
            raise CompileError(f"wasmtime cannot compile it: {_reason(error)}") from None
        self.compiled += 1
        self._store(cached, component)
        return component

    def _store(self, cached: Path, component: Component) -> None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temp = cached.with_name(f".tmp-{secrets.token_hex(6)}")
            temp.write_bytes(component.serialize())
            os.replace(temp, cached)
        except OSError:
            pass  # a read-only cache only costs speed
