"""Build the sample's component binaries: caps/*.wasm from WAT, wasm/python.wasm with componentize-py.

Run ``python build_components.py`` before building the package. The root
(CPython plus app/) takes about ten seconds and is rebuilt only when app/
changes; the caps are tiny and always rebuilt.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import wasmtime

HERE = Path(__file__).resolve().parent
COMPONENTIZE = "import sys, componentize_py; sys.argv[0] = 'componentize-py'; sys.exit(componentize_py.script())"


def build_caps(project: Path = HERE) -> None:
    for source in sorted((project / "caps").glob("*.wat")):
        source.with_suffix(".wasm").write_bytes(wasmtime.wat2wasm(source.read_text(encoding="utf-8")))


def build_root(project: Path = HERE, output: Path | None = None) -> Path:
    app = project / "app"
    output = output or project / "wasm" / "python.wasm"
    fingerprint = hashlib.sha256()
    for path in sorted(p for p in app.rglob("*") if p.is_file() and p.suffix in (".py", ".wit")):
        fingerprint.update(path.relative_to(app).as_posix().encode() + b"\0" + path.read_bytes())
    stamp = output.with_suffix(".inputs")
    if output.exists() and stamp.exists() and stamp.read_text() == fingerprint.hexdigest():
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", COMPONENTIZE, "-d", "wit", "-w", "app", "componentize", "app", "-o", str(output)],
        cwd=app,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(fingerprint.hexdigest())
    return output


if __name__ == "__main__":
    build_caps()
    print(f"built {build_root()}")
