"""Configuration: defaults, expansion, overrides, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hatch_pylon.config import HATCH_TABLE, env_var_for, load_config
from hatch_pylon.errors import ConfigError


def load(raw: dict, environ: dict | None = None, root: Path = Path("/proj")):
    return load_config(raw, project_root=root, project_name="My.Sample-Pkg", environ=environ or {})


def problems(raw: dict, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(raw, environ)
    return caught.value.problems


def test_defaults() -> None:
    config = load({"root": "wasm/python.wasm"})
    assert config.root.id == "python"
    assert config.root.path == Path("/proj/wasm/python.wasm")
    assert config.destination == "my_sample_pkg/_pylon"
    assert config.store == Path("/proj/.compose")
    assert config.ignore_imports == ("wasi:",)
    assert config.policy.determinism == "relaxed"
    assert [(c.name, c.level) for c in config.policy.capabilities] == [
        ("dynlink:resolve", "required"), ("dynlink:invoke", "required")]
    assert config.validate == "names"


def test_variable_expansion_forms() -> None:
    env = {"PYTHON_WASM": "/opt/py.wasm", "CAPS": "shared", "HOME": "/home/me"}
    config = load(
        {"root": "${PYTHON_WASM:-wasm/python.wasm}", "component-dirs": ["$CAPS/x", "${CAPS}/y", "~/caps"],
         "components": [{"id": "a", "path": "${A_WASM:-caps/a.wasm}"}]},
        env,
    )
    assert config.root.path == Path("/opt/py.wasm")
    assert [d.path for d in config.component_dirs] == [
        Path("/proj/shared/x"), Path("/proj/shared/y"), Path("/home/me/caps")]
    assert config.components[0].path == Path("/proj/caps/a.wasm")


def test_environment_overrides() -> None:
    env = {env_var_for("python"): "/ci/python.wasm", "PYLON_COMPONENT_ARROW_CORE": "/ci/arrow.wasm",
           "PYLON_COMPONENT_DIRS": "/ci/caps:/ci/more"}
    config = load({"root": "wasm/python.wasm", "component-dirs": ["caps"],
                   "components": [{"id": "arrow-core", "path": "caps/arrow-core.wasm"}]}, env)
    assert config.root.path == Path("/ci/python.wasm") and config.root.origin == "$PYLON_COMPONENT_PYTHON"
    assert config.components[0].path == Path("/ci/arrow.wasm")
    assert [d.path for d in config.component_dirs] == [Path("/ci/caps"), Path("/ci/more"), Path("/proj/caps")]
    assert env_var_for("my.cap-x") == "PYLON_COMPONENT_MY_CAP_X"


def test_reserved_hatch_keys_are_allowed() -> None:
    load({"root": "r.wasm", "dependencies": ["x"], "require-runtime-dependencies": True,
          "require-runtime-features": [], "enable-by-default": True})


def test_every_problem_is_reported_at_once_with_full_keys() -> None:
    found = problems({
        "destnation": "x",
        "root-id": "Bad Id",
        "component-dirs": "caps",
        "destination": "../outside",
        "ignore-imports": [1],
        "components": [{"id": "a", "path": "a.wasm"}, {"id": "a", "path": "b.wasm"}, {"path": "c.wasm", "extra": 1}],
        "policy": {"determinism": "sloppy", "capabilities": [{"name": "", "level": "maybe"}], "limits": {"cpu-ms": -1}},
        "validate": "everything",
    })
    expected = [
        f"{HATCH_TABLE}.destnation is not a known option",
        f"{HATCH_TABLE}.root: is required",
        f"{HATCH_TABLE}.root-id: 'Bad Id' is not a valid component id",
        f"{HATCH_TABLE}.component-dirs: must be a list of non-empty strings",
        f"{HATCH_TABLE}.destination: '../outside' contains '..'",
        f"{HATCH_TABLE}.ignore-imports: must be a list of non-empty strings",
        f"{HATCH_TABLE}.components[1].id: duplicate id 'a'",
        f"{HATCH_TABLE}.components[2].extra is not a known option",
        f"{HATCH_TABLE}.components[2].id: is required",
        f"{HATCH_TABLE}.policy.determinism: 'sloppy' is not one of",
        f"{HATCH_TABLE}.policy.capabilities[0].name: must be a non-empty string",
        f"{HATCH_TABLE}.policy.capabilities[0].level: 'maybe' is not one of",
        f"{HATCH_TABLE}.policy.limits.cpu-ms: must be a non-negative integer",
        f"{HATCH_TABLE}.validate: 'everything' is not one of",
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in found), (fragment, found)
    assert len(found) == len(expected)


def test_unset_variable_without_default_names_it() -> None:
    [problem] = problems({"root": "${PYTHON_WASM}"})
    assert problem == (f"{HATCH_TABLE}.root: environment variable $PYTHON_WASM is not set and "
                       "'${PYTHON_WASM}' gives no default")


def test_strict_determinism_is_rejected() -> None:
    [problem] = problems({"root": "r.wasm", "policy": {"determinism": "strict"}})
    assert problem.startswith(f"{HATCH_TABLE}.policy.determinism: 'strict' cannot be used with runtime linkage")


@pytest.mark.parametrize("destination", ["/abs/path", "C:/x", "a/../../b"])
def test_destination_must_stay_inside_the_wheel(destination: str) -> None:
    [problem] = problems({"root": "r.wasm", "destination": destination})
    assert problem.startswith(f"{HATCH_TABLE}.destination:")


def test_component_id_rules() -> None:
    found = problems({"root": "r.wasm", "components": [{"id": "../x", "path": "x"}, {"id": "a/b", "path": "y"},
                                                       {"id": "python", "path": "z"}]})
    assert "'../x' is not a valid component id" in found[0]
    assert "'a/b' is not a valid component id" in found[1]
    assert f"duplicate id 'python' (already used by {HATCH_TABLE}.root-id)" in found[2]


def test_limits_and_table_name_for_other_adapters() -> None:
    config = load_config({"root": "r.wasm", "policy": {"limits": {"memory-bytes": 1024, "cpu-ms": 5}}},
                         project_root="/p", project_name="x", environ={}, table="tool.pylon")
    assert config.policy.limits == (("cpu_ms", 5), ("memory_bytes", 1024))
    with pytest.raises(ConfigError, match=r"tool\.pylon\.bogus is not a known option"):
        load_config({"root": "r", "bogus": 1}, project_root="/p", project_name="x", environ={}, table="tool.pylon")
