"""The shapes test root (tests/conftest.py builds it): drives shapes and user; argv[1] picks a scenario."""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import shapes as s
from wit_world.imports import user

KEPT = []


def everything():
    out = []
    a = s.Thing(2)
    b = s.Thing(3)
    out.append(f"value={a.value()} peek={s.peek(a)}")
    m = s.Thing.merge(s.Thing(4), s.Thing(5))
    out.append(f"merge={m.value()}")
    h = s.make_holder(6, "six")
    out.append(f"holder={h.item.value()}:{h.label}")
    t, label = s.open_holder(h)
    out.append(f"open={t.value()}:{label}")
    r = s.pick(True, s.Thing(7), s.Thing(8))
    out.append(f"pick-ok={r.value()}")
    try:
        s.pick(False, s.Thing(7), s.Thing(8))
    except Err as e:
        out.append(f"pick-err={e.value.value()}")
    w = s.wrap(s.Thing(9))
    out.append(f"wrap={w.value.value()} none={type(s.wrap(None)).__name__}")
    things = s.many(3)
    out.append(f"many={[x.value() for x in things]} total={s.total(s.many(4))}")
    out.append(f"pair={s.peek_pair((a, 100))}")
    out.append(f"describe={user.describe(a)} keep={user.keep(s.Thing(11))} back={user.hand_back(4).value()}")
    for x in (a, b, m, t, r, w.value, *things):
        x.__exit__(None, None, None)
    del h
    out.append(f"live={s.live()}")
    return "; ".join(out)


class Run(exports.Run):
    def run(self) -> None:
        what = sys.argv[1] if len(sys.argv) > 1 else "everything"
        if what == "everything":
            print(everything())
        elif what == "boom":
            print(s.Thing(1).boom())
        elif what == "peek-maybe":
            print(s.peek_maybe(s.Thing(5)), s.peek_maybe(None))
        elif what == "drops":
            things = [s.Thing(i) for i in range(3)]
            for x in things[:2]:
                x.__exit__(None, None, None)  # dropped: the provider's handles 1 and 2 go
            KEPT.append(things[2])  # still held when run returns
            print(things[2].value())
