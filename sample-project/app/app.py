"""The sample's Python code, compiled into the Pylon root by componentize-py.

A Pylon root in its real shape: typed capability interfaces bound in the plan, and the host's
compose:dynlink/linker to resolve components by id at run time. ``sum_range`` runs in the arrow-core
cap, which itself calls the pylon-math cap's ``add``; ``mul`` goes straight to pylon-math. ``greeter``
is bound late: no binding names it; the root resolves it from the plan's components and sends it bytes.
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import array, linker, ops


class Run(exports.Run):
    def run(self) -> None:
        print(f"typed:      sum-range(10) = {array.sum_range(10)}; mul(6, 7) = {ops.mul(6, 7)}")
        name = " ".join(sys.argv[1:]) or "Pylon"
        try:
            with linker.resolve_by_id("greeter") as greeter:  # leaving the block drops the handle
                answer = greeter.invoke("greet", name.encode()).decode()
        except Err as error:
            answer = f"error: {error.value.message}"
        print(f"late-bound: greeter says {answer}")
