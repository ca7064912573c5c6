"""Hostile and careless inputs against what was added last (component distributions, the registry, ``new``,
the cache, ``run .``), each through the command a user runs.

Every case asserts one clear message (or the right result), no traceback, and that nothing hatch-pylon did
not make is deleted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from corpus import BASE_HOOK, base_project
from test_hostile import assert_temp_empty, built_base, run

pytestmark = pytest.mark.slow

DAYS = 24 * 3600


@pytest.fixture(scope="module")
def base_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_base(tmp_path_factory, "wheel")


def aged(path: Path, days: float = 3) -> Path:
    then = time.time() - days * DAYS
    os.utime(path, (then, then))
    return path


# -- 1. sweeps remove only what hatch-pylon made ---------------------------------------------------


def test_a_sweep_leaves_a_users_old_folders_in_the_temp_dir(tmp_path: Path, base_wheel: Path) -> None:
    temp = tmp_path / "private-tmp"
    temp.mkdir()
    notes = temp / "hatch-pylon-notes"
    lookalike = temp / "hatch-pylon-abcd1234"  # mkdtemp's shape, but no marker of ours in it
    for folder in (notes, lookalike):
        folder.mkdir()
        (folder / "todo.txt").write_text("mine")
        aged(folder)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(base_wheel))
    assert code == 0 and "OK" in output, output
    assert (notes / "todo.txt").read_text() == "mine" and (lookalike / "todo.txt").read_text() == "mine"
    notes_left = sorted(p.name for p in temp.iterdir())
    assert notes_left == ["hatch-pylon-abcd1234", "hatch-pylon-notes"], notes_left


def test_a_sweep_in_a_shared_store_leaves_files_it_did_not_write(tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK + 'store = "../shared"\n')
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / ".tmp-keep").write_text("mine")  # fresh, and nobody holds a lock on it
    (shared / ".tmp-0123").write_text("mine")
    notes = shared / "hatch-pylon-notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    aged(notes)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", ".", cwd=project)
    assert code == 0 and "OK" in output, output
    assert "did not finish" not in output, output
    assert (shared / ".tmp-keep").read_text() == "mine" and (shared / ".tmp-0123").read_text() == "mine"
    assert (notes / "todo.txt").read_text() == "mine"
    assert_temp_empty(tmp_path)


# -- 3. each distinct blob is read once per gate call ----------------------------------------------


READS = (
    "import sys; from hatch_pylon.adapters.cli import main; status = main(sys.argv[1:]); sys.stdout.flush(); "
    "rchar = next(line for line in open('/proc/self/io') if line.startswith('rchar')); "
    "print('READ', rchar.split()[1]); sys.exit(status)"
)
PAD = 8 << 20  # bytes of custom section in the shared blob


def padded(path: Path, size: int) -> None:
    """A valid component with ``size`` bytes of custom section appended (a component is a list of sections)."""
    from helpers import leb, name, section

    body = name("pad") + bytes(size)
    path.write_bytes(path.read_bytes() + section(0, body))
    assert len(leb(len(body))) <= 5


def many_ids_bundle(tmp_path: Path, copies: int, hook: str = BASE_HOOK) -> Path:
    """A bundle folder whose plan names the cap's one blob under ``copies`` more ids."""
    import json

    from test_hostile import sealed

    from hatch_pylon.build.pipeline import build_bundle
    from hatch_pylon.build.project import load_project

    project = tmp_path / "demo-project"
    base_project(project, hook)
    padded(project / "caps" / "p.wasm", PAD)
    bundle = build_bundle(load_project(project)).write_to(tmp_path / "bundle")
    plan = json.loads((bundle / "plan.json").read_bytes())
    (cap,) = [c for c in plan["components"] if c["id"] == "p"]
    plan["components"] += [{**cap, "id": f"q{index:03}"} for index in range(copies)]
    plan_json = json.dumps(plan).encode()
    (bundle / "plan.json").write_bytes(plan_json)
    (bundle / "pylon.json").write_bytes(sealed((bundle / "pylon.json").read_bytes(), plan_json))
    return bundle


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts the bytes read through /proc/self/io")
@pytest.mark.parametrize(
    ("flags", "hook"),
    [(["--names-only"], BASE_HOOK), ([], BASE_HOOK), ([], BASE_HOOK + "compose = true\n")],
    ids=["names-only", "types", "composed"],
)
def test_a_blob_named_by_many_ids_is_read_once(tmp_path: Path, flags: list[str], hook: str) -> None:
    bundle = many_ids_bundle(tmp_path, 40, hook)
    code, output = run(tmp_path, "-c", READS, "verify", *flags, str(bundle))
    assert code == 0 and "OK (42 components" in output, output
    read = int(output.rsplit("READ ", 1)[1].split()[0])
    # Composed: the composed file (which holds the blob) is read and re-composed too, each once more.
    limit = 7 * PAD if "compose" in hook else 3 * PAD
    assert read < limit, f"{read} bytes read for one {PAD}-byte blob named 41 times"


