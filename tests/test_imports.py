"""Import hygiene: one-way layers (no cycle inside hatch_pylon/, lazy imports included) and a light CLI start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hatch_pylon"
NAME = "hatch_pylon"


def module_name(path: Path) -> str:
    parts = [NAME, *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py") if "template" not in path.parts}
# Read bottom-up: a module imports only from its own subpackage or from a lower layer. ``build`` and
# ``use`` share a layer, so neither imports the other. The package itself only names ``__version__``.
LAYERS = {
    "": 0,
    "_errors": 0,
    "_layout": 0,
    "_records": 0,
    "_fs": 1,
    "wasm": 2,
    "composectl": 3,
    "bundle": 4,
    "build": 5,
    "use": 5,
}
LAYERS |= {"adapters": 6, "hooks": 7, "__main__": 7}


def home(module: str) -> str:
    """The subpackage (or bottom module) ``module`` belongs to; "" for the package itself."""
    return module.split(".")[1] if "." in module else ""


def imported_modules(module: str, path: Path) -> set[str]:
    """Every hatch_pylon module ``module`` imports anywhere: top level, inside functions, under TYPE_CHECKING."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == NAME)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                assert node.level <= len(anchor), f"{module}: relative import above the package"
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            elif node.module and node.module.split(".")[0] == NAME:
                base = node.module
            else:
                continue
            found.add(base)
            # ``from . import x`` imports a module when x is one; ``from .. import __version__`` does not
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return {name for name in found if name != module}


def graph() -> dict[str, set[str]]:
    edges = {module: imported_modules(module, path) for module, path in MODULES.items()}
    unknown = {target for targets in edges.values() for target in targets} - set(MODULES)
    assert not unknown, f"imports of modules that do not exist: {sorted(unknown)}"
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_read_from_every_kind_of_import() -> None:
    edges = graph()
    assert f"{NAME}.adapters.inspect" in edges[f"{NAME}.adapters.cli"]  # a function-level ``from .inspect import show``
    assert f"{NAME}.build.config" in edges[f"{NAME}.adapters.hatch"]  # a top-level ``from ..build.config import``
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_the_package() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_module_sits_in_a_layer() -> None:
    assert sorted({home(module) for module in MODULES} - set(LAYERS)) == []


def test_no_import_runs_upward_or_sideways() -> None:
    """Each subpackage imports only from lower layers (and itself); a test of the test below."""
    assert find_upward(graph()) == [], "imports against the layers (see docs/design.md)"
    assert find_upward({"hatch_pylon.wasm.binary": {"hatch_pylon.bundle.verify"}}) == [
        "hatch_pylon.wasm.binary -> hatch_pylon.bundle.verify"
    ]
    assert find_upward({"hatch_pylon.use.runtime": {"hatch_pylon.build.pipeline"}}) != []


def find_upward(edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{a} -> {b}"
        for a in sorted(edges)
        for b in sorted(edges[a])
        if home(a) != home(b) and LAYERS[home(b)] >= LAYERS[home(a)]
    ]


def test_each_subpackage_docstring_names_what_it_may_import() -> None:
    """Each subpackage's ``Imports:`` line names exactly the subpackages below it, so the docstrings stay true."""
    import re

    for sub, layer in LAYERS.items():
        path = PACKAGE / sub / "__init__.py"
        if not sub or not path.exists():
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        line = next((line for line in doc.splitlines() if line.startswith("Imports:")), "")
        assert line, f"{sub}/__init__.py: no 'Imports:' line"
        if "anything below" in line:
            continue
        named = {name for name in re.findall(r"``(\w+)``", line.split(";")[0]) if (PACKAGE / name).is_dir()}
        below = {other for other, rank in LAYERS.items() if 0 < rank < layer and (PACKAGE / other).is_dir()}
        assert named == below, f"{sub}/__init__.py says it imports {sorted(named)}; its layer allows {sorted(below)}"


# -- what start-up imports -----------------------------------------------------------------------------------

