"""python-wasm's extension wheels: read as python-wasm builds them, built by the hook as its spec lays them out.

python-wasm (tegmentum/python-wasm) specifies the format in ``docs/pyforge-wheel-spec.md`` and builds it with
``scripts/lib/wheel_builder.py``. Its repository carries no licence file, so that builder is not vendored:
``python_wasm_wheel`` below rebuilds the same layout (member names, ``pyforge-pkg.toml`` with ``[wheel.component]
artifact``, METADATA, WHEEL, RECORD) from the spec and the builder's behaviour, and ``stage_listing`` is the
glob and the columns of python-wasm's ``packaging/lib/python-wasm/stage.sh``. With ``PYTHON_WASM_SRC`` set to a
python-wasm checkout, the last test runs its real ``wheel_builder.build()`` and ``stage.sh`` against the hook's
wheel. The bridge (``tests/pyforge/_zstd_cap``) is shaped as python-wasm's ``cpython-ext/_zstd_cap``; the
capability component is a real one (WAT) exporting its four ``zstd:compression/*@0.1.0`` interfaces.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import wasmtime

from hatch_pylon._errors import PylonError
from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TESTS = Path(__file__).resolve().parents[1]
BRIDGE = TESTS / "pyforge" / "_zstd_cap"
INTERFACES = ("simple", "streaming", "info", "advanced")
WHEEL_NAME = "zstd_cap-0.1.0-cp314-cp314-wasm32_wasip2.whl"


def cap_wat(interfaces: dict[str, str] | None = None, value: int = 42) -> str:
    """A capability component exporting ``zstd:compression/<name>@<version>`` instances, each with ``f`` -> value."""
    interfaces = {name: "0.1.0" for name in INTERFACES} if interfaces is None else interfaces
    lines = [
        "(component",
        f'  (core module $m (func (export "f") (result i32) i32.const {value}))',
        "  (core instance $i (instantiate $m))",
        '  (func $f (result u32) (canon lift (core func $i "f")))',
        '  (instance $api (export "f" (func $f)))',
    ]
    lines += [f'  (export "zstd:compression/{name}@{version}" (instance $api))' for name, version in interfaces.items()]
    return "\n".join([*lines, ")"])


ROOT_WAT = """
(component
  (import "zstd:compression/simple@0.1.0" (instance $z (export "f" (func $f (result u32)))))
  (alias export $z "f" (func $f))
  (core func $g (canon lower (func $f)))
  (core module $m (import "z" "f" (func $f (result i32))) (func (export "run") (result i32) call $f))
  (core instance $i (instantiate $m (with "z" (instance (export "f" (func $g))))))
  (func (export "run") (result u32) (canon lift (core func $i "run"))))
