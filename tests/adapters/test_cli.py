from __future__ import annotations

import json
from pathlib import Path

import wasmtime
from helpers import write_component

from hatch_pylon.adapters.cli import main

BUILD_SYSTEM = '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'


def test_inspect_text_and_json(tmp_path: Path, capsys) -> None:
    path = write_component(tmp_path / "c.wasm", imports=["a:b/c@1.0.0"], exports=["x:y/z@2.0.0"])
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"{path}: component" in text
    assert "imports (1):\n  instance  a:b/c@1.0.0" in text
    assert "exports (1):\n  instance  x:y/z@2.0.0" in text
    assert main(["inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "kind": "component",
        "dynlink-roles": [],
        "imports": [{"name": "a:b/c@1.0.0", "kind": "instance"}],
        "exports": [{"name": "x:y/z@2.0.0", "kind": "instance"}],
    }


def test_inspect_types_shows_what_each_import_needs(tmp_path: Path, capsys) -> None:
    path = tmp_path / "rich.wasm"
    path.write_bytes(wasmtime.wat2wasm((Path(__file__).parents[1] / "rich_types.wat").read_text()))
    assert main(["inspect", "--types", str(path)]) == 0
    text = capsys.readouterr().out
    assert ("  instance  pkg:geo/outer\n              get: func() -> record { a: option<string> }\n") in text
    assert "  func      top-level-func\n              func(x: string) -> list<tuple<string, u32>>\n" in text
    assert main(["inspect", "--types", "--json", str(path)]) == 0
    imports = {i["name"]: i for i in json.loads(capsys.readouterr().out)["imports"]}
    assert imports["pkg:geo/shapes@1.2.3"]["functions"]["peek"] == "func(h: borrow<b>) -> result"


def test_inspect_types_says_when_it_cannot_decode(tmp_path: Path, capsys) -> None:
    path = tmp_path / "core-type.wasm"
    path.write_bytes(wasmtime.wat2wasm('(component (import "a:b/c" (instance (core type (module)))))'))
    assert main(["inspect", "--types", str(path)]) == 0
    captured = capsys.readouterr()
    assert "  instance  a:b/c\n" in captured.out
    assert "import types not shown: declaration 0x00 (core types are not modelled)" in captured.err


def test_inspect_error_is_one_line_and_nonzero(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.wasm").write_bytes(b"abc")
    assert main(["inspect", str(tmp_path / "bad.wasm")]) == 1
    err = capsys.readouterr().err
    assert (
        err == f"hatch-pylon: error: {tmp_path / 'bad.wasm'}: is only 3 bytes, too short for a WebAssembly header"
        " at offset 0 (0x0)\n"
    )


def _project(tmp_path: Path, hook: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'{BUILD_SYSTEM}[project]\nname = "demo"\n[tool.hatch.build.hooks.pylon]\n{hook}\n'
    )
    return tmp_path


def test_plan_readable_and_json(tmp_path: Path, capsys) -> None:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(tmp_path / "caps/p.wasm", exports=["a:b/c@1.1.0"])
    project = _project(tmp_path, 'root = "root.wasm"\ncomponent-dirs = ["caps"]')
    assert main(["plan", str(project)]) == 0
    text, said = capsys.readouterr()
    # typed caps alone: the default links statically, the plan composectl's exec runs, so nothing is warned
    assert "root: python   determinism: relaxed   linkage: static   destination: demo/_pylon/" in text
    assert said == "", said
    assert "binding   python: a:b/c@1.0.0 -> p: a:b/c@1.1.0" in text
    assert main(["plan", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bindings"][0]["export_name"] == "a:b/c@1.1.0"
    assert not (tmp_path / ".compose").exists()  # previewing writes nothing


def test_plan_errors_match_the_build(tmp_path: Path, capsys) -> None:
    write_component(tmp_path / "root.wasm", imports=["a:b/c@1.0.0"])
    project = _project(tmp_path, 'root = "root.wasm"\nbogus = 1')
    assert main(["plan", str(project)]) == 1
    assert "tool.hatch.build.hooks.pylon.bogus is not a known option" in capsys.readouterr().err
    assert main(["plan", str(tmp_path / "missing")]) == 1
    assert "pyproject.toml: not found" in capsys.readouterr().err


def test_target_level_table_wins(tmp_path: Path, capsys) -> None:
    write_component(tmp_path / "root.wasm")
    write_component(tmp_path / "other.wasm")
    (tmp_path / "pyproject.toml").write_text(
        BUILD_SYSTEM + '[project]\nname = "demo"\n[tool.hatch.build.hooks.pylon]\nroot = "root.wasm"\n'
        '[tool.hatch.build.targets.wheel.hooks.pylon]\nroot = "other.wasm"\nroot-id = "main"\n'
    )
    assert main(["plan", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["root"] == "main"
