"""The provider's `thing`: a number; LIVE counts the instances the consumers have not dropped."""

from typing import Self

from wit_world.exports import shapes as api

LIVE = [0]


class Thing(api.Thing):
    def __init__(self, n: int) -> None:
        self.n = n
        LIVE[0] += 1

    def __del__(self) -> None:
        LIVE[0] -= 1

    def value(self) -> int:
        return self.n

    def boom(self) -> int:
        raise RuntimeError(f"boom from thing {self.n}")

    @classmethod
    def merge(cls, a: Self, b: Self) -> Self:
        return cls(a.n + b.n)
