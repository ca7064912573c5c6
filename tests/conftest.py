"""Session fixtures: the sample's real CPython root, its wheel, a shared compile cache, this checkout as a wheel.

Every expensive fixture is built once per test run, also under pytest-xdist (``-n 2``): ``built_once``
builds it in whichever worker asks first, under a file lock, in a folder keyed by the hash of its
inputs; the other workers wait for that build and reuse it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, SAMPLE, built_once, copy_sample, sample_build

TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _python_wasm_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Distributions are looked up in ``$PYTHON_WASM_HOME/site-packages`` too: never the user's."""
    monkeypatch.setenv("PYTHON_WASM_HOME", str(tmp_path_factory.getbasetemp() / "no-python-wasm-home"))


@pytest.fixture(scope="session")
def python_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's real CPython root (componentize-py, ~10 s), built once per run."""
    folder = built_once(
        tmp_path_factory,
        "python-root",
        [SAMPLE / "app", SAMPLE / "build_components.py"],
        lambda out: sample_build.build_root(SAMPLE, out / "python.wasm"),
    )
    return folder / "python.wasm"


@pytest.fixture
def sample_project(tmp_path: Path, python_root: Path) -> Path:
    """A fresh copy of sample-project/ with its components built."""
    return copy_sample(tmp_path / "sample-project", python_root)


@pytest.fixture(scope="session")
def sample_wheel(tmp_path_factory: pytest.TempPathFactory, python_root: Path) -> Path:
    """The sample project's wheel, built once per run with hatchling (no isolation)."""

    def build(out: Path) -> None:
        project = copy_sample(out / "sample-project", python_root)
        command = [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out / "dist")]
        subprocess.run([*command, str(project)], check=True, capture_output=True)

    inputs = [SAMPLE, REPO / "hatch_pylon", python_root]
    return next((built_once(tmp_path_factory, "sample-wheel", inputs, build) / "dist").glob("*.whl"))


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wasmtime compile cache for the run (every xdist worker's), so the 18 MB root compiles once."""
    return built_once(tmp_path_factory, "compile-cache", [], lambda out: None)


@pytest.fixture(scope="session", autouse=True)
def private_cache(compile_cache: Path) -> Iterator[Path]:
    """Every test, and every process it starts, compiles into the session's cache, never the user's: a test
    that needs a cache of its own sets ``HATCH_PYLON_CACHE_DIR`` itself."""
    saved = {name: os.environ.get(name) for name in ("HATCH_PYLON_CACHE_DIR", "HATCH_PYLON_CACHE_MAX")}
    os.environ["HATCH_PYLON_CACHE_DIR"] = str(compile_cache)
    os.environ["HATCH_PYLON_CACHE_MAX"] = "64G"  # nothing evicted: no test waits on a compile another evicted
    yield compile_cache
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def plugin_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout built as a wheel, for front-ends that install build requirements in isolation."""

    def build(out: Path) -> None:
        command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)]
        subprocess.run(command, check=True, capture_output=True)

    return built_once(tmp_path_factory, "wheelhouse", [REPO / "hatch_pylon", REPO / "pyproject.toml"], build)


CODEC = TESTS / "codec"
DYNLINK = TESTS / "dynlink"


def componentize_all(source: Path, worlds: dict[str, str], out: Path) -> dict[str, Path]:
    """Build ``source/<name>/app.py`` for each ``name -> world`` of ``source/wit`` with componentize-py, all at
    once (one process each); ``{name: out/<name>.wasm}``."""
    from helpers import sample_build

    jobs = {}
    for name, world in worlds.items():
        command = [
            sys.executable,
            "-c",
            sample_build.COMPONENTIZE,
            "-d",
            str(source / "wit"),
            "-w",
            world,
            "componentize",
            "app",
            "-o",
            str(out / f"{name}.wasm"),
        ]
        jobs[name] = subprocess.Popen(command, cwd=source / name, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for name, job in jobs.items():
        _, err = job.communicate()
        assert job.returncode == 0, f"componentize-py failed for {source.name}/{name}:\n{err.decode(errors='replace')}"
    return {name: out / f"{name}.wasm" for name in jobs}


@pytest.fixture(scope="session")
def codec_components(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The codec test cap and its root (tests/codec/, componentize-py, ~15 s each), built once per session.

    Both build at once (two processes). {"cap": cap.wasm, "root": root.wasm}
    """
    worlds = {"cap": "cap", "root": "root"}
    folder = built_once(tmp_path_factory, "codec", [CODEC], lambda out: componentize_all(CODEC, worlds, out))
    return {name: folder / f"{name}.wasm" for name in worlds}


SHAPES = TESTS / "shapes"


@pytest.fixture(scope="session")
def shapes_components(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tests/shapes/'s resource graph (componentize-py), built once per session, all at once:
    {"provider": defines `thing`, "middle": a second consumer of it, "root": drives both}."""
    worlds = {"provider": "provider", "middle": "middle", "root": "root"}
    folder = built_once(tmp_path_factory, "shapes", [SHAPES], lambda out: componentize_all(SHAPES, worlds, out))
    return {name: folder / f"{name}.wasm" for name in worlds}


@pytest.fixture(scope="session")
def dynlink_components(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tests/dynlink/'s runtime-linking guests (componentize-py), built once per session, all at once:
    {"guest": the hybrid linker guest, "provider": the echo endpoint provider, "consumer": a flavor-A consumer}."""
    worlds = {"guest": "linker-guest", "provider": "echo-provider", "consumer": "endpoint-consumer"}
    folder = built_once(tmp_path_factory, "dynlink", [DYNLINK], lambda out: componentize_all(DYNLINK, worlds, out))
    return {name: folder / f"{name}.wasm" for name in worlds}


@pytest.fixture(scope="session")
def cpython_guest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/guest/: a CPython root (componentize-py, ~15 s) whose arguments choose what it does."""
    command = [sys.executable, "-c", sample_build.COMPONENTIZE, "-d", "wit", "-w", "guest", "componentize", "app"]

    def build(out: Path) -> None:
        subprocess.run([*command, "-o", str(out / "guest.wasm")], cwd=TESTS / "guest", check=True, capture_output=True)

    return built_once(tmp_path_factory, "guest", [TESTS / "guest"], build) / "guest.wasm"


# Fixtures that build real CPython components (componentize-py) or whole packages: any test using one,
# directly or through another fixture, belongs to the slow tier, whatever its own marks say.
_EXPENSIVE = {
    "python_root",
    "sample_wheel",
    "sample_project",
    "codec_components",
    "dynlink_components",
    "shapes_components",
    "plugin_wheelhouse",
    "cpython_guest",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _EXPENSIVE & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
