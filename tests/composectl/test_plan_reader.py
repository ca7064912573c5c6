"""The plan reader against composectl's own: verdicts and digests recorded from composectl's ``read_plan``,
``validate_structure`` and ``compute_plan_digest`` (the plan oracle, ``bench/composectl_parity.py``), written in.

Each plan below is one composectl reads although a strict reader might not (serde's data model: unknown keys
skipped, ``null`` for an absent ``Option``, a struct as a sequence, an enum as a one-key map, TOML text, ...), or
one it refuses; the digest is composectl's for the plan it reads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from typing import Any, Callable

import pytest
from helpers import FULL_PLAN

from hatch_pylon._errors import PlanFormatError
from hatch_pylon.composectl.plan import parse_plan

FULL = FULL_PLAN
FULL_DIGEST = "4b4729d64d7808b259718876d8df01114e8d2a3f731a793991ab32cc49e664fc"


def edited(change: Callable[[dict[str, Any]], object]) -> str:
    plan = copy.deepcopy(FULL)
    change(plan)
    return json.dumps(plan, indent=2)


def appended(text: str) -> str:
    """FULL's text with more written before its closing brace."""
    return json.dumps(FULL)[:-1] + text + "}"


def as_sequence(plan: dict[str, Any]) -> list[Any]:
    """The plan with every struct written as the sequence of its fields (serde reads both)."""
    policy = plan["policy"]
    limits = policy["limits"]
    return [
        plan["version"],
        plan["root"],
        [[c["id"], c["digest"], c.get("source")] for c in plan["components"]],
        [[b.get("consumer_id"), b["import_name"], b["provider_id"], b["export_name"]] for b in plan["bindings"]],
        [[s["secret_id"], s["backend_uri"]] for s in plan["secrets"]],
        [
            policy["determinism"],
            [[c["name"], c["level"]] for c in policy["capabilities"]],
            policy.get("tenant"),
            [limits.get("cpu_ms"), limits.get("memory_bytes"), limits.get("io_ops")],
        ],
        plan["linkage"],
        [[e["source_instance"], e["interface_name"]] for e in plan["explicit_exports"]],
    ]


def as_toml(plan: dict[str, Any]) -> str:
    """The plan as TOML text: composectl reads a plan that is not JSON as TOML."""

    def value(item: Any) -> str:
        if isinstance(item, list):
            return "[" + ", ".join(map(value, item)) + "]"
        if isinstance(item, dict):
            return "{ " + ", ".join(f"{key} = {value(v)}" for key, v in item.items()) + " }"
        return json.dumps(item)

    return "".join(f"{key} = {value(item)}\n" for key, item in plan.items())


