"""The compile cache through ``hatch-pylon cache`` and real compiles: what clearing removes and leaves, the size
limit (least recently used first), and the entries a running process holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hatch_pylon.wasm.cache import MARKER, parse_size

# One process per compile: entries a process loads or writes are its own to hold until it exits.
COMPILE = """
import hashlib, sys, wasmtime
from hatch_pylon.wasm.compiler import Compiler
data = wasmtime.wat2wasm('(component (core module (func (export "f%s"))))' % sys.argv[1])
compiler = Compiler()
compiler.component(data, hashlib.sha256(data).hexdigest())
print(compiler.compiled, flush=True)
if sys.argv[2:] == ["hold"]:
    sys.stdin.read()
"""


def hatch_pylon(*args: str, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(cache), **env}
    return subprocess.run([sys.executable, "-m", "hatch_pylon", *args], capture_output=True, text=True, env=full)


def compile_one(cache: Path, n: int, limit: str = "") -> int:
    """Compile the tiny component number ``n`` into ``cache`` in a process of its own; how many it compiled."""
    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(cache), "HATCH_PYLON_CACHE_MAX": limit}
    done = subprocess.run([sys.executable, "-c", COMPILE, str(n)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("wasmtime-*-epoch/*.cwasm"))


def test_clear_removes_only_its_entries_and_names_the_rest(tmp_path: Path) -> None:
    project = tmp_path / "project"  # a misdirected HATCH_PYLON_CACHE_DIR: a project folder
    (project / "composed").mkdir(parents=True)
    (project / "wasmtime-build").mkdir()
    theirs = [
        project / "composed" / "app.wasm",
        project / "composed" / ".tmp-keep",
        project / "wasmtime-build" / "out.cwasm",
        project / "pyproject.toml",
    ]
    for path in theirs:
        path.write_bytes(b"the user's")
    compile_one(project, 1)
    ours = [*entries(project), project / "composed" / f"{'ab' * 32}.wasm"]
    ours[-1].write_bytes(b"\0asm")
    cleared = hatch_pylon("cache", "clear", cache=project)
    assert cleared.returncode == 0, cleared.stderr
    assert f"{project}: removed 2 entries" in cleared.stdout
    assert all(path.read_bytes() == b"the user's" for path in theirs)
    assert not any(path.exists() for path in ours)
    named = cleared.stdout.split("left what hatch-pylon did not make:\n")[1].splitlines()
    assert named == [
        "  - composed/.tmp-keep",
        "  - composed/app.wasm",
        "  - pyproject.toml",
        "  - wasmtime-build/",
    ]
    assert not (project / MARKER).exists()  # the folder was there first: it is not the cache's to tag or remove


def test_clear_removes_a_cache_root_it_created(tmp_path: Path) -> None:
    cache = tmp_path / "made" / "cache"
    compile_one(cache, 1)
    assert (cache / MARKER).read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    info = hatch_pylon("cache", "info", cache=cache, HATCH_PYLON_CACHE_MAX="100M")
    assert "in 1 entry" in info.stdout, info.stdout
    assert "limit: 100.0 MiB ($HATCH_PYLON_CACHE_MAX)" in info.stdout
    cleared = hatch_pylon("cache", "clear", cache=cache)
    assert "removed 1 entry" in cleared.stdout and "did not make" not in cleared.stdout
    assert not cache.exists() and (tmp_path / "made").is_dir()


def test_the_cache_stays_within_its_limit_dropping_the_least_recently_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    compile_one(cache, 0)
    size = entries(cache)[0].stat().st_size
    limit = str(size * 5 // 2)  # room for two entries
    assert compile_one(cache, 1, limit) == 1
    first, second = (path.name for path in sorted(entries(cache), key=lambda p: p.stat().st_mtime_ns))
    assert compile_one(cache, 0, limit) == 0  # a hit: entry 0 becomes the most recently used
    assert compile_one(cache, 2, limit) == 1
    kept = {path.name for path in entries(cache)}
    assert len(kept) == 2 and first in kept and second not in kept
    for n in range(3, 6):
        compile_one(cache, n, limit)
        assert sum(path.stat().st_size for path in entries(cache)) <= int(limit)
    info = hatch_pylon("cache", "info", cache=cache, HATCH_PYLON_CACHE_MAX=limit)
    assert "in 2 entries" in info.stdout, info.stdout


def test_an_entry_a_running_process_holds_is_not_evicted(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(cache), "HATCH_PYLON_CACHE_MAX": "1"}
    holder = subprocess.Popen(
        [sys.executable, "-c", COMPILE, "0", "hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "1"
        (held,) = entries(cache)
        for n in (1, 2):
            compile_one(cache, n, "1")  # each evicts every entry no live process holds, its own excepted
        assert held.exists() and len(entries(cache)) == 2
    finally:
        holder.communicate("")
    compile_one(cache, 3, "1")  # the holder is gone: its entry goes now
    assert not held.exists() and len(entries(cache)) == 1
    assert not list((cache / ".hatch-pylon-pins").iterdir())  # every process's pin file is gone with it


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1 << 20), ("100M", 100 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29), ("512k", 512 << 10)],
)
def test_sizes_read_as_bytes_or_with_a_unit(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_bad_limit_is_one_message_before_anything_runs(tmp_path: Path) -> None:
    for bad in ("lots", "1.5", "-3M", "10X"):
        refused = hatch_pylon("cache", "info", cache=tmp_path, HATCH_PYLON_CACHE_MAX=bad)
        assert refused.returncode == 1
        assert refused.stderr == (
            f"hatch-pylon: error: HATCH_PYLON_CACHE_MAX={bad!r} is not a size: give bytes, or a number with K, M, "
            "G or T (100M, 2G)\n"
        )


def test_the_suite_compiles_into_a_cache_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> None:
    """conftest's ``private_cache``: every test and every process it starts, whatever it compiles."""
    asked = subprocess.run(
        [sys.executable, "-c", "from hatch_pylon.wasm.cache import default_cache_dir; print(default_cache_dir())"],
        capture_output=True,
        text=True,
    )
    chosen = Path(asked.stdout.strip())
    assert chosen == Path(os.environ["HATCH_PYLON_CACHE_DIR"])
    assert tmp_path_factory.getbasetemp().parent in chosen.parents or tmp_path_factory.getbasetemp() in chosen.parents
