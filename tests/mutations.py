"""Real components as fuzzing seeds, and byte-level mutations of them (hypothesis strategies)."""

from __future__ import annotations

from pathlib import Path

import wasmtime
from components import component_wat
from hypothesis import strategies as st

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
