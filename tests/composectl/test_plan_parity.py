"""Every PlanV1 field through the commands a user runs: plan, verify and trust, on built and hand-written bundles."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import cbor_decode as decode
from helpers import hook_pyproject, write_component

from hatch_pylon.adapters.cli import main
from hatch_pylon.composectl.plan import parse_plan

PARITY_HOOK = """root = "root.wasm"
component-dirs = ["caps"]
[[tool.hatch.build.hooks.pylon.components]]
id = "arrow"
path = "pinned/arrow.wasm"
source = "oci://ghcr.io/acme/arrow:1.2"
[tool.hatch.build.hooks.pylon.policy]
tenant = "acme"
[[tool.hatch.build.hooks.pylon.secrets]]
secret-id = "db-password"
backend-uri = "vault://secrets/db"
[[tool.hatch.build.hooks.pylon.secrets]]
secret-id = "api-key"
backend-uri = "dev://"
"""
TRUST_ENTRY = b'{\n  "signer": "hatch-pylon",\n  "backend": "dev"\n}'  # composectl's trust_digest, byte for byte
OK_LINE = re.compile(r": OK \(.*\); plan digest ([0-9a-f]{64})\n")


@pytest.fixture
def parity_project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    write_component(project / "root.wasm", imports=["a:arrow/api@1.0.0", "m:math/ops@1.0.0"])
    write_component(project / "pinned/arrow.wasm", exports=["a:arrow/api@1.0.0"])
    write_component(project / "caps/math.wasm", exports=["m:math/ops@1.0.0"])
    (project / "pyproject.toml").write_text(hook_pyproject("parity", PARITY_HOOK))
    (project / "parity").mkdir()
    (project / "parity" / "__init__.py").write_text("")
    return project


def out_of(capsys, command: list[str], code: int = 0) -> str:
    assert main(command) == code, capsys.readouterr()
    return capsys.readouterr().out


def test_plan_writes_every_configured_field_and_its_digest(parity_project: Path, capsys) -> None:
    plan = json.loads(out_of(capsys, ["plan", str(parity_project), "--json"]))
    assert [c.get("source") for c in plan["components"]] == ["oci://ghcr.io/acme/arrow:1.2", None, None]
    assert plan["policy"]["tenant"] == "acme"
    assert plan["secrets"] == [
        {"secret_id": "api-key", "backend_uri": "dev://"},
        {"secret_id": "db-password", "backend_uri": "vault://secrets/db"},
    ]
    digest = out_of(capsys, ["plan", str(parity_project), "--digest"])
    assert re.fullmatch(r"[0-9a-f]{64}\n", digest)
    summary = out_of(capsys, ["plan", str(parity_project)])
    assert f"plan digest: {digest.strip()}   tenant: acme\n" in summary
    assert re.search(r"component arrow .* source oci://ghcr.io/acme/arrow:1.2\n", summary), summary
    assert "secret    api-key  from dev://\nsecret    db-password  from vault://secrets/db\n" in summary
    cbor = subprocess.run(
        [sys.executable, "-c", "import sys, json; from hatch_pylon.composectl.plan import parse_plan; "
         "sys.stdout.buffer.write(parse_plan(sys.stdin.buffer.read(), 'p').to_cbor())"],
        input=json.dumps(plan).encode(), capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert hashlib.sha256(cbor).hexdigest() == digest.strip()
    assert decode(cbor) == plan  # the same plan, field for field, in composectl's canonical CBOR


def test_a_configured_source_with_a_scheme_composectl_cannot_fetch_fails_plan(parity_project: Path, capsys) -> None:
    pyproject = parity_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("oci://ghcr.io", "ftp://ghcr.io"))
    assert main(["plan", str(parity_project)]) == 1
    err = capsys.readouterr().err
    assert "tool.hatch.build.hooks.pylon.components[0].source: unsupported source scheme in 'ftp://ghcr.io" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_built_wheel_carries_the_plan_digest_and_trust_prints_what_a_launcher_needs(
    parity_project: Path, tmp_path: Path, capsys
) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(tmp_path / "dist"),
         str(parity_project)],
        check=True, capture_output=True,
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("*.whl"))
    planned = out_of(capsys, ["plan", str(parity_project), "--digest"]).strip()
    match = OK_LINE.search(out_of(capsys, ["verify", str(wheel)]))
    assert match and match[1] == planned
    with zipfile.ZipFile(wheel) as archive:
        record = json.loads(archive.read("parity/_pylon/pylon.json"))
        bundled = json.loads(archive.read("parity/_pylon/plan.json"))
    assert record["plan-digest"] == planned
    assert bundled["policy"]["tenant"] == "acme" and len(bundled["secrets"]) == 2

    store = tmp_path / "store"
    assert main(["trust", str(wheel), "--store", str(store)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == f"plan digest {planned}"
    components = {c["id"]: bytes(c["digest"]).hex() for c in bundled["components"]}
    assert [line.split()[1:3] for line in lines[1:]] == [[repr(cid), "sha256"] for cid in sorted(components)]
    for line in lines[1:]:
        _, cid, _, digest, entry = line.split()
        assert digest == components[cid.strip("'")]
        assert Path(entry) == store / "trust" / digest[:2] / f"{digest[2:]}.json"
        assert Path(entry).read_bytes() == TRUST_ENTRY
        blob = store / "blobs" / digest[:2] / digest[2:]
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
    assert "does not load trust/*.json" in captured.err and "TrustStore::trust_digest" in captured.err


# -- hand-written plans, as composectl (not hatch-pylon) writes them -------------------------------------


def composectl_bundle(folder: Path, edit=None) -> Path:
    """A bundle folder with real component blobs and a plan using every PlanV1 field, no pylon.json."""
    blobs = {
        "app": write_component(folder / "src/app.wasm", imports=["a:b/c@1.0.0"]),
        "cap": write_component(folder / "src/cap.wasm", exports=["a:b/c@1.0.0"]),
    }
    components = []
    for cid, path in sorted(blobs.items()):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        blob = folder / "bundle/.compose/blobs" / digest[:2] / digest[2:]
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        components.append({"id": cid, "digest": list(bytes.fromhex(digest)), "source": f"file:///opt/{cid}.wasm"})
    plan = {
        "version": "1",
        "root": "app",
        "components": components,
        "bindings": [{"import_name": "a:b/c@1.0.0", "provider_id": "cap", "export_name": "a:b/c@1.0.0"}],
        "secrets": [{"secret_id": "token", "backend_uri": "pkcs11://slot/0"}],
        "policy": {"determinism": "audit", "capabilities": [], "tenant": "team-a", "limits": {"cpu_ms": 1000}},
        "linkage": "runtime",
    }
    text = json.dumps(plan, indent=4)
    (folder / "bundle/plan.json").write_text(edit(text) if edit else text)
    return folder / "bundle"


def test_a_composectl_plan_with_every_field_verifies_and_keeps_its_digest(tmp_path: Path, capsys) -> None:
    bundle = composectl_bundle(tmp_path)
    match = OK_LINE.search(out_of(capsys, ["verify", str(bundle)]))
    raw = json.loads((bundle / "plan.json").read_text())
    from hatch_pylon.composectl.plan import parse_plan

    plan = parse_plan((bundle / "plan.json").read_bytes(), "plan.json")
    assert match and match[1] == plan.plan_digest()
    assert decode(plan.to_cbor()) == raw  # nothing dropped or added: the binding stays the root's, unnamed
    out_of(capsys, ["trust", str(bundle), "--store", str(tmp_path / "store")])


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"cpu_ms": 1000', '"cpu_ms": -0', "plan.json: policy.limits.cpu_ms: invalid type: floating point `-0.0`"),
        ('"cpu_ms": 1000', '"cpu_ms": 1000.0', "plan.json: policy.limits.cpu_ms: invalid type: floating point"),
        ('"tenant": "team-a"', '"tenant": "team-\\ud800"', "plan.json: policy.tenant: a lone surrogate (\\ud800)"),
        ('"id": "cap"', '"id": "\\udc00"', "plan.json: components[1].id: a lone surrogate (\\udc00)"),
        ('"pkcs11://slot/0"', '"vault://u:pw@host/0"', "plan.json: secrets[0].backend_uri carries a password"),
        ('"root": "app"', '"root": "app", "root": "app"', "plan.json: the plan: duplicate field `root`"),
    ],
)
def test_what_composectl_cannot_read_fails_every_command_with_one_message(
    tmp_path: Path, capsys, old: str, new: str, message: str
) -> None:
    bundle = composectl_bundle(tmp_path, lambda text: text.replace(old, new, 1))
    for command in (["verify", str(bundle)], ["trust", str(bundle), "--store", str(tmp_path / "store")]):
        assert main(command) == 1
        captured = capsys.readouterr()
        assert message in captured.out + captured.err
        assert "Traceback" not in captured.err and "UnicodeEncodeError" not in captured.err
    assert not (tmp_path / "store").exists()


def test_what_composectl_reads_leniently_verifies_and_an_unknown_key_is_named(tmp_path: Path, capsys) -> None:
    def lenient(text: str) -> str:
        plan = json.loads(text)
        plan["linkge"] = "static"  # a typo composectl skips: the plan stays runtime
        plan["policy"].update(tenant="", capabilities=[{"name": "x", "level": {"optional": None}}] * 2)
        plan["secrets"][0]["backend_uri"] = "slot-0"
        return json.dumps(plan)

    bundle = composectl_bundle(tmp_path, lenient)
    match = OK_LINE.search(out_of(capsys, ["verify", str(bundle)]))
    assert match and match[1] == parse_plan((bundle / "plan.json").read_bytes(), "plan.json").plan_digest()
    assert main(["verify", str(bundle)]) == 0
    assert "note: plan.json: composectl ignores `linkge`; did you mean `linkage`?" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda b: b.update(consumer_id="ghost"), "binding ghost: a:b/c@1.0.0 -> cap: a:b/c@1.0.0: its consumer is"),
        (lambda b: b.update(consumer_id="cap", provider_id="cap"), "dependency cycle: cap [a:b/c@1.0.0] -> cap"),
    ],
)
def test_what_composectl_accepts_but_hatch_pylon_cannot_link_fails_verify_saying_whose_check(
    tmp_path: Path, capsys, edit, problem: str
) -> None:
    def edited(text: str) -> str:
        plan = json.loads(text)
        edit(plan["bindings"][0])
        return json.dumps(plan)

    bundle = composectl_bundle(tmp_path, edited)
    parse_plan((bundle / "plan.json").read_bytes(), "plan.json")  # composectl's validation accepts it
    assert main(["verify", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert problem in err and err.endswith("  (hatch-pylon's checks: composectl's validation accepts this plan)\n")


def test_a_plan_changed_after_the_build_no_longer_matches_its_recorded_digest(parity_project: Path, tmp_path) -> None:
    from hatch_pylon.build.pipeline import build_bundle
    from hatch_pylon.build.project import load_project
    from hatch_pylon.bundle.verify import verify_bundle

    folder = build_bundle(load_project(parity_project)).write_to(tmp_path / "bundle")
    report = verify_bundle(folder).report
    recorded = json.loads((folder / "pylon.json").read_text())["plan-digest"]
    assert report.ok and report.plan_digest == recorded
    plan = json.loads((folder / "plan.json").read_text())
    plan["policy"]["tenant"] = "someone-else"
    (folder / "plan.json").write_text(json.dumps(plan))
    problems = verify_bundle(folder).report.problems
    assert problems == [
        f"pylon.json records plan digest {recorded}, but plan.json's is "
        f"{verify_bundle(folder).report.plan_digest}: the plan changed after the build"
    ]


def test_the_samples_plan_digest_before_the_build_is_the_wheels(
    sample_project: Path, sample_wheel: Path, capsys
) -> None:
    planned = out_of(capsys, ["plan", str(sample_project), "--digest"]).strip()
    match = OK_LINE.search(out_of(capsys, ["verify", str(sample_wheel)]))
    assert match and match[1] == planned
    with zipfile.ZipFile(sample_wheel) as archive:
        assert json.loads(archive.read("sample_pkg/_pylon/pylon.json"))["plan-digest"] == planned
