"""The ``hatch-pylon`` command: each subcommand imports only what it needs, after its arguments parse."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself costs a few ms at start-up
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from contextlib import AbstractContextManager
    from pathlib import Path

    from ..bundle.sources import BundleFolder
    from ..bundle.verify import Verified
    from ..use.runtime import Runtime
    from ..use.sandbox import RunOptions

DESCRIPTION = "Ship a WebAssembly component graph inside a Python package."
TARGET_HELP = (
    "a wheel (.whl), an sdist (.tar.gz), a bundle folder, a project folder (resolved from its sources as "
    "its build would, no wheel), or an installed distribution (dist:NAME always means the distribution, "
    "./NAME always the folder)"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _quick(list(sys.argv[1:] if argv is None else argv))
    if args is None:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:  # bare ``hatch-pylon``: what it can do, not a usage error
            parser.print_help()
            return 0
    if args.handler is not _plan:  # plan writes nothing, so it leaves SIGTERM as it is and skips importing signal
        _terminate_cleanly()
    _SAID.clear()  # one command's lines
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
        from .._errors import PylonError

        if not isinstance(error, PylonError):
            raise
        print(f"{_paint('hatch-pylon: error:', 'error', sys.stderr)} {_shown(str(error))}", file=sys.stderr)
        return int(getattr(error, "exit_status", 1))


def _shown(text: str) -> str:
    """``text``, each line through ``_errors.printable``: what wasmtime says (a backtrace's function names, a
    link error's import names) comes from the binary, and no line of it may drive the terminal."""
    from .._errors import printable

    return "\n".join(printable(line) for line in text.split("\n"))


class _Args:
    """The parsed arguments of a command ``_quick`` read."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def _quick(argv: list[str]) -> argparse.Namespace | None:
    """``plan [PROJECT] [--json | --digest]`` read without argparse, whose import is a tenth of ``plan``'s
    start-up; anything else (help, a typo, both flags) is argparse's to parse and to explain."""
    if not argv or argv[0] != "plan":
        return None
    project: str | None = None
    flags: list[str] = []
    for token in argv[1:]:
        if token in ("--json", "--digest") and not flags:
            flags.append(token)
        elif not token.startswith("-") and project is None:
            project = token
        else:
            return None
    values = {"command": "plan", "handler": _plan, "project": project or ".", "json": False, "digest": False}
    values.update({flag[2:]: True for flag in flags})
    return _Args(**values)  # type: ignore[return-value]


def _parser() -> argparse.ArgumentParser:
    import argparse

    class _Formatter(argparse.RawDescriptionHelpFormatter):
        """argparse's formatter, told the terminal width so it does not import ``shutil`` (and its compressors)."""

        def __init__(self, prog: str) -> None:
            super().__init__(prog, width=_terminal_width() - 2)

    from .. import __version__

    parser = argparse.ArgumentParser(prog="hatch-pylon", description=DESCRIPTION, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, help: str, usage: str | None = None) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, usage=usage, formatter_class=_Formatter)

    inspect = command("inspect", help="show a component's imports and exports")
    inspect.add_argument("file", help="a .wasm file, or a component distribution: its wheel or dist:NAME")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument(
        "--types", action="store_true", help="also show each function's types, decoded from the binary (no compile)"
    )
    inspect.add_argument("--prefix", default="", help="only imports and exports whose names start with this")
    inspect.add_argument(
        "--all",
        action="store_true",
        help="also list wasi: imports (the host's), left out of the text by default; --json lists them always",
    )
    inspect.set_defaults(handler=_inspect)

    plan = command("plan", help="resolve a project as the build would and print its plan")
    plan.add_argument("project", nargs="?", default=".", help="folder holding pyproject.toml (default: .)")
    shown = plan.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print exactly the plan.json bytes the build will bundle")
    shown.add_argument(
        "--digest", action="store_true", help="print only composectl's plan digest (SHA-256 of the plan's CBOR)"
    )
    plan.set_defaults(handler=_plan)

    verify = command("verify", help="prove a wheel, sdist, installed distribution, bundle or project")
    verify.add_argument("target", help=TARGET_HELP)
    verify.add_argument("--names-only", action="store_true", help="skip the type check of bindings")
    verify.add_argument(
        "--compile-all",
        action="store_true",
        help="also have wasmtime compile every component, and what run runs (slow once, then cached)",
    )
    verify.add_argument(
        "--ignore-imports",
        default=None,
        metavar="PREFIXES",
        help="comma-separated import prefixes left to the host (default: what the build recorded)",
    )
    verify.set_defaults(handler=_verify)

    # The target is required; it is declared optional only so that a missing one is reported alone, not
    # together with ARGS (which argparse counts as required when it is the remainder).
    run = command(
        "run",
        help="run a bundle or a project with wasmtime (needs hatch-pylon[run])",
        usage="%(prog)s [options] TARGET [ARGS ...]",
    )
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
    run.add_argument(
        "--lenient",
        action="store_true",
        help="run a plan composectl's exec refuses (a runtime plan without the dynlink capabilities, ...) anyway",
    )
    run.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help=f"required: {TARGET_HELP}; or one component file (FILE.wasm, what compose writes), given WASI only",
    )
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments passed to the root (optional)")
    run.set_defaults(handler=_run, parser=run)

    trust = command("trust", help="stage a verified bundle for composectl: its blobs and trust entries in a store")
    trust.add_argument("target", help=TARGET_HELP)
    trust.add_argument("--store", required=True, help="composectl store folder (gets blobs/ and trust/)")
    trust.epilog = (
        "Writes composectl's layout: STORE/blobs/<hex[0:2]>/<hex[2:]> and, per blob, the entry\n"
        "TrustStore::trust_digest writes, STORE/trust/<hex[0:2]>/<hex[2:]>.json. Prints the plan digest and\n"
        "every component digest: composectl's trust store keeps trust in memory and does not load these\n"
        "files, so a launcher trusts those digests through composectl's API."
    )
    trust.set_defaults(handler=_trust)

    compose = command("compose", help="write one statically composed component for a bundle")
    compose.add_argument("target", help=TARGET_HELP)
    compose.add_argument("-o", "--output", required=True, help="the .wasm file to write")
    compose.add_argument("--strip", action="store_true", help="drop custom sections, as python-wasm does")
    compose.set_defaults(handler=_compose)

    new = command("new", help="write a new project: a CPython root, a cap with a resource, the hook configured")
    new.add_argument("name", metavar="NAME", help="the project's folder; its last part is the project's name")
    new.set_defaults(handler=_new)

    cache = command("cache", help="show or clear the compile cache ($HATCH_PYLON_CACHE_DIR)")
    cache.add_argument("action", choices=("info", "clear"), help="info: where, size, entries; clear: remove them")
    cache.set_defaults(handler=_cache)
    return parser


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


