"""Hostile sdists, wheels, plans, stores and component folders, each through the command a user runs.

Every case asserts one clear message, no traceback, nothing written outside the
intended folders and nothing left in the (private, per-test) temp dir or store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from corpus import BASE_HOOK, base_project

pytestmark = pytest.mark.slow

TIMEOUT = 300


def env_for(tmp: Path) -> dict[str, str]:
    temp = tmp / "private-tmp"
    temp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYLON_")}
    return {**env, "TMPDIR": str(temp), "XDG_CACHE_HOME": str(tmp / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}


def run(
    tmp: Path,
    *args: str,
    cwd: Path | None = None,
    timeout: float = TIMEOUT,
    extra_env: dict[str, str] | None = None,
) -> tuple[int, str]:
    env = {**env_for(tmp), **(extra_env or {})}
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd or tmp, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return result.returncode, output


def assert_temp_empty(tmp: Path) -> None:
    left = sorted(p.name for p in (tmp / "private-tmp").iterdir())
    assert left == [], left


def build(tmp: Path, project: Path, kind: str, outdir: Path) -> tuple[int, str]:
    return run(tmp, "-m", "build", "--no-isolation", f"--{kind}", "--outdir", str(outdir), str(project))


def built_base(tmp_path_factory: pytest.TempPathFactory, kind: str) -> Path:
    """The corpus's small valid project, built once as a ``kind`` ("sdist" or "wheel")."""
    tmp = tmp_path_factory.mktemp(f"base-{kind}")
    project = tmp / "demo-project"
    base_project(project, BASE_HOOK)
    code, output = build(tmp, project, kind, tmp / "dist")
    assert code == 0, output
    return next((tmp / "dist").glob("*.tar.gz" if kind == "sdist" else "*.whl"))


@pytest.fixture(scope="module")
def base_sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_base(tmp_path_factory, "sdist")


def unpack(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="tar")
    return next(into.iterdir())


def pack(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return target


def bundle_of(unpacked: Path) -> Path:
    return unpacked / ".pylon-bundle"


def first_blob(bundle: Path) -> Path:
    return sorted(p for p in (bundle / ".compose" / "blobs").rglob("*") if p.is_file())[0]


# -- 1. links out of an sdist's bundle ------------------------------------------------------------


def _link_blob_outside(bundle: Path, outside: Path) -> None:
    blob = first_blob(bundle)
    blob.unlink()
    os.symlink(outside, blob)
    plan = json.loads((bundle / "plan.json").read_text())
    old = blob.parent.name + blob.name
    new = hashlib.sha256(outside.read_bytes()).hexdigest()
    for component in plan["components"]:
        if bytes(component["digest"]).hex() == old:
            component["digest"] = list(bytes.fromhex(new))
    (bundle / "plan.json").write_text(json.dumps(plan))
    target = bundle / ".compose" / "blobs" / new[:2] / new[2:]
    target.parent.mkdir(exist_ok=True)
    os.rename(blob, target)


def _link_folder_outside(bundle: Path, outside: Path) -> None:
    blob = first_blob(bundle)
    shard = blob.parent
    elsewhere = outside.parent / "shard"
    shutil.copytree(shard, elsewhere)
    shutil.rmtree(shard)
    os.symlink(elsewhere, shard)


@pytest.mark.parametrize("plant", [_link_blob_outside, _link_folder_outside], ids=["file", "folder"])
def test_symlink_in_sdist_bundle_is_refused(tmp_path: Path, base_sdist: Path, plant) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0\n")
    unpacked = unpack(base_sdist, tmp_path / "src")
    plant(bundle_of(unpacked), secret)
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    assert code != 0 and "symbolic link" in output, output
    assert not list((tmp_path / "wheels").glob("*.whl")) if (tmp_path / "wheels").exists() else True
    sdist = pack(unpacked, tmp_path / "hostile-1.0.tar.gz")
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(sdist))
    assert code != 0 and "symbolic link" in output, output
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(unpacked))
    assert code != 0 and "symbolic link" in output, output
    assert secret.read_text() == "root:x:0:0\n"
    assert_temp_empty(tmp_path)


# -- 3. hostile plans: wheel-from-sdist, verify, run and trust give one answer -------------------


def _plan_edit(edit):  # type: ignore[no-untyped-def]
    def change(bundle: Path) -> None:
        plan_file = bundle / "plan.json"
        plan_file.write_bytes(edit(plan_file.read_bytes()))

    return change


def _json_edit(edit):  # type: ignore[no-untyped-def]
    def change(data: bytes) -> bytes:
        plan = json.loads(data)
        edit(plan)
        return json.dumps(plan).encode()

    return _plan_edit(change)


