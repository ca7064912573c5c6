"""The sample's Python code, compiled into the Pylon root by componentize-py.

Each call below crosses into a capability component at run time:
``sum_range`` runs in the arrow-core cap, which itself calls the
pylon-math cap's ``add``; ``mul`` goes straight to pylon-math.
"""

import wit_world
from wit_world.imports import array, ops


class WitWorld(wit_world.WitWorld):
    def run(self) -> str:
        total = array.sum_range(10)
        product = ops.mul(6, 7)
        return f"sum-range(10) = {total}; mul(6, 7) = {product}"
