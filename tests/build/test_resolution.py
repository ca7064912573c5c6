"""Component distributions resolved by real installers: a root wheel, a cap wheel and two apps in a find-links folder.

The component wheels are built once per session from small WAT components; the apps with an isolated front-end
(``uv build``: sdist, then the wheel from it), which must find the root and the cap through
``build-system.requires``.
Then ``pip install app-one app-two`` and ``uv pip install`` into clean virtualenvs pull in the rest; both apps
run, the root's blob is on disk once, and an uninstalled or downgraded cap is named.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import find_links_env, sha256

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ROOT_WAT = """
(component
  (import "pylon:math/ops@1.0.0" (instance $ops
    (export "add" (func (param "a" s64) (param "b" s64) (result s64)))))
  (core func $add (canon lower (func $ops "add")))
  (core instance $ops_core (export "add" (func $add)))
  (core module $m
    (import "ops" "add" (func $add (param i64 i64) (result i64)))
    (func (export "run") (result i64) (call $add (i64.const {a}) (i64.const 2))))
  (core instance $i (instantiate $m (with "ops" (instance $ops_core))))
  (func $run (result s64) (canon lift (core func $i "run")))
  (export "run" (func $run)))
"""
HOOK_REQUIRES = '["hatchling", "hatch-pylon", "pylon-root", "pylon-cap-math"]'


def run(command: list, cwd: Path, env: dict, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)
    if ok:
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def component_project(folder: Path, name: str, version: str, hook: str, files: dict[str, bytes]) -> Path:
    package = name.replace("-", "_")
    (folder / package).mkdir(parents=True)
    (folder / package / "__init__.py").write_text("")
    for file, data in files.items():
        (folder / file).write_bytes(data)
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["{package}"]\n'
        '[tool.hatch.build.targets.sdist]\nexclude = ["/*.wasm"]\n'
        f"[tool.hatch.build.hooks.pylon]\n{hook}"
    )
    return folder


def app_project(folder: Path, name: str, dependencies: str, linkage: str = "static") -> Path:
    """An app whose root and cap come from distributions; ``dependencies`` is its [project] line(s). Static by
    default: a root of typed imports is a plan composectl's exec runs composed."""
    package = name.replace("-", "_")
    (folder / package).mkdir(parents=True)
    (folder / package / "__init__.py").write_text("")
    (folder / "pyproject.toml").write_text(
        f'[build-system]\nrequires = {HOOK_REQUIRES}\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n{dependencies}\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["{package}"]\n'
        '[tool.hatch.build.hooks.pylon]\ncomponent-distributions = ["pylon-root", "pylon-cap-math"]\n'
        f'linkage = "{linkage}"\n'
    )
    return folder


def build_here(project: Path, out: Path, *only: str) -> None:
    """An sdist and a wheel from it (or ``only`` ``--wheel``) with this interpreter's hatchling and this checkout."""
    command = [sys.executable, "-m", "build", "--no-isolation", *only, "--outdir", out, project]
    run(command, project, dict(os.environ))


