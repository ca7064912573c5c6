"""An endpoint provider for the runtime-linking tests: ``echo``, ``upper``, ``len``, ``count`` (calls so far in this
instance: each resolution starts again at 1), ``fail`` (an error with context) and ``trap`` (an uncaught exception)."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

CALLS = [0]


class Endpoint(exports.Endpoint):
    def handle(self, method: str, payload: bytes) -> bytes:
        CALLS[0] += 1
        if method == "echo":
            return payload
        if method == "upper":
            return payload.upper()
        if method == "len":
            return str(len(payload)).encode()
        if method == "count":
            return str(CALLS[0]).encode()
        if method == "fail":
            raise Err(types.Error(types.ErrorCode_InvalidInput(), f"cannot {payload.decode()}", "provider-context"))
        if method == "trap":
            raise RuntimeError("the provider gave up")
        return f"unknown-method:{method}".encode()
