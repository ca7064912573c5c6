"""Real component binaries for tests: generated WAT, compiled by wasmtime.wat2wasm.

``component(imports=[...], exports=[...])`` builds a component whose
instance imports/exports each carry one function ``f`` of the given
signature, which is enough to exercise naming, versions and type checks.
"""

from __future__ import annotations

from pathlib import Path

import wasmtime

DEFAULT_SIG = "(result u32)"


def component_wat(imports: list[str] = (), exports: list[str] = (), sig: str = DEFAULT_SIG,
                  import_sigs: dict[str, str] | None = None) -> str:
    import_sigs = import_sigs or {}
    lines = ["(component"]
    for name in imports:
        lines.append(f'  (import "{name}" (instance (export "f" (func {import_sigs.get(name, DEFAULT_SIG)}))))')
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


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def name(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return leb(len(raw)) + raw


def section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + leb(len(body)) + body


COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"


def raw_component(*sections: bytes) -> bytes:
    """Hand-assembled binaries, for the malformed cases no text format can express."""
    return COMPONENT_HEADER + b"".join(sections)
