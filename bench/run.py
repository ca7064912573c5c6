"""hatch-pylon benchmark: the hook's cost as a ratio to the bytes it must move, at every size.

    python bench/run.py                 # the sample, then 64, 256, 512 and 1,000 generated components
    python bench/run.py --quick         # the sample, then 16, 64 and 128 components, for a smoke run
    python bench/run.py --profile 256   # also: a one-thread cProfile of a cold build of 256 components

Two floors, each measured right next to the hook, interleaved, so a noisy shared machine moves both:

- **cold** (an empty store): read + SHA-256 + write of the same bytes, i.e. a plain copy of every
  component into a fresh folder, hashing it on the way; a cold build must do at least this;
- **warm** (a rebuild, every blob already staged): read + SHA-256 of the same files.

Each figure is the median of several runs. Generated components are real components
(wasmtime.wat2wasm) padded with a custom section to 1 MiB each.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.wasm import binary as wasm
from hatch_pylon.wasm.signatures import export_signatures, import_signatures

REPO = Path(__file__).resolve().parents[1]
CHUNK = 1 << 20
RUNS = 5


def floor_warm(paths: list[Path]) -> float:
    """Read and SHA-256 every file once: what a rebuild with every blob staged must at least do."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    start = time.perf_counter()
    for path in paths:
        hasher = hashlib.sha256()
        with open(path, "rb") as file:
            while got := file.readinto(buffer):
                hasher.update(view[:got])
        hasher.hexdigest()
    return time.perf_counter() - start


def floor_cold(paths: list[Path], target: Path) -> float:
    """Copy every file into the fresh folder ``target``, hashing it on the way: what a cold build must do."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    os.sync()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    start = time.perf_counter()
    for index, path in enumerate(paths):
        hasher = hashlib.sha256()
        with open(path, "rb") as source, open(target / str(index), "wb", buffering=0) as copy:
            while got := source.readinto(buffer):
                hasher.update(view[:got])
                copy.write(view[:got])
        hasher.hexdigest()
    return time.perf_counter() - start


def hook(project: Path, raw: dict, *, fresh_store: bool) -> float:
    if fresh_store:
        shutil.rmtree(project / ".compose", ignore_errors=True)
    config = load_config(raw, project_root=project, project_name="bench", environ={})
    start = time.perf_counter()
    build_bundle(config)
    return time.perf_counter() - start


def compare(label: str, project: Path, raw: dict, paths: list[Path], runs: int = RUNS) -> dict:
    """Cold (empty store) and warm (rebuild) hook runs, each interleaved with its own floor."""
    copies = project.parent / f"{project.name}-floor-copy"
    cold_floors, cold_hooks, warm_floors, warm_hooks = [], [], [], []
    for _ in range(runs):  # interleaved, so both see the same machine
        cold_floors.append(floor_cold(paths, copies))
        shutil.rmtree(copies)
        shutil.rmtree(project / ".compose", ignore_errors=True)
        os.sync()  # nobody pays for the previous run's disk writeback
        cold_hooks.append(hook(project, raw, fresh_store=False))
        os.sync()
        warm_floors.append(floor_warm(paths))
        warm_hooks.append(hook(project, raw, fresh_store=False))  # the store the cold run just filled
    mib = sum(p.stat().st_size for p in paths) / CHUNK
    row: dict = {"case": label, "files": len(paths), "mib": mib}
    for side, floors, hooks in (("cold", cold_floors, cold_hooks), ("warm", warm_floors, warm_hooks)):
        row[f"{side}_floor"] = statistics.median(floors)
        row[f"{side}_hook"] = statistics.median(hooks)
        row[f"{side}_ratio"] = row[f"{side}_hook"] / row[f"{side}_floor"]
        row[f"{side}_per_gib"] = row[f"{side}_hook"] / mib * 1024
    return row


def profile(folder: Path, raw: dict, top: int = 18) -> list[str]:
    """A cold build on one scan thread under cProfile: where the time goes, by function (own time)."""
    import cProfile
    import pstats

    from hatch_pylon.build import components as _components

    shutil.rmtree(folder / ".compose", ignore_errors=True)
    os.sync()
    config = load_config(raw, project_root=folder, project_name="bench", environ={})
    workers, _components._MAX_WORKERS = _components._MAX_WORKERS, 1
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        build_bundle(config)
        profiler.disable()
    finally:
        _components._MAX_WORKERS = workers
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values())
    lines = [
        f"total {total:.3f} s of own time on the profiled thread (profiler overhead included)",
        "",
        "| function | calls | own time (s) | share |",
        "|---|---:|---:|---:|",
    ]
    for (file, line, name), (_, calls, tottime, _cum, _) in sorted(entries.items(), key=lambda e: -e[1][2])[:top]:
        where = f"{Path(file).name}:{line} {name}" if file != "~" else name
        lines.append(f"| `{where}` | {calls} | {tottime:.3f} | {tottime / total:.0%} |")
    return lines


def load() -> str:
    """The machine's load average, for the record: the machine is shared."""
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


