"""composectl's ``PlanV1`` for runtime linkage, and its one canonical JSON text.

The text is UTF-8, two-space indented, keys in ``PlanV1`` field order,
components sorted by id and bindings by (consumer, import) in byte order,
digests as 32-integer arrays on one line, and a trailing newline. The same
plan always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import Capability, Policy
from .errors import PylonError
from .resolve import Binding, Resolution, find_cycle

PLAN_VERSION = "1"
LINKAGE = "runtime"


@dataclass(frozen=True)
class PlanComponent:
    id: str
    digest: str  # lower-case hex SHA-256


@dataclass(frozen=True)
class Plan:
    root: str
    components: tuple[PlanComponent, ...]
    bindings: tuple[Binding, ...]
    policy: Policy

    @classmethod
    def from_resolution(cls, resolution: Resolution, root: str, policy: Policy) -> Plan:
        components = tuple(PlanComponent(c.id, c.file.digest) for c in resolution.components)
        return cls(root=root, components=_sorted_components(components),
                   bindings=_sorted_bindings(resolution.bindings), policy=policy)

    def digest_of(self, component_id: str) -> str:
        return next(c.digest for c in self.components if c.id == component_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "root": self.root,
            "linkage": LINKAGE,
            "components": [{"id": c.id, "digest": list(bytes.fromhex(c.digest))} for c in self.components],
            "bindings": [
                {"consumer_id": b.consumer_id, "import_name": b.import_name,
                 "provider_id": b.provider_id, "export_name": b.export_name}
                for b in self.bindings
            ],
            "secrets": [],
            "policy": {
                "determinism": self.policy.determinism,
                "capabilities": [{"name": c.name, "level": c.level} for c in self.policy.capabilities],
                "limits": dict(self.policy.limits),
            },
        }

    def to_json(self) -> bytes:
        return (_canonical(self.to_dict()) + "\n").encode("utf-8")


class PlanFormatError(PylonError):
    """A plan.json that composectl would not accept."""


def parse_plan(data: bytes, source: str) -> Plan:
    """Read a plan.json back, raising ``PlanFormatError`` listing every structural problem."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanFormatError(f"{source}: not valid UTF-8 JSON ({exc})") from None
    problems = structural_problems(raw)
    if problems:
        raise PlanFormatError(f"{source}: invalid plan:\n" + "\n".join(f"  - {p}" for p in problems))
    policy = raw["policy"]
    return Plan(
        root=raw["root"],
        components=tuple(PlanComponent(c["id"], bytes(c["digest"]).hex()) for c in raw["components"]),
        bindings=tuple(
            Binding(b["consumer_id"], b["import_name"], b["provider_id"], b["export_name"]) for b in raw["bindings"]
        ),
        policy=Policy(
            determinism=policy["determinism"],
            capabilities=tuple(Capability(c["name"], c["level"]) for c in policy["capabilities"]),
            limits=tuple(policy["limits"].items()),
        ),
    )


def structural_problems(raw: Any) -> list[str]:
    """composectl's PlanV1 rules, plus our canonical ordering, as a list of messages."""
    if not isinstance(raw, dict):
        return ["the plan is not a JSON object"]
    problems = [f"missing field '{key}'" for key in ("version", "root", "components", "bindings", "secrets", "policy")
                if key not in raw]
    if problems:
        return problems
    if raw["version"] != PLAN_VERSION:
        problems.append(f"unsupported plan version {raw['version']!r} (expected '1')")
    if raw.get("linkage", "static") != LINKAGE:
        problems.append(f"linkage is {raw.get('linkage', 'static')!r}; a pylon bundle uses 'runtime'")
    if not isinstance(raw["root"], str) or not raw["root"]:
        problems.append("root component id is empty")
    if not isinstance(raw["secrets"], list):
        problems.append("'secrets' must be an array")
    problems += _component_problems(raw["components"], raw["root"])
    problems += _binding_problems(raw["bindings"], raw["components"])
    problems += _policy_problems(raw["policy"])
    return problems


def _component_problems(components: Any, root: Any) -> list[str]:
    if not isinstance(components, list) or not components:
        return ["'components' must be a non-empty array"]
    problems = []
    ids = []
    for index, component in enumerate(components):
        if not isinstance(component, dict) or not isinstance(component.get("id"), str) or not component["id"]:
            problems.append(f"components[{index}] has no id")
            continue
        ids.append(component["id"])
        digest = component.get("digest")
        if not (isinstance(digest, list) and len(digest) == 32
                and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in digest)):
            problems.append(f"component {component['id']!r} digest must be 32 integers 0-255")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    problems += [f"duplicate component id {i!r}" for i in duplicates]
    if ids != sorted(ids, key=str.encode):
        problems.append("components are not in ascending id order")
    if isinstance(root, str) and root and root not in ids:
        problems.append(f"root component {root!r} is not among the components")
    return problems


def _binding_problems(bindings: Any, components: Any) -> list[str]:
    if not isinstance(bindings, list):
        return ["'bindings' must be an array"]
    ids = {c.get("id") for c in components if isinstance(c, dict)} if isinstance(components, list) else set()
    problems = []
    keys = []
    wellformed = []
    fields = ("consumer_id", "import_name", "provider_id", "export_name")
    for index, binding in enumerate(bindings):
        if not isinstance(binding, dict) or not all(isinstance(binding.get(f), str) and binding[f] for f in fields):
            problems.append(f"bindings[{index}] must have non-empty {', '.join(fields)}")
            continue
        keys.append((binding["consumer_id"].encode(), binding["import_name"].encode()))
        wellformed.append(Binding(*(binding[f] for f in fields)))
        for role in ("consumer_id", "provider_id"):
            if binding[role] not in ids:
                problems.append(f"bindings[{index}] {role} {binding[role]!r} is not a component")
    if keys != sorted(keys):
        problems.append("bindings are not sorted by (consumer_id, import_name)")
    if len(set(keys)) != len(keys):
        problems.append("an import is bound more than once")
    cycle = find_cycle(wellformed)
    if cycle:
        problems.append(f"dependency cycle: {cycle}")
    return problems


def _policy_problems(policy: Any) -> list[str]:
    if not isinstance(policy, dict):
        return ["'policy' must be an object"]
    problems = []
    if policy.get("determinism") not in ("strict", "audit", "relaxed"):
        problems.append(f"policy.determinism {policy.get('determinism')!r} is not strict, audit or relaxed")
    elif policy["determinism"] == "strict":
        problems.append("runtime linkage is incompatible with strict determinism")
    if not isinstance(policy.get("capabilities"), list):
        problems.append("policy.capabilities must be an array")
    if not isinstance(policy.get("limits"), dict):
        problems.append("policy.limits is required (an object)")
    return problems


def _sorted_components(components: Iterable[PlanComponent]) -> tuple[PlanComponent, ...]:
    return tuple(sorted(components, key=lambda c: c.id.encode()))


def _sorted_bindings(bindings: Iterable[Binding]) -> tuple[Binding, ...]:
    return tuple(sorted(bindings, key=lambda b: (b.consumer_id.encode(), b.import_name.encode())))


def _canonical(value: Any, depth: int = 0) -> str:
    pad = "  " * depth
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (f'{pad}  {json.dumps(k, ensure_ascii=False)}: {_canonical(v, depth + 1)}' for k, v in value.items())
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
