"""Everything the tests share: real component binaries, the sample project, fuzzing mutations, a spy compiler.

``component(imports=[...], exports=[...])`` builds a real component (WAT
compiled by ``wasmtime.wat2wasm``) whose instance imports/exports each carry
one function ``f`` of the given signature: enough to exercise naming,
versions and type checks. ``raw_component`` hand-assembles the malformed
binaries no text format can express.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from hypothesis import strategies as st

from hatch_pylon.wasm.binary import leb128 as leb
from hatch_pylon.wasm.compiler import Compiler

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SAMPLE = REPO / "sample-project"

DEFAULT_SIG = "(result u32)"


# compose:dynlink as composectl's WIT declares it (tests/dynlink/wit): the error record, the linker, the endpoint.
DYNLINK_ERROR_CODES = (  # space-separated
    "plan-invalid-schema plan-invalid-cbor plan-missing-field plan-invalid-graph plan-cycle-detected emit-missing-blob "
    "emit-invalid-digest emit-composition-failed emit-link-error exec-trap exec-timeout exec-resource-exhausted "
    "exec-capability-denied exec-missing-export blob-not-found blob-digest-mismatch blob-io-error "
    "trust-verification-failed trust-signature-invalid trust-certificate-expired trust-untrusted-source "
    "secret-not-found secret-access-denied secret-backend-error invalid-input internal-error not-implemented"
)
_VARIANT = "(variant " + " ".join(f'(case "{code}")' for code in DYNLINK_ERROR_CODES.split()) + ")"
_ERROR_FIELDS = '(field "message" string) (field "context" (option string))'
_EXPORTED_ERROR = (
    f'(type $c0 {_VARIANT}) (export "error-code" (type $c (eq $c0))) '
    f'(type $e0 (record (field "code" $c) {_ERROR_FIELDS})) (export "error" (type $e (eq $e0)))'
)
_HANDLE = '(func (param "method" string) (param "payload" (list u8)) (result (result (list u8) (error $e))))'
LINKER_TYPE = (
    f'(instance {_EXPORTED_ERROR} (export "instance" (type $inst (sub resource))) '
    '(export "[method]instance.invoke" (func (param "self" (borrow $inst)) (param "method" string) '
    '(param "payload" (list u8)) (result (result (list u8) (error $e))))) '
    '(export "resolve-by-digest" (func (param "d" (list u8)) (result (result (own $inst) (error $e))))) '
    '(export "resolve-by-id" (func (param "id" string) (result (result (own $inst) (error $e))))))'
)
ENDPOINT_TYPE = f'(instance {_EXPORTED_ERROR} (export "handle" {_HANDLE}))'
ENDPOINT_BODY = f"""  (type $dc {_VARIANT})
  (type $de (record (field "code" $dc) {_ERROR_FIELDS}))
  (core module $dm
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 8)
    (func (export "handle") (param i32 i32 i32 i32) (result i32) unreachable))
  (core instance $dci (instantiate $dm))
  (func $handle (param "method" string) (param "payload" (list u8)) (result (result (list u8) (error $de)))
    (canon lift (core func $dci "handle") (memory (core memory $dci "mem")) (realloc (core func $dci "realloc"))))
  (instance $endpoint (export "error-code" (type $dc)) (export "error" (type $de)) (export "handle" (func $handle)))"""


def _is_dynlink(name: str, interface: str) -> bool:
    return name.startswith(f"compose:dynlink/{interface}@0.1.")


def component_wat(
    imports: list[str] = (), exports: list[str] = (), sig: str = DEFAULT_SIG, import_sigs: dict[str, str] | None = None
) -> str:
    """A component importing and exporting instances of one function ``f``; compose:dynlink's linker and
    endpoint (on the 0.1 track the runtime host serves) are imported and exported with their real types."""
    import_sigs = import_sigs or {}
    lines = ["(component"]
    for name in imports:
        if _is_dynlink(name, "linker") or _is_dynlink(name, "endpoint"):
            lines.append(f'  (import "{name}" {LINKER_TYPE if _is_dynlink(name, "linker") else ENDPOINT_TYPE})')
            continue
        lines.append(f'  (import "{name}" (instance (export "f" (func {import_sigs.get(name, DEFAULT_SIG)}))))')
    endpoints = [name for name in exports if _is_dynlink(name, "endpoint")]
    exports = [name for name in exports if name not in endpoints]
    if endpoints:
        lines.append(ENDPOINT_BODY)
        lines += [f'  (export "{name}" (instance $endpoint))' for name in endpoints]
    if exports:
        core_sig, body = _core_body(sig)
        lines += [
            f'  (core module $m (func (export "f") {core_sig} {body}))',
            "  (core instance $ci (instantiate $m))",
            f'  (func $f {sig} (canon lift (core func $ci "f")))',
            '  (instance $api (export "f" (func $f)))',
        ]
        lines += [f'  (export "{name}" (instance $api))' for name in exports]
    lines.append(")")
    return "\n".join(lines)


def _core_body(sig: str) -> tuple[str, str]:
    """A core signature and body matching a small set of scalar component signatures."""
    table = {
        "(result u32)": ("(result i32)", "i32.const 7"),
        "(result s64)": ("(result i64)", "i64.const 7"),
        '(param "x" u32) (result u32)': ("(param i32) (result i32)", "local.get 0"),
        '(param "x" s64) (result s64)': ("(param i64) (result i64)", "local.get 0"),
    }
    return table[sig]


def write_component(path: Path, imports: list[str] = (), exports: list[str] = (), **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wasmtime.wat2wasm(component_wat(list(imports), list(exports), **kwargs)))
    return path


def name(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return leb(len(raw)) + raw


def section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + leb(len(body)) + body


COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"


def raw_component(*sections: bytes) -> bytes:
    """Hand-assembled binaries, for the malformed cases no text format can express."""
    return COMPONENT_HEADER + b"".join(sections)


# -- fuzzing seeds and mutations ----------------------------------------------------------------


def fuzz_examples(full: int) -> int:
    """Inputs per fuzz test: a tenth in the fast tier; ``PYLON_FUZZ=full`` (CI's full run) runs them all."""
    return full if os.environ.get("PYLON_FUZZ") == "full" else max(50, full // 10)


SEEDS = [
    wasmtime.wat2wasm(component_wat(imports=["a:b/c@1.0.0", "wasi:cli/stdout@0.2.0"], exports=["x:y/z@2.1.0"])),
    wasmtime.wat2wasm(component_wat(exports=["p:q/r", "run-it"], sig='(param "x" s64) (result s64)')),
    wasmtime.wat2wasm((Path(__file__).parents[1] / "sample-project/caps/arrow-core.wat").read_text()),
    wasmtime.wat2wasm(
        '(module (import "env" "f" (func)) (memory (export "m") 1 2) (global (export "g") i32 (i32.const 1)))'
    ),
]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 16)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
)