"""


def write_wasm(path: Path, wat: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def python_wasm_wheel(bridge: Path, component: Path | None, python_minor: str, output: Path) -> Path:
    """The wheel python-wasm's ``wheel_builder.build(bridge_dir, component_path, python_minor, output_dir)`` makes.

    The bridge folder is copied whole (``__pycache__``, ``*.pyc`` and editor swap files left out), its
    ``pyforge-pkg.toml`` written back with ``[wheel.component] artifact = "<bridge>_component/<file>"`` when it
    has none; the component goes to ``<bridge>_component/<file>``; the dist-info holds METADATA (spec section 4),
    WHEEL (section 5) and RECORD; members are sorted by name. Without ``component``: a shim-only package (the
    spec omits ``[wheel.component]``).
    """
    text = (bridge / "pyforge-pkg.toml").read_text()
    manifest = tomllib.loads(text)
    name, version = manifest["package"]["name"], manifest["package"]["version"]
    safe = name.replace("-", "_").replace(".", "_")
    py = f"cp{python_minor.replace('.', '')}"
    tag = f"{py}-{py}-wasm32_wasip2"
    members: dict[str, bytes] = {}
    for path in sorted(bridge.rglob("*")):
        parts = path.relative_to(bridge).parts
        if path.is_file() and "__pycache__" not in parts and not path.name.endswith((".pyc", ".swp")):
            members[f"{bridge.name}/{'/'.join(parts)}"] = path.read_bytes()
    if component is not None and "component" not in manifest.get("wheel", {}):
        text += f'\n[wheel.component]\nartifact = "{bridge.name}_component/{component.name}"\n'
    members[f"{bridge.name}/pyforge-pkg.toml"] = text.encode()
    if component is not None:
        members[f"{bridge.name}_component/{component.name}"] = component.read_bytes()
    dist_info = f"{safe}-{version}.dist-info"
    major, minor = python_minor.split(".")
    members[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: {manifest['package'].get('description', '')}\nPlatform: wasm32-wasip2\n"
        f"Requires-Python: >={python_minor},<{major}.{int(minor) + 1}\n"
    ).encode()
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: python-wasm-build/0.1.0\nRoot-Is-Purelib: false\nTag: {tag}\n"
    ).encode()
    rows = [f"{n},{record_hash(d)},{len(d)}" for n, d in sorted(members.items())] + [f"{dist_info}/RECORD,,"]
    members[f"{dist_info}/RECORD"] = ("\n".join(rows) + "\n").encode()
    output.mkdir(parents=True, exist_ok=True)
    wheel = output / f"{safe}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(members):
            archive.writestr(member, members[member])
    return wheel


def stage_listing(site: Path) -> list[tuple[str, str, str, str]]:
    """What python-wasm's ``stage.sh`` lists: every ``site-packages/**/pyforge-pkg.toml``, as (name, pattern,
    bridge folder, ``[wheel.component] artifact``)."""
    rows = []
    for manifest in sorted(site.rglob("pyforge-pkg.toml")):
        document = tomllib.loads(manifest.read_text())
        package = document.get("package", {})
        artifact = document.get("wheel", {}).get("component", {}).get("artifact", "(none)")
        rows.append((package.get("name", "?"), package.get("pattern", "?"), manifest.parent.name, artifact))
    return rows


def pip_target(wheel: Path, target: Path, *, wasm: bool = True) -> subprocess.CompletedProcess:
    """``pip install --target`` as python-wasm's ``pip.sh`` does it (for a wasm wheel: its platform and Python)."""
    platform = ["--platform", "wasm32_wasip2", "--python-version", "3.14", "--only-binary=:all:"] if wasm else []
    platform += ["--ignore-requires-python"] if wasm else []  # pip < 24 checks it against this interpreter
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheel.parent)]
    name = wheel.name.split("-")[0].replace("_", "-")
    return subprocess.run([*command, "--target", str(target), *platform, name], capture_output=True, text=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$PYTHON_WASM_HOME`` (never the user's) and a private compile cache."""
    folder = tmp_path / "python-wasm-home"
    (folder / "site-packages").mkdir(parents=True)
    monkeypatch.setenv("PYTHON_WASM_HOME", str(folder))
    monkeypatch.setenv("HATCH_PYLON_CACHE_DIR", str(tmp_path / "cache"))
    return folder


@pytest.fixture
def python_wasm_built(tmp_path: Path) -> Path:
    """``zstd_cap-0.1.0-cp314-cp314-wasm32_wasip2.whl`` as python-wasm's builder makes it from the bridge."""
    component = write_wasm(tmp_path / "components" / "zstd.component.wasm", cap_wat())
    return python_wasm_wheel(BRIDGE, component, "3.14", tmp_path / "wheels")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- reading python-wasm's wheels -----------------------------------------------------------------------


def test_a_python_wasm_wheel_verifies_as_a_file_from_pythonpath_and_from_python_wasm_home(
    python_wasm_built: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    assert python_wasm_built.name == WHEEL_NAME
    status, out, err = cli(capsys, "verify", str(python_wasm_built))
    assert status == 0, err
    assert "provides 1 component: zstd.component; files re-hashed against RECORD; 4 required capabilities" in out

    site = tmp_path / "site"
    installed = pip_target(python_wasm_built, site)
    assert installed.returncode == 0, installed.stderr
    monkeypatch.syspath_prepend(str(site))
    status, out, err = cli(capsys, "verify", "dist:zstd-cap")
    assert status == 0, err
    assert "(found in the build environment)" in out

    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    sys.path.remove(str(site))
    assert pip_target(python_wasm_built, home / "site-packages").returncode == 0
    status, out, err = cli(capsys, "verify", "dist:zstd-cap")
    assert status == 0, err
    assert f"(found in $PYTHON_WASM_HOME/site-packages ({home / 'site-packages'}))" in out


def test_inspect_shows_what_a_python_wasm_wheel_provides_after_checking_it(
    python_wasm_built: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    status, out, err = cli(capsys, "inspect", str(python_wasm_built))
    assert status == 0, err
    assert (
        out.splitlines()[0]
        == f"{python_wasm_built}: zstd.component (_zstd_cap_component/zstd.component.wasm): component"
    )
    assert "  instance  zstd:compression/advanced@0.1.0" in out.splitlines()
    assert pip_target(python_wasm_built, home / "site-packages").returncode == 0
    status, out, err = cli(capsys, "inspect", "--json", "dist:zstd-cap")
    document = json.loads(out)
    assert status == 0 and document["distribution"] == "dist:zstd-cap", err
    assert len(document["components"]["zstd.component"]["exports"]) == 4

    artifact = home / "site-packages" / "_zstd_cap_component" / "zstd.component.wasm"
    artifact.write_bytes(wasmtime.wat2wasm(cap_wat(value=7)))
    status, out, err = cli(capsys, "inspect", "dist:zstd-cap")
    assert status == 1 and "was modified" in err and out == ""


def test_a_modified_artifact_and_a_shim_only_package_are_named(
    python_wasm_built: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = home / "site-packages"
    assert pip_target(python_wasm_built, site).returncode == 0
    artifact = site / "_zstd_cap_component" / "zstd.component.wasm"
    artifact.write_bytes(wasmtime.wat2wasm(cap_wat(value=7)))
    status, _, err = cli(capsys, "verify", "dist:zstd-cap")
    assert status == 1
    assert "component 'zstd.component': _zstd_cap_component/zstd.component.wasm was modified (sha256" in err
    assert "RECORD says" in err

    shim = tmp_path / "shim" / "_zstd_shim"
    shim.mkdir(parents=True)
    (shim / "pyforge-pkg.toml").write_text(
        'schema = "tegmentum:pylon-pyforge/pkg@0.1.0"\n[package]\nname = "zstd-shim"\nversion = "0.1.0"\n'
        'pattern = "shim-only"\n'
    )
    stripped = python_wasm_wheel(shim, None, "3.14", tmp_path / "shim-wheels")
    status, _, err = cli(capsys, "verify", str(stripped))
    assert status == 1
    assert "provides no components: _zstd_shim/pyforge-pkg.toml (pattern 'shim-only') has no [wheel.component]" in err


@pytest.mark.parametrize(
    ("component_block", "expected"),
    [
        ('artifact = "../evil.wasm"', "[wheel.component] artifact must be the relative path of a .wasm file"),
        ('artifact = "_zstd_cap_component/other.wasm"', "is not a file of the distribution (RECORD does not list it)"),
        (
            'artifact = "_zstd_cap_component/Zstd Cap.wasm"',
            "gives the id 'zstd cap', which is not a valid component id",
        ),
    ],
)
def test_a_manifest_naming_a_file_outside_the_wheel_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], component_block: str, expected: str
) -> None:
    import shutil

    bridge = tmp_path / "_zstd_cap"
    shutil.copytree(BRIDGE, bridge)
    with (bridge / "pyforge-pkg.toml").open("a") as manifest:
        manifest.write(f"\n[wheel.component]\n{component_block}\n")
    component = write_wasm(tmp_path / "zstd.component.wasm", cap_wat())
    status, _, err = cli(capsys, "verify", str(python_wasm_wheel(bridge, component, "3.14", tmp_path / "wheels")))
    assert status == 1 and expected in err and "Traceback" not in err, err


def test_a_capability_skew_is_refused_by_verify_and_by_an_app_build(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skews = {
        "missing": {"simple": "0.1.0", "streaming": "0.1.0", "info": "0.1.0"},
        "track": {"simple": "0.1.0", "streaming": "0.1.0", "info": "0.1.0", "advanced": "0.2.0"},
    }
    for name, interfaces in skews.items():
        component = write_wasm(tmp_path / name / "zstd.component.wasm", cap_wat(interfaces))
        wheel = python_wasm_wheel(BRIDGE, component, "3.14", tmp_path / name / "wheels")
        status, _, err = cli(capsys, "verify", str(wheel))
        exports = ", ".join(f"zstd:compression/{i}@{v}" for i, v in sorted(interfaces.items()))
        expected = (
            "component 'zstd.component': _zstd_cap_component/zstd.component.wasm: _zstd_cap/pyforge-pkg.toml of "
            f"zstd-cap 0.1.0 requires zstd:compression/advanced@0.1.0, which it does not export (it exports {exports})"
        )
        assert status == 1 and err.count(" - ") == 1 and expected in err, err

    site = home / "site-packages"
    assert pip_target(wheel, site).returncode == 0
    project = tmp_path / "app"
    write_wasm(project / "root.wasm", ROOT_WAT)
    raw = {"root": "root.wasm", "component-distributions": ["zstd-cap"]}
    with pytest.raises(PylonError) as failure:
        build_bundle(load_config(raw, project_root=project, project_name="app", environ={}))
    assert str(failure.value).count("\n") == 1 and "requires zstd:compression/advanced@0.1.0" in str(failure.value)


def app_project(folder: Path, hook: str = "") -> Path:
    """An app whose root imports ``zstd:compression/simple@0.1.0`` and takes it from the ``zstd-cap`` wheel."""
    write_wasm(folder / "root.wasm", ROOT_WAT)
    (folder / "zstd_app").mkdir(parents=True)
    (folder / "zstd_app" / "__init__.py").write_text("")
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "zstd-app"\nversion = "1.0"\n'
        '[tool.hatch.build.hooks.pylon]\nroot = "root.wasm"\ncomponent-distributions = ["zstd-cap"]\n'
        'linkage = "static"\n' + hook  # a typed cap and no linker: the plan composectl's exec runs
    )
    return folder


def build(project: Path, out: Path, *only: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "build", "--no-isolation", *only, "--outdir", str(out), str(project)]
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    return subprocess.run(command, capture_output=True, text=True, env=env)


@pytest.mark.slow  # python -m build, in a subprocess
def test_an_app_copies_a_wasm32_component_from_python_wasm_home_runs_it_and_installs_with_a_host_pip(
    python_wasm_built: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    assert pip_target(python_wasm_built, home / "site-packages").returncode == 0
    project = app_project(tmp_path / "app")
    built = build(project, tmp_path / "dist", "--wheel")
    assert built.returncode == 0, built.stdout + built.stderr
    assert (
        "copied from zstd-cap 0.1.0 (wasm32 only: a host pip cannot install it), found in "
        f"$PYTHON_WASM_HOME/site-packages ({home / 'site-packages'})"
    ) in built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("zstd_app-1.0.dist-info/METADATA").decode()
        blobs = [n for n in archive.namelist() if "/.compose/blobs/" in n]
    assert "Requires-Dist" not in metadata and len(blobs) == 2  # the root and the copied cap

    status, out, err = cli(capsys, "verify", str(wheel))
    assert status == 0 and "2 components, 1 binding" in out, err
    status, out, err = cli(capsys, "run", str(wheel))
    assert (status, out) == (0, "42\n"), err

    site = tmp_path / "host-site"
    installed = pip_target(wheel, site, wasm=False)  # a host pip: nothing to require, nothing it cannot install
    assert installed.returncode == 0, installed.stderr
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHON_WASM_HOME", str(tmp_path / "empty-home"))  # the installed app needs nothing else
    status, out, err = cli(capsys, "run", "dist:zstd-app")
    assert (status, out) == (0, "42\n"), err


def test_distributed_reference_on_a_wasm32_component_is_refused_naming_why(
    python_wasm_built: Path, home: Path, tmp_path: Path
) -> None:
    assert pip_target(python_wasm_built, home / "site-packages").returncode == 0
    project = tmp_path / "app"
    write_wasm(project / "root.wasm", ROOT_WAT)
    raw = {"root": "root.wasm", "component-distributions": ["zstd-cap"], "distributed": "reference"}
    with pytest.raises(PylonError) as failure:
        build_bundle(load_config(raw, project_root=project, project_name="app", environ={}))
    assert str(failure.value) == (
        "cannot reference the components:\n"
        "  - tool.hatch.build.hooks.pylon.distributed: \"reference\" cannot apply to component 'zstd.component' of "
        "zstd-cap 0.1.0: that distribution is built for cp314-cp314-wasm32_wasip2 only, so a host pip can never "
        "install a Requires-Dist on it and the app could not be installed; remove the distributed key (its "
        'components are then copied into the bundle) or write distributed = "copy"'
    )


# -- building them with hatch build -------------------------------------------------------------------------


def extension_project(folder: Path, component_wat: str | None = None, extra: str = "") -> Path:
    """The item-4 project: the bridge, its Lib/ shim, a built component, and a ``pyforge`` table."""
    import shutil

    shutil.copytree(BRIDGE, folder / "_zstd_cap")
    shutil.copytree(BRIDGE.parent / "_compression", folder / "_compression")
    write_wasm(folder / "build" / "zstd.component.wasm", component_wat or cap_wat())
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "zstd-cap"\nversion = "0.1.0"\n' + extra + "[tool.hatch.build.hooks.pylon]\n"
        'components = [{ id = "zstd", path = "build/zstd.component.wasm" }]\nprovides = ["zstd"]\n'
        'pyforge = { bridge = "_zstd_cap", python = "3.14" }\n'
    )
    return folder


@pytest.mark.slow  # python -m build, in a subprocess
def test_hatch_builds_the_extension_wheel_python_wasm_builds_reproducibly_and_an_app_uses_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    project = extension_project(tmp_path / "one" / "zstd-cap")
    built = build(project, tmp_path / "dist-one")
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = tmp_path / "dist-one" / WHEEL_NAME
    elsewhere = extension_project(tmp_path / "two" / "elsewhere")
    for only in ("--sdist", "--wheel"):  # the wheel straight from the project: the same as from its sdist
        again = build(elsewhere, tmp_path / "dist-two", only)
        assert again.returncode == 0, again.stdout + again.stderr
    for artifact in (WHEEL_NAME, "zstd_cap-0.1.0.tar.gz"):  # byte-identical from any folder
        assert (tmp_path / "dist-two" / artifact).read_bytes() == (tmp_path / "dist-one" / artifact).read_bytes()
    status, out, err = cli(capsys, "verify", str(tmp_path / "dist-one" / "zstd_cap-0.1.0.tar.gz"))
    assert status == 0, err

    component = project / "build" / "zstd.component.wasm"
    theirs = python_wasm_wheel(BRIDGE, component, "3.14", tmp_path / "theirs")
    descriptor = "zstd_cap-0.1.0.dist-info/extra_metadata/pylon-components.json"
    with zipfile.ZipFile(wheel) as ours, zipfile.ZipFile(theirs) as reference:
        assert sorted(set(ours.namelist()) - {descriptor}) == sorted(reference.namelist())
        assert ours.read("_zstd_cap_component/zstd.component.wasm") == component.read_bytes()
        assert sum(1 for i in ours.infolist() if i.file_size == component.stat().st_size) == 1  # one copy
        manifest = tomllib.loads(ours.read("_zstd_cap/pyforge-pkg.toml").decode())
        metadata = ours.read("zstd_cap-0.1.0.dist-info/METADATA").decode()
        wheel_file = ours.read("zstd_cap-0.1.0.dist-info/WHEEL").decode()
    assert manifest["wheel"]["component"] == {"artifact": "_zstd_cap_component/zstd.component.wasm"}
    assert "Platform: wasm32-wasip2\n" in metadata and "Requires-Python: >=3.14,<3.15\n" in metadata
    assert "Summary: zstd codec extension over a zstd capability component\n" in metadata  # [package]'s
    assert "Root-Is-Purelib: false\n" in wheel_file and "Tag: cp314-cp314-wasm32_wasip2\n" in wheel_file
    import tarfile

    with tarfile.open(tmp_path / "dist-one" / "zstd_cap-0.1.0.tar.gz") as sdist:
        pkg_info = sdist.extractfile("zstd_cap-0.1.0/PKG-INFO").read().decode()  # type: ignore[union-attr]
    assert "Platform: wasm32-wasip2\n" in pkg_info and "Requires-Python: >=3.14,<3.15\n" in pkg_info

    site = home / "site-packages"
    assert pip_target(wheel, site).returncode == 0
    assert stage_listing(site) == [("zstd-cap", "A", "_zstd_cap", "_zstd_cap_component/zstd.component.wasm")]
    status, out, err = cli(capsys, "verify", str(wheel))
    assert status == 0 and "provides 1 component: zstd; files re-hashed against its descriptor" in out, err
    status, out, err = cli(capsys, "verify", "dist:zstd-cap")
    assert status == 0, err

    app = app_project(tmp_path / "app")
    built = build(app, tmp_path / "app-dist", "--wheel")
    assert built.returncode == 0, built.stdout + built.stderr
    (app_wheel,) = (tmp_path / "app-dist").glob("*.whl")
    status, out, err = cli(capsys, "run", str(app_wheel))
    assert (status, out) == (0, "42\n"), err


@pytest.mark.slow  # python -m build, in a subprocess
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "skew",
            "tool.hatch.build.hooks.pylon.pyforge.bridge: _zstd_cap/pyforge-pkg.toml requires "
            "zstd:compression/advanced@0.1.0, which component 'zstd' does not export (it exports "
            "zstd:compression/info@0.1.0, zstd:compression/simple@0.1.0, zstd:compression/streaming@0.1.0)",
        ),
        (
            "version",
            "[project] version '0.2.0' and tool.hatch.build.hooks.pylon.pyforge.bridge: _zstd_cap/pyforge-pkg.toml "
            "[package] version '0.1.0' must be the same",
        ),
        (
            "c_file",
            "tool.hatch.build.hooks.pylon.pyforge.bridge: _zstd_cap/pyforge-pkg.toml: [extension] c_file names "
            "_zstd_capmodule.c, which is not in the bridge",
        ),
    ],
)
def test_the_spec_checks_refuse_a_build_with_one_message(tmp_path: Path, change: str, expected: str) -> None:
    wat = cap_wat({"simple": "0.1.0", "streaming": "0.1.0", "info": "0.1.0"}) if change == "skew" else None
    project = extension_project(tmp_path / "zstd-cap", wat)
    if change == "version":
        text = (project / "pyproject.toml").read_text()
        (project / "pyproject.toml").write_text(text.replace('version = "0.1.0"', 'version = "0.2.0"'))
    if change == "c_file":
        (project / "_zstd_cap" / "_zstd_capmodule.c").unlink()
    built = build(project, tmp_path / "dist", "--wheel")
    assert built.returncode != 0
    output = built.stdout + built.stderr
    assert output.count(expected) == 1, output
    assert not list((tmp_path / "dist").glob("*.whl"))


