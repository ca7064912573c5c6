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

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .._errors import PlanFormatError, printable
from .._fs import sha256_hex

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

    def to_json(self) -> bytes:
        return (_canonical(self.to_dict()) + "\n").encode("utf-8")

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


def parse_plan(data: bytes, source: str) -> Plan:
    """Read a plan.json back, raising ``PlanFormatError`` listing every problem."""
    if len(data) > MAX_PLAN_BYTES:
        raise PlanFormatError(source, [f"{len(data)} bytes is over the limit of {MAX_PLAN_BYTES} for a plan"])
    # serde_json reads -0 as a float; only a text holding "-0" pays for the hook that keeps it apart from 0.
    parse_int = _int_or_negative_zero if b"-0" in data else None
    try:
        raw = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_float=_Float,
            parse_int=parse_int,
            parse_constant=_Float,
        )
    except RecursionError:
        raise PlanFormatError(source, ["JSON nested too deeply"]) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PlanFormatError(source, [f"not valid UTF-8 JSON ({exc})"]) from None
    if b"\\u" in data:  # only an escape can make a string that is not Unicode
        problems = _not_unicode(raw)
        if problems:
            raise PlanFormatError(source, problems)
    reader = _Reader()
    plan = reader.plan(raw)
    if reader.problems or plan is None:
        raise PlanFormatError(source, reader.problems)
    return plan


