"""Real builds with hatchling through a PEP 517 front-end (``python -m build``), in temp dirs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from helpers import copy_sample, run_build, sha256, tiny_project

from hatch_pylon.composectl.plan import parse_plan
from hatch_pylon.wasm.binary import inspect

pytestmark = pytest.mark.slow

DEST = "sample_pkg/_pylon"


def built(project: Path, *flags: str, **kwargs) -> tuple[Path | None, Path | None]:
    result = run_build(project, *flags, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    dist = project / "dist"
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    return (wheels[0] if wheels else None), (sdists[0] if sdists else None)


def wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def sdist_files(sdist: Path) -> dict[str, bytes]:
    with tarfile.open(sdist) as archive:
        return {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def assert_valid_bundle(files: dict[str, bytes], folder: str, project: Path) -> dict:
    parse_plan(files[f"{folder}/plan.json"], "plan.json")  # raises on any problem
    plan = json.loads(files[f"{folder}/plan.json"])
    blob_names = {name for name in files if name.startswith(f"{folder}/.compose/blobs/")}
    expected = set()
    for component in plan["components"]:
        digest = bytes(component["digest"]).hex()
        name = f"{folder}/.compose/blobs/{digest[:2]}/{digest[2:]}"
        expected.add(name)
        assert hashlib.sha256(files[name]).hexdigest() == digest
    assert blob_names == expected
    # every non-wasi import of every bundled component is bound
    bound = {(b["consumer_id"], b["import_name"]) for b in plan["bindings"]}
    for component in plan["components"]:
        digest = bytes(component["digest"]).hex()
        blob = project / "blob-check.wasm"
        blob.write_bytes(files[f"{folder}/.compose/blobs/{digest[:2]}/{digest[2:]}"])
        for extern in inspect(blob).imports:
            if not extern.name.startswith(("wasi:", "compose:dynlink/linker", "sys:compose/")):  # or the host's
                assert (component["id"], extern.name) in bound
        blob.unlink()
    return plan


def test_sample_wheel_and_sdist_carry_a_valid_plan_and_blobs(sample_project: Path, python_root: Path) -> None:
    result = run_build(sample_project, "--sdist", "--wheel")
    assert result.returncode == 0, result.stdout + result.stderr
    # a Pylon in its real shape, a runtime plan composectl's exec runs (flavor B): nothing to warn about
    assert "warning" not in (result.stdout + result.stderr).lower()
    wheel, sdist = next((sample_project / "dist").glob("*.whl")), next((sample_project / "dist").glob("*.tar.gz"))
    files = wheel_files(wheel)
    plan = assert_valid_bundle(files, DEST, sample_project)
    assert (plan["root"], plan["linkage"]) == ("python", "runtime")
    assert [c["id"] for c in plan["components"]] == ["arrow-core", "greeter", "pylon-math", "python"]
    assert [(b["consumer_id"], b["import_name"], b["provider_id"], b["export_name"]) for b in plan["bindings"]] == [
        ("arrow-core", "pylon:math/ops@1.0.0", "pylon-math", "pylon:math/ops@1.2.0"),
        ("python", "arrow:core/array@0.1.0", "arrow-core", "arrow:core/array@0.1.0"),
        ("python", "pylon:math/ops@1.1.0", "pylon-math", "pylon:math/ops@1.2.0"),
    ]
    root_digest = bytes(next(c for c in plan["components"] if c["id"] == "python")["digest"]).hex()
    assert root_digest == sha256(python_root)
    sdist_content = sdist_files(sdist)
    assert sdist_content[".pylon-bundle/plan.json"] == files[f"{DEST}/plan.json"]
    assert_valid_bundle(sdist_content, ".pylon-bundle", sample_project)
    assert not any(name.startswith(("wasm/", ".compose/")) or name.endswith(".wasm") for name in sdist_content)
    # the local store is composectl's layout too
    assert (sample_project / ".compose/blobs" / root_digest[:2] / root_digest[2:]).is_file()
    # the CLI previews exactly what the build wrote
    cli = subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "plan", str(sample_project), "--json"], capture_output=True, check=True
    )
    assert cli.stdout == files[f"{DEST}/plan.json"]


def test_wheel_from_sdist_without_original_files(sample_project: Path, tmp_path: Path) -> None:
    direct_wheel, sdist = built(sample_project, "--sdist", "--wheel")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    source = next(unpacked.iterdir())
    assert not (source / "wasm").exists() and not list((source / "caps").glob("*.wasm"))
    result = run_build(source, "--wheel")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using the bundle shipped in the sdist" in result.stdout + result.stderr
    from_sdist = next((source / "dist").glob("*.whl"))
    assert from_sdist.read_bytes() == direct_wheel.read_bytes()


def test_wheel_from_sdist_refuses_a_tampered_bundle(sample_project: Path, tmp_path: Path) -> None:
    _, sdist = built(sample_project, "--sdist")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    source = next(unpacked.iterdir())
    blob = next(
        p for p in (source / ".pylon-bundle/.compose/blobs").rglob("*") if p.is_file() and p.stat().st_size < 1000
    )
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    result = run_build(source, "--wheel")
    assert result.returncode != 0
    assert "failed verification" in result.stdout + result.stderr and "was modified" in result.stdout + result.stderr
    assert not list(source.glob("dist/*.whl"))


def test_builds_are_byte_identical_across_places_mtimes_umask_and_env_paths(python_root: Path, tmp_path: Path) -> None:
    first = copy_sample(tmp_path / "one" / "sample-project", python_root)
    second = copy_sample(tmp_path / "elsewhere" / "deeper" / "sample-project", python_root)
    for index, path in enumerate(sorted(second.rglob("*"))):
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    moved_root = tmp_path / "ci-cache" / "python-copy.wasm"
    moved_root.parent.mkdir()
    shutil.copy(second / "wasm" / "python.wasm", moved_root)
    (second / "wasm" / "python.wasm").unlink()
    wheel_a, sdist_a = built(first, "--sdist", "--wheel")
    wheel_b, sdist_b = built(second, "--sdist", "--wheel", env={"PYTHON_WASM": str(moved_root)}, umask=0o077)
    assert wheel_a.read_bytes() == wheel_b.read_bytes()
    assert sdist_a.read_bytes() == sdist_b.read_bytes()
    assert str(tmp_path).encode() not in wheel_a.read_bytes()


def test_editable_install_keeps_the_package_and_ships_the_plan(sample_project: Path, tmp_path: Path) -> None:
    from build import ProjectBuilder

    editable = Path(ProjectBuilder(sample_project).build("editable", tmp_path / "editable-dist"))
    names = set(wheel_files(editable))
    assert f"{DEST}/plan.json" in names
    assert "sample_pkg/__init__.py" not in names  # the source tree stays the package
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(editable)],
        check=True,
        capture_output=True,
    )
    probe = textwrap.dedent(f"""
        import site, importlib.metadata as md
        site.addsitedir({str(target)!r})
        import sample_pkg
        print(sample_pkg.__file__)
        plan = [f for f in md.distribution("sample-pkg").files if f.name == "plan.json"][0]
        print(plan.locate())
    """)
    # -S: only the install target, never what this interpreter's site-packages hold (a sample_pkg a README
    # walkthrough installed there would shadow the editable one)
    command = [sys.executable, "-S", "-c", probe]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == str(sample_project / "sample_pkg" / "__init__.py")
    assert json.loads(Path(out[1]).read_text())["root"] == "python"


# -- error cases: each fails the build with its message and leaves no artifact --------------------


ROOT = {"root.wasm": {"imports": ["a:b/c@1.0.0"]}}
PROVIDER = {"caps/p.wasm": {"exports": ["a:b/c@1.0.0"]}}

ERROR_CASES = {
    "unresolved import": (
        'root = "root.wasm"',
        ROOT,
        "python (root.wasm) imports instance 'a:b/c@1.0.0': no component exports it",
    ),
    "two providers": (
        'root = "root.wasm"\ncomponent-dirs = ["caps"]',
        {**ROOT, **PROVIDER, "caps/q.wasm": {"exports": ["a:b/c@1.0.0"]}},
        "pin one by listing it under [[tool.hatch.build.hooks.pylon.components]]",
    ),
    "missing file": ('root = "nope.wasm"', {}, "tool.hatch.build.hooks.pylon.root: nope.wasm: file not found"),
    "unset variable": ('root = "${NOT_SET_ANYWHERE}"', {}, "environment variable $NOT_SET_ANYWHERE is not set"),
    "not a component": (
        'root = "root.wasm"\ncomponents = [{ id = "m", path = "m.wasm" }]',
        {**ROOT, **PROVIDER},
        "m.wasm is a core WebAssembly module, not a component",
    ),
    "corrupt file": (
        'root = "root.wasm"\ncomponent-dirs = ["caps"]',
        {**ROOT, **PROVIDER},
        "caps/z.wasm: section 1 declares 16 bytes, past the end of the file (size 12) at offset 8",
    ),
    "duplicate ids": (
        'root = "root.wasm"\ncomponents = [{ id = "p", path = "caps/p.wasm" }, { id = "p", path = "caps/p.wasm" }]',
        {**ROOT, **PROVIDER},
        "components[1].id: duplicate id 'p'",
    ),
    "cycle": (
        'root = "root.wasm"\ncomponent-dirs = ["caps"]',
        {
            **ROOT,
            "caps/p.wasm": {"imports": ["d:e/f@1.0.0"], "exports": ["a:b/c@1.0.0"]},
            "caps/q.wasm": {"imports": ["a:b/c@1.0.0"], "exports": ["d:e/f@1.0.0"]},
        },
        "dependency cycle: p [d:e/f@1.0.0] -> q [a:b/c@1.0.0] -> p",
    ),
    "unknown key": (
        'root = "root.wasm"\ndestnation = "x"',
        ROOT,
        "tool.hatch.build.hooks.pylon.destnation is not a known option",
    ),
    "strict determinism": (
        'root = "root.wasm"\nlinkage = "runtime"\npolicy = { determinism = "strict" }',
        ROOT,
        "policy.determinism: 'strict' cannot be used with runtime linkage",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_fails_the_build_with_its_message(tmp_path: Path, case: str) -> None:
    hook, components, message = ERROR_CASES[case]
    project = tiny_project(tmp_path / "demo-project", hook, components)
    if case == "not a component":
        (project / "m.wasm").write_bytes(b"\0asm\x01\x00\x00\x00")
    if case == "corrupt file":
        (project / "caps/z.wasm").write_bytes(b"\0asm\x0d\x00\x01\x00\x01\x10ab")
    result = run_build(project, "--wheel")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output, output
    assert "Traceback" not in output
    assert not list(project.glob("dist/*"))
    assert not list(project.glob(".compose/**/.tmp-*"))


@pytest.mark.parametrize(
    ("env", "expect_detail", "expect_summary"),
    [({}, False, True), ({"HATCH_VERBOSE": "1"}, True, True), ({"HATCH_QUIET": "1"}, False, False)],
)
def test_output_respects_verbosity_and_size(
    tmp_path: Path, env: dict, expect_detail: bool, expect_summary: bool
) -> None:
    count = 25
    components = {"root.wasm": {"imports": [f"n:c{i}/api@1.0.0" for i in range(count)]}}
    components.update({f"caps/c{i}.wasm": {"exports": [f"n:c{i}/api@1.0.0"]} for i in range(count)})
    project = tiny_project(tmp_path / "big", 'root = "root.wasm"\ncomponent-dirs = ["caps"]', components)
    result = run_build(project, "--wheel", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert ("hatch-pylon: component c7  sha256:" in output) is expect_detail
    summary = f"hatch-pylon: {count + 1} components ("
    assert (summary in output) is expect_summary
    if expect_summary:
        assert f"{count} bindings; plan -> demo/_pylon/plan.json" in output
        assert ("(-v lists them)" in output) is not expect_detail


def test_python_wasm_manifest_supplies_the_caps(tmp_path: Path) -> None:
    """A project shaped like python-wasm: its caps live in .pylon.toml, not repeated in pyproject.toml."""
    project = tiny_project(
        tmp_path / "demo-project",
        'root = "root.wasm"\nmanifest = ".pylon.toml"',
        {**ROOT, "elsewhere/p.wasm": {"exports": ["a:b/c@1.0.0"]}},
    )
    (project / ".pylon.toml").write_text(
        textwrap.dedent("""
        # python-wasm's manifest: capabilities by id and path; other tables belong to other tools
        [[capabilities]]
        id = "compression"
        path = "${COMPRESSION_WASM:-elsewhere/p.wasm}"

        [[shims]]
        src = "shims/zlib.py"
        purpose = "ignored by hatch-pylon"
    """)
    )
    wheel, _ = built(project, "--wheel")
    plan = json.loads(wheel_files(wheel)["demo/_pylon/plan.json"])
    assert [c["id"] for c in plan["components"]] == ["compression", "python"]
    assert plan["bindings"][0]["provider_id"] == "compression"
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text()
        + '\ncomponents = [{ id = "compression", path = "elsewhere/p.wasm" }]\n'
    )
    result = run_build(project, "--wheel")
    assert result.returncode != 0
    assert "duplicate id 'compression'" in result.stdout + result.stderr
