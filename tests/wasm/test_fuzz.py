"""Mutated real components: the reader returns a result or raises its own error, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SEEDS, fuzz_examples, mutate, mutation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatch_pylon._errors import ComponentFormatError
from hatch_pylon.wasm.binary import WasmInfo, inspect_bytes, scan


@settings(max_examples=fuzz_examples(4000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