class _Float:
    """A JSON number composectl's serde reads as floating point (``1.5``, ``1e3``, ``-0``, ``NaN``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        # serde's "floating point `-0.0`": a float always shows a decimal point
        return self.text if any(c in self.text for c in ".eEIN") else f"{self.text}.0"


def _int_or_negative_zero(text: str) -> int | _Float:
    return _Float(text) if text == "-0" else int(text)


def _float_problem(where: str, value: Any, expected: str) -> str | None:
    if isinstance(value, _Float):
        return f"{where}: invalid type: floating point `{value!r}`, expected {expected}"
    return None


def _not_unicode(raw: Any) -> list[str]:
    """Where a string (or key) holds a lone surrogate, which ``\\ud800`` escapes can make; JSON paths."""
    problems = []
    pending: list[tuple[str, Any]] = [("", raw)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else str(key)
                if _lone_surrogate(key):
                    problems.append(f"{where or 'the plan'}: a key holds {_lone_surrogate(key)}")
                else:
                    pending.append((path, item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str) and _lone_surrogate(value):
            problems.append(f"{where}: {_lone_surrogate(value)}")
    return sorted(problems)


def _lone_surrogate(text: str) -> str:
    if text.isascii():
        return ""
    found = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
    if found is None:
        return ""
    return f"a lone surrogate (\\u{ord(found):04x}), which is not Unicode: composectl cannot read the string"


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise _DuplicateKey(f"duplicate key {duplicate!r}")
    return result


_TOP = ("version", "root", "linkage", "components", "bindings", "secrets", "policy", "explicit_exports")
_REQUIRED = ("version", "root", "components", "bindings", "secrets", "policy")
_BINDING_FIELDS = ("consumer_id", "import_name", "provider_id", "export_name")
_SECRET_FIELDS = ("secret_id", "backend_uri")


class _Reader:
    """Checks a decoded plan against composectl's rules (and hatch-pylon's stricter ones), linearly."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def keys(self, value: Mapping[str, Any], where: str, known: Iterable[str], hint: str = "") -> None:
        for key in sorted(set(value) - set(known)):
            self.fail(f"{where}unknown key {key!r}{hint}")

    def plan(self, raw: Any) -> Plan | None:
        if not isinstance(raw, dict):
            self.fail("the plan is not a JSON object")
            return None
        self.keys(raw, "", _TOP)
        missing = [key for key in _REQUIRED if key not in raw]
        self.problems += [f"missing field '{key}'" for key in missing]
        if missing:
            return None
        if raw["version"] != PLAN_VERSION:
            self.fail(f"unsupported plan version {raw['version']!r} (expected '1')")
        linkage = raw.get("linkage", "static")
        if linkage not in LINKAGES:
            self.fail(f"linkage {linkage!r} is not 'runtime' or 'static'")
        root = raw["root"]
        if not isinstance(root, str) or not root:
            self.fail("root component id is empty")
        components = self.components(raw["components"], root)
        ids = {c.id for c in components}
        bindings = self.bindings(raw["bindings"], ids, root if isinstance(root, str) else "")
        secrets = self.secrets(raw["secrets"])
        policy = self.policy(raw["policy"], linkage)
        exports = self.explicit_exports(raw.get("explicit_exports", []), ids)
        if self.problems:
            return None
        return Plan(root, tuple(components), tuple(bindings), policy, linkage, tuple(exports), tuple(secrets))

    def components(self, value: Any, root: Any) -> list[PlanComponent]:
        if not isinstance(value, list) or not value:
            self.fail("'components' must be a non-empty array")
            return []
        result = []
        seen: set[str] = set()
        previous = b""
        ordered = True
        for index, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                self.fail(f"components[{index}] has no id")
                continue
            self.keys(item, f"components[{index}]: ", ("id", "digest", "source"))
            component_id = item["id"]
            digest = item.get("digest")
            if not (
                isinstance(digest, list) and len(digest) == 32 and all(type(b) is int and 0 <= b <= 255 for b in digest)
            ):
                floats = (
                    [_float_problem(f"components[{index}].digest[{i}]", b, "u8") for i, b in enumerate(digest or ())]
                    if isinstance(digest, list)
                    else []
                )
                self.problems += [p for p in floats if p] or [
                    f"component {component_id!r} digest must be 32 integers 0-255"
                ]
                continue
            source = item.get("source")
            if source is not None:
                problem = source_problem(source) if isinstance(source, str) else "must be a URL (a string)"
                if problem:
                    self.fail(f"components[{index}].source: {problem}")
            if component_id in seen:
                self.fail(f"duplicate component id {component_id!r}")
            seen.add(component_id)
            encoded = component_id.encode()
            ordered = ordered and encoded >= previous
            previous = encoded
            result.append(PlanComponent(component_id, bytes(digest).hex(), source))
        if not ordered:
            self.fail("components are not in ascending id order")
        if isinstance(root, str) and root and root not in seen:
            self.fail(f"root component {root!r} is not among the components")
        return result

    def bindings(self, value: Any, ids: set[str], root: str) -> list[Binding]:
        if not isinstance(value, list):
            self.fail("'bindings' must be an array")
            return []
        result = []
        keys: set[tuple[bytes, bytes]] = set()
        previous = (b"", b"")
        ordered = True
        for index, item in enumerate(value):
            if (
                not isinstance(item, dict)
                or not all(isinstance(item.get(f), str) and item[f] for f in _BINDING_FIELDS[1:])
                or not (isinstance(item.get("consumer_id", root), str) and item.get("consumer_id", root))
            ):
                self.fail(
                    f"bindings[{index}] must have non-empty {', '.join(_BINDING_FIELDS[1:])} "
                    "(and consumer_id, when given; without it the binding is the root's)"
                )
                continue
            self.keys(item, f"bindings[{index}]: ", _BINDING_FIELDS)
            named = "consumer_id" in item
            binding = Binding(
                item.get("consumer_id", root), item["import_name"], item["provider_id"], item["export_name"], named
            )
            for role in ("consumer_id", "provider_id"):
                if getattr(binding, role) not in ids:
                    self.fail(f"bindings[{index}] {role} {getattr(binding, role)!r} is not a component")
            key = (binding.consumer_id.encode(), binding.import_name.encode())
            if key in keys:
                self.fail(f"import {binding.import_name!r} of {binding.consumer_id!r} is bound more than once")
            keys.add(key)
            ordered = ordered and key >= previous
            previous = key
            result.append(binding)
        if not ordered:
            self.fail("bindings are not sorted by (consumer_id, import_name)")
        cycle = find_cycle(result)
        if cycle:
            self.fail(f"dependency cycle: {cycle}")
        return result

    def secrets(self, value: Any) -> list[Secret]:
        if not isinstance(value, list):
            self.fail("'secrets' must be an array")
            return []
        result = []
        seen: set[str] = set()
        for index, item in enumerate(value):
            where = f"secrets[{index}]"
            if not isinstance(item, dict) or not all(isinstance(item.get(f), str) and item[f] for f in _SECRET_FIELDS):
                self.fail(f"{where} must have non-empty secret_id and backend_uri")
                continue
            self.keys(item, f"{where}: ", _SECRET_FIELDS, " (a plan names a secret and its backend, never its value)")
            problem = backend_uri_problem(item["backend_uri"])
            if problem:
                self.fail(f"{where}.backend_uri: {problem}")
            if item["secret_id"] in seen:
                self.fail(f"{where}: secret {item['secret_id']!r} is listed twice")
            seen.add(item["secret_id"])
            result.append(Secret(item["secret_id"], item["backend_uri"]))
        return result

    def policy(self, value: Any, linkage: Any) -> Policy:
        if not isinstance(value, dict):
            self.fail("'policy' must be an object")
            return Policy()
        self.keys(value, "policy: ", ("determinism", "capabilities", "tenant", "limits"))
        determinism = value.get("determinism")
        if determinism not in DETERMINISM:
            self.fail(f"policy.determinism {determinism!r} is not strict, audit or relaxed")
        elif determinism == "strict" and linkage == "runtime":
            self.fail("runtime linkage is incompatible with strict determinism")
        tenant = value.get("tenant")
        if tenant is not None and not (isinstance(tenant, str) and tenant):
            self.fail("policy.tenant must be a non-empty string (the tenant's id)")
        capabilities = []
        raw_capabilities = value.get("capabilities")
        if not isinstance(raw_capabilities, list):
            self.fail("policy.capabilities must be an array")
            raw_capabilities = []
        names: set[str] = set()
        for index, item in enumerate(raw_capabilities):
            where = f"policy.capabilities[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                self.fail(f"{where} must be an object with a non-empty name")
                continue
            self.keys(item, f"{where}: ", ("name", "level"))
            if item.get("level") not in CAPABILITY_LEVELS:
                self.fail(f"{where}.level {item.get('level')!r} is not 'required' or 'optional'")
                continue
            if item["name"] in names:
                self.fail(f"{where}: capability {item['name']!r} is listed twice")
            names.add(item["name"])
            capabilities.append(Capability(item["name"], item["level"]))
        limits = []
        raw_limits = value.get("limits")
        if not isinstance(raw_limits, dict):
            self.fail("policy.limits is required (an object)")
            raw_limits = {}
        self.keys(raw_limits, "policy.limits: ", LIMIT_FIELDS)
        for name in LIMIT_FIELDS:
            if name in raw_limits:
                amount = raw_limits[name]
                if type(amount) is not int or not 0 <= amount <= MAX_U64:
                    where = f"policy.limits.{name}"
                    self.fail(_float_problem(where, amount, "u64") or f"{where} must be an integer from 0 to {MAX_U64}")
                    continue
                limits.append((name, amount))
        return Policy(str(determinism), tuple(capabilities), tuple(limits), tenant)

    def explicit_exports(self, value: Any, ids: set[str]) -> list[ExplicitExport]:
        if not isinstance(value, list):
            self.fail("'explicit_exports' must be an array")
            return []
        result: list[ExplicitExport] = []
        seen: set[ExplicitExport] = set()
        for index, item in enumerate(value):
            fields = ("source_instance", "interface_name")
            if not isinstance(item, dict) or not all(isinstance(item.get(f), str) and item[f] for f in fields):
                self.fail(f"explicit_exports[{index}] must have non-empty source_instance and interface_name")
                continue
            self.keys(item, f"explicit_exports[{index}]: ", fields)
            export = ExplicitExport(item["source_instance"], item["interface_name"])
            if export.source_instance not in ids:
                self.fail(f"explicit_exports[{index}] source_instance {export.source_instance!r} is not a component")
            if export in seen:
                self.fail(f"explicit_exports[{index}] is listed twice")
            seen.add(export)
            result.append(export)
        return result


def find_cycle(bindings: Iterable[Binding]) -> str | None:
    """A consumer -> provider cycle as readable text, or None; iterative and linear in the bindings."""
    edges: dict[str, list[Binding]] = {}
    binding: Binding | None
    for binding in sorted(bindings):
        edges.setdefault(binding.consumer_id, []).append(binding)
    done: set[str] = set()
    for start in sorted(edges):
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


def _canonical(value: Any, depth: int = 0) -> str:
    pad = "  " * depth
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (f"{pad}  {json.dumps(k, ensure_ascii=False)}: {_canonical(v, depth + 1)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(type(item) is int for item in value):  # digests: the bulk of the text
            return "[" + ", ".join(map(str, value)) + "]"
        if all(not isinstance(item, (dict, list)) for item in value):
            return "[" + ", ".join(json.dumps(item, ensure_ascii=False) for item in value) + "]"
        return "[\n" + ",\n".join(f"{pad}  {_canonical(item, depth + 1)}" for item in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)
