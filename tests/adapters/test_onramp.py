"""From zero to a running app: the command's help, colour, cache, and what the build warns about."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import wasmtime
from helpers import CALLING_ROOT, find_links_env, hook_pyproject, run_build, tiny_project, write_component

from hatch_pylon._errors import PylonError
from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.build.project import hook_problems, load_project
from hatch_pylon.bundle.verify import OURS
from hatch_pylon.wasm.compiler import Compiler

COMMANDS = ("inspect", "plan", "verify", "run", "trust", "compose", "cache")


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_pylon", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_bare_command_prints_help_listing_each_command_once() -> None:
    bare = cli()
    assert bare.returncode == 0 and bare.stderr == ""
    full = cli("--help")
    assert bare.stdout == full.stdout
    for command in COMMANDS:
        assert sum(line.split()[:1] == [command] for line in full.stdout.splitlines()) == 1, command


def test_run_help_shows_the_target_as_required() -> None:
    out = cli("run", "--help").stdout
    assert "usage: hatch-pylon run [options] TARGET [ARGS ...]" in out
    assert "[TARGET]" not in out and "[target]" not in out
    assert "required: a wheel (.whl)" in out


def small_bundle(tmp_path: Path) -> Path:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps" / "p.wasm", exports=["a:b/c@1.0.0"])
    raw = {"root": "root.wasm", "component-dirs": ["caps"]}
    config = load_config(raw, project_root=tmp_path, project_name="d", environ={})
    return build_bundle(config).write_to(tmp_path / "bundle")


def test_colour_only_on_a_terminal_and_as_no_color_and_force_color_say(tmp_path: Path) -> None:
    folder = small_bundle(tmp_path)
    plain = {"NO_COLOR": "", "FORCE_COLOR": "", "TERM": "xterm"}
    assert "\033[" not in cli("verify", str(folder), env=plain).stdout  # a pipe: no colour
    forced = cli("verify", str(folder), env={**plain, "FORCE_COLOR": "1"}).stdout
    assert "\033[32mOK\033[0m" in forced
    assert "\033[" not in cli("verify", str(folder), env={**plain, "FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    missing = cli("verify", str(tmp_path / "nope.whl"), env={**plain, "FORCE_COLOR": "1"})
    assert missing.returncode == 1 and missing.stderr.startswith("\033[1;31mhatch-pylon: error:\033[0m ")
    pty = pytest.importorskip("pty")
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals here")
    primary, secondary = os.openpty()
    with open(primary, "rb", buffering=0) as reader:
        process = subprocess.Popen(
            [sys.executable, "-m", "hatch_pylon", "verify", str(folder)],
            stdout=secondary,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **plain},
        )
        os.close(secondary)
        process.wait()
        output = b""
        while True:
            try:
                chunk = reader.read(4096)
            except OSError:  # the terminal is closed once the child is gone
                break
            if not chunk:
                break
            output += chunk
    assert pty is not None and b"\033[32mOK\033[0m" in output


def test_plan_json_keeps_integer_digests_and_every_message_shows_hex(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "root.wasm").write_bytes(wasmtime.wat2wasm(CALLING_ROOT))
    constant_cap(project / "caps" / "p.wasm", 7)
    (project / "pyproject.toml").write_text(hook_pyproject("app", 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'))
    digest = hashlib.sha256((project / "caps" / "p.wasm").read_bytes()).hexdigest()
    as_json = json.loads(cli("plan", str(project), "--json").stdout)
    assert [c["digest"] for c in as_json["components"] if c["id"] == "p"] == [list(bytes.fromhex(digest))]
    human = cli("plan", str(project)).stdout
    assert f"component p  sha256:{digest[:12]}" in human and "[" not in human
    folder = small_bundle(tmp_path / "small")
    blobs = sorted(p for p in (folder / ".compose" / "blobs").rglob("*") if p.is_file())
    blobs[0].write_bytes(blobs[0].read_bytes() + b"\0")
    refused = cli("verify", str(folder))
    assert refused.returncode == 1 and re.search(
        r"was modified \(sha256 [0-9a-f]{64}, plan says [0-9a-f]{64}\)", refused.stderr
    )


def compiled_into(cache: Path) -> Path:
    data = wasmtime.wat2wasm('(component (core module (func (export "f"))))')
    compiler = Compiler(cache)
    compiler.component(data, hashlib.sha256(data).hexdigest())
    return next(compiler.cache_dir.glob("*.cwasm"))


def test_cache_info_and_clear_touch_only_the_cache_entries(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    entry = compiled_into(cache)
    (cache / "composed").mkdir()
    (cache / "composed" / f"{'ab' * 32}.wasm").write_bytes(b"\0asm" + bytes(2000))
    foreign = cache / "notes.txt"
    foreign.write_text("not the cache's")
    (entry.parent / "keep.txt").write_text("not the cache's either")
    env = {"HATCH_PYLON_CACHE_DIR": str(cache)}
    info = cli("cache", "info", env=env)
    assert info.returncode == 0, info.stderr
    assert f"cache: {cache} ($HATCH_PYLON_CACHE_DIR)" in info.stdout
    assert "in 2 entries" in info.stdout and f"compiled components ({entry.parent.name}): 1 entry" in info.stdout
    assert "composed graphs: 1 entry, 2.0 KiB" in info.stdout
    cleared = cli("cache", "clear", env=env)
    assert cleared.returncode == 0 and "removed 2 entries" in cleared.stdout, cleared.stderr
    assert not entry.exists() and not (cache / "composed").exists()
    assert foreign.exists() and (entry.parent / "keep.txt").exists()
    again = cli("cache", "info", env=env)
    assert "size:  0 B in 0 entries" in again.stdout


@pytest.mark.slow
def test_the_build_warns_about_a_wheel_only_table_and_raw_components_in_the_sdist(tmp_path: Path) -> None:
    components = {"wasm/root.wasm": {"imports": ["a:b/c@1.0.0"]}, "caps/p.wasm": {"exports": ["a:b/c@1.0.0"]}}
    hook = 'root = "wasm/root.wasm"\ncomponent-dirs = ["caps"]\n'
    project = tiny_project(tmp_path / "wheel-only", hook, components)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("[tool.hatch.build.hooks.pylon]", "[tool.hatch.build.targets.wheel.hooks.pylon]")
    )
    result = run_build(project, "--wheel")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configures the hook for the wheel target only: the sdist gets no bundle" in result.stdout + result.stderr

    project = tiny_project(tmp_path / "no-excludes", hook, components)
    result = run_build(project, "--sdist")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "the sdist carries the raw components next to their bundle (2 files" in output
    assert "2 components (" in output and "), 1 binding; plan -> .pylon-bundle/plan.json" in output
    assert 'exclude = ["/caps/p.wasm", "/wasm/root.wasm"]' in output
    with (project / "pyproject.toml").open("a") as file:
        file.write('[tool.hatch.build.targets.sdist]\nexclude = ["/caps/p.wasm", "/wasm/root.wasm"]\n')
    for old in (project / "dist").iterdir():
        old.unlink()
    result = run_build(project, "--sdist")
    assert result.returncode == 0 and "raw components" not in result.stdout + result.stderr


def mismatched(root: Path, consumer_wat: str | None = None) -> Path:
    """A project whose cap exports ``f(x: u32) -> u32`` where the root imports ``f() -> u32``."""
    if consumer_wat is None:
        write_component(root / "root.wasm", imports=["a:b/c@1.0.0"])
    else:
        root.mkdir(parents=True)
        (root / "root.wasm").write_bytes(wasmtime.wat2wasm(consumer_wat))
    write_component(root / "caps" / "p.wasm", exports=["a:b/c@1.0.0"], sig='(param "x" u32) (result u32)')
    (root / "pyproject.toml").write_text(hook_pyproject("demo", 'root = "root.wasm"\ncomponent-dirs = ["caps"]\n'))
    return root


MISMATCH = (
    "python -> p (a:b/c@1.0.0): function 'f' differs: consumer imports func() -> u32, "
    "provider exports func(x: u32) -> u32"
)


def test_plan_and_the_default_build_refuse_a_type_mismatch_as_verify_does(tmp_path: Path) -> None:
    project = mismatched(tmp_path / "demo")
    planned = cli("plan", str(project))
    assert planned.returncode == 1 and f"bindings do not type-check:\n  - {MISMATCH}\n" in planned.stderr
    with pytest.raises(PylonError, match=re.escape(MISMATCH)):
        build_bundle(load_project(project))
    names_only = {"root": "root.wasm", "component-dirs": ["caps"], "validate": "names"}
    folder = build_bundle(load_config(names_only, project_root=project, project_name="demo", environ={})).write_to(
        tmp_path / "bundle"
    )
    verified = cli("verify", str(folder))
    assert verified.returncode == 1 and f"  - {MISMATCH}\n" in verified.stderr
    assert verified.stderr.endswith(f"\n  ({OURS})\n")  # which tool objects: hatch-pylon, not composectl


UNDECODABLE = '(component (import "a:b/c@1.0.0" (instance (core type (module)) (export "f" (func (result u32))))))'


def test_a_binding_the_decoder_cannot_decide_is_named_not_compiled(tmp_path: Path) -> None:
    project = mismatched(tmp_path / "demo", UNDECODABLE)
    cache = tmp_path / "cache"
    planned = cli("plan", str(project), env={"HATCH_PYLON_CACHE_DIR": str(cache)})
    assert planned.returncode == 0, planned.stderr
    assert (
        "binding python -> p (a:b/c@1.0.0) is not type-checked: the types of python cannot be decoded from "
        "the binary; hatch-pylon verify checks it with wasmtime" in planned.stderr
    )
    assert not cache.exists()  # nothing was compiled
    coloured = cli("plan", str(project), env={"HATCH_PYLON_CACHE_DIR": str(cache), "FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "hatch-pylon: \033[33mwarning:\033[0m binding python -> p" in coloured.stderr


# A provider whose resource has a destructor that counts, and roots that drop its handles: the count says
# the provider's destructor ran for each handle a root dropped.
RESOURCE_CAP = """(component
  (core module $state
    (global $drops (mut i32) (i32.const 0))
    (func (export "dtor") (param i32) global.get $drops i32.const 1 i32.add global.set $drops)
    (func (export "drops") (result i32) global.get $drops))
  (core instance $s (instantiate $state))
  (alias core export $s "dtor" (core func $dtor))
  (type $r (resource (rep i32) (dtor (core func $dtor))))
  (core func $new (canon resource.new $r))
  (core module $m
    (import "" "new" (func $new (param i32) (result i32)))
    (func (export "make") (param i32) (result i32) local.get 0 call $new)
    (func (export "pair") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
  (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
  (func $make (param "n" u32) (result (own $r)) (canon lift (core func $i "make")))
  (func $pair (param "a" (borrow $r)) (param "b" (borrow $r)) (result u32) (canon lift (core func $i "pair")))
  (func $drops (result u32) (canon lift (core func $s "drops")))
  (instance $inst (export "r" (type $r)) (export "make" (func $make)) (export "pair" (func $pair))
    (export "drops" (func $drops)))
  (export "a:b/c@1.0.0" (instance $inst))
)"""


def resource_root(pair: bool) -> str:
    """Makes two handles and drops both, then returns the provider's count of destructor runs; with ``pair``,
    first passes both to ``pair`` as borrows (two borrows in one call) and returns its sum instead."""
    pair_import = '(export "pair" (func (param "a" (borrow $r)) (param "b" (borrow $r)) (result u32)))' if pair else ""
    pair_lower = '(alias export $c "pair" (func $pair)) (core func $pair_c (canon lower (func $pair)))' if pair else ""
    pair_core = '(import "" "pair" (func $pair (param i32 i32) (result i32)))' if pair else ""
    pair_with = '(export "pair" (func $pair_c))' if pair else ""
    result = (
        "local.get $a local.get $b call $pair"
        if pair
        else "local.get $a call $drop local.get $b call $drop call $drops"
    )
    return f"""(component
  (import "a:b/c@1.0.0" (instance $c
    (export "r" (type $r (sub resource)))
    (export "make" (func (param "n" u32) (result (own $r))))
    (export "drops" (func (result u32)))
    {pair_import}))
  (alias export $c "r" (type $r))
  (alias export $c "make" (func $make))
  (alias export $c "drops" (func $drops))
  {pair_lower}
  (core func $make_c (canon lower (func $make)))
  (core func $drops_c (canon lower (func $drops)))
  (core func $drop_c (canon resource.drop $r))
  (core module $m
    (import "" "make" (func $make (param i32) (result i32)))
    (import "" "drops" (func $drops (result i32)))
    (import "" "drop" (func $drop (param i32)))
    {pair_core}
    (func (export "run") (result i32) (local $a i32) (local $b i32)
      i32.const 1 call $make local.set $a
      i32.const 2 call $make local.set $b
      {result}))
  (core instance $i (instantiate $m (with "" (instance
    (export "make" (func $make_c)) (export "drops" (func $drops_c)) (export "drop" (func $drop_c)) {pair_with}))))
  (func $run (result u32) (canon lift (core func $i "run")))
  (export "run" (func $run)))"""


def resource_bundle(folder: Path, pair: bool, **hook: object) -> Path:
    folder.mkdir()
    (folder / "root.wasm").write_bytes(wasmtime.wat2wasm(resource_root(pair)))
    (folder / "caps").mkdir()
    (folder / "caps" / "p.wasm").write_bytes(wasmtime.wat2wasm(RESOURCE_CAP))
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "linkage": "static", **hook}
    config = load_config(raw, project_root=folder, project_name="d", environ={})
    return build_bundle(config).write_to(folder / "bundle")


def test_resources_link_through_the_host_and_drops_reach_the_provider(tmp_path: Path, capsys, monkeypatch) -> None:
    from hatch_pylon.bundle import compose as _compose
    from hatch_pylon.use.runtime import Runtime

    monkeypatch.setattr(_compose, "find_wasm_tools", lambda: None)  # linked through the host: not needed
    folder = resource_bundle(tmp_path / "drops", pair=False)
    assert main(["run", str(folder)]) == 0
    assert capsys.readouterr().out == "2\n"  # the provider's destructor ran once per handle the root dropped
    runtime = Runtime(folder, Compiler(tmp_path / "cache"))
    assert runtime.run() == (0, 2) and runtime.linked == "runtime"


def test_two_borrows_in_one_call_found_by_wasmtime_when_the_decoder_cannot_tell(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    from hatch_pylon._errors import RunError
    from hatch_pylon.bundle import compose as _compose
    from hatch_pylon.use import runtime as runtime_module
    from hatch_pylon.wasm.signatures import Undecidable

    def undecidable(*args: object, **kwargs: object) -> object:
        raise Undecidable("as for a binary the decoder does not model")

    monkeypatch.setattr(runtime_module, "decode_file", undecidable)
    folder = resource_bundle(tmp_path / "pair", pair=True)
    if _compose.find_wasm_tools() is not None:
        runtime = runtime_module.Runtime(folder, Compiler(tmp_path / "cache"))
        assert runtime.run() == (0, 3) and runtime.linked == "composed (in memory)"
    monkeypatch.setattr(_compose, "find_wasm_tools", lambda: None)
    with pytest.raises(RunError, match=r"\(pair\): wasmtime cannot pass more than one borrowed handle per call"):
        runtime_module.Runtime(folder, Compiler(tmp_path / "cache")).run()


@pytest.mark.parametrize("limits", [{}, {"policy": {"limits": {"cpu-ms": 1000}}}], ids=["epoch", "fuel"])
def test_verify_compile_all_warms_what_run_uses(tmp_path: Path, monkeypatch, limits: dict) -> None:
    """Whatever engine the plan needs (fuel metering for cpu_ms): after ``verify --compile-all``, run compiles
    nothing."""
    from hatch_pylon.use.runtime import Runtime

    folder = resource_bundle(tmp_path / "app", pair=False, **limits)
    cache = tmp_path / "cache"
    monkeypatch.setenv("HATCH_PYLON_CACHE_DIR", str(cache))
    assert main(["verify", "--compile-all", str(folder)]) == 0
    runtime = Runtime(folder, Compiler(cache))
    assert runtime.run() == (0, 2)
    assert runtime.compiler.compiled == 0 and runtime.compiler.fuel == bool(limits)


def test_two_borrows_in_one_call_run_composed_and_without_wasm_tools_say_so_before_compiling(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    folder = resource_bundle(tmp_path / "pair", pair=True)
    cache = tmp_path / "cache"
    monkeypatch.setenv("HATCH_PYLON_CACHE_DIR", str(cache))
    from hatch_pylon.bundle import compose as _compose

    found = _compose.find_wasm_tools()
    monkeypatch.setattr(_compose, "find_wasm_tools", lambda: None)  # as where wasm-tools is not installed
    assert main(["run", str(folder)]) == 1
    err = capsys.readouterr().err
    needed = "3.11 or later" if sys.version_info < (3, 11) else "pip install 'hatch-pylon[run]'"
    assert err.count("needs wasm-tools") == 1 and needed in err, err
    assert "python: a:b/c@1.0.0 -> p: a:b/c@1.0.0 (pair): wasmtime cannot pass more than one borrowed handle" in err
    assert not cache.exists()  # nothing was compiled first
    if found is None:
        return
    monkeypatch.setattr(_compose, "find_wasm_tools", lambda: found)
    assert main(["run", str(folder)]) == 0
    ran = capsys.readouterr()
    assert ran.out == "3\n"  # pair(1, 2), composed
    assert "(pair) passes more than one borrowed handle per call, which only composition links" in ran.err


def constant_cap(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        wasmtime.wat2wasm(f"""(component
          (core module $m (func (export "f") (result i32) i32.const {value}))
          (core instance $i (instantiate $m))
          (func $f (result u32) (canon lift (core func $i "f")))
          (instance $api (export "f" (func $f)))
          (export "a:b/c@1.0.0" (instance $api)))""")
    )


def test_run_and_verify_a_project_from_its_sources_without_a_wheel(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "root.wasm").write_bytes(wasmtime.wat2wasm(CALLING_ROOT))
    constant_cap(project / "caps" / "p.wasm", 7)
    hook = 'root = "root.wasm"\ncomponent-dirs = ["caps"]\nlinkage = "static"\n'
    (project / "pyproject.toml").write_text(hook_pyproject("app", hook))
    env = {"HATCH_PYLON_CACHE_DIR": str(tmp_path / "cache")}
    verified = cli("verify", ".", env=env, cwd=project)
    assert verified.returncode == 0 and verified.stdout.startswith(".: OK (2 components, 1 binding;"), verified.stderr
    ran = cli("run", ".", env=env, cwd=project)
    assert (ran.returncode, ran.stdout) == (0, "7\n"), ran.stderr
    constant_cap(project / "caps" / "p.wasm", 9)  # the inner loop: edit, rebuild the component, run
    ran = cli("run", str(project), env=env)
    assert (ran.returncode, ran.stdout) == (0, "9\n"), ran.stderr
    assert sorted(p.name for p in project.iterdir()) == [".compose", "caps", "pyproject.toml", "root.wasm"]
    (project / "caps" / "p.wasm").unlink()  # what the build refuses, run refuses with its message
    broken = cli("run", ".", env=env, cwd=project)
    assert broken.returncode == 1 and "1 unresolved import" in broken.stderr and "Traceback" not in broken.stderr


def test_a_store_blob_staged_by_another_build_is_reused_not_called_corrupt(tmp_path: Path) -> None:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    constant_cap(tmp_path / "caps" / "p.wasm", 7)
    raw = {"root": "root.wasm", "component-dirs": ["caps"]}
    config = load_config(raw, project_root=tmp_path, project_name="d", environ={})
    build_bundle(config)
    (tmp_path / ".compose" / ".pylon-index.json").unlink()  # as when another tool's build staged the blobs
    said: list[str] = []
    build_bundle(config, say=said.append)
    assert [m for m in said if "composectl's exec refuses" not in m] == []  # no blob was called corrupt


@pytest.mark.slow
def test_an_editable_install_warns_when_the_projects_components_changed(tmp_path: Path) -> None:
    project = tmp_path / "app"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text("")
    (project / "root.wasm").write_bytes(wasmtime.wat2wasm(CALLING_ROOT))
    constant_cap(project / "caps" / "p.wasm", 7)
    hook = 'root = "root.wasm"\ncomponent-dirs = ["caps"]\nlinkage = "static"\n'
    (project / "pyproject.toml").write_text(hook_pyproject("app", hook))
    prefix = tmp_path / "prefix"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "--prefix", str(prefix), "-e", str(project)],
        check=True,
        capture_output=True,
    )
    site = next(prefix.glob("lib*/python*/site-packages"), None) or next(prefix.glob("Lib/site-packages"))
    probe = (
        f"import site, sys; site.addsitedir({str(site)!r}); from hatch_pylon.adapters.cli import main; sys.exit(main())"
    )

    def run_installed() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", probe, "run", "dist:app"],
            capture_output=True,
            text=True,
            env={**os.environ, "HATCH_PYLON_CACHE_DIR": str(tmp_path / "cache")},
        )

    fresh = run_installed()
    assert (fresh.returncode, fresh.stdout, fresh.stderr) == (0, "7\n", "")
    constant_cap(project / "caps" / "p.wasm", 9)
    stale = run_installed()
    assert stale.returncode == 0 and stale.stdout == "7\n"  # the installed bundle, as installed
    assert (
        f"warning: app is an editable install of {project}, whose components changed (p) since it was installed"
        in stale.stderr
    )
    assert f"hatch-pylon run {project}" in stale.stderr


def test_new_writes_a_project_whose_build_is_configured_for_every_target(tmp_path: Path) -> None:
    made = cli("new", "demo-app", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "demo-app"
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "app/app.py",
        "build_components.py",
        "counter/app.py",
        "counter/counter.py",
        "demo_app/__init__.py",
        "pyproject.toml",
        "wit/deps/cli/run.wit",
        "wit/deps/counter/counter.wit",
        "wit/world.wit",
    ]
    assert "{{" not in "".join((project / f).read_text() for f in files)
    assert hook_problems(project) == []  # the hook runs for the sdist too, and hatch can load it
    config = load_project(project, environ={})
    assert (config.root.path, config.destination) == (project / "wasm" / "root.wasm", "demo_app/_pylon")
    assert "package demo-app:counter@0.1.0;" in (project / "wit/deps/counter/counter.wit").read_text()
    nope = cli("plan", str(project), env={"PYTHON_WASM": "/nope/python.wasm"})
    assert "pylon.root (from $PYTHON_WASM): /nope/python.wasm: file not found" in nope.stderr
    again = cli("new", "demo-app", cwd=tmp_path)
    assert again.returncode == 1 and "demo-app: already exists" in again.stderr
    bad = cli("new", "2fast", cwd=tmp_path)
    assert bad.returncode == 1 and "'2fast' is not a project name" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-app"]  # no temp folder left behind


# -- hatch-pylon new, end to end: componentize-py, hatch, run (the slow tier) ------------------------------

BIN = Path(sys.executable).parent
GREETING = "Hello, world! (the counter is at 42)\n"


@pytest.fixture(scope="module")
def new_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hatch-pylon new demo-app`` in an empty folder, its components built by its own script."""
    empty = tmp_path_factory.mktemp("empty")
    assert cli("new", "demo-app", cwd=empty).returncode == 0
    project = empty / "demo-app"
    built = subprocess.run([sys.executable, "build_components.py"], cwd=project, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    assert sorted(built.stdout.split("\n")) == ["", "built caps/counter.wasm", "built wasm/root.wasm"]
    return project


@pytest.mark.slow
def test_a_new_project_builds_with_hatch_and_its_wheel_runs(
    new_app: Path, plugin_wheelhouse: Path, tmp_path: Path, compile_cache: Path
) -> None:
    project = tmp_path / "demo-app"
    shutil.copytree(new_app, project)
    env = find_links_env(plugin_wheelhouse, tmp_path)
    build = subprocess.run([str(BIN / "hatch"), "build"], cwd=project, capture_output=True, text=True, env=env)
    output = build.stdout + build.stderr
    assert build.returncode == 0, output
    # neither a wheel-only table nor raw components in the sdist, nor a plan composectl's exec refuses
    assert [line for line in output.lower().splitlines() if "warning" in line] == []
    wheel = project / "dist" / "demo_app-0.1.0-py3-none-any.whl"
    with tarfile.open(project / "dist" / "demo_app-0.1.0.tar.gz") as sdist:
        names = sdist.getnames()
    assert "demo_app-0.1.0/.pylon-bundle/plan.json" in names and not [n for n in names if n.endswith(".wasm")]
    ran = cli("run", str(wheel), env={"HATCH_PYLON_CACHE_DIR": str(compile_cache)})
    assert (ran.returncode, ran.stdout) == (0, GREETING), ran.stderr
    planned, verified = cli("plan", str(project)), cli("verify", str(wheel))
    assert planned.returncode == verified.returncode == 0, planned.stderr + verified.stderr
    for said in (planned.stderr, verified.stderr, ran.stderr):
        assert "warning" not in said and "note:" not in said, said


@pytest.mark.slow
def test_an_edited_cap_runs_from_the_project_without_a_wheel(
    new_app: Path, tmp_path: Path, compile_cache: Path
) -> None:
    project = tmp_path / "demo-app"
    shutil.copytree(new_app, project)
    cap = project / "counter" / "app.py"
    greeting = '        return f"Hello, {name}!"'
    assert greeting in cap.read_text()
    raising = '        if name == "boom":\n            raise ValueError("no greeting for boom")\n'
    cap.write_text(cap.read_text().replace(greeting, raising + greeting.replace("Hello", "Howdy")))
    rebuilt = subprocess.run(
        [sys.executable, "build_components.py", "counter"], cwd=project, capture_output=True, text=True
    )
    assert rebuilt.returncode == 0 and rebuilt.stdout == "built caps/counter.wasm\n", rebuilt.stderr
    ran = cli("run", ".", "you", cwd=project, env={"HATCH_PYLON_CACHE_DIR": str(compile_cache)})
    assert (ran.returncode, ran.stdout) == (0, "Howdy, you! (the counter is at 42)\n"), ran.stderr
    assert not (project / "dist").exists()
    # An uncaught exception in the guest: its own traceback, then one line from hatch-pylon, no wasm frames.
    boom = cli("run", ".", "boom", cwd=project, env={"HATCH_PYLON_CACHE_DIR": str(compile_cache)})
    assert boom.returncode != 0 and boom.stdout == ""
    assert "Traceback (most recent call last):" in boom.stderr, boom.stderr
    assert "ValueError: no greeting for boom" in boom.stderr
    assert "error while executing" not in boom.stderr and not re.search(r"^\s*\d+: +0x", boom.stderr, re.M)
    said = [line for line in boom.stderr.splitlines() if line.startswith("hatch-pylon:")]
    # composed (the cap has a resource): the backtrace's bound export names the cap and its function
    assert said == [
        "hatch-pylon: error: component 'counter' trapped in export 'demo-app:counter/counter@0.1.0#greet': "
        "wasm `unreachable` instruction executed; hatch-pylon run -v shows the wasm backtrace"
    ], boom.stderr