PLAN_CASES = {
    "unknown key": (_json_edit(lambda p: p.update(extra=1)), "unknown key"),
    "secrets": (_json_edit(lambda p: p.update(secrets=[{"name": "x"}])), "secrets"),
    "duplicate key": (_plan_edit(lambda d: d.replace(b'"root":', b'"root": "x", "root":', 1)), "duplicate key 'root'"),
    "huge plan": (_plan_edit(lambda d: d[:-2] + b" " * (65 << 20) + d[-2:]), "over the limit"),
    "deep nesting": (_plan_edit(lambda d: b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
    "capability 42": (_json_edit(lambda p: p["policy"].update(capabilities=[42])), "policy.capabilities[0]"),
    "limit over u64": (_json_edit(lambda p: p["policy"].update(limits={"cpu_ms": 1 << 64})), "policy.limits.cpu_ms"),
    "duplicate capability": (
        _json_edit(
            lambda p: p["policy"].update(
                capabilities=[{"name": "a:b", "level": "required"}, {"name": "a:b", "level": "optional"}]
            )
        ),
        "'a:b'",
    ),
}


@pytest.mark.parametrize("label", sorted(PLAN_CASES))
def test_hostile_plan_refused_everywhere(tmp_path: Path, base_sdist: Path, label: str) -> None:
    change, fragment = PLAN_CASES[label]
    unpacked = unpack(base_sdist, tmp_path / "src")
    change(bundle_of(unpacked))
    answers = {}
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    answers["wheel-from-sdist"] = (code != 0, fragment in output, output[-2000:])
    sdist = pack(unpacked, tmp_path / "hostile-1.0.tar.gz")
    store = tmp_path / "store"
    for command in (["verify", str(sdist)], ["run", str(sdist)], ["trust", str(sdist), "--store", str(store)]):
        code, output = run(tmp_path, "-m", "hatch_pylon", *command)
        answers[command[0]] = (code != 0, fragment in output, output[-2000:])
    assert all(refused and named for refused, named, _ in answers.values()), answers
    assert not store.exists() or not [p for p in store.rglob("*") if p.is_file()]
    assert_temp_empty(tmp_path)


def test_good_sdist_accepted_everywhere(tmp_path: Path, base_sdist: Path) -> None:
    store = tmp_path / "store"
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(base_sdist))
    assert code == 0, output
    code, output = run(tmp_path, "-m", "hatch_pylon", "trust", str(base_sdist), "--store", str(store))
    assert code == 0, output
    assert len(list(store.glob("trust/*/*.json"))) == 2
    unpacked = unpack(base_sdist, tmp_path / "src")
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    assert code == 0, output
    assert_temp_empty(tmp_path)


# -- 2. trust --store through planted links -------------------------------------------------------


@pytest.mark.parametrize("where", ["entry", "blob", "trust-folder", "old-temp-name"])
def test_trust_never_writes_through_planted_links(tmp_path: Path, base_sdist: Path, where: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    store = tmp_path / "store"
    unpacked = unpack(base_sdist, tmp_path / "src")
    digest = first_blob(bundle_of(unpacked)).parent.name + first_blob(bundle_of(unpacked)).name
    if where == "entry":
        planted = store / "trust" / digest[:2] / f"{digest[2:]}.json"
    elif where == "blob":
        planted = store / "blobs" / digest[:2] / digest[2:]
    elif where == "old-temp-name":  # a predictable temp name next to the entry; trust writes through random ones
        planted = store / "trust" / digest[:2] / f".tmp-{digest[2:]}.json"
    else:
        planted = store / "trust"
    planted.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(victim if where != "trust-folder" else tmp_path, planted)
    code, output = run(tmp_path, "-m", "hatch_pylon", "trust", str(base_sdist), "--store", str(store))
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private-tmp", "src", "store", "victim.txt"]
    if code == 0:
        for blob in store.glob("blobs/*/*"):
            assert not blob.is_symlink()
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.parent.name + blob.name
        for entry in (e for e in store.glob("trust/*/*.json") if e != planted):
            assert not entry.is_symlink() and json.loads(entry.read_text())["signer"] == "hatch-pylon"
    else:
        assert "is not a folder" in output, output
    assert [p for p in store.rglob(".tmp-*") if p != planted] == []
    assert_temp_empty(tmp_path)


# -- 4. wheels with conflicting or duplicate members ----------------------------------------------


@pytest.fixture(scope="module")
def base_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_base(tmp_path_factory, "wheel")


def rewrite_wheel(source: Path, target: Path, extra: list[tuple[str, bytes]], first: bool) -> Path:
    import warnings

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if first:
            for name, data in extra:
                new.writestr(name, data)
        for info in old.infolist():
            new.writestr(info, old.read(info))
        if not first:
            for name, data in extra:
                new.writestr(name, data)
    return target


def test_wheel_file_before_folder_of_same_name(tmp_path: Path, base_wheel: Path) -> None:
    with zipfile.ZipFile(base_wheel) as archive:
        blob = next(n for n in archive.namelist() if "/.compose/blobs/" in n)
    shard = blob.rsplit("/", 1)[0]
    wheel = rewrite_wheel(base_wheel, tmp_path / base_wheel.name, [(shard, b"a file")], first=True)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code != 0 and "is both a file and a folder" in output, output
    assert_temp_empty(tmp_path)


def test_wheel_duplicate_blob_entries(tmp_path: Path, base_wheel: Path) -> None:
    with zipfile.ZipFile(base_wheel) as archive:
        blob = next(n for n in archive.namelist() if "/.compose/blobs/" in n)
    wheel = rewrite_wheel(base_wheel, tmp_path / base_wheel.name, [(blob, b"wrong bytes")], first=True)
    for command in ("verify", "run"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, str(wheel))
        assert code != 0 and "appears more than once" in output, output
    assert_temp_empty(tmp_path)


# -- 6. a FIFO among the components ---------------------------------------------------------------


def test_fifo_component_does_not_hang(tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK)
    os.mkfifo(project / "caps" / "f.wasm")
    code, output = run(tmp_path, "-m", "hatch_pylon", "plan", str(project), timeout=60)
    assert code != 0 and "caps/f.wasm" in output and "FIFO" in output, output
    code, output = build(tmp_path, project, "wheel", tmp_path / "wheels")
    assert code != 0 and "caps/f.wasm" in output and "FIFO" in output, output
    assert_temp_empty(tmp_path)


# -- 5. a full disk while staging -----------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("padding", [2 << 20, 6 << 20], ids=["copied-while-read", "kernel-copy"])
def test_full_disk_while_staging(tmp_path: Path, tiny_disk: Path, padding: int) -> None:
    from helpers import name as _name
    from helpers import section as _section

    project = tmp_path / "demo-project"
    store = tiny_disk / "store"
    base_project(project, BASE_HOOK + f'store = "{store}"\n')
    provider = project / "caps" / "p.wasm"
    provider.write_bytes(provider.read_bytes() + _section(0, _name("padding") + os.urandom(padding)))
    code, output = build(tmp_path, project, "wheel", tmp_path / "wheels")
    assert code != 0, output
    assert f"in {store / 'blobs'}" in output and "No space left on device" in output, output
    assert output.count("No space left on device") == 1, output
    assert not list(store.rglob(".tmp-*"))
    assert not list(store.glob("blobs/*/*")) or all(
        hashlib.sha256(b.read_bytes()).hexdigest() == b.parent.name + b.name for b in store.glob("blobs/*/*")
    )
    assert_temp_empty(tmp_path)


# -- 11. temp files and staging folders -----------------------------------------------------------


def test_root_also_pinned_in_components_leaves_no_temp_file(tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK + 'components = [{ id = "again", path = "root.wasm" }]\n')
    code, output = build(tmp_path, project, "wheel", tmp_path / "wheels")
    assert code == 0, output
    store = project / ".compose"
    assert not list(store.rglob(".tmp-*")), output
    assert_temp_empty(tmp_path)


def test_killed_builds_staging_folder_is_swept(tmp_path: Path) -> None:
    import signal

    env = env_for(tmp_path)
    code = (
        "import os, time; from hatch_pylon._fs import make_private_folder; "
        "print(make_private_folder('hatch-pylon-'), flush=True); time.sleep(600)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    folder = Path(child.stdout.readline().strip())
    (folder / "plan.json").write_text("{}")
    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK)
    # While its creator lives, another build leaves it alone.
    assert build(tmp_path, project, "wheel", tmp_path / "w1")[0] == 0
    assert folder.is_dir()
    child.send_signal(signal.SIGKILL)
    child.wait()  # its lock died with it: the very next build sweeps the folder
    code, output = build(tmp_path, project, "wheel", tmp_path / "w2")
    assert code == 0, output
    assert not folder.exists()
    assert_temp_empty(tmp_path)


# -- 10. destination and store placement; no store internal in an sdist --------------------------


PLACEMENTS = {
    "destination holds plan.json": (
        BASE_HOOK + 'destination = "demo"\n',
        lambda p: (p / "demo" / "plan.json").write_text("{}"),
        "destination: 'demo' already holds demo/plan.json",
    ),
    "destination is a file": (
        BASE_HOOK + 'destination = "demo/__init__.py"\n',
        lambda p: None,
        "destination: 'demo/__init__.py' is the file demo/__init__.py",
    ),
    "store inside the destination": (
        BASE_HOOK + 'destination = "demo/_pylon"\nstore = "demo/_pylon/.compose"\n',
        lambda p: None,
        "is inside the destination demo/_pylon/",
    ),
    "store inside the package": (
        BASE_HOOK + 'store = "demo/cache"\n',
        lambda p: None,
        "is inside the package folder demo/",
    ),
}


@pytest.mark.parametrize("label", sorted(PLACEMENTS))
def test_bad_placement_is_refused(tmp_path: Path, label: str) -> None:
    hook, change, fragment = PLACEMENTS[label]
    project = tmp_path / "demo-project"
    base_project(project, hook)
    change(project)
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    for kind in ("wheel", "sdist"):
        code, output = build(tmp_path, project, kind, tmp_path / "dist")
        assert code != 0 and fragment in output, output
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    assert_temp_empty(tmp_path)


def test_sdists_of_two_checkouts_are_identical_and_hold_no_store(tmp_path: Path) -> None:
    sdists = []
    for checkout in ("one", "two-with-a-longer-name"):
        project = tmp_path / checkout / "demo-project"
        base_project(project, BASE_HOOK)
        for _ in range(2):  # the second build finds the store and its index in place
            code, output = build(tmp_path, project, "sdist", tmp_path / checkout / "dist")
            assert code == 0, output
        assert (project / ".compose" / ".pylon-index.json").exists()
        (project / ".compose" / "blobs" / "ab").mkdir(exist_ok=True)
        (project / ".compose" / "blobs" / "ab" / ("c" * 62)).write_bytes(b"stale")
        (project / ".compose" / "blobs" / ".tmp-leftover").write_bytes(b"temp")
        code, output = build(tmp_path, project, "sdist", tmp_path / checkout / "final")
        assert code == 0, output
        sdists.append(next((tmp_path / checkout / "final").glob("*.tar.gz")))
    with tarfile.open(sdists[0]) as archive:
        names = archive.getnames()
    assert not [n for n in names if "/.compose/" in n and "/.pylon-bundle/" not in n], names
    assert not [n for n in names if ".pylon-index" in n or ".tmp-" in n], names
    assert sdists[0].read_bytes() == sdists[1].read_bytes()
    assert_temp_empty(tmp_path)


# -- 9. a 1 GiB blob: bounded memory, nothing left behind -----------------------------------------


def _big_component(size: int) -> tuple[str, int, list[bytes]]:
    """A valid component: the header and one custom section holding ``size`` zero bytes; (digest, length, head)."""
    from helpers import COMPONENT_HEADER, leb
    from helpers import name as _name

    body_head = _name("padding")
    head = COMPONENT_HEADER + b"\x00" + leb(len(body_head) + size) + body_head
    hasher = hashlib.sha256(head)
    zeros = bytes(1 << 20)
    for _ in range(size >> 20):
        hasher.update(zeros)
    return hasher.hexdigest(), len(head) + size, [head]


def _record_line(name: str, digest_hex: str, size: int) -> str:
    import base64

    encoded = base64.urlsafe_b64encode(bytes.fromhex(digest_hex)).rstrip(b"=").decode()
    return f"{name},sha256={encoded},{size}\n"


@pytest.fixture(scope="module")
def giant_wheel(tmp_path_factory: pytest.TempPathFactory, base_wheel: Path) -> Path:
    """The base wheel plus a valid 1 GiB component (zeros after its header) that the plan and RECORD name, resealed."""
    size = 1 << 30
    digest, length, (head,) = _big_component(size)
    wheel = tmp_path_factory.mktemp("giant") / base_wheel.name
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(base_wheel) as old, zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as new:
        plan_name = next(n for n in old.namelist() if n.endswith("/plan.json"))
        prefix = plan_name[: -len("plan.json")]
        record_name = next(n for n in old.namelist() if n.endswith(".dist-info/RECORD"))
        plan = json.loads(old.read(plan_name))
        plan["components"].insert(0, {"id": "big", "digest": list(bytes.fromhex(digest))})
        plan_bytes = json.dumps(plan, indent=2).encode()
        edited = {plan_name: plan_bytes, f"{prefix}pylon.json": sealed(old.read(f"{prefix}pylon.json"), plan_bytes)}
        record = ""
        for info in old.infolist():
            if info.filename == record_name:
                continue
            data = edited.get(info.filename) or old.read(info)
            new.writestr(info.filename, data, zipfile.ZIP_DEFLATED)
            record += _record_line(info.filename, hashlib.sha256(data).hexdigest(), len(data))
        blob_name = f"{prefix}.compose/blobs/{digest[:2]}/{digest[2:]}"
        with new.open(blob_name, "w", force_zip64=True) as out:
            out.write(head)
            for _ in range(size >> 20):
                out.write(zeros)
        record += _record_line(blob_name, digest, length) + f"{record_name},,\n"
        new.writestr(record_name, record)
    assert wheel.stat().st_size < 16 << 20
    return wheel


def test_verify_of_a_wheel_with_a_1_gib_blob_stays_small(tmp_path: Path, giant_wheel: Path) -> None:
    # A wrapper process reports the peak of its only child, the verify: this test process's own children
    # (earlier builds, compiles) would otherwise count too.
    measure = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
        "print('peak-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)"
    )
    code, output = run(
        tmp_path, "-c", measure, sys.executable, "-m", "hatch_pylon", "verify", str(giant_wheel), timeout=600
    )
    peak_kib = int(output.split("peak-kib ")[1].split()[0])
    assert code == 0 and "OK (3 components" in output, output
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"
    assert_temp_empty(tmp_path)


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_verify_stopped_by_a_signal_removes_its_unpacked_copy(
    tmp_path: Path, giant_wheel: Path, signal_name: str
) -> None:
    import signal
    import time

    env = env_for(tmp_path)
    verify = subprocess.Popen(
        [sys.executable, "-m", "hatch_pylon", "verify", str(giant_wheel)],
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job inherits it ignored
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    unpacking = []
    while not unpacking and verify.poll() is None and time.monotonic() < deadline:
        unpacking = [p for p in (tmp_path / "private-tmp").glob("hatch-pylon-unpack-*") if any(p.rglob("blobs"))]
        time.sleep(0.01)
    assert unpacking, "verify finished before it could be stopped"
    verify.send_signal(getattr(signal, signal_name))
    _, err = verify.communicate(timeout=60)
    assert verify.returncode == {"SIGTERM": 143, "SIGINT": 130}[signal_name], err
    assert "Traceback" not in err
    assert_temp_empty(tmp_path)


# == third round ===================================================================================


def bundle_from(tmp_path: Path, root_wat: str, caps: dict[str, str]) -> Path:
    """A bundle folder built by the pipeline (names checked only) from WAT components."""
    import wasmtime

    from hatch_pylon.build.config import load_config
    from hatch_pylon.build.pipeline import build_bundle

    project = tmp_path / "project"
    (project / "caps").mkdir(parents=True)
    (project / "root.wasm").write_bytes(wasmtime.wat2wasm(root_wat))
    for name, wat in caps.items():
        (project / "caps" / f"{name}.wasm").write_bytes(wasmtime.wat2wasm(wat))
    raw = {"root": "root.wasm", "component-dirs": ["caps"], "validate": "names"}  # only verify judges types
    config = load_config(raw, project_root=project, project_name="d", environ={})
    return build_bundle(config).write_to(tmp_path / "bundle")


RESOURCE_CONSUMER = """(component
  (import "x:y/r" (instance
    (export "a" (type $a (sub resource)))
    (export "b" (type $b (sub resource)))
    (export "take" (func (param "h" (borrow $a)))))))"""

RESOURCE_PROVIDER = """(component
  (type $a (resource (rep i32)))
  (type $b (resource (rep i32)))
  (core module $m (func (export "take") (param i32)))
  (core instance $ci (instantiate $m))
  (func $take (param "h" (borrow $HANDLE)) (canon lift (core func $ci "take")))
  (instance $api (export "a" (type $a)) (export "b" (type $b)) (export "take" (func $take)))
  (export "x:y/r" (instance $api)))"""


@pytest.mark.parametrize("handle", ["a", "b"])
def test_resources_are_compared_by_identity_as_compose_does(tmp_path: Path, handle: str) -> None:
    provider = RESOURCE_PROVIDER.replace("$HANDLE", f"${handle}")
    folder = bundle_from(tmp_path, RESOURCE_CONSUMER, {"p": provider})
    answers = {}
    for command in (["verify", str(folder)], ["verify", "--compile-all", str(folder)]):
        answers[" ".join(command[:-1])] = run(tmp_path, "-m", "hatch_pylon", *command)
    composed = run(tmp_path, "-m", "hatch_pylon", "compose", str(folder), "-o", str(tmp_path / "c.wasm"))
    if handle == "a":
        assert composed[0] == 0 and all(code == 0 for code, _ in answers.values()), (composed, answers)
        return
    assert composed[0] != 0, composed
    message = "function 'take', parameter 'h': consumer imports borrow<a>, provider exports borrow<b>"
    assert all(code == 1 and message in output for code, output in answers.values()), answers


def record_wheel(source: Path, target: Path, changes: dict[str, bytes | None]) -> Path:
    """``source`` with members replaced, added (bytes) or removed (None), and a RECORD that agrees."""
    import base64

    with zipfile.ZipFile(source) as old:
        members = {info.filename: old.read(info) for info in old.infolist()}
    for member, data in changes.items():
        if data is None:
            members.pop(member, None)
        else:
            members[member] = data
    record = next(n for n in members if n.endswith(".dist-info/RECORD"))
    lines = []
    for member, data in members.items():
        if member == record:
            continue
        encoded = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{member},sha256={encoded},{len(data)}\n")
    members[record] = ("".join(lines) + f"{record},,\n").encode()
    with zipfile.ZipFile(target, "w") as new:
        for member, data in members.items():
            new.writestr(member, data)
    return target


IMPOSTOR = """(component
  (core module $m (func (export "run") (result i32) i32.const 1337))
  (core instance $i (instantiate $m))
  (func (export "run") (result u32) (canon lift (core func $i "run"))))"""


def plant_composed(meta: bytes, root_id: str) -> tuple[bytes, bytes]:
    """(pylon.json naming an unrelated component as the composed file, that component)."""
    import wasmtime

    impostor = wasmtime.wat2wasm(IMPOSTOR)
    record = json.loads(meta)
    record["composed"] = {"file": f"{root_id}.composed.wasm", "digest": hashlib.sha256(impostor).hexdigest()}
    return json.dumps(record).encode(), impostor


def test_an_unrelated_composed_file_is_never_run(tmp_path: Path, sample_wheel: Path) -> None:
    bundle = "sample_pkg/_pylon"
    with zipfile.ZipFile(sample_wheel) as archive:
        meta, impostor = plant_composed(archive.read(f"{bundle}/pylon.json"), "python")
    wheel = record_wheel(
        sample_wheel,
        tmp_path / sample_wheel.name,
        {f"{bundle}/pylon.json": meta, f"{bundle}/python.composed.wasm": impostor},
    )
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 1 and "python.composed.wasm is not what the plan composes to" in output, output
    code, output = run(tmp_path, "-m", "hatch_pylon", "run", str(wheel))
    assert code == 1 and "1337" not in output and "is not what the plan composes to" in output, output
    # without wasm-tools the file cannot be proven: verify says so, and run links the plan instead
    without = {"HATCH_PYLON_WASM_TOOLS": ""}
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel), extra_env=without)
    assert code == 0 and "python.composed.wasm: cannot be proven without wasm-tools" in output, output
    code, output = run(tmp_path, "-m", "hatch_pylon", "run", str(wheel), extra_env=without)
    assert code == 0 and "1337" not in output and "sum-range(10) = 55" in output, output
    assert_temp_empty(tmp_path)