# -- a component distribution, built by hatchling, shipping a plan.json as data ----------------------

CAP_HOOK = 'components = [{ id = "p", path = "caps/p.wasm" }]\nprovides = ["p"]\n'


@pytest.fixture(scope="module")
def capdist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """capdist's wheel and sdist: it provides the component ``p`` and ships ``capdist/examples/plan.json``."""
    from helpers import hook_pyproject, write_component
    from test_hostile import build

    tmp = tmp_path_factory.mktemp("capdist")
    project = tmp / "capdist-project"
    (project / "capdist" / "examples").mkdir(parents=True)
    (project / "capdist" / "__init__.py").write_text("")
    (project / "capdist" / "examples" / "plan.json").write_text('{"an": "example the package documents"}\n')
    write_component(project / "caps" / "p.wasm", exports=["a:b/c@1.0.0"])
    (project / "pyproject.toml").write_text(hook_pyproject("capdist", CAP_HOOK))
    for kind in ("sdist", "wheel"):
        code, output = build(tmp, project, kind, tmp / "dist")
        assert code == 0, output
    return {"wheel": next((tmp / "dist").glob("*.whl")), "sdist": next((tmp / "dist").glob("*.tar.gz"))}


def install_wheel(tmp_path: Path, wheel: Path) -> tuple[Path, dict[str, str]]:
    from test_hostile import installed

    return installed(tmp_path, wheel)


def test_a_component_distribution_is_what_its_descriptor_says(tmp_path: Path, capdist: dict[str, Path]) -> None:
    _, env = install_wheel(tmp_path, capdist["wheel"])
    for target in (str(capdist["wheel"]), str(capdist["sdist"]), "dist:capdist"):
        code, output = run(tmp_path, "-m", "hatch_pylon", "verify", target, extra_env=env)
        assert code == 0 and "OK (provides 1 component: p;" in output, (target, output)
    assert_temp_empty(tmp_path)


# -- 11. an installed RECORD goes through the same guarded reader as a wheel's -----------------------


