"""composectl's ``PlanV1``: the model, its one parser, its canonical JSON text and its plan digest.

The text is UTF-8, two-space indented, components sorted by id and bindings
by (consumer, import) in byte order, digests as 32-integer arrays on one
line, and a trailing newline; the same plan always gives the same bytes.
Keys follow ``PlanV1``'s field order, except that ``linkage`` comes right
after ``root``. What composectl's serde skips is not written either:
``linkage`` for static linkage (its default), ``explicit_exports`` when
empty, a component's ``source``, ``policy.tenant``, a limit and a binding's
``consumer_id`` when absent (composectl takes such a binding to be the
root's; the model keeps whether the plan named the consumer, because the
plan digest depends on it).

The **plan digest** is composectl's ``compute_plan_digest``: SHA-256 of the
CBOR that ciborium writes for ``PlanV1`` (``plan_cbor``): every struct a
definite-length map with text keys in field order, skipped fields left out,
digests as arrays of integers, integers and lengths in their shortest form.

``parse_plan`` is the only way a plan is read back: it refuses unknown and
duplicate keys, deep nesting and oversized text, numbers composectl reads as
floating point (``1.5``, ``-0``) and strings that are not Unicode (a lone
``\\ud800``), naming where, and checks composectl's rules in linear time.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

from .._errors import PlanFormatError, printable
from .._fs import sha256_hex
from .._records import NamedTuple

PLAN_VERSION = "1"
LINKAGES = ("runtime", "static")
DETERMINISM = ("strict", "audit", "relaxed")
CAPABILITY_LEVELS = ("required", "optional")
LIMIT_FIELDS = ("cpu_ms", "memory_bytes", "io_ops")
MAX_U64 = (1 << 64) - 1
MAX_PLAN_BYTES = 64 << 20  # a plan of 100,000 components and bindings is about 40 MiB
DEFAULT_CAPABILITIES = (("dynlink:resolve", "required"), ("dynlink:invoke", "required"))
# The schemes composectl's fetcher (compose-fetcher) takes for a component's ``source``, matched as it does.
SOURCE_SCHEMES = ("file://", "http://", "https://", "ipfs://", "oci://")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Binding(NamedTuple):
    consumer_id: str  # the root's id when the plan leaves the consumer out
    import_name: str
    provider_id: str
    export_name: str
    named: bool = True  # whether the plan names the consumer (``consumer_id`` is written, and hashed)

    def described(self) -> str:
        """``consumer: import -> provider: export``, escaped for a message (names come from files)."""
        consumer, wanted = printable(self.consumer_id), printable(self.import_name)
        return f"{consumer}: {wanted} -> {printable(self.provider_id)}: {printable(self.export_name)}"


class Capability(NamedTuple):
    name: str
    level: str


_DEFAULT_CAPABILITY_SET = tuple(Capability(name, level) for name, level in DEFAULT_CAPABILITIES)


class Policy(NamedTuple):
    determinism: str = "relaxed"
    capabilities: tuple[Capability, ...] = _DEFAULT_CAPABILITY_SET
    limits: tuple[tuple[str, int], ...] = ()
    tenant: str | None = None


class PlanComponent(NamedTuple):
    id: str
    digest: str  # lower-case hex SHA-256
    source: str | None = None  # where composectl may fetch it from (``SOURCE_SCHEMES``)


class ExplicitExport(NamedTuple):
    source_instance: str
    interface_name: str


class Secret(NamedTuple):
    """A secret the plan names: where composectl resolves it at run time, never its value."""

    secret_id: str
    backend_uri: str


class Plan(NamedTuple):
    root: str
    components: tuple[PlanComponent, ...]
    bindings: tuple[Binding, ...]
    policy: Policy = Policy()
    linkage: str = "runtime"
    explicit_exports: tuple[ExplicitExport, ...] = ()
    secrets: tuple[Secret, ...] = ()
    version: str = PLAN_VERSION  # what the plan says; composectl's validation accepts only "1"

    @classmethod
    def create(
        cls,
        root: str,
        components: Iterable[PlanComponent],
        bindings: Iterable[Binding],
        policy: Policy,
        linkage: str = "runtime",
        explicit_exports: Iterable[ExplicitExport] = (),
        secrets: Iterable[Secret] = (),
    ) -> Plan:
        """A plan in canonical order."""
        return cls(
            root=root,
            components=tuple(sorted(components, key=lambda c: c.id.encode())),
            bindings=tuple(sorted(bindings, key=lambda b: (b.consumer_id.encode(), b.import_name.encode()))),
            policy=policy,
            linkage=linkage,
            explicit_exports=tuple(sorted(set(explicit_exports))),
            secrets=tuple(sorted(set(secrets))),
        )

    def digest_of(self, component_id: str) -> str:
        return next(c.digest for c in self.components if c.id == component_id)

    def _parts(self, raw_digests: bool = False) -> dict[str, Any]:
        """Each ``PlanV1`` field as composectl's serde writes it, in field order; skipped fields left out.

        Digests are lists of integers, or with ``raw_digests`` the ``bytes`` ``cbor`` writes as such a list.
        """
        document: dict[str, Any] = {
            "version": PLAN_VERSION,
            "root": self.root,
            "components": [_component(c, raw_digests) for c in self.components],
            "bindings": [_binding(b) for b in self.bindings],
            "secrets": [{"secret_id": s.secret_id, "backend_uri": s.backend_uri} for s in self.secrets],
            "policy": _policy(self.policy),
        }
        if self.linkage != "static":
            document["linkage"] = self.linkage
        if self.explicit_exports:
            document["explicit_exports"] = [
                {"source_instance": e.source_instance, "interface_name": e.interface_name}
                for e in self.explicit_exports
            ]
        return document

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: ``PlanV1``'s field order, with ``linkage`` right after ``root``."""
        parts = self._parts()
        order = ("version", "root", "linkage", "components", "bindings", "secrets", "policy", "explicit_exports")
        return {key: parts[key] for key in order if key in parts}

    def to_json(self, ascii_only: bool = False) -> bytes:
        """composectl's pretty JSON of the plan; ``ascii_only``: every other character as a ``\\u`` escape (the
        same plan to any JSON reader), for a terminal."""
        from json import dumps  # here: a plan's digest and summary need no JSON

        text = _canonical(self.to_dict(), lambda value: dumps(value, ensure_ascii=ascii_only))
        return (text + "\n").encode("utf-8")

    def to_cbor(self) -> bytes:
        """The bytes composectl's ``plan::serialize`` (ciborium) gives for this plan."""
        return cbor(self._parts(raw_digests=True))

    def plan_digest(self) -> str:
        """composectl's ``compute_plan_digest``, as lower-case hex: SHA-256 of ``to_cbor()``."""
        return sha256_hex(self.to_cbor())


