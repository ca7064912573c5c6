"""Type mismatches point: the WIT type where the binary names one, the first differing field or case, one line
per cause, through ``hatch-pylon plan`` and ``verify`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import wasmtime
from helpers import hook_pyproject

GEO = "acme:geo/shapes@1.0.0"


def consumer(point: str, extra: str = "") -> str:
    """A root importing ``shapes`` with a named ``point`` type, used by three functions (once as a result)."""
    return f"""
    (component
      (import "{GEO}" (instance $g
        (type $p' (record {point}))
        (export "point" (type $p (eq $p')))
        (export "area" (func (param "poly" (list $p)) (result f64)))
        (export "centroid" (func (param "poly" (list $p)) (result $p)))
        (export "count" (func (param "poly" (list $p)) (result u32)))
        {extra})))"""


def provider(point: str, extra_types: str = "", extra_funcs: str = "", extra_exports: str = "") -> str:
    """A cap exporting ``shapes`` with its own ``point`` (lifted functions over a memory, as bindings make them)."""
    return f"""
    (component
      (type $p' (record {point}))
      (export $p "point" (type $p'))
      {extra_types}
      (core module $m
        (memory (export "mem") 1)
        (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 64)
        (func (export "area") (param i32 i32) (result f64) f64.const 0)
        (func (export "centroid") (param i32 i32) (result i32) i32.const 0)
        (func (export "count") (param i32 i32) (result i32) local.get 1)
        (func (export "pick") (param i32 i64) (result i32) local.get 0))
      (core instance $i (instantiate $m))
      (alias core export $i "mem" (core memory $mem))
      (alias core export $i "realloc" (core func $realloc))
      (func $area (param "poly" (list $p)) (result f64)
        (canon lift (core func $i "area") (memory $mem) (realloc $realloc)))
      (func $centroid (param "poly" (list $p)) (result $p)
        (canon lift (core func $i "centroid") (memory $mem) (realloc $realloc)))
      (func $count (param "poly" (list $p)) (result u32)
        (canon lift (core func $i "count") (memory $mem) (realloc $realloc)))
      {extra_funcs}
      (instance $api (export "point" (type $p)) (export "area" (func $area)) (export "centroid" (func $centroid))
        (export "count" (func $count)) {extra_exports})
      (export "{GEO}" (instance $api)))"""


def project(folder: Path, root: str, cap: str) -> Path:
    (folder / "caps").mkdir(parents=True)
    (folder / "demo").mkdir()
    (folder / "demo" / "__init__.py").write_text("")
    (folder / "root.wasm").write_bytes(wasmtime.wat2wasm(root))
    (folder / "caps" / "geo.wasm").write_bytes(wasmtime.wat2wasm(cap))
    (folder / "pyproject.toml").write_text(hook_pyproject("demo", 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'))
    return folder


def hatch_pylon(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hatch_pylon", *map(str, args)], capture_output=True, text=True)


def problems(stderr: str) -> list[str]:
    return [line[4:] for line in stderr.splitlines() if line.startswith("  - ")]


F64 = '(field "x" f64) (field "y" f64)'
F32 = '(field "x" f32) (field "y" f32)'


def test_a_field_of_a_named_type_is_one_line_naming_the_type_the_field_and_the_functions(tmp_path: Path) -> None:
    folder = project(tmp_path / "demo", consumer(F64), provider(F32))
    planned = hatch_pylon("plan", folder)
    assert planned.returncode == 1 and "Traceback" not in planned.stderr
    assert problems(planned.stderr) == [
        f"python -> geo ({GEO}): type 'point', field 'x': consumer imports f64, provider exports f32 "
        "(used by 'area', 'centroid', 'count')"
    ]


def test_a_renamed_field_and_a_changed_case_are_pointed_at(tmp_path: Path) -> None:
    kind = '(type $k\' (variant (case "circle" f64) (case "square" f64)))\n(export "kind" (type $k (eq $k\')))'
    pick = '(export "pick" (func (param "k" $k) (result u32)))'
    root = consumer('(field "x" f64) (field "z" f64)', f"{kind}\n{pick}")
    theirs = '(type $k\' (variant (case "circle" f64) (case "square" u32)))\n(export $k "kind" (type $k\'))'
    lifted = '(func $pick (param "k" $k) (result u32) (canon lift (core func $i "pick")))'
    cap = provider(F64, theirs, lifted, '(export "kind" (type $k)) (export "pick" (func $pick))')
    folder = project(tmp_path / "demo", root, cap)
    planned = hatch_pylon("plan", folder)
    assert problems(planned.stderr) == [
        f"python -> geo ({GEO}): type 'point', field 2: consumer imports z: f64, provider exports y: f64 "
        "(used by 'area', 'centroid', 'count')",
        f"python -> geo ({GEO}): type 'kind', case 'square': consumer imports f64, provider exports u32 "
        "(used by 'pick')",
    ]


def test_unnamed_types_point_at_the_parameter_and_the_result(tmp_path: Path) -> None:
    root = f"""
    (component
      (import "{GEO}" (instance
        (export "scale" (func (param "by" (list s64)) (result (option s64)))))))"""
    cap = f"""
    (component
      (core module $m
        (memory (export "mem") 1)
        (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 64)
        (func (export "scale") (param i32 i32) (result i32) i32.const 0))
      (core instance $i (instantiate $m))
      (alias core export $i "mem" (core memory $mem))
      (alias core export $i "realloc" (core func $realloc))
      (func $scale (param "by" (list u64)) (result (option u32))
        (canon lift (core func $i "scale") (memory $mem) (realloc $realloc)))
      (instance $api (export "scale" (func $scale)))
      (export "{GEO}" (instance $api)))"""
    folder = project(tmp_path / "demo", root, cap)
    planned = hatch_pylon("plan", folder)
    assert problems(planned.stderr) == [
        f"python -> geo ({GEO}): function 'scale', parameter 'by', element: consumer imports s64, provider exports u64",
        f"python -> geo ({GEO}): function 'scale', result, value: consumer imports s64, provider exports u32",
    ]


def test_a_names_only_build_verifies_to_the_same_lines_and_says_why_a_rebuild_alone_does_not_help(
    tmp_path: Path,
) -> None:
    folder = project(tmp_path / "demo", consumer(F64), provider(F32))
    with (folder / "pyproject.toml").open("a") as pyproject:
        pyproject.write('validate = "names"\n')
    bundle = tmp_path / "bundle"
    from hatch_pylon.build.pipeline import build_bundle
    from hatch_pylon.build.project import load_project

    build_bundle(load_project(folder)).write_to(bundle)
    verified = hatch_pylon("verify", bundle)
    assert verified.returncode == 1 and "Traceback" not in verified.stderr
    assert problems(verified.stderr) == [
        f"python -> geo ({GEO}): type 'point', field 'x': consumer imports f64, provider exports f32 "
        "(used by 'area', 'centroid', 'count')",
        'the build checked names only (validate = "names"), so it did not compare these types: make both sides\' '
        "WIT agree, then rebuild (a rebuild alone makes the same bundle)",
    ]
