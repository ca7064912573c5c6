"""run as a sandbox: the plan's limits, signals, exit statuses, --dir/--env and the trap message, with real guests.

WAT guests (compiled by wasmtime.wat2wasm) loop, grow memory, trap or exit with a code; the CPython
guest (tests/guest/, componentize-py) shows what a Python app sees. Every case goes through the
``hatch-pylon`` command as a subprocess, as a user runs it.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import wasmtime
from helpers import write_component

from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import build_bundle
from hatch_pylon.use.runtime import Runtime
from hatch_pylon.use.sandbox import EXIT_CPU, EXIT_MEMORY, EXIT_TRAP
from hatch_pylon.wasm.compiler import Compiler

TIMEOUT = 120  # seconds: generous, this only stops a hung test


def run_guest(body: str, memory: str = "") -> str:
    """A root whose top-level ``run: func() -> u32`` is one core function ``body``."""
    return f"""
    (component
      (core module $m {memory} (func (export "run") (result i32) {body}))
      (core instance $i (instantiate $m))
      (func (export "run") (result u32) (canon lift (core func $i "run"))))"""


def cli_guest(call: str) -> str:
    """A ``wasi:cli/run`` root that calls ``wasi:cli/exit`` (``exit`` or ``exit-with-code``) with ``call``."""
    return f"""
    (component
      (import "wasi:cli/exit@0.2.6" (instance $exit
        (export "exit" (func (param "status" (result))))
        (export "exit-with-code" (func (param "status-code" u8)))))
      (core func $exit (canon lower (func $exit "exit")))
      (core func $code (canon lower (func $exit "exit-with-code")))
      (core module $m
        (import "host" "exit" (func $exit (param i32)))
        (import "host" "code" (func $code (param i32)))
        (func (export "run") (result i32) {call} (i32.const 0)))
      (core instance $h (export "exit" (func $exit)) (export "code" (func $code)))
      (core instance $i (instantiate $m (with "host" (instance $h))))
      (func $run (result (result)) (canon lift (core func $i "run")))
      (instance $cli (export "run" (func $run)))
      (export "wasi:cli/run@0.2.0" (instance $cli)))"""


LOOP = "(loop $l (br $l)) (i32.const 0)"


def bundle(tmp_path: Path, root_wat: str | bytes, policy: dict | None = None, **raw) -> Path:  # type: ignore[no-untyped-def]
    project = tmp_path / "project"
    project.mkdir(parents=True, exist_ok=True)
    data = root_wat if isinstance(root_wat, bytes) else wasmtime.wat2wasm(root_wat)
    (project / "root.wasm").write_bytes(data)
    config = load_config(
        {"root": "root.wasm", "linkage": "static", "policy": policy or {}, **raw},
        project_root=project,
        project_name="d",
        environ={},
    )
    return build_bundle(config).write_to(tmp_path / "bundle")


def env_for(tmp_path: Path) -> dict[str, str]:
    private = tmp_path / "tmp"
    private.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(private), "HATCH_PYLON_CACHE_DIR": str(tmp_path / "cache")}


def hatch_pylon(tmp_path: Path, *args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hatch_pylon", *args],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=stdin,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("hatch-pylon: error:")]


def sdist_of(folder: Path, target: Path) -> Path:
    """An sdist carrying ``folder`` as its bundle, so that run unpacks it into a temp folder."""
    with tarfile.open(target, "w:gz") as tar:
        info = tarfile.TarInfo("d-1.0/PKG-INFO")
        text = b"Metadata-Version: 2.1\nName: d\nVersion: 1.0\n"
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
        tar.add(folder, arcname="d-1.0/.pylon-bundle")
    return target


# -- exit statuses and the trap message --------------------------------------------------------------------


@pytest.mark.parametrize(("call", "status"), [("(call $code (i32.const 3))", 3), ("(call $exit (i32.const 1))", 1)])
def test_the_guests_exit_status_is_the_commands(tmp_path: Path, call: str, status: int) -> None:
    result = hatch_pylon(tmp_path, "run", str(bundle(tmp_path, cli_guest(call))))
    assert result.returncode == status, result.stderr
    assert result.stderr == ""


def test_a_trap_is_one_line_naming_the_component_and_its_export_and_the_backtrace_needs_v(tmp_path: Path) -> None:
    folder = bundle(tmp_path, run_guest("unreachable"))
    result = hatch_pylon(tmp_path, "run", str(folder))
    assert result.returncode == EXIT_TRAP
    assert result.stderr.splitlines() == [
        "hatch-pylon: error: component 'python' trapped in export 'run': wasm `unreachable` instruction executed; "
        "hatch-pylon run -v shows the wasm backtrace"
    ]
    verbose = hatch_pylon(tmp_path, "run", "-v", str(folder))
    assert verbose.returncode == EXIT_TRAP
    assert "wasm backtrace" in verbose.stderr and verbose.stderr.count("hatch-pylon: error:") == 1
    assert "Traceback" not in verbose.stderr


BOOM_CAP = """
    (component
      (core module $m
        (func $inner (result i32) unreachable)
        (func $"t:boom/api@1.0.0#f" (export "f") (result i32) call $inner))
      (core instance $i (instantiate $m))
      (func $f (result u32) (canon lift (core func $i "f")))
      (instance $api (export "f" (func $f)))
      (export "t:boom/api@1.0.0" (instance $api)))"""


@pytest.mark.parametrize("composed", [False, True], ids=["linked", "composed"])
def test_a_trap_in_a_cap_names_the_cap_and_its_export(tmp_path: Path, composed: bool) -> None:
    """Linked, the forward that trapped says which export; composed, the backtrace's innermost bound export
    (bindings generators name a lifted export's core function ``<interface>#<function>``) says it."""
    if composed:
        from hatch_pylon.bundle.compose import find_wasm_tools

        if find_wasm_tools() is None:
            pytest.skip("composing needs wasm-tools (hatch-pylon[compose], Python 3.11+)")
    project = tmp_path / "project"
    caps = project / "caps"
    caps.mkdir(parents=True)
    (caps / "boom.wasm").write_bytes(wasmtime.wat2wasm(BOOM_CAP))
    root = """
    (component
      (import "t:boom/api@1.0.0" (instance $b (export "f" (func $f (result u32)))))
      (alias export $b "f" (func $f))
      (core func $g (canon lower (func $f)))
      (core module $m (import "b" "f" (func $f (result i32))) (func (export "run") (result i32) call $f))
      (core instance $i (instantiate $m (with "b" (instance (export "f" (func $g))))))
      (func (export "run") (result u32) (canon lift (core func $i "run"))))"""
    hook = {"component-dirs": ["caps"], **({"compose": True} if composed else {})}
    result = hatch_pylon(tmp_path, "run", str(bundle(tmp_path, root, **hook)))
    assert result.returncode == EXIT_TRAP
    assert error_lines(result.stderr) == [
        "hatch-pylon: error: component 'boom' trapped in export 't:boom/api@1.0.0#f': wasm `unreachable` "
        "instruction executed; hatch-pylon run -v shows the wasm backtrace"
    ]


# -- the plan's policy --------------------------------------------------------------------------------------


def test_cpu_ms_stops_a_looping_guest(tmp_path: Path) -> None:
    folder = bundle(tmp_path, run_guest(LOOP), {"limits": {"cpu-ms": 50}})
    result = hatch_pylon(tmp_path, "run", str(folder))
    assert result.returncode == EXIT_CPU, result.stderr
    assert result.stderr.splitlines() == [
        "hatch-pylon: error: component 'python' used up the plan's cpu_ms = 50 (50000000 fuel units) and was stopped"
    ]
    fuel = list((tmp_path / "cache").glob("wasmtime-*-epoch-fuel/*.cwasm"))
    assert len(fuel) == 1, "a fuel-metering engine compiles other code: it has its own cache folder"


def test_cpu_ms_leaves_a_guest_within_budget_alone(tmp_path: Path) -> None:
    result = hatch_pylon(tmp_path, "run", str(bundle(tmp_path, run_guest("(i32.const 7)"), {"limits": {"cpu-ms": 50}})))
    assert (result.returncode, result.stdout, result.stderr) == (0, "7\n", "")


def test_memory_bytes_refuses_a_component_that_needs_more_at_start(tmp_path: Path) -> None:
    folder = bundle(tmp_path, run_guest("(i32.const 1)", "(memory 100)"), {"limits": {"memory-bytes": 1 << 20}})
    result = hatch_pylon(tmp_path, "run", str(folder))
    assert result.returncode == EXIT_MEMORY, result.stderr
    assert result.stderr.splitlines() == [
        "hatch-pylon: error: component 'python' needs more linear memory than the plan's memory_bytes = 1048576 "
        "allows (memory minimum size of 100 pages exceeds memory limits)"
    ]


GROW = "(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then unreachable)) (i32.const 5)"


def test_memory_bytes_makes_growing_past_it_fail_inside_the_guest(tmp_path: Path) -> None:
    limits = {"limits": {"memory-bytes": 20 * 65536}}
    within = hatch_pylon(
        tmp_path, "run", str(bundle(tmp_path / "a", run_guest(GROW.format(pages=10), "(memory 1)"), limits))
    )
    assert (within.returncode, within.stdout) == (0, "5\n"), within.stderr
    past = hatch_pylon(
        tmp_path, "run", str(bundle(tmp_path / "b", run_guest(GROW.format(pages=100), "(memory 1)"), limits))
    )
    assert past.returncode == EXIT_TRAP
    assert error_lines(past.stderr) == [
        "hatch-pylon: error: component 'python' trapped in export 'run': wasm `unreachable` instruction executed "
        "(the plan's "
        "memory_bytes = 1310720 caps each linear memory; growing past it fails inside); hatch-pylon run -v shows "
        "the wasm backtrace"
    ]


def test_io_ops_is_said_to_be_unenforced(tmp_path: Path) -> None:
    result = hatch_pylon(tmp_path, "run", str(bundle(tmp_path, run_guest("(i32.const 1)"), {"limits": {"io-ops": 10}})))
    assert result.returncode == 0
    assert "policy.limits.io_ops = 10 is not enforced" in result.stderr


@pytest.mark.slow  # runs wasm-tools compose: in the compose extra (3.11+), not the fast tier's test extra
def test_strict_determinism_runs_only_statically_composed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_component(project / "caps" / "cap.wasm", exports=["t:c/api@1.0.0"])
    root = """
    (component
      (import "t:c/api@1.0.0" (instance $c (export "f" (func $f (result u32)))))
      (alias export $c "f" (func $f))
      (core func $g (canon lower (func $f)))
      (core module $m (import "c" "f" (func $f (result i32))) (func (export "run") (result i32) call $f))
      (core instance $i (instantiate $m (with "c" (instance (export "f" (func $g))))))
      (func (export "run") (result u32) (canon lift (core func $i "run"))))"""
    folder = bundle(tmp_path, root, {"determinism": "strict"}, linkage="static", **{"component-dirs": ["caps"]})
    runtime = Runtime(folder, Compiler(tmp_path / "cache"))
    assert runtime.run() == (0, 7)
    assert runtime.linked == "composed (in memory)"  # never forwarded through Python: no runtime linking


# -- signals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_stops_a_looping_guest_and_leaves_nothing(tmp_path: Path, name: str, status: int) -> None:
    if not hasattr(signal, name):
        pytest.skip(f"no {name} here")
    sdist = sdist_of(bundle(tmp_path, run_guest(LOOP)), tmp_path / "d-1.0.tar.gz")
    warm = hatch_pylon(tmp_path, "verify", "--compile-all", str(sdist))  # compiled: the run starts at once
    assert warm.returncode == 0, warm.stderr
    child = subprocess.Popen(
        [sys.executable, "-m", "hatch_pylon", "run", str(sdist)],
        env=env_for(tmp_path),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job inherits it ignored
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # verified, unpacked and looping by now (or still starting: then the signal stops that)
    assert child.poll() is None, child.communicate()
    child.send_signal(getattr(signal, name))
    _, err = child.communicate(timeout=TIMEOUT)
    assert child.returncode == status, err
    assert "Traceback" not in err
    assert list((tmp_path / "tmp").iterdir()) == [], "the unpacked sdist was left behind"


# -- what the guest sees ------------------------------------------------------------------------------------


def test_bad_dir_and_env_options_are_named(tmp_path: Path) -> None:
    folder = str(bundle(tmp_path, run_guest("(i32.const 1)")))
    missing = hatch_pylon(tmp_path, "run", "--dir", str(tmp_path / "nope"), folder)
    assert missing.returncode == 1
    assert error_lines(missing.stderr) == [
        f"hatch-pylon: error: --dir '{tmp_path / 'nope'}': {tmp_path / 'nope'} is not a folder"
    ]
    unset = hatch_pylon(tmp_path, "run", "--env", "HATCH_PYLON_SURELY_UNSET", folder)
    assert error_lines(unset.stderr) == [
        "hatch-pylon: error: --env HATCH_PYLON_SURELY_UNSET: HATCH_PYLON_SURELY_UNSET is not set here; "
        "write --env HATCH_PYLON_SURELY_UNSET=VALUE"
    ]


@pytest.fixture(scope="module")
def guest_bundle(tmp_path_factory: pytest.TempPathFactory, cpython_guest: Path) -> Path:
    tmp = tmp_path_factory.mktemp("guest-bundle")
    folder = bundle(tmp, cpython_guest.read_bytes())
    warm = hatch_pylon(tmp, "verify", "--compile-all", str(folder))  # the 18 MB root compiles once
    assert warm.returncode == 0, warm.stderr
    return tmp


def test_cpython_sys_exit_and_an_uncaught_exception(guest_bundle: Path) -> None:
    # componentize-py's libc reports sys.exit(n) through wasi:cli/exit's exit(err): the code is lost
    # inside the guest, so any n != 0 is status 1 (wasmtime run says the same); its stderr is kept.
    exited = hatch_pylon(guest_bundle, "run", str(guest_bundle / "bundle"), "exit", "3")
    assert (exited.returncode, exited.stderr) == (1, "leaving\n")
    raised = hatch_pylon(guest_bundle, "run", str(guest_bundle / "bundle"), "raise")
    assert raised.returncode == EXIT_TRAP
    assert "ValueError: boom from the guest" in raised.stderr  # the guest's own traceback, kept
    assert error_lines(raised.stderr) == [
        "hatch-pylon: error: component 'python' trapped in export 'run': wasm `unreachable` instruction "
        "executed; hatch-pylon run -v shows the wasm backtrace"
    ]
    assert "libc.so!abort" not in raised.stderr  # the wasm backtrace only with -v


def test_cpython_guest_sees_only_the_dirs_and_env_given(guest_bundle: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from the host")
    target = str(guest_bundle / "bundle")
    env = {"HOME", "PATH"}
    nothing = hatch_pylon(guest_bundle, "run", target, "env", *sorted(env))
    assert nothing.stdout == "HOME=None PATH=None\n", "no variable reaches the guest by default"
    blind = hatch_pylon(guest_bundle, "run", target, "read", "/data/in.txt")
    assert blind.returncode == EXIT_TRAP and "FileNotFoundError" in blind.stderr
    given = hatch_pylon(
        guest_bundle,
        "run",
        "--env",
        "GREETING=hi",
        "--env",
        "HOME",
        "--dir",
        f"{shared}::/data",
        target,
        "env",
        "GREETING",
        "HOME",
    )
    assert given.stdout == f"GREETING=hi HOME={os.environ['HOME']}\n", given.stderr
    read = hatch_pylon(guest_bundle, "run", "--dir", f"{shared}::/data", target, "read", "/data/in.txt")
    assert read.stdout == "from the host\n", read.stderr
    wrote = hatch_pylon(guest_bundle, "run", "--dir", str(shared), target, "write", f"{shared}/out.txt", "back")
    assert wrote.returncode == 0, wrote.stderr
    assert (shared / "out.txt").read_text() == "back"


def test_sigterm_stops_a_guest_blocked_reading_stdin(guest_bundle: Path) -> None:
    if not hasattr(signal, "SIGTERM"):
        pytest.skip("no SIGTERM here")
    child = subprocess.Popen(
        [sys.executable, "-m", "hatch_pylon", "run", str(guest_bundle / "bundle"), "stdin"],
        env=env_for(guest_bundle),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)  # the cached root loads in well under a second
    assert child.poll() is None
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=TIMEOUT)  # stdin stays open (communicate would close it): only the grace exit ends it
    err = child.stderr.read() if child.stderr else ""
    assert child.returncode == 143, err
    assert child.stdin is not None
    child.stdin.close()
    assert list((guest_bundle / "tmp").iterdir()) == []


# -- the compile cache ---------------------------------------------------------------------------------------


def planted_cache(tmp_path: Path) -> tuple[Path, Path]:
    """A bundle whose root returns 7, and its cache entry replaced by a compiled root that returns 1337."""
    folder = bundle(tmp_path / "real", run_guest("(i32.const 7)"))
    assert Runtime(folder, Compiler(tmp_path / "cache")).run() == (0, 7)
    (entry,) = (tmp_path / "cache").glob("wasmtime-*-epoch/*.cwasm")
    other = bundle(tmp_path / "other", run_guest("(i32.const 1337)"))
    assert Runtime(other, Compiler(tmp_path / "cache")).run() == (0, 1337)
    (planted,) = (p for p in (tmp_path / "cache").glob("wasmtime-*-epoch/*.cwasm") if p != entry)
    os.replace(planted, entry)  # what someone who can write there would do
    assert Runtime(folder, Compiler(tmp_path / "cache")).run() == (0, 1337), "the plant took"
    return folder, entry


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_a_cache_entry_owned_by_someone_else_is_ignored(tmp_path: Path) -> None:
    folder, entry = planted_cache(tmp_path)
    os.chown(entry, 12345, 12345)
    result = hatch_pylon(tmp_path, "run", str(folder))
    assert result.stdout == "7\n", result.stderr
    assert (
        result.stderr
        == f"hatch-pylon: warning: ignoring the cache at {entry}: owned by user id 12345, not by you (0)\n"
    )


def test_a_cache_entry_or_folder_others_can_write_is_ignored(tmp_path: Path) -> None:
    folder, entry = planted_cache(tmp_path)
    entry.chmod(0o664)
    result = hatch_pylon(tmp_path, "run", str(folder))
    assert result.stdout == "7\n", result.stderr
    assert f"warning: ignoring the cache at {entry}: writable by group (mode 664)" in result.stderr
    folder2, entry2 = planted_cache(tmp_path / "again")
    entry2.parent.chmod(0o777)
    result = hatch_pylon(tmp_path / "again", "run", str(folder2))
    assert result.stdout == "7\n", result.stderr
    assert f"warning: ignoring the cache at {entry2.parent}: writable by group and others (mode 777)" in result.stderr


def test_cache_folders_are_created_private(tmp_path: Path) -> None:
    folder = bundle(tmp_path, run_guest("(i32.const 7)"))
    assert hatch_pylon(tmp_path, "run", str(folder)).returncode == 0
    made = [tmp_path / "cache", *(tmp_path / "cache").glob("wasmtime-*")]
    assert len(made) == 2
    assert {oct(p.stat().st_mode & 0o777) for p in made} == {"0o700"}


def test_without_user_ids_only_the_file_type_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hatch_pylon._fs import private_problem

    entry = tmp_path / "x.cwasm"
    entry.write_bytes(b"x")
    entry.chmod(0o666)
    link = tmp_path / "link.cwasm"
    link.symlink_to(entry)
    monkeypatch.delattr(os, "getuid")  # as on Windows
    assert private_problem(os.lstat(entry), folder=False) is None
    assert private_problem(os.lstat(link), folder=False) == "is a symbolic link, not a regular file"


# -- scale ----------------------------------------------------------------------------------------------------


def test_a_graph_of_more_components_than_open_files_builds_verifies_and_runs(tmp_path: Path) -> None:
    """400 components under a limit of 64 open files: each step holds a bounded number (bench/scale.py: 10,000)."""
    from helpers import chain_graph

    chain_graph(tmp_path / "project", 400)
    limit = "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)); "
    build = (
        "import sys; from hatch_pylon.build.config import load_config; "
        "from hatch_pylon.build.pipeline import build_bundle; "
        "c = load_config({'root': 'root.wasm', 'linkage': 'static', 'component-dirs': ['caps']}, "
        "project_root=sys.argv[1], "
        "project_name='chain', environ={}); build_bundle(c).write_to(sys.argv[1] + '/bundle')"
    )
    env = env_for(tmp_path)
    built = subprocess.run(
        [sys.executable, "-c", limit + build, str(tmp_path / "project")], env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    cli = limit + "import sys; from hatch_pylon.adapters.cli import main; sys.exit(main(sys.argv[1:]))"
    folder = str(tmp_path / "project" / "bundle")
    for args, expected in ((["verify", folder], "OK (401 components, 400 bindings"), (["run", folder], "0\n")):
        for _ in range(2 if args[0] == "run" else 1):  # run compiles, then loads from the cache
            result = subprocess.run([sys.executable, "-c", cli, *args], env=env, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            assert expected in result.stdout
