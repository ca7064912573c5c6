"""composectl's ``PlanV1``: the model, its one parser, and its one canonical JSON text.

The text is UTF-8, two-space indented, keys in ``PlanV1`` field order,
components sorted by id and bindings by (consumer, import) in byte order,
digests as 32-integer arrays on one line, and a trailing newline. The same
plan always gives the same bytes. ``linkage`` is written only for runtime
linkage (composectl's default is static), ``explicit_exports`` only when
there are any.

``parse_plan`` is the only way a plan is read back: it refuses what
hatch-pylon would never write (unknown keys, duplicate keys, secrets, deep
nesting, oversized text) and checks composectl's rules in linear time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ._errors import PylonError, bullets

PLAN_VERSION = "1"
LINKAGES = ("runtime", "static")
DETERMINISM = ("strict", "audit", "relaxed")
CAPABILITY_LEVELS = ("required", "optional")
LIMIT_FIELDS = ("cpu_ms", "memory_bytes", "io_ops")
MAX_U64 = (1 << 64) - 1
MAX_PLAN_BYTES = 64 << 20  # a plan of 100,000 components and bindings is about 40 MiB
DEFAULT_CAPABILITIES = (("dynlink:resolve", "required"), ("dynlink:invoke", "required"))


class Binding(NamedTuple):
    consumer_id: str
    import_name: str
    provider_id: str
    export_name: str


class Capability(NamedTuple):
    name: str
    level: str


_DEFAULT_CAPABILITY_SET = tuple(Capability(name, level) for name, level in DEFAULT_CAPABILITIES)


class Policy(NamedTuple):
    determinism: str = "relaxed"
    capabilities: tuple[Capability, ...] = _DEFAULT_CAPABILITY_SET
    limits: tuple[tuple[str, int], ...] = ()


class PlanComponent(NamedTuple):
    id: str
    digest: str  # lower-case hex SHA-256


class ExplicitExport(NamedTuple):
    source_instance: str
    interface_name: str


class Plan(NamedTuple):
    root: str
    components: tuple[PlanComponent, ...]
    bindings: tuple[Binding, ...]
    policy: Policy = Policy()
    linkage: str = "runtime"
    explicit_exports: tuple[ExplicitExport, ...] = ()

    @classmethod
    def create(
        cls,
        root: str,
        components: Iterable[PlanComponent],
        bindings: Iterable[Binding],
        policy: Policy,
        linkage: str = "runtime",
        explicit_exports: Iterable[ExplicitExport] = (),
    ) -> Plan:
        """A plan in canonical order."""
        return cls(
            root=root,
            components=tuple(sorted(components, key=lambda c: c.id.encode())),
            bindings=tuple(sorted(bindings, key=lambda b: (b.consumer_id.encode(), b.import_name.encode()))),
            policy=policy,
            linkage=linkage,
            explicit_exports=tuple(sorted(set(explicit_exports))),
        )

    def digest_of(self, component_id: str) -> str:
        return next(c.digest for c in self.components if c.id == component_id)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"version": PLAN_VERSION, "root": self.root}
        if self.linkage != "static":
            document["linkage"] = self.linkage
        document["components"] = [{"id": c.id, "digest": list(bytes.fromhex(c.digest))} for c in self.components]
        document["bindings"] = [
            {
                "consumer_id": b.consumer_id,
                "import_name": b.import_name,
                "provider_id": b.provider_id,
                "export_name": b.export_name,
            }
            for b in self.bindings
        ]
        document["secrets"] = []
        document["policy"] = {
            "determinism": self.policy.determinism,
            "capabilities": [{"name": c.name, "level": c.level} for c in self.policy.capabilities],
            "limits": dict(self.policy.limits),
        }
        if self.explicit_exports:
            document["explicit_exports"] = [
                {"source_instance": e.source_instance, "interface_name": e.interface_name}
                for e in self.explicit_exports
            ]
        return document

    def to_json(self) -> bytes:
        return (_canonical(self.to_dict()) + "\n").encode("utf-8")


class PlanFormatError(PylonError):
    """A plan.json that composectl, or hatch-pylon, would not accept."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: invalid plan:\n{bullets(problems)}")


