"""hatch-pylon: bundle a WebAssembly component graph and its composectl plan into Python packages.

The public API is small and imported on first use, so ``hatch-pylon --help``
and the build hook stay light:

- ``load_config`` / ``build_bundle``: the build pipeline (what the hook runs);
- ``open_target`` / ``verify_bundle``: the verification gate every consumer uses;
- ``Runtime``: run a verified bundle with wasmtime (``hatch-pylon[run]``);
- ``PylonError``: every user-facing failure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing would cost every start-up, the CLI's included
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.2.0"

__all__ = ["PylonError", "Runtime", "__version__", "build_bundle", "load_config", "open_target", "verify_bundle"]

_HOMES = {
    "PylonError": "._errors",
    "Runtime": ".use.runtime",
    "build_bundle": ".build.pipeline",
    "load_config": ".build.config",
    "open_target": ".bundle.sources",
    "verify_bundle": ".bundle.verify",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hatch_pylon' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value
