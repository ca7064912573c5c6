"""composectl's plan digest: the conformance vectors re-encoded byte for byte, and the CBOR rules behind them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import cbor_decode as decode

from hatch_pylon.composectl.plan import (
    MAX_U64,
    Binding,
    Capability,
    ExplicitExport,
    Plan,
    PlanComponent,
    PlanFormatError,
    Policy,
    Secret,
    cbor,
    parse_plan,
)

VECTORS = Path(__file__).resolve().parents[1] / "composectl-vectors"
FIXTURES = json.loads((VECTORS / "fixtures.json").read_text())


def model_of(raw: dict[str, Any]) -> Plan:
    """A decoded PlanV1 as the model, taken as it is (no rule checked): for the vectors composectl refuses."""
    policy = raw["policy"]
    return Plan(
        raw["root"],
        tuple(PlanComponent(c["id"], bytes(c["digest"]).hex(), c.get("source")) for c in raw["components"]),
        tuple(
            Binding(b.get("consumer_id", raw["root"]), b["import_name"], b["provider_id"], b["export_name"])
            for b in raw["bindings"]
        ),
        Policy(
            policy["determinism"],
            tuple(Capability(c["name"], c["level"]) for c in policy["capabilities"]),
            tuple(policy["limits"].items()),
            policy.get("tenant"),
        ),
        raw.get("linkage", "static"),
        secrets=tuple(Secret(s["secret_id"], s["backend_uri"]) for s in raw["secrets"]),
    )


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["name"] for f in FIXTURES])
def test_conformance_vectors_re_encode_to_their_bytes_and_digest(fixture: dict[str, Any]) -> None:
    data = (VECTORS / f"{fixture['name']}.cbor").read_bytes()
    recorded = (VECTORS / f"{fixture['name']}.sha256.txt").read_text().split()[0]
    assert hashlib.sha256(data).hexdigest() == recorded
    raw = decode(data)
    text = json.dumps(raw).encode()  # the same plan, as a plan.json composectl would read
    if fixture["expect_pass"]:
        plan = parse_plan(text, f"{fixture['name']}.json")
        # and back through hatch-pylon's own canonical text, as a wheel built from an sdist rewrites it
        plan = parse_plan(plan.to_json(), "rewritten")
    else:
        with pytest.raises(PlanFormatError) as refused:
            parse_plan(text, f"{fixture['name']}.json")
        assert any(
            problem in ("components are not in canonical (ascending id) order", "duplicate component ID: dup")
            for problem in refused.value.problems
        ), refused.value.problems
        plan = model_of(raw)
    assert plan.to_cbor() == data
    assert plan.plan_digest() == recorded


def test_every_field_composectl_defines_is_encoded_in_field_order() -> None:
    plan = Plan(
        "app",
        (
            PlanComponent("app", "ab" * 32),
            PlanComponent("base", "ef" * 32, "file:///opt/caps/base.wasm"),
            PlanComponent("lib", "cd" * 32, "oci://ghcr.io/acme/lib:1"),
        ),
        (Binding("app", "a:b/c", "lib", "a:b/c", named=False), Binding("lib", "x:y/z", "base", "x:y/z")),
        Policy("audit", (Capability("dynlink:resolve", "optional"),), (("cpu_ms", 5), ("io_ops", 7)), "acme"),
        "runtime",
        (ExplicitExport("lib", "x:y/z"),),
        (Secret("api-key", "vault://secrets/app"),),
    )
    raw = decode(plan.to_cbor())
    assert list(raw) == [
        "version",
        "root",
        "components",
        "bindings",
        "secrets",
        "policy",
        "linkage",
        "explicit_exports",
    ]
    assert raw["components"][2] == {"id": "lib", "digest": [0xCD] * 32, "source": "oci://ghcr.io/acme/lib:1"}
    assert list(raw["components"][0]) == ["id", "digest"]
    assert list(raw["bindings"][0]) == ["import_name", "provider_id", "export_name"]
    assert list(raw["bindings"][1]) == ["consumer_id", "import_name", "provider_id", "export_name"]
    assert raw["secrets"] == [{"secret_id": "api-key", "backend_uri": "vault://secrets/app"}]
    assert list(raw["policy"]) == ["determinism", "capabilities", "tenant", "limits"]
    assert raw["policy"]["limits"] == {"cpu_ms": 5, "io_ops": 7}
    assert raw["linkage"] == "runtime" and raw["explicit_exports"] == [
        {"source_instance": "lib", "interface_name": "x:y/z"}
    ]
    # JSON round trip keeps every field, and with it the digest
    again = parse_plan(plan.to_json(), "plan.json")
    assert again == plan and again.plan_digest() == plan.plan_digest()
    # naming the root as the consumer is another plan to composectl
    named = plan._replace(bindings=(plan.bindings[0]._replace(named=True), plan.bindings[1]))
    assert named.plan_digest() != plan.plan_digest()


def test_limits_are_encoded_in_composectls_field_order_whatever_the_model_order() -> None:
    plan = Plan("a", (PlanComponent("a", "00" * 32),), (), Policy(limits=(("io_ops", 1), ("cpu_ms", 2))))
    assert list(decode(plan.to_cbor())["policy"]["limits"]) == ["cpu_ms", "io_ops"]


@pytest.mark.parametrize(
    ("value", "head"),
    [
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65535, "19ffff"),
        (65536, "1a00010000"),
        ((1 << 32) - 1, "1affffffff"),
        (1 << 32, "1b0000000100000000"),
        (MAX_U64, "1bffffffffffffffff"),
    ],
)
def test_integers_take_their_shortest_form(value: int, head: str) -> None:
    assert cbor(value).hex() == head  # RFC 8949 section 4.2.1, as ciborium writes them
    assert decode(cbor(value)) == value


@pytest.mark.parametrize("length", [0, 23, 24, 255, 256, 70000])
def test_text_and_array_lengths_take_their_shortest_form(length: int) -> None:
    text = "é" * (length // 2) + "x" * (length % 2)  # UTF-8 length, not characters, is what counts
    assert decode(cbor(text)) == text
    assert decode(cbor([1] * length)) == [1] * length


def test_values_a_plan_never_holds_are_refused() -> None:
    assert cbor(bytes([1, 24, 255])) == cbor([1, 24, 255]) == bytes.fromhex("8301181818ff")  # serde's Vec<u8>
    for value in (-1, True, 1.5, None, 1 << 64, {1: 2}):
        with pytest.raises((TypeError, ValueError)):
            cbor(value)
