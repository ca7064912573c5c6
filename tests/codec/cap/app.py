"""Test cap (built by tests/conftest.py with componentize-py): pylon:codec/streaming's free functions."""

import streaming as impl
import wit_world
from componentize_py_types import Err
from wit_world.exports import streaming as api

VERSION = "0.1.0"


class Streaming(wit_world.exports.Streaming):
    def total_out(self, c: api.Compressor) -> int:
        return c.out_total

    def describe(self, items, f, c, x) -> str:
        parts = []
        for name, val in items:
            parts.append(f"{name}={'-' if val is None else val}")
        flag_names = sorted(m.name.lower() for m in api.FlagsType if m in f)
        return f"v{VERSION}[{','.join(parts)}|{'+'.join(flag_names)}|{c}|{x:.3f}]"

    def consume(self, c: api.Compressor) -> int:
        n = c.out_total
        c.closed = True
        return n

    def clone_all(self, items):
        out = [impl.Compressor(c.level) for c in items if c is not None]
        if not out:
            raise Err(api.ErrorCode.INTERNAL)
        return out

    def split(self, p):
        return (p.main, impl.Compressor(p.main.level) if p.label else None)