# (kind, plan text, composectl's digest of it)
ACCEPTED: list[tuple[str, str, str]] = [
    ("unknown key in a component", edited(lambda p: p["components"][0].update(size=3)), FULL_DIGEST),
    ("unknown key at the top", edited(lambda p: p.update({"$schema": "https://x"})), FULL_DIGEST),
    (
        "null consumer_id",
        edited(lambda p: p["bindings"][0].update(consumer_id=None)),
        "09d26e06eee149bcf26e07e23c2a05caaeca3d6b934cdaf346d9ae36899c5941",
    ),
    (
        "null limit",
        edited(lambda p: p["policy"]["limits"].update(cpu_ms=None)),
        "4d6eabef0a927d3b2c7643b33777c03d58d316b85f02356faf1ef3101bf47c9c",
    ),
    (
        "null tenant and source",
        edited(lambda p: p["policy"].update(tenant=None) or p["components"][0].update(source=None)),
        "a03e0177bc3f86f190bdcc473563a0737a523bf9dd96bd9951f51851ee5dba04",
    ),
    ("struct as a sequence", json.dumps(as_sequence(FULL)), FULL_DIGEST),
    ("enum as a map", edited(lambda p: p["policy"].update(determinism={"audit": None})), FULL_DIGEST),
    (
        "empty strings",
        edited(lambda p: p["policy"].update(tenant="") or p["components"][1].update(source="")),
        "daf64a014723233b084b2a6d8bbe3fce8ca055e78f6d55cfcf6fd8851a9e95f9",
    ),
    (
        "bindings not sorted",
        edited(lambda p: p["bindings"].reverse()),
        "1128c585d8036f9796326dfb14b430383ca73fe9ca3d0e8c5f6c9174356eb5c5",
    ),
    (
        "consumer not a component",
        edited(lambda p: p["bindings"][0].update(consumer_id="ghost")),
        "0ba95b6de6026d09dedd3c60a0165aea6fb6365560f64bb18d91ac4275aada56",
    ),
    (
        "two bindings for one import",
        edited(lambda p: p["bindings"].append(dict(p["bindings"][0], provider_id="echo"))),
        "00b8af78f0bca6a4c66d81f1d53f7451a50a8a21ce5e195ef2eb82142c8397c8",
    ),
    (
        "cycle the root does not reach",
        edited(
            lambda p: p["bindings"].append(
                {"consumer_id": "echo", "import_name": "x", "provider_id": "echo", "export_name": "x"}
            )
        ),
        "5fbc9ec9fc1d9bdcd98869b67e2d97337adf813e2e14f4db134061acfabb79a2",
    ),
    (
        "secrets: empty id, duplicate id, no scheme",
        edited(
            lambda p: p["secrets"].extend(
                [{"secret_id": "", "backend_uri": "slot-0"}, {"secret_id": "db", "backend_uri": "vault://s/db"}]
            )
        ),
        "a15346b73bc342c35079efa4c9f8cfe5257e4f1f0189485dabaf83f4d5a86dd1",
    ),
    (
        "duplicate capability names",
        edited(lambda p: p["policy"]["capabilities"].append(p["policy"]["capabilities"][0])),
        "86e1d874691bc468db489a35e5d7c889757478fb81ee9f0f0ef53a98d426f790",
    ),
    (
        "a source composectl never fetches",
        edited(lambda p: p["components"][0].update(source="ftp://x/y")),
        "75593bd60ec82a499a204876f42aab1da674a7429f643690610628f0707de90e",
    ),
    ("a duplicated unknown key", appended(', "x": 1, "x": 2'), FULL_DIGEST),
    ("TOML text", as_toml(FULL), FULL_DIGEST),
    ("an escaped key", json.dumps(FULL).replace('"root"', '"r\\u006fot"'), FULL_DIGEST),
    ("a lone surrogate in an unknown key's value", appended(', "x": ["\\ud800", {"\\udc00": 1e400}]'), FULL_DIGEST),
    ("deep nesting in an unknown key's value", appended(', "x": ' + "[" * 200 + "]" * 200), FULL_DIGEST),
    (
        "the largest u64 limit",
        edited(lambda p: p["policy"]["limits"].update(cpu_ms=(1 << 64) - 1)),
        "5c8ffd65dadd7fd84d256bf29f88f517006e4e6e195050d5678889126e33dbc2",
    ),
    (
        "static and strict",
        edited(lambda p: p.update(linkage="static") or p["policy"].update(determinism="strict")),
        "ef637ae9242ce8dd30d1ffa21d5d1f0af34931632bb2279d703bd9dc47cde988",
    ),
]

