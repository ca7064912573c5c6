"""The edit loop of a `hatch-pylon new` project: one cap edited, rebuilt and run, against compiling it alone.

    python bench/edit_loop.py                 # 5 edits, the cache bounded at 100M
    python bench/edit_loop.py --edits 9 --max 200M

The project `hatch-pylon new` writes (a CPython root and a CPython cap with a `counter` resource) is
built once and run once (everything compiled). Then, for each edit: the cap's `increment` changes, and
three things are timed apart, as whole processes:

- `python build_components.py counter` (componentize-py rebuilds the cap);
- `hatch-pylon run .` (resolve, stage, gate, link, run: compiles the rebuilt cap and nothing else);
- the floor: a fresh Python compiling the rebuilt cap alone with wasmtime (same engine settings), no cache.

`run .` and the floor alternate which goes first. Each run's output must show the edit; no composed file
may appear in the cache; after each edit the cache must be within `--max`. Last, one more edit is
checked with `verify --compile-all .` first: the `run .` after it must compile nothing. Prints the
medians, the ratio and the target (`run .` <= 1.3 x floor + 1 s); exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = """
import sys, wasmtime
from wasmtime.component import Component
config = wasmtime.Config()
config.epoch_interruption = True
Component(wasmtime.Engine(config), open(sys.argv[1], "rb").read())
"""
TOOL = Path(sys.executable).with_name("hatch-pylon")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed, done


def cache_use(cache: Path) -> tuple[int, list[Path]]:
    entries = [p for p in cache.glob("*/*") if p.suffix in (".cwasm", ".wasm") and p.is_file()]
    return sum(p.stat().st_size for p in entries), entries


def edit(project: Path, k: int) -> int:
    """Make the counter step by ``k``; the value the run prints then."""
    source = project / "counter" / "counter.py"
    text = source.read_text()
    lines = [line for line in text.splitlines() if "self.value +=" not in line]
    at = next(i for i, line in enumerate(lines) if "def increment" in line) + 1
    lines.insert(at, f"        self.value += by * {k}")
    source.write_text("\n".join(lines) + "\n")
    return 40 + 2 * k  # the root makes a counter at 40 and increments it by 1 twice


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--max", default="100M", help="HATCH_PYLON_CACHE_MAX for the run (default 100M)")
    parser.add_argument("--keep", action="store_true", help="keep the project and its cache (default: removed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edit-loop-"))
    try:
        return measure(work, args.edits, args.max)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, edits: int, maximum: str) -> int:
    from hatch_pylon.wasm.cache import parse_size

    limit = parse_size(maximum)
    cache = work / "cache"
    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(cache), "HATCH_PYLON_CACHE_MAX": maximum}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    timed([str(TOOL), "new", "loop"], work, env)
    project = work / "loop"
    print(f"project: {project}; cache: {cache} (HATCH_PYLON_CACHE_MAX={maximum})")
    seconds, _ = timed([sys.executable, "build_components.py"], project, env)
    print(f"build_components.py, both components: {seconds:.1f} s")
    seconds, first = timed([str(TOOL), "run", "."], project, env)
    print(f"first run . (compiles both): {seconds:.1f} s: {first.stdout.strip()}")
    builds, runs, floors, failures = [], [], [], []
    for n in range(edits):
        k = n + 2
        expected = edit(project, k)
        build, _ = timed([sys.executable, "build_components.py", "counter"], project, env)
        cap = project / "caps" / "counter.wasm"
        order = ["run", "floor"] if n % 2 == 0 else ["floor", "run"]
        for side in order:
            if side == "run":
                ran_for, ran = timed([str(TOOL), "run", "."], project, env)
            else:
                floor, _ = timed([sys.executable, "-c", FLOOR, str(cap)], project, env)
        used, entries = cache_use(cache)
        shows = f"the counter is at {expected})" in ran.stdout
        composed = [p for p in entries if p.parent.name == "composed"]
        compiled = ran.stderr.count("; cached for next time")
        print(
            f"edit {n + 1}: build {build:.1f} s, run . {ran_for:.1f} s, floor {floor:.1f} s; "
            f"compiled {compiled}; cache {used / (1 << 20):.1f} MiB in {len(entries)} entries; "
            f"output {'shows' if shows else 'does NOT show'} the edit"
        )
        if not shows:
            failures.append(f"edit {n + 1}: the output does not show the edit: {ran.stdout.strip()}")
        if composed:
            failures.append(f"edit {n + 1}: a composed file was built: {composed}")
        if used > limit:
            failures.append(f"edit {n + 1}: the cache holds {used} B, over {limit}")
        if compiled != 1:
            failures.append(f"edit {n + 1}: run . compiled {compiled} components, not 1")
        builds.append(build)
        runs.append(ran_for)
        floors.append(floor)
    expected = edit(project, 100)
    timed([sys.executable, "build_components.py", "counter"], project, env)
    warmed, _ = timed([str(TOOL), "verify", "--compile-all", "."], project, env)
    after, ran = timed([str(TOOL), "run", "."], project, env)
    print(f"verify --compile-all . {warmed:.1f} s, then run . {after:.1f} s: {ran.stderr.strip() or 'no output'}")
    if "cached for next time" in ran.stderr or f"the counter is at {expected})" not in ran.stdout:
        failures.append(f"run . after verify --compile-all . compiled again or missed the edit: {ran.stderr}")
    run_median, floor_median = statistics.median(runs), statistics.median(floors)
    target = 1.3 * floor_median + 1.0
    print(
        f"medians over {edits} edits: build_components.py counter {statistics.median(builds):.1f} s; "
        f"run . {run_median:.2f} s; floor (compile the cap alone) {floor_median:.2f} s; "
        f"ratio {run_median / floor_median:.2f}x; target run . <= 1.3 x floor + 1 s = {target:.2f} s: "
        f"{'met' if run_median <= target else 'MISSED'}"
    )
    if run_median > target:
        failures.append("run . is over its target")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