def test_an_sdist_with_an_unrelated_composed_file_builds_no_wheel(tmp_path: Path, base_sdist: Path) -> None:
    unpacked = unpack(base_sdist, tmp_path / "src")
    bundle = bundle_of(unpacked)
    meta, impostor = plant_composed((bundle / "pylon.json").read_bytes(), "python")
    (bundle / "pylon.json").write_bytes(meta)
    (bundle / "python.composed.wasm").write_bytes(impostor)
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    assert code != 0 and "python.composed.wasm is not what the plan composes to" in output, output
    assert not (tmp_path / "wheels").exists() or not list((tmp_path / "wheels").glob("*.whl"))
    assert_temp_empty(tmp_path)


def _moved_bundle(unpacked: Path) -> None:
    shutil.move(bundle_of(unpacked), unpacked / "docs" / ".pylon-bundle")


def _second_bundle(unpacked: Path) -> None:
    shutil.copytree(bundle_of(unpacked), unpacked / "docs" / ".pylon-bundle")


@pytest.mark.parametrize("plant", [_moved_bundle, _second_bundle], ids=["moved", "second"])
def test_an_sdist_bundle_outside_its_root_folder_is_refused_by_verify_and_the_build(
    tmp_path: Path, base_sdist: Path, plant
) -> None:  # type: ignore[no-untyped-def]
    unpacked = unpack(base_sdist, tmp_path / "src")
    (unpacked / "docs").mkdir()
    plant(unpacked)
    sdist = pack(unpacked, tmp_path / "demo-1.0.tar.gz")
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(sdist))
    assert code == 1 and "not in:\n  - 'demo-1.0/docs/.pylon-bundle'" in output, output
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    assert code != 0 and "not in docs/.pylon-bundle" in output, output
    assert not (tmp_path / "wheels").exists() or not list((tmp_path / "wheels").glob("*.whl"))
    assert_temp_empty(tmp_path)