@pytest.mark.parametrize("which", ["capdist", "demo"])
def test_an_installed_record_with_an_oversized_field_is_one_message(
    tmp_path: Path, capdist: dict[str, Path], base_wheel: Path, which: str
) -> None:
    site, env = install_wheel(tmp_path, capdist["wheel"] if which == "capdist" else base_wheel)
    (record,) = site.glob("*.dist-info/RECORD")
    with record.open("a") as file:
        file.write('"' + "x" * 200_000 + '",,\n')  # csv's field limit is 131,072
    for command, target in (("verify", f"dist:{which}"), ("run", which)):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, target, extra_env=env)
        assert code == 1 and "RECORD cannot be read (field larger than field limit" in output, (command, output)
    assert_temp_empty(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts the bytes read through /proc/self/io")
def test_a_descriptor_naming_one_blob_many_times_reads_it_once(tmp_path: Path, capdist: dict[str, Path]) -> None:
    import hashlib
    import json

    site, env = install_wheel(tmp_path, capdist["wheel"])
    (descriptor,) = site.glob("*.dist-info/extra_metadata/pylon-components.json")
    document = json.loads(descriptor.read_bytes())
    (entry,) = document["components"]
    blobs = site / document["store"] / "blobs"
    old = blobs / entry["digest"][:2] / entry["digest"][2:]
    padded(old, PAD)
    data = old.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest[:2]).mkdir(exist_ok=True)
    old.rename(blobs / digest[:2] / digest[2:])
    entry.update(digest=digest, size=len(data))
    document["components"] = [entry] + [{**entry, "id": f"q{index:03}"} for index in range(40)]
    descriptor.write_text(json.dumps(document))
    code, output = run(tmp_path, "-c", READS, "verify", "dist:capdist", extra_env=env)
    assert code == 0 and "OK (provides 41 components" in output, output
    read = int(output.rsplit("READ ", 1)[1].split()[0])
    assert read < 3 * PAD, f"{read} bytes read for one {PAD}-byte blob listed 41 times"


# -- 5. pylon.json's references are a distribution name and a version, printed escaped ----------------


def small_bundle(tmp_path: Path, hook: str = BASE_HOOK) -> Path:
    from hatch_pylon.build.pipeline import build_bundle
    from hatch_pylon.build.project import load_project

    project = tmp_path / "demo-project"
    base_project(project, hook)
    return build_bundle(load_project(project)).write_to(tmp_path / "bundle")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        (
            "distribution",
            "x\x1b]0;owned\x07\x1b[2J",
            r"references[0].distribution is not a distribution name: 'x\x1b]0;",
        ),
        ("version", "1.0' ; touch pwned ; echo '", "references[0].version is not a version (PEP 440): \"1.0' ; touch"),
        ("version", "1.0\n", r"references[0].version is not a version (PEP 440): '1.0\n'"),
    ],
    ids=["escapes-in-name", "quote-in-version", "newline-in-version"],
)
def test_a_reference_that_is_not_a_name_and_version_is_refused_escaped(
    tmp_path: Path, field: str, value: str, fragment: str
) -> None:
    import json

    bundle = small_bundle(tmp_path)
    plan = json.loads((bundle / "plan.json").read_bytes())
    digest = bytes(next(c for c in plan["components"] if c["id"] == "p")["digest"]).hex()
    meta = json.loads((bundle / "pylon.json").read_bytes())
    reference = {"distribution": "capdist", "version": "1.0", "components": [{"id": "p", "digest": digest}]}
    meta["references"] = [{**reference, field: value}]
    (bundle / "pylon.json").write_text(json.dumps(meta))
    (bundle / ".compose" / "blobs" / digest[:2] / digest[2:]).unlink()  # it stays in the referenced distribution
    for command in ("verify", "run"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, str(bundle))
        assert code == 1 and fragment in output, (command, output)
        assert "\x1b" not in output and "' ; touch pwned" not in output.replace(fragment, ""), (command, output)
    assert not (tmp_path / "pwned").exists()


# -- 6. names from binaries reach the terminal escaped ------------------------------------------------

HOSTILE_PARAM = r'(param "x\1b]0;owned\07\1b[2J" u32) (result u32)'


def test_names_in_a_binarys_types_are_printed_escaped(tmp_path: Path) -> None:
    from helpers import write_component

    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK)
    write_component(project / "root.wasm", imports=["a:b/c@1.0.0"], import_sigs={"a:b/c@1.0.0": HOSTILE_PARAM})
    code, output = run(tmp_path, "-m", "hatch_pylon", "inspect", "--types", str(project / "root.wasm"))
    assert code == 0 and r"f: func(x\x1b]0;owned\x07\x1b[2J: u32) -> u32" in output, output
    assert "\x1b" not in output and "\x07" not in output, output
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", ".", cwd=project)
    assert code == 1 and r"consumer imports func(x\x1b]0;owned\x07\x1b[2J: u32) -> u32" in output, output
    assert "\x1b" not in output and "\x07" not in output, output