_SAID: set[str] = set()


def _say(message: str) -> None:
    """One line on stderr; what was said before in this command, as a warning or a note, is not repeated (a
    build and the gate after it may find the same thing)."""
    from .._errors import WARNING

    said = message.removeprefix(WARNING).removeprefix("note: ")
    if said in _SAID:
        return
    _SAID.add(said)

    if message.startswith(WARNING):
        message = f"{_paint(WARNING.rstrip(), 'warning', sys.stderr)} {message[len(WARNING) :]}"
    print(f"hatch-pylon: {message}", file=sys.stderr)


_STYLES = {"error": "1;31", "ok": "32", "warning": "33"}


def _paint(text: str, style: str, stream: object) -> str:
    """``text`` in colour when ``stream`` is a terminal, as pip and uv decide: NO_COLOR (any value)
    turns colour off, FORCE_COLOR turns it on even when not a terminal, TERM=dumb off."""
    if os.environ.get("NO_COLOR"):
        return text
    if not os.environ.get("FORCE_COLOR"):
        isatty = getattr(stream, "isatty", None)
        if not (isatty is not None and isatty()) or os.environ.get("TERM") == "dumb":
            return text
    return f"\033[{_STYLES[style]}m{text}\033[0m"


def _open(target: str) -> AbstractContextManager[BundleFolder]:
    """TARGET as a bundle folder; a project folder is resolved and staged from its sources first."""
    from ..bundle.sources import open_target

    return open_target(target, project=_project_bundle)


def _project_bundle(folder: Path, staging: Path) -> Path:
    """What a build of the project would bundle, made from its sources into ``staging`` (no wheel); its
    components are staged into the project's store, as a build stages them."""
    from ..build.pipeline import build_bundle, throttled_progress
    from ..build.project import load_project

    config = load_project(folder)
    bundle = build_bundle(config, say=_say, progress=throttled_progress(_say), staging=staging)
    target = staging / "bundle"
    target.mkdir()
    return bundle.write_to(target)