def test_an_sdist_the_hook_built_never_falls_back_to_raw_components(tmp_path: Path, base_sdist: Path) -> None:
    unpacked = unpack(base_sdist, tmp_path / "src")
    shutil.rmtree(bundle_of(unpacked))
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    assert code != 0 and "carries no .pylon-bundle/plan.json" in output, output
    assert_temp_empty(tmp_path)


def test_strays_are_refused_before_anything_is_extracted(tmp_path: Path, base_wheel: Path) -> None:
    """5,000 strays, one of them 256 MiB of zeros (256 KiB compressed): refused from the index, listed in 21 lines."""
    bomb = ("demo/_pylon/.compose/blobs/00/" + "0" * 62, bytes(256 << 20))
    strays = [(f"demo/_pylon/.compose/blobs/ff/{n:062}", b"") for n in range(4_999)]
    wheel = tmp_path / base_wheel.name
    with zipfile.ZipFile(base_wheel) as old, zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
        for name, data in [bomb, *strays]:
            new.writestr(name, data)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 1 and "5000 members in the bundle that the plan does not name" in output, output
    assert "  - ... and 4980 more" in output and len(output.splitlines()) < 30, output
    assert_temp_empty(tmp_path)


def test_an_archive_with_too_many_members_is_refused_from_its_index(tmp_path: Path, base_wheel: Path) -> None:
    from hatch_pylon.bundle.sources import MAX_MEMBERS

    wheel = rewrite_wheel(
        base_wheel, tmp_path / base_wheel.name, [(f"demo/x{n}", b"") for n in range(MAX_MEMBERS)], False
    )
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 1 and f"more than {MAX_MEMBERS} members" in output, output
    assert_temp_empty(tmp_path)


