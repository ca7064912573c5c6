"""``hatch-pylon``: inspect a component or preview a project's plan without building."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .bundle import Bundle, plan_project
from .errors import PylonError
from .project import load_project
from .signatures import InstanceSignatures, Signature, Undecidable, import_signatures
from .target import open_target
from .wasm import inspect


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hatch-pylon", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    inspect_cmd = commands.add_parser("inspect", help="list a component's top-level imports and exports")
    inspect_cmd.add_argument("file", help="a .wasm file")
    inspect_cmd.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect_cmd.add_argument("--types", action="store_true",
                             help="also show the functions each import needs, with their types (no compile)")

    plan_cmd = commands.add_parser("plan", help="resolve a project as the build would and print its plan")
    plan_cmd.add_argument("project", nargs="?", default=".", help="folder holding pyproject.toml (default: .)")
    plan_cmd.add_argument("--json", action="store_true", help="print exactly the plan.json bytes")

    verify_cmd = commands.add_parser("verify", help="check a wheel, sdist, installed distribution or bundle folder")
    verify_cmd.add_argument("target")
    verify_cmd.add_argument("--names-only", action="store_true", help="skip the type check of bindings")
    verify_cmd.add_argument("--compile-all", action="store_true",
                            help="compile every component with wasmtime, the root included (slow once, then cached)")
    verify_cmd.add_argument("--ignore-imports", default="wasi:", help="comma-separated prefixes left to the host")

    run_cmd = commands.add_parser("run", help="run a bundled plan with wasmtime")
    run_cmd.add_argument("target")
    run_cmd.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the root")

    trust_cmd = commands.add_parser("trust", help="add a bundle's blobs and trust entries to a composectl store")
    trust_cmd.add_argument("target")
    trust_cmd.add_argument("--store", required=True, help="composectl store folder (gets blobs/ and trust/)")

    args = parser.parse_args(argv)
    try:
        if args.command == "inspect":
            return _inspect(args.file, as_json=args.json, types=args.types)
        if args.command == "plan":
            return _plan(args.project, as_json=args.json)
        if args.command == "verify":
            ignore = tuple(p for p in args.ignore_imports.split(",") if p)
            return _verify(args.target, types=not args.names_only, ignore=ignore, compile_all=args.compile_all)
        if args.command == "run":
            return _run(args.target, args.args)
        return _trust(args.target, args.store)
    except PylonError as error:
        print(f"hatch-pylon: error: {error}", file=sys.stderr)
        return 1


def _inspect(path: str, *, as_json: bool, types: bool = False) -> int:
    info = inspect(path)
    functions = _import_functions(path) if types and info.kind == "component" else {}
    if as_json:
        document = {
            "kind": info.kind,
            "imports": [{"name": e.name, "kind": e.kind, **_json_functions(functions.get(e.name))}
                        for e in info.imports],
            "exports": [{"name": e.name, "kind": e.kind} for e in info.exports],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(f"{path}: {info.kind}")
    for title, externs in (("imports", info.imports), ("exports", info.exports)):
        print(f"{title} ({len(externs)}):")
        for extern in externs:
            print(f"  {extern.kind:<9} {extern.name}")
            if title == "imports":
                for name, signature in sorted(functions.get(extern.name, {}).items()):
                    print(f"              {name}: {signature}" if name else f"              {signature}")
    return 0


def _import_functions(path: str) -> dict[str, dict[str, Signature]]:
    """Import name -> function name ("" for a bare function import) -> signature, decoded from the binary."""
    try:
        with open(path, "rb") as file:
            decoded = import_signatures(file.read(), path)
    except Undecidable as reason:
        print(f"hatch-pylon: import types not shown: {reason} (wasmtime would have to compile it)", file=sys.stderr)
        return {}
    result = {}
    for name, item in decoded.items():
        if isinstance(item, InstanceSignatures):
            result[name] = dict(item.functions)
        elif isinstance(item, Signature):
            result[name] = {"": item}
    return result


def _json_functions(functions: dict[str, Signature] | None) -> dict[str, object]:
    if functions is None:
        return {}
    return {"functions": {name: str(signature) for name, signature in sorted(functions.items())}}


def _plan(project: str, *, as_json: bool) -> int:
    config = load_project(project)
    resolution, plan = plan_project(config, warn=lambda message: print(f"hatch-pylon: {message}", file=sys.stderr))
    if as_json:
        sys.stdout.buffer.write(plan.to_json())
        return 0
    sizes = {c.file.digest: c.file.size for c in resolution.components}
    bundle = Bundle(plan, plan.to_json(), {}, sizes, resolution)
    print(f"root: {plan.root}   determinism: {plan.policy.determinism}   destination: {config.destination}/")
    for line in bundle.summary():
        print(line)
    return 0


def _verify(target: str, *, types: bool, ignore: tuple[str, ...], compile_all: bool = False) -> int:
    from .verify import verify_folder

    with open_target(target) as bundle:
        report = verify_folder(bundle.folder, types=types, ignore_imports=ignore, compile_all=compile_all)
    if report.problems:
        print(f"{target}: {len(report.problems)} problem(s):", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    checked = "names and types checked" if report.typed else "names checked"
    checked += "; every component compiled" if report.compiled_all else ""
    print(f"{target}: OK ({report.checked_components} components, {report.checked_bindings} bindings; "
          f"blobs re-hashed, {checked})")
    return 0


def _run(target: str, args: list[str]) -> int:
    from .runtime import Runtime

    with open_target(target) as bundle:
        status, value = Runtime(bundle.folder).run(args)
    if value is not None:
        print(value)
    return status


def _trust(target: str, store: str) -> int:
    from .trust import trust_bundle

    with open_target(target) as bundle:
        written = trust_bundle(bundle.folder, store)
    for path in written:
        print(path)
    return 0
