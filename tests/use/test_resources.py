"""Resources across bindings: a python-wasm-shaped codec cap (a `compressor` resource) and a root using it.

Both are real componentize-py components (tests/codec/, built once per session). ``hatch-pylon run`` must
print what the Python code computes, the same value the statically composed graph gives under plain
wasmtime, with runtime linkage (composed in memory) and with static linkage (the bundled composed file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import hook_pyproject, run_plain

from hatch_pylon.bundle.compose import find_wasm_tools
from hatch_pylon.bundle.sources import open_target
from hatch_pylon.use.runtime import Runtime
from hatch_pylon.wasm.compiler import Compiler

pytestmark = pytest.mark.slow

# What tests/codec/root/app.py computes (every value shape: resources own/borrow/static/drop, handles in
# records/tuples/options/lists/results, enums, flags, records, variants, results, options, tuples, char, f32).
EXPECTED = (
    "ev0=Event_Started(value='level=5'); a=046103620263 ev1=Event_Chunk(value=1); b=087a; stats=17/8/0.4706; "
    "total_out(borrow)=8; c2.fin=017801790000 ev=Event_Done(); c2.after-finish=Err(ErrorCode.CLOSED); "
    "bad=Err(ErrorCode.BAD_LEVEL); c3.total=8; consume(own)=8; clone_all=[Event_Started(value='level=5'), "
    "Event_Started(value='level=5')]; clone_all([None])=Err(ErrorCode.INTERNAL); "
    "split=(Event_Chunk(value=1), Event_Started(value='level=7')); split2=(0, None); "
    "describe=v0.1.0[a=1,b=-,ü=4294967295|raw+verbose|λ|1.500]"
)

# Written by hand, independent of hatch_pylon.bundle.compose: the graph composed the plain wasm-tools way.
HAND_CONFIG = """\
dependencies:
  codec: {cap}
instantiations:
  root:
    arguments:
      pylon:codec/streaming@0.1.0: {{instance: codec, export: pylon:codec/streaming@0.1.0}}
"""


def codec_project(root: Path, components: dict[str, Path], extra: str = "") -> Path:
    (root / "codec_demo").mkdir(parents=True)
    (root / "codec_demo" / "__init__.py").write_text("")
    (root / "wasm").mkdir()
    (root / "caps").mkdir()
    shutil.copy(components["root"], root / "wasm" / "root.wasm")
    shutil.copy(components["cap"], root / "caps" / "codec.wasm")
    hook = (
        'root = "wasm/root.wasm"\ndestination = "codec_demo/_pylon"\n'
        'components = [{ id = "codec", path = "caps/codec.wasm" }]\n'
    )
    (root / "pyproject.toml").write_text(hook_pyproject("codec-demo", hook + extra))
    return root


def build_wheel(project: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(project / "dist"), str(project)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return next((project / "dist").glob("*.whl"))


def hatch_pylon_run(wheel: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "run", str(wheel)],
        capture_output=True,
        text=True,
        env={**os.environ, "HATCH_PYLON_CACHE_DIR": str(cache)},
    )


@pytest.fixture(scope="module")
def hand_composed(codec_components: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> bytes:
    work = tmp_path_factory.mktemp("hand-composed")
    (work / "compose.yaml").write_text(HAND_CONFIG.format(cap=codec_components["cap"]))
    tool = find_wasm_tools()
    assert tool is not None
    subprocess.run(
        [
            tool,
            "compose",
            "-q",
            "-c",
            str(work / "compose.yaml"),
            str(codec_components["root"]),
            "-o",
            str(work / "out.wasm"),
        ],
        check=True,
    )
    subprocess.run([tool, "validate", str(work / "out.wasm")], check=True)
    return (work / "out.wasm").read_bytes()


def test_plain_wasmtime_runs_the_composed_graph(hand_composed: bytes, compile_cache: Path) -> None:
    assert run_plain(hand_composed, compile_cache) == EXPECTED


def test_run_without_a_composed_component_composes_in_memory(
    codec_components: dict[str, Path], tmp_path: Path, compile_cache: Path, hand_composed: bytes
) -> None:
    wheel = build_wheel(codec_project(tmp_path / "codec-demo", codec_components, 'linkage = "static"\n'))
    with zipfile.ZipFile(wheel) as archive:
        assert "linkage" not in json.loads(archive.read("codec_demo/_pylon/plan.json"))  # static: no compose = true
    ran = hatch_pylon_run(wheel, compile_cache)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == EXPECTED + "\n"
    # clone-all takes a list of borrows, which wasmtime cannot pass through the host: the graph is composed
    assert "composing python with 1 cap to run it: python: pylon:codec/streaming@0.1.0 -> codec: " in ran.stderr
    assert "(clone-all) passes more than one borrowed handle per call, which only composition links" in ran.stderr
    # the same from the installed wheel, by distribution name
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    installed = subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "run", "dist:codec-demo"],
        capture_output=True,
        text=True,
        cwd=site,
        env={**os.environ, "PYTHONPATH": str(site), "HATCH_PYLON_CACHE_DIR": str(compile_cache)},
    )
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout == EXPECTED + "\n"
    with open_target(str(wheel)) as bundle:
        runtime = Runtime(bundle.folder, Compiler(compile_cache))
        assert runtime.run() == (0, EXPECTED)
        assert runtime.linked == "composed (in memory)"
    # the in-memory composition is exactly the hand-written one: same bytes, so one compile serves both
    cached = list((compile_cache / "composed").glob("*.wasm"))
    assert hand_composed in [p.read_bytes() for p in cached]  # the session cache may hold other tests' graphs


def test_run_with_static_linkage_runs_the_bundled_composition(
    codec_components: dict[str, Path], tmp_path: Path, compile_cache: Path, hand_composed: bytes
) -> None:
    project = codec_project(tmp_path / "codec-static", codec_components, 'linkage = "static"\ncompose = true\n')
    wheel = build_wheel(project)
    with zipfile.ZipFile(wheel) as archive:
        assert "linkage" not in json.loads(archive.read("codec_demo/_pylon/plan.json"))
        assert archive.read("codec_demo/_pylon/python.composed.wasm") == hand_composed
    ran = hatch_pylon_run(wheel, compile_cache)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == EXPECTED + "\n"
    with open_target(str(wheel)) as bundle:
        runtime = Runtime(bundle.folder, Compiler(compile_cache))
        runtime.load()
        assert runtime.linked == "composed (bundled)"
