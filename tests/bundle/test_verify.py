"""`verify` on good artifacts, and on each way an artifact can be wrong."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import name, raw_component, section, write_component

from hatch_pylon._errors import PylonError
from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.bundle.verify import verify_bundle
from hatch_pylon.use.runtime import Runtime
from hatch_pylon.wasm.compiler import Compiler

DEST = "sample_pkg/_pylon"


@pytest.fixture
def bundle_folder(sample_wheel: Path, tmp_path: Path) -> Path:
    with zipfile.ZipFile(sample_wheel) as archive:
        archive.extractall(tmp_path / "wheel")
    return tmp_path / "wheel" / DEST


def verify(folder: Path, compile_cache: Path, **kwargs):
    return verify_bundle(folder, compiler=Compiler(compile_cache), **kwargs).report


def verify_folder(folder: Path, **kwargs):
    return verify_bundle(folder, **kwargs).report


def test_good_artifacts_pass(sample_wheel: Path, bundle_folder: Path, compile_cache: Path, capsys) -> None:
    report = verify(bundle_folder, compile_cache)
    assert report.ok, report.problems
    assert report.typed and (report.checked_components, report.checked_bindings) == (4, 3)
    assert main(["verify", str(sample_wheel)]) == 0
    assert "OK (4 components, 3 bindings; blobs re-hashed, names and types checked)" in capsys.readouterr().out


def test_compile_all_on_good_artifacts(sample_wheel: Path, compile_cache: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HATCH_PYLON_CACHE_DIR", str(compile_cache))  # the session's: the root compiles once
    assert main(["verify", "--compile-all", str(sample_wheel)]) == 0
    assert "names and types checked; every component compiled)" in capsys.readouterr().out


def test_types_are_checked_without_compiling_and_compiles_are_cached(bundle_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, second, third = Compiler(cache), Compiler(cache), Compiler(cache)
    assert verify_folder(bundle_folder, compiler=first).typed
    assert first.compiled == 0  # every import and export type was read from the binaries
    verify_folder(bundle_folder, compiler=second, compile_all=True)
    verify_folder(bundle_folder, compiler=third, compile_all=True)
    assert (second.compiled, third.compiled) == (4, 0)


def blob_of(folder: Path, component_id: str) -> Path:
    plan = json.loads((folder / "plan.json").read_text())
    digest = bytes(next(c for c in plan["components"] if c["id"] == component_id)["digest"]).hex()
    return folder / ".compose" / "blobs" / digest[:2] / digest[2:]


def edit_plan(folder: Path, change) -> None:
    plan = json.loads((folder / "plan.json").read_text())
    change(plan)
    (folder / "plan.json").write_text(json.dumps(plan))


def tamper(folder: Path) -> None:
    blob = blob_of(folder, "arrow-core")
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))


def add_stray_blob(folder: Path) -> None:
    # The shard may already hold a real blob (digests depend on the toolchain); a
    # name no SHA-256 hex can take keeps the stray file apart from the real ones.
    stray = folder / ".compose" / "blobs" / "ff" / "stray"
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"x")


BAD_CASES = {
    "tampered blob byte": (tamper, "component 'arrow-core': blob .compose/blobs/"),
    "removed blob": (lambda f: blob_of(f, "pylon-math").unlink(), "component 'pylon-math': blob"),
    "extra blob": (add_stray_blob, "blob .compose/blobs/ff/stray is not named by the plan"),
    "unsorted plan": (
        lambda f: edit_plan(f, lambda p: p["components"].reverse()),
        "plan.json: components are not in canonical (ascending id) order",
    ),
    "missing binding": (
        lambda f: edit_plan(f, lambda p: p["bindings"].pop(0)),
        "component 'arrow-core': import 'pylon:math/ops@1.0.0' is not bound",
    ),
    "binding to a missing export": (
        lambda f: edit_plan(f, lambda p: p["bindings"][1].update(export_name="arrow:core/array@0.2.0")),
        "'arrow-core' does not export 'arrow:core/array@0.2.0'",
    ),
}
FOLLOW_UPS = {"tampered blob byte": "was modified", "removed blob": "is missing"}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_artifacts_fail_naming_the_cause(bundle_folder: Path, compile_cache: Path, case: str, capsys) -> None:
    change, fragment = BAD_CASES[case]
    change(bundle_folder)
    report = verify(bundle_folder, compile_cache)
    assert any(fragment in p and FOLLOW_UPS.get(case, "") in p for p in report.problems), report.problems
    assert main(["verify", str(bundle_folder)]) == 1
    assert fragment in capsys.readouterr().err


def test_every_problem_is_reported(bundle_folder: Path, compile_cache: Path) -> None:
    tamper(bundle_folder)
    blob_of(bundle_folder, "pylon-math").unlink()
    edit_plan(bundle_folder, lambda p: p["bindings"].pop(1))
    problems = verify(bundle_folder, compile_cache).problems
    assert any("'arrow-core'" in p and "was modified" in p for p in problems)
    assert any("'pylon-math'" in p and "is missing" in p for p in problems)
    assert any("import 'arrow:core/array@0.1.0' is not bound" in p for p in problems)


def mismatched_project(root: Path, validate: str = "names") -> dict:
    write_component(root / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(root / "caps/p.wasm", exports=["a:b/c@1.0.0"], sig='(param "x" u32) (result u32)')
    return {"root": "root.wasm", "component-dirs": ["caps"], "validate": validate}


SIGNATURE_MESSAGE = (
    "python -> p (a:b/c@1.0.0): function 'f' differs: consumer imports func() -> u32, "
    "provider exports func(x: u32) -> u32"
)


NAMES_ONLY = (
    'the build checked names only (validate = "names"), so it did not compare these types: make both sides\' '
    "WIT agree, then rebuild (a rebuild alone makes the same bundle)"
)


def broken_provider(path: Path, export: str) -> Path:
    """Well-formed at the top level (so it resolves), but its core module is not valid wasm."""
    bad_module = b"\0asm\x01\x00\x00\x00" + section(1, b"\x01\x60\x01")  # a function type cut short
    exports = b"\x01" + b"\x00" + name(export) + b"\x05\x00\x00"  # (export "<export>" (instance 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw_component(section(1, bad_module), section(11, exports)))
    return path


def test_a_provider_wasmtime_rejects_is_named_not_a_traceback(tmp_path: Path, compile_cache: Path) -> None:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    broken_provider(tmp_path / "caps/p.wasm", "a:b/c@1.0.0")
    raw = {"root": "root.wasm", "component-dirs": ["caps"]}
    folder = build_bundle(load_config(raw, project_root=tmp_path, project_name="d", environ={})).write_to(
        tmp_path / "bundle"
    )
    problems = verify(folder, compile_cache).problems
    message = "component 'p': wasmtime cannot compile it: failed to parse WebAssembly module (unexpected end-of-file"
    assert len(problems) == 1 and problems[0].startswith(message)
    with pytest.raises(PylonError, match=re.escape(message)):
        Runtime(folder, Compiler(compile_cache)).load()


def test_compile_all_proves_the_code_the_decoder_does_not_read(tmp_path: Path, compile_cache: Path, capsys) -> None:
    root = write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    bad_module = b"\0asm\x01\x00\x00\x00" + section(1, b"\x01\x60\x01")
    root.write_bytes(root.read_bytes() + section(1, bad_module))  # imports intact, code broken
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.0.0"])
    raw = {"root": "root.wasm", "component-dirs": ["caps"]}
    folder = build_bundle(load_config(raw, project_root=tmp_path, project_name="d", environ={})).write_to(
        tmp_path / "bundle"
    )
    assert verify(folder, compile_cache).ok  # types decoded from the binary: the root is never compiled
    problems = verify(folder, compile_cache, compile_all=True).problems
    assert problems == [problems[0]] and problems[0].startswith("component 'python': wasmtime cannot compile it")
    assert main(["verify", "--compile-all", str(folder)]) == 1
    assert "component 'python': wasmtime cannot compile it" in capsys.readouterr().err


def test_binding_to_a_provider_with_another_signature(tmp_path: Path, compile_cache: Path) -> None:
    config = load_config(mismatched_project(tmp_path), project_root=tmp_path, project_name="d", environ={})
    folder = build_bundle(config).write_to(tmp_path / "bundle")  # names resolve; only types can tell
    assert verify(folder, compile_cache, types=False).ok
    assert verify(folder, compile_cache).problems == [SIGNATURE_MESSAGE, NAMES_ONLY]


@pytest.mark.slow
def test_a_type_mismatch_fails_the_default_build(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    raw = mismatched_project(project)
    del raw["validate"]  # types are checked by default
    (project / "demo").mkdir()
    (project / "demo" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "demo"\nversion = "1"\n[tool.hatch.build.hooks.pylon]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in raw.items())
    )
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "HATCH_PYLON_CACHE_DIR": str(tmp_path / "c")},
    )
    assert result.returncode != 0
    assert SIGNATURE_MESSAGE in result.stdout + result.stderr
    assert not list(project.glob("dist/*.whl"))


def _same_refusal_everywhere(folder: Path, tmp_path: Path, capsys, fragment: str) -> None:
    """verify, run and trust refuse the bundle with the same message, and trust writes nothing."""
    messages = []
    for command in (["verify"], ["run"], ["trust", "--store", str(tmp_path / "store")]):
        assert main([command[0], str(folder), *command[1:]]) == 1
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err, err
        messages.append(err[err.index("failed verification") :])
    assert messages[0] == messages[1] == messages[2]
    assert not list((tmp_path / "store").rglob("*.json"))


def test_run_and_trust_refuse_what_verify_refuses_by_type(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HATCH_PYLON_CACHE_DIR", str(tmp_path / "cache"))
    write_component(
        tmp_path / "root.wasm", imports=["a:b/c@1.0.0"], import_sigs={"a:b/c@1.0.0": '(param "x" s64) (result s64)'}
    )
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.0.0"], sig='(param "x" u32) (result u32)')
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "validate": "names"}  # a bundle only verify refuses
    folder = build_bundle(load_config(raw, project_root=tmp_path, project_name="d", environ={})).write_to(
        tmp_path / "bundle"
    )
    _same_refusal_everywhere(
        folder,
        tmp_path,
        capsys,
        "python -> p (a:b/c@1.0.0): function 'f', parameter 'x': consumer imports s64, provider exports u32\n"
        "  - python -> p (a:b/c@1.0.0): function 'f', result: consumer imports s64, provider exports u32\n"
        '  - the build checked names only (validate = "names"), so it did not compare these types',
    )


def test_run_and_trust_refuse_a_blob_that_is_not_webassembly(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HATCH_PYLON_CACHE_DIR", str(tmp_path / "cache"))
    write_component(tmp_path / "root.wasm")
    folder = build_bundle(
        load_config({"root": "root.wasm"}, project_root=tmp_path, project_name="d", environ={})
    ).write_to(tmp_path / "bundle")
    junk = b"#!/bin/sh\necho not WebAssembly\n"
    digest = hashlib.sha256(junk).hexdigest()
    (folder / ".compose/blobs" / digest[:2]).mkdir(parents=True, exist_ok=True)
    (folder / ".compose/blobs" / digest[:2] / digest[2:]).write_bytes(junk)
    edit_plan(folder, lambda p: p["components"].insert(0, {"id": "junk", "digest": list(bytes.fromhex(digest))}))
    _same_refusal_everywhere(folder, tmp_path, capsys, "component 'junk': blob .compose/blobs/")


def test_every_consumer_refuses_a_wheel_whose_record_does_not_match(tmp_path: Path, capsys, monkeypatch) -> None:
    """RECORD mismatches found while unpacking reach the user through the gate, in every command."""
    # compose looks for wasm-tools first (not in the test extras); a path that does not exist passes that check
    # and proves the gate refuses before wasm-tools would ever run
    monkeypatch.setenv("HATCH_PYLON_WASM_TOOLS", str(tmp_path / "no-wasm-tools"))
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.0.0"])
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "destination": "pkg/_pylon"}
    folder = build_bundle(load_config(raw, project_root=tmp_path, project_name="pkg", environ={})).write_to(
        tmp_path / "bundle"
    )
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        record = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            member = f"pkg/_pylon/{path.relative_to(folder).as_posix()}"
            archive.write(path, member)
            record.append(f"{member},sha256=wrong,{path.stat().st_size}")
        archive.writestr("pkg-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    expected = "RECORD's hash or size for pkg/_pylon/plan.json does not match the file"
    commands = [
        ["verify", str(wheel)],
        ["trust", str(wheel), "--store", str(tmp_path / "store")],
        ["run", str(wheel)],
        ["compose", str(wheel), "-o", str(tmp_path / "out.wasm")],
    ]
    for command in commands:
        assert main(command) == 1, command
        err = capsys.readouterr().err
        assert expected in err and "failed verification" in err, (command, err)
    assert not (tmp_path / "store").exists() and not (tmp_path / "out.wasm").exists()


def test_a_blob_gone_after_the_gate_hashed_it_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    from hatch_pylon.bundle.typecheck import type_problems
    from hatch_pylon.composectl.plan import Binding

    missing = tmp_path / "gone.wasm"
    report = type_problems({"python": (missing, "ab" * 32)}, [Binding("python", "a:b/c@1.0.0", "p", "x")], None)
    assert report.problems == [f"component 'python': {missing} cannot be read (No such file or directory)"]