# (kind, plan text, a fragment of the one problem)
REFUSED: list[tuple[str, str, str]] = [
    ("a known key twice", appended(', "root": "app"'), "duplicate field `root`"),
    ("null for a list", edited(lambda p: p.update(bindings=None)), "bindings: invalid type: null, expected a sequence"),
    ("null linkage", edited(lambda p: p.update(linkage=None)), "linkage: invalid type: null, expected enum Linkage"),
    ("enum map to a table", edited(lambda p: p["policy"].update(determinism={"audit": {}})), "expected unit"),
    ("a lone surrogate in a known string", json.dumps(FULL).replace('"acme"', '"a\\ud800"'), "lone surrogate"),
    ("a lone surrogate in an unknown key", appended(', "\\ud800": 1'), "lone surrogate"),
    ("NaN", appended(', "x": NaN'), "NaN is not JSON"),
    ("trailing text", json.dumps(FULL) + " x", "neither a JSON plan"),
    ("negative zero", edited(lambda p: p["policy"]["limits"].update(cpu_ms=-1)), "expected u64"),
    ("over u64", edited(lambda p: p["policy"]["limits"].update(cpu_ms=1 << 64)), "floating point"),
    ("a digest byte over 255", edited(lambda p: p["components"][0]["digest"].__setitem__(0, 256)), "expected u8"),
    ("a short digest", edited(lambda p: p["components"][0].update(digest=[1] * 31)), "invalid digest length: 31"),
    ("a cycle from the root", edited(lambda p: p["bindings"].append(
        {"consumer_id": "math", "import_name": "y", "provider_id": "app", "export_name": "y"})),
     "circular dependency detected in component graph"),
    ("a provider not in the plan", edited(lambda p: p["bindings"][0].update(provider_id="nope")),
     "binding provider nope not found"),
    ("an explicit export twice", edited(lambda p: p["explicit_exports"].append(dict(p["explicit_exports"][0]))),
     "duplicate explicit-export cap::a:b/extra@1.0.0"),
    ("runtime and strict", edited(lambda p: p["policy"].update(determinism="strict")), "incompatible with strict"),
    ("a struct sequence too short", json.dumps(as_sequence(FULL)).replace(", null]", "]", 1),
     "invalid length 2, expected struct ComponentSpec with 3 elements"),
    # hatch-pylon's deliberate refusals (docs/design.md): composectl reads these
    ("a password in a secret's URI", edited(lambda p: p["secrets"][0].update(backend_uri="vault://u:pw@h/db")),
     "carries a password"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "text", "expected"), ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_what_composectl_reads_is_read_with_its_digest(kind: str, text: str, expected: str) -> None:
    assert parse_plan(text.encode(), "plan.json").plan_digest() == expected


@pytest.mark.parametrize(("kind", "text", "fragment"), REFUSED, ids=[case[0] for case in REFUSED])
def test_what_composectl_refuses_is_refused_with_one_message(kind: str, text: str, fragment: str) -> None:
    with pytest.raises(PlanFormatError) as caught:
        parse_plan(text.encode(), "plan.json")
    assert len(caught.value.problems) == 1 and fragment in caught.value.problems[0], caught.value.problems


def test_an_unknown_key_is_read_past_and_named_with_a_suggestion() -> None:
    notes: list[str] = []
    text = edited(lambda p: p.update(linkge="static") or p["components"][0].update(size=3))
    assert parse_plan(text.encode(), "plan.json", notes).plan_digest() == FULL_DIGEST
    assert notes == [
        "plan.json: composectl ignores `size` in components[0]",
        "plan.json: composectl ignores `linkge`; did you mean `linkage`?",
    ]


def test_a_plan_over_64_mib_is_refused_before_it_is_read() -> None:
    """hatch-pylon's deliberate refusal (docs/design.md): composectl would read it."""
    text = appended(', "padding": "' + "x" * (64 << 20) + '"')
    with pytest.raises(PlanFormatError, match="over hatch-pylon's limit"):
        parse_plan(text.encode(), "plan.json")


# -- seeded mutants of FULL, each with composectl's verdict: its digest's first 8 hex digits, or "-" (refused) ---


def mutant(rng: random.Random) -> str:
    """FULL with one to three random edits: a key removed, null, an unknown key, an empty string, another type,
    an enum as a map, a list reversed or an item repeated, a struct as a sequence, an edge number."""
    plan = copy.deepcopy(FULL)
    for _ in range(rng.choice((1, 1, 2, 3))):
        spots = list(paths(plan))[1:]
        path = rng.choice(spots)
        parent: Any = plan
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        kind = rng.randrange(10)
        if kind == 0:
            del parent[last]
        elif kind == 1:
            parent[last] = None
        elif kind == 2 and isinstance(parent[last], dict):
            parent[last][rng.choice(("size", "linkge", "$schema"))] = rng.choice((1, None, "x"))
        elif kind == 3:
            parent[last] = ""
        elif kind == 4:
            parent[last] = rng.choice((1, "1", [], {}, True, 1.5, -3))
        elif kind == 5 and isinstance(parent[last], str):
            parent[last] = {parent[last]: rng.choice((None, {}))}
        elif kind == 6 and isinstance(parent[last], list):
            parent[last].reverse()
        elif kind == 7 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif kind == 8 and isinstance(parent[last], dict):
            parent[last] = list(parent[last].values())
        elif kind == 9:
            parent[last] = rng.choice((0, 255, 256, -1, (1 << 64) - 1, 1 << 64, "app", "math", "strict", "static"))
    return json.dumps(plan)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Any:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list) and not all(type(v) is int for v in value):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def verdicts(texts: list[str]) -> str:
    found = []
    for text in texts:
        try:
            found.append(parse_plan(text.encode(), "plan.json").plan_digest()[:8])
        except PlanFormatError:
            found.append("-")
    return " ".join(found)


