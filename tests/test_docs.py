"""The README's configuration table is generated from the schema, and the README stays a user's page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hatch_pylon.build.schema import OPTIONS, markdown_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"
FIX = "run `python -m hatch_pylon.build.schema --markdown` and paste its output between the markers in README.md"


def readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, f"README.md needs one {START} ... {END} pair"
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def test_readme_configuration_table_is_generated_from_the_schema() -> None:
    assert readme_table() == markdown_table(), FIX


def test_every_option_has_a_row() -> None:
    rows = markdown_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [option.name for option in OPTIONS]


def test_the_generator_command_prints_the_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hatch_pylon.build.schema", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout == markdown_table()
    usage = subprocess.run([sys.executable, "-m", "hatch_pylon.build.schema"], capture_output=True, text=True, cwd=ROOT)
    assert usage.returncode == 2 and "--markdown" in usage.stderr


def test_readme_is_for_users_and_links_the_notes() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 240, "README.md is a user's page; move notes to docs/"
    for page in ("docs/hardening.md", "docs/performance.md", "docs/design.md"):
        assert page in text and (ROOT / page).is_file(), page
