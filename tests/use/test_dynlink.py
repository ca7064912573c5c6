"""Runtime linkage as composectl runs it: the host's interfaces, the registry of endpoint providers, roles, and
what composectl's exec refuses (WAT components; the componentize-py runs are in test_dynlink_run.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import wasmtime
from helpers import CALLING_ROOT, component_wat, hook_pyproject, write_component

from hatch_pylon._errors import WARNING, ResolveError
from hatch_pylon._layout import STORE_DIR, blob_relpath
from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle, plan_project
from hatch_pylon.bundle.verify import verify_bundle

LINKER = "compose:dynlink/linker@0.1.0"
ENDPOINT = "compose:dynlink/endpoint@0.1.0"
TYPES_IMPORT = '(import "sys:compose/types@1.0.0" (instance (type (list u8)) (export "digest" (type (eq 0)))))'


def with_types_import(wat: str) -> str:
    """The component, also importing sys:compose/types as a type-only instance (as wit-component writes it)."""
    return wat.replace("(component", f"(component\n  {TYPES_IMPORT}", 1)


def write(path: Path, imports: list[str] = (), exports: list[str] = (), types_import: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wat = component_wat(list(imports), list(exports))
    path.write_bytes(wasmtime.wat2wasm(with_types_import(wat) if types_import else wat))
    return path


def config_for(root: Path, **raw):
    return load_config({"root": "root.wasm", "component-dirs": ["caps"], **raw}, project_root=root, project_name="demo")


@pytest.fixture
def hybrid(tmp_path: Path) -> Path:
    """A linker guest that also imports a typed cap; two endpoint providers and that cap in caps/."""
    write(tmp_path / "root.wasm", imports=[LINKER, "arrow:core/array@0.1.0"])
    write_component(tmp_path / "caps/arrow-core.wasm", exports=["arrow:core/array@0.1.0"])
    write(tmp_path / "caps/echo.wasm", exports=[ENDPOINT])
    write(tmp_path / "caps/other.wasm", exports=["compose:dynlink/endpoint@0.1.3"])
    return tmp_path


def test_linker_and_sys_compose_are_the_hosts_and_providers_join_unbound(hybrid: Path) -> None:
    warnings: list[str] = []
    resolution, plan = plan_project(config_for(hybrid), say=warnings.append)
    assert [c.id for c in plan.components] == ["arrow-core", "echo", "other", "python"]
    assert [(b.consumer_id, b.import_name, b.provider_id) for b in plan.bindings] == [
        ("python", "arrow:core/array@0.1.0", "arrow-core")
    ]
    assert resolution.registry == ("echo", "other")
    # a registry member's imports are not resolved: its own store gets WASI alone (its type-only imports need nothing)
    assert resolution.host_imports == (("python", LINKER), ("python", "sys:compose/types@1.0.0"))
    assert resolution.roles() == {
        "echo": ("endpoint provider",),
        "other": ("endpoint provider",),
        "python": ("linker guest",),
    }
    assert warnings == []  # composectl runs a linker guest's plan
    assert plan.linkage == "runtime"  # the default, auto: the root imports the linker (flavor B)


def test_plan_shows_roles_registry_and_host_imports(hybrid: Path, capsys) -> None:
    (hybrid / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "demo"\nversion = "1.0"\n'
        '[tool.hatch.build.hooks.pylon]\nroot = "root.wasm"\ncomponent-dirs = ["caps"]\n'
    )
    assert main(["plan", str(hybrid)]) == 0
    out = capsys.readouterr().out
    assert "component echo (endpoint provider; unbound: resolved by id or digest at run time)" in out
    assert "component python (root; linker guest)" in out
    assert f"host      python: {LINKER} (served by the runtime host)" in out
    assert "binding   python: arrow:core/array@0.1.0 -> arrow-core" in out


def test_registry_key_chooses_providers(hybrid: Path) -> None:
    resolution, plan = plan_project(config_for(hybrid, registry=["other"]))
    assert resolution.registry == ("other",)
    assert [c.id for c in plan.components] == ["arrow-core", "other", "python"]
    _, plan = plan_project(config_for(hybrid, registry=[]))
    assert [c.id for c in plan.components] == ["arrow-core", "python"]
    with pytest.raises(ResolveError, match=r"registry: 'arrow-core' is not a component exporting compose:dynlink"):
        plan_project(config_for(hybrid, registry=["arrow-core"]))


def test_registry_without_a_linker_guest_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps/c.wasm", exports=["a:b/c@1.0.0"])
    with pytest.raises(ResolveError, match=r"registry lists echo, but no component of the graph imports"):
        plan_project(config_for(tmp_path, registry=["echo"]))


def test_a_linker_import_needs_both_capabilities(hybrid: Path) -> None:
    policy = {"capabilities": [{"name": "dynlink:resolve"}]}
    with pytest.raises(ResolveError, match=r"python imports compose:dynlink/linker, which needs 'dynlink:invoke'"):
        plan_project(config_for(hybrid, policy=policy))
    with pytest.raises(ResolveError, match=r"needs 'dynlink:resolve' and 'dynlink:invoke' in"):
        plan_project(config_for(hybrid, policy={"capabilities": []}))


def test_static_linkage_refuses_a_linker_import(hybrid: Path) -> None:
    expected = r"imports 'compose:dynlink/linker@0.1.0', which only runtime linkage .*set linkage = \"runtime\""
    with pytest.raises(ResolveError, match=expected):
        plan_project(config_for(hybrid, linkage="static"))


def test_static_linkage_leaves_sys_compose_to_providers(tmp_path: Path) -> None:
    write(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps/c.wasm", exports=["a:b/c@1.0.0"])
    with pytest.raises(ResolveError, match=r"'sys:compose/types@1.0.0': no component exports it"):
        plan_project(config_for(tmp_path, linkage="static"))


@pytest.mark.parametrize("validate", ["types", "names"])  # its imports decoded from the scan's sections, or the file
def test_a_registry_provider_must_be_self_contained(hybrid: Path, validate: str) -> None:
    write(hybrid / "caps/needy.wasm", imports=["pylon:math/ops@1.0.0"], exports=[ENDPOINT])
    with pytest.raises(ResolveError) as caught:
        plan_project(config_for(hybrid, validate=validate))
    message = str(caught.value)
    assert "needy (caps/needy.wasm) is an endpoint provider a linker guest may resolve, but it imports " in message
    assert "'pylon:math/ops@1.0.0'; composectl instantiates a resolved provider with WASI alone" in message
    assert "compose its providers into it first" in message
    assert "sys:compose/types" not in message.split("imports ", 1)[1].split(";")[0]  # type-only imports need nothing
    resolution, _ = plan_project(config_for(hybrid, registry=["echo"]))  # the fix the message names
    assert resolution.registry == ("echo",)


def test_flavor_a_consumer_binds_its_endpoint(tmp_path: Path) -> None:
    write(tmp_path / "root.wasm", imports=[ENDPOINT])
    write(tmp_path / "caps/echo.wasm", exports=[ENDPOINT])
    warnings: list[str] = []
    resolution, plan = plan_project(config_for(tmp_path), say=warnings.append)
    assert [(b.consumer_id, b.import_name, b.provider_id) for b in plan.bindings] == [("python", ENDPOINT, "echo")]
    assert resolution.registry == ()
    assert resolution.roles()["python"] == ("endpoint consumer",)
    assert warnings == []  # one endpoint binding: composectl's flavor A
    assert plan.linkage == "runtime"  # the default, auto: the root imports an endpoint


def test_runtime_plan_composectl_refuses_is_warned_and_noted(tmp_path: Path, capsys) -> None:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0", "d:e/f@1.0.0"])
    write_component(tmp_path / "caps/c.wasm", exports=["a:b/c@1.0.0", "d:e/f@1.0.0"])
    warnings: list[str] = []
    bundle = build_bundle(config_for(tmp_path, linkage="runtime"), say=warnings.append)
    [warned] = warnings
    assert warned.startswith(WARNING)  # the build says it as a warning; verify notes it
    message = warned[len(WARNING) :]
    assert "composectl's exec refuses this runtime plan" in message
    assert "runtime linkage binds one endpoint provider per plan" in message
    assert 'set linkage = "static"' in message
    folder = bundle.write_to(tmp_path / "bundle")
    assert verify_bundle(folder).report.notes == [message]
    assert main(["verify", str(folder), "--names-only"]) == 0
    assert f"hatch-pylon: note: {message}" in capsys.readouterr().err
    for linkage in ("static", "auto"):  # auto: typed caps alone link statically
        quiet: list[str] = []
        _, plan = plan_project(config_for(tmp_path, linkage=linkage), say=quiet.append)
        assert quiet == [] and plan.linkage == "static"


def test_verify_accepts_the_registry_and_refuses_a_tampered_registry_blob(hybrid: Path, capsys) -> None:
    bundle = build_bundle(config_for(hybrid))
    folder = bundle.write_to(hybrid / "bundle")
    report = verify_bundle(folder).report
    assert report.ok and report.notes == [], report.problems
    digest = bundle.plan.digest_of("echo")
    blob = folder / STORE_DIR / blob_relpath(digest)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    problems = verify_bundle(folder).report.problems
    assert (
        len(problems) == 1 and f"component 'echo': blob {STORE_DIR}/{blob_relpath(digest)} was modified" in problems[0]
    )
    for command in (["verify", str(folder)], ["run", str(folder)]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert "failed verification (1 problem)" in err and "'echo'" in err and "was modified" in err


def test_inspect_names_the_role(hybrid: Path, capsys) -> None:
    assert main(["inspect", str(hybrid / "root.wasm")]) == 0
    assert "dynlink role: linker guest" in capsys.readouterr().out
    shutil.copy(hybrid / "caps/echo.wasm", hybrid / "e.wasm")
    assert main(["inspect", str(hybrid / "e.wasm"), "--json"]) == 0
    assert '"dynlink-roles": [\n    "endpoint provider"\n  ]' in capsys.readouterr().out


def test_composectl_refuses_a_runtime_plan_without_the_dynlink_capabilities(tmp_path: Path) -> None:
    write(tmp_path / "root.wasm", imports=[ENDPOINT])
    write(tmp_path / "caps/echo.wasm", exports=[ENDPOINT])
    warnings: list[str] = []
    plan_project(config_for(tmp_path, policy={"capabilities": [{"name": "dynlink:resolve"}]}), say=warnings.append)
    assert warnings == [
        "warning: composectl's exec refuses this runtime plan (flavor A): runtime linking requires the "
        "'dynlink:resolve' and 'dynlink:invoke' capabilities (exec-capability-denied; policy.capabilities lacks "
        "'dynlink:invoke'); add them to the policy's capabilities"
    ]


def test_a_plan_exec_refuses_is_said_once_per_command_and_run_refuses_it_unless_lenient(tmp_path: Path, capsys) -> None:
    project = tmp_path / "app"
    (project / "caps").mkdir(parents=True)
    (project / "root.wasm").write_bytes(wasmtime.wat2wasm(CALLING_ROOT))
    (project / "caps" / "p.wasm").write_bytes(wasmtime.wat2wasm(SEVEN))
    hook = 'root = "root.wasm"\ncomponent-dirs = ["caps"]\nlinkage = "runtime"\n'
    (project / "pyproject.toml").write_text(hook_pyproject("app", hook))
    reason = "composectl's exec refuses this runtime plan (flavor A): provider does not export compose:dynlink/endpoint"
    for command in (["plan", str(project)], ["verify", str(project)]):
        assert main(command) == 0
        assert capsys.readouterr().err.count(reason) == 1, command  # the build's warning, not the gate's note again
    assert main(["run", str(project)]) == 1
    refused = capsys.readouterr()
    assert refused.out == "" and f"error: {project}: {reason}" in refused.err
    assert "(hatch-pylon run --lenient runs it anyway)" in refused.err
    assert main(["run", "--lenient", str(project)]) == 0
    lenient = capsys.readouterr()
    assert lenient.out == "7\n" and lenient.err.count(reason) == 1 and "(--lenient)" in lenient.err


SEVEN = """(component
  (core module $m (func (export "f") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (instance $api (export "f" (func $f)))
  (export "a:b/c@1.0.0" (instance $api)))"""
