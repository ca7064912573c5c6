"""Read a WebAssembly binary's top-level imports and exports without compiling it.

Only the outermost layer is decoded: of a component, the depth-0 import (10)
and export (11) sections; of a core module, its import (2) and export (7)
sections. Everything else (nested core modules and components included) is
skipped by its declared size. Reading an 18 MB componentize-py root this way
costs milliseconds, where compiling it costs seconds.

``scan`` does the same walk while feeding every byte to SHA-256 (and to an
optional sink, such as the blob store's writer), so a file is read exactly
once to describe it, address it and stage it. ``top_level_sections`` walks a
binary already in memory (or mapped), for the type decoder (``wasm.signatures``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, Literal, Union, cast

from .._errors import ComponentFormatError
from .._fs import NotRegularFile, new_hasher, open_regular
from .._layout import DEFAULT_MAX_COMPONENT_SIZE
from .._records import NamedTuple

if TYPE_CHECKING:
    from mmap import mmap

MAGIC = b"\0asm"
COMPONENT_VERSION = 0x0D
CORE_VERSION = 0x01

_CHUNK = 1 << 20
MAX_SECTIONS = 20_000  # depth-0 sections per file: the 18 MB CPython root has 432; a run of tiny ones is refused

# Component section ids (the component model's binary format); 0 is a custom section in both layers.
SECTION_CUSTOM = 0
SECTION_CORE_MODULE = 1
SECTION_CORE_INSTANCE = 2
SECTION_CORE_TYPE = 3
SECTION_COMPONENT = 4
SECTION_INSTANCE = 5
SECTION_ALIAS = 6
SECTION_TYPE = 7
SECTION_CANON = 8
SECTION_START = 9
SECTION_IMPORT = 10
SECTION_EXPORT = 11
SECTION_VALUE = 12
_LAST_COMPONENT_SECTION = SECTION_VALUE
# Core module section ids this reader needs: import (2) and export (7); tag (13) is the last.
CORE_SECTION_IMPORT = 2
CORE_SECTION_EXPORT = 7
_LAST_CORE_SECTION = 13
# The component sections that shape import and export types (what ``wasm.signatures`` decodes).
SHAPING_SECTIONS = frozenset(
    {SECTION_TYPE, SECTION_ALIAS, SECTION_IMPORT, SECTION_EXPORT, SECTION_INSTANCE, SECTION_COMPONENT, SECTION_CANON}
)
# Which depth-0 sections hold what ``scan`` reads.
_ROLES = {
    "component": {SECTION_IMPORT: "import", SECTION_EXPORT: "export"},
    "module": {CORE_SECTION_IMPORT: "import", CORE_SECTION_EXPORT: "export"},
}

_CORE_SORTS = {
    0x00: "core func",
    0x01: "core table",
    0x02: "core memory",
    0x03: "core global",
    0x04: "core tag",
    0x10: "core type",
    0x11: "module",
    0x12: "core instance",
}
_SORTS = {0x01: "func", 0x02: "value", 0x03: "type", 0x04: "component", 0x05: "instance"}
_CORE_EXTERNS = {0x00: "func", 0x01: "table", 0x02: "memory", 0x03: "global", 0x04: "tag"}

Kind = Literal["component", "module"]


class Extern(NamedTuple):
    """One import or export: its exact name and what sort of item it is."""

    name: str
    kind: str


class WasmInfo(NamedTuple):
    """What a binary is and what it imports and exports at the top level."""

    kind: Kind
    imports: tuple[Extern, ...]
    exports: tuple[Extern, ...]


class Limits(NamedTuple):
    """Bounds on what the reader accepts, so a hostile file cannot exhaust memory or time.

    Only import and export section bodies are ever held in memory; everything
    else streams through a fixed buffer.
    """

    max_size: int = DEFAULT_MAX_COMPONENT_SIZE  # bytes per component file
    max_externs: int = 10_000  # imports, and exports, per component (max-imports)
    max_section: int = 64 << 20  # bytes of one import or export section
    max_shaping: int = 8 << 20  # bytes of type-shaping sections a scan keeps for the type decoder


DEFAULT_LIMITS = Limits()


class ScannedFile(NamedTuple):
    """A binary read once: its description, SHA-256 (lower-case hex) and size.

    ``shaping``, when the scan was asked to keep types: the component's preamble and its type-shaping
    sections, in order, from the very bytes hashed (a valid binary for ``wasm.signatures``); None when
    not asked, or when those sections are over ``Limits.max_shaping`` (a composed graph's nested
    components), in which case types are read from the file itself.
    """

    path: str
    info: WasmInfo
    digest: str
    size: int
    shaping: bytes | None = None


def inspect(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> WasmInfo:
    """Describe a binary, seeking over everything that is not an import or export."""
    with _open(path) as file:
        return _Reader(file, os.fspath(path), None, limits).read()


Feed = Callable[[Union[bytes, memoryview]], object]


def inspect_bytes(data: bytes, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS) -> WasmInfo:
    """Describe an in-memory binary (fuzzing, tests, bytes already read)."""
    return _Reader(io.BytesIO(data), name, None, limits, size=len(data)).read()


def scan(
    path: str | os.PathLike[str],
    sink: Feed | None = None,
    limits: Limits = DEFAULT_LIMITS,
    via: Callable[[BinaryIO], BinaryIO] | None = None,
    keep_types: bool = False,
) -> ScannedFile:
    """Describe a binary and hash it in one pass; ``sink`` also receives every byte, in order.

    ``via`` is given the opened file and returns the stream to read instead,
    with the same bytes (the blob store hands back the copy it is making).
    ``keep_types``: also keep the sections types are decoded from (``ScannedFile.shaping``).
    """
    name = os.fspath(path)
    with _open(path) as file:
        return scan_stream(file, name, feed=sink, limits=limits, via=via, keep_types=keep_types)


def scan_stream(
    file: BinaryIO,
    name: str,
    feed: Feed | None = None,
    limits: Limits = DEFAULT_LIMITS,
    via: Callable[[BinaryIO], BinaryIO] | None = None,
    keep_types: bool = False,
) -> ScannedFile:
    """``scan`` for a file the caller has opened (and checked is a regular file)."""
    hasher = new_hasher()
    sink = feed

    def both(data: bytes | memoryview) -> None:
        hasher.update(data)
        if sink is not None:
            sink(data)

    size = os.fstat(file.fileno()).st_size
    reader = _Reader(via(file) if via is not None else file, name, both, limits, size=size)
    if keep_types:
        reader.kept = []
    info = reader.read()
    shaping = None
    if reader.kept is not None and info.kind == "component":
        shaping = b"".join([MAGIC, bytes([COMPONENT_VERSION, 0, 1, 0]), *reader.kept])
    return ScannedFile(path=name, info=info, digest=hasher.hexdigest(), size=reader.size, shaping=shaping)


def _open(path: str | os.PathLike[str]) -> BinaryIO:
    name = os.fspath(path)
    try:
        return open_regular(name)
    except NotRegularFile as exc:
        what = "is a directory, not a component file" if os.path.isdir(name) else f"{exc.strerror}; not read"
        raise ComponentFormatError(name, None, what) from None
    except FileNotFoundError:
        raise ComponentFormatError(name, None, "file not found") from None
    except PermissionError:
        raise ComponentFormatError(name, None, "permission denied while opening the file") from None
    except OSError as exc:
        raise ComponentFormatError(name, None, f"cannot be read ({exc.strerror or exc})") from None


class _Here:
    """Sentinel: an error at the reader's current offset."""