def test_total_extracted_bytes_are_capped(tmp_path: Path, base_wheel: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from hatch_pylon.adapters.cli import main
    from hatch_pylon.bundle import sources as _sources

    monkeypatch.setattr(_sources, "MAX_EXTRACTED", 100)  # the real cap is 4 GiB; the two blobs here hold more than 100
    assert main(["verify", str(base_wheel)]) == 1
    assert "over the limit of 100 bytes for one archive" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("demo/_pylon/PLAN.json", "members 'demo/_pylon/plan.json' and 'demo/_pylon/PLAN.json' are one path"),
        ("demo/_pylon/.COMPOSE/blobs/00/" + "0" * 62, "'demo/_pylon/.compose' and 'demo/_pylon/.COMPOSE' are one path"),
        ("demo/_pylon/pla\u0301n.json", "are one path"),  # NFC: á spelled as a + combining acute, beside...
        ("demo/_pylon/plan.json.", "unsafe member name 'demo/_pylon/plan.json.'"),
        ("demo/_pylon/plan.json ", "unsafe member name 'demo/_pylon/plan.json '"),
    ],
)
def test_names_that_land_on_bundle_paths_elsewhere_are_refused(
    tmp_path: Path, base_wheel: Path, extra: str, fragment: str
) -> None:
    changes: dict[str, bytes | None] = {extra: b"{}"}
    if "\u0301" in extra:  # ... the same name precomposed
        changes["demo/_pylon/pl\u00e1n.json"] = b"{}"
    wheel = record_wheel(base_wheel, tmp_path / base_wheel.name, changes)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 1 and fragment in output, output
    assert_temp_empty(tmp_path)


