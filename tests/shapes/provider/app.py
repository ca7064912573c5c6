"""The shapes test provider (tests/conftest.py builds it): free functions over `thing`."""

from componentize_py_types import Err
from shapes import LIVE, Thing
from wit_world import exports
from wit_world.exports import shapes as api


class Shapes(exports.Shapes):
    def make_holder(self, n, label):
        return api.Holder(Thing(n), label)

    def open_holder(self, h):
        return (h.item, h.label)

    def pick(self, first, a, b):
        if first:
            return a  # ok
        raise Err(b)

    def wrap(self, t):
        return api.Maybe_Nothing() if t is None else api.Maybe_Just(t)

    def many(self, n):
        return [Thing(i) for i in range(n)]

    def total(self, items):
        return sum(t.n for t in items)

    def peek(self, t):
        return t.n

    def peek_maybe(self, t):
        return 0 if t is None else t.n

    def peek_pair(self, t):
        return t[0].n + t[1]

    def live(self):
        import gc

        gc.collect()
        return LIVE[0]
