"""``hatch-pylon run`` gives what composectl's runtime linking gives, on real componentize-py guests (tests/dynlink/):
a hybrid linker guest (compose:dynlink/linker plus the typed arrow:core/array cap), an echo endpoint provider it
resolves at run time, and a flavor-A consumer whose one endpoint import is bound to that provider."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import wasmtime
from helpers import SAMPLE, hook_pyproject

from hatch_pylon._layout import META_FILE, PLAN_FILE
from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.bundle.verify import verify_bundle
from hatch_pylon.composectl.plan import Capability
from hatch_pylon.use.runtime import Runtime
from hatch_pylon.wasm.compiler import Compiler

DEST = "dyn_pkg/_pylon"


def project_with(root: Path, components: dict[str, Path], name: str = "dyn-pkg") -> Path:
    """A hook project: ``root.wasm`` and caps/ (the sample's WAT caps and the given components)."""
    root.mkdir(parents=True)
    caps = root / "caps"
    caps.mkdir()
    for wat in (SAMPLE / "caps" / name for name in ("arrow-core.wat", "pylon-math.wat")):
        (caps / f"{wat.stem}.wasm").write_bytes(wasmtime.wat2wasm(wat.read_text(encoding="utf-8")))
    for file_name, source in components.items():
        shutil.copy(source, root / file_name if file_name == "root.wasm" else caps / file_name)
    package = root / name.replace("-", "_")
    package.mkdir()
    (package / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(hook_pyproject(name, 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'))
    return root


@pytest.fixture(scope="module")
def hybrid_build(tmp_path_factory: pytest.TempPathFactory, dynlink_components: dict[str, Path]) -> tuple[Path, str]:
    """The hybrid guest's project built into a wheel by hatchling, default ignore-imports; (the wheel, the output)."""
    project = project_with(
        tmp_path_factory.mktemp("hybrid") / "project",
        {"root.wasm": dynlink_components["guest"], "echo.wasm": dynlink_components["provider"]},
    )
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(project / "dist"), str(project)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return next((project / "dist").glob("*.whl")), result.stdout + result.stderr


@pytest.fixture(scope="module")
def hybrid_bundle(hybrid_build: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's bundle folder, unpacked (to run plans edited from it)."""
    wheel, _ = hybrid_build
    out = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(out)
    return out / DEST


@pytest.fixture(autouse=True)
def shared_compile_cache(compile_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCH_PYLON_CACHE_DIR", str(compile_cache))  # each 17.5 MiB guest compiles once a session


def run(target: Path, *args: str, capsys) -> tuple[int, str]:
    status = main(["run", str(target), *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.out.strip()


def edited(bundle: Path, into: Path, *, capabilities=None, strict: bool = False) -> Path:
    """A copy of ``bundle`` whose plan another tool wrote: other capabilities, or static and strict (with the
    linker left to the host by ignore-imports). The build refuses both; the run-time gates are what stop them."""
    shutil.copytree(bundle, into)
    verified = verify_bundle(into, types=False)
    plan, meta = verified.plan, verified.meta
    assert plan is not None
    policy = plan.policy
    if capabilities is not None:
        policy = policy._replace(capabilities=tuple(Capability(name, "required") for name in capabilities))
    if strict:
        policy = policy._replace(determinism="strict")
        plan = plan._replace(linkage="static")
        meta = dataclasses.replace(meta, ignore_imports=(*meta.ignore_imports, "compose:dynlink/", "sys:compose/"))
    plan = plan._replace(policy=policy)
    for name in (PLAN_FILE, META_FILE):
        (into / name).chmod(0o644)
    (into / PLAN_FILE).write_bytes(plan.to_json())
    (into / META_FILE).write_bytes(dataclasses.replace(meta, plan_digest=plan.plan_digest()).to_json())
    assert verify_bundle(into, types=False).report.ok
    return into


def test_the_build_bundles_the_provider_unbound_and_says_what_the_host_serves(hybrid_build: tuple[Path, str]) -> None:
    wheel, output = hybrid_build
    with zipfile.ZipFile(wheel) as archive:
        plan = json.loads(archive.read(f"{DEST}/{PLAN_FILE}"))
    assert [c["id"] for c in plan["components"]] == ["arrow-core", "echo", "pylon-math", "python"]
    assert [(b["consumer_id"], b["import_name"], b["provider_id"]) for b in plan["bindings"]] == [
        ("arrow-core", "pylon:math/ops@1.0.0", "pylon-math"),
        ("python", "arrow:core/array@0.1.0", "arrow-core"),
    ]  # echo has no binding: the guest resolves it at run time
    assert "component echo (endpoint provider; unbound: resolved by id or digest at run time)" in output
    assert "component python (root; linker guest)" in output
    assert "host      python: compose:dynlink/linker@0.1.0 (served by the runtime host)" in output
    assert "composectl's exec refuses" not in output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "resolve echo: ok"),
        (("id=echo", "upper:hello from dlopen", "len:abcd"), "upper: ok HELLO FROM DLOPEN; len: ok 4"),
        (("id=nope",), "resolve nope: err invalid-input: unknown component id: nope"),
        (("digest=" + "00" * 32,), f"err trust-untrusted-source: TrustUntrustedSource: digest {'00' * 32} not in"),
        (
            ("id=echo", "fail:fly"),
            "fail: err exec-trap: provider endpoint error: cannot fly (context provider-context)",
        ),
        (("id=echo", "trap:", "echo:after"), "trap: err exec-trap: provider handle trapped: "),
        (("id=arrow-core",), "err exec-trap: failed to instantiate provider: 'arrow-core' does not export"),
    ],
)
def test_run_answers_as_composectl_does(hybrid_build: tuple[Path, str], args: tuple[str, ...], expected: str, capsys):
    status, out = run(hybrid_build[0], *args, capsys=capsys)
    assert status == 0
    assert out.startswith("sum-range(4) = 10; ")  # the typed cap, bound in the plan, next to the linker
    assert expected in out, out


def test_each_resolution_gets_its_own_store_and_dropping_the_handle_frees_it(
    hybrid_bundle: Path, compile_cache: Path
) -> None:
    runtime = Runtime(hybrid_bundle, Compiler(compile_cache))
    digest = runtime.plan.digest_of("echo")
    status, value = runtime.run(["id=echo", "count:", "count:"])
    assert (status, value) == (0, "sum-range(4) = 10; resolve echo: ok; count: ok 1; count: ok 2")
    assert runtime.dynlink is not None and runtime.dynlink.handles == {}  # the guest dropped its handle
    assert runtime.dynlink.resolved == {digest}
    status, value = runtime.run([f"digest={digest}", "count:"])  # a new resolution starts from a fresh store
    assert value.endswith(f"resolve {digest}: ok; count: ok 1")


@pytest.mark.parametrize(
    ("capabilities", "strict", "expected"),
    [
        (["dynlink:invoke"], False, "resolve echo: err exec-capability-denied: resolution requires the "
         "'dynlink:resolve' capability"),
        (["dynlink:resolve"], False, "upper: err exec-capability-denied: invoke requires the 'dynlink:invoke' "
         "capability"),
        (None, True, "resolve echo: err exec-capability-denied: runtime linking is not permitted under strict "
         "determinism"),
    ],
)  # fmt: skip
def test_run_refuses_what_exec_refuses_and_lenient_shows_the_linkers_own_gates(
    hybrid_bundle: Path, tmp_path: Path, capabilities, strict: bool, expected: str, capsys
) -> None:
    folder = edited(hybrid_bundle, tmp_path / "bundle", capabilities=capabilities, strict=strict)
    assert main(["run", str(folder), "id=echo", "upper:x"]) == 1
    refused = capsys.readouterr()
    reason = (
        "composectl's exec refuses this static plan: it links a static plan's composed component with WASI alone, "
        "so the root's import compose:dynlink/linker@0.1.0 is not served"
        if strict
        else "composectl's exec refuses this runtime plan (flavor B): runtime linking requires the 'dynlink:resolve' "
        "and 'dynlink:invoke' capabilities (exec-capability-denied"
    )
    assert reason in refused.err and "(hatch-pylon run --lenient runs it anyway)" in refused.err, refused.err
    assert refused.out == "" and "Traceback" not in refused.err
    status = main(["run", "--lenient", str(folder), "id=echo", "upper:x"])
    lenient = capsys.readouterr()
    assert status == 0 and expected in lenient.out, lenient
    assert lenient.err.count(reason) == 1 and "running it anyway, as hatch-pylon runs it (--lenient)" in lenient.err


def test_a_flavor_a_consumer_reaches_its_provider_in_its_own_store(
    tmp_path: Path, dynlink_components: dict[str, Path], capsys
) -> None:
    project = project_with(
        tmp_path / "project",
        {"root.wasm": dynlink_components["consumer"], "echo.wasm": dynlink_components["provider"]},
    )
    warnings: list[str] = []
    config = load_config({"root": "root.wasm", "component-dirs": ["caps"]}, project_root=project, project_name="a")
    bundle = build_bundle(config, say=warnings.append)
    assert warnings == []  # one endpoint binding: composectl's flavor A runs it
    assert [(b.consumer_id, b.import_name, b.provider_id) for b in bundle.plan.bindings] == [
        ("python", "compose:dynlink/endpoint@0.1.0", "echo")
    ]
    folder = bundle.write_to(tmp_path / "bundle")
    assert run(folder, capsys=capsys) == (0, "HELLO FROM CONSUMER")
    # composectl hands a provider's error on as exec-trap, without its context
    assert run(folder, "fail", "x", capsys=capsys) == (
        0,
        "err ExecTrap: provider endpoint error: cannot x (context None)",
    )


def test_run_refuses_a_flavor_a_plan_without_dynlink_invoke_as_exec_does(
    tmp_path: Path, dynlink_components: dict[str, Path], capsys
) -> None:
    project = project_with(
        tmp_path / "project",
        {"root.wasm": dynlink_components["consumer"], "echo.wasm": dynlink_components["provider"]},
    )
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "policy": {"capabilities": [{"name": "dynlink:resolve"}]}}
    warnings: list[str] = []
    config = load_config(raw, project_root=project, project_name="a")
    folder = build_bundle(config, say=warnings.append).write_to(tmp_path / "bundle")
    reason = (
        "composectl's exec refuses this runtime plan (flavor A): runtime linking requires the 'dynlink:resolve' and "
        "'dynlink:invoke' capabilities (exec-capability-denied; policy.capabilities lacks 'dynlink:invoke'); add "
        "them to the policy's capabilities"
    )
    assert warnings == [f"warning: {reason}"]  # the build says it once
    assert main(["run", str(folder)]) == 1
    refused = capsys.readouterr()
    assert f"{reason} (hatch-pylon run --lenient runs it anyway)" in refused.err and refused.out == ""
    assert main(["run", "--lenient", str(folder)]) == 0
    lenient = capsys.readouterr()
    assert lenient.out == "HELLO FROM CONSUMER\n" and lenient.err.count(reason) == 1


def test_a_provider_blob_changed_after_verification_is_blob_not_found_to_the_guest(
    hybrid_bundle: Path, tmp_path: Path, compile_cache: Path
) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(hybrid_bundle, folder)
    runtime = Runtime(folder, Compiler(compile_cache))
    runtime.load()  # verified: the echo provider is read and compiled only when the guest resolves it
    digest = runtime.plan.digest_of("echo")
    blob = folder / ".compose" / "blobs" / digest[:2] / digest[2:]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"\0")
    status, value = runtime.run(["id=echo", "upper:x"])
    assert status == 0 and "resolve echo: err blob-not-found: " in value, value  # composectl's code for any blob
    assert "changed after it was verified" in value
