"""A flavor-A consumer: its one compose:dynlink/endpoint import is bound to a provider in the plan.

``run [METHOD [PAYLOAD]]`` (default ``upper "hello from consumer"``) returns the answer or ``err <code>: <message>``.
"""

import sys

import wit_world
from componentize_py_types import Err
from wit_world.imports import endpoint


class WitWorld(wit_world.WitWorld):
    def run(self) -> str:
        method = sys.argv[1] if len(sys.argv) > 1 else "upper"
        payload = sys.argv[2] if len(sys.argv) > 2 else "hello from consumer"
        try:
            return endpoint.handle(method, payload.encode()).decode()
        except Err as error:
            code = type(error.value.code).__name__.removeprefix("ErrorCode_")
            return f"err {code}: {error.value.message} (context {error.value.context})"
