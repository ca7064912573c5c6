"""Concurrent builds on one store, a build killed mid-write, and tampered wheels."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from helpers import SpyCompiler, copy_sample, name, section, write_component

from hatch_pylon._errors import PylonError
from hatch_pylon.adapters.cli import main
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.bundle.sources import open_target
from hatch_pylon.use.runtime import Runtime

pytestmark = pytest.mark.slow


def assert_store_sound(store: Path, temps_allowed: bool = False) -> int:
    blobs = [p for p in store.glob("blobs/*/*") if not p.name.startswith(".tmp-")]
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.parent.name + blob.name, f"corrupt {blob}"
    if not temps_allowed:
        assert not list(store.rglob(".tmp-*"))
    return len(blobs)


def test_eight_concurrent_builds_share_one_store(tmp_path: Path, python_root: Path) -> None:
    store = tmp_path / "shared-store"
    projects = []
    for index in range(8):
        project = copy_sample(tmp_path / f"p{index}" / "sample-project", python_root)
        pyproject = project / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text().replace(
                'destination = "sample_pkg/_pylon"', f'destination = "sample_pkg/_pylon"\nstore = "{store}"'
            )
        )
        projects.append(project)
    builds = [
        subprocess.Popen(
            [sys.executable, "-m", "build", "--no-isolation", "--wheel", str(p)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p in projects
    ]
    outputs = [(b.wait(timeout=600), b.stdout.read()) for b in builds]
    assert all(code == 0 for code, _ in outputs), [out for code, out in outputs if code]
    plans = set()
    for project in projects:
        with zipfile.ZipFile(next(project.glob("dist/*.whl"))) as wheel:
            plans.add(wheel.read("sample_pkg/_pylon/plan.json"))
    assert len(plans) == 1
    assert assert_store_sound(store) == 4  # the sample's four components


def padded_component(path: Path, exports: list[str], imports: list[str], size: int) -> None:
    write_component(path, imports=imports, exports=exports)
    payload = os.urandom(size)
    path.write_bytes(path.read_bytes() + section(0, name("padding") + payload))


def test_build_killed_mid_write_leaves_the_store_valid(tmp_path: Path) -> None:
    count = 24
    write_component(tmp_path / "root.wasm", imports=[f"k:c{i}/api@1.0.0" for i in range(count)])
    for index in range(count):
        padded_component(tmp_path / "caps" / f"c{index}.wasm", [f"k:c{index}/api@1.0.0"], [], 8 << 20)
    raw = {"root": "root.wasm", "component-dirs": ["caps"]}
    store = tmp_path / ".compose"
    # A first, complete build of half the components, so the store holds finished blobs too.
    half = {**raw, "component-dirs": ["half"]}
    (tmp_path / "half").mkdir()
    for index in range(count // 2):
        os.link(tmp_path / "caps" / f"c{index}.wasm", tmp_path / "half" / f"c{index}.wasm")
    write_component(tmp_path / "half-root.wasm", imports=[f"k:c{i}/api@1.0.0" for i in range(count // 2)])
    build_bundle(load_config({**half, "root": "half-root.wasm"}, project_root=tmp_path, project_name="k", environ={}))
    finished = assert_store_sound(store)

    code = (
        "import sys, json; from hatch_pylon.build.pipeline import build_bundle; from hatch_pylon.build.config import "
        "load_config; build_bundle(load_config(json.loads(sys.argv[1]), project_root=sys.argv[2], "
        "project_name='k', environ={}))"
    )
    victim = subprocess.Popen([sys.executable, "-c", code, json.dumps(raw), str(tmp_path)])
    deadline = time.monotonic() + 60
    while not list(store.glob("blobs/.tmp-*")) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, "the build finished before it could be killed"
    assert list(store.glob("blobs/.tmp-*")), "killed while staging, so its temp file is still there"
    assert assert_store_sound(store, temps_allowed=True) >= finished  # no finished blob was harmed

    warnings: list[str] = []
    bundle = build_bundle(load_config(raw, project_root=tmp_path, project_name="k", environ={}), say=warnings.append)
    assert len(bundle.plan.components) == count + 1
    assert any("left behind by a build that did not finish" in w for w in warnings)
    assert assert_store_sound(store) == count + 2  # both roots and every cap


def rewrite_wheel(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        files = {info.filename: old.read(info) for info in old.infolist()}
        change(files)
        for filename, data in files.items():
            new.writestr(filename, data)
    return target


def digest_of(files: dict[str, bytes], component_id: str) -> str:
    plan = json.loads(files["sample_pkg/_pylon/plan.json"])
    return bytes(next(c for c in plan["components"] if c["id"] == component_id)["digest"]).hex()


def edit_blob(files: dict[str, bytes]) -> None:
    digest = digest_of(files, "pylon-math")
    member = f"sample_pkg/_pylon/.compose/blobs/{digest[:2]}/{digest[2:]}"
    files[member] = files[member].replace(b"\x7e", b"\x7d", 1)


def swap_digests(files: dict[str, bytes]) -> None:
    plan = json.loads(files["sample_pkg/_pylon/plan.json"])
    by_id = {component["id"]: component for component in plan["components"]}
    first, second = by_id["arrow-core"], by_id["pylon-math"]
    first["digest"], second["digest"] = second["digest"], first["digest"]
    files["sample_pkg/_pylon/plan.json"] = json.dumps(plan).encode()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (edit_blob, "component 'pylon-math': blob .compose/blobs/"),
        (swap_digests, "python -> pylon-math (pylon:math/ops@1.1.0): pylon-math has no export 'pylon:math/ops@1.2.0'"),
    ],
)
def test_tampered_wheel_is_refused_by_verify_and_runtime(
    sample_wheel: Path, tmp_path: Path, change, problem: str, capsys
) -> None:
    wheel = rewrite_wheel(sample_wheel, tmp_path / sample_wheel.name, change)
    assert main(["verify", str(wheel)]) == 1
    assert problem in capsys.readouterr().err
    spy = SpyCompiler(tmp_path / "cache")
    with open_target(str(wheel)) as bundle, pytest.raises(PylonError, match="failed verification"):
        Runtime(bundle.folder, spy).run()
    assert spy.requested == [] and spy.compiled == 0
