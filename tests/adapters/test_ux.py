"""What a new user meets first: help, pipes, typos, hatch.toml, targets, progress, messages that name their files."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import wasmtime
from helpers import REPO, section, write_component

from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.wasm.compiler import Compiler


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hatch_pylon", *args], capture_output=True, text=True, cwd=cwd)


def project(
    root: Path,
    hook: str,
    requires: str = '["hatchling", "hatch-pylon"]',
    hatch_toml: str | None = None,
    table: str = "[tool.hatch.build.hooks.pylon]",
) -> Path:
    write_component(root / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(root / "caps" / "p.wasm", exports=["a:b/c@1.0.0"])
    body = f'[build-system]\nrequires = {requires}\nbuild-backend = "hatchling.build"\n[project]\nname = "demo"\n'
    if hatch_toml is None:
        body += f"{table}\n{hook}\n"
    else:
        (root / "hatch.toml").write_text(hatch_toml)
    (root / "pyproject.toml").write_text(body)
    return root


def test_help_is_written_for_users() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("inspect", "plan", "verify", "run", "trust", "compose"):
        assert f"  {command} " in result.stdout
    assert "``" not in result.stdout
    run_help = " ".join(cli("run", "--help").stdout.split())  # as read, whatever the wrapping
    assert "required: a wheel (.whl), an sdist (.tar.gz)" in run_help and "(optional)" in run_help


def test_run_without_a_target_names_only_the_target() -> None:
    result = cli("run")
    assert result.returncode == 2
    assert "required: target" in result.stderr and "ARGS" not in result.stderr.splitlines()[-1]


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    big = tmp_path / "big.wasm"
    imports = "".join(f'(import "n:c{i}/api@1.0.0" (instance))' for i in range(4000))
    big.write_bytes(wasmtime.wat2wasm(f"(component {imports})"))
    result = subprocess.run(
        f"{sys.executable} -m hatch_pylon inspect {big} | head -1", shell=True, capture_output=True, text=True
    )
    assert result.stdout == f"{big}: component\n"
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_unknown_keys_get_a_suggestion(tmp_path: Path, capsys) -> None:
    project(tmp_path, 'root = "root.wasm"\ncomponent-dir = ["caps"]')
    assert main(["plan", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "component-dir is not a known option (did you mean 'component-dirs'?)" in err
    assert "has 1 problem:" in err  # counts are spelled one way everywhere


def test_plan_reads_hatch_toml_and_names_it(tmp_path: Path, capsys) -> None:
    project(tmp_path, "", hatch_toml='[build.hooks.pylon]\nroot = "root.wasm"\ncomponent-dirs = ["caps"]\n')
    assert main(["plan", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bindings"][0]["provider_id"] == "p"
    (tmp_path / "hatch.toml").write_text('[build.hooks.pylon]\nroot = "missing.wasm"\n')
    assert main(["plan", str(tmp_path)]) == 1
    assert "hatch.toml: build.hooks.pylon.root: missing.wasm: file not found" in capsys.readouterr().err


def test_plan_checks_that_hatch_can_load_the_hook(tmp_path: Path, capsys) -> None:
    project(tmp_path, 'root = "root.wasm"\ncomponent-dirs = ["caps"]', requires='["hatchling"]')
    assert main(["plan", str(tmp_path)]) == 1
    assert "does not list 'hatch-pylon'" in capsys.readouterr().err


def test_plan_says_when_only_the_wheel_gets_the_bundle(tmp_path: Path, capsys) -> None:
    project(
        tmp_path, 'root = "root.wasm"\ncomponent-dirs = ["caps"]', table="[tool.hatch.build.targets.wheel.hooks.pylon]"
    )
    assert main(["plan", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "for the wheel target only: the sdist gets no bundle" in err
    assert "move the table to [tool.hatch.build.hooks.pylon]" in err


def test_inspect_types_shows_exports_filters_and_hides_wasi(tmp_path: Path, capsys) -> None:
    path = write_component(
        tmp_path / "c.wasm",
        imports=["a:b/c@1.0.0", "wasi:cli/stdout@0.2.0"],
        exports=["x:y/z@2.0.0"],
        sig='(param "x" u32) (result u32)',
    )
    assert main(["inspect", "--types", str(path)]) == 0
    out = capsys.readouterr().out
    assert "wasi:cli/stdout" not in out and "imports (1 of 2; 1 wasi: imports not listed, --all lists them):" in out
    assert main(["inspect", str(path)]) == 0  # the same listing without types
    plain = capsys.readouterr().out
    assert [line for line in plain.splitlines() if not line.startswith(" " * 14)] == [
        line for line in out.splitlines() if not line.startswith(" " * 14)
    ]
    assert main(["inspect", "--json", str(path)]) == 0
    assert "wasi:cli/stdout@0.2.0" in capsys.readouterr().out  # JSON lists every import
    assert "  instance  x:y/z@2.0.0\n              f: func(x: u32) -> u32\n" in out
    assert main(["inspect", "--types", "--all", "--prefix", "wasi:", str(path)]) == 0
    out = capsys.readouterr().out
    assert "wasi:cli/stdout@0.2.0" in out and "a:b/c" not in out


def test_the_first_long_compile_says_so(tmp_path: Path) -> None:
    data = wasmtime.wat2wasm('(component (core module (func (export "f"))))')
    data += section(0, b"\x07padding" + bytes(2 << 20))  # over a MiB: worth a line
    said: list[str] = []
    compiler = Compiler(tmp_path / "cache", say=said.append)
    compiler.component(data, "ab" * 32, "python")
    assert said[0] == "compiling python (2.0 MiB); cached for next time"
    said.clear()
    Compiler(tmp_path / "cache", say=said.append).component(data, "ab" * 32, "python")
    assert said == []  # from the cache: nothing to wait for


def test_a_bundle_carries_its_ignore_list(tmp_path: Path, capsys) -> None:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0", "host:log/sink@1.0.0"])
    write_component(tmp_path / "caps" / "p.wasm", exports=["a:b/c@1.0.0"])
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "ignore-imports": ["wasi:", "host:"]}
    folder = build_bundle(load_config(raw, project_root=tmp_path, project_name="d", environ={})).write_to(
        tmp_path / "bundle"
    )
    assert main(["verify", str(folder)]) == 0, capsys.readouterr().err
    assert main(["verify", "--ignore-imports", "wasi:", str(folder)]) == 1
    assert "import 'host:log/sink@1.0.0' is not bound" in capsys.readouterr().err


def test_errors_name_the_archive_not_the_unpack_folder(tmp_path: Path, capsys) -> None:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps" / "p.wasm", exports=["a:b/c@1.0.0"])
    raw = {"root": "root.wasm", "component-dirs": ["caps"]}
    folder = build_bundle(load_config(raw, project_root=tmp_path, project_name="d", environ={})).write_to(
        tmp_path / "d" / "_pylon"
    )
    wheel = tmp_path / "d-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if path.parent.parent.name == "blobs" and b"\x07" in data:
                data = data.replace(b"\x07", b"\x08", 1)
            archive.writestr(path.relative_to(tmp_path).as_posix(), data)
    for command in (["verify", str(wheel)], ["trust", str(wheel), "--store", str(tmp_path / "s")]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert f"{wheel}: failed verification" in err
        assert "hatch-pylon-unpack-" not in err
    assert not (tmp_path / "s").exists()


def test_readme_install_and_setuptools_notes() -> None:
    readme = (REPO / "README.md").read_text()
    assert "PIP_FIND_LINKS" in readme and "UV_FIND_LINKS" in readme
    assert "virtualenv" in readme


@pytest.mark.slow
def test_a_folder_named_like_the_distribution_does_not_hide_it(sample_wheel: Path, tmp_path: Path) -> None:
    """A bare name that is both a folder here and an installed distribution is refused, naming both forms."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(sample_wheel)],
        check=True,
        capture_output=True,
    )
    (tmp_path / "work" / "sample-pkg").mkdir(parents=True)  # the project's own folder, holding no bundle
    env = {**__import__("os").environ, "PYTHONPATH": str(target)}

    def verify(name: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "hatch_pylon", "verify", name]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path / "work", env=env)

    both = verify("sample-pkg")
    assert both.returncode == 1, both.stderr
    assert "write ./sample-pkg for the folder or dist:sample-pkg for the distribution" in both.stderr
    installed = verify("dist:sample-pkg")
    assert installed.returncode == 0, installed.stderr
    explicit = subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "verify", "./sample-pkg"],
        capture_output=True,
        text=True,
        cwd=tmp_path / "work",
    )
    assert explicit.returncode == 1 and "no plan.json here" in explicit.stderr