def mutate(data: bytes, steps: list[tuple]) -> bytes:
    out = bytearray(data)
    for kind, position, arg in steps:
        at = position % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= arg
        elif kind == "insert":
            out[at:at] = arg
        elif kind == "delete":
            del out[at : at + arg]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


# -- the sample project -------------------------------------------------------------------------

_spec = importlib.util.spec_from_file_location("sample_build_components", SAMPLE / "build_components.py")
assert _spec is not None and _spec.loader is not None
sample_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample_build)


# what the sample's root prints: a typed call through its caps, then one to a component it resolved at run time
SAMPLE_OUTPUT = "typed:      sum-range(10) = 55; mul(6, 7) = 42\nlate-bound: greeter says Hello, Pylon!\n"


def copy_sample(destination: Path, python_root: Path) -> Path:
    shutil.copytree(
        SAMPLE,
        destination,
        ignore=shutil.ignore_patterns("wasm", "*.wasm", "*.inputs", ".compose", "dist", "__pycache__"),
    )
    (destination / "wasm").mkdir()
    shutil.copy(python_root, destination / "wasm" / "python.wasm")
    sample_build.build_caps(destination)
    return destination


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_links_env(wheelhouse: Path, tmp_path: Path) -> dict[str, str]:
    """Front-ends install build requirements from PyPI, but hatch-pylon from this checkout's wheel.

    uv's cache sits in the session's wheelhouse folder: a global cache could hand back a plugin wheel
    of the same version built from older code.
    """
    return {
        **os.environ,
        "PIP_FIND_LINKS": str(wheelhouse),
        "UV_FIND_LINKS": str(wheelhouse),
        "UV_CACHE_DIR": str(wheelhouse.parent / f"{wheelhouse.name}-uv-cache"),
        "HATCH_DATA_DIR": str(tmp_path / "hatch-data"),
        "HATCH_CACHE_DIR": str(tmp_path / "hatch-cache"),
    }


