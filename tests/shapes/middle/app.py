"""The shapes test middle: a second consumer of shapes.thing, calling the provider on the root's handles."""

from wit_world import exports
from wit_world.imports import shapes

KEPT = []


class User(exports.User):
    def describe(self, t):
        return f"thing({t.value()})"

    def keep(self, t):
        KEPT.append(t)
        return t.value()

    def hand_back(self, n):
        return shapes.Thing(n * 10)