HEAVY = [
    "wasmtime",
    "hatchling",
    "json",
    "tomllib",
    "tomli",
    "typing",
    "dataclasses",
    "shutil",
    "pathlib",
    "hashlib",
    "importlib.metadata",
    "concurrent.futures",
    "packaging",
    "signal",
]

PROBE = """\
import contextlib, io, sys
before = set(sys.modules)
{action}
print(repr(sorted(set(sys.modules) - before)), file=sys.stderr)
"""
IMPORT_CLI = "import hatch_pylon.adapters.cli"
HELP = """\
from hatch_pylon.adapters.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(["--help"])
    except SystemExit as exit:
        assert exit.code == 0
assert "inspect" in out.getvalue()
"""


@pytest.mark.parametrize("action", [IMPORT_CLI, HELP], ids=["import", "help"])
def test_cli_start_up_imports_nothing_heavy(action: str) -> None:
    # The probe imports contextlib and io itself, before taking its snapshot of sys.modules.
    result = subprocess.run([sys.executable, "-c", PROBE.format(action=action)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = set(ast.literal_eval(result.stderr.splitlines()[-1]))
    assert "hatch_pylon.adapters.cli" in loaded
    heavy = sorted(name for name in loaded if any(name == h or name.startswith(h + ".") for h in HEAVY))
    assert heavy == []
    assert not {name for name in loaded if name.startswith(NAME + ".")} - {f"{NAME}.adapters", f"{NAME}.adapters.cli"}


def test_help_of_the_installed_command_imports_nothing_heavy() -> None:
    """The console script itself, as users run it, through ``-X importtime``."""
    script = Path(sys.executable).parent / "hatch-pylon"
    if not script.exists():
        pytest.skip("hatch-pylon is not installed as a console script here")
    result = subprocess.run([sys.executable, "-X", "importtime", str(script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    heavy = sorted(name for name in loaded if any(name == h or name.startswith(h + ".") for h in HEAVY))
    assert heavy == []


def test_verify_of_a_decodable_bundle_never_imports_wasmtime(tmp_path: Path) -> None:
    """Types are decoded from the binaries; wasmtime is imported only for a component the decoder cannot read."""
    from helpers import write_component

    from hatch_pylon.build.config import load_config
    from hatch_pylon.build.pipeline import build_bundle

    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.0.0"])
    raw = {"root": "root.wasm", "component-dirs": ["caps"]}
    folder = build_bundle(load_config(raw, project_root=tmp_path, project_name="d", environ={})).write_to(
        tmp_path / "bundle"
    )
    probe = (
        "import sys; from hatch_pylon.adapters.cli import main; status = main(['verify', sys.argv[1]]); "
        "print('wasmtime' in sys.modules, status)"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(folder)], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "False 0", result.stdout + result.stderr


def test_the_design_notes_layer_table_lists_every_module() -> None:
    """docs/design.md's layer table names every module (``sub/module`` or a bottom ``_module``)."""
    import re

    text = (PACKAGE.parent / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    listed = {
        f"{NAME}." + name.replace("/", ".")
        for line in section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([\w/]+)`", line.split("|")[1])
    }
    modules = {m for m in MODULES if m.count(".") == 2 or home(m) in ("_errors", "_fs", "_layout", "_records")}
    assert sorted(modules - listed) == [], "add these modules to docs/design.md's layer table"


def test_plan_of_a_project_imports_only_what_it_needs(tmp_path: Path) -> None:
    """``plan`` decodes types by default; the decoder's records are plain classes, so start-up skips
    ``dataclasses`` (and the ``inspect`` it imports). ``plan [PROJECT] [--json | --digest]`` is read
    without argparse; any other form goes to argparse, which explains it. It maps no file (types come from the
    scan) and, writing nothing, installs no SIGTERM handler."""
    from helpers import hook_pyproject, write_component

    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.0.0"])
    (tmp_path / "pyproject.toml").write_text(hook_pyproject("demo", 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'))
    probe = (
        "import sys, contextlib, io; from hatch_pylon.adapters.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): status = main(['plan', sys.argv[1]])\n"
        "heavy = ('dataclasses', 'inspect', 'concurrent.futures', 'argparse', 'mmap', 'signal')\n"
        "print(status, sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr
    from hatch_pylon.adapters.cli import main

    with pytest.raises(SystemExit) as both:
        main(["plan", "--json", "--digest", str(tmp_path)])
    assert both.value.code == 2


def test_verify_of_anything_but_an_sdist_imports_no_tarfile(tmp_path: Path) -> None:
    """Only an sdist is a tar archive: a bundle folder (as a wheel, or an installed distribution) is verified
    without importing ``tarfile`` and the compressors it brings."""
    from helpers import hook_pyproject, write_component

    from hatch_pylon.build.pipeline import build_bundle
    from hatch_pylon.build.project import load_project

    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.0.0"])
    (tmp_path / "pyproject.toml").write_text(hook_pyproject("demo", 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'))
    folder = build_bundle(load_project(tmp_path)).write_to(tmp_path / "bundle")
    probe = (
        "import sys, contextlib, io; from hatch_pylon.adapters.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): status = main(['verify', sys.argv[1]])\n"
        "print(status, 'tarfile' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(folder)], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "0 False", result.stdout + result.stderr


def test_plan_opens_each_input_once(tmp_path: Path) -> None:
    """The scan that hashes a file keeps the sections types are decoded from, so neither the type check nor the
    registry's check of an endpoint provider's imports opens a component again; ``pyproject.toml`` is read once
    for the configuration and the hook's problems (``open`` audit events)."""
    import wasmtime
    from helpers import component_wat, hook_pyproject, write_component

    linker, endpoint = "compose:dynlink/linker@0.1.0", "compose:dynlink/endpoint@0.1.0"
    write_component(tmp_path / "root.wasm", imports=[linker, "a:b/c@1.0.0"])
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.0.0"])
    type_only = '(import "sys:compose/types@1.0.0" (instance (type (list u8)) (export "digest" (type (eq 0)))))'
    echo = component_wat([], [endpoint]).replace("(component", f"(component\n  {type_only}", 1)
    (tmp_path / "caps/echo.wasm").write_bytes(wasmtime.wat2wasm(echo))  # its import is decoded: type-only
    (tmp_path / "pyproject.toml").write_text(hook_pyproject("demo", 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'))
    probe = (
        "import sys, contextlib, io; from hatch_pylon.adapters.cli import main\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == 'open' else None)\n"
        "with contextlib.redirect_stdout(io.StringIO()): status = main(['plan', sys.argv[1]])\n"
        "print(status, sorted(name.rsplit('/', 1)[-1] for name in opened if name.endswith(('.wasm', '.toml'))))"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
    expected = "0 ['echo.wasm', 'p.wasm', 'pyproject.toml', 'root.wasm']"
    assert result.stdout.splitlines()[-1] == expected, result.stdout + result.stderr


def test_records_are_the_namedtuples_typing_would_make() -> None:
    """``_records.NamedTuple`` (fields, defaults, methods, properties, docstring) behaves as ``typing.NamedTuple``."""
    import typing

    from hatch_pylon._records import NamedTuple

    def define(base: type) -> type:
        class Point(base):  # type: ignore[misc, valid-type]
            """A point."""

            x: int
            y: int = 2
            tags: tuple[str, ...] = ()

            @property
            def total(self) -> int:
                return self.x + self.y

            def moved(self, by: int) -> Point:
                return self._replace(x=self.x + by)

        return Point

    ours, theirs = define(NamedTuple), define(typing.NamedTuple)
    for cls in (ours, theirs):
        point = cls(1)
        assert point == (1, 2, ()) and isinstance(point, tuple)
        assert point.total == 3 and point.moved(2).x == 3 and cls.__doc__ == "A point."
        assert cls._fields == ("x", "y", "tags") and cls._field_defaults == {"y": 2, "tags": ()}
        assert cls.__name__ == "Point" and cls.__module__ == __name__
    assert list(ours.__annotations__) == list(theirs.__annotations__)
    with pytest.raises(TypeError):

        class Bad(NamedTuple):  # a field without a default after one with a default
            a: int = 1
            b: int
