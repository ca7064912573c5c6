"""Build the sample's component binaries: caps/*.wasm from WAT, wasm/python.wasm with componentize-py.

Run from anywhere: ``python build_components.py``. The root takes a few
seconds (it is CPython plus the app); it is rebuilt only when its inputs change.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import wasmtime

HERE = Path(__file__).resolve().parent


def build_caps() -> None:
    for source in sorted((HERE / "caps").glob("*.wat")):
        source.with_suffix(".wasm").write_bytes(wasmtime.wat2wasm(source.read_text(encoding="utf-8")))


def build_root() -> None:
    app = HERE / "app"
    inputs = sorted(p for p in app.rglob("*") if p.is_file() and p.suffix in (".py", ".wit"))
    fingerprint = hashlib.sha256()
    for path in inputs:
        fingerprint.update(path.relative_to(app).as_posix().encode() + b"\0" + path.read_bytes())
    output = HERE / "wasm" / "python.wasm"
    stamp = output.with_suffix(".inputs")
    if output.exists() and stamp.exists() and stamp.read_text() == fingerprint.hexdigest():
        return
    output.parent.mkdir(exist_ok=True)
    driver = "import sys, componentize_py; sys.argv[0] = 'componentize-py'; sys.exit(componentize_py.script())"
    subprocess.run(
        [sys.executable, "-c", driver, "-d", "wit", "-w", "app", "componentize", "app", "-o", str(output)],
        cwd=app, check=True,
    )
    stamp.write_text(fingerprint.hexdigest())


if __name__ == "__main__":
    build_caps()
    build_root()