def parse_plan(data: bytes, source: str) -> Plan:
    """Read a plan.json back, raising ``PlanFormatError`` listing every problem."""
    if len(data) > MAX_PLAN_BYTES:
        raise PlanFormatError(source, [f"{len(data)} bytes is over the limit of {MAX_PLAN_BYTES} for a plan"])
    try:
        raw = json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys)
    except RecursionError:
        raise PlanFormatError(source, ["JSON nested too deeply"]) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PlanFormatError(source, [f"not valid UTF-8 JSON ({exc})"]) from None
    reader = _Reader()
    plan = reader.plan(raw)
    if reader.problems or plan is None:
        raise PlanFormatError(source, reader.problems)
    return plan


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


class _Reader:
    """Checks a decoded plan against composectl's rules (and hatch-pylon's stricter ones), linearly."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def keys(self, value: Mapping[str, Any], where: str, known: Iterable[str]) -> None:
        for key in sorted(set(value) - set(known)):
            self.fail(f"{where}unknown key {key!r}")

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
        if raw["secrets"] != []:
            self.fail("'secrets' must be an empty array (hatch-pylon does not bundle secrets)")
        components = self.components(raw["components"], root)
        ids = {c.id for c in components}
        bindings = self.bindings(raw["bindings"], ids)
        policy = self.policy(raw["policy"], linkage)
        exports = self.explicit_exports(raw.get("explicit_exports", []), ids)
        if self.problems:
            return None
        return Plan(root, tuple(components), tuple(bindings), policy, linkage, tuple(exports))

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
            self.keys(item, f"components[{index}]: ", ("id", "digest"))
            component_id = item["id"]
            digest = item.get("digest")
            if not (
                isinstance(digest, list) and len(digest) == 32 and all(type(b) is int and 0 <= b <= 255 for b in digest)
            ):
                self.fail(f"component {component_id!r} digest must be 32 integers 0-255")
                continue
            if component_id in seen:
                self.fail(f"duplicate component id {component_id!r}")
            seen.add(component_id)
            encoded = component_id.encode()
            ordered = ordered and encoded >= previous
            previous = encoded
            result.append(PlanComponent(component_id, bytes(digest).hex()))
        if not ordered:
            self.fail("components are not in ascending id order")
        if isinstance(root, str) and root and root not in seen:
            self.fail(f"root component {root!r} is not among the components")
        return result

    def bindings(self, value: Any, ids: set[str]) -> list[Binding]:
        if not isinstance(value, list):
            self.fail("'bindings' must be an array")
            return []
        result = []
        keys: set[tuple[bytes, bytes]] = set()
        previous = (b"", b"")
        ordered = True
        for index, item in enumerate(value):
            if not isinstance(item, dict) or not all(isinstance(item.get(f), str) and item[f] for f in _BINDING_FIELDS):
                self.fail(f"bindings[{index}] must have non-empty {', '.join(_BINDING_FIELDS)}")
                continue
            self.keys(item, f"bindings[{index}]: ", _BINDING_FIELDS)
            binding = Binding(*(item[f] for f in _BINDING_FIELDS))
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

    def policy(self, value: Any, linkage: Any) -> Policy:
        if not isinstance(value, dict):
            self.fail("'policy' must be an object")
            return Policy()
        self.keys(value, "policy: ", ("determinism", "capabilities", "limits"))
        determinism = value.get("determinism")
        if determinism not in DETERMINISM:
            self.fail(f"policy.determinism {determinism!r} is not strict, audit or relaxed")
        elif determinism == "strict" and linkage == "runtime":
            self.fail("runtime linkage is incompatible with strict determinism")
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
                    self.fail(f"policy.limits.{name} must be an integer from 0 to {MAX_U64}")
                    continue
                limits.append((name, amount))
        return Policy(str(determinism), tuple(capabilities), tuple(limits))

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
                return " -> ".join(f"{b.consumer_id} [{b.import_name}]" for b in cycle[first:]) + f" -> {target}"
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