@pytest.mark.skipif(not os.environ.get("PYTHON_WASM_SRC"), reason="PYTHON_WASM_SRC: a python-wasm checkout")
def test_python_wasm_own_builder_and_stage_script_agree(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-wasm's own ``wheel_builder.build()`` and ``stage.sh``, from a checkout, with its real ``_zstd_cap``."""
    import importlib.util
    import shutil

    source = Path(os.environ["PYTHON_WASM_SRC"])
    spec = importlib.util.spec_from_file_location("wheel_builder", source / "scripts" / "lib" / "wheel_builder.py")
    assert spec is not None and spec.loader is not None
    wheel_builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wheel_builder)

    project = extension_project(tmp_path / "zstd-cap")
    for folder in ("_zstd_cap", "_compression"):  # python-wasm's own bridge and the shim it names
        shutil.rmtree(project / folder)
        shutil.copytree(source / "cpython-ext" / folder, project / folder)
    built = build(project, tmp_path / "ours", "--wheel")
    assert built.returncode == 0, built.stdout + built.stderr
    ours = tmp_path / "ours" / WHEEL_NAME
    component = project / "build" / "zstd.component.wasm"
    theirs = wheel_builder.build(
        bridge_dir=project / "_zstd_cap", component_path=component, python_minor="3.14", output_dir=tmp_path / "theirs"
    )
    descriptor = "zstd_cap-0.1.0.dist-info/extra_metadata/pylon-components.json"
    with zipfile.ZipFile(ours) as mine, zipfile.ZipFile(theirs) as reference:
        assert sorted(set(mine.namelist()) - {descriptor}) == sorted(reference.namelist())

    status, out, err = cli(capsys, "verify", str(theirs))
    assert status == 0, err
    for wheel, site in ((ours, home / "site-packages"), (theirs, tmp_path / "their-home" / "site-packages")):
        assert pip_target(wheel, site).returncode == 0
        env = {
            **os.environ,
            "PYTHON_WASM_HOME": str(site.parent),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        }
        staged = subprocess.run(
            ["sh", str(source / "packaging" / "lib" / "python-wasm" / "stage.sh")],
            capture_output=True,
            text=True,
            env=env,
        )
        assert staged.returncode == 0, staged.stderr
        assert staged.stdout.splitlines()[1].split() == [
            "zstd-cap",
            "A",
            "_zstd_cap",
            "_zstd_cap_component/zstd.component.wasm",
        ]

    monkeypatch.setenv("PYTHON_WASM_HOME", str(tmp_path / "their-home"))  # the app takes their wheel's component
    built = build(app_project(tmp_path / "app"), tmp_path / "app-dist", "--wheel")
    assert built.returncode == 0, built.stdout + built.stderr
    (app_wheel,) = (tmp_path / "app-dist").glob("*.whl")
    status, out, err = cli(capsys, "run", str(app_wheel))
    assert (status, out) == (0, "42\n"), err


