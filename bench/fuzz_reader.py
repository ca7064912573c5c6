"""Coverage-guided fuzzing of the component reader and the type decoder with atheris (libFuzzer).

    pip install atheris
    python bench/fuzz_reader.py -max_total_time=600 -timeout=10   # any libFuzzer flags

Seeds are real components (the sample's caps, generated WAT, every value
type constructor, every export path, a core module). Any exception other
than the reader's ComponentFormatError or the decoder's Undecidable is a
crash and stops the run with the input saved by libFuzzer; with
``-timeout=10`` so is any input that takes over 10 seconds (a hang is a bug
too: that is how an unbounded outer-alias walk was found).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import atheris
import wasmtime

with atheris.instrument_imports():
    from hatch_pylon._errors import ComponentFormatError
    from hatch_pylon.wasm.binary import inspect_bytes
    from hatch_pylon.wasm.signatures import Undecidable, export_signatures, import_signatures

REPO = Path(__file__).resolve().parents[1]
SEED_WAT = [
    *(p.read_text() for p in sorted((REPO / "sample-project" / "caps").glob("*.wat"))),
    '(component (import "a:b/c@1.0.0" (instance (export "f" (func (result u32))))) (import "run" (func)))',
    (REPO / "tests" / "rich_types.wat").read_text(),
    (REPO / "tests" / "rich_exports.wat").read_text(),
    '(module (import "env" "f" (func)) (memory (export "m") 1 2) (global (export "g") i32 (i32.const 1)))',
]


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(ComponentFormatError):
        inspect_bytes(data)
    with contextlib.suppress(Undecidable):
        import_signatures(data)
    with contextlib.suppress(Undecidable):
        export_signatures(data)


def main() -> None:
    corpus = Path(tempfile.mkdtemp(prefix="pylon-fuzz-corpus-"))
    for index, wat in enumerate(SEED_WAT):
        (corpus / f"seed{index}.wasm").write_bytes(wasmtime.wat2wasm(wat))
    atheris.Setup([sys.argv[0], *sys.argv[1:], str(corpus)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
