"""hatch-pylon at scale: `run` of a long chain against `verify` of it, and a huge graph under a small fd limit.

    python bench/scale.py                 # the 2,000-component chain, 7 rounds (~1 min)
    python bench/scale.py --count 5000 --rounds 5
    python bench/scale.py --big 10000     # also build, verify and run 10,000 components under ulimit -n 256

The chain is tests/helpers.chain_graph: a root whose ``run`` calls c0, and ci importing c(i+1)'s
interface, so every component is compiled, linked and instantiated. Both sides are whole
``hatch-pylon`` processes with a warm compile cache (one run first), alternating which goes first;
the medians and their ratio are printed (the target: run within 2x verify). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers import chain_graph  # noqa: E402

from hatch_pylon.build.config import load_config  # noqa: E402
from hatch_pylon.build.pipeline import build_bundle  # noqa: E402

COMMAND = [str(Path(sys.executable).with_name("hatch-pylon"))]


def bundle(folder: Path, count: int) -> tuple[Path, float]:
    """The chain's bundle, and how long the build took (seconds)."""
    chain_graph(folder, count)
    started = time.perf_counter()
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "linkage": "static"}  # a plan composectl's exec runs
    config = load_config(raw, project_root=folder, project_name="chain", environ={})
    built = build_bundle(config).write_to(folder / "bundle")
    return built, time.perf_counter() - started


def timed(args: list[str], env: dict[str, str], limit: int | None = None) -> float:
    def cap() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    started = time.perf_counter()
    result = subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True, preexec_fn=cap)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed


def chain(work: Path, count: int, rounds: int) -> float:
    folder, build_s = bundle(work / f"chain-{count}", count)
    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(work / "cache")}
    cold = timed(["run", str(folder)], env)
    runs: list[float] = []
    verifies: list[float] = []
    for index in range(rounds):
        pair = [("run", runs), ("verify", verifies)]
        for command, into in pair if index % 2 == 0 else reversed(pair):
            into.append(timed([command, str(folder)], env))
    run_s, verify_s = statistics.median(runs), statistics.median(verifies)
    ratio = run_s / verify_s
    print(f"{count}-component chain: build {build_s:.2f} s; run cold (compiling) {cold:.2f} s")
    print(f"  verify  median {verify_s:.2f} s  ({', '.join(f'{t:.2f}' for t in verifies)})")
    print(f"  run     median {run_s:.2f} s  ({', '.join(f'{t:.2f}' for t in runs)})")
    print(f"  run / verify = {ratio:.2f}x (target <= 2x)")
    return ratio


def big(work: Path, count: int, limit: int = 256) -> None:
    folder = work / f"big-{count}"
    chain_graph(folder, count)
    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(work / "cache-big")}
    script = (
        f"import resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit})); "
        "from hatch_pylon.build.config import load_config; from hatch_pylon.build.pipeline import build_bundle; "
        "c = load_config({'root': 'root.wasm', 'component-dirs': ['caps'], 'linkage': 'static'}, "
        "project_root=sys.argv[1], "
        "project_name='big', environ={}); build_bundle(c).write_to(sys.argv[1] + '/bundle')"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", script, str(folder)], check=True)
    build_s = time.perf_counter() - started
    verify_s = timed(["verify", str(folder / "bundle")], env, limit)
    cold = timed(["run", str(folder / "bundle")], env, limit)
    warm = timed(["run", str(folder / "bundle")], env, limit)
    print(
        f"{count} components under ulimit -n {limit}: build {build_s:.1f} s, verify {verify_s:.1f} s, "
        f"run {cold:.1f} s cold (compiling), {warm:.1f} s warm"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--big", type=int, default=0, metavar="N", help="also N components under ulimit -n 256")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pylon-scale-") as temp:
        ratio = chain(Path(temp), args.count, args.rounds)
        if args.big:
            big(Path(temp), args.big)
    sys.exit(0 if ratio <= 2 else 1)


if __name__ == "__main__":
    main()