def _inspect(args: argparse.Namespace) -> int:
    from .inspect import show, show_provided

    options = {"as_json": args.json, "types": args.types, "prefix": args.prefix, "show_all": args.all}
    if not (args.file.endswith(".whl") or args.file.startswith("dist:")):
        return show(args.file, **options)
    from .._errors import PylonError, VerificationError, printable
    from ..bundle.distributions import BUILD_ENVIRONMENT, ProvidedComponent
    from ..bundle.verify import verify_distribution, verify_provided

    with _open(args.file) as bundle:  # a component distribution (its wheel, or installed), through the gate first
        listed: tuple[ProvidedComponent, ...]
        if bundle.dist_info is not None:
            checked = verify_distribution(bundle.folder, bundle.dist_info, BUILD_ENVIRONMENT)
            problems, label = checked.report.problems, printable(args.file)
            listed = checked.distribution.components if checked.distribution is not None else ()
        elif bundle.provided is not None:
            provided = verify_provided(bundle.folder, bundle.provided, bundle.store)
            problems, label, listed = provided.report.problems, printable(args.file), provided.components
        else:
            raise PylonError(
                f"{printable(args.file)}: provides no components (inspect takes a .wasm file or a component "
                "distribution: its wheel or dist:NAME)"
            )
        if problems or bundle.problems:
            raise VerificationError(args.file, [*bundle.problems, *problems])
        components = [(c.id, str(bundle.folder / c.relative), c.relative) for c in listed]
        return show_provided(label, components, **options)


def _plan(args: argparse.Namespace) -> int:
    from .._errors import PylonError, printable
    from ..build.project import hook_problems, load_project, read_pyproject

    pyproject = read_pyproject(args.project)  # read once, for the configuration and the hook's problems
    config = load_project(args.project, data=pyproject)
    from ..build.pipeline import plan_project, summary_lines

    problems = hook_problems(args.project, pyproject)
    if problems:
        from .._errors import problems_message

        raise PylonError(problems_message(f"{args.project}: the build", problems))
    resolution, plan = plan_project(config, say=_say)
    if args.json:
        sys.stdout.buffer.write(plan.to_json(ascii_only=True))  # names from binaries never reach a terminal raw
        sys.stdout.flush()
        return 0
    if args.digest:
        print(plan.plan_digest())
        return 0
    sizes = {c.file.digest: c.file.size for c in resolution.components}
    print(
        f"root: {printable(plan.root)}   determinism: {plan.policy.determinism}   linkage: {plan.linkage}   "
        f"destination: {config.destination}/"
    )
    tenant = f"   tenant: {plan.policy.tenant}" if plan.policy.tenant is not None else ""
    print(f"plan digest: {plan.plan_digest()}{tenant}")
    for line in summary_lines(plan, sizes, resolution):
        print(line)
    sys.stdout.flush()
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .._errors import bullets, plural
    from ..bundle.verify import verify_bundle

    ignore = None if args.ignore_imports is None else tuple(p for p in args.ignore_imports.split(",") if p)
    from ..wasm.compiler import Compiler, optional_compiler

    # Made only if a component's types cannot be decoded (or --compile-all): wasmtime stays unimported.
    compiler = (lambda: Compiler(say=_say)) if args.compile_all else (lambda: optional_compiler(say=_say))
    with _open(args.target) as bundle:
        if bundle.dist_info is not None:
            return _verify_distribution(args.target, bundle)
        if bundle.provided is not None:
            return _verify_provided(args.target, bundle)
        verified = verify_bundle(
            bundle,
            types=not args.names_only,
            compile_all=args.compile_all,
            compiler=compiler,
            ignore_imports=ignore,
            references_required=bundle.kind == "distribution",  # an archive alone says what it could not check
        )
        if args.compile_all and not verified.report.problems:
            _warm(bundle, verified)
    report = verified.report
    if report.problems:
        failed = _paint("failed verification", "error", sys.stderr)
        print(
            f"{args.target}: {failed} ({plural(len(report.problems), 'problem')}):\n{bullets(report.problems)}\n"
            f"  ({report.by})",
            file=sys.stderr,
        )
        return 1
    checked = "names and types checked" if report.typed else "names checked"
    checked += "; every component compiled" if report.compiled_all else ""
    checked += "; composed component re-composed, identical" if report.composed_proven else ""
    if report.unchecked_references:
        checked += f"; {plural(report.unchecked_references, 'referenced distribution')} not checked (above)"
    for skipped in report.skipped:
        _say(f"not checked: {skipped}")
    for note in report.notes:
        _say(f"note: {note}")
    print(
        f"{args.target}: {_paint('OK', 'ok', sys.stdout)} ({plural(report.checked_components, 'component')}, "
        f"{plural(report.checked_bindings, 'binding')}; blobs re-hashed, {checked}); "
        f"plan digest {report.plan_digest}{_relocked(report.relocked_from)}"
    )
    return 0