@pytest.mark.slow  # python -m build, in a subprocess
def test_setuptools_builds_the_same_extension_wheel_from_the_same_keys(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[tool.pylon]``: the same tag, members and METADATA fields; setuptools adds its own top_level.txt."""
    project = extension_project(tmp_path / "zstd-cap")
    text = (project / "pyproject.toml").read_text()
    text = text.replace(
        '"hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"',
        '"setuptools>=64"]\nbuild-backend = "setuptools.build_meta"',
    )
    (project / "pyproject.toml").write_text(
        text.replace("[tool.hatch.build.hooks.pylon]", "[tool.setuptools]\npy-modules = []\n[tool.pylon]")
    )
    built = build(project, tmp_path / "dist")  # the sdist, then the wheel from it
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = tmp_path / "dist" / WHEEL_NAME
    theirs = python_wasm_wheel(BRIDGE, project / "build" / "zstd.component.wasm", "3.14", tmp_path / "theirs")
    own = {"zstd_cap-0.1.0.dist-info/extra_metadata/pylon-components.json", "zstd_cap-0.1.0.dist-info/top_level.txt"}
    with zipfile.ZipFile(wheel) as ours, zipfile.ZipFile(theirs) as reference:
        assert sorted(set(ours.namelist()) - own) == sorted(reference.namelist())
        metadata = ours.read("zstd_cap-0.1.0.dist-info/METADATA").decode()
        wheel_file = ours.read("zstd_cap-0.1.0.dist-info/WHEEL").decode()
    assert "Platform: wasm32-wasip2\n" in metadata and "Requires-Python: >=3.14,<3.15\n" in metadata
    assert "Summary: zstd codec extension over a zstd capability component\n" in metadata  # [package]'s
    assert "Root-Is-Purelib: false\n" in wheel_file and "Tag: cp314-cp314-wasm32_wasip2\n" in wheel_file
    status, out, err = cli(capsys, "verify", str(wheel))
    assert status == 0 and "provides 1 component: zstd" in out, err
