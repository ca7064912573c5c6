"""Configuration: defaults, expansion, overrides, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hatch_pylon._errors import ConfigError
from hatch_pylon.build.config import env_var_for, load_config
from hatch_pylon.build.schema import HATCH_TABLE


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
        ("dynlink:resolve", "required"),
        ("dynlink:invoke", "required"),
    ]
    assert config.validate == "types"


def test_variable_expansion_forms() -> None:
    env = {"PYTHON_WASM": "/opt/py.wasm", "CAPS": "shared", "HOME": "/home/me"}
    config = load(
        {
            "root": "${PYTHON_WASM:-wasm/python.wasm}",
            "component-dirs": ["$CAPS/x", "${CAPS}/y", "~/caps"],
            "components": [{"id": "a", "path": "${A_WASM:-caps/a.wasm}"}],
        },
        env,
    )
    assert config.root.path == Path("/opt/py.wasm")
    assert [d.path for d in config.component_dirs] == [
        Path("/proj/shared/x"),
        Path("/proj/shared/y"),
        Path("/home/me/caps"),
    ]
    assert config.components[0].path == Path("/proj/caps/a.wasm")


def test_environment_overrides() -> None:
    env = {
        env_var_for("python"): "/ci/python.wasm",
        "PYLON_COMPONENT_ARROW_CORE": "/ci/arrow.wasm",
        "PYLON_COMPONENT_DIRS": "/ci/caps:/ci/more",
    }
    config = load(
        {
            "root": "wasm/python.wasm",
            "component-dirs": ["caps"],
            "components": [{"id": "arrow-core", "path": "caps/arrow-core.wasm"}],
        },
        env,
    )
    assert config.root.path == Path("/ci/python.wasm") and config.root.origin == "$PYLON_COMPONENT_PYTHON"
    assert config.components[0].path == Path("/ci/arrow.wasm")
    assert [d.path for d in config.component_dirs] == [Path("/ci/caps"), Path("/ci/more"), Path("/proj/caps")]
    assert env_var_for("my.cap-x") == "PYLON_COMPONENT_MY_CAP_X"


def test_reserved_hatch_keys_are_allowed() -> None:
    load(
        {
            "root": "r.wasm",
            "dependencies": ["x"],
            "require-runtime-dependencies": True,
            "require-runtime-features": [],
            "enable-by-default": True,
        }
    )


def test_every_problem_is_reported_at_once_with_full_keys() -> None:
    found = problems(
        {
            "destnation": "x",
            "root-id": "Bad Id",
            "component-dirs": "caps",
            "destination": "../outside",
            "ignore-imports": [1],
            "components": [
                {"id": "a", "path": "a.wasm"},
                {"id": "a", "path": "b.wasm"},
                {"path": "c.wasm", "extra": 1},
            ],
            "policy": {
                "determinism": "sloppy",
                "capabilities": [{"name": "", "level": "maybe"}],
                "limits": {"cpu-ms": -1},
            },
            "validate": "everything",
        }
    )
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
    assert problem == (
        f"{HATCH_TABLE}.root: environment variable $PYTHON_WASM is not set and '${{PYTHON_WASM}}' gives no default"
    )


def test_strict_determinism_is_rejected() -> None:
    [problem] = problems({"root": "r.wasm", "linkage": "runtime", "policy": {"determinism": "strict"}})
    assert problem.startswith(f"{HATCH_TABLE}.policy.determinism: 'strict' cannot be used with runtime linkage")


@pytest.mark.parametrize("destination", ["/abs/path", "C:/x", "a/../../b"])
def test_destination_must_stay_inside_the_wheel(destination: str) -> None:
    [problem] = problems({"root": "r.wasm", "destination": destination})
    assert problem.startswith(f"{HATCH_TABLE}.destination:")


def test_component_id_rules() -> None:
    found = problems(
        {
            "root": "r.wasm",
            "components": [{"id": "../x", "path": "x"}, {"id": "a/b", "path": "y"}, {"id": "python", "path": "z"}],
        }
    )
    assert "'../x' is not a valid component id" in found[0]
    assert "'a/b' is not a valid component id" in found[1]
    assert f"duplicate id 'python' (already used by {HATCH_TABLE}.root-id)" in found[2]


def test_limits_and_table_name_for_other_adapters() -> None:
    config = load_config(
        {"root": "r.wasm", "policy": {"limits": {"memory-bytes": 1024, "cpu-ms": 5}}},
        project_root="/p",
        project_name="x",
        environ={},
        table="tool.pylon",
    )
    assert config.policy.limits == (("cpu_ms", 5), ("memory_bytes", 1024))
    with pytest.raises(ConfigError, match=r"tool\.pylon\.bogus is not a known option"):
        load_config({"root": "r", "bogus": 1}, project_root="/p", project_name="x", environ={}, table="tool.pylon")


# -- the schema: suggestions, new keys, value ranges --------------------------------------------------------------


def test_unknown_keys_get_a_suggestion_at_every_level() -> None:
    found = problems(
        {
            "root": "r.wasm",
            "component-dir": ["caps"],
            "components": [{"id": "a", "pth": "a.wasm"}],
            "policy": {"limits": {"cpu_ms": 1}},
            "zzz": 1,
        }
    )
    assert f"{HATCH_TABLE}.component-dir is not a known option (did you mean 'component-dirs'?)" in found
    assert f"{HATCH_TABLE}.components[0].pth is not a known option (did you mean 'path'?)" in found
    assert f"{HATCH_TABLE}.components[0].path: is required" in found
    assert f"{HATCH_TABLE}.policy.limits.cpu_ms is not a known option (did you mean 'cpu-ms'?)" in found
    assert f"{HATCH_TABLE}.zzz is not a known option" in found
    assert len(found) == 5


def test_new_keys_defaults_and_values() -> None:
    config = load({"root": "r.wasm"})
    assert (config.linkage, config.compose, config.strip, config.manifest) == ("auto", False, False, None)
    config = load(
        {"root": "r.wasm", "linkage": "static", "compose": True, "strip": True, "policy": {"determinism": "strict"}}
    )
    assert (config.linkage, config.compose, config.strip, config.policy.determinism) == ("static", True, True, "strict")
    assert load({"root": "r.wasm", "compose": True}).compose is True


def test_new_keys_type_errors_and_combinations() -> None:
    found = problems({"root": "r.wasm", "linkage": "dynamic", "compose": "yes", "strip": 1})
    assert found == [
        f"{HATCH_TABLE}.linkage: 'dynamic' is not one of 'auto', 'runtime', 'static'",
        f"{HATCH_TABLE}.compose: must be true or false, got 'yes'",
        f"{HATCH_TABLE}.strip: must be true or false, got an integer (1)",
    ]
    assert problems({"root": "r.wasm", "strip": True}) == [
        f"{HATCH_TABLE}.strip: needs compose = true (it strips the composed component)"
    ]


def test_strict_determinism_names_static_linkage() -> None:
    [problem] = problems({"root": "r.wasm", "linkage": "runtime", "policy": {"determinism": "strict"}})
    assert problem == (
        f"{HATCH_TABLE}.policy.determinism: 'strict' cannot be used with runtime linkage (composectl "
        "rejects the plan); use 'audit' or 'relaxed', or set linkage = \"static\""
    )


def test_limits_are_u64_and_capabilities_unique() -> None:
    top = (1 << 64) - 1
    assert load({"root": "r", "policy": {"limits": {"io-ops": top}}}).policy.limits == (("io_ops", top),)
    found = problems(
        {
            "root": "r",
            "policy": {
                "limits": {"io-ops": 1 << 64, "cpu-ms": 1.5, "memory-bytes": True},
                "capabilities": [
                    {"name": "x"},
                    {"name": "y"},
                    {"name": "x", "level": "optional"},
                    {"level": "optional"},
                ],
            },
        }
    )
    assert found == [
        f"{HATCH_TABLE}.policy.capabilities[2].name: 'x' is listed twice (first at "
        f"{HATCH_TABLE}.policy.capabilities[0])",
        f"{HATCH_TABLE}.policy.capabilities[3].name: is required",
        f"{HATCH_TABLE}.policy.limits.cpu-ms: must be a non-negative integer below 2**64, got a float (1.5)",
        f"{HATCH_TABLE}.policy.limits.memory-bytes: must be a non-negative integer below 2**64, got a boolean (True)",
        f"{HATCH_TABLE}.policy.limits.io-ops: must be a non-negative integer below 2**64, got an integer ({1 << 64})",
    ]


@pytest.mark.parametrize("destination", [".", "./", "./.", "a/..", "", "/", "x-1.0.dist-info/pylon", "x-1.0.data"])
def test_destination_is_a_folder_inside_the_package_tree(destination: str) -> None:
    [problem] = problems({"root": "r.wasm", "destination": destination})
    assert problem.startswith(f"{HATCH_TABLE}.destination: ")


def test_destination_messages() -> None:
    assert problems({"root": "r", "destination": "."}) == [
        f"{HATCH_TABLE}.destination: '.' is the top of the wheel; give a folder inside your package, "
        "e.g. 'my_sample_pkg/_pylon'"
    ]
    assert problems({"root": "r", "destination": ""}) == [
        f"{HATCH_TABLE}.destination: must be a non-empty relative folder, got ''"
    ]
    assert load({"root": "r", "destination": "./pkg//_pylon/"}).destination == "pkg/_pylon"
    assert load({"root": "r", "destination": "pkg\\bundle"}).destination == "pkg/bundle"


def test_schema_drives_the_parser() -> None:
    from hatch_pylon.build.schema import OPTIONS, REQUIRED

    names = [option.name for option in OPTIONS]
    assert len(names) == len(set(names))
    for option in OPTIONS:
        assert option.doc, option.name
        if "." in option.name:
            assert option.parent.removesuffix("[]") in names, option.name
        if option.default not in (REQUIRED, None) and option.kind not in ("table", "tables"):
            raw = {"root": "r.wasm"}
            *parents, leaf = option.name.split(".")
            if "[]" in option.name:
                continue
            table = raw
            for parent in parents:
                table = table.setdefault(parent, {})
            table[leaf] = option.default
            load(raw)  # every default is a valid value of its own key


# -- python-wasm's manifest ------------------------------------------------------------------------------------------


MANIFEST = """\
# python-wasm's shape
[[capabilities]]
id   = "compression"
path = "${COMPRESSION_WASM:-$HOME/caps/compression.wasm}"