def test_a_300_byte_folder_name_is_no_traceback(tmp_path: Path, base_wheel: Path) -> None:
    long = "d" * 300
    with zipfile.ZipFile(base_wheel) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    changes: dict[str, bytes | None] = {}
    for name, data in members.items():
        if name.startswith("demo/_pylon/"):
            changes[name] = None
            changes[name.replace("demo/_pylon/", f"demo/{long}/")] = data
    wheel = record_wheel(base_wheel, tmp_path / base_wheel.name, changes)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 0 and "OK" in output, output
    assert_temp_empty(tmp_path)


def test_an_oversized_record_field_is_one_message(tmp_path: Path, base_wheel: Path) -> None:
    with zipfile.ZipFile(base_wheel) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["demo-1.0.dist-info/RECORD"] += b'"' + b"x" * 200_000 + b'",,\n'  # csv's field limit is 131,072
    wheel = tmp_path / base_wheel.name
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(wheel))
    assert code == 1 and "RECORD cannot be read (field larger than field limit" in output, output
    assert_temp_empty(tmp_path)


def installed(tmp_path: Path, wheel: Path) -> tuple[Path, dict[str, str]]:
    """``wheel`` unpacked as an installer lays it out, into a site folder on PYTHONPATH."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site, {"PYTHONPATH": str(site)}


def test_a_bare_name_that_is_a_folder_and_a_distribution_is_refused(tmp_path: Path, base_wheel: Path) -> None:
    _, env = installed(tmp_path, base_wheel)
    (tmp_path / "demo").mkdir()
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", "demo", extra_env=env)
    assert code == 1 and "demo is both a folder here and an installed distribution" in output, output
    assert "write ./demo for the folder or dist:demo for the distribution" in output, output
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", "dist:demo", extra_env=env)
    assert code == 0 and "OK" in output, output


def _record_points_elsewhere(site: Path) -> None:
    shutil.move(site / "demo" / "_pylon", site.parent / "elsewhere")
    record = site / "demo-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text().replace("demo/_pylon/", "../elsewhere/"))


def _linked_bundle_folder(site: Path) -> None:
    shutil.move(site / "demo" / "_pylon", site.parent / "elsewhere")
    os.symlink(site.parent / "elsewhere", site / "demo" / "_pylon")


def _linked_plan(site: Path) -> None:
    shutil.move(site / "demo" / "_pylon" / "plan.json", site.parent / "plan.json")
    os.symlink(site.parent / "plan.json", site / "demo" / "_pylon" / "plan.json")


@pytest.mark.parametrize(
    ("plant", "fragment"),
    [
        (_record_points_elsewhere, "RECORD places its bundle at '../elsewhere/', outside its site-packages"),
        (_linked_bundle_folder, "_pylon is a symbolic link; a bundle is read through real folders only"),
        (_linked_plan, "'demo/_pylon/plan.json' is a symbolic link"),
    ],
    ids=["record-outside", "linked-folder", "linked-plan"],
)
def test_an_installed_bundle_is_read_inside_site_packages_only(
    tmp_path: Path, base_wheel: Path, plant, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    site, env = installed(tmp_path, base_wheel)
    plant(site)
    for command in ("verify", "run"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, "dist:demo", extra_env=env)
        assert code == 1 and fragment in output, output


def sealed(meta_json: bytes, plan_json: bytes) -> bytes:
    """pylon.json recording the plan digest of ``plan_json``, as a build of that plan would."""
    from hatch_pylon.composectl.plan import parse_plan

    meta = json.loads(meta_json)
    meta["plan-digest"] = parse_plan(plan_json, "plan.json").plan_digest()
    return json.dumps(meta).encode()


def test_plan_derived_names_are_printed_escaped(tmp_path: Path, base_sdist: Path) -> None:
    """A component id carrying terminal escapes reaches the build log (and verify's problems) escaped."""
    hostile = "p\x1b]0;owned\x07\x1b[2J"
    unpacked = unpack(base_sdist, tmp_path / "src")

    def rename(plan: dict) -> None:  # type: ignore[type-arg]
        for component in plan["components"]:
            if component["id"] == "p":
                component["id"] = hostile
        for binding in plan["bindings"]:
            if binding["provider_id"] == "p":
                binding["provider_id"] = hostile

    _json_edit(rename)(bundle_of(unpacked))
    bundle = bundle_of(unpacked)
    (bundle / "pylon.json").write_bytes(
        sealed((bundle / "pylon.json").read_bytes(), (bundle / "plan.json").read_bytes())
    )
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    assert "\x1b" not in output and "\x07" not in output, output
    assert code == 0 and "p\\x1b]0;owned\\x07\\x1b[2J" in output, output
    first_blob(bundle_of(unpacked)).write_bytes(b"\0asm\x0d\x00\x01\x00")  # now verify has a problem to name
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(pack(unpacked, tmp_path / "demo-1.0.tar.gz")))
    assert code == 1 and "\x1b" not in output and "\\x1b" in output, output


