"""Run the bad-input corpus through a real hatchling build and through the CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import CASES, Case, base_project

from hatch_pylon.adapters.cli import main

# Root reads any file; without these capabilities it is held to the permission bits like anyone else.
DROP_READ_POWER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def prepare(tmp_path: Path, case: Case) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "demo-project"
    base_project(project, case.hook)
    extra = case.change(project)
    extra = extra if isinstance(extra, dict) else {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYLON_")}
    return project, {**env, **extra}


def command(case: Case, *args: str) -> list[str]:
    return [*(DROP_READ_POWER if case.unprivileged else []), sys.executable, *args]


def assert_clean_store(project: Path) -> None:
    store = project / ".compose"
    if store.is_dir():
        assert not [p for p in store.rglob(".tmp-*")], "temp files left in the store"
        for blob in store.glob("blobs/*/*"):
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.parent.name + blob.name


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(CASES))
def test_build(tmp_path: Path, label: str) -> None:
    case = CASES[label]
    project, env = prepare(tmp_path, case)
    result = subprocess.run(
        command(case, "-m", "build", "--no-isolation", "--wheel", str(project)),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert case.fragment in output, output
    assert "Traceback" not in output
    wheels = list(project.glob("dist/*"))
    if case.repaired:
        assert result.returncode == 0 and len(wheels) == 1
    else:
        assert result.returncode != 0 and wheels == []
    assert_clean_store(project)


@pytest.mark.parametrize("label", sorted(label for label, case in CASES.items() if case.cli))
def test_cli(tmp_path: Path, label: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``hatch-pylon plan`` meets each case; in-process (what the command runs), but for the unprivileged one."""
    case = CASES[label]
    project, env = prepare(tmp_path, case)
    if case.unprivileged:
        result = subprocess.run(
            command(case, "-m", "hatch_pylon", "plan", str(project)),
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        status, out, err = result.returncode, result.stdout, result.stderr
    else:
        for name in [n for n in os.environ if n.startswith("PYLON_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            if name.startswith("PYLON_"):
                monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        status = main(["plan", str(project)])
        out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert case.fragment in err, err
    assert err.startswith("hatch-pylon: error: ") and "Traceback" not in err
    assert not (project / ".compose").exists()