# -- generated graphs ------------------------------------------------------------------------------


def generate(folder: Path, count: int, size: int, seed: int = 7) -> list[Path]:
    """``count`` components of ~``size`` bytes; c0 is imported by the root, every ci by some cj with j < i."""
    rng = random.Random(seed)
    imports: dict[int, set[int]] = {i: set() for i in range(count)}
    for child in range(1, count):
        imports[rng.randrange(child)].add(child)
        if child > 2:
            imports[rng.randrange(child - 1)].add(child)  # extra edges, still acyclic (lower -> higher)
    caps = folder / "caps"
    caps.mkdir(parents=True)
    paths = []
    for index in range(count):
        names = [f"gen:c{j}/api@1.{j % 3}.0" for j in sorted(imports[index])]
        wat = ["(component"]
        wat += [f'  (import "{n}" (instance (export "f" (func (result u32)))))' for n in names]
        wat += [
            '  (core module $m (func (export "f") (result i32) i32.const 1))',
            "  (core instance $i (instantiate $m))",
            '  (func $f (result u32) (canon lift (core func $i "f")))',
            '  (instance $api (export "f" (func $f)))',
            f'  (export "gen:c{index}/api@1.{index % 3}.1" (instance $api)))',
        ]
        binary = wasmtime.wat2wasm("\n".join(wat))
        padding = rng.randbytes(max(0, size - len(binary) - 16))
        custom = b"\x07padding" + padding  # custom section: name, then payload
        path = caps / f"c{index}.wasm"
        path.write_bytes(binary + b"\x00" + wasm.leb128(len(custom)) + custom)
        paths.append(path)
    root = folder / "root.wasm"
    root.write_bytes(
        wasmtime.wat2wasm('(component (import "gen:c0/api@1.0.0" (instance (export "f" (func (result u32))))))')
    )
    return [root, *paths]


def peak_rss_mib(project: Path, raw: dict) -> tuple[float, float]:
    """Peak RSS of a fresh process running only the hook's work (cold store), and of one that only imports it."""
    shutil.rmtree(project / ".compose", ignore_errors=True)
    # VmHWM, not getrusage: Linux carries ru_maxrss over from the parent across fork and exec.
    report = "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
    work = (
        "import sys, json; from hatch_pylon.build.pipeline import build_bundle; from hatch_pylon.build.config import "
        "load_config; build_bundle(load_config(json.loads(sys.argv[1]), project_root=sys.argv[2], "
        f"project_name='bench', environ={{}})); {report}"
    )
    peaks = []
    for code in (work, f"import hatch_pylon.build.pipeline; {report}"):
        result = subprocess.run(
            [sys.executable, "-c", code, json.dumps(raw), str(project)], capture_output=True, text=True, check=True
        )
        peaks.append(int(result.stdout) / 1024)
    return peaks[0], peaks[1]


# -- inspect ---------------------------------------------------------------------------------------


def inspect_side_by_side(root: Path) -> list[tuple[str, float]]:
    times = []
    for _ in range(20):
        start = time.perf_counter()
        wasm.inspect(root)
        times.append(time.perf_counter() - start)
    rows = [("hatch-pylon inspect (in-process, median of 20)", statistics.median(times))]
    wasm_tools = shutil.which("wasm-tools") or str(Path(sys.executable).with_name("wasm-tools"))
    start = time.perf_counter()
    subprocess.run([wasm_tools, "component", "wit", str(root)], check=True, capture_output=True)
    rows.append(("wasm-tools component wit (process)", time.perf_counter() - start))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hatch_pylon", "inspect", str(root)], check=True, capture_output=True)
    rows.append(("hatch-pylon inspect (process, incl. interpreter start)", time.perf_counter() - start))
    data = root.read_bytes()
    for label, decode in (("import", import_signatures), ("export", export_signatures)):
        times = []
        for _ in range(20):
            start = time.perf_counter()
            decode(data)
            times.append(time.perf_counter() - start)
        rows.append((f"{label} types decoded from the binary (signatures, median of 20)", statistics.median(times)))
    engine = wasmtime.Engine()
    start = time.perf_counter()
    Component(engine, data)
    rows.append(("wasmtime.component.Component compile", time.perf_counter() - start))
    return rows


