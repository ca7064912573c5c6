"""hatch-pylon CLI start-up: each command as a whole process, as a ratio to a process doing the bare minimum.

    python bench/cli.py                      # builds the sample (componentize-py, ~10 s) in a temp folder
    python bench/cli.py --project DIR        # reuse a sample-project copy whose wasm/ and caps/*.wasm are built
    python bench/cli.py --runs 25

Pairs, each run interleaved (A, B, B, A, ...) so a noisy machine moves both sides together; the
median of each side is reported:

- ``hatch-pylon inspect <root>`` against a Python process that reads and SHA-256s the same file;
- ``hatch-pylon plan <sample>`` against a Python process that reads and hashes the sample's components,
  and against one that reads all of plan's inputs: that, and ``pyproject.toml`` parsed with ``tomllib``;
- ``hatch-pylon --help`` against ``python -c pass``.

Targets: <= 1.5, <= 1.5 (both floors), <= 2.5.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HASH_FILES = """\
import hashlib, sys
for name in sys.argv[1:]:
    digest = hashlib.sha256()
    with open(name, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    print(digest.hexdigest())
"""
READ_INPUTS = (
    """\
import sys
if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib
with open(sys.argv[1], "rb") as file:
    tomllib.load(file)
sys.argv[1:] = sys.argv[2:]
"""
    + HASH_FILES
)


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "hatch-pylon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hatch_pylon"]


def sample(work: Path) -> Path:
    spec = importlib.util.spec_from_file_location("sample_build", REPO / "sample-project" / "build_components.py")
    assert spec is not None and spec.loader is not None
    sample_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample_build)
    project = work / "sample-project"
    shutil.copytree(REPO / "sample-project", project, ignore=shutil.ignore_patterns(".compose", "dist", "wasm"))
    sample_build.build_caps(project)
    sample_build.build_root(project)
    return project


def bytecode_env(cache: Path) -> dict[str, str]:
    """Both sides run with compiled bytecode, as an installed package does (pip compiles it at install).

    With PYTHONDONTWRITEBYTECODE set (as in some sandboxes), an editable checkout would be compiled from
    source by every process; the .pyc files go to a private PYTHONPYCACHEPREFIX, not into the checkout.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def once(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def pair(
    label: str, tool: list[str], floor: list[str], runs: int, cwd: Path, env: dict[str, str]
) -> tuple[str, float, float]:
    once(tool, cwd, env), once(floor, cwd, env)  # warm the page cache and write the .pyc files
    tool_times: list[float] = []
    floor_times: list[float] = []
    for index in range(runs):
        order = ((tool, tool_times), (floor, floor_times))
        for command, times in order if index % 2 == 0 else reversed(order):
            times.append(once(command, cwd, env))
    return label, statistics.median(tool_times), statistics.median(floor_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, help="a built sample-project copy (default: build one)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pylon-cli-bench-") as temp:
        project = args.project.resolve() if args.project else sample(Path(temp))
        root = project / "wasm" / "python.wasm"
        components = [str(root), *sorted(str(p) for p in (project / "caps").glob("*.wasm"))]
        hatch_pylon = cli_command()
        python = [sys.executable]
        env = bytecode_env(Path(temp) / "pycache")
        env_note = f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} runs per side"
        rows = [
            pair(
                f"inspect of the {root.stat().st_size / 1e6:.0f} MB root vs read + SHA-256 of it",
                [*hatch_pylon, "inspect", str(root)],
                [*python, "-c", HASH_FILES, str(root)],
                args.runs,
                project,
                env,
            ),
            pair(
                "plan of the sample vs read + SHA-256 of its components",
                [*hatch_pylon, "plan", str(project)],
                [*python, "-c", HASH_FILES, *components],
                args.runs,
                project,
                env,
            ),
            pair(
                "plan of the sample vs reading pyproject.toml + SHA-256",
                [*hatch_pylon, "plan", str(project)],
                [*python, "-c", READ_INPUTS, str(project / "pyproject.toml"), *components],
                args.runs,
                project,
                env,
            ),
            pair(
                "--help vs python -c pass", [*hatch_pylon, "--help"], [*python, "-c", "pass"], args.runs, project, env
            ),
        ]
    targets = [1.5, 1.5, 1.5, 2.5]
    print(f"hatch-pylon CLI, whole processes ({env_note}); medians")
    failed = 0
    for (label, tool, floor), target in zip(rows, targets):
        ratio = tool / floor
        verdict = "ok" if ratio <= target else "OVER TARGET"
        failed += ratio > target
        print(
            f"  {label:<55} {tool * 1e3:6.1f} ms vs {floor * 1e3:6.1f} ms = {ratio:4.2f}x  "
            f"(target <= {target}: {verdict})"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