class SpyCompiler(Compiler):
    """A compiler that records what it was asked to compile."""

    def __init__(self, cache: Path) -> None:
        super().__init__(cache)
        self.requested: list[str] = []

    def component(self, data: bytes, digest: str, label: str = ""):  # type: ignore[no-untyped-def]
        self.requested.append(digest)
        return super().component(data, digest, label)


def run_plain(data: bytes, cache: Path) -> object:
    """Run a component's top-level ``run`` with plain wasmtime and only WASI (compiled through ``cache``)."""
    from wasmtime.component import Linker

    compiler = Compiler(cache)
    component = compiler.component(data, hashlib.sha256(data).hexdigest(), "composed")
    store = compiler.store()  # its engine interrupts on epochs: the store needs a deadline
    store.set_wasi(wasmtime.WasiConfig())
    linker = Linker(compiler.engine)
    linker.add_wasip2()  # only WASI: whatever else the graph needs is inside the component
    instance = linker.instantiate(store, component)
    func = instance.get_func(store, "run")
    assert func is not None, "the component exports no top-level run function"
    value = func(store)
    func.post_return(store)
    return value


def hook_pyproject(name: str, hook_toml: str) -> str:
    """A pyproject.toml that builds ``name`` with hatchling and this hook, configured by ``hook_toml``."""
    return (
        '[build-system]\nrequires = ["hatchling", "hatch-pylon"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n[tool.hatch.build.hooks.pylon]\n{hook_toml}'
    )


def cbor_decode(data: bytes) -> Any:
    """A strict reader for the CBOR subset ciborium writes for PlanV1: shortest heads, definite lengths only."""
    value, end = _cbor_item(data, 0)
    assert end == len(data), "trailing bytes"
    return value


def _cbor_item(data: bytes, at: int) -> tuple[Any, int]:
    major, info = data[at] >> 5, data[at] & 31
    at += 1
    if info < 24:
        amount = info
    else:
        assert 24 <= info <= 27, f"indefinite or reserved length at {at - 1}"
        size = 1 << (info - 24)
        amount = int.from_bytes(data[at : at + size], "big")
        assert amount >= (24 if size == 1 else 1 << (4 * size)), f"a longer head than needed at {at - 1}"
        at += size
    if major == 0:
        return amount, at
    if major == 3:
        return data[at : at + amount].decode("utf-8"), at + amount
    if major == 4:
        items = []
        for _ in range(amount):
            item, at = _cbor_item(data, at)
            items.append(item)
        return items, at
    assert major == 5, f"major type {major} is not in a PlanV1"
    result = {}
    for _ in range(amount):
        key, at = _cbor_item(data, at)
        assert isinstance(key, str) and key not in result
        result[key], at = _cbor_item(data, at)
    return result, at


def chain_graph(folder: Path, count: int) -> Path:
    """A runnable chain of ``count`` caps: the root's ``run`` returns c0's ``f``; each ci imports c(i+1)'s interface.

    Only the root calls across (forwarding ``count`` levels deep would measure Python's recursion, not
    linking), but every binding is linked. The caps go to ``folder/caps``; returns the root's path.
    """
    caps = folder / "caps"
    caps.mkdir(parents=True, exist_ok=True)
    api = '(instance (export "f" (func (result u32))))'
    for index in range(count):
        wat = ["(component"]
        if index + 1 < count:
            wat.append(f'  (import "chain:c{index + 1}/api@1.0.0" {api})')
        wat += [
            f'  (core module $m (func (export "f") (result i32) i32.const {index}))',
            "  (core instance $i (instantiate $m))",
            '  (func $f (result u32) (canon lift (core func $i "f")))',
            '  (instance $api (export "f" (func $f)))',
            f'  (export "chain:c{index}/api@1.0.0" (instance $api)))',
        ]
        (caps / f"c{index}.wasm").write_bytes(wasmtime.wat2wasm("\n".join(wat)))
    root = folder / "root.wasm"
    root.write_bytes(
        wasmtime.wat2wasm("""
        (component
          (import "chain:c0/api@1.0.0" (instance $c0 (export "f" (func $f (result u32)))))
          (alias export $c0 "f" (func $f))
          (core func $g (canon lower (func $f)))
          (core module $m (import "c0" "f" (func $f (result i32))) (func (export "run") (result i32) call $f))
          (core instance $i (instantiate $m (with "c0" (instance (export "f" (func $g))))))
          (func (export "run") (result u32) (canon lift (core func $i "run"))))""")
    )
    return root