@pytest.fixture(scope="session")
def find_links(tmp_path_factory: pytest.TempPathFactory, plugin_wheelhouse: Path) -> dict[str, Path]:
    """Every wheel of the scenario, in one find-links folder next to this checkout's plugin wheel."""
    import wasmtime

    base = tmp_path_factory.mktemp("resolution")
    folder = base / "wheelhouse"
    shutil.copytree(plugin_wheelhouse, folder)
    cap = (Path(__file__).resolve().parents[2] / "sample-project" / "caps" / "pylon-math.wat").read_text()
    cap_files = {"pylon-math.wasm": wasmtime.wat2wasm(cap)}
    cap_hook = 'components = [{ id = "pylon-math", path = "pylon-math.wasm" }]\nprovides = ["pylon-math"]\n'
    for version in ("1.2.0", "1.1.0"):  # 1.1.0 holds the same blob: only its version differs
        out = base / f"cap-{version}"
        project = component_project(base / f"cap-src-{version}", "pylon-cap-math", version, cap_hook, cap_files)
        build_here(project, out, *(() if version == "1.2.0" else ("--wheel",)))
        for artifact in out.iterdir():
            shutil.copy(artifact, folder)
    # The root distribution, built from two folders: the same bytes.
    root_files = {"python.wasm": wasmtime.wat2wasm(ROOT_WAT.format(a=40))}
    for where in ("one", "two"):
        out = base / f"root-{where}"
        hook = 'root = "python.wasm"\nprovides = ["python"]\n'
        build_here(component_project(base / where / "root", "pylon-root", "1.0.0", hook, root_files), out)
    for artifact in (base / "root-one").iterdir():
        assert artifact.read_bytes() == (base / "root-two" / artifact.name).read_bytes(), artifact.name
        shutil.copy(artifact, folder)

    env = find_links_env(folder, base)
    # Isolated front-ends: the hook, the root and the cap come from build-system.requires via find-links.
    one = app_project(base / "app-one", "app-one", 'dynamic = ["dependencies"]\n[tool.hatch.metadata.hooks.pylon]')
    run([BIN / "uv", "build", "--out-dir", folder, "."], one, env)
    two_deps = 'dependencies = ["pylon-root==1.0.0", "pylon-cap-math==1.2.0"]'
    for where in ("two", "two-again"):  # built from two folders with uv: the same bytes
        two = app_project(base / where / "app-two", "app-two", two_deps)
        run([BIN / "uv", "build", "--out-dir", base / f"out-{where}", "."], two, env)
    # An app whose dependencies do not say what its references need: one message, what to write, no artifact.
    three = app_project(base / "app-three", "app-three", 'dependencies = ["pylon-cap-math>=1"]')
    refused = run([BIN / "uv", "build", "--wheel", "--out-dir", base / "out-three", "."], three, env, ok=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "must require 'pylon-cap-math==1.2.0' (it says pylon-cap-math>=1)" in refused.stderr
    assert "must require 'pylon-root==1.0.0'" in refused.stderr
    assert not list((base / "out-three").glob("*.whl"))
    for artifact in (base / "out-two").iterdir():
        assert artifact.read_bytes() == (base / "out-two-again" / artifact.name).read_bytes(), artifact.name
        shutil.copy(artifact, folder)
    return {"folder": folder, "base": base}


def venv_with(installer: str, folder: Path, base: Path, *requirements: str) -> tuple[Path, dict[str, str]]:
    env = find_links_env(folder, base)
    venv = base / f"venv-{installer}"
    shutil.rmtree(venv, ignore_errors=True)
    plugin = f"{next(folder.glob('hatch_pylon-*.whl'))}[run]"
    if installer == "pip":  # a clean virtualenv with only pip in it (uv seeds it faster than ensurepip)
        run([BIN / "uv", "venv", "--quiet", "--seed", venv], base, env)
        pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
        run([*pip, "--find-links", folder, plugin, *requirements], base, env)
    else:
        run([BIN / "uv", "venv", "--quiet", venv], base, env)
        uv = [BIN / "uv", "pip", "install", "--quiet", "--python", venv / "bin" / "python"]
        run([*uv, "--find-links", folder, plugin, *requirements], base, env)
    return venv, env


def blobs_named(venv: Path, digest: str) -> list[Path]:
    return [p for p in venv.rglob(digest[2:]) if p.parent.name == digest[:2] and p.is_file()]


def test_metadata_and_artifacts(find_links: dict[str, Path]) -> None:
    folder = find_links["folder"]
    (one,) = folder.glob("app_one-*.whl")
    (one_sdist,) = folder.glob("app_one-*.tar.gz")
    with zipfile.ZipFile(one) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    with tarfile.open(one_sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/PKG-INFO"))
        pkg_info = archive.extractfile(member).read().decode()
    requires = ["Requires-Dist: pylon-cap-math==1.2.0", "Requires-Dist: pylon-root==1.0.0"]
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist")] == requires
    assert [line for line in pkg_info.splitlines() if line.startswith("Requires-Dist")] == requires
    assert not [n for n in names if "/.compose/" in n]  # both components stay in their distributions
    (cap,) = folder.glob("pylon_cap_math-1.2.0-*.whl")
    with zipfile.ZipFile(cap) as archive:
        assert [n for n in archive.namelist() if n.endswith("extra_metadata/pylon-components.json")]


def test_pip_installs_both_apps_with_one_root_and_names_a_missing_or_downgraded_cap(
    find_links: dict[str, Path], compile_cache: Path
) -> None:
    folder, base = find_links["folder"], find_links["base"]
    venv, env = venv_with("pip", folder, base, "app-one", "app-two")
    env["HATCH_PYLON_CACHE_DIR"] = str(compile_cache)
    cli = venv / "bin" / "hatch-pylon"
    for app in ("dist:app-one", "dist:app-two"):
        assert run([cli, "run", app], base, env).stdout == "42\n"
        assert "OK (2 components, 1 binding" in run([cli, "verify", app], base, env).stdout
    root_digest = sha256(base / "one" / "root" / "python.wasm")
    assert len(blobs_named(venv, root_digest)) == 1  # two apps, one copy of the root

    # The wheel alone names what it could not check (the apps' distributions are installed here, so check
    # it from the build interpreter, where they are not).
    (wheel,) = folder.glob("app_one-*.whl")
    alone = run([sys.executable, "-m", "hatch_pylon", "verify", wheel], base, dict(os.environ))
    assert "2 referenced distributions not checked" in alone.stdout
    assert "not checked: referenced component pylon-math from pylon-cap-math==1.2.0" in alone.stderr

    pip = [venv / "bin" / "python", "-m", "pip"]
    run([*pip, "uninstall", "--quiet", "--yes", "pylon-cap-math"], base, env)
    missing = run([cli, "run", "dist:app-one"], base, env, ok=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert (
        "component pylon-math is referenced from pylon-cap-math==1.2.0: it is not installed; "
        "pip install 'pylon-cap-math==1.2.0'" in missing.stderr
    )
    run([*pip, "install", "--quiet", "--no-deps", "--find-links", folder, "pylon-cap-math==1.1.0"], base, env)
    older = run([cli, "verify", "dist:app-two"], base, env, ok=False)
    assert older.returncode == 1
    assert "pylon-cap-math 1.1.0 is installed, not 1.2.0; pip install 'pylon-cap-math==1.2.0'" in older.stderr


def test_uv_installs_both_apps_and_they_run(find_links: dict[str, Path], compile_cache: Path) -> None:
    folder, base = find_links["folder"], find_links["base"]
    venv, env = venv_with("uv", folder, base, "app-one", "app-two")
    env["HATCH_PYLON_CACHE_DIR"] = str(compile_cache)
    for app in ("dist:app-one", "dist:app-two"):
        assert run([venv / "bin" / "hatch-pylon", "run", app], base, env).stdout == "42\n"
    assert len(blobs_named(venv, sha256(base / "one" / "root" / "python.wasm"))) == 1


def test_two_apps_share_one_copy_of_the_real_cpython_root(
    tmp_path: Path, python_root: Path, plugin_wheelhouse: Path, compile_cache: Path
) -> None:
    """The sample's 17.5 MiB CPython root as a component distribution: pip installs it once for two apps."""
    import wasmtime

    folder = tmp_path / "wheelhouse"
    shutil.copytree(plugin_wheelhouse, folder)
    caps = Path(__file__).resolve().parents[2] / "sample-project" / "caps"
    cap_files = {
        f"{name}.wasm": wasmtime.wat2wasm((caps / f"{name}.wat").read_text()) for name in ("arrow-core", "pylon-math")
    }
    cap_hook = 'component-dirs = ["."]\nprovides = ["arrow-core", "pylon-math"]\n'
    build_here(component_project(tmp_path / "caps", "pylon-cap-math", "1.2.0", cap_hook, cap_files), folder, "--wheel")
    root_files = {"python.wasm": python_root.read_bytes()}
    hook = 'root = "python.wasm"\nprovides = ["python"]\n'
    build_here(component_project(tmp_path / "root", "pylon-root", "1.0.0", hook, root_files), folder, "--wheel")
    env = find_links_env(folder, tmp_path)
    for name in ("app-one", "app-two"):
        metadata = 'dynamic = ["dependencies"]\n[tool.hatch.metadata.hooks.pylon]'
        app = app_project(tmp_path / name, name, metadata, linkage="runtime")  # the sample's root: a linker guest
        run([BIN / "uv", "build", "--wheel", "--out-dir", folder, "."], app, env)
        (wheel,) = folder.glob(f"{name.replace('-', '_')}-*.whl")
        assert wheel.stat().st_size < 4096  # the plan and its record: the 17.5 MiB root stays in pylon-root

    venv, env = venv_with("pip", folder, tmp_path, "app-one", "app-two")
    env["HATCH_PYLON_CACHE_DIR"] = str(compile_cache)
    assert len(blobs_named(venv, sha256(python_root))) == 1
    for app in ("dist:app-one", "dist:app-two"):
        assert (
            "OK (3 components, 3 bindings" in run([venv / "bin" / "hatch-pylon", "verify", app], tmp_path, env).stdout
        )
        assert run([venv / "bin" / "hatch-pylon", "run", app], tmp_path, env).stdout == (
            "typed:      sum-range(10) = 55; mul(6, 7) = 42\n"
            "late-bound: greeter says error: unknown component id: greeter\n"  # no greeter in these apps' plans
        )


def test_setuptools_builds_a_component_wheel_that_verifies(tmp_path: Path) -> None:
    import wasmtime

    project = tmp_path / "cap"
    (project / "st_cap").mkdir(parents=True)
    (project / "st_cap" / "__init__.py").write_text("")
    cap = (Path(__file__).resolve().parents[2] / "sample-project" / "caps" / "pylon-math.wat").read_text()
    (project / "pylon-math.wasm").write_bytes(wasmtime.wat2wasm(cap))
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64", "hatch-pylon"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "st-cap"\nversion = "1.0.0"\n[tool.setuptools]\npackages = ["st_cap"]\n'
        '[tool.pylon]\ncomponents = [{ id = "pylon-math", path = "pylon-math.wasm" }]\nprovides = ["pylon-math"]\n'
    )
    build_here(project, tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "st_cap-1.0.0.dist-info/extra_metadata/pylon-components.json" in names
    assert [n for n in names if n.startswith("st_cap/_pylon/.compose/blobs/")]
    for artifact in sorted((tmp_path / "dist").iterdir()):
        verified = run([sys.executable, "-m", "hatch_pylon", "verify", artifact], tmp_path, dict(os.environ))
        assert "OK (provides 1 component: pylon-math" in verified.stdout


def cap_wat(version: str, add: str, ty: str = "s64", core: str = "i64") -> str:
    """pylon-math exporting ``pylon:math/ops@<version>``, whose ``add`` computes ``add`` of its two arguments."""
    return f"""
    (component
      (core module $impl
        (func (export "add") (param {core} {core}) (result {core}) {add})
        (func (export "mul") (param {core} {core}) (result {core}) ({core}.mul (local.get 0) (local.get 1))))
      (core instance $impl (instantiate $impl))
      (func $add (param "a" {ty}) (param "b" {ty}) (result {ty}) (canon lift (core func $impl "add")))
      (func $mul (param "a" {ty}) (param "b" {ty}) (result {ty}) (canon lift (core func $impl "mul")))
      (instance $ops (export "add" (func $add)) (export "mul" (func $mul)))
      (export "pylon:math/ops@{version}" (instance $ops)))"""


@pytest.fixture(scope="session")
def upgrades(find_links: dict[str, Path]) -> dict[str, Path]:
    """An app opted in to compatible cap releases (built against pylon-cap-math 1.2.0), and newer caps in a
    folder of their own: 1.3.0 (other bytes, ``ops@1.3.0``, add + 1), 1.4.0 (its add takes s32: the types
    differ), 1.5.0 (its interface is ``ops@2.0.0``) and 2.0.0 (another track)."""
    import wasmtime

    folder, base = find_links["folder"], find_links["base"] / "upgrades"
    newer = base / "wheelhouse"
    cap_hook = 'components = [{ id = "pylon-math", path = "pylon-math.wasm" }]\nprovides = ["pylon-math"]\n'
    caps = {
        "1.3.0": cap_wat("1.3.0", "(i64.add (i64.add (local.get 0) (local.get 1)) (i64.const 1))"),
        "1.4.0": cap_wat("1.4.0", "(i32.add (local.get 0) (local.get 1))", "s32", "i32"),
        "1.5.0": cap_wat("2.0.0", "(i64.add (local.get 0) (local.get 1))"),  # its interface left the track
        "2.0.0": cap_wat("2.0.0", "(i64.add (local.get 0) (local.get 1))"),
    }
    for version, wat in caps.items():
        files = {"pylon-math.wasm": wasmtime.wat2wasm(wat)}
        project = component_project(base / f"cap-{version}", "pylon-cap-math", version, cap_hook, files)
        build_here(project, newer, "--wheel")
    env = find_links_env(folder, base)
    app = app_project(base / "app-four", "app-four", 'dynamic = ["dependencies"]\n[tool.hatch.metadata.hooks.pylon]')
    with (app / "pyproject.toml").open("a") as pyproject:
        pyproject.write('distributed-versions = "compatible"\n')
    run([BIN / "uv", "build", "--out-dir", newer, "."], app, env)
    return {"folder": folder, "newer": newer, "base": base, "app": app}


def cap_digests() -> dict[str, str]:
    import hashlib

    import wasmtime

    sample = (Path(__file__).resolve().parents[2] / "sample-project" / "caps" / "pylon-math.wat").read_text()
    return {
        "1.2.0": hashlib.sha256(wasmtime.wat2wasm(sample)).hexdigest(),
        "1.3.0": hashlib.sha256(
            wasmtime.wat2wasm(cap_wat("1.3.0", "(i64.add (i64.add (local.get 0) (local.get 1)) (i64.const 1))"))
        ).hexdigest(),
    }


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_compatible_cap_upgrade_runs_the_opted_in_app_on_the_plan_the_gate_proved(
    upgrades: dict[str, Path], compile_cache: Path, installer: str
) -> None:
    folder, newer, base = upgrades["folder"], upgrades["newer"], upgrades["base"] / installer
    base.mkdir()
    digests = cap_digests()
    (wheel,) = newer.glob("app_four-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("app_four-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: pylon-cap-math<2,>=1.2.0" in metadata.splitlines()
    venv, env = venv_with(installer, folder, base, wheel)
    env["HATCH_PYLON_CACHE_DIR"] = str(compile_cache)
    cli = venv / "bin" / "hatch-pylon"
    assert run([cli, "run", "dist:app-four"], base, env).stdout == "42\n"
    built = run([cli, "verify", "dist:app-four"], base, env).stdout
    bundled = built.rsplit("plan digest ", 1)[1].strip()

    def install(version: str) -> subprocess.CompletedProcess:
        if installer == "pip":
            command = [venv / "bin" / "python", "-m", "pip", "install", "--find-links", newer]
        else:
            command = [BIN / "uv", "pip", "install", "--python", venv / "bin" / "python", "--find-links", newer]
        return run([*command, f"pylon-cap-math=={version}"], base, env)

    installed = install("1.3.0")
    assert "ERROR" not in installed.stderr and "conflict" not in installed.stderr  # the app allows it
    ran = run([cli, "run", "dist:app-four"], base, env)
    assert ran.stdout == "43\n"  # 1.3.0's add
    replaces = f"pylon-cap-math 1.3.0 replaces 1.2.0: pylon-math sha256 {digests['1.3.0']} (was {digests['1.2.0']})"
    assert f"hatch-pylon: note: {replaces}" in ran.stderr
    proved = run([cli, "verify", "dist:app-four"], base, env)
    assert f"hatch-pylon: note: {replaces}" in proved.stderr
    relocked = proved.stdout.split("plan digest ", 1)[1]
    digest, rest = relocked.split(" ", 1)
    assert rest.strip() == f"(re-resolved against the installed releases above; the bundle's plan: {bundled})"
    assert digest != bundled
    # the plan proved is the one a build against 1.3.0 makes
    assert run([cli, "plan", "--digest", upgrades["app"]], base, env).stdout.strip() == digest

    install("1.4.0")  # on the track, but its add takes s32: the gate refuses it, nothing runs
    refused = run([cli, "run", "dist:app-four"], base, env, ok=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr and refused.stdout == ""
    assert (
        "re-resolved against newer releases (pylon-cap-math 1.4.0 replaces 1.2.0: pylon-math sha256" in refused.stderr
    )
    assert "to check the plan it was built with instead: pip install 'pylon-cap-math==1.2.0'" in refused.stderr
    assert "python -> pylon-math (pylon:math/ops@1.0.0): function 'add'" in refused.stderr

    install("1.5.0")  # on the distribution's track, but it exports ops@2.0.0: nothing to re-bind to
    unbound = run([cli, "verify", "dist:app-four"], base, env, ok=False)
    assert unbound.returncode == 1
    assert (
        "binding python: pylon:math/ops@1.0.0 -> pylon-math: pylon:math/ops@1.2.0: pylon-cap-math 1.5.0's component "
        "'pylon-math' exports nothing 'pylon:math/ops@1.0.0' can bind to" in unbound.stderr
    )

    if installer == "pip":
        command = [venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--find-links", newer]
    else:
        command = [
            BIN / "uv",
            "pip",
            "install",
            "--no-deps",
            "--python",
            venv / "bin" / "python",
            "--find-links",
            newer,
        ]
    run([*command, "pylon-cap-math==2.0.0"], base, env)  # another track: not taken
    other = run([cli, "verify", "dist:app-four"], base, env, ok=False)
    assert other.returncode == 1
    assert "pylon-cap-math 2.0.0 is installed, not pylon-cap-math>=1.2.0,<2" in other.stderr


def test_an_sdist_carrying_its_bundle_installs_no_component_distribution_to_build(
    find_links: dict[str, Path], tmp_path: Path, compile_cache: Path
) -> None:
    """The hook asks for component-distributions only to build from sources: build-system.requires need not list
    them, and pip building the wheel of an sdist that carries its bundle installs none of them."""
    folder = find_links["folder"]
    env = find_links_env(folder, tmp_path)
    app = app_project(
        tmp_path / "app-five", "app-five", 'dynamic = ["dependencies"]\n[tool.hatch.metadata.hooks.pylon]'
    )
    pyproject = app / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(HOOK_REQUIRES, '["hatchling", "hatch-pylon"]'))
    run([BIN / "uv", "build", "--sdist", "--out-dir", tmp_path / "dist", "."], app, env)  # from the sources
    (sdist,) = (tmp_path / "dist").glob("app_five-*.tar.gz")
    venv, env = venv_with("pip", folder, tmp_path)  # hatch-pylon[run], to run the app
    env["HATCH_PYLON_CACHE_DIR"] = str(compile_cache)
    python = venv / "bin" / "python"
    installed = run(
        [python, "-m", "pip", "install", "-v", "--no-cache-dir", "--find-links", folder, sdist], tmp_path, env
    )
    said = installed.stderr.splitlines() + installed.stdout.splitlines()  # pip -v: the build's steps on stderr
    *build_environment, final = [line.strip() for line in said if "Installing collected packages" in line]
    steps = [*build_environment, final]
    assert build_environment and not [step for step in build_environment if "pylon-" in step], steps
    assert "pylon-cap-math" in final and "pylon-root" in final
    assert "ERROR" not in installed.stdout + installed.stderr
    assert run([venv / "bin" / "hatch-pylon", "run", "dist:app-five"], tmp_path, env).stdout == "42\n"
