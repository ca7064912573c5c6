"""Import types decoded from the binary agree with wasmtime's reflection, and fall back when they cannot."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import wasmtime
from helpers import SEEDS, fuzz_examples, mutate, mutation, write_component
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wasmtime.component import Component

from hatch_pylon.bundle.typecheck import type_problems
from hatch_pylon.composectl.plan import Binding
from hatch_pylon.wasm.binary import Limits, scan
from hatch_pylon.wasm.compiler import Compiler
from hatch_pylon.wasm.reflect import exports_of, imports_of
from hatch_pylon.wasm.signatures import (
    InstanceSignatures,
    Signature,
    Undecidable,
    decode_file,
    decode_types,
    export_signatures,
    import_signatures,
)

# Every value type constructor, type exports, resources through own/borrow, types shared between
# interfaces through `alias export` (WIT's `use`), outer aliases and a bare function import.
RICH = (Path(__file__).parents[1] / "rich_types.wat").read_text()


def wasmtime_view(data: bytes) -> dict:
    engine = wasmtime.Engine()
    return imports_of(Component(engine, data).type, engine)


def wasmtime_exports(data: bytes) -> dict:
    engine = wasmtime.Engine()
    return exports_of(Component(engine, data).type, engine)


CAPS = Path(__file__).parents[2] / "sample-project" / "caps"
TESTS = Path(__file__).parents[1]


@pytest.mark.parametrize("wat", ["rich_exports.wat", "arrow-core.wat", "pylon-math.wat"])
def test_exports_follow_lifts_bundles_and_nested_components_as_wasmtime_does(wat: str) -> None:
    data = wasmtime.wat2wasm(((CAPS if wat != "rich_exports.wat" else Path(__file__).parents[1]) / wat).read_text())
    assert export_signatures(data) == wasmtime_exports(data)
    assert import_signatures(data) == wasmtime_view(data)


def test_exported_types_read_from_the_binary() -> None:
    exports = export_signatures(wasmtime.wat2wasm((Path(__file__).parents[1] / "rich_exports.wat").read_text()))
    assert exports["nested:inst/x@0.1.0"] == InstanceSignatures({"h": Signature((), "u32")})
    assert str(exports["first"]) == "func(p: tuple<u8, u16>) -> u8"
    assert exports["my:geo/shapes@2.0.0"].functions["area"].params == (("p", "record { x: u32, y: f64 }"),)


def test_every_type_constructor_renders_as_wasmtime_does() -> None:
    data = wasmtime.wat2wasm(RICH)
    decoded = import_signatures(data)
    assert decoded == wasmtime_view(data)
    shapes = decoded["pkg:geo/shapes@1.2.3"].functions
    assert str(shapes["area"]) == (
        "func(s: variant { circle(f32), dot, poly(list<record { x: s32, y: f64 }>) }, "
        "o: flags { fill, stroke }) -> option<tuple<u8, char>>"
    )
    assert str(shapes["load"]) == "func(h: own<b>) -> result<list<u8>, string>"  # b: the name `shapes` gives it
    assert decoded["top-level-func"] == Signature((("x", "string"),), "list<tuple<string, u32>>")


@pytest.mark.slow
def test_the_real_root_decodes_as_wasmtime_reflects_it(python_root: Path, compile_cache: Path) -> None:
    data = python_root.read_bytes()
    compiler = Compiler(compile_cache)
    component = compiler.component(data, hashlib.sha256(data).hexdigest())
    decoded = import_signatures(data)
    assert decoded == imports_of(component.type, compiler.engine)
    # its exports come from instantiating wit-component's shim: followed through the nested component
    assert export_signatures(data) == exports_of(component.type, compiler.engine)
    assert decoded["pylon:math/ops@1.1.0"] == InstanceSignatures(
        {
            "add": Signature((("a", "s64"), ("b", "s64")), "s64"),
            "mul": Signature((("a", "s64"), ("b", "s64")), "s64"),
        }
    )
    functions = sum(len(i.functions) for i in decoded.values() if isinstance(i, InstanceSignatures))
    assert functions > 100  # every WASI interface, resources and all, not just the two caps
    kept = scan(python_root, keep_types=True).shaping  # what a build's one read keeps for the type check
    assert kept is not None and len(kept) < len(data) // 10
    assert decode_types(kept, "root", exports=True) == (decoded, export_signatures(data))


UNMODELLED = '(component (import "a:b/c@1.0.0" (instance (core type (module)) (export "f" (func (result u32))))))'


def test_what_is_not_modelled_is_undecidable() -> None:
    with pytest.raises(Undecidable, match="core types are not modelled"):
        import_signatures(wasmtime.wat2wasm(UNMODELLED))
    with pytest.raises(Undecidable, match="not a component"):
        import_signatures(b"\0asm\x01\0\0\0")


def test_types_that_grow_exponentially_stop_at_a_budget() -> None:
    # 60 bytes of tuple-of-previous render to 2**60 characters; wasmtime refuses these too.
    types = ["(type $t0 (tuple u32 u32))"] + [f"(type $t{k} (tuple $t{k - 1} $t{k - 1}))" for k in range(1, 60)]
    wat = (
        f'(component {" ".join(types)} (import "x" (instance (export "t" (type $t (eq $t59))) '
        '(export "f" (func (result $t))))))'
    )
    with pytest.raises(Undecidable, match="too large to render"):
        import_signatures(wasmtime.wat2wasm(wat))


def test_an_outer_alias_count_from_the_file_is_checked_before_it_is_followed() -> None:
    # An alias "outer 268435455" at the top level (a fuzzer input): the count is checked against the real
    # nesting before any parent is walked, so it is refused at once.
    data = bytes.fromhex("0061736d0d000100060e420102ffffffff00000000005b0500010000053e440001000a0101")
    for decode in (import_signatures, export_signatures):
        with pytest.raises(Undecidable, match="outer alias past the outermost component"):
            decode(data)


def test_an_undecidable_consumer_is_checked_by_wasmtime(tmp_path: Path) -> None:
    root = tmp_path / "root.wasm"
    root.write_bytes(wasmtime.wat2wasm(UNMODELLED))
    provider = write_component(tmp_path / "p.wasm", exports=["a:b/c@1.0.0"], sig='(param "x" u32) (result u32)')
    files = {
        cid: (path, hashlib.sha256(path.read_bytes()).hexdigest()) for cid, path in (("python", root), ("p", provider))
    }
    compiler = Compiler(tmp_path / "cache")
    problems = type_problems(files, [Binding("python", "a:b/c@1.0.0", "p", "a:b/c@1.0.0")], compiler).problems
    assert problems == [
        "python -> p (a:b/c@1.0.0): function 'f' differs: consumer imports func() -> u32, "
        "provider exports func(x: u32) -> u32"
    ]
    assert compiler.compiled == 1  # only the root, which could not be decoded; the provider's exports were


EXPORTS_SEED = wasmtime.wat2wasm((Path(__file__).parents[1] / "rich_exports.wat").read_text())


@settings(max_examples=fuzz_examples(1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from([*SEEDS, wasmtime.wat2wasm(RICH), EXPORTS_SEED]),
    steps=st.lists(mutation, min_size=1, max_size=4),
)
def test_mutated_components_only_raise_undecidable(seed: bytes, steps: list[tuple]) -> None:
    data = mutate(seed, steps)
    for decode in (import_signatures, export_signatures):
        try:
            decoded = decode(data)
        except Undecidable:
            continue
        assert all(isinstance(name, str) for name in decoded)


def test_the_decoder_walks_sections_with_the_reader_s_bounds() -> None:
    """One top-level section walk (``wasm.binary.top_level_sections``): the same cap and the same bounds check."""
    from hatch_pylon.wasm.binary import MAX_SECTIONS
    from hatch_pylon.wasm.signatures import Undecidable, import_signatures

    preamble = b"\0asm\x0d\x00\x01\x00"
    with pytest.raises(Undecidable, match=f"more than {MAX_SECTIONS} top-level sections"):
        import_signatures(preamble + b"\x00\x01\x00" * (MAX_SECTIONS + 1))
    with pytest.raises(Undecidable, match="section 7 declares 9 bytes, past the end of the file"):
        import_signatures(preamble + b"\x07\x09\x00")


RESOURCE_ONLY = """(component
  (import "a:b/handles@1.0.0" (instance (export "thing" (type (sub resource)))))
  (import "a:b/nested@1.0.0" (instance
    (export "r" (type $r (sub resource)))
    (export "f" (func (param "x" (list (option (borrow $r))))))))
  (import "a:b/values@1.0.0" (instance (export "g" (func (param "x" (list u8)) (result string))))))"""


def test_resource_uses_come_from_the_type_structure_and_agree_with_wasmtime() -> None:
    """The one resource check reads the decoded types and wasmtime's reflected ones alike: an interface
    exporting only a resource type uses resources; a handle nested in a list of options does too."""
    from hatch_pylon.wasm.signatures import resource_uses

    expected = {
        "pkg:geo/types@1.0.0": ("blob",),
        "pkg:geo/shapes@1.2.3": ("b", "load", "peek"),
        "top-level-func": (),
        "pkg:geo/outer": (),
        "a:b/handles@1.0.0": ("thing",),
        "a:b/nested@1.0.0": ("f", "r"),
        "a:b/values@1.0.0": (),
    }
    for source in (RICH, RESOURCE_ONLY):
        data = wasmtime.wat2wasm(source)
        decoded, reflected = import_signatures(data), wasmtime_view(data)
        assert decoded == reflected  # the resource facts included
        for name, item in decoded.items():
            assert resource_uses(item) == resource_uses(reflected[name]) == expected[name], name


@pytest.mark.parametrize("wat", ["rich_exports.wat", "rich_types.wat", "arrow-core.wat", "pylon-math.wat"])
def test_a_scan_keeps_what_the_type_check_decodes(tmp_path: Path, wat: str) -> None:
    """The sections one scan keeps decode to what the file itself decodes to: the build reads each file once."""
    path = tmp_path / "c.wasm"
    path.write_bytes(
        wasmtime.wat2wasm(((CAPS if wat in ("arrow-core.wat", "pylon-math.wat") else TESTS) / wat).read_text())
    )
    scanned = scan(path, keep_types=True)
    assert scanned.shaping is not None and len(scanned.shaping) < path.stat().st_size
    assert scanned.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert decode_types(scanned.shaping, str(path), exports=True) == decode_file(path, exports=True)
    assert scan(path).shaping is None  # kept only when asked


def test_a_scan_over_its_type_budget_leaves_types_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.wasm"
    path.write_bytes(wasmtime.wat2wasm((TESTS / "rich_exports.wat").read_text()))
    assert scan(path, limits=Limits(max_shaping=16), keep_types=True).shaping is None
