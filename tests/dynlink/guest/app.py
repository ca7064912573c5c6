"""The hybrid linker guest (flavor B): resolves a provider through the host's compose:dynlink linker, invokes it,
and also calls the typed arrow:core/array cap bound in the plan.

argv chooses the scenario, so one build serves every test:
``run [id=NAME | digest=HEX | none] [METHOD:PAYLOAD ...]`` (default ``id=echo upper:hello``).
Each step's outcome is one part of the returned line: ``ok <answer>`` or ``err <code>: <message>``.
"""

import sys

import wit_world
from componentize_py_types import Err
from wit_world.imports import array, linker


def failure(error: Err) -> str:
    value = error.value
    code = type(value.code).__name__.removeprefix("ErrorCode_")
    kebab = "".join("-" + c.lower() if c.isupper() else c for c in code).lstrip("-")
    context = f" (context {value.context})" if value.context is not None else ""
    return f"err {kebab}: {value.message}{context}"


class WitWorld(wit_world.WitWorld):
    def run(self) -> str:
        args = sys.argv[1:] or ["id=echo", "upper:hello"]
        parts = [f"sum-range(4) = {array.sum_range(4)}"]
        how, _, key = args[0].partition("=")
        if how == "none":
            return "; ".join(parts)
        try:
            instance = linker.resolve_by_id(key) if how == "id" else linker.resolve_by_digest(bytes.fromhex(key))
        except Err as error:
            parts.append(f"resolve {key}: {failure(error)}")
            return "; ".join(parts)
        parts.append(f"resolve {key}: ok")
        with instance:  # leaving the block drops the handle
            for step in args[1:]:
                method, _, payload = step.partition(":")
                try:
                    parts.append(f"{method}: ok {instance.invoke(method, payload.encode()).decode()}")
                except Err as error:
                    parts.append(f"{method}: {failure(error)}")
        return "; ".join(parts)