def _component(component: PlanComponent, raw_digest: bool = False) -> dict[str, Any]:
    digest = bytes.fromhex(component.digest)
    item: dict[str, Any] = {"id": component.id, "digest": digest if raw_digest else list(digest)}
    if component.source is not None:
        item["source"] = component.source
    return item


def _binding(binding: Binding) -> dict[str, str]:
    item = {"consumer_id": binding.consumer_id} if binding.named else {}
    item.update(import_name=binding.import_name, provider_id=binding.provider_id, export_name=binding.export_name)
    return item


def _policy(policy: Policy) -> dict[str, Any]:
    item: dict[str, Any] = {
        "determinism": policy.determinism,
        "capabilities": [{"name": c.name, "level": c.level} for c in policy.capabilities],
    }
    if policy.tenant is not None:
        item["tenant"] = policy.tenant
    limits = dict(policy.limits)
    item["limits"] = {name: limits[name] for name in LIMIT_FIELDS if name in limits}
    return item


# -- CBOR, as ciborium writes serde data ---------------------------------------------------------

_SMALL_INTS = [bytes([n]) if n < 24 else bytes([0x18, n]) for n in range(256)]


def cbor(value: Any) -> bytes:
    """Definite-length CBOR of text-keyed maps, arrays, text and unsigned integers, shortest forms.

    This is what ciborium writes for serde structs, ``Vec``s, ``String``s and
    unsigned integers: the only kinds ``PlanV1`` holds. serde writes a
    ``Vec<u8>`` (a digest) as an array of integers, not a byte string, and so
    does this for ``bytes``.
    """
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _head(major: int, amount: int) -> bytes:
    kind = major << 5
    if amount < 24:
        return bytes([kind | amount])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if amount < 1 << (8 * size):
            return bytes([kind | extra]) + amount.to_bytes(size, "big")
    raise ValueError(f"{amount} does not fit in 64 bits")