class _Reader:
    """Walks the sections of one open file; every read goes through ``_take``."""

    def __init__(self, file: BinaryIO, path: str, feed: Feed | None, limits: Limits, size: int | None = None) -> None:
        self.file = file
        self.path = path
        self.feed = feed
        self.buffer = memoryview(bytearray(_CHUNK)) if feed is not None else memoryview(b"")
        self.offset = 0
        self.size = os.fstat(file.fileno()).st_size if size is None else size
        self.limits = limits
        self.kept: list[bytes] | None = None  # type-shaping sections (id, size, body), when asked for
        self.kept_size = 0

    def fail(self, reason: str, offset: int | type[_Here] | None = _Here) -> ComponentFormatError:
        """An error at ``offset``: the current position by default, ``None`` for the file as a whole."""
        return ComponentFormatError(self.path, self.offset if offset is _Here else cast("int | None", offset), reason)

    def read(self) -> WasmInfo:
        if self.size == 0:
            raise self.fail("is empty, not a WebAssembly component", offset=None)
        if self.size > self.limits.max_size:
            raise self.fail(
                f"is {self.size} bytes, over the limit of {self.limits.max_size} "
                "(raise max-component-size to accept it)",
                offset=None,
            )
        kind = self._preamble()
        imports: list[Extern] = []
        exports: list[Extern] = []
        sections = 0
        while self.offset < self.size:
            sections += 1
            if sections > MAX_SECTIONS:
                raise self.fail(f"has more than {MAX_SECTIONS} top-level sections (a hostile file?)")
            self._section(kind, imports, exports)
        return WasmInfo(kind=kind, imports=tuple(imports), exports=tuple(exports))

    def _take(self, count: int) -> bytes:
        if count > self.size - self.offset:
            raise self.fail(f"truncated: needs {count} more bytes but the file ends at byte {self.size}")
        try:
            data = self.file.read(count)
        except OSError as exc:
            raise self.fail(f"cannot be read ({exc.strerror or exc})") from None
        if len(data) != count:
            raise self.fail("file shrank while being read")
        if self.feed is not None:
            self.feed(data)
        self.offset += count
        return data

    def _skip(self, count: int) -> None:
        if self.feed is None:
            self.file.seek(count, os.SEEK_CUR)
            self.offset += count
            return
        view = self.buffer
        remaining = count
        while remaining:
            try:
                got = cast(io.BufferedIOBase, self.file).readinto(view[: min(remaining, _CHUNK)])
            except OSError as exc:
                raise self.fail(f"cannot be read ({exc.strerror or exc})") from None
            if not got:
                raise self.fail("file shrank while being read")
            self.feed(view[:got])
            remaining -= got
        self.offset += count

    def _preamble(self) -> Kind:
        if self.size < 8:
            raise self.fail(f"is only {self.size} bytes, too short for a WebAssembly header", offset=0)
        header = self._take(8)
        if header[:4] != MAGIC:
            raise self.fail("is not a WebAssembly binary (missing the \\0asm magic)", offset=0)
        version = int.from_bytes(header[4:6], "little")
        layer = int.from_bytes(header[6:8], "little")
        if layer == 0 and version == CORE_VERSION:
            return "module"
        if layer == 1 and version == COMPONENT_VERSION:
            return "component"
        if layer == 1:
            raise self.fail(f"unsupported component binary version 0x{version:x} (expected 0x0d)", offset=4)
        if layer == 0:
            raise self.fail(f"unsupported core module version {version} (expected 1)", offset=4)
        raise self.fail(f"unknown WebAssembly layer {layer} (1 is a component, 0 a core module)", offset=6)

    def _section(self, kind: Kind, imports: list[Extern], exports: list[Extern]) -> None:
        start = self.offset
        section_id = self._take(1)[0]
        size = self._u32_from_file()
        if size > self.size - self.offset:
            raise self.fail(
                f"section {section_id} declares {size} bytes, past the end of the file (size {self.size})",
                offset=start,
            )
        last = _LAST_COMPONENT_SECTION if kind == "component" else _LAST_CORE_SECTION
        if section_id > last:
            raise self.fail(f"unknown section id {section_id}", offset=start)
        if section_id == 0 and size == 0:
            raise self.fail("custom section of 0 bytes has no name", offset=start)
        role = _ROLES[kind].get(section_id)
        keep = self.kept is not None and kind == "component" and section_id in SHAPING_SECTIONS
        if keep and self.kept_size + size > self.limits.max_shaping:
            self.kept = None  # too large to hold: types are read from the file itself
            keep = False
        if role is None and not keep:
            self._skip(size)
            return
        if role is not None and size > self.limits.max_section:
            raise self.fail(
                f"{role} section of {size} bytes is over the limit of {self.limits.max_section}", offset=start
            )
        body = self._take(size)
        if keep and self.kept is not None:
            self.kept.append(bytes([section_id]) + leb128(size) + body)
            self.kept_size += size
        if role is None:
            return
        cursor = Cursor(body, self.offset - size, self.path)
        items = imports if role == "import" else exports
        parse = getattr(cursor, f"{'core' if kind == 'module' else 'component'}_{role}")
        count = cursor.u32()
        if len(items) + count > self.limits.max_externs:
            raise cursor.fail(f"has more than {self.limits.max_externs} {role}s (raise max-imports to accept it)")
        for index in range(count):
            if cursor.at_end():
                raise cursor.fail(f"{role} section declares {count} entries but ends after {index}")
            items.append(parse())
        if not cursor.at_end():
            raise cursor.fail(f"{role} section has {cursor.remaining()} unexpected trailing bytes")

    def _u32_from_file(self) -> int:
        start = self.offset
        result = 0
        for index in range(5):
            if self.offset >= self.size:
                raise self.fail("truncated inside a section header", offset=start)
            byte = self._take(1)[0]
            result |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if result > 0xFFFFFFFF:
                    raise self.fail("LEB128 value does not fit in 32 bits", offset=start)
                return result
        raise self.fail("LEB128 integer longer than 5 bytes", offset=start)


