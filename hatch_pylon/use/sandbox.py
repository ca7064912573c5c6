"""What ``run`` enforces around a guest: the plan's limits, SIGINT/SIGTERM, WASI options, exit statuses.

The plan's ``policy`` is honoured as composectl's wasmtime host honours it
(``hosts/wasmtime/src/compose_host.rs`` and ``dynlink.rs``):

- ``cpu_ms``: a fuel budget of ``cpu_ms * 1,000,000`` units for the whole run
  (composectl's ``FUEL_PER_MS``; one unit is about one wasm instruction), all
  components sharing one store. Running out traps: exit status ``EXIT_CPU``.
- ``memory_bytes``: the store's limit on each linear memory. A component that
  needs more at instantiation is refused (``EXIT_MEMORY``); a ``memory.grow``
  past it fails inside the guest (it returns -1, CPython raises MemoryError),
  exactly as in composectl, and what the guest does then decides the status.
- ``io_ops``: enforced by neither composectl's host nor this one (wasmtime has
  no I/O counter); ``run`` says so when a plan sets it.
- ``determinism = "strict"``: composectl refuses runtime linking under it
  (plan validation and ``dynlink``'s resolve), and so does ``run``: the graph
  runs statically composed or not at all. Clocks and random numbers are not
  withheld (composectl does not withhold them either).

Signals: every engine interrupts on epochs, and each store's deadline is one
tick away. While ``run`` works, SIGINT and SIGTERM are caught by
``StopOnSignal``: a helper thread woken through the signal wakeup socket
moves the epoch, so the guest traps at its next loop head or call; then the
signal's own handler runs (Ctrl-C unwinds as KeyboardInterrupt, SIGTERM as
exit 143 in the CLI), removing temporary folders on the way out. A guest
blocked inside a host call (reading stdin) never reaches such a check: after
``GRACE`` seconds the helper removes this process's temporary folders and
exits with ``128 + signal``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from .._errors import GuestStopped, PylonError, printable
from .._records import NamedTuple

if TYPE_CHECKING:
    import threading
    from types import FrameType

    import wasmtime

FUEL_PER_MS = 1_000_000  # composectl's compose_host.rs: cpu_ms becomes this much fuel per millisecond
_COUNTS = 1 << 30  # instances, tables and memories a store may hold
GRACE = 1.0  # seconds a signalled guest may take to reach an epoch check before the process exits

EXIT_ERR = 1  # the guest's wasi:cli/exit with an error, a run export's `err`, or hatch-pylon's own error
EXIT_TRAP = 134  # a trap, as `wasmtime run` exits on Unix (128 + SIGABRT)
EXIT_CPU = 152  # cpu_ms used up (128 + SIGXCPU, the signal for an exceeded CPU limit)
EXIT_MEMORY = 153  # a component needs more linear memory than memory_bytes allows at instantiation


class RunOptions(NamedTuple):
    """What the guest sees of this machine beyond stdio and its arguments: nothing unless asked."""

    dirs: tuple[tuple[str, str], ...] = ()  # (host folder, guest path), preopened read-write
    env: tuple[tuple[str, str], ...] = ()  # variables set in the guest
    verbose: bool = False  # with a trap, also print wasmtime's report (the wasm backtrace)


NO_OPTIONS = RunOptions()


def parse_dir(spec: str) -> tuple[str, str]:
    """``HOST[::GUEST]`` as ``wasmtime run --dir`` takes it; GUEST defaults to HOST as written."""
    host, sep, guest = spec.partition("::")
    if not host or (sep and not guest):
        raise PylonError(f"--dir {spec!r}: expected HOST or HOST::GUEST")
    if not os.path.isdir(host):
        raise PylonError(f"--dir {spec!r}: {host} is not a folder")
    return host, guest if sep else host


def parse_env(spec: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``NAME=VALUE``, or ``NAME`` for this process's value, as ``wasmtime run --env`` takes it."""
    name, sep, value = spec.partition("=")
    if not name:
        raise PylonError(f"--env {spec!r}: expected NAME or NAME=VALUE")
    if not sep:
        here = os.environ if environ is None else environ
        if name not in here:
            raise PylonError(f"--env {name}: {name} is not set here; write --env {name}=VALUE")
        value = here[name]
    return name, value


class Limits(NamedTuple):
    """The plan's limits as the store applies them."""

    fuel: int | None = None
    memory_bytes: int | None = None
    io_ops: int | None = None
    cpu_ms: int | None = None

    @classmethod
    def of(cls, limits: Sequence[tuple[str, int]]) -> Limits:
        values = dict(limits)
        cpu_ms = values.get("cpu_ms")
        return cls(
            fuel=None if cpu_ms is None else min(cpu_ms * FUEL_PER_MS, (1 << 64) - 1),
            memory_bytes=values.get("memory_bytes"),
            io_ops=values.get("io_ops"),
            cpu_ms=cpu_ms,
        )

    def apply(self, store: wasmtime.Store) -> None:
        """The store's limits: ``memory_bytes`` per linear memory; instances, tables and memories raised from
        wasmtime's default of 10,000 each, which a graph of 10,000 components passes (a component cannot make
        instances at run time: their number is fixed by the verified binaries)."""
        memory = -1 if self.memory_bytes is None else min(self.memory_bytes, (1 << 63) - 1)
        store.set_limits(memory_size=memory, instances=_COUNTS, tables=_COUNTS, memories=_COUNTS)