def _encode(value: Any, out: bytearray) -> None:
    if isinstance(value, bool) or (isinstance(value, int) and value < 0):
        raise TypeError(f"a plan holds no {value!r}")
    if isinstance(value, int):
        out += _SMALL_INTS[value] if value < 256 else _head(0, value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out += _head(3, len(data))
        out += data
    elif isinstance(value, bytes):
        out += _head(4, len(value))
        out += b"".join(map(_SMALL_INTS.__getitem__, value))
    elif isinstance(value, list):
        out += _head(4, len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out += _head(5, len(value))
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"a plan's map keys are text, not {key!r}")
            _encode(key, out)
            _encode(item, out)
    else:
        raise TypeError(f"a plan holds no {type(value).__name__}")


# -- the rules shared with the configuration -----------------------------------------------------


def source_problem(source: str) -> str | None:
    """Why composectl's fetcher could not take ``source`` as a component's URL, or None."""
    if not source.startswith(SOURCE_SCHEMES):
        schemes = ", ".join(SOURCE_SCHEMES)
        return f"unsupported source scheme in {source!r} (composectl fetches {schemes})"
    if source in SOURCE_SCHEMES:
        return f"{source!r} names nothing after its scheme"
    if _CONTROL.search(source):
        return f"{source!r} contains a control character"
    return None


def backend_uri_problem(uri: str) -> str | None:
    """Why ``uri`` is not a secret backend composectl can pick (``<scheme>://...``), or None.

    The messages never repeat the text: it may be a secret pasted in the wrong place.
    """
    if not _URI_SCHEME.match(uri):
        return "is not a backend URI: composectl picks the backend by its scheme ('dev://', 'vault://...')"
    if _CONTROL.search(uri):
        return "contains a control character"
    authority = uri.split("://", 1)[1].split("/", 1)[0]
    if "@" in authority and ":" in authority.rpartition("@")[0]:
        return "carries a password; a plan names where a secret lives, never a secret value"
    return None


def parse_plan(data: bytes, source: str, notes: list[str] | None = None) -> Plan:
    """Read a plan as composectl's ``read_plan`` and ``validate_structure`` do; ``PlanFormatError`` if they refuse.

    ``notes`` collects warnings about what composectl accepts silently but is likely a mistake (an unknown key,
    with a did-you-mean). Refused beyond composectl, because reading them is unsafe: a text over
    ``MAX_PLAN_BYTES``, nesting deeper than Python's decoder goes, a secret's backend URI carrying a password.
    """
    if len(data) > MAX_PLAN_BYTES:
        raise PlanFormatError(
            source,
            [f"{len(data)} bytes is over hatch-pylon's limit of {MAX_PLAN_BYTES} for a plan (composectl reads any)"],
            ours=True,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanFormatError(
            source, ["not UTF-8 text (composectl reads a .json plan as UTF-8 JSON, then TOML)"]
        ) from None
    import json

    unknown: list[tuple[str, str, tuple[str, ...]]] = []
    try:
        raw = json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_float=_Float,
            parse_int=_json_int,
            parse_constant=_not_json,
        )
        json_error = None
    except RecursionError:
        raise PlanFormatError(source, ["nested too deeply to read (hatch-pylon's limit)"], ours=True) from None
    except ValueError as exc:
        raw, json_error = None, str(exc)
    if json_error is None:
        try:
            plan = _Serde(unknown, escapes="\\u" in text).plan(raw)
        except _Refused as refusal:
            raise PlanFormatError(source, [str(refusal)]) from None
    else:
        plan = _from_toml(text, source, json_error, unknown)
    problems = validate_structure(plan)
    if problems:
        raise PlanFormatError(source, problems)
    unsafe = _unsafe(plan)
    if unsafe:
        raise PlanFormatError(source, unsafe, ours=True)
    if notes is not None and unknown:
        notes += _unknown_notes(source, unknown)
    return plan


def _from_toml(text: str, source: str, json_error: str, unknown: list[tuple[str, str, tuple[str, ...]]]) -> Plan:
    """composectl's fallback when the text is not a JSON plan: the same text as TOML."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        raw = tomllib.loads(text[1:] if text.startswith("\ufeff") else text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise PlanFormatError(
            source, [f"neither a JSON plan ({json_error}) nor a TOML one ({exc}), which composectl tries next"]
        ) from None
    too_big = _outside_i64(raw)
    if too_big is not None:  # composectl's TOML reader stores integers in 64 bits, wherever they are
        raise PlanFormatError(
            source, [f"neither a JSON plan ({json_error}) nor a TOML one ({too_big} does not fit in 64 bits)"]
        )
    try:
        return _Serde(unknown, toml=True).plan(raw)
    except _Refused as refusal:
        raise PlanFormatError(source, [f"TOML plan (it is not JSON: {json_error}): {refusal}"]) from None


def _outside_i64(value: Any) -> int | None:
    """The first integer of a TOML document that does not fit in a signed 64-bit integer, if any."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif type(item) is int and not -(1 << 63) <= item < 1 << 63:
            return item
    return None


class _Refused(Exception):
    """What serde says when it cannot read the plan into ``PlanV1`` (one message, with where)."""


class _Pairs(list):
    """A JSON object as its (key, value) pairs, in order, duplicates kept: serde reads a struct key by key."""


class _Float:
    """A JSON number serde reads as floating point (``1.5``, ``1e3``, ``-0``, an integer past 64 bits)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        try:
            value = float(self.text)
        except (ValueError, OverflowError):
            return self.text
        # serde's "floating point `-0.0`": a float always shows a decimal point
        return repr(value) if value != int(value) or abs(value) >= 1e16 else f"{value:.1f}"


def _json_int(text: str) -> int | _Float:
    """An integer as serde_json reads it: past u64 (or below i64), and ``-0``, it is floating point."""
    if text == "-0" or len(text) > 20:
        return _Float(text)
    value = int(text)
    return value if -(1 << 63) <= value <= MAX_U64 else _Float(text)


def _not_json(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _kind(value: Any) -> str:
    """How serde names what it found instead of what it expected."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, (_Float, float)):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        import json

        return f"string {json.dumps(value)}"
    if isinstance(value, (_Pairs, dict)):
        return "map"
    if isinstance(value, list):
        return "sequence"
    return type(value).__name__  # a TOML date or time


# How a struct field is read when it is absent: serde's derived Deserialize for PlanV1's types.
_REQUIRED = "required"  # absent: "missing field"
_OPTION = "option"  # an Option: None when a map leaves it out; a sequence must still hold it
_DEFAULT = "default"  # #[serde(default)]: its default, from a map or a short sequence
Reader = Callable[[Any, str], Any]


class _Serde:
    """serde's derived ``Deserialize`` for ``PlanV1``, on decoded JSON (or TOML) values.

    A struct is a map (unknown keys skipped, a known one twice refused) or a sequence of its fields in order;
    an ``Option`` is ``null`` or absent for None; an enum is its variant's name, or a one-key map from it to
    ``null`` (TOML: an empty table); strings must be Unicode.
    """

    def __init__(
        self, unknown: list[tuple[str, str, tuple[str, ...]]], escapes: bool = False, toml: bool = False
    ) -> None:
        self.unknown = unknown
        self.escapes = escapes  # only a \\u escape can make a string that is not Unicode
        self.toml = toml

    # -- scalars ---------------------------------------------------------------------------------------------

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise _Refused(f"{where}: invalid type: {_kind(value)}, expected a string")
        if self.escapes and not value.isascii():
            self.unicode(value, where)
        return value

    def unicode(self, text: str, where: str) -> None:
        found = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
        if found is not None:
            raise _Refused(
                f"{where}: a lone surrogate (\\u{ord(found):04x}), which is not Unicode: composectl cannot read it"
            )

    def integer(self, value: Any, where: str, bits: int) -> int:
        expected = f"u{bits}"
        if type(value) is not int:
            raise _Refused(f"{where}: invalid type: {_kind(value)}, expected {expected}")
        if not 0 <= value < 1 << bits:
            raise _Refused(f"{where}: invalid value: integer `{value}`, expected {expected}")
        return value

    def option(self, value: Any, where: str, read: Callable[[Any, str], Any]) -> Any:
        return None if value is None else read(value, where)

    def sequence(self, value: Any, where: str, read: Callable[[Any, str], Any]) -> list[Any]:
        if not isinstance(value, list) or isinstance(value, _Pairs):
            raise _Refused(f"{where}: invalid type: {_kind(value)}, expected a sequence")
        return [read(item, f"{where}[{index}]") for index, item in enumerate(value)]

    def enum(self, value: Any, where: str, name: str, variants: tuple[str, ...]) -> str:
        if isinstance(value, (_Pairs, dict)):
            pairs = list(value.items()) if isinstance(value, dict) else list(value)
            if len(pairs) != 1:
                raise _Refused(f"{where}: enum {name} as a map has one key, its variant ({len(pairs)} given)")
            value, unit = pairs[0]
            self.key(value, where)
            empty = unit is None if not self.toml else (isinstance(unit, dict) and not unit)
            if not empty:
                raise _Refused(f"{where}.{value}: invalid type: {_kind(unit)}, expected unit")
        elif not isinstance(value, str):
            raise _Refused(f"{where}: invalid type: {_kind(value)}, expected enum {name}")
        if value not in variants:
            listed = ", ".join(f"`{v}`" for v in variants)
            raise _Refused(f"{where}: unknown variant `{value}`, expected one of {listed}")
        return value

    def key(self, key: str, where: str) -> None:
        if self.escapes and not key.isascii():
            self.unicode(key, where)

    # -- structs ---------------------------------------------------------------------------------------------

    def struct(
        self, value: Any, where: str, name: str, fields: tuple[tuple[str, Reader, str, Any], ...]
    ) -> dict[str, Any]:
        """A struct's fields by name, from a map or a sequence; ``fields``: (name, reader, when absent, default)."""
        prefix = f"{where}." if where else ""
        at = where or "the plan"
        found: dict[str, Any] = {}
        if isinstance(value, (_Pairs, dict)):
            readers = {field: read for field, read, _, _ in fields}
            for key, item in value.items() if isinstance(value, dict) else value:
                self.key(key, at)
                read = readers.get(key)
                if read is None:
                    self.unknown.append((at, key, tuple(readers)))
                elif key in found:
                    raise _Refused(f"{at}: duplicate field `{key}`")
                else:
                    found[key] = read(item, f"{prefix}{key}")
            for field, _, absent, default in fields:
                if field not in found:
                    if absent == _REQUIRED:
                        raise _Refused(f"{at}: missing field `{field}`")
                    found[field] = default
            return found
        if isinstance(value, list):
            expected = f"struct {name} with {len(fields)} elements"
            for index, (field, read, absent, default) in enumerate(fields):
                if index < len(value):
                    found[field] = read(value[index], f"{where}[{index}]")
                elif absent != _DEFAULT:
                    raise _Refused(f"{at}: invalid length {len(value)}, expected {expected}")
                else:
                    found[field] = default
            if len(value) > len(fields):
                raise _Refused(f"{at}: {len(value)} elements, more than {expected}")
            return found
        raise _Refused(f"{at}: invalid type: {_kind(value)}, expected struct {name}")

    # -- PlanV1 ----------------------------------------------------------------------------------------------

    def plan(self, raw: Any) -> Plan:
        s, req, dflt = self.string, _REQUIRED, _DEFAULT
        found = self.struct(
            raw,
            "",
            "PlanV1",
            (
                ("version", s, req, None),
                ("root", s, req, None),
                ("components", lambda v, w: self.sequence(v, w, self.component), req, None),
                ("bindings", lambda v, w: self.sequence(v, w, self.binding), req, None),
                ("secrets", lambda v, w: self.sequence(v, w, self.secret), req, None),
                ("policy", self.policy, req, None),
                ("linkage", lambda v, w: self.enum(v, w, "Linkage", LINKAGES), dflt, "static"),
                ("explicit_exports", lambda v, w: self.sequence(v, w, self.explicit_export), dflt, []),
            ),
        )
        root = found["root"]
        bindings = tuple(
            Binding(root if consumer is None else consumer, wanted, provider, export, consumer is not None)
            for consumer, wanted, provider, export in found["bindings"]
        )
        return Plan(
            root,
            tuple(found["components"]),
            bindings,
            found["policy"],
            found["linkage"],
            tuple(found["explicit_exports"]),
            tuple(found["secrets"]),
            version=found["version"],
        )

    def component(self, value: Any, where: str) -> PlanComponent:
        digest = lambda v, w: self.sequence(v, w, lambda b, x: self.integer(b, x, 8))  # noqa: E731
        found = self.struct(
            value,
            where,
            "ComponentSpec",
            (
                ("id", self.string, _REQUIRED, None),
                ("digest", digest, _REQUIRED, None),
                ("source", lambda v, w: self.option(v, w, self.string), _OPTION, None),
            ),
        )
        return PlanComponent(found["id"], bytes(found["digest"]).hex(), found["source"])

    def binding(self, value: Any, where: str) -> tuple[str | None, str, str, str]:
        found = self.struct(
            value,
            where,
            "ImportBinding",
            (
                ("consumer_id", lambda v, w: self.option(v, w, self.string), _OPTION, None),
                ("import_name", self.string, _REQUIRED, None),
                ("provider_id", self.string, _REQUIRED, None),
                ("export_name", self.string, _REQUIRED, None),
            ),
        )
        return found["consumer_id"], found["import_name"], found["provider_id"], found["export_name"]

    def secret(self, value: Any, where: str) -> Secret:
        fields = (("secret_id", self.string, _REQUIRED, None), ("backend_uri", self.string, _REQUIRED, None))
        found = self.struct(value, where, "SecretBinding", fields)
        return Secret(found["secret_id"], found["backend_uri"])

    def explicit_export(self, value: Any, where: str) -> ExplicitExport:
        fields = (("source_instance", self.string, _REQUIRED, None), ("interface_name", self.string, _REQUIRED, None))
        found = self.struct(value, where, "ExplicitExport", fields)
        return ExplicitExport(found["source_instance"], found["interface_name"])

    def capability(self, value: Any, where: str) -> Capability:
        level = lambda v, w: self.enum(v, w, "CapabilityLevel", CAPABILITY_LEVELS)  # noqa: E731
        found = self.struct(
            value, where, "Capability", (("name", self.string, _REQUIRED, None), ("level", level, _REQUIRED, None))
        )
        return Capability(found["name"], found["level"])

    def limits(self, value: Any, where: str) -> tuple[tuple[str, int], ...]:
        amount = lambda v, w: self.option(v, w, lambda a, x: self.integer(a, x, 64))  # noqa: E731
        found = self.struct(
            value, where, "ResourceLimits", tuple((name, amount, _OPTION, None) for name in LIMIT_FIELDS)
        )
        return tuple((name, found[name]) for name in LIMIT_FIELDS if found[name] is not None)

    def policy(self, value: Any, where: str) -> Policy:
        found = self.struct(
            value,
            where,
            "Policy",
            (
                ("determinism", lambda v, w: self.enum(v, w, "DeterminismMode", DETERMINISM), _REQUIRED, None),
                ("capabilities", lambda v, w: self.sequence(v, w, self.capability), _REQUIRED, None),
                ("tenant", lambda v, w: self.option(v, w, self.string), _OPTION, None),
                ("limits", self.limits, _REQUIRED, None),
            ),
        )
        return Policy(found["determinism"], tuple(found["capabilities"]), found["limits"], found["tenant"])


def validate_structure(plan: Plan) -> list[str]:
    """composectl's ``PlanValidator::validate_structure``: its phases in order, each problem as composectl words
    it; the problems of the first phase that finds any (composectl stops at its first)."""
    for phase in (_schema, _graph, _bindings, _linkage, _explicit_exports):
        problems = phase(plan)
        if problems:
            return problems
    return []


def _schema(plan: Plan) -> list[str]:
    if plan.version != PLAN_VERSION:
        return [f"unsupported plan version: {printable(plan.version)}"]
    if not plan.root:
        return ["plan root component ID is empty"]
    if not plan.components:
        return ["plan has no components"]
    problems = []
    seen: set[str] = set()
    for component in plan.components:
        if component.id in seen:
            problems.append(f"duplicate component ID: {printable(component.id)}")
        seen.add(component.id)
        if len(component.digest) != 64:
            problems.append(
                f"component {printable(component.id)} has invalid digest length: {len(component.digest) // 2}"
            )
    if not problems and any(a.id.encode() > b.id.encode() for a, b in zip(plan.components, plan.components[1:])):
        problems.append("components are not in canonical (ascending id) order")
    return problems


def _graph(plan: Plan) -> list[str]:
    if plan.root not in {component.id for component in plan.components}:
        return [f"root component {printable(plan.root)} not found in components"]
    # composectl walks from the root, following the bindings that name their consumer
    cycle = find_cycle((binding for binding in plan.bindings if binding.named), starts=(plan.root,))
    return [] if cycle is None else ["circular dependency detected in component graph"]


def _bindings(plan: Plan) -> list[str]:
    ids = {component.id for component in plan.components}
    problems = []
    for binding in plan.bindings:
        if binding.provider_id not in ids:
            problems.append(f"binding provider {printable(binding.provider_id)} not found")
        if not binding.import_name or not binding.export_name:
            problems.append("binding has empty import or export name")
    return problems[:1]


def _linkage(plan: Plan) -> list[str]:
    if plan.linkage == "runtime" and plan.policy.determinism == "strict":
        return ["runtime linkage is incompatible with strict determinism"]
    return []


def _explicit_exports(plan: Plan) -> list[str]:
    ids = {component.id for component in plan.components}
    seen: set[ExplicitExport] = set()
    for export in plan.explicit_exports:
        if not export.source_instance or not export.interface_name:
            return ["explicit-export has empty source_instance or interface_name"]
        if export.source_instance not in ids:
            return [f"explicit-export source {printable(export.source_instance)} not found in components"]
        if export in seen:
            return [
                f"duplicate explicit-export {printable(export.source_instance)}::{printable(export.interface_name)}"
            ]
        seen.add(export)
    return []


def _unsafe(plan: Plan) -> list[str]:
    """What hatch-pylon refuses although composectl reads it, because keeping it is unsafe (docs/design.md)."""
    return [
        f"secrets[{index}].backend_uri carries a password; a plan names where a secret lives, never a secret "
        "value (hatch-pylon refuses to keep it; composectl would read it)"
        for index, secret in enumerate(plan.secrets)
        if _has_password(secret.backend_uri)
    ]


def _has_password(uri: str) -> bool:
    authority = uri.split("://", 1)[1].split("/", 1)[0] if "://" in uri else ""
    return "@" in authority and ":" in authority.rpartition("@")[0]


def _unknown_notes(source: str, unknown: list[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """One warning per unknown key: composectl ignores it, which hides a misspelt field."""
    from difflib import get_close_matches

    notes = []
    for where, key, known in unknown:
        close = get_close_matches(key, known, n=1, cutoff=0.75)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        place = "" if where == "the plan" else f" in {where}"
        notes.append(f"{source}: composectl ignores `{printable(key)}`{place}{hint}")
    return notes


def find_cycle(bindings: Iterable[Binding], starts: Iterable[str] | None = None) -> str | None:
    """A consumer -> provider cycle as readable text, or None: of those reachable from ``starts`` (from every
    consumer by default); iterative and linear in the bindings."""
    edges: dict[str, list[Binding]] = {}
    binding: Binding | None
    for binding in sorted(bindings):
        edges.setdefault(binding.consumer_id, []).append(binding)
    done: set[str] = set()
    for start in sorted(edges) if starts is None else starts:
        if start in done:
            continue
        path: list[Binding] = []
        on_path = {start}
        stack = [(start, iter(edges.get(start, ())))]
        while stack:
            node, pending = stack[-1]
            binding = next(pending, None)
            if binding is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
                if path:
                    path.pop()
                continue
            target = binding.provider_id
            if target in on_path:
                cycle = [*path, binding]
                first = next(i for i, b in enumerate(cycle) if b.consumer_id == target)
                steps = (f"{printable(b.consumer_id)} [{printable(b.import_name)}]" for b in cycle[first:])
                return " -> ".join(steps) + f" -> {printable(target)}"
            if target in done:
                continue
            path.append(binding)
            on_path.add(target)
            stack.append((target, iter(edges.get(target, ()))))
    return None


def _canonical(value: Any, dumps: Callable[[Any], str], depth: int = 0) -> str:
    """composectl's pretty JSON (serde_json's ``to_string_pretty``); ``dumps`` writes one scalar."""
    pad = "  " * depth
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (f"{pad}  {dumps(k)}: {_canonical(v, dumps, depth + 1)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(type(item) is int for item in value):  # digests: the bulk of the text
            return "[" + ", ".join(map(str, value)) + "]"
        if all(not isinstance(item, (dict, list)) for item in value):
            return "[" + ", ".join(dumps(item) for item in value) + "]"
        return "[\n" + ",\n".join(f"{pad}  {_canonical(item, dumps, depth + 1)}" for item in value) + f"\n{pad}]"
    return dumps(value)
