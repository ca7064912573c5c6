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
from .wasm import inspect


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hatch-pylon", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    inspect_cmd = commands.add_parser("inspect", help="list a component's top-level imports and exports")
    inspect_cmd.add_argument("file", help="a .wasm file")
    inspect_cmd.add_argument("--json", action="store_true", help="print JSON instead of text")

    plan_cmd = commands.add_parser("plan", help="resolve a project as the build would and print its plan")
    plan_cmd.add_argument("project", nargs="?", default=".", help="folder holding pyproject.toml (default: .)")
    plan_cmd.add_argument("--json", action="store_true", help="print exactly the plan.json bytes")

    args = parser.parse_args(argv)
    try:
        if args.command == "inspect":
            return _inspect(args.file, as_json=args.json)
        return _plan(args.project, as_json=args.json)
    except PylonError as error:
        print(f"hatch-pylon: error: {error}", file=sys.stderr)
        return 1


def _inspect(path: str, *, as_json: bool) -> int:
    info = inspect(path)
    if as_json:
        document = {
            "kind": info.kind,
            "imports": [{"name": e.name, "kind": e.kind} for e in info.imports],
            "exports": [{"name": e.name, "kind": e.kind} for e in info.exports],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(f"{path}: {info.kind}")
    for title, externs in (("imports", info.imports), ("exports", info.exports)):
        print(f"{title} ({len(externs)}):")
        for extern in externs:
            print(f"  {extern.kind:<9} {extern.name}")
    return 0


def _plan(project: str, *, as_json: bool) -> int:
    config = load_project(project)
    resolution, plan = plan_project(config)
    if as_json:
        sys.stdout.buffer.write(plan.to_json())
        return 0
    sizes = {c.file.digest: c.file.size for c in resolution.components}
    bundle = Bundle(plan, plan.to_json(), {}, sizes, resolution)
    print(f"root: {plan.root}   determinism: {plan.policy.determinism}   destination: {config.destination}/")
    for line in bundle.summary():
        print(line)
    return 0
