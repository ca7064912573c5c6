"""The ``hatch-pylon`` command: each subcommand imports only what it needs, after its arguments parse."""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False  # typing itself costs a few ms at start-up
if TYPE_CHECKING:
    from collections.abc import Sequence

DESCRIPTION = """\
Ship a WebAssembly component graph inside a Python package.

  inspect   show a component's imports and exports (and their types)
  plan      resolve a project as the build would and print its plan
  verify    prove a wheel, sdist, installed distribution or bundle folder
  run       run a bundle with wasmtime (needs hatch-pylon[run])
  trust     add a bundle's blobs and trust entries to a composectl store
  compose   write one statically composed component for a bundle
"""
TARGET_HELP = (
    "a wheel (.whl), an sdist (.tar.gz), a bundle folder, or an installed distribution "
    "(dist:NAME always means the distribution, ./NAME always the folder)"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _terminate_cleanly()
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as cat does.
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print("hatch-pylon: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from ._errors import PylonError

        if not isinstance(error, PylonError):
            raise
        print(f"hatch-pylon: error: {error}", file=sys.stderr)
        return int(getattr(error, "exit_status", 1))


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="hatch-pylon", description=DESCRIPTION, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, formatter_class=_Formatter)

    inspect = command("inspect", help="show a component's imports and exports")
    inspect.add_argument("file", help="a .wasm file")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument(
        "--types", action="store_true", help="also show each function's types, decoded from the binary (no compile)"
    )
    inspect.add_argument("--prefix", default="", help="only imports and exports whose names start with this")
    inspect.add_argument("--all", action="store_true", help="include wasi: imports, hidden by default with --types")
    inspect.set_defaults(handler=_inspect)

    plan = command("plan", help="resolve a project as the build would and print its plan")
    plan.add_argument("project", nargs="?", default=".", help="folder holding pyproject.toml (default: .)")
    plan.add_argument("--json", action="store_true", help="print exactly the plan.json bytes the build will bundle")
    plan.set_defaults(handler=_plan)

    verify = command("verify", help="prove a wheel, sdist, installed distribution or bundle folder")
    verify.add_argument("target", help=TARGET_HELP)
    verify.add_argument("--names-only", action="store_true", help="skip the type check of bindings")
    verify.add_argument(
        "--compile-all", action="store_true", help="also have wasmtime compile every component (slow once, then cached)"
    )
    verify.add_argument(
        "--ignore-imports",
        default=None,
        metavar="PREFIXES",
        help="comma-separated import prefixes left to the host (default: what the build recorded)",
    )
    verify.set_defaults(handler=_verify)

    run = command("run", help="run a bundle with wasmtime (needs hatch-pylon[run])")
    run.add_argument(
        "--dir",
        action="append",
        default=[],
        metavar="HOST[::GUEST]",
        help="give the guest this folder (read-write), at GUEST or at HOST's path; none by default",
    )
    run.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="set this variable in the guest (NAME alone: its value here); none by default",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="with a trap, also print the wasm backtrace")
    run.add_argument("target", nargs="?", help=TARGET_HELP)
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments passed to the root (optional)")
    run.set_defaults(handler=_run, parser=run)

    trust = command("trust", help="add a bundle's blobs and trust entries to a composectl store")
    trust.add_argument("target", help=TARGET_HELP)
    trust.add_argument("--store", required=True, help="composectl store folder (gets blobs/ and trust/)")
    trust.set_defaults(handler=_trust)

    compose = command("compose", help="write one statically composed component for a bundle")
    compose.add_argument("target", help=TARGET_HELP)
    compose.add_argument("-o", "--output", required=True, help="the .wasm file to write")
    compose.add_argument("--strip", action="store_true", help="drop custom sections, as python-wasm does")
    compose.set_defaults(handler=_compose)
    return parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, told the terminal width so it does not import ``shutil`` (and its compressors)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_width() - 2)