# -- built once per test run, whichever xdist worker asks first ------------------------------------------


def shared_root(factory: pytest.TempPathFactory) -> Path:
    """The folder every xdist worker of this run shares (the run's base temp folder without xdist)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def inputs_digest(name: str, inputs: list[Path]) -> str:
    """SHA-256 over ``name`` and every file of ``inputs`` (folders read recursively; caches skipped)."""
    digest = hashlib.sha256(name.encode() + b"\0" + componentize_version().encode())
    for top in inputs:
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for path in files:
            if "__pycache__" in path.parts or (path.suffix in (".pyc", ".wasm") and top.is_dir()):
                continue
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def componentize_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("componentize-py")
    except PackageNotFoundError:
        return "none"


def built_once(factory: pytest.TempPathFactory, name: str, inputs: list[Path], build: Callable[[Path], object]) -> Path:
    """The folder ``build`` filled, once per test run: the first worker to ask builds it under a file lock,
    the others wait for the lock and reuse the folder. Keyed by ``name`` and the hash of ``inputs``; a build
    that failed is tried again by the next one to ask."""
    root = shared_root(factory) / "built-once"
    root.mkdir(exist_ok=True)
    folder = root / f"{name}-{inputs_digest(name, inputs)[:16]}"
    with open(f"{folder}.lock", "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # no flock (Windows): every worker builds its own copy
            folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        done = folder / ".built"
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def run_build(project: Path, *flags: str, env: dict | None = None, umask: int | None = None):
    outdir = project / "dist"
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), *flags, str(project)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=project.parent,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def tiny_project(root: Path, hook_toml: str, components: dict[str, dict]) -> Path:
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "__init__.py").write_text("")
    for relative, spec in components.items():
        write_component(root / relative, **spec)
    (root / "pyproject.toml").write_text(hook_pyproject("demo", textwrap.dedent(hook_toml)))
    return root


# A root whose ``run`` returns what ``a:b/c@1.0.0``'s ``f`` returns.
CALLING_ROOT = """(component
  (import "a:b/c@1.0.0" (instance $c (export "f" (func (result u32)))))
  (alias export $c "f" (func $f))
  (core func $cf (canon lower (func $f)))
  (core module $m (import "" "f" (func $f (result i32))) (func (export "run") (result i32) call $f))
  (core instance $i (instantiate $m (with "" (instance (export "f" (func $cf))))))
  (func $run (result u32) (canon lift (core func $i "run")))
  (export "run" (func $run)))"""


def fake_digest(n: int) -> list[int]:
    """32 bytes, as composectl's JSON writes a digest, different for each ``n``."""
    return [(n * 7 + i) % 256 for i in range(32)]


# A plan using every PlanV1 field (the plan reader's tests and bench/composectl_parity.py mutate copies of it).
FULL_PLAN: dict[str, Any] = {
    "version": "1",
    "root": "app",
    "components": [
        {"id": "app", "digest": fake_digest(1), "source": "file:///opt/app.wasm"},
        {"id": "cap", "digest": fake_digest(2)},
        {"id": "echo", "digest": fake_digest(3), "source": "oci://r/echo:1"},
        {"id": "math", "digest": fake_digest(4)},
    ],
    "bindings": [
        {"consumer_id": "app", "import_name": "a:b/c@1.0.0", "provider_id": "cap", "export_name": "a:b/c@1.0.0"},
        {"import_name": "m:m/ops@1.0.0", "provider_id": "math", "export_name": "m:m/ops@1.1.0"},
        {"consumer_id": "cap", "import_name": "m:m/ops@1.0.0", "provider_id": "math", "export_name": "m:m/ops"},
    ],
    "secrets": [{"secret_id": "db", "backend_uri": "vault://s/db"}, {"secret_id": "k", "backend_uri": "dev://"}],
    "policy": {
        "determinism": "audit",
        "capabilities": [
            {"name": "dynlink:resolve", "level": "required"},
            {"name": "dynlink:invoke", "level": "optional"},
        ],
        "tenant": "acme",
        "limits": {"cpu_ms": 1000, "memory_bytes": 1 << 30, "io_ops": 0},
    },
    "linkage": "runtime",
    "explicit_exports": [{"source_instance": "cap", "interface_name": "a:b/extra@1.0.0"}],
}
