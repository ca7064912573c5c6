"""Resource implementation for pylon:codec/streaming.compressor (trivial RLE codec)."""

from typing import Self

from componentize_py_types import Err
from wit_world.exports import streaming as api


def rle(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        j = i
        while j < len(data) and data[j] == b and j - i < 255:
            j += 1
        out += bytes((j - i, b))
        i = j
    return bytes(out)


class Compressor(api.Compressor):
    def __init__(self, level: int) -> None:
        self.level = level
        self.in_total = 0
        self.out_total = 0
        self.closed = False
        self.chunks = 0
        self.event = api.Event_Started(f"level={level}")

    def compress_chunk(self, input: bytes, flush: api.FlushMode) -> bytes:
        if self.level < 0 or self.level > 9:
            raise Err(api.ErrorCode.BAD_LEVEL)
        if self.closed:
            raise Err(api.ErrorCode.CLOSED)
        out = rle(input)
        if flush == api.FlushMode.FINISH:
            out += b"\x00\x00"
            self.closed = True
            self.event = api.Event_Done()
        else:
            self.chunks += 1
            self.event = api.Event_Chunk(self.chunks)
        self.in_total += len(input)
        self.out_total += len(out)
        return out

    def stats(self) -> api.Stats:
        ratio = (self.out_total / self.in_total) if self.in_total else 0.0
        return api.Stats(self.in_total, self.out_total, ratio)

    def last_event(self) -> api.Event:
        return self.event

    @classmethod
    def clone_config(cls, other: Self) -> Self:
        return cls(other.level)