def _terminal_width() -> int:
    """What ``shutil.get_terminal_size().columns`` says: $COLUMNS, else the terminal's width, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def _terminate_cleanly() -> None:
    """SIGTERM unwinds like Ctrl-C, so temporary folders are removed on the way out."""
    import signal

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _say(message: str) -> None:
    print(f"hatch-pylon: {message}", file=sys.stderr)


def _inspect(args: argparse.Namespace) -> int:
    from ._inspect import show

    return show(args.file, as_json=args.json, types=args.types, prefix=args.prefix, show_all=args.all)


def _plan(args: argparse.Namespace) -> int:
    from ._errors import PylonError
    from ._project import hook_problems, load_project

    config = load_project(args.project)
    from ._pipeline import plan_project, summary_lines

    problems = hook_problems(args.project)
    if problems:
        from ._errors import problems_message

        raise PylonError(problems_message(f"{args.project}: the build", problems))
    resolution, plan = plan_project(config, warn=_say)
    if args.json:
        sys.stdout.buffer.write(plan.to_json())
        sys.stdout.flush()
        return 0
    sizes = {c.file.digest: c.file.size for c in resolution.components}
    print(
        f"root: {plan.root}   determinism: {plan.policy.determinism}   linkage: {plan.linkage}   "
        f"destination: {config.destination}/"
    )
    for line in summary_lines(plan, sizes):
        print(line)
    sys.stdout.flush()
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ._errors import bullets, plural
    from ._sources import open_target
    from ._verify import verify_bundle

    ignore = None if args.ignore_imports is None else tuple(p for p in args.ignore_imports.split(",") if p)
    from ._compiler import Compiler, optional_compiler

    # Made only if a component's types cannot be decoded (or --compile-all): wasmtime stays unimported.
    compiler = (lambda: Compiler(say=_say)) if args.compile_all else (lambda: optional_compiler(say=_say))
    with open_target(args.target, note=_say) as bundle:
        verified = verify_bundle(
            bundle,
            types=not args.names_only,
            compile_all=args.compile_all,
            compiler=compiler,
            ignore_imports=ignore,
        )
    report = verified.report
    if report.problems:
        print(
            f"{args.target}: failed verification ({plural(len(report.problems), 'problem')}):\n"
            f"{bullets(report.problems)}",
            file=sys.stderr,
        )
        return 1
    checked = "names and types checked" if report.typed else "names checked"
    checked += "; every component compiled" if report.compiled_all else ""
    for skipped in report.skipped:
        _say(f"not checked: {skipped}")
    print(
        f"{args.target}: OK ({plural(report.checked_components, 'component')}, "
        f"{plural(report.checked_bindings, 'binding')}; blobs re-hashed, {checked})"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.target is None:
        args.parser.error("the following argument is required: target")
    from ._compiler import Compiler, require_wasmtime

    require_wasmtime("hatch-pylon run")
    from ._runtime import Runtime
    from ._sandbox import GuestStopped, RunOptions, parse_dir, parse_env
    from ._sources import open_target

    options = RunOptions(
        dirs=tuple(parse_dir(spec) for spec in args.dir),
        env=tuple(parse_env(spec) for spec in args.env),
        verbose=args.verbose,
    )
    with open_target(args.target, note=_say) as bundle:
        try:
            status, value = Runtime(bundle, Compiler(say=_say)).run(args.args, options)
        except GuestStopped as stopped:
            if args.verbose and stopped.detail:
                print(stopped.detail, file=sys.stderr)
            raise
    if value is not None:
        print(value)
    return status


def _trust(args: argparse.Namespace) -> int:
    from ._sources import open_target
    from ._trust import trust_bundle

    with open_target(args.target, note=_say) as bundle:
        written = trust_bundle(bundle, args.store)
    for path in written:
        print(path)
    return 0


def _compose(args: argparse.Namespace) -> int:
    """Verify any TARGET, compose its graph, write the output atomically."""
    from pathlib import Path

    from ._compiler import optional_compiler
    from ._compose import ComposeError, compose_plan, require_wasm_tools
    from ._fs import atomic_write
    from ._sources import open_target
    from ._verify import verify_bundle

    tool = require_wasm_tools("hatch-pylon compose")
    with open_target(args.target, note=_say) as bundle:
        verified = verify_bundle(bundle, compiler=optional_compiler).or_raise()
        assert verified.plan is not None
        composed = compose_plan(
            verified.plan, verified.blobs, ignore_imports=verified.meta.ignore_imports, strip=args.strip, tool=tool
        )
    try:
        atomic_write(Path(args.output).absolute(), composed.data)
    except OSError as exc:
        raise ComposeError(f"cannot write {args.output} ({exc.strerror or exc})") from None
    _say(
        f"composed {len(verified.plan.components)} components in {composed.seconds:.2f} s: "
        f"{composed.size / (1 << 20):.1f} MiB, sha256:{composed.digest[:12]}"
    )
    print(args.output)
    return 0
