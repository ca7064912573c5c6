"""The runtime loader: trust before compile, resource interfaces composed, a real run from an installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import SAMPLE_OUTPUT, SpyCompiler, write_component

from hatch_pylon._errors import PylonError
from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.bundle.verify import verify_bundle
from hatch_pylon.composectl.linkage import FLAVOR_B, ExecDecision
from hatch_pylon.use.runtime import Runtime
from hatch_pylon.wasm.compiler import Compiler

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundle_folder(sample_wheel: Path, tmp_path: Path) -> Path:
    with zipfile.ZipFile(sample_wheel) as archive:
        archive.extractall(tmp_path / "wheel")
    return tmp_path / "wheel" / "sample_pkg" / "_pylon"


def test_runs_the_bundle_in_process(bundle_folder: Path, compile_cache: Path, capfd) -> None:
    status, value = Runtime(bundle_folder, SpyCompiler(compile_cache)).run()
    assert (status, value) == (0, None)  # the root's wasi:cli/run printed its lines
    assert capfd.readouterr().out == SAMPLE_OUTPUT


def test_the_sample_is_a_plan_composectls_exec_runs_and_nothing_warns(
    sample_project: Path, sample_wheel: Path, bundle_folder: Path, compile_cache: Path
) -> None:
    """A Pylon in its real shape: typed caps bound in the plan and the host's linker (flavor B), runtime linkage,
    an endpoint provider in its registry; plan, verify and run say nothing but what they are asked."""
    report = verify_bundle(bundle_folder).report
    assert report.ok and report.notes == [] and report.exec == ExecDecision(FLAVOR_B)
    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(compile_cache)}
    for command in (["plan", str(sample_project)], ["verify", str(sample_wheel)], ["run", str(sample_wheel)]):
        done = subprocess.run([sys.executable, "-m", "hatch_pylon", *command], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr and "note:" not in done.stderr, done.stderr
    assert (
        "linkage: runtime"
        in subprocess.run(
            [sys.executable, "-m", "hatch_pylon", "plan", str(sample_project)], capture_output=True, text=True, env=env
        ).stdout
    )
    assert done.stdout == SAMPLE_OUTPUT  # the typed call, then the late-bound one


def test_tampered_blob_is_refused_before_anything_compiles(bundle_folder: Path, tmp_path: Path) -> None:
    plan = json.loads((bundle_folder / "plan.json").read_text())
    digest = bytes(next(c for c in plan["components"] if c["id"] == "pylon-math")["digest"]).hex()
    blob = bundle_folder / ".compose/blobs" / digest[:2] / digest[2:]
    blob.write_bytes(blob.read_bytes().replace(b"\x7e", b"\x7f", 1))  # i64.add -> i64.sub
    spy = SpyCompiler(tmp_path / "cache")
    with pytest.raises(
        PylonError,
        match=r"failed verification \(1 problem\):\n  - component 'pylon-math': blob "
        r".* was modified",
    ):
        Runtime(bundle_folder, spy).run()
    assert spy.requested == [] and spy.compiled == 0
    assert not list((tmp_path / "cache").rglob("*.cwasm"))


def test_an_imported_resource_type_the_provider_lacks_is_one_message(tmp_path: Path, monkeypatch) -> None:
    """The root imports an interface holding only a resource type; the provider's has none: linked through the
    host, with or without wasm-tools, the run stops with one message naming both."""
    (tmp_path / "root.wat").write_text(
        '(component (import "r:s/files@1.0.0" (instance (export "handle" (type (sub resource))))))'
    )
    import wasmtime

    import hatch_pylon.bundle.compose as compose_module

    (tmp_path / "root.wasm").write_bytes(wasmtime.wat2wasm((tmp_path / "root.wat").read_text()))
    write_component(tmp_path / "caps/files.wasm", exports=["r:s/files@1.0.0"])
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "linkage": "static"}
    config = load_config(raw, project_root=tmp_path, project_name="d", environ={})
    folder = build_bundle(config).write_to(tmp_path / "bundle")
    message = r"^files exports no resource type 'handle' in 'r:s/files@1.0.0', which a binding to it imports$"
    with pytest.raises(PylonError, match=message):
        Runtime(folder, Compiler(tmp_path / "cache")).run()
    monkeypatch.setattr(compose_module, "find_wasm_tools", lambda: None)
    with pytest.raises(PylonError, match=message):
        Runtime(folder, Compiler(tmp_path / "cache")).run()


def test_trust_writes_composectl_entries(sample_wheel: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    assert main(["trust", str(sample_wheel), "--store", str(store)]) == 0
    entries = sorted(store.glob("trust/*/*.json"))
    blobs = sorted(store.glob("blobs/*/*"))
    assert len(entries) == len(blobs) == 4
    for entry, blob in zip(entries, blobs):
        assert entry.parent.name == blob.parent.name and entry.name == f"{blob.name}.json"
        assert json.loads(entry.read_text()) == {"signer": "hatch-pylon", "backend": "dev"}
    assert capsys.readouterr().out.count("trust/") == 4


@pytest.mark.slow
def test_installed_wheel_runs_from_a_fresh_venv(sample_wheel: Path, tmp_path: Path, compile_cache: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheelhouse), str(REPO)],
        check=True,
        capture_output=True,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{next(wheelhouse.glob('*.whl'))}[run]", str(sample_wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(compile_cache)}
    result = subprocess.run(
        [str(venv / "bin" / "hatch-pylon"), "run", "sample-pkg"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == SAMPLE_OUTPUT
    verified = subprocess.run(
        [str(venv / "bin" / "hatch-pylon"), "verify", "sample-pkg"], capture_output=True, text=True, env=env
    )
    assert verified.returncode == 0 and "OK (4 components, 3 bindings" in verified.stdout


@pytest.mark.parametrize(("discriminant", "status"), [(0, 0), (1, 1)])
def test_wasi_cli_run_result_sets_the_exit_status(tmp_path: Path, discriminant: int, status: int) -> None:
    import wasmtime

    (tmp_path / "root.wasm").write_bytes(
        wasmtime.wat2wasm(f"""
        (component
          (core module $m (func (export "run") (result i32) i32.const {discriminant}))
          (core instance $i (instantiate $m))
          (func $run (result (result)) (canon lift (core func $i "run")))
          (instance $cli (export "run" (func $run)))
          (export "wasi:cli/run@0.2.0" (instance $cli)))""")
    )
    raw = {"root": "root.wasm", "linkage": "static"}
    config = load_config(raw, project_root=tmp_path, project_name="d", environ={})
    folder = build_bundle(config).write_to(tmp_path / "bundle")
    assert Runtime(folder, Compiler(tmp_path / "cache")).run() == (status, None)


def test_a_root_with_nothing_to_run_is_a_named_error(tmp_path: Path) -> None:
    write_component(tmp_path / "root.wasm", exports=["a:b/c@1.0.0"])  # an interface, but no run function
    raw = {"root": "root.wasm", "linkage": "static"}
    config = load_config(raw, project_root=tmp_path, project_name="d", environ={})
    folder = build_bundle(config).write_to(tmp_path / "bundle")
    with pytest.raises(
        PylonError, match=r"root 'python' exports neither wasi:cli/run@0\.2\.\* \(with a run function\)"
    ):
        Runtime(folder, Compiler(tmp_path / "cache")).run()


ANSWER = """(component
  (core module $m (func (export "run") (result i32) i32.const 42))
  (core instance $i (instantiate $m))
  (func (export "run") (result u32) (canon lift (core func $i "run")))
)"""


def test_run_takes_one_component_file_with_wasi_alone(tmp_path: Path) -> None:
    import wasmtime

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hatch_pylon", "run", str(path)], capture_output=True, text=True)

    answer = tmp_path / "answer.composed.wasm"
    answer.write_bytes(wasmtime.wat2wasm(ANSWER))
    ran = run(answer)
    assert (ran.returncode, ran.stdout) == (0, "42\n"), ran.stderr
    module = tmp_path / "module.wasm"
    module.write_bytes(wasmtime.wat2wasm('(module (func (export "run")))'))
    refused = run(module)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"hatch-pylon: error: {module} is a core module, not a component: run the component built from it\n"
    )
    importing = write_component(tmp_path / "needs.wasm", imports=["a:b/c@1.0.0"], exports=["run"])
    refused = run(importing)
    assert refused.returncode == 1
    assert "imports a:b/c@1.0.0: run alone, a component is given WASI only" in refused.stderr
    missing = run(tmp_path / "gone.wasm")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "file not found" in missing.stderr
