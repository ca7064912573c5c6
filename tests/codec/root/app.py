"""The codec test root: exercises every shape of pylon:codec/streaming (resources own/borrow/static/drop,
enums, flags, records, variants, results, options, tuples, char, f32."""

import wit_world
from componentize_py_types import Err
from wit_world.imports import streaming as s


class WitWorld(wit_world.WitWorld):
    def run(self) -> str:
        out = []
        c = s.Compressor(5)
        out.append(f"ev0={c.last_event()}")
        a = c.compress_chunk(b"aaaabbbcc", s.FlushMode.NONE)
        out.append(f"a={a.hex()} ev1={c.last_event()}")
        b = c.compress_chunk(b"zzzzzzzz", s.FlushMode.SYNC)
        out.append(f"b={b.hex()}")
        st = c.stats()
        out.append(f"stats={st.bytes_in}/{st.bytes_out}/{st.ratio:.4f}")
        out.append(f"total_out(borrow)={s.total_out(c)}")
        # static func taking a borrow, returning an own
        c2 = s.Compressor.clone_config(c)
        fin = c2.compress_chunk(b"xy", s.FlushMode.FINISH)
        out.append(f"c2.fin={fin.hex()} ev={c2.last_event()}")
        try:
            c2.compress_chunk(b"q", s.FlushMode.NONE)
            out.append("c2.after-finish=ok?!")
        except Err as e:
            out.append(f"c2.after-finish=Err({e.value})")
        # error path
        bad = s.Compressor(42)
        try:
            bad.compress_chunk(b"a", s.FlushMode.NONE)
        except Err as e:
            out.append(f"bad=Err({e.value})")
        bad.__exit__(None, None, None)  # explicit drop
        with s.Compressor(1) as c3:
            c3.compress_chunk(b"hello", s.FlushMode.NONE)
            out.append(f"c3.total={s.total_out(c3)}")
        # own handle passed away
        out.append(f"consume(own)={s.consume(c)}")
        # handles nested in aggregates
        clones = s.clone_all([c2, None, c2])
        out.append(f"clone_all={[k.last_event() for k in clones]}")
        for k in clones:
            k.__exit__(None, None, None)
        try:
            s.clone_all([None])
        except Err as e:
            out.append(f"clone_all([None])=Err({e.value})")
        a, b = s.split(s.Pair(s.Compressor(7), "x"))
        a.compress_chunk(b"zz", s.FlushMode.NONE)
        out.append(f"split=({a.last_event()}, {None if b is None else b.last_event()})")
        a.__exit__(None, None, None)
        b.__exit__(None, None, None)
        a2, b2 = s.split(s.Pair(s.Compressor(2), ""))
        out.append(f"split2=({s.total_out(a2)}, {b2})")
        a2.__exit__(None, None, None)
        c2.__exit__(None, None, None)
        d = s.describe([("a", 1), ("b", None), ("ü", 4294967295)], s.FlagsType.VERBOSE | s.FlagsType.RAW, "λ", 1.5)
        out.append(f"describe={d}")
        return "; ".join(out)
