"""Discovery and resolution on real component files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import write_component

from hatch_pylon._errors import PylonError, ResolveError
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import plan_project


def resolve_in(root: Path, raw: dict, environ: dict | None = None):
    config = load_config(raw, project_root=root, project_name="demo", environ=environ or {})
    return plan_project(config)


def bindings(plan) -> list[tuple[str, str, str, str]]:
    return [(b.consumer_id, b.import_name, b.provider_id, b.export_name) for b in plan.bindings]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


def test_exact_semver_and_transitive_bindings(project: Path) -> None:
    write_component(
        project / "root.wasm", imports=["arrow:core/array@0.1.0", "pylon:math/ops@1.1.0", "wasi:cli/stdout@0.2.0"]
    )
    write_component(
        project / "caps/arrow-core.wasm", imports=["pylon:math/ops@1.0.0"], exports=["arrow:core/array@0.1.0"]
    )
    write_component(project / "caps/pylon_math.wasm", exports=["pylon:math/ops@1.2.0"])
    write_component(project / "caps/unused.wasm", exports=["other:thing/x@1.0.0"])
    _, plan = resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})
    assert [c.id for c in plan.components] == ["arrow-core", "pylon-math", "python"]
    assert bindings(plan) == [
        ("arrow-core", "pylon:math/ops@1.0.0", "pylon-math", "pylon:math/ops@1.2.0"),
        ("python", "arrow:core/array@0.1.0", "arrow-core", "arrow:core/array@0.1.0"),
        ("python", "pylon:math/ops@1.1.0", "pylon-math", "pylon:math/ops@1.2.0"),
    ]


def test_exact_name_beats_higher_compatible_version(project: Path) -> None:
    write_component(project / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(project / "caps/exact.wasm", exports=["a:b/c@1.0.0"])
    write_component(project / "caps/newer.wasm", exports=["a:b/c@1.5.0"])
    _, plan = resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})
    assert bindings(plan) == [("python", "a:b/c@1.0.0", "exact", "a:b/c@1.0.0")]


def test_highest_compatible_version_wins(project: Path) -> None:
    write_component(project / "root.wasm", imports=["a:b/c@0.2.0"])
    write_component(project / "caps/v1.wasm", exports=["a:b/c@0.2.1"])
    write_component(project / "caps/v2.wasm", exports=["a:b/c@0.2.9"])
    write_component(project / "caps/v3.wasm", exports=["a:b/c@0.3.0"])
    _, plan = resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})
    assert bindings(plan) == [("python", "a:b/c@0.2.0", "v2", "a:b/c@0.2.9")]


@pytest.mark.parametrize(("wanted", "offered"), [("a:b/c@0.0.1", "a:b/c@0.0.2"), ("a:b/c@1.0.0-rc.1", "a:b/c@1.0.0")])
def test_no_alternate_for_0_0_x_or_prereleases(project: Path, wanted: str, offered: str) -> None:
    write_component(project / "root.wasm", imports=[wanted])
    write_component(project / "caps/p.wasm", exports=[offered])
    with pytest.raises(ResolveError) as caught:
        resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})
    assert f"imports instance '{wanted}': no component exports it" in str(caught.value)
    assert f"near miss: p exports '{offered}' (another version track)" in str(caught.value)


def test_unresolved_lists_every_import_places_searched_and_near_misses(project: Path) -> None:
    write_component(project / "root.wasm", imports=["arrow:core/array@0.1.0", "pylon:math/ops@2.0.0", "x:y/z"])
    write_component(project / "caps/math.wasm", exports=["pylon:math/ops@1.2.0"])
    with pytest.raises(ResolveError) as caught:
        resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})
    message = str(caught.value)
    assert "3 unresolved imports" in message
    for name in ("arrow:core/array@0.1.0", "pylon:math/ops@2.0.0", "x:y/z"):
        assert f"python (root.wasm) imports instance '{name}': no component exports it" in message
    assert "near miss: math exports 'pylon:math/ops@1.2.0' (another version track)" in message
    assert "caps (tool.hatch.build.hooks.pylon.component-dirs[0])" in message
    assert "pinned components: python" in message


def test_two_providers_without_a_pin_name_both_and_say_how_to_pin(project: Path) -> None:
    write_component(project / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(project / "caps/one.wasm", exports=["a:b/c@1.0.0"])
    write_component(project / "caps/two.wasm", exports=["a:b/c@1.0.0"])
    with pytest.raises(ResolveError) as caught:
        resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})
    message = str(caught.value)
    assert "'one' (caps/one.wasm, export 'a:b/c@1.0.0') and 'two' (caps/two.wasm" in message
    assert "pin one by listing it under [[tool.hatch.build.hooks.pylon.components]]" in message
    _, plan = resolve_in(
        project,
        {"root": "root.wasm", "component-dirs": ["caps"], "components": [{"id": "two", "path": "caps/two.wasm"}]},
    )
    assert bindings(plan) == [("python", "a:b/c@1.0.0", "two", "a:b/c@1.0.0")]


def test_pinned_compatible_beats_dir_exact(project: Path) -> None:
    write_component(project / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(project / "caps/dir-exact.wasm", exports=["a:b/c@1.0.0"])
    write_component(project / "pins/pinned.wasm", exports=["a:b/c@1.3.0"])
    _, plan = resolve_in(
        project,
        {"root": "root.wasm", "component-dirs": ["caps"], "components": [{"id": "pinned", "path": "pins/pinned.wasm"}]},
    )
    assert bindings(plan) == [("python", "a:b/c@1.0.0", "pinned", "a:b/c@1.3.0")]


def test_cycle_is_reported_with_its_path(project: Path) -> None:
    write_component(project / "root.wasm", imports=["a:x/one@1.0.0"])
    write_component(project / "caps/a.wasm", imports=["b:x/two@1.0.0"], exports=["a:x/one@1.0.0"])
    write_component(project / "caps/b.wasm", imports=["a:x/one@1.0.0"], exports=["b:x/two@1.0.0"])
    with pytest.raises(ResolveError, match=r"dependency cycle: a \[b:x/two@1.0.0\] -> b \[a:x/one@1.0.0\] -> a"):
        resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})


def test_same_plan_whatever_the_listing_order(tmp_path: Path) -> None:
    plans = []
    for order in (["a", "b", "c", "d"], ["d", "c", "b", "a"]):
        project = tmp_path / "-".join(order)
        write_component(project / "root.wasm", imports=[f"n:{x}/i@1.0.0" for x in "abcd"])
        for stem in order:
            write_component(project / f"caps/{stem}.wasm", exports=[f"n:{stem}/i@1.{ord(stem)}.0"])
        plans.append(resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})[1].to_json())
    assert plans[0] == plans[1]


def test_env_dirs_come_first_and_shadow_by_id(project: Path) -> None:
    write_component(project / "root.wasm", imports=["a:b/c@1.0.0"])
    write_component(project / "caps/p.wasm", exports=["a:b/c@1.0.0"])
    write_component(project / "ci/p.wasm", exports=["a:b/c@1.1.0"])
    resolution, plan = resolve_in(
        project, {"root": "root.wasm", "component-dirs": ["caps"]}, {"PYLON_COMPONENT_DIRS": str(project / "ci")}
    )
    assert bindings(plan) == [("python", "a:b/c@1.0.0", "p", "a:b/c@1.1.0")]
    assert resolution.components[0].path == str(project / "ci/p.wasm")


def test_env_override_replaces_root_path(project: Path) -> None:
    write_component(project / "elsewhere.wasm", imports=[])
    _, plan = resolve_in(project, {"root": "missing.wasm"}, {"PYLON_COMPONENT_PYTHON": str(project / "elsewhere.wasm")})
    assert [c.id for c in plan.components] == ["python"]


def test_discovery_errors_are_collected(project: Path) -> None:
    write_component(project / "root.wasm", imports=[])
    (project / "caps").mkdir()
    (project / "caps/dir.wasm").mkdir()
    (project / "caps/Bad!.wasm").write_bytes(b"")
    write_component(project / "caps/dup_id.wasm", exports=["a:b/c"])
    write_component(project / "caps/dup-id.wasm", exports=["a:b/d"])
    (project / "caps/module.wasm").write_bytes(b"\0asm\x01\x00\x00\x00")
    with pytest.raises(PylonError) as caught:
        resolve_in(
            project,
            {
                "root": "root.wasm",
                "component-dirs": ["caps", "nowhere"],
                "components": [{"id": "gone", "path": "gone.wasm"}],
            },
        )
    message = str(caught.value)
    assert "components[0].path: gone.wasm: file not found" in message
    assert "caps/dir.wasm: is a directory, not a component file" in message
    assert "caps/Bad!.wasm gives the id 'bad!', which is not a valid component id" in message
    assert "duplicate id 'dup-id': caps/dup-id.wasm and caps/dup_id.wasm" in message
    assert "caps/module.wasm is a core WebAssembly module, not a component" in message
    assert "component-dirs[1]: directory not found: nowhere" in message


def test_symlink_loop_in_component_dir(project: Path) -> None:
    write_component(project / "root.wasm", imports=[])
    (project / "caps").mkdir()
    os.symlink("loop.wasm", project / "caps/loop.wasm")
    with pytest.raises(PylonError, match=r"caps/loop.wasm: cannot be read \(Too many levels of symbolic links\)"):
        resolve_in(project, {"root": "root.wasm", "component-dirs": ["caps"]})


def test_ignore_imports_prefixes(project: Path) -> None:
    write_component(project / "root.wasm", imports=["wasi:cli/stdout@0.2.0", "host:log/sink@1.0.0"])
    _, plan = resolve_in(project, {"root": "root.wasm", "ignore-imports": ["wasi:", "host:"]})
    assert plan.bindings == ()


def padded(path: Path, megabytes: int, **kwargs) -> Path:
    """A real component grown past the large-file threshold with a custom section."""
    write_component(path, **kwargs)
    payload = b"\x07padding" + os.urandom(megabytes << 20)
    size = len(payload)
    leb = bytes([(size >> shift & 0x7F) | (0x80 if shift < 28 else 0) for shift in (0, 7, 14, 21, 28)])
    path.write_bytes(path.read_bytes() + b"\x00" + leb + payload)
    return path


@pytest.mark.parametrize("large_caps", [0, 1, 3], ids=["root alone is large", "two large", "four large"])
def test_outcomes_keep_job_order_whichever_thread_reads_them(tmp_path: Path, large_caps: int) -> None:
    from hatch_pylon.build.pipeline import build_bundle

    names = [f"p:c{i}/api" for i in range(6)]
    padded(tmp_path / "root.wasm", 5, imports=names)
    for index, name in enumerate(names):
        path = tmp_path / "caps" / f"c{index}.wasm"
        if index < large_caps:
            padded(path, 5, exports=[name])
        else:
            write_component(path, exports=[name])
    bundle = build_bundle(
        load_config(
            {"root": "root.wasm", "component-dirs": ["caps"]}, project_root=tmp_path, project_name="d", environ={}
        )
    )
    assert {c.id for c in bundle.resolution.components} == {"python", *(f"c{i}" for i in range(6))}
    assert [b.provider_id for b in bundle.plan.bindings] == [f"c{i}" for i in range(6)]
    for component in bundle.resolution.components:
        assert bundle.blobs[component.file.digest].read_bytes() == Path(component.path).read_bytes()

    (tmp_path / "caps" / "c1.wasm").write_bytes(b"\0asm")  # broken, and read by whichever thread
    (tmp_path / "caps" / "c4.wasm").write_bytes(b"")
    with pytest.raises(PylonError) as caught:
        resolve_in(tmp_path, {"root": "root.wasm", "component-dirs": ["caps"]})
    message = str(caught.value)
    assert message.index("caps/c1.wasm") < message.index("caps/c4.wasm")
