"""Component distributions without a front-end: descriptors, discovery by distribution, references through the gate.

An installed distribution here is the folder layout an installer leaves in site-packages (the package's files,
``<name>-<version>.dist-info/`` with METADATA, RECORD and the descriptor), written from the components the
pipeline staged, and found by ``importlib.metadata`` through ``sys.path`` like any other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from helpers import write_component

from hatch_pylon._errors import PylonError, VerificationError
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle, build_provided, project_requirements
from hatch_pylon.bundle.distributions import (
    DESCRIPTOR_PATH,
    ComponentsError,
    installed,
    parse_descriptor,
    requirement_problems,
)
from hatch_pylon.bundle.verify import verify_bundle, verify_provided

OPS = "pylon:math/ops@1.2.0"


def install(site: Path, name: str, version: str, provided_config: dict, project: Path) -> Path:
    """Lay out ``name`` as an installer would, its components staged and described by the pipeline."""
    package = name.replace("-", "_")
    config = load_config(
        {**provided_config, "destination": f"{package}/_pylon"},
        project_root=project,
        project_name=name,
        environ={},
    )
    provided = build_provided(config)
    dist_info = site / f"{package}-{version}.dist-info"
    (dist_info / "extra_metadata").mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist_info / DESCRIPTOR_PATH).write_bytes(provided.descriptor)
    files = [dist_info / "METADATA", dist_info / DESCRIPTOR_PATH]
    for source, target in provided.layout(f"{package}/_pylon").items():
        (site / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, site / target)
        files.append(site / target)
    write_record(site, dist_info, files)
    return dist_info


def write_record(site: Path, dist_info: Path, files: list[Path]) -> None:
    """RECORD as installers write it: path, urlsafe-base64 SHA-256 without padding, size; RECORD itself unhashed."""
    rows = []
    for path in files:
        data = path.read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{path.relative_to(site).as_posix()},sha256={digest},{len(data)}")
    rows.append(f"{dist_info.name}/RECORD,,")
    (dist_info / "RECORD").write_text("\n".join(rows) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site-packages folder on sys.path holding a root distribution and a cap distribution."""
    folder = tmp_path / "site"
    folder.mkdir()
    source = tmp_path / "sources"
    write_component(source / "math.wasm", exports=[OPS])
    write_component(source / "python.wasm", imports=["pylon:math/ops@1.0.0"], exports=["app:api/run@1.0.0"])
    cap = {"components": [{"id": "math", "path": "math.wasm"}], "provides": ["math"], "store": str(tmp_path / "s1")}
    install(folder, "pylon-cap-math", "1.2.0", cap, source)
    install(folder, "pylon-root", "1.0.0", {"root": "python.wasm", "provides": ["python"]}, source)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def app_config(project: Path, **extra: object):  # type: ignore[no-untyped-def]
    raw = {"component-distributions": ["pylon-root", "pylon-cap-math"], **extra}
    return load_config(raw, project_root=project, project_name="app-one", environ={})


def test_the_descriptor_lists_each_component_and_reads_back_through_importlib_metadata(site: Path) -> None:
    from importlib import metadata

    text = metadata.distribution("pylon-cap-math").read_text(DESCRIPTOR_PATH)
    document = json.loads(text)
    (entry,) = document["components"]
    blob = site / document["store"] / "blobs" / entry["digest"][:2] / entry["digest"][2:]
    assert entry["id"] == "math" and entry["size"] == blob.stat().st_size
    assert entry["digest"] == hashlib.sha256(blob.read_bytes()).hexdigest()
    assert entry["exports"] == [{"name": OPS, "kind": "instance"}] and entry["imports"] == []
    found = installed("pylon-cap-math")
    assert (found.name, found.version, [c.id for c in found.components]) == ("pylon-cap-math", "1.2.0", ["math"])


def test_an_installed_component_distribution_verifies_and_a_modified_blob_is_named(site: Path) -> None:
    dist_info = next(site.glob("pylon_cap_math-*.dist-info"))
    descriptor = f"{dist_info.name}/{DESCRIPTOR_PATH}"
    assert verify_provided(site, descriptor).report.ok
    blob = next((site / "pylon_cap_math").rglob("blobs/*/*"))
    blob.write_bytes(blob.read_bytes() + b"\0")
    problems = verify_provided(site, descriptor).report.problems
    assert len(problems) == 1 and "was modified" in problems[0], problems