def wasi_config(argv: Sequence[str], options: RunOptions) -> wasmtime.WasiConfig:
    """stdio passed through, ``argv``, and exactly the folders and variables ``options`` names."""
    import wasmtime

    wasi = wasmtime.WasiConfig()
    wasi.argv = list(argv)
    wasi.env = [list(pair) for pair in options.env]
    for host, guest in options.dirs:
        wasi.preopen_dir(host, guest)
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    return wasi


def trap_reason(error: Exception) -> str:
    """wasmtime's root cause on one line: ``wasm `unreachable` instruction executed``, ``interrupt``…"""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if "Caused by:" in lines:
        lines = lines[lines.index("Caused by:") + 1 :]
    reason = lines[-1] if lines else "no reason given"
    return reason.removeprefix("wasm trap: ")


def stopped(who: str, error: Exception, limits: Limits, where: str | None = None) -> GuestStopped:
    """The one-line error (and exit status) for a guest that failed with ``error``; ``who`` names the component,
    ``where`` the export whose call trapped."""
    reason = trap_reason(error)
    detail = str(error).strip()
    if reason == "all fuel consumed by WebAssembly" and limits.cpu_ms is not None:
        return GuestStopped(
            f"{who} used up the plan's cpu_ms = {limits.cpu_ms} ({limits.fuel} fuel units) and was stopped",
            EXIT_CPU,
            detail,
        )
    if "exceeds memory limits" in reason and limits.memory_bytes is not None:
        return GuestStopped(
            f"{who} needs more linear memory than the plan's memory_bytes = {limits.memory_bytes} allows ({reason})",
            EXIT_MEMORY,
            detail,
        )
    hint = (
        f" (the plan's memory_bytes = {limits.memory_bytes} caps each linear memory; growing past it fails inside)"
        if limits.memory_bytes is not None
        else ""
    )
    more = "" if detail == reason else "; hatch-pylon run -v shows the wasm backtrace"
    at = f" in export {printable(where)!r}" if where else ""
    return GuestStopped(f"{who} trapped{at}: {reason}{hint}{more}", EXIT_TRAP, detail)


class StopOnSignal:
    """While active (main thread only), SIGINT and SIGTERM stop the guest through ``interrupt`` (an epoch tick).

    ``guest`` is True while wasm may be running (instantiation and the call): then the signal is only
    recorded and the guest traps at its next epoch check; ``__exit__`` hands the signal to the handler
    that was installed before (or to the default action). Outside the guest the old handler runs at once.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self.interrupt = interrupt
        self.guest = False
        self.signum: int | None = None  # recorded by the Python-level handler while the guest ran
        self._previous: dict[int, object] = {}
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StopOnSignal:
        import signal
        import socket
        import threading

        numbers = [int(getattr(signal, name)) for name in self.SIGNALS if hasattr(signal, name)]
        if threading.current_thread() is not threading.main_thread() or not numbers:
            return self
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        try:
            self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):
            self._close_sockets()
            return self
        self._done = threading.Event()
        # A signal this process ignores (SIGINT in a background job, nohup) stays ignored.
        numbers = [number for number in numbers if signal.getsignal(number) != signal.SIG_IGN]
        self._previous = {number: signal.signal(number, self._handle) for number in numbers}
        self._thread = threading.Thread(target=self._watch, name="hatch-pylon-signals", daemon=True)
        self._thread.start()
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.guest:
            self.signum = self.signum or signum
        else:
            _deliver(signum, self._previous.get(signum))

    def _watch(self) -> None:
        while True:
            try:
                data = self._reader.recv(64)
            except OSError:
                return
            if not data:
                return
            wanted = [number for number in data if number in self._previous]
            if not wanted:
                continue
            self.interrupt()  # the guest traps at its next loop head or call
            if not self._done.wait(GRACE):
                _exit_now(128 + wanted[0])  # blocked in a host call: nothing else will stop it

    def __exit__(self, *exc_info: object) -> None:
        if self._thread is None:
            return
        import signal

        self.guest = True  # restoring runs pending handlers: ours only records, and acts once all is restored
        self._done.set()
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_fd)
        self._close_sockets()
        self._thread.join(timeout=GRACE)
        if self.signum is not None:
            _deliver(self.signum, self._previous.get(self.signum))

    def _close_sockets(self) -> None:
        for sock in (self._writer, self._reader):
            with contextlib.suppress(OSError):
                sock.close()


def _deliver(signum: int, handler: object) -> None:
    """Act on ``signum`` as the handler installed before us would."""
    import signal

    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


def _exit_now(status: int) -> None:
    """Leave at once from a helper thread: this process's temporary folders first, then ``os._exit``."""
    from .._fs import release_all_private_folders

    release_all_private_folders()
    os._exit(status)
