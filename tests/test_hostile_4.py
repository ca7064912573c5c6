"""Hostile and careless inputs against what was added last (component distributions, the registry, ``new``,
the cache, ``run .``), each through the command a user runs.

Every case asserts one clear message (or the right result), no traceback, and that nothing hatch-pylon did
not make is deleted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from corpus import BASE_HOOK, base_project
from test_hostile import assert_temp_empty, built_base, run

pytestmark = pytest.mark.slow

DAYS = 24 * 3600


@pytest.fixture(scope="module")
def base_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_base(tmp_path_factory, "wheel")


def aged(path: Path, days: float = 3) -> Path:
    then = time.time() - days * DAYS
    os.utime(path, (then, then))
    return path


# -- 1. sweeps remove only what hatch-pylon made ---------------------------------------------------


def test_a_sweep_leaves_a_users_old_folders_in_the_temp_dir(tmp_path: Path, base_wheel: Path) -> None:
    temp = tmp_path / "private-tmp"
    temp.mkdir()
    notes = temp / "hatch-pylon-notes"
    lookalike = temp / "hatch-pylon-abcd1234"  # mkdtemp's shape, but no marker of ours in it
    for folder in (notes, lookalike):
        folder.mkdir()
        (folder / "todo.txt").write_text("mine")
        aged(folder)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", str(base_wheel))
    assert code == 0 and "OK" in output, output
    assert (notes / "todo.txt").read_text() == "mine" and (lookalike / "todo.txt").read_text() == "mine"
    notes_left = sorted(p.name for p in temp.iterdir())
    assert notes_left == ["hatch-pylon-abcd1234", "hatch-pylon-notes"], notes_left


def test_a_sweep_in_a_shared_store_leaves_files_it_did_not_write(tmp_path: Path) -> None:
    project = tmp_path / "demo-project"
    base_project(project, BASE_HOOK + 'store = "../shared"\n')
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / ".tmp-keep").write_text("mine")  # fresh, and nobody holds a lock on it
    (shared / ".tmp-0123").write_text("mine")
    notes = shared / "hatch-pylon-notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    aged(notes)
    code, output = run(tmp_path, "-m", "hatch_pylon", "verify", ".", cwd=project)
    assert code == 0 and "OK" in output, output
    assert "did not finish" not in output, output
    assert (shared / ".tmp-keep").read_text() == "mine" and (shared / ".tmp-0123").read_text() == "mine"
    assert (notes / "todo.txt").read_text() == "mine"
    assert_temp_empty(tmp_path)