def test_json_output_is_ascii_so_no_name_reaches_the_terminal_raw(tmp_path: Path) -> None:
    """C1 controls (U+009B is a CSI) and bidirectional overrides are printable to JSON but not to a terminal:
    ``--json`` writes them as ``\\u`` escapes, and the document still reads back to the exact names."""
    import json

    from helpers import write_component

    project = tmp_path / "demo-project"
    capability = "net\u009b31m\u202e"
    table = "[[tool.hatch.build.hooks.pylon.policy.capabilities]]"
    hook = BASE_HOOK + f'linkage = "static"\n{table}\nname = "{capability}"\n'
    base_project(project, hook)
    code, output = run(tmp_path, "-m", "hatch_pylon", "plan", "--json", cwd=project)
    assert code == 0 and output.isascii(), output
    assert json.loads(output)["policy"]["capabilities"] == [{"name": capability, "level": "required"}], output
    param = r'(param "x\u{9b}31m\u{202e}y" u32) (result u32)'
    write_component(tmp_path / "named.wasm", imports=["a:b/c@1.0.0"], import_sigs={"a:b/c@1.0.0": param})
    code, output = run(tmp_path, "-m", "hatch_pylon", "inspect", "--json", "--types", str(tmp_path / "named.wasm"))
    assert code == 0 and output.isascii(), output
    imported = json.loads(output)["imports"][0]
    assert "x\x9b31m\u202ey: u32" in json.dumps(imported, ensure_ascii=False), imported


TRAPPING_ROOT = r"""(component
  (core module $m (func (@name "boom\1b]0;owned\07") (export "run") (result i32) unreachable))
  (core instance $i (instantiate $m))
  (func (export "run") (result u32) (canon lift (core func $i "run"))))"""


def test_run_v_prints_the_backtraces_function_names_escaped(tmp_path: Path) -> None:
    import wasmtime
    from helpers import hook_pyproject

    project = tmp_path / "demo-project"
    (project / "demo").mkdir(parents=True)
    (project / "demo" / "__init__.py").write_text("")
    (project / "root.wasm").write_bytes(wasmtime.wat2wasm(TRAPPING_ROOT))
    (project / "pyproject.toml").write_text(hook_pyproject("demo", 'root = "root.wasm"\nlinkage = "static"\n'))
    code, output = run(tmp_path, "-m", "hatch_pylon", "run", "-v", ".", cwd=project)
    assert code != 0 and r"boom\x1b]0;owned\x07" in output, output
    assert "\x1b" not in output and "\x07" not in output, output


# -- 12. setuptools removes a stale descriptor when provides is gone -------------------------------------

SETUPTOOLS_PYPROJECT = (
    '[build-system]\nrequires = ["setuptools>=64", "hatch-pylon"]\nbuild-backend = "setuptools.build_meta"\n'
    '[project]\nname = "demo"\nversion = "1.0"\n[tool.setuptools]\npackages = ["demo"]\n[tool.pylon]\n'
)


def test_a_setuptools_app_built_after_a_component_wheel_ships_no_descriptor(tmp_path: Path) -> None:
    import zipfile

    from test_hostile import build

    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(SETUPTOOLS_PYPROJECT + 'components = [{ id = "p", path = "caps/p.wasm" }]\nprovides = ["p"]\n')
    code, output = build(tmp_path, project, "wheel", tmp_path / "provided")
    assert code == 0, output
    pyproject.write_text(SETUPTOOLS_PYPROJECT + BASE_HOOK)
    code, output = build(tmp_path, project, "wheel", tmp_path / "app")
    assert code == 0, output
    (wheel,) = (tmp_path / "app").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "demo/_pylon/plan.json" in names, names
    assert not [n for n in names if n.endswith("pylon-components.json")], names
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 0 and "OK (2 components, 1 binding" in output, output


# -- 9, 10. hatch-pylon new: ".", a path under a file, a folder it did not make, WIT keywords ------------