def test_components_of_listed_distributions_resolve_and_are_referenced_not_copied(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    bundle = build_bundle(app_config(project))
    assert bundle.plan.root == "python"
    assert [(b.consumer_id, b.provider_id) for b in bundle.plan.bindings] == [("python", "math")]
    assert bundle.blobs == {}  # nothing copied: both blobs stay in their distributions
    assert bundle.requirements == ["pylon-cap-math==1.2.0", "pylon-root==1.0.0"]
    assert project_requirements(app_config(project)) == bundle.requirements
    meta = json.loads(bundle.meta_json)
    assert [r["distribution"] for r in meta["references"]] == ["pylon-cap-math", "pylon-root"]

    folder = bundle.write_to(tmp_path / "bundle")
    verified = verify_bundle(folder).or_raise()
    assert set(verified.blobs) == {c.digest for c in bundle.plan.components}
    assert verified.referenced == set(verified.blobs)

    copied = build_bundle(app_config(project, distributed="copy"))
    assert set(copied.blobs) == {c.digest for c in copied.plan.components} and copied.requirements == []


def test_a_component_dir_outranks_a_distribution(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    write_component(project / "caps" / "local-math.wasm", exports=["pylon:math/ops@1.3.0"])
    bundle = build_bundle(app_config(project, **{"component-dirs": ["caps"]}))
    assert [b.provider_id for b in bundle.plan.bindings] == ["local-math"]
    assert bundle.requirements == ["pylon-root==1.0.0"]


def test_references_are_checked_against_what_is_installed(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    folder = build_bundle(app_config(project)).write_to(tmp_path / "bundle")

    # Another version installed: required, a problem naming what to install; alone, not checked.
    dist_info = next(site.glob("pylon_cap_math-*.dist-info"))
    metadata_file = dist_info / "METADATA"
    metadata_file.write_text(metadata_file.read_text().replace("1.2.0", "1.1.0"))
    with pytest.raises(VerificationError) as caught:
        verify_bundle(folder).or_raise()
    assert "pylon-cap-math 1.1.0 is installed, not 1.2.0; pip install 'pylon-cap-math==1.2.0'" in str(caught.value)
    alone = verify_bundle(folder, references_required=False)
    assert alone.report.ok and alone.report.unchecked_references == 1, alone.report

    # Not installed at all.
    shutil.rmtree(dist_info)
    report = verify_bundle(folder).report
    assert report.problems == [
        "component math is referenced from pylon-cap-math==1.2.0: it is not installed; "
        "pip install 'pylon-cap-math==1.2.0'"
    ]
    alone = verify_bundle(folder, references_required=False).report
    assert alone.ok and any("math from pylon-cap-math==1.2.0 (not installed here" in s for s in alone.skipped)


def test_distributions_in_python_wasm_home_are_found_by_the_build_and_the_gate_alike(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$PYTHON_WASM_HOME/site-packages`` is looked in after this environment, for a build and for the gate."""
    project = tmp_path / "app"
    project.mkdir()
    home = tmp_path / "home"
    shutil.move(str(site), str(home / "site-packages"))  # the same installs, now where python-wasm puts them
    monkeypatch.setenv("PYTHON_WASM_HOME", str(home))
    bundle = build_bundle(app_config(project))
    assert bundle.requirements == ["pylon-cap-math==1.2.0", "pylon-root==1.0.0"]
    assert any(
        f"found in $PYTHON_WASM_HOME/site-packages ({home / 'site-packages'})" in line for line in bundle.summary()
    )
    folder = bundle.write_to(tmp_path / "bundle")
    assert verify_bundle(folder).report.ok
    monkeypatch.setenv("PYTHON_WASM_HOME", str(tmp_path / "elsewhere"))
    assert verify_bundle(folder).report.problems == [
        "component math is referenced from pylon-cap-math==1.2.0: it is not installed; "
        "pip install 'pylon-cap-math==1.2.0'",
        "component python is referenced from pylon-root==1.0.0: it is not installed; pip install 'pylon-root==1.0.0'",
    ]


def test_a_referenced_blob_that_fails_its_digest_names_the_distribution(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    folder = build_bundle(app_config(project)).write_to(tmp_path / "bundle")
    blob = next((site / "pylon_cap_math").rglob("blobs/*/*"))
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x01")
    (problem,) = verify_bundle(folder).report.problems
    assert "pylon-cap-math 1.2.0" in problem and "was modified" in problem
    assert "pip install --force-reinstall 'pylon-cap-math==1.2.0'" in problem


def test_a_listed_distribution_not_installed_or_damaged_is_one_message_naming_it(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    raw = {"root": "python.wasm", "component-distributions": ["pylon-cap-zlib"]}
    write_component(project / "python.wasm")
    with pytest.raises(PylonError) as caught:
        build_bundle(load_config(raw, project_root=project, project_name="a", environ={}))
    assert str(caught.value).count("pylon-cap-zlib") >= 1 and "is not installed" in str(caught.value)

    descriptor = next(site.glob("pylon_cap_math-*.dist-info")) / DESCRIPTOR_PATH
    descriptor.write_text('{"schema": "hatch-pylon/components@1", "store": "../x", "components": [{}]}')
    with pytest.raises(ComponentsError) as damaged:
        installed("pylon-cap-math")
    assert "damaged descriptor" in str(damaged.value) and "pylon-cap-math" in str(damaged.value)
    descriptor.unlink()
    with pytest.raises(ComponentsError, match=r"pylon-components.json: is missing; reinstall the distribution"):
        installed("pylon-cap-math")


def test_the_root_must_come_from_somewhere(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    raw = {"component-distributions": ["pylon-cap-math"]}
    with pytest.raises(PylonError, match="no component distribution provides the root id 'python'"):
        build_bundle(load_config(raw, project_root=project, project_name="a", environ={}))


def test_a_dist_info_pyforge_toml_is_not_a_descriptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """python-wasm's landed wheel spec keeps everything out of dist-info: its manifest is the bridge's
    ``pyforge-pkg.toml`` (tests/build/test_pyforge.py), and an early sketch's ``.dist-info/pyforge.toml`` says
    nothing."""
    site = tmp_path / "site"
    artifact = write_component(site / "_xx-component" / "xx_extra.wasm", exports=[OPS])
    dist_info = site / "xx_extra-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: xx-extra\nVersion: 0.1.0\n")
    (dist_info / "pyforge.toml").write_text('[wheel.component]\nartifact = "_xx-component/xx_extra.wasm"\n')
    write_record(site, dist_info, [artifact, dist_info / "METADATA", dist_info / "pyforge.toml"])
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHON_WASM_HOME", str(tmp_path / "home"))
    with pytest.raises(ComponentsError, match="provides no components"):
        installed("xx-extra")


def test_requirements_must_be_declared_exactly() -> None:
    needed = ["pylon-cap-math==1.2.0"]
    assert requirement_problems(needed, ["pylon-cap-math==1.2.0", "other>=1"], "t") == []
    assert requirement_problems(needed, ["Pylon_Cap_Math==1.2.0"], "t") == []
    (loose,) = requirement_problems(needed, ["pylon-cap-math>=1"], "t")
    assert "must require 'pylon-cap-math==1.2.0' (it says pylon-cap-math>=1)" in loose
    (missing,) = requirement_problems(needed, [], "t")
    assert "add it to [project] dependencies" in missing and "[tool.hatch.metadata.hooks.pylon]" in missing


def test_descriptor_problems_are_listed_together() -> None:
    data = json.dumps({"schema": "x", "store": "/abs", "components": [{"id": "Bad"}, "no"]}).encode()
    with pytest.raises(ComponentsError) as caught:
        parse_descriptor(data, "d.json")
    message = str(caught.value)
    for part in ("schema must be", "store must be a relative folder", "components[0].id", "components[1] must be"):
        assert part in message


def test_provides_names_configured_components_only(tmp_path: Path) -> None:
    write_component(tmp_path / "a.wasm", exports=[OPS])
    raw = {"components": [{"id": "a", "path": "a.wasm"}], "provides": ["a", "b"]}
    with pytest.raises(PylonError, match=r"provides\[1\]: no configured component has the id 'b' \(configured: a\)"):
        build_provided(load_config(raw, project_root=tmp_path, project_name="p", environ={}))
