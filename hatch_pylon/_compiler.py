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
are not writable by group or others (``_fs.private_problem``); anything else
is ignored with a note and new folders are created private (0700).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import PylonError
from ._fs import atomic_write, make_private_dirs, private_problem

if TYPE_CHECKING:
    import wasmtime
    from wasmtime.component import Component

INSTALL_HINT = "pip install 'hatch-pylon[run]'"
_SLOW_COMPILE = 1 << 20  # bytes; a compile of a component this big takes long enough to deserve a line


class CompileError(PylonError):
    """wasmtime rejected a component's bytes."""


class WasmtimeMissing(PylonError):
    """wasmtime is not installed."""


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


def cache_problem(root: Path, entry: Path, *, folder: bool = False) -> str | None:
    """Why a cache entry (or, with ``folder``, a cache folder) must not be used; "" when it does not exist.

    The entry and every folder from ``root`` down to it must be real (no symlink), owned by the current
    user and not writable by group or others: a compiled artifact is machine code that wasmtime runs
    without further checks, and a composition is run as is.
    """
    folders: list[Path] = []
    if root == entry or root in entry.parents:
        current = entry
        while current != root:
            current = current.parent
            folders.append(current)
    else:  # outside the root: judge its own folder
        folders.append(entry.parent)
    for path in [*reversed(folders), entry]:
        try:
            info = os.stat(path) if path == root else os.lstat(path)  # the root itself may be a link
        except FileNotFoundError:
            return ""
        except OSError as exc:
            return f"{path} ({exc.strerror or exc})"
        problem = private_problem(info, folder=folder or path != entry)
        if problem is not None:
            return f"{path}: {problem}"
    return None


def require_wasmtime(purpose: str) -> None:
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        raise WasmtimeMissing(f"{purpose} needs wasmtime, which is not installed: {INSTALL_HINT}") from None


def optional_compiler(say: Callable[[str], None] | None = None) -> Compiler | None:
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
        say: Callable[[str], None] | None = None,
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
        self.cache_dir = self.cache_root / f"wasmtime-{_wasmtime_version()}-epoch{'-fuel' if fuel else ''}"
        self.compiled = 0
        self.say = say
        self._noted: set[str] = set()
        self._folder_sound = False  # the cache folder and root passed cache_problem

    def with_fuel(self) -> Compiler:
        """This compiler's cache and output, with an engine that meters fuel."""
        return self if self.fuel else Compiler(self.cache_root, self.say, fuel=True)

    def store(self, fuel: int | None = None) -> wasmtime.Store:
        """A store of this engine that runs until the epoch moves (and, if metering, for ``fuel`` units)."""
        import wasmtime

        store = wasmtime.Store(self.engine)
        store.set_epoch_deadline(1)  # the epoch moves only when run is told to stop
        if self.fuel:
            store.set_fuel((1 << 64) - 1 if fuel is None else fuel)
        return store

    def component(self, data: bytes | Callable[[], bytes], digest: str, label: str = "") -> Component:
        """A compiled component for ``data``, whose SHA-256 the caller has checked is ``digest``.

        ``data`` may be a callable returning the bytes: it is called only when the cache cannot answer.
        """
        import wasmtime
        from wasmtime.component import Component

        cached = self.cache_dir / f"{digest}.cwasm"
        if self._trusted(cached):
            try:
                return Component.deserialize_file(self.engine, str(cached))
            except wasmtime.WasmtimeError:
                with contextlib.suppress(OSError):
                    cached.unlink()  # stale or damaged: compile again
        if callable(data):
            data = data()
        if self.say is not None and len(data) >= _SLOW_COMPILE:
            self.say(f"compiling {label or digest[:12]} ({len(data) / (1 << 20):.1f} MiB); cached for next time")
        started = time.monotonic()
        try:
            component = Component(self.engine, data)
        except wasmtime.WasmtimeError as error:
            raise CompileError(f"wasmtime cannot compile it: {_reason(error)}") from None
        self.compiled += 1
        self._store(cached, component)
        if self.say is not None and len(data) >= _SLOW_COMPILE:
            self.say(f"compiled {label or digest[:12]} in {time.monotonic() - started:.1f} s")
        return component

    def _trusted(self, entry: Path) -> bool:
        """Whether ``entry`` exists and may be loaded (``cache_problem``); the folders are judged once per compiler."""
        if not self._folder_sound:
            problem = cache_problem(self.cache_root, self.cache_dir, folder=True)
            self._folder_sound = problem is None
        if self._folder_sound:
            try:
                info = os.lstat(entry)
            except FileNotFoundError:
                return False
            except OSError as exc:
                problem = f"{entry} ({exc.strerror or exc})"
            else:
                reason = private_problem(info, folder=False)
                if reason is None:
                    return True
                problem = f"{entry}: {reason}"
        if problem and problem not in self._noted:
            self._noted.add(problem)
            note = self.say or (lambda line: print(f"hatch-pylon: {line}", file=sys.stderr))
            note(f"ignoring the cache at {problem}")
        return False

    def _store(self, cached: Path, component: Component) -> None:
        try:
            make_private_dirs(cached.parent)
            if cache_problem(self.cache_root, cached.parent, folder=True):
                return  # a folder others can write: its entries would be ignored anyway
            atomic_write(cached, component.serialize())
        except OSError as exc:  # a read-only or full cache only costs speed
            print(
                f"hatch-pylon: not caching the compiled component in {cached.parent} ({exc.strerror or exc})",
                file=sys.stderr,
            )
