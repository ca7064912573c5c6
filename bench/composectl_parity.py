"""Differential check of hatch-pylon's plan reader against composectl's own plan code (the plan oracle).

    python bench/composectl_parity.py --oracle PATH [--mutants 13000] [--seed 1] [--keep DIR]

``PATH`` is the ``plan-oracle`` binary that ``../shared/composectl-oracle/build.sh`` builds (composectl's
``read_plan`` + ``validate_structure`` + ``compute_plan_digest``, compiled from its sources). The script writes
hand-made plans (every kind of plan composectl's serde data model admits, and many it refuses) and seeded random
mutants of valid plans, asks the oracle and ``composectl.plan.parse_plan`` about each, and counts:

- agree: both accept with the same digest, or both refuse;
- deliberate: hatch-pylon refuses a plan composectl accepts for a reason docs/design.md lists (size, a password
  in a secret's URI, nesting deeper than Python decodes);
- disagree: anything else (printed, the first 20, with the file kept under ``--keep``).

The exit status is 1 when anything disagrees.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers import FULL_PLAN, fake_digest  # noqa: E402

from hatch_pylon._errors import PlanFormatError  # noqa: E402
from hatch_pylon.composectl.plan import parse_plan  # noqa: E402

DELIBERATE = ("over hatch-pylon's limit", "carries a password", "nested too deeply")


def base_plans() -> list[dict[str, Any]]:
    """Valid plans using every PlanV1 field."""
    hello = {
        "version": "1",
        "root": "app",
        "components": [{"id": "app", "digest": fake_digest(1)}],
        "bindings": [],
        "secrets": [],
        "policy": {"determinism": "relaxed", "capabilities": [], "limits": {}},
    }
    full = copy.deepcopy(FULL_PLAN)
    strict = copy.deepcopy(full)
    strict["policy"]["determinism"] = "strict"
    strict["linkage"] = "static"
    return [hello, full, strict]


def as_array(value: Any, order: dict[str, tuple[str, ...]], kind: str) -> Any:
    """A struct written as a sequence of its fields, in field order (what serde also reads)."""
    fields = order[kind]
    return [value.get(name) for name in fields]


ORDER = {
    "plan": ("version", "root", "components", "bindings", "secrets", "policy", "linkage", "explicit_exports"),
    "component": ("id", "digest", "source"),
    "binding": ("consumer_id", "import_name", "provider_id", "export_name"),
    "policy": ("determinism", "capabilities", "tenant", "limits"),
    "limits": ("cpu_ms", "memory_bytes", "io_ops"),
}


def to_toml(plan: dict[str, Any]) -> str | None:
    """A plan as TOML text (None when a value has no TOML form)."""

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return json.dumps(value)
        if isinstance(value, list):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {scalar(v)}" for k, v in value.items()) + "}"
        raise TypeError

    try:
        lines = [f"{json.dumps(k)} = {scalar(v)}" for k, v in plan.items() if v is not None]
    except TypeError:
        return None
    return "\n".join(lines) + "\n"


def handmade() -> dict[str, str]:
    """Plans by name: each kind composectl reads that a strict reader might not, and refusals."""
    hello, full, strict = base_plans()
    cases: dict[str, Any] = {"hello": hello, "full": full, "strict-static": strict}

    def edit(name: str, base: dict[str, Any], change: Any) -> None:
        plan = copy.deepcopy(base)
        change(plan)
        cases[name] = plan

    edit("unknown-key-component", full, lambda p: p["components"][0].update(size=3))
    edit("unknown-key-schema", full, lambda p: p.update({"$schema": "https://x"}))
    edit("null-consumer", full, lambda p: p["bindings"][0].update(consumer_id=None))
    edit("null-limit", full, lambda p: p["policy"]["limits"].update(cpu_ms=None))
    edit("null-tenant", full, lambda p: p["policy"].update(tenant=None))
    edit("null-source", full, lambda p: p["components"][1].update(source=None))
    edit("enum-map", full, lambda p: p["policy"].update(determinism={"relaxed": None}))
    edit("enum-map-linkage", full, lambda p: p.update(linkage={"runtime": None}))
    edit("enum-map-level", full, lambda p: p["policy"]["capabilities"][0].update(level={"optional": None}))
    edit("empty-tenant", full, lambda p: p["policy"].update(tenant=""))
    edit("empty-source", full, lambda p: p["components"][0].update(source=""))
    edit("unsorted-bindings", full, lambda p: p["bindings"].reverse())
    edit("consumer-not-component", full, lambda p: p["bindings"][0].update(consumer_id="ghost"))
    edit("consumer-empty", full, lambda p: p["bindings"][0].update(consumer_id=""))
    edit("two-bindings-one-import", full, lambda p: p["bindings"].append(dict(p["bindings"][0], provider_id="echo")))
    edit(
        "cycle-unreachable",
        full,
        lambda p: p["bindings"].append(
            {"consumer_id": "echo", "import_name": "x", "provider_id": "echo", "export_name": "x"}
        ),
    )
    edit(
        "cycle-from-root",
        full,
        lambda p: p["bindings"].append(
            {"consumer_id": "math", "import_name": "y", "provider_id": "app", "export_name": "y"}
        ),
    )
    edit(
        "cycle-through-unnamed",
        full,
        lambda p: (
            p["bindings"].append({"consumer_id": "math", "import_name": "y", "provider_id": "app", "export_name": "y"})
            or p["bindings"].__setitem__(0, dict(p["bindings"][0], consumer_id=None, provider_id="math"))
        ),
    )
    edit("secret-empty-id", full, lambda p: p["secrets"].append({"secret_id": "", "backend_uri": ""}))
    edit("secret-duplicate", full, lambda p: p["secrets"].append(dict(p["secrets"][0])))
    edit("secret-no-scheme", full, lambda p: p["secrets"][0].update(backend_uri="slot-0"))
    edit("secret-password", full, lambda p: p["secrets"][0].update(backend_uri="vault://u:pw@host/db"))
    edit("capability-duplicate", full, lambda p: p["policy"]["capabilities"].append(p["policy"]["capabilities"][0]))
    edit("capability-empty", full, lambda p: p["policy"]["capabilities"].append({"name": "", "level": "optional"}))
    edit("source-ftp", full, lambda p: p["components"][0].update(source="ftp://x/y"))
    edit("provider-missing", full, lambda p: p["bindings"][0].update(provider_id="nope"))
    edit("import-empty", full, lambda p: p["bindings"][0].update(import_name=""))
    edit("root-missing", full, lambda p: p.update(root="nope"))
    edit("root-empty", full, lambda p: p.update(root=""))
    edit("components-empty", full, lambda p: p.update(components=[]))
    edit("components-unsorted", full, lambda p: p["components"].reverse())
    edit("components-duplicate", full, lambda p: p["components"].append(dict(p["components"][-1])))
    edit("digest-short", full, lambda p: p["components"][0].update(digest=[1] * 31))
    edit("digest-256", full, lambda p: p["components"][0]["digest"].__setitem__(0, 256))
    edit("version-2", full, lambda p: p.update(version="2"))
    edit("runtime-strict", full, lambda p: p["policy"].update(determinism="strict"))
    edit("ee-duplicate", full, lambda p: p["explicit_exports"].append(dict(p["explicit_exports"][0])))
    edit("ee-unknown", full, lambda p: p["explicit_exports"].append({"source_instance": "x", "interface_name": "i"}))
    edit("ee-empty", full, lambda p: p["explicit_exports"].append({"source_instance": "", "interface_name": "i"}))
    edit("missing-policy", full, lambda p: p.pop("policy"))
    edit("missing-limits", full, lambda p: p["policy"].pop("limits"))
    edit("missing-source-ok", full, lambda p: p["components"][0].pop("source"))
    edit("limit-max", full, lambda p: p["policy"]["limits"].update(cpu_ms=(1 << 64) - 1))
    edit("limit-over", full, lambda p: p["policy"]["limits"].update(cpu_ms=1 << 64))
    edit("limit-negative", full, lambda p: p["policy"]["limits"].update(cpu_ms=-1))
    edit("bindings-null", full, lambda p: p.update(bindings=None))
    edit("linkage-null", full, lambda p: p.update(linkage=None))
    edit("ee-null", full, lambda p: p.update(explicit_exports=None))
    texts = {name: json.dumps(plan, indent=2) for name, plan in cases.items()}
    # text-level kinds
    full_text = json.dumps(full)
    texts["duplicate-unknown-key"] = full_text[:-1] + ', "x": 1, "x": 2}'
    texts["duplicate-known-key"] = full_text[:-1] + ', "root": "app"}'
    texts["lone-surrogate-ignored"] = full_text[:-1] + ', "x": "\\ud800"}'
    texts["lone-surrogate-known"] = full_text.replace('"acme"', '"acme\\ud800"')
    texts["lone-surrogate-unknown-key"] = full_text[:-1] + ', "\\ud800": 1}'
    texts["escaped-key"] = full_text.replace('"root"', '"r\\u006fot"')
    texts["nan-ignored"] = full_text[:-1] + ', "x": NaN}'
    texts["huge-float-ignored"] = full_text[:-1] + ', "x": 1e400}'
    texts["huge-int-ignored"] = full_text[:-1] + ', "x": ' + "9" * 5000 + "}"
    texts["deep-ignored"] = full_text[:-1] + ', "x": ' + "[" * 200 + "]" * 200 + "}"
    texts["negative-zero"] = full_text.replace('"cpu_ms": 1000', '"cpu_ms": -0')
    texts["float-limit"] = full_text.replace('"cpu_ms": 1000', '"cpu_ms": 1000.0')
    texts["bom"] = "\ufeff" + full_text
    texts["trailing"] = full_text + " x"
    texts["empty"] = ""
    texts["whitespace"] = " \n\t"
    texts["over-64-mib"] = full_text[:-1] + ', "padding": "' + "x" * (64 << 20) + '"}'
    # structs as sequences
    array_plan = copy.deepcopy(hello)
    array_plan["components"] = [as_array(c, ORDER, "component") for c in array_plan["components"]]
    array_plan["policy"] = as_array(array_plan["policy"], ORDER, "policy")
    array_plan["policy"][3] = as_array(hello["policy"]["limits"], ORDER, "limits")
    texts["struct-as-sequence"] = json.dumps(as_array(array_plan, ORDER, "plan")[:6])
    texts["struct-as-sequence-linkage"] = json.dumps([*as_array(array_plan, ORDER, "plan")[:6], "runtime"])
    texts["struct-as-sequence-short-component"] = json.dumps(
        [*as_array(array_plan, ORDER, "plan")[:5], array_plan["policy"]]
    ).replace(", null]]", "]]", 1)
    texts["struct-as-sequence-extra"] = json.dumps([*as_array(array_plan, ORDER, "plan")[:6], "static", [], "x"])
    # TOML
    for name in ("hello", "full"):
        toml = to_toml(cases[name])
        if toml:
            texts[f"toml-{name}"] = toml
    enum_table = '"determinism": {relaxed = {}}'
    texts["toml-enum-table"] = (to_toml(hello) or "").replace('"determinism": "relaxed"', enum_table)
    return texts


MUTATIONS = (
    "delete",
    "null",
    "unknown",
    "empty-string",
    "type",
    "enum-map",
    "reverse",
    "duplicate-item",
    "sequence",
    "number",
    "text",
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list) and not all(type(v) is int for v in value):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def mutant(rng: random.Random, base: dict[str, Any]) -> str:
    plan = copy.deepcopy(base)
    for _ in range(rng.choice((1, 1, 2, 3))):
        spots = paths(plan)[1:]
        if not spots:
            break
        path = rng.choice(spots)
        parent, last = get(plan, path[:-1]), path[-1]
        kind = rng.choice(MUTATIONS)
        if kind == "delete":
            del parent[last]
        elif kind == "null":
            parent[last] = None
        elif kind == "unknown" and isinstance(get(plan, path), dict):
            get(plan, path)[rng.choice(("size", "linkge", "notes", "$schema", "consumer"))] = rng.choice((1, None, "x"))
        elif kind == "empty-string":
            parent[last] = ""
        elif kind == "type":
            parent[last] = rng.choice((1, "1", [], {}, True, 1.5, -3))
        elif kind == "enum-map" and isinstance(parent[last], str):
            parent[last] = {parent[last]: rng.choice((None, None, {}, 1))}
        elif kind == "reverse" and isinstance(parent[last], list):
            parent[last].reverse()
        elif kind == "duplicate-item" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif kind == "sequence" and isinstance(parent[last], dict):
            parent[last] = list(parent[last].values())
        elif kind == "number":
            parent[last] = rng.choice((0, 255, 256, -1, (1 << 64) - 1, 1 << 64, 2.0))
        elif kind == "text" and isinstance(parent[last], str):
            parent[last] = rng.choice(("2", "app", "cap", "math", "zzz", "strict", "runtime", "static", "relaxed"))
    if rng.random() < 0.1:
        toml = to_toml(plan)
        if toml is not None:
            return toml
    text = json.dumps(plan, indent=rng.choice((None, 2)))
    if rng.random() < 0.05:  # a key written twice
        key = rng.choice(("root", "version", "id", "tenant", "cpu_ms", "x", "linkage", "level"))
        at = text.find("{") + 1
        text = text[:at] + f'"{key}": {rng.choice(("1", "null", json.dumps("app")))}, ' + text[at:]
    if rng.random() < 0.05:  # a character inserted or removed anywhere
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(("", ",", "}", '"', "]", "x")) + text[at + 1 :]
    return text


def ours(path: Path) -> tuple[bool, str]:
    try:
        plan = parse_plan(path.read_bytes(), path.name)
    except PlanFormatError as error:
        return False, "; ".join(error.problems)
    return True, plan.plan_digest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", required=True, help="the plan-oracle binary")
    parser.add_argument("--mutants", type=int, default=13000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the plans here (default: a temp folder, removed)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        files: list[tuple[str, Path]] = []
        for name, text in handmade().items():
            files.append(("handmade", folder / f"{name}.json"))
            files[-1][1].write_text(text, encoding="utf-8")
        bases = base_plans()
        for index in range(args.mutants):
            path = folder / f"mutant-{index:05d}.json"
            path.write_text(mutant(rng, rng.choice(bases)), encoding="utf-8")
            files.append(("mutant", path))
        listing = folder / "FILES.txt"
        listing.write_text("".join(f"{path}\n" for _, path in files))
        result = subprocess.run([args.oracle, "--list", str(listing)], capture_output=True, text=True, check=True)
        verdicts = {Path(line["file"]).name: line for line in map(json.loads, result.stdout.splitlines())}
        counts: dict[str, dict[str, int]] = {}
        disagreements = []
        for group, path in files:
            theirs = verdicts[path.name]
            accepted, detail = ours(path)
            if theirs["accepted"] and accepted:
                outcome = "agree: both accept, same digest" if detail == theirs["digest"] else "disagree: digest"
            elif not theirs["accepted"] and not accepted:
                outcome = "agree: both refuse"
            elif theirs["accepted"] and any(reason in detail for reason in DELIBERATE):
                outcome = "deliberate refusal"
            else:
                outcome = "disagree: " + ("hatch-pylon refuses" if theirs["accepted"] else "hatch-pylon accepts")
            counts.setdefault(group, {}).setdefault(outcome, 0)
            counts[group][outcome] += 1
            if outcome.startswith("disagree"):
                disagreements.append((path.name, outcome, theirs.get("reason") or theirs.get("code"), detail))
        for group, by_outcome in counts.items():
            total = sum(by_outcome.values())
            print(f"{group}: {total} plans")
            for outcome, count in sorted(by_outcome.items()):
                print(f"  {outcome}: {count}")
        for name, outcome, theirs_said, detail in disagreements[:20]:
            print(f"{name}: {outcome}\n  composectl: {theirs_said}\n  hatch-pylon: {detail[:300]}")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
