"""The binary reader against real components, wasmtime's own view, and malformed bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import wasmtime
from helpers import COMPONENT_HEADER, component_wat, leb, name, raw_component, section
from wasmtime.component import Component

from hatch_pylon._errors import ComponentFormatError
from hatch_pylon.wasm import binary as wasm

FIXTURES = {
    "provider": component_wat(exports=["pylon:math/ops@1.2.0", "run-it"]),
    "consumer": component_wat(imports=["pylon:math/ops@1.0.0", "wasi:cli/stdout@0.2.0"]),
    "both": component_wat(imports=["a:b/c@0.2.1"], exports=["x:y/z@2.0.0", "x:y/w"]),
    "empty": "(component)",
    "nested": """(component
        (import "i:n/x@1.0.0" (instance))
        (import "log" (func $log))
        (component $inner
          (import "hidden" (func $h))
          (core module $im (func (export "g")))
          (core instance $ii (instantiate $im))
          (func $g (canon lift (core func $ii "g")))
          (export "also-hidden" (func $g)))
        (core module $m (func (export "f")))
        (instance $x (instantiate $inner (with "hidden" (func $log))))
        (export "x:y/z" (instance $x)))""",
}


def _write(tmp_path: Path, label: str, data: bytes) -> Path:
    path = tmp_path / f"{label}.wasm"
    path.write_bytes(data)
    return path


def _wasmtime_names(data: bytes) -> tuple[set[str], set[str]]:
    engine = wasmtime.Engine()
    component_type = Component(engine, data).type
    return set(component_type.imports(engine)), set(component_type.exports(engine))


@pytest.mark.parametrize("label", sorted(FIXTURES))
def test_reader_agrees_with_wasmtime(tmp_path: Path, label: str) -> None:
    data = wasmtime.wat2wasm(FIXTURES[label])
    info = wasm.inspect(_write(tmp_path, label, data))
    imports, exports = _wasmtime_names(data)
    assert info.kind == "component"
    assert {e.name for e in info.imports} == imports
    assert {e.name for e in info.exports} == exports


def test_reader_agrees_with_wasmtime_on_real_cpython_root(python_root: Path) -> None:
    info = wasm.inspect(python_root)
    imports, exports = _wasmtime_names(python_root.read_bytes())
    assert {e.name for e in info.imports} == imports
    assert {e.name for e in info.exports} == exports
    assert "arrow:core/array@0.1.0" in imports and "pylon:math/ops@1.1.0" in imports


def test_kinds_and_nested_items_are_not_top_level(tmp_path: Path) -> None:
    info = wasm.inspect(_write(tmp_path, "n", wasmtime.wat2wasm(FIXTURES["nested"])))
    assert info.imports == (wasm.Extern("i:n/x@1.0.0", "instance"), wasm.Extern("log", "func"))
    assert info.exports == (wasm.Extern("x:y/z", "instance"),)


def test_scan_hashes_the_same_bytes_it_parses(tmp_path: Path) -> None:
    data = wasmtime.wat2wasm(FIXTURES["both"])
    path = _write(tmp_path, "both", data)
    scanned = wasm.scan(path)
    assert scanned.digest == hashlib.sha256(data).hexdigest()
    assert scanned.size == len(data)
    assert scanned.info == wasm.inspect(path)


def test_core_module_is_reported_as_module(tmp_path: Path) -> None:
    data = wasmtime.wat2wasm('(module (import "env" "f" (func)) (memory (export "mem") 1))')
    info = wasm.inspect(_write(tmp_path, "m", data))
    assert info.kind == "module"
    assert info.imports == (wasm.Extern("env#f", "func"),)
    assert info.exports == (wasm.Extern("mem", "memory"),)


def _import_section(*entries: bytes) -> bytes:
    return section(10, leb(len(entries)) + b"".join(entries))


INSTANCE_DESC = b"\x05\x00"  # externdesc: instance, type index 0

MALFORMED = {
    "empty file": (b"", "is empty"),
    "3-byte file": (b"\0as", "too short for a WebAssembly header"),
    "bad magic": (b"\x7fELF\x0d\x00\x01\x00", "missing the \\0asm magic"),
    "wrong component version": (b"\0asm\x0c\x00\x01\x00", "unsupported component binary version 0xc"),
    "unknown layer": (b"\0asm\x0d\x00\x02\x00", "unknown WebAssembly layer 2"),
    "truncated section header": (COMPONENT_HEADER + b"\x0a", "truncated inside a section header"),
    "leb over 5 bytes": (COMPONENT_HEADER + b"\x0a\x80\x80\x80\x80\x80\x01", "LEB128 integer longer than 5 bytes"),
    "section past eof": (COMPONENT_HEADER + b"\x01\x10abc", "declares 16 bytes, past the end of the file"),
    "unknown section": (raw_component(section(42, b"")), "unknown section id 42"),
    "count larger than section": (
        raw_component(section(10, leb(3) + b"\x00" + name("a:b/c") + INSTANCE_DESC)),
        "import section declares 3 entries but ends after 1",
    ),
    "truncated in a name": (
        raw_component(section(10, leb(1) + b"\x00" + leb(40) + b"a:b")),
        "40-byte name runs past the end of its section",
    ),
    "non-utf8 name": (
        raw_component(_import_section(b"\x00" + name(b"\xff\xfe") + INSTANCE_DESC)),
        "name is not valid UTF-8",
    ),
    "unknown name encoding": (
        raw_component(_import_section(b"\x07" + name("a") + INSTANCE_DESC)),
        "unknown name encoding 0x07",
    ),
    "name option unknown": (
        raw_component(_import_section(b"\x02" + name("a:b/c@1.2.3") + leb(1) + b"\x09" + name("x") + INSTANCE_DESC)),
        "unknown name option 0x09",
    ),
    "trailing bytes": (raw_component(section(10, leb(0) + b"\x00\x00")), "2 unexpected trailing bytes"),
    "truncated nested module": (
        COMPONENT_HEADER + b"\x01\x20" + b"\0asm\x01\x00\x00\x00",
        "declares 32 bytes, past the end of the file",
    ),
}


@pytest.mark.parametrize("label", sorted(MALFORMED))
def test_malformed_binaries_name_file_and_cause(tmp_path: Path, label: str) -> None:
    data, fragment = MALFORMED[label]
    path = _write(tmp_path, "bad", data)
    for reader in (wasm.inspect, wasm.scan):
        with pytest.raises(ComponentFormatError) as caught:
            reader(path)
        assert fragment in str(caught.value)
        assert str(path) in str(caught.value)


def test_name_encoding_0x02_with_version_suffix_is_read(tmp_path: Path) -> None:
    entry = b"\x02" + name("a:b/c@1.2.3") + leb(1) + b"\x01" + name("1.2.3") + INSTANCE_DESC
    data = raw_component(section(7, b"\x01\x42\x00"), _import_section(entry))  # one empty instance type
    info = wasm.inspect(_write(tmp_path, "v", data))
    assert info.imports == (wasm.Extern("a:b/c@1.2.3", "instance"),)


def test_errors_carry_offsets(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", raw_component(section(42, b"")))
    with pytest.raises(ComponentFormatError) as caught:
        wasm.inspect(path)
    assert caught.value.offset == 8
    assert "at offset 8 (0x8)" in str(caught.value)


def test_directory_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.wasm").mkdir()
    with pytest.raises(ComponentFormatError, match="is a directory"):
        wasm.inspect(tmp_path / "x.wasm")
    with pytest.raises(ComponentFormatError, match="file not found"):
        wasm.inspect(tmp_path / "nope.wasm")


# -- linear on hostile bytes, the external-id name attribute ----------------------------------------------


def test_zero_bytes_after_a_header_are_refused_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time as _time

    from hatch_pylon._errors import ComponentFormatError as _Error
    from hatch_pylon.wasm.binary import inspect as _inspect

    path = tmp_path / "zeros.wasm"
    path.write_bytes(b"\0asm\x0d\x00\x01\x00" + bytes(16 << 20))
    start = _time.monotonic()
    with pytest.raises(_Error, match="custom section of 0 bytes has no name"):
        _inspect(path)
    assert _time.monotonic() - start < 5


def test_runs_of_tiny_custom_sections_are_capped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hatch_pylon._errors import ComponentFormatError as _Error
    from hatch_pylon.wasm.binary import MAX_SECTIONS
    from hatch_pylon.wasm.binary import inspect as _inspect

    path = tmp_path / "tiny.wasm"
    path.write_bytes(b"\0asm\x0d\x00\x01\x00" + b"\x00\x01\x00" * (MAX_SECTIONS + 1))
    with pytest.raises(_Error, match=f"more than {MAX_SECTIONS} top-level sections"):
        _inspect(path)


def test_external_id_name_attribute_is_accepted() -> None:
    from helpers import leb, name, raw_component, section

    from hatch_pylon.wasm.binary import inspect_bytes as _inspect_bytes

    entry = b"\x02" + name("a:b/c@1.0.0") + leb(1) + b"\x02" + name("ext-1") + b"\x05\x00"
    info = _inspect_bytes(raw_component(section(10, leb(1) + entry)))
    assert [e.name for e in info.imports] == ["a:b/c@1.0.0"]