[[capabilities]]
id   = "sqlite"
path = "build/sqlite.wasm"

[[shims]]
src     = "cpython-ext/_ssl/ssl_capability.py"
purpose = "ignored"
"""


def test_manifest_capabilities_become_pinned_components(tmp_path: Path) -> None:
    (tmp_path / ".pylon.toml").write_text(MANIFEST)
    config = load(
        {"root": "r.wasm", "manifest": ".pylon.toml", "components": [{"id": "arrow", "path": "caps/arrow.wasm"}]},
        {"HOME": "/home/me"},
        tmp_path,
    )
    assert config.manifest == tmp_path / ".pylon.toml"
    assert [(c.id, c.path, c.origin) for c in config.components] == [
        ("arrow", tmp_path / "caps/arrow.wasm", f"{HATCH_TABLE}.components[0].path"),
        ("compression", Path("/home/me/caps/compression.wasm"), ".pylon.toml: capabilities[0].path"),
        ("sqlite", tmp_path / "build/sqlite.wasm", ".pylon.toml: capabilities[1].path"),
    ]
    env = {"HOME": "/home/me", "COMPRESSION_WASM": "/ci/c.wasm", "PYLON_COMPONENT_SQLITE": "/ci/s.wasm"}
    config = load({"root": "r.wasm", "manifest": "${MANIFEST:-.pylon.toml}"}, env, tmp_path)
    assert [(c.path, c.origin) for c in config.components] == [
        (Path("/ci/c.wasm"), ".pylon.toml: capabilities[0].path (from $COMPRESSION_WASM)"),
        (Path("/ci/s.wasm"), "$PYLON_COMPONENT_SQLITE"),
    ]


def test_manifest_paths_are_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "python-wasm").mkdir()
    (tmp_path / "python-wasm" / ".pylon.toml").write_text('[[capabilities]]\nid = "zlib"\npath = "caps/z.wasm"\n')
    config = load({"root": "r.wasm", "manifest": "python-wasm/.pylon.toml"}, {}, tmp_path)
    assert config.components[0].path == tmp_path / "python-wasm" / "caps" / "z.wasm"


def test_manifest_id_clashes_name_both_places(tmp_path: Path) -> None:
    (tmp_path / ".pylon.toml").write_text(
        '[[capabilities]]\nid = "compression"\npath = "c.wasm"\n[[capabilities]]\nid = "python"\npath = "p.wasm"\n'
        '[[capabilities]]\nid = "compression"\npath = "d.wasm"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load(
            {"root": "r.wasm", "manifest": ".pylon.toml", "components": [{"id": "compression", "path": "x.wasm"}]},
            {},
            tmp_path,
        )
    assert caught.value.problems == [
        f".pylon.toml: capabilities[0].id: duplicate id 'compression' (already used by {HATCH_TABLE}.components[0].id)",
        f".pylon.toml: capabilities[1].id: duplicate id 'python' (already used by {HATCH_TABLE}.root-id)",
        f".pylon.toml: capabilities[2].id: duplicate id 'compression' (already used by {HATCH_TABLE}.components[0].id)",
    ]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, ".pylon.toml: file not found"),
        ("[[capabilities]\n", ".pylon.toml: is not valid TOML ("),
        (b"\xff\xfe", ".pylon.toml: is not UTF-8 text"),
        ("folder", ".pylon.toml: is not a regular file"),
    ],
)
def test_a_bad_manifest_is_one_error_naming_the_file(tmp_path: Path, content: object, fragment: str) -> None:
    manifest = tmp_path / ".pylon.toml"
    if content == "folder":
        manifest.mkdir()
    elif isinstance(content, bytes):
        manifest.write_bytes(content)
    elif isinstance(content, str):
        manifest.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load({"root": "r.wasm", "manifest": ".pylon.toml"}, {}, tmp_path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{HATCH_TABLE}.manifest: {fragment}"), problem


def test_manifest_entries_are_checked_like_components(tmp_path: Path) -> None:
    (tmp_path / ".pylon.toml").write_text(
        '[[capabilities]]\nid = "Bad"\npath = "b.wasm"\n[[capabilities]]\nid = "ok"\n'
        '[[capabilities]]\nid = "v"\npath = "${UNSET_X}"\npurpose = "extra keys are the manifest\'s business"\n'
        "source = 42\n"
    )
    with pytest.raises(ConfigError) as caught:
        load({"root": "r.wasm", "manifest": ".pylon.toml"}, {}, tmp_path)
    assert caught.value.problems == [
        ".pylon.toml: capabilities[0].id: 'Bad' is not a valid component id (use [a-z0-9][a-z0-9._-]*)",
        ".pylon.toml: capabilities[1].path: is required",
        ".pylon.toml: capabilities[2].path: environment variable $UNSET_X is not set and '${UNSET_X}' gives no default",
    ]
    (tmp_path / ".pylon.toml").write_text('capabilities = "x"\n')
    with pytest.raises(ConfigError, match=r"\.pylon\.toml: capabilities: must be an array of \{ id, path \} tables"):
        load({"root": "r.wasm", "manifest": ".pylon.toml"}, {}, tmp_path)
    (tmp_path / ".pylon.toml").write_text("[other]\nx = 1\n")
    assert load({"root": "r.wasm", "manifest": ".pylon.toml"}, {}, tmp_path).components == ()


def test_defaults_expand_variables_as_a_shell_does() -> None:
    env = {"HOME": "/home/me", "B": "/b"}
    config = load({"root": "${A:-$HOME/r.wasm}", "component-dirs": ["${A:-${B}/caps}", "${A:-${C:-~/x}}"]}, env)
    assert config.root.path == Path("/home/me/r.wasm")
    assert [d.path for d in config.component_dirs] == [Path("/b/caps"), Path("/home/me/x")]
    [problem] = problems({"root": "${A:-$NOPE/r.wasm}"}, {})
    assert "environment variable $NOPE is not set" in problem


# -- reading a project as its build does (the CLI's side) ----------------------------------------------------------

HATCH_BUILD_SYSTEM = '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'


def project(tmp_path: Path, pyproject: str, hatch_toml: str | None = None, *, name: str = "demo") -> Path:
    project_line = f'[project]\nname = "{name}"\nversion = "1"\n' if name else '[project]\ndynamic = ["name"]\n'
    (tmp_path / "pyproject.toml").write_text(project_line + pyproject)
    if hatch_toml is not None:
        (tmp_path / "hatch.toml").write_text(hatch_toml)
    return tmp_path


def test_hatch_toml_build_table_replaces_pyprojects_and_messages_name_it(tmp_path: Path) -> None:
    from hatch_pylon.build.project import load_project

    root = project(
        tmp_path,
        HATCH_BUILD_SYSTEM + '[tool.hatch.build.hooks.pylon]\nroot = "from-pyproject.wasm"\n',
        '[build.hooks.pylon]\nroot = "from-hatch.wasm"\n',
    )
    config = load_project(root, environ={})
    assert config.root.path == root / "from-hatch.wasm"
    assert config.table == "hatch.toml: build.hooks.pylon"
    assert config.root.origin == "hatch.toml: build.hooks.pylon.root"
    (root / "hatch.toml").write_text('[build.hooks.pylon]\nroot = "r.wasm"\ncomponent-dir = ["caps"]\n')
    with pytest.raises(ConfigError) as caught:
        load_project(root, environ={})
    assert caught.value.problems == [
        "hatch.toml: build.hooks.pylon.component-dir is not a known option (did you mean 'component-dirs'?)"
    ]


def test_hatch_toml_without_build_keeps_pyprojects_and_a_bare_build_hides_it(tmp_path: Path) -> None:
    from hatch_pylon._errors import PylonError
    from hatch_pylon.build.project import load_project

    root = project(
        tmp_path,
        HATCH_BUILD_SYSTEM + '[tool.hatch.build.hooks.pylon]\nroot = "r.wasm"\n',
        "[envs.default]\ndependencies = []\n",
    )
    assert load_project(root, environ={}).table == HATCH_TABLE
    (root / "hatch.toml").write_text('[build]\ndirectory = "out"\n')  # shallow update: pyproject's build is gone
    with pytest.raises(PylonError, match="hatch-pylon is not configured here"):
        load_project(root, environ={})


def test_a_target_table_replaces_the_global_one(tmp_path: Path) -> None:
    from hatch_pylon.build.project import load_project

    root = project(
        tmp_path,
        HATCH_BUILD_SYSTEM + '[tool.hatch.build.hooks.pylon]\nroot = "g.wasm"\nbogus = 1\n'
        '[tool.hatch.build.targets.wheel.hooks.pylon]\nroot = "w.wasm"\n',
    )
    config = load_project(root, environ={})
    assert config.root.path == root / "w.wasm"
    assert config.table == "tool.hatch.build.targets.wheel.hooks.pylon"


def test_the_build_backend_picks_the_table(tmp_path: Path) -> None:
    from hatch_pylon.build.project import hook_problems, load_project

    root = project(
        tmp_path,
        '[build-system]\nrequires = ["setuptools>=64", "hatch-pylon"]\n'
        'build-backend = "setuptools.build_meta"\n[tool.pylon]\nroot = "st.wasm"\n'
        '[tool.hatch.build.hooks.pylon]\nroot = "h.wasm"\n',
    )
    assert load_project(root, environ={}).table == "tool.pylon"
    assert hook_problems(root) == [
        "pyproject.toml: build-system.build-backend is setuptools, which does not read "
        "tool.hatch.build.hooks.pylon; configure hatch-pylon in [tool.pylon] instead"
    ]


def test_a_missing_or_dynamic_name_falls_back(tmp_path: Path) -> None:
    from hatch_pylon._errors import PylonError
    from hatch_pylon.build.project import load_project

    setuptools = '[build-system]\nrequires = ["setuptools", "hatch-pylon"]\nbuild-backend = "setuptools.build_meta"\n'
    root = project(tmp_path, setuptools + '[tool.pylon]\nroot = "r.wasm"\n', name="")
    with pytest.raises(PylonError) as caught:
        load_project(root, environ={})
    assert str(caught.value) == (
        f"{root / 'pyproject.toml'}: [project].name is dynamic, so the bundle's default folder is unknown; "
        "set tool.pylon.destination (e.g. 'my_pkg/_pylon') or [project].name"
    )
    (root / "setup.cfg").write_text("[metadata]\nname = My-Dyn.Pkg\n")
    assert load_project(root, environ={}).destination == "my_dyn_pkg/_pylon"
    (root / "setup.cfg").unlink()
    (root / "pyproject.toml").write_text(
        '[project]\ndynamic = ["name"]\n' + setuptools + '[tool.pylon]\nroot = "r.wasm"\ndestination = "pkg/_b"\n'
    )
    assert load_project(root, environ={}).destination == "pkg/_b"


def test_hook_problems(tmp_path: Path) -> None:
    from hatch_pylon.build.project import hook_problems

    root = project(tmp_path, HATCH_BUILD_SYSTEM + '[tool.hatch.build.hooks.pylon]\nroot = "r.wasm"\n')
    assert hook_problems(root) == []
    (root / "pyproject.toml").write_text(
        '[project]\nname = "d"\n[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[tool.hatch.build.targets.wheel.hooks.pylon]\nroot = "r.wasm"\n'
    )
    assert hook_problems(root) == [
        "pyproject.toml: build-system.requires does not list 'hatch-pylon', so hatchling cannot load the pylon hook "
        '(UnknownPluginError); add it: requires = ["hatchling", "hatch-pylon"]',
        "tool.hatch.build.targets.wheel.hooks.pylon configures the hook for the wheel target only: the sdist gets "
        "no bundle, and wheels built from it (pip install, uv build, python -m build) fail; move the table to "
        "[tool.hatch.build.hooks.pylon]",
    ]
    (root / "pyproject.toml").write_text(
        '[project]\nname = "d"\n'
        + HATCH_BUILD_SYSTEM.replace(
            '"hatch-pylon"', '"Hatch_Pylon @ file:///wheels/hatch_pylon-0.1.0-py3-none-any.whl"'
        )
    )
    (root / "hatch.toml").write_text('[build.targets.sdist.hooks.pylon]\nroot = "r.wasm"\n')
    assert hook_problems(root) == [
        "hatch.toml: build.targets.sdist.hooks.pylon configures the hook for the sdist target only: wheels built "
        "from the source tree get no bundle; move the table to [build.hooks.pylon] in hatch.toml"
    ]
    (root / "hatch.toml").write_text('[build.hooks.pylon]\nroot = "r.wasm"\n')
    assert hook_problems(root) == []


def test_hatch_table_name_for_the_hook(tmp_path: Path) -> None:
    from hatch_pylon.build.project import hatch_table_name

    root = project(tmp_path, HATCH_BUILD_SYSTEM + '[tool.hatch.build.targets.wheel.hooks.pylon]\nroot = "r"\n')
    assert hatch_table_name(root, "wheel") == "tool.hatch.build.targets.wheel.hooks.pylon"
    assert hatch_table_name(root, "sdist") == HATCH_TABLE
    (root / "hatch.toml").write_text('[build.hooks.pylon]\nroot = "r"\n')
    assert hatch_table_name(root, "wheel") == "hatch.toml: build.hooks.pylon"


def test_hook_problems_for_setuptools_and_a_mismatched_backend(tmp_path: Path) -> None:
    from hatch_pylon.build.project import hook_problems

    root = project(
        tmp_path,
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[tool.pylon]\nroot = "r.wasm"\n',
    )
    assert hook_problems(root) == [
        "pyproject.toml: build-system.requires does not list 'hatch-pylon', so setuptools builds run without it "
        'and ship no bundle; add it: requires = ["setuptools>=64", "hatch-pylon"]'
    ]
    root = project(tmp_path, HATCH_BUILD_SYSTEM + '[tool.pylon]\nroot = "r.wasm"\n')
    assert hook_problems(root) == [
        "pyproject.toml: build-system.build-backend is hatchling, which does not read [tool.pylon]; move that "
        "table to [tool.hatch.build.hooks.pylon]"
    ]


def test_planv1_fields_from_the_configuration() -> None:
    config = load(
        {
            "root": "wasm/python.wasm",
            "components": [{"id": "arrow-core", "path": "caps/a.wasm", "source": "oci://ghcr.io/acme/arrow:1"}],
            "policy": {"tenant": "acme"},
            "secrets": [
                {"secret-id": "db", "backend-uri": "vault://secrets/db"},
                {"secret-id": "api-key", "backend-uri": "dev://"},
            ],
        }
    )
    assert config.components[0].fetch_url == "oci://ghcr.io/acme/arrow:1"
    assert config.policy.tenant == "acme"
    assert [tuple(s) for s in config.secrets] == [("db", "vault://secrets/db"), ("api-key", "dev://")]
    assert load({"root": "r.wasm"}).policy.tenant is None and load({"root": "r.wasm"}).secrets == ()


def test_planv1_fields_are_checked_where_they_are_written() -> None:
    found = problems(
        {
            "root": "r.wasm",
            "components": [
                {"id": "a", "path": "a.wasm", "source": "gopher://old/a.wasm"},
                {"id": "b", "path": "b.wasm", "source": ""},
            ],
            "policy": {"tenant": 7},
            "secrets": [
                {"secret-id": "k", "backend-uri": "hunter2"},
                {"secret-id": "k", "backend-uri": "vault://admin:hunter2@vault.local/k"},
                {"secret-id": "v", "backend-uri": "dev://", "value": "hunter2"},
                {"backend-uri": "dev://"},
            ],
        }
    )
    table = HATCH_TABLE
    expected = [
        f"{table}.components[0].source: unsupported source scheme in 'gopher://old/a.wasm'",
        f"{table}.components[1].source: must be a non-empty string, got ''",
        f"{table}.policy.tenant: must be a non-empty string, got an integer (7)",
        f"{table}.secrets[0].backend-uri: is not a backend URI",
        f"{table}.secrets[1].backend-uri: carries a password",
        f"{table}.secrets[1].secret-id: 'k' is listed twice (first at {table}.secrets[0])",
        f"{table}.secrets[2].value is not a known option (a plan names where a secret lives, never its value)",
        f"{table}.secrets[3].secret-id: is required",
    ]
    for fragment in expected:
        assert any(problem.startswith(fragment) for problem in found), (fragment, found)
    assert not any("hunter2" in problem for problem in found), found
    assert len(found) == len(expected), found


def test_a_string_that_is_not_unicode_is_named() -> None:
    found = problems({"root": "r.wasm", "policy": {"tenant": "x\ud800"}})
    assert found == [f"{HATCH_TABLE}.policy.tenant: 'x\\ud800' holds a lone surrogate, which is not Unicode"]