@pytest.mark.slow
def test_a_wheel_from_an_sdist_built_without_the_hook_says_what_to_configure(tmp_path: Path) -> None:
    import tarfile

    root = project(
        tmp_path / "demo-project",
        'root = "root.wasm"\ncomponent-dirs = ["caps"]',
        table="[tool.hatch.build.targets.wheel.hooks.pylon]",
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('name = "demo"\n', 'name = "demo"\nversion = "1"\n')
        + '[tool.hatch.build.targets.sdist]\nexclude = ["/*.wasm", "/caps/*.wasm", "/.compose"]\n'
    )
    (root / "demo").mkdir()
    (root / "demo" / "__init__.py").write_text("")
    build = [sys.executable, "-m", "build", "--no-isolation"]
    subprocess.run([*build, "--sdist", str(root)], check=True, capture_output=True)
    with tarfile.open(next((root / "dist").glob("*.tar.gz"))) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    unpacked = next((tmp_path / "unpacked").iterdir())
    result = subprocess.run([*build, "--wheel", str(unpacked)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "This is an unpacked sdist without a .pylon-bundle/ bundle" in output
    assert "Configure it in [tool.hatch.build.hooks.pylon]" in output


@pytest.mark.slow
def test_placement_errors_name_the_hatch_toml_table_the_hook_came_from(tmp_path: Path) -> None:
    hook = '[build.hooks.pylon]\nroot = "root.wasm"\ncomponent-dirs = ["caps"]\ndestination = "demo/__init__.py"\n'
    root = project(tmp_path / "demo-project", "", hatch_toml=hook)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('name = "demo"\n', 'name = "demo"\nversion = "1"\n'))
    (root / "demo").mkdir()
    (root / "demo" / "__init__.py").write_text("")
    build = [sys.executable, "-m", "build", "--no-isolation", "--wheel", str(root)]
    result = subprocess.run(build, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "hatch.toml: build.hooks.pylon.destination: 'demo/__init__.py' is the file demo/__init__.py" in output
    assert "tool.hatch.build.hooks.pylon" not in output
