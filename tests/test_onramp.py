"""From zero to a running app: the command's help, colour, cache, and what the build warns about."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime
from helpers import hook_pyproject, write_component
from test_build import run_build, tiny_project

from hatch_pylon._compiler import Compiler
from hatch_pylon._config import load_config
from hatch_pylon._errors import PylonError
from hatch_pylon._pipeline import build_bundle
from hatch_pylon._project import load_project

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