def test_new_dot_writes_into_the_empty_current_folder(tmp_path: Path) -> None:
    folder = tmp_path / "notes-app"
    folder.mkdir()
    code, output = run(tmp_path, "-m", "hatch_pylon", "new", ".", cwd=folder)
    assert code == 0 and "wrote ./" in output, output
    assert "package notes-app:counter@0.1.0;" in (folder / "wit" / "deps" / "counter" / "counter.wit").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes-app", "private-tmp"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".hatch-pylon")]


def test_new_under_a_file_is_one_message(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, output = run(tmp_path, "-m", "hatch_pylon", "new", "notes.txt/app")
    assert code == 1 and "notes.txt/app: " in output and "notes.txt is a file, not a folder" in output, output
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_new_never_removes_a_folder_it_did_not_make(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    code, output = run(tmp_path, "-m", "hatch_pylon", "new", "../sub", cwd=sub)
    assert code == 0, output
    assert (sub / "pyproject.toml").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private-tmp", "sub"]  # no .sub-* temp folder
    # A failure half-way (a read-only folder) leaves the empty folder it found, and nothing in it.
    if os.geteuid() == 0:
        return  # root writes through a read-only mode
    other = tmp_path / "other"
    other.mkdir(mode=0o555)
    code, output = run(tmp_path, "-m", "hatch_pylon", "new", "other")
    assert code == 1 and "other: cannot write the project" in output, output
    assert other.is_dir() and list(other.iterdir()) == []


@pytest.mark.parametrize("name", ["stream", "record", "world", "interface", "result", "future"])
def test_new_with_a_wit_keyword_writes_wit_that_parses(tmp_path: Path, name: str) -> None:
    from hatch_pylon.bundle.compose import find_wasm_tools

    tool = find_wasm_tools()
    if tool is None:
        pytest.skip("wasm-tools parses the WIT")
    code, output = run(tmp_path, "-m", "hatch_pylon", "new", name)
    assert code == 0, output
    import subprocess

    parsed = subprocess.run([tool, "component", "wit", str(tmp_path / name / "wit")], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    assert f"package {name}-app:app@0.1.0;" in (tmp_path / name / "wit" / "world.wit").read_text()


# -- 4, 7. typed at the gate: registry members, a guest's linker, the root's entry point ------------------

WRONG_ENDPOINT = """(component
  (core module $m (func (export "h") (result i32) i32.const 7))
  (core instance $ci (instantiate $m))
  (func $h (result u32) (canon lift (core func $ci "h")))
  (instance $api (export "handle" (func $h)))
  (export "compose:dynlink/endpoint@0.1.0" (instance $api)))"""

WRONG_LINKER_GUEST = """(component
  (import "compose:dynlink/linker@0.1.0" (instance
    (export "resolve-by-id" (func (param "id" u32) (result u32)))))
  (core module $m (func (export "run") (result i32) i32.const 0))
  (core instance $ci (instantiate $m))
  (func (export "run") (result u32) (canon lift (core func $ci "run"))))"""

ROOT_WITH_PARAMETERS = """(component
  (core module $m (func (export "run") (param i32) (result i32) local.get 0))
  (core instance $ci (instantiate $m))
  (func (export "run") (param "x" u32) (result u32) (canon lift (core func $ci "run"))))"""

DYNLINK_HOOK = (
    'root = "root.wasm"\ncomponent-dirs = ["caps"]\nlinkage = "runtime"\n'
    'policy = { capabilities = [{ name = "dynlink:resolve", level = "required" }, '
    '{ name = "dynlink:invoke", level = "required" }] }\n'
)


def wat_project(folder: Path, root: bytes, caps: dict[str, bytes], hook: str = DYNLINK_HOOK) -> Path:
    from helpers import hook_pyproject

    (folder / "demo").mkdir(parents=True)
    (folder / "demo" / "__init__.py").write_text("")
    (folder / "caps").mkdir()
    (folder / "root.wasm").write_bytes(root)
    for name, data in caps.items():
        (folder / "caps" / name).write_bytes(data)
    (folder / "pyproject.toml").write_text(hook_pyproject("demo", hook))
    return folder


def test_a_registry_member_of_the_wrong_type_is_refused_before_run(
    tmp_path: Path, dynlink_components: dict[str, Path]
) -> None:
    import wasmtime
    from helpers import SAMPLE

    caps = {f"{wat.stem}.wasm": wasmtime.wat2wasm(wat.read_text()) for wat in (SAMPLE / "caps").glob("*.wat")}
    caps["echo.wasm"] = wasmtime.wat2wasm(WRONG_ENDPOINT)
    project = wat_project(tmp_path / "demo-project", dynlink_components["guest"].read_bytes(), caps)
    fragment = (
        "component 'echo': it exports 'compose:dynlink/endpoint@0.1.0' with 'handle' as func() -> u32; "
        "the host calls func(string, list<u8>) -> result<list<u8>, error>"
    )
    for command in ("verify", "run"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, ".", cwd=project)
        assert code == 1 and fragment in output, (command, output)


def test_a_guest_declaring_the_linker_with_other_types_is_refused(tmp_path: Path) -> None:
    import wasmtime

    project = wat_project(tmp_path / "demo-project", wasmtime.wat2wasm(WRONG_LINKER_GUEST), {})
    fragment = (
        "component 'python': its import 'compose:dynlink/linker@0.1.0' declares 'resolve-by-id' as "
        "func(u32) -> u32; the host's linker has func(string) -> result<own<instance>, error>"
    )
    for command in ("verify", "run"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, ".", cwd=project)
        assert code == 1 and fragment in output, (command, output)


def test_a_root_whose_run_takes_parameters_is_refused_before_run(tmp_path: Path) -> None:
    import wasmtime

    project = wat_project(
        tmp_path / "demo-project", wasmtime.wat2wasm(ROOT_WITH_PARAMETERS), {}, 'root = "root.wasm"\n'
    )
    fragment = "root 'python': run is func(x: u32) -> u32; hatch-pylon run calls it with no parameters"
    for command in ("verify", "run"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, ".", cwd=project)
        assert code == 1 and fragment in output, (command, output)


def test_the_hosts_dynlink_types_are_what_componentize_py_writes(dynlink_components: dict[str, Path]) -> None:
    """The gate's linker and endpoint signatures, against the real guest and provider built from composectl's WIT."""
    from hatch_pylon.bundle.typecheck import ENDPOINT_FUNCTIONS, LINKER_FUNCTIONS, LINKER_RESOURCES
    from hatch_pylon.wasm.signatures import InstanceSignatures, decode_file

    imported, _ = decode_file(dynlink_components["guest"], exports=False)
    linker = imported["compose:dynlink/linker@0.1.0"]
    assert isinstance(linker, InstanceSignatures) and linker.resources == LINKER_RESOURCES
    assert {name: f.shape for name, f in linker.functions.items()} == LINKER_FUNCTIONS
    _, exported = decode_file(dynlink_components["provider"], exports=True)
    endpoint = exported["compose:dynlink/endpoint@0.1.0"]
    assert isinstance(endpoint, InstanceSignatures)
    assert {name: f.shape for name, f in endpoint.functions.items()} == ENDPOINT_FUNCTIONS


# -- suspicions confirmed ------------------------------------------------------------------------------


def test_a_dynamic_that_is_not_a_list_is_no_traceback(tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK)
    text = (project / "pyproject.toml").read_text().replace('name = "demo"\n', "dynamic = 5\n")
    (project / "pyproject.toml").write_text(text)
    for command in ("plan", "verify"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, ".", cwd=project)
        assert code == 1 and "[project].name is not set" in output, (command, output)


def test_a_plan_json_written_into_a_project_leaves_it_a_project(tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK)
    code, plan_json = run(tmp_path, "-m", "hatch_pylon", "plan", "--json", cwd=project)
    assert code == 0, plan_json
    (project / "plan.json").write_text(plan_json[: plan_json.rindex("}") + 1])
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", ".", cwd=project)
    assert code == 0 and "OK (2 components, 1 binding" in output and "is missing" not in output, output


def test_an_oversized_record_size_of_a_pyforge_artifact_is_one_message(tmp_path: Path) -> None:
    import importlib.util
    import zipfile

    spec = importlib.util.spec_from_file_location("pyforge_wheels", Path(__file__).parent / "build" / "test_pyforge.py")
    assert spec is not None and spec.loader is not None
    pyforge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pyforge)
    component = pyforge.write_wasm(tmp_path / "components" / "zstd.component.wasm", pyforge.cap_wat())
    built = pyforge.python_wasm_wheel(pyforge.BRIDGE, component, "3.14", tmp_path / "built")
    with zipfile.ZipFile(built) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    record = next(name for name in members if name.endswith(".dist-info/RECORD"))
    lines = members[record].decode().splitlines()
    lines = [line.rsplit(",", 1)[0] + "," + "9" * 5000 if ".wasm," in line else line for line in lines]
    members[record] = ("\n".join(lines) + "\n").encode()
    wheel = tmp_path / built.name
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 1 and "has no byte count in RECORD ('9999" in output, output


def namespace_cap(folder: Path, name: str, export: str) -> Path:
    """A component distribution ``name`` whose bundle sits in the namespace package ``ns`` (shared with others)."""
    from helpers import write_component

    package = name.replace("-", "_")
    (folder / "ns" / package).mkdir(parents=True)
    (folder / "ns" / package / "__init__.py").write_text("")
    write_component(folder / "caps" / f"{name}.wasm", exports=[export])
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n[tool.hatch.build.targets.wheel]\npackages = ["ns"]\n'
        f'[tool.hatch.build.hooks.pylon]\ncomponents = [{{ id = "{name}", path = "caps/{name}.wasm" }}]\n'
        f'provides = ["{name}"]\ndestination = "ns/_pylon"\n'
    )
    return folder


def test_component_distributions_sharing_a_namespace_folder_verify_alone(tmp_path: Path) -> None:
    import zipfile

    from test_hostile import build

    site = tmp_path / "site"
    for name, export in (("cap-a", "a:b/c@1.0.0"), ("cap-b", "d:e/f@1.0.0")):
        project = namespace_cap(tmp_path / name, name, export)
        code, output = build(tmp_path, project, "wheel", tmp_path / "dist" / name)
        assert code == 0, output
        with zipfile.ZipFile(next((tmp_path / "dist" / name).glob("*.whl"))) as archive:
            archive.extractall(site)
    for name in ("cap-a", "cap-b"):
        code, output = run(tmp_path, "-m", "hatch_pylon", "verify", f"dist:{name}", extra_env={"PYTHONPATH": str(site)})
        assert code == 0 and f"OK (provides 1 component: {name};" in output, output


def test_a_wheel_from_an_sdist_missing_a_referenced_distribution_says_so(
    tmp_path: Path, capdist: dict[str, Path]
) -> None:
    from helpers import write_component

    _, env = install_wheel(tmp_path, capdist["wheel"])
    project = tmp_path / "app-project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text("")
    write_component(project / "root.wasm", imports=["a:b/c@1.0.0"])
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "app"\nversion = "1.0"\ndependencies = ["capdist==1.0"]\n'
        '[tool.hatch.build.hooks.pylon]\nroot = "root.wasm"\ncomponent-distributions = ["capdist"]\ncompose = true\n'
    )
    code, output = run(
        tmp_path, "-m", "build", "--no-isolation", "--sdist", "--outdir", "dist", ".", cwd=project, extra_env=env
    )
    assert code == 0, output
    (sdist,) = (project / "dist").glob("*.tar.gz")
    code, output = run(
        tmp_path, "-m", "build", "--no-isolation", "--wheel", "--outdir", "wheels", str(sdist), cwd=project
    )
    assert code != 0 and "cannot be proven without the components it references" in output, output
    assert "referenced component p from capdist==1.0 (not installed here" in output, output
    assert "without wasm-tools" not in output, output
    assert not list((project / "wheels").glob("*.whl"))