def _relocked(bundled: str) -> str:
    """How the OK line says the plan proved is not the bundle's own (``distributed-versions = "compatible"``)."""
    return f" (re-resolved against the installed releases above; the bundle's plan: {bundled})" if bundled else ""


def _verify_provided(target: str, bundle) -> int:  # type: ignore[no-untyped-def]
    """A component distribution: its descriptor and every blob it lists."""
    from .._errors import bullets, plural
    from ..bundle.verify import verify_provided

    assert bundle.provided is not None
    checked = verify_provided(bundle.folder, bundle.provided, bundle.store, owned=bundle.owned)
    problems = [*bundle.problems, *checked.report.problems]
    if problems:
        failed = _paint("failed verification", "error", sys.stderr)
        print(f"{target}: {failed} ({plural(len(problems), 'problem')}):\n{bullets(problems)}", file=sys.stderr)
        return 1
    ids = ", ".join(c.id for c in checked.components)
    print(
        f"{target}: {_paint('OK', 'ok', sys.stdout)} (provides {plural(len(checked.components), 'component')}: "
        f"{ids}; blobs re-hashed, imports and exports as the descriptor lists them)"
    )
    return 0


def _warm(bundle: BundleFolder, verified: Verified) -> None:
    """Compile what ``run`` would run (each component, for the engine its plan needs, or the graph composed)."""
    from ..use.runtime import Runtime
    from ..wasm.compiler import Compiler

    Runtime(bundle, Compiler(say=_say), lenient=True).load(verified)  # a plan exec refuses: what --lenient runs