MUTANT_SEED, MUTANT_COUNT = 25, 300
MUTANTS_SHA256 = "38da522a18536b1ec86c8bf551b9ee7f5ee629e29703737b3556f6411f7c418a"
RECORDED = (
    "- - - - - - 4b4729d6 4b4729d6 4b4729d6 - 4b4729d6 e7f669f5 "
    "4b4729d6 - 4b4729d6 4b4729d6 - - - - 2ef26c54 - - 4b4729d6 "
    "653a89a5 4b4729d6 4b4729d6 - - - 4b4729d6 - - - - - "
    "- 4b4729d6 - 4b4729d6 - - 4b4729d6 4b4729d6 898fbe32 4b4729d6 - - "
    "7ef352d1 - - - - - - - - - 4b4729d6 - "
    "1128c585 - - - - 898fbe32 - 4629223b - - 4b4729d6 - "
    "4b4729d6 4b4729d6 - 4629223b - - - - - 653a89a5 4b4729d6 1128c585 "
    "86e1d874 - 4b4729d6 4b4729d6 - - - - 2ef26c54 - 4b4729d6 4b4729d6 "
    "- 4b4729d6 - - - - 4d6eabef - 4b4729d6 - 86e1d874 - "
    "- - 4b4729d6 - - - - - - - 4b4729d6 36b1f590 "
    "- 4b4729d6 - - - 4b4729d6 4b4729d6 - - - - - "
    "4b4729d6 - - - - 4b4729d6 - 4b4729d6 - - 4b4729d6 - "
    "- - - 4b4729d6 - - - 4b4729d6 - - - - "
    "4b4729d6 - - - - - - e7f669f5 - - - 4b4729d6 "
    "- - - 1e869aff 18ea016b 4b4729d6 09d26e06 - - 4b4729d6 4b4729d6 - "
    "- c0d017bb - - 4b4729d6 4b4729d6 4b4729d6 - - 4b4729d6 - - "
    "- - 4b4729d6 - - 4b4729d6 4b4729d6 - 4b4729d6 - - - "
    "4b4729d6 - - - 4b4729d6 4b4729d6 - - - 4b4729d6 - - "
    "- - - 7b6d1b8a - - - - 4b4729d6 4b4729d6 - 4b4729d6 "
    "- - - - - 4b4729d6 - - 4629223b - 978239f9 - "
    "4b4729d6 7ef352d1 - 77397317 - 4b4729d6 d5811a8d - - - 4b4729d6 - "
    "- - - 4b4729d6 - - - - 4b4729d6 - - 4b4729d6 "
    "- - - - - - - 4b4729d6 - 36b1f590 4b4729d6 - "
    "77397317 - - - - 4b4729d6 - 4b4729d6 - - - - "
    "- 4b4729d6 14b0f19b 3a75b3d3 4b4729d6 - - - - - - - "
)  # fmt: skip


def test_seeded_mutants_get_composectls_verdicts_and_digests() -> None:
    rng = random.Random(MUTANT_SEED)
    texts = [mutant(rng) for _ in range(MUTANT_COUNT)]
    assert hashlib.sha256("".join(texts).encode()).hexdigest() == MUTANTS_SHA256  # the same mutants as recorded
    got, expected = verdicts(texts).split(), RECORDED.split()
    assert [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e] == []
    assert len(got) == len(expected) == MUTANT_COUNT
