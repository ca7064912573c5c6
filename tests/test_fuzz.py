"""Mutated real components: the reader returns a result or raises its own error, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime
from components import component_wat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatch_pylon.errors import ComponentFormatError
from hatch_pylon.wasm import WasmInfo, inspect_bytes, scan

SEEDS = [
    wasmtime.wat2wasm(component_wat(imports=["a:b/c@1.0.0", "wasi:cli/stdout@0.2.0"], exports=["x:y/z@2.1.0"])),
    wasmtime.wat2wasm(component_wat(exports=["p:q/r", "run-it"], sig='(param "x" s64) (result s64)')),
    wasmtime.wat2wasm((Path(__file__).parents[1] / "sample-project/caps/arrow-core.wat").read_text()),
    wasmtime.wat2wasm('(module (import "env" "f" (func)) (memory (export "m") 1 2) (global (export "g") i32 '
                      "(i32.const 1)))"),
]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 16)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
)


def mutate(data: bytes, steps: list[tuple]) -> bytes:
    out = bytearray(data)
    for kind, position, arg in steps:
        at = position % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= arg
        elif kind == "insert":
            out[at:at] = arg
        elif kind == "delete":
            del out[at : at + arg]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), steps=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_components_only_raise_the_readers_error(seed: bytes, steps: list[tuple]) -> None:
    data = mutate(seed, steps)
    try:
        info = inspect_bytes(data)
    except ComponentFormatError as error:
        assert error.path == "<bytes>"
        assert error.offset is None or 0 <= error.offset <= len(data)
    else:
        assert isinstance(info, WasmInfo)


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_file_and_memory_readers_agree(tmp_path: Path, index: int) -> None:
    path = tmp_path / "c.wasm"
    path.write_bytes(SEEDS[index])
    assert scan(path).info == inspect_bytes(SEEDS[index])
