from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SAMPLE = REPO / "sample-project"
sys.path.insert(0, str(TESTS))

_spec = importlib.util.spec_from_file_location("sample_build_components", SAMPLE / "build_components.py")
sample_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample_build)


@pytest.fixture(scope="session")
def python_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's real CPython root (componentize-py, ~10 s), built once per session."""
    return sample_build.build_root(SAMPLE, tmp_path_factory.mktemp("root") / "python.wasm")


@pytest.fixture
def sample_project(tmp_path: Path, python_root: Path) -> Path:
    """A fresh copy of sample-project/ with its components built."""
    return copy_sample(tmp_path / "sample-project", python_root)


def copy_sample(destination: Path, python_root: Path) -> Path:
    shutil.copytree(SAMPLE, destination, ignore=shutil.ignore_patterns("wasm", "*.wasm", "*.inputs", ".compose",
                                                                        "dist", "__pycache__"))
    (destination / "wasm").mkdir()
    shutil.copy(python_root, destination / "wasm" / "python.wasm")
    sample_build.build_caps(destination)
    return destination


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def sample_wheel(tmp_path_factory: pytest.TempPathFactory, python_root: Path) -> Path:
    """The sample project's wheel, built once per session with hatchling (no isolation)."""
    import subprocess

    project = copy_sample(tmp_path_factory.mktemp("sample-wheel") / "sample-project", python_root)
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(project / "dist"),
                    str(project)], check=True, capture_output=True)
    return next((project / "dist").glob("*.whl"))


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wasmtime compile cache for the session, so the 18 MB root compiles once."""
    return tmp_path_factory.mktemp("compile-cache")


@pytest.fixture(scope="session")
def plugin_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout built as a wheel, for front-ends that install build requirements in isolation."""
    import subprocess

    wheelhouse = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheelhouse),
                    str(REPO)], check=True, capture_output=True)
    return wheelhouse


def find_links_env(wheelhouse: Path, tmp_path: Path) -> dict[str, str]:
    """Front-ends install build requirements from PyPI, but hatch-pylon from this checkout's wheel.

    uv's cache sits in the session's wheelhouse folder: a global cache could hand back a plugin wheel
    of the same version built from older code.
    """
    import os

    return {**os.environ, "PIP_FIND_LINKS": str(wheelhouse), "UV_FIND_LINKS": str(wheelhouse),
            "UV_CACHE_DIR": str(wheelhouse.parent / f"{wheelhouse.name}-uv-cache"),
            "HATCH_DATA_DIR": str(tmp_path / "hatch-data"), "HATCH_CACHE_DIR": str(tmp_path / "hatch-cache")}