def test_a_wheel_from_an_sdist_needs_nothing_of_the_builders_machine(tmp_path: Path) -> None:
    """The sdist's config names a manifest outside the project and a variable without default: its wheel builds
    where neither exists."""
    from helpers import write_component

    project = tmp_path / "demo-project"
    base_project(project, 'root = "${DEMO_ROOT}"\nmanifest = "../outside/.pylon.toml"\n')
    shutil.rmtree(project / "caps")
    write_component(tmp_path / "outside" / "p.wasm", exports=["a:b/c@1.0.0"])
    (tmp_path / "outside" / ".pylon.toml").write_text('[[capabilities]]\nid = "p"\npath = "p.wasm"\n')
    code, output = run(
        tmp_path, "-m", "build", "--no-isolation", "--sdist", "--outdir", str(tmp_path / "dist"), str(project),
        extra_env={"DEMO_ROOT": "root.wasm"},
    )  # fmt: skip
    assert code == 0, output
    shutil.rmtree(tmp_path / "outside")
    unpacked = unpack(next((tmp_path / "dist").glob("*.tar.gz")), tmp_path / "src")
    code, output = build(tmp_path, unpacked, "wheel", tmp_path / "wheels")
    assert code == 0 and "using the bundle shipped in the sdist" in output, output
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(next((tmp_path / "wheels").glob("*.whl"))))
    assert code == 0, output