def _verify_distribution(target: str, bundle) -> int:  # type: ignore[no-untyped-def]
    """A component distribution laid out as installed (an installed one, or an unpacked extension wheel)."""
    from .._errors import bullets, plural
    from ..bundle.distributions import BUILD_ENVIRONMENT, DESCRIPTOR
    from ..bundle.verify import verify_distribution

    assert bundle.dist_info is not None
    found_in = BUILD_ENVIRONMENT if bundle.kind == "distribution" else "the wheel"
    if bundle.kind == "distribution":
        from ..bundle.distributions import find_distribution

        found = find_distribution(target.removeprefix("dist:"))
        found_in = found[1] if found is not None else found_in
    checked = verify_distribution(bundle.folder, bundle.dist_info, found_in)
    problems = [*bundle.problems, *checked.report.problems]
    if problems:
        failed = _paint("failed verification", "error", sys.stderr)
        print(f"{target}: {failed} ({plural(len(problems), 'problem')}):\n{bullets(problems)}", file=sys.stderr)
        return 1
    assert checked.distribution is not None
    components = checked.distribution.components
    required = sorted({name for c in components for name in c.requires})
    exported = plural(len(required), "required capability", "required capabilities")
    capabilities = f"; {exported} exported" if required else ""
    where = f" (found in {found_in})" if bundle.kind == "distribution" else ""
    print(
        f"{target}: {_paint('OK', 'ok', sys.stdout)} ({checked.distribution.label}{where} provides "
        f"{plural(len(components), 'component')}: {', '.join(c.id for c in components)}; files re-hashed against "
        f"{'its descriptor' if DESCRIPTOR in checked.distribution.descriptor else 'RECORD'}{capabilities})"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.target is None:
        args.parser.error("the following argument is required: target")
    from ..wasm.compiler import Compiler, require_wasmtime

    require_wasmtime("hatch-pylon run")
    from ..use.runtime import Runtime
    from ..use.sandbox import RunOptions, parse_dir, parse_env

    options = RunOptions(
        dirs=tuple(parse_dir(spec) for spec in args.dir),
        env=tuple(parse_env(spec) for spec in args.env),
        verbose=args.verbose,
    )
    if args.target.endswith(".wasm") and not os.path.isdir(args.target):
        return _finish_run(args, Runtime.single(args.target, Compiler(say=_say)), options)
    with _open(args.target) as bundle:
        runtime = Runtime(bundle, Compiler(say=_say), lenient=args.lenient)
        report = runtime.verified.report
        for replacement in report.notes if report.relocked_from else ():
            _say(f"note: {replacement}")
        if report.relocked_from:
            _say(f"note: running plan {report.plan_digest}{_relocked(report.relocked_from)}")
        if bundle.kind == "distribution":
            from .._errors import warning
            from ..build.project import editable_changes

            changed = editable_changes(args.target.removeprefix("dist:"), runtime.plan)  # the verified plan
            if changed is not None:
                _say(warning(changed))
        return _finish_run(args, runtime, options)


def _finish_run(args: argparse.Namespace, runtime: Runtime, options: RunOptions) -> int:
    """Run, print the root's value, and give its exit status (``-v``: wasmtime's whole report on a trap)."""
    from .._errors import GuestStopped

    try:
        status, value = runtime.run(args.args, options)
    except GuestStopped as stopped:
        if args.verbose and stopped.detail:
            print(_shown(stopped.detail), file=sys.stderr)  # wasmtime's backtrace names the binary's functions
        raise
    if value is not None:
        print(value)
    return status


def _trust(args: argparse.Namespace) -> int:
    from ..use.trust import NOT_LOADED, trust_bundle

    with _open(args.target) as bundle:
        trusted = trust_bundle(bundle, args.store)
    for line in trusted.lines():
        print(line)
    sys.stdout.flush()
    from .._errors import printable

    _say(NOT_LOADED.format(store=printable(args.store)))
    return 0


def _compose(args: argparse.Namespace) -> int:
    """Verify any TARGET, compose its graph, write the output atomically."""
    from pathlib import Path

    from .._errors import ComposeError, human_size, plural
    from .._fs import atomic_write
    from ..bundle.compose import compose_plan, require_wasm_tools
    from ..bundle.verify import verify_bundle
    from ..wasm.compiler import optional_compiler

    tool = require_wasm_tools("hatch-pylon compose")
    with _open(args.target) as bundle:
        verified = verify_bundle(bundle, compiler=optional_compiler).or_raise()
        assert verified.plan is not None
        composed = compose_plan(
            verified.plan, verified.blobs, ignore_imports=verified.meta.ignore_imports, strip=args.strip, tool=tool
        )
    try:
        atomic_write(Path(args.output).absolute(), composed.data)
    except OSError as exc:
        raise ComposeError(f"cannot write {args.output} ({exc.strerror or exc})") from None
    from ..composectl.linkage import bound_closure

    composed_ids = bound_closure(verified.plan.root, verified.plan.bindings)  # registry members stay out
    _say(
        f"composed {plural(len(composed_ids), 'component')} in {composed.seconds:.2f} s: "
        f"{human_size(composed.size)}, sha256:{composed.digest[:12]}"
    )
    print(args.output)
    return 0


def _new(args: argparse.Namespace) -> int:
    from .new import new_project

    folder, written = new_project(args.name)
    from .._errors import printable, shell_word

    print(f"wrote {printable(str(folder))}/: {', '.join(written)}")
    print(
        f"next (componentize-py, hatch and hatch-pylon[run] installed):\n"
        f"  cd {shell_word(str(folder))}\n"
        "  python build_components.py   # the root and the cap, with componentize-py (~20 s each)\n"
        "  hatch-pylon run .            # run it from the sources, no wheel\n"
        "  hatch build                  # the wheel and the sdist, each with the bundle"
    )
    return 0


def _cache(args: argparse.Namespace) -> int:
    from .._errors import bullets, human_size, plural, printable
    from ..wasm.cache import CACHE_VARIABLE, LIMIT_VARIABLE, cache_limit, clear, default_cache_dir, sections

    root = default_cache_dir()
    if args.action == "clear":
        cleared = clear(root)
        print(f"{root}: removed {plural(cleared.removed, 'entry', 'entries')} ({human_size(cleared.freed)})")
        if cleared.left:
            print(f"left what hatch-pylon did not make:\n{bullets(printable(name) for name in cleared.left)}")
        return 0
    limit, chosen = cache_limit()
    found = sections(root)
    total = sum(section.size for section in found)
    count = sum(len(section.entries) for section in found)
    where = f"${CACHE_VARIABLE}" if os.environ.get(CACHE_VARIABLE) else f"set ${CACHE_VARIABLE} to move it"
    bound = f"${LIMIT_VARIABLE}" if chosen else f"the default; set ${LIMIT_VARIABLE} to change it"
    print(f"cache: {root} ({where})")
    print(f"size:  {human_size(total)} in {plural(count, 'entry', 'entries')}")
    print(f"limit: {human_size(limit)} ({bound}); the least recently used entries go first")
    for section in found:
        what = "composed graphs" if section.name == "composed" else f"compiled components ({section.name})"
        print(f"  {what}: {plural(len(section.entries), 'entry', 'entries')}, {human_size(section.size)}")
    return 0