def leb128(value: int) -> bytes:
    """``value`` (a non-negative integer) as an unsigned LEB128, as section sizes are written."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def top_level_sections(data: bytes | memoryview | mmap, path: str, base: int = 0) -> Iterator[tuple[int, Cursor]]:
    """Each top-level section of the binary held in ``data`` (past its 8-byte preamble): its id and a cursor
    over its body, a view into ``data`` (never a copy). ``base`` is ``data``'s offset in the file, for messages.

    At most ``MAX_SECTIONS``; a section running past the end raises ``ComponentFormatError``.
    """
    outer = Cursor(data, base, path)
    outer.pos = 8
    view = memoryview(data)
    count = 0
    while not outer.at_end():
        count += 1
        if count > MAX_SECTIONS:
            raise outer.fail(f"has more than {MAX_SECTIONS} top-level sections (a hostile file?)")
        start = outer.pos
        section_id = outer.byte()
        size = outer.u32()
        if size > len(data) - outer.pos:
            raise outer.fail(f"section {section_id} declares {size} bytes, past the end of the file", at=start)
        yield section_id, Cursor(view[outer.pos : outer.pos + size], base + outer.pos, path)
        outer.pos += size


class Cursor:
    """Decodes one in-memory section body; offsets stay file-absolute."""

    def __init__(self, data: bytes | memoryview | mmap, base: int, path: str) -> None:
        self.data = data
        self.base = base
        self.path = path
        self.pos = 0

    def fail(self, reason: str, at: int | None = None) -> ComponentFormatError:
        return ComponentFormatError(self.path, self.base + (self.pos if at is None else at), reason)

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("truncated: section ends in the middle of an entry")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def leb(self, max_bytes: int = 5) -> int:
        """An unsigned LEB128 of at most ``max_bytes`` (its value; signed ones are only skipped)."""
        start = self.pos
        if start < len(self.data) and self.data[start] < 0x80:  # one byte: most counts and indices
            self.pos = start + 1
            return self.data[start]
        result = 0
        for index in range(max_bytes):
            byte = self.byte()
            result |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                return result
        raise self.fail(f"LEB128 integer longer than {max_bytes} bytes", at=start)

    def u32(self) -> int:
        start = self.pos
        if start < len(self.data) and self.data[start] < 0x80:
            self.pos = start + 1
            return self.data[start]
        result = self.leb()
        if result > 0xFFFFFFFF:
            raise self.fail("LEB128 value does not fit in 32 bits", at=start)
        return result

    def s33(self) -> None:
        self.leb()

    def name(self) -> str:
        length = self.u32()
        start = self.pos
        if length > len(self.data) - start:
            raise self.fail(f"truncated: a {length}-byte name runs past the end of its section", at=start)
        self.pos += length
        try:
            return str(self.data[start : self.pos], "utf-8")  # bytes or a memoryview
        except UnicodeDecodeError:
            raise self.fail("name is not valid UTF-8", at=start) from None

    def extern_name(self) -> str:
        start = self.pos
        encoding = self.byte()
        if encoding in (0x00, 0x01):
            return self.name()
        if encoding == 0x02:
            name = self.name()
            for _ in range(self.u32()):
                option_at = self.pos
                option = self.byte()
                if option not in (0x00, 0x01, 0x02):  # implements, version suffix, external-id (Binary.md)
                    raise self.fail(f"name {name!r} has unknown name option 0x{option:02x}", at=option_at)
                self.name()
            return name
        raise self.fail(f"unknown name encoding 0x{encoding:02x}", at=start)

    def extern_desc(self) -> str:
        start = self.pos
        tag = self.byte()
        if tag == 0x00:
            if self.byte() != 0x11:
                raise self.fail("core extern descriptor is not a module type", at=start)
            self.u32()
            return "module"
        if tag in (0x01, 0x04, 0x05):
            self.u32()
            return _SORTS[tag]
        if tag == 0x02:
            if self.byte() == 0x00:
                self.u32()
            else:
                self.s33()
            return "value"
        if tag == 0x03:
            if self.byte() == 0x00:
                self.u32()
            return "type"
        raise self.fail(f"unknown extern descriptor 0x{tag:02x}", at=start)

    def sort(self) -> str:
        start = self.pos
        tag = self.byte()
        if tag == 0x00:
            core = self.byte()
            if core not in _CORE_SORTS:
                raise self.fail(f"unknown core sort 0x{core:02x}", at=start)
            return _CORE_SORTS[core]
        if tag not in _SORTS:
            raise self.fail(f"unknown sort 0x{tag:02x}", at=start)
        return _SORTS[tag]

    def component_import(self) -> Extern:
        name = self.extern_name()
        return Extern(name, self.extern_desc())

    def component_export(self) -> Extern:
        name = self.extern_name()
        kind = self.sort()
        self.u32()
        has_type = self.byte()
        if has_type == 0x01:
            self.extern_desc()
        elif has_type != 0x00:
            raise self.fail(f"bad optional export type marker 0x{has_type:02x}", at=self.pos - 1)
        return Extern(name, kind)

    def core_import(self) -> Extern:
        module = self.name()
        field = self.name()
        start = self.pos
        tag = self.byte()
        if tag not in _CORE_EXTERNS:
            raise self.fail(f"unknown core import kind 0x{tag:02x}", at=start)
        self._core_import_desc(tag)
        return Extern(f"{module}#{field}", _CORE_EXTERNS[tag])

    def _core_import_desc(self, tag: int) -> None:
        if tag in (0x00,):
            self.u32()
        elif tag == 0x01:  # reftype, limits
            self.s33()
            self._limits()
        elif tag == 0x02:
            self._limits()
        elif tag == 0x03:  # valtype, mutability
            self.s33()
            self.byte()
        else:  # tag: attribute byte then type index
            self.byte()
            self.u32()

    def _limits(self) -> None:
        flags = self.byte()
        self.leb(10)  # memory64 limits are u64
        if flags & 0x01:
            self.leb(10)
        if flags & 0x08:  # custom page size
            self.u32()

    def core_export(self) -> Extern:
        name = self.name()
        start = self.pos
        tag = self.byte()
        if tag not in _CORE_EXTERNS:
            raise self.fail(f"unknown core export kind 0x{tag:02x}", at=start)
        self.u32()
        return Extern(name, _CORE_EXTERNS[tag])
