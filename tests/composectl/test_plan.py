from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write_component

from hatch_pylon._errors import PlanFormatError
from hatch_pylon.build.config import load_config
from hatch_pylon.build.pipeline import plan_project
from hatch_pylon.composectl.plan import parse_plan


@pytest.fixture
def plan(tmp_path: Path):
    write_component(tmp_path / "root.wasm", imports=["b:x/i@1.0.0", "a:x/i@1.0.0"])
    write_component(tmp_path / "caps/zed.wasm", exports=["a:x/i@1.0.0"])
    write_component(tmp_path / "caps/alpha.wasm", imports=["a:x/i@1.0.0"], exports=["b:x/i@1.0.0"])
    config = load_config(
        {"root": "root.wasm", "component-dirs": ["caps"], "linkage": "runtime", "policy": {"limits": {"cpu-ms": 10}}},
        project_root=tmp_path,
        project_name="demo",
        environ={},
    )
    return plan_project(config)[1]


def test_plan_json_is_composectl_shaped_and_canonical(plan) -> None:
    text = plan.to_json().decode()
    assert text.endswith("}\n") and "\r" not in text
    raw = json.loads(text)
    assert list(raw) == ["version", "root", "linkage", "components", "bindings", "secrets", "policy"]
    assert raw["version"] == "1" and raw["linkage"] == "runtime" and raw["secrets"] == []
    assert [c["id"] for c in raw["components"]] == ["alpha", "python", "zed"]
    assert all(len(c["digest"]) == 32 and all(0 <= b < 256 for b in c["digest"]) for c in raw["components"])
    assert [(b["consumer_id"], b["import_name"]) for b in raw["bindings"]] == [
        ("alpha", "a:x/i@1.0.0"),
        ("python", "a:x/i@1.0.0"),
        ("python", "b:x/i@1.0.0"),
    ]
    assert raw["policy"] == {
        "determinism": "relaxed",
        "capabilities": [
            {"name": "dynlink:resolve", "level": "required"},
            {"name": "dynlink:invoke", "level": "required"},
        ],
        "limits": {"cpu_ms": 10},
    }
    assert parse_plan(text.encode(), "plan.json").to_json() == text.encode()
    assert "/" not in "".join(c["id"] for c in raw["components"])


def test_round_trip_is_byte_identical(plan) -> None:
    data = plan.to_json()
    assert parse_plan(data, "plan.json").to_json() == data


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda p: p.pop("secrets"), "missing field `secrets`"),
        (lambda p: p["policy"].pop("limits"), "policy: missing field `limits`"),
        (lambda p: p.update(version="2"), "unsupported plan version: 2"),
        (lambda p: p["components"].reverse(), "components are not in canonical (ascending id) order"),
        (lambda p: p["components"][0]["digest"].pop(), "component alpha has invalid digest length: 31"),
        (lambda p: p.update(root="ghost"), "root component ghost not found in components"),
        (lambda p: p["bindings"][0].update(provider_id="ghost"), "binding provider ghost not found"),
        (lambda p: p["bindings"][0].update(export_name=""), "binding has empty import or export name"),
        (lambda p: p["policy"].update(determinism="strict"), "runtime linkage is incompatible with strict determinism"),
        (
            lambda p: p["bindings"].append(
                {"consumer_id": "zed", "import_name": "z", "provider_id": "python", "export_name": "z"}
            ),
            "circular dependency detected in component graph",
        ),
    ],
)
def test_structural_rules(plan, edit, fragment: str) -> None:
    """composectl's validate_structure, each rule worded as composectl words it."""
    raw = json.loads(plan.to_json())
    edit(raw)
    with pytest.raises(PlanFormatError, match="invalid plan") as caught:
        parse_plan(json.dumps(raw).encode(), "plan.json")
    assert any(fragment in problem for problem in caught.value.problems), caught.value.problems


def test_progress_is_silent_when_quick_and_throttled_when_slow() -> None:
    from hatch_pylon.build.pipeline import throttled_progress

    now = [0.0]
    said: list[str] = []
    progress = throttled_progress(said.append, after=2.0, every=10.0, clock=lambda: now[0])
    for second in (0.5, 1.0, 1.9):
        now[0] = second
        progress(1, 1024)
    assert said == []
    for second in range(2, 40):
        now[0] = float(second)
        progress(second, second * 1024 * 1024)
    assert len(said) == 4  # at 2 s, 12 s, 22 s, 32 s
    assert said[0] == "reading components: 2 read, 2.0 MiB hashed and staged (2 s)"


