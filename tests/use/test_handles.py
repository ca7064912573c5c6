"""Resources linked through the host, without composing: tests/shapes/'s componentize-py graph (a provider
defining `thing`, a second consumer of it, a root driving both) run from a project folder with
``hatch-pylon run .``, each component from its own compile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from helpers import hook_pyproject

from hatch_pylon.bundle.sources import BundleFolder, open_target
from hatch_pylon.use.runtime import Runtime
from hatch_pylon.wasm.compiler import Compiler

pytestmark = pytest.mark.slow

# What tests/shapes/root/app.py computes for ``everything`` (the same as the graph composed with wasm-tools
# prints): handles as arguments and results, in records, tuples, options, lists, results and variants; a
# borrow and an own handed to the second consumer (`describe`, `keep`), which calls the provider on them;
# one handed back by it. `live` counts the provider's things not yet dropped: componentize-py drops a handle
# only when told (`__exit__`), not when Python forgets it, so those the root never dropped are still there.
EVERYTHING = (
    "value=2 peek=2; merge=9; holder=6:six; open=6:six; pick-ok=7; pick-err=8; wrap=9 none=Maybe_Nothing; "
    "many=[0, 1, 2] total=6; pair=102; describe=thing(2) keep=11 back=40; live=20"
)


def shapes_project(root: Path, components: dict[str, Path]) -> Path:
    (root / "shapes_demo").mkdir(parents=True)
    (root / "shapes_demo" / "__init__.py").write_text("")
    (root / "wasm").mkdir()
    (root / "caps").mkdir()
    shutil.copy(components["root"], root / "wasm" / "root.wasm")
    for cap in ("provider", "middle"):
        shutil.copy(components[cap], root / "caps" / f"{cap}.wasm")
    hook = 'root = "wasm/root.wasm"\ndestination = "shapes_demo/_pylon"\ncomponent-dirs = ["caps"]\n'
    hook += 'linkage = "static"\n'  # typed caps, no linker: the plan composectl's exec runs composed
    (root / "pyproject.toml").write_text(hook_pyproject("shapes-demo", hook))
    return root


def run_here(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "run", ".", *args], capture_output=True, text=True, cwd=project
    )


@pytest.fixture
def project(shapes_components: dict[str, Path], tmp_path: Path) -> Path:
    return shapes_project(tmp_path / "shapes-demo", shapes_components)


def test_handles_cross_the_host_in_every_position(project: Path) -> None:
    ran = run_here(project, "everything")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == EVERYTHING + "\n"
    assert "composing" not in ran.stderr  # linked through the host
    with _bundle(project) as folder:
        runtime = Runtime(folder, Compiler())
        assert runtime.run(["everything"])[0] == 0
        assert runtime.linked == "runtime" and runtime.composed is None


def test_a_dropped_handle_is_dropped_in_the_provider(project: Path) -> None:
    with _bundle(project) as folder:
        runtime = Runtime(folder, Compiler())
        assert runtime.run(["drops"]) == (0, None)
    assert runtime.held() == {"provider: pylon:shapes/shapes@0.1.0#thing": [3]}  # 1 and 2 dropped by the root


def test_a_borrow_in_an_option_and_none(project: Path) -> None:
    ran = run_here(project, "peek-maybe")
    assert (ran.returncode, ran.stdout) == (0, "5 0\n"), ran.stderr


def test_a_trap_inside_a_method_names_the_provider(project: Path) -> None:
    ran = run_here(project, "boom")
    assert ran.returncode == 134, ran.stderr
    assert "RuntimeError: boom from thing 1" in ran.stderr  # the provider's own traceback
    assert "hatch-pylon: error: component 'provider' trapped" in ran.stderr


def test_an_edit_to_one_component_compiles_that_component_alone(project: Path) -> None:
    assert run_here(project, "drops").returncode == 0  # every component compiled (or cached)
    middle = project / "caps" / "middle.wasm"
    # the same code with one more custom section: a new digest, as a rebuild after an edit gives
    middle.write_bytes(middle.read_bytes() + b"\x00\x0a\x04edit" + os.urandom(5))
    with _bundle(project) as folder:
        runtime = Runtime(folder, Compiler())
        assert runtime.run(["everything"]) == (0, None)
        assert runtime.compiler.compiled == 1 and runtime.linked == "runtime"


def _bundle(project: Path) -> AbstractContextManager[BundleFolder]:
    """The project resolved from its sources, as ``run .`` resolves it."""
    from hatch_pylon.adapters.cli import _project_bundle

    return open_target(str(project), project=_project_bundle)
