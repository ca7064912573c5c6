"""Every build front-end, and setuptools, give the same plan.json bytes for the same inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import REPO, SAMPLE_OUTPUT, copy_sample, find_links_env

from hatch_pylon.adapters.cli import main

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PLAN = "sample_pkg/_pylon/plan.json"


def plan_in_wheel(folder: Path, member: str = PLAN) -> bytes:
    wheel = next(folder.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


def run(command: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory, python_root: Path) -> bytes:
    project = copy_sample(tmp_path_factory.mktemp("preview") / "sample-project", python_root)
    return subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "plan", str(project), "--json"], capture_output=True, check=True
    ).stdout


FRONTENDS = {
    "hatch build": lambda out: [BIN / "hatch", "build", "-t", "wheel", str(out)],
    "python -m build": lambda out: [sys.executable, "-m", "build", "--wheel", "--outdir", out, "."],
    "pip wheel": lambda out: [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", out, "."],
    "uv build": lambda out: [BIN / "uv", "build", "--wheel", "--out-dir", out, "."],
}


@pytest.mark.parametrize("frontend", sorted(FRONTENDS))
def test_frontend_gives_the_same_plan(
    frontend: str, tmp_path: Path, python_root: Path, plugin_wheelhouse: Path, preview: bytes
) -> None:
    project = copy_sample(tmp_path / "sample-project", python_root)
    out = tmp_path / "out"
    result = run(FRONTENDS[frontend](out), project, find_links_env(plugin_wheelhouse, tmp_path))
    assert plan_in_wheel(out) == preview
    if frontend != "pip wheel":  # pip hides the backend's output; the others show this checkout's hook ran
        assert "3 bindings; plan -> sample_pkg/_pylon/plan.json" in result.stdout + result.stderr


def test_pip_editable_install_runs_from_the_source_tree(
    tmp_path: Path, python_root: Path, plugin_wheelhouse: Path, preview: bytes
) -> None:
    project = copy_sample(tmp_path / "sample-project", python_root)
    env = find_links_env(plugin_wheelhouse, tmp_path)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path, env)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
    run([*pip, f"{next(plugin_wheelhouse.glob('*.whl'))}[run]"], tmp_path, env)
    run([*pip, "-e", project], tmp_path, env)
    probe = (
        "import sample_pkg, importlib.metadata as md; print(sample_pkg.__file__); "
        "print([f for f in md.distribution('sample-pkg').files if f.name == 'plan.json'][0].locate())"
    )
    module_file, plan_file = run([venv / "bin" / "python", "-c", probe], tmp_path, env).stdout.split()
    assert module_file == str(project / "sample_pkg" / "__init__.py")
    assert Path(plan_file).read_bytes() == preview
    result = run([venv / "bin" / "hatch-pylon", "run", "sample-pkg"], tmp_path, env)
    assert result.stdout == SAMPLE_OUTPUT


def test_setuptools_sample_builds_verifies_and_matches(
    tmp_path: Path, python_root: Path, plugin_wheelhouse: Path, preview: bytes, capsys
) -> None:
    copy_sample(tmp_path / "sample-project", python_root)
    project = tmp_path / "sample-project-setuptools"
    shutil.copytree(
        REPO / "sample-project-setuptools",
        project,
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", ".compose"),
    )
    out = tmp_path / "out"
    result = run(
        [sys.executable, "-m", "build", "--outdir", out, "."], project, find_links_env(plugin_wheelhouse, tmp_path)
    )
    assert "using the bundle shipped in the sdist" in result.stdout + result.stderr  # wheel came from the sdist
    assert plan_in_wheel(out, "sample_st/_pylon/plan.json") == preview
    sdist = next(out.glob("*.tar.gz"))
    with tarfile.open(sdist) as archive:
        assert archive.extractfile("sample_st-0.1.0/.pylon-bundle/plan.json").read() == preview
    for artifact in (next(out.glob("*.whl")), sdist):
        assert main(["verify", str(artifact)]) == 0
    assert "OK (4 components, 3 bindings" in capsys.readouterr().out


def test_setuptools_projects_without_pylon_are_untouched(tmp_path: Path, plugin_wheelhouse: Path) -> None:
    project = tmp_path / "plain"
    (project / "plain").mkdir(parents=True)
    (project / "plain" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\n'
        'build-backend = "setuptools.build_meta"\n'
        '[project]\nname = "plain"\nversion = "1"\n'
    )
    result = run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "."],
        project,
        find_links_env(plugin_wheelhouse, tmp_path),
    )
    assert "hatch-pylon" not in result.stdout + result.stderr
    with zipfile.ZipFile(next((project / "dist").glob("*.whl"))) as archive:
        assert not [n for n in archive.namelist() if "pylon" in n]


def test_setuptools_name_from_setup_cfg_and_no_stale_composed_file(tmp_path: Path) -> None:
    """A project named only in setup.cfg builds; a compose = false build after a compose = true one
    ships no composed component (build/lib outlives a build)."""
    from corpus import base_project

    project = tmp_path / "cfg-named"
    base_project(project, "")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[tool.pylon]\nroot = "root.wasm"\ncomponent-dirs = ["caps"]\ndestination = "demo/_pylon"\ncompose = true\n'
    )
    (project / "setup.cfg").write_text("[metadata]\nname = cfg-named\nversion = 1.0\n[options]\npackages = demo\n")
    composed = "demo/_pylon/python.composed.wasm"
    for compose in ("true", "false"):
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace("compose = true", f"compose = {compose}"))
        shutil.rmtree(project / "dist", ignore_errors=True)
        run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "."], project, {**os.environ})
        wheel = next((project / "dist").glob("cfg_named-1.0-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            assert (composed in archive.namelist()) == (compose == "true"), archive.namelist()
        assert main(["verify", str(wheel)]) == 0


@pytest.mark.slow
def test_setuptools_unpacked_sdist_without_a_bundle_says_why_and_names_its_table(tmp_path: Path) -> None:
    """setuptools builds go through the same entry as hatchling's: the unpacked-sdist hint, placement naming
    ``tool.pylon``."""
    from corpus import base_project

    project = tmp_path / "unpacked"
    base_project(project, "")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "unpacked"\nversion = "1.0"\n'
        '[tool.pylon]\nroot = "gone.wasm"\ndestination = "demo/_pylon"\n'
    )
    (project / "setup.cfg").write_text("[options]\npackages = demo\n")
    (project / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: unpacked\nVersion: 1.0\n")
    build = [sys.executable, "-m", "build", "--no-isolation", "--wheel", "."]
    result = subprocess.run(build, cwd=project, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "tool.pylon.root" in output and "This is an unpacked sdist without a .pylon-bundle/ bundle" in output
    (project / "PKG-INFO").unlink()
    (project / "demo" / "_pylon").write_text("")  # the destination is a file now
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("gone.wasm", "root.wasm"))
    result = subprocess.run(build, cwd=project, capture_output=True, text=True)
    assert "tool.pylon.destination: 'demo/_pylon' is the file demo/_pylon" in result.stdout + result.stderr