@pytest.mark.slow
def test_100000_components_parse_in_linear_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Plan checks are linear: 100,000 components take seconds (a check per id inside a loop would be quadratic)."""
    import subprocess
    import sys

    code = (
        "import json, hashlib\n"
        "from hatch_pylon.composectl.plan import parse_plan\n"
        "n = 100_000\n"
        "ids = [f'c{i:06d}' for i in range(n)]\n"
        "doc = {'version': '1', 'root': ids[0], 'linkage': 'runtime',\n"
        "       'components': [{'id': c, 'digest': list(hashlib.sha256(c.encode()).digest())} for c in ids],\n"
        "       'bindings': [{'consumer_id': ids[i], 'import_name': f'k:c{i + 1}/api', 'provider_id': ids[i + 1],\n"
        "                     'export_name': f'k:c{i + 1}/api'} for i in range(n - 1)],\n"
        "       'secrets': [], 'policy': {'determinism': 'relaxed', 'capabilities': [], 'limits': {}}}\n"
        "plan = parse_plan(json.dumps(doc).encode(), 'big')\n"
        "assert len(plan.components) == n and len(plan.bindings) == n - 1\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def composectl_plan(**changes) -> dict:
    """A plan using every field composectl's PlanV1 defines, as composectl (not hatch-pylon) would write it."""
    raw = {
        "version": "1",
        "root": "app",
        "components": [
            {"id": "app", "digest": [1] * 32, "source": "https://example.org/app.wasm"},
            {"id": "cap", "digest": [2] * 32, "source": "ipfs://bafybeigdyrzt/cap.wasm"},
        ],
        "bindings": [{"import_name": "a:b/c@1.0.0", "provider_id": "cap", "export_name": "a:b/c@1.0.0"}],
        "secrets": [{"secret_id": "api-key", "backend_uri": "dev://"}],
        "policy": {"determinism": "audit", "capabilities": [], "tenant": "acme", "limits": {}},
        "linkage": "runtime",
    }
    raw.update(changes)
    return raw


def test_every_planv1_field_reads_and_writes_back() -> None:
    plan = parse_plan(json.dumps(composectl_plan()).encode(), "plan.json")
    assert [c.source for c in plan.components] == ["https://example.org/app.wasm", "ipfs://bafybeigdyrzt/cap.wasm"]
    assert plan.bindings[0].consumer_id == "app" and not plan.bindings[0].named  # the root's
    assert plan.policy.tenant == "acme" and [tuple(s) for s in plan.secrets] == [("api-key", "dev://")]
    again = json.loads(plan.to_json())
    assert "consumer_id" not in again["bindings"][0] and again["secrets"] == composectl_plan()["secrets"]
    assert list(again["policy"]) == ["determinism", "capabilities", "tenant", "limits"]
    assert parse_plan(plan.to_json(), "again") == plan


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('"digest": [0, -0, 1]', "components[0].digest[1]: invalid type: floating point `-0.0`, expected u8"),
        ('"digest": [1.5]', "components[0].digest[0]: invalid type: floating point `1.5`, expected u8"),
        ('"limits": {"cpu_ms": 1e3}', "policy.limits.cpu_ms: invalid type: floating point `1000.0`, expected u64"),
        ('"limits": {"io_ops": -0}', "policy.limits.io_ops: invalid type: floating point `-0.0`, expected u64"),
        ('"limits": {"io_ops": NaN}', "neither a JSON plan (NaN is not JSON"),
        ('"id": "\\ud800"', "components[0].id: a lone surrogate (\\ud800)"),
        ('"tenant": "x\\udfff"', "policy.tenant: a lone surrogate (\\udfff)"),
        ('"backend_uri": "vault://u:hunter2@vault.local/k"', "carries a password"),
        ('"tenant": null, "tenant": "x"', "policy: duplicate field `tenant`"),
    ],
)
def test_what_composectl_cannot_read_is_one_message_naming_where(text: str, fragment: str) -> None:
    """Each case is spliced into an otherwise good plan's text, where its key belongs."""
    key = text.split('"')[1]
    raw = composectl_plan()
    target = {
        "digest": raw["components"][0],
        "id": raw["components"][0],
        "source": raw["components"][0],
        "limits": raw["policy"],
        "tenant": raw["policy"],
        "backend_uri": raw["secrets"][0],
        "secret_id": raw["secrets"][0],
    }[key]
    target[key] = "PLACEHOLDER"
    document = json.dumps(raw).replace(f'"{key}": "PLACEHOLDER"', text)
    with pytest.raises(PlanFormatError) as caught:
        parse_plan(document.encode(), "plan.json")
    assert any(fragment in problem for problem in caught.value.problems), caught.value.problems
    assert str(caught.value).startswith("plan.json: invalid plan:")