def types_cost(project: Path, raw: dict) -> list[tuple[str, float]]:
    """The hook with ``validate = "types"`` against ``"names"`` (warm store; types decoded, nothing compiled)."""
    rows = []
    for label, validate in (('validate = "types"', "types"), ('validate = "names"', "names")):
        times = [hook(project, {**raw, "validate": validate}, fresh_store=False) for _ in range(RUNS)]
        rows.append((f"(a) sample, {label}", statistics.median(times)))
    return rows


def sample_case(work: Path) -> tuple[Path, dict, list[Path]]:
    spec = importlib.util.spec_from_file_location("sample_build", REPO / "sample-project" / "build_components.py")
    sample_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample_build)
    project = work / "sample"
    shutil.copytree(REPO / "sample-project", project, ignore=shutil.ignore_patterns(".compose", "dist", "wasm"))
    sample_build.build_caps(project)
    sample_build.build_root(project)
    raw = {
        "root": "wasm/python.wasm",
        "component-dirs": ["caps"],
        "components": [{"id": "arrow-core", "path": "caps/arrow-core.wasm"}],
        "validate": "names",
    }
    return project, raw, [project / "wasm/python.wasm", *sorted((project / "caps").glob("*.wasm"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="generated cases of 16/64/128 components")
    parser.add_argument("--profile", type=int, metavar="N", help="also profile a cold build of N components")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs per side and case (default {RUNS})")
    args = parser.parse_args()
    sizes = (16, 64, 128) if args.quick else (64, 256, 512, 1000)
    from importlib.metadata import version

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"wasmtime {version('wasmtime')}; load average at start: {load()}"
    )
    with tempfile.TemporaryDirectory(prefix="pylon-bench-", dir=os.environ.get("BENCH_DIR")) as temp:
        work = Path(temp)
        project, raw, paths = sample_case(work)
        rows = [compare("sample", project, raw, paths, args.runs)]
        inspect_rows = inspect_side_by_side(project / "wasm/python.wasm")
        type_rows = types_cost(project, raw)
        graph = {"root": "root.wasm", "component-dirs": ["caps"], "validate": "names"}
        profiled: list[str] = []
        for count in sorted({*sizes, *([args.profile] if args.profile else [])}):
            folder = work / f"gen{count}"
            paths = generate(folder, count, CHUNK)
            if count in sizes:
                rows.append(compare(f"{count} components", folder, graph, paths, args.runs))
            if count == sizes[-1]:
                rss, baseline = peak_rss_mib(folder, graph)
            if count == args.profile:
                profiled = profile(folder, graph)
            shutil.rmtree(folder)
        end_load = load()

    print(f"load average at the end: {end_load}")
    print(
        "\n| case | files | MiB | cold floor: copy + SHA-256 (s) | hook, cold store (s) | cold ratio "
        "| warm floor: read + SHA-256 (s) | hook, warm rebuild (s) | warm ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['case']} | {r['files']} | {r['mib']:.0f} | {r['cold_floor']:.3f} | {r['cold_hook']:.3f} "
            f"| **{r['cold_ratio']:.2f}x** | {r['warm_floor']:.3f} | {r['warm_hook']:.3f} "
            f"| **{r['warm_ratio']:.2f}x** |"
        )
    generated = [r for r in rows if r["case"] != "sample"]
    for side in ("cold", "warm"):
        per_gib = [r[f"{side}_per_gib"] for r in generated]
        middle = statistics.median(per_gib)
        spread = max(abs(value / middle - 1) for value in per_gib)
        shown = ", ".join(f"{value:.2f}" for value in per_gib)
        print(
            f"linearity, {side}: hook s/GiB at {', '.join(map(str, sizes))} components: {shown} "
            f"(within ±{spread:.0%} of their median)"
        )
    print(
        f"peak RSS of the hook on {sizes[-1]} components: {rss:.0f} MiB "
        f"(an interpreter with hatch_pylon imported alone: {baseline:.0f} MiB)"
    )
    for title, table in (("inspect of the 18 MB root", inspect_rows), ("type validation, warm store", type_rows)):
        print(f"\n| {title} | seconds |")
        print("|---|---:|")
        for label, seconds in table:
            print(f"| {label} | {seconds:.4f} |")
    if profiled:
        print(f"\nprofile: a cold build of {args.profile} components, one scan thread\n")
        print("\n".join(profiled))


if __name__ == "__main__":
    main()