@pytest.mark.parametrize(
    ("hook", "fragment"),
    [
        ('root = "${A:-${B:-${C:-root.wasm}}}"\ncomponent-dirs = ["caps"]\n', None),
        ('root = "' + "${A:-" * 17 + "root.wasm" + "}" * 17 + '"\ncomponent-dirs = ["caps"]\n', "more than 16 deep"),
        (BASE_HOOK + 'manifest = "deep.toml"\n', "deep.toml: is nested too deeply to read"),
    ],
    ids=["nested-defaults", "too-deep-defaults", "deep-manifest"],
)
def test_config_values_that_used_to_break_the_parser(tmp_path: Path, hook: str, fragment: str | None) -> None:
    project = tmp_path / "demo-project"
    base_project(project, hook)
    (project / "deep.toml").write_text("a = " + "[" * 5_000 + "]" * 5_000 + "\n")
    code, output = run(tmp_path, "-m", "hatch_pylon", "plan", str(project))
    if fragment is None:
        assert code == 0 and "root: python" in output, output
    else:
        assert code == 1 and fragment in output, output


def test_verify_and_run_list_the_same_problems_for_a_tampered_wheel(tmp_path: Path, base_wheel: Path) -> None:
    with zipfile.ZipFile(base_wheel) as archive:
        blob = next(n for n in archive.namelist() if "/blobs/" in n)
        data = bytearray(archive.read(blob))
    data[-1] ^= 1
    wheel = tmp_path / base_wheel.name
    with zipfile.ZipFile(base_wheel) as old, zipfile.ZipFile(wheel, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, bytes(data) if info.filename == blob else old.read(info))
    listed = {}
    for command in ("verify", "run"):
        code, output = run(tmp_path, "-m", "hatch_pylon", command, str(wheel))
        assert code == 1, output
        listed[command] = [line for line in output.splitlines() if line.startswith("  - ")]
    assert len(listed["verify"]) == 2 and listed["verify"] == listed["run"], listed
