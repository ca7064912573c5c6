"""python-wasm's ``.pylon.toml`` manifest: its ``[[capabilities]]`` ``{ id, path }`` entries.

Only those two keys of each entry are read, checked against the schema's ``components[]`` rows;
other keys and tables are the manifest's own business. Imports the bottom modules and the schema.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .schema import INVALID, REQUIRED, children, describe, type_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_MANIFEST_BYTES = 1 << 20


def read_manifest(path: Path, shown: str, key: str, problems: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each capability entry as (its key in messages, ``{"id": …, "path": …}``), values ``REQUIRED`` when
    missing and ``INVALID`` when of the wrong type; every problem is appended to ``problems``."""
    document = _load(path, shown, key, problems)
    if document is None:
        return
    entries = document.get("capabilities", [])
    if not isinstance(entries, list):
        problems.append(f"{shown}: capabilities: must be an array of {{ id, path }} tables, got {describe(entries)}")
        return
    required = {leaf: option for leaf, option in children("components[]").items() if option.default is REQUIRED}
    for index, raw in enumerate(entries):
        entry_key = f"{shown}: capabilities[{index}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{entry_key}: must be a table, got {describe(raw)}")
            continue
        values: dict[str, Any] = {}
        for leaf, option in required.items():
            values[leaf] = raw.get(leaf, REQUIRED)
            if values[leaf] is REQUIRED:
                problems.append(f"{entry_key}.{leaf}: is required")
            elif (message := type_problem(option, values[leaf])) is not None:
                problems.append(f"{entry_key}.{leaf}: {message}")
                values[leaf] = INVALID
        yield entry_key, values


def _load(path: Path, shown: str, key: str, problems: list[str]) -> dict[str, Any] | None:
    def problem(message: str) -> None:
        problems.append(f"{key}: {shown}: {message}")

    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            problem("is not a regular file")
            return None
        if status.st_size > MAX_MANIFEST_BYTES:
            problem(f"is {status.st_size} bytes, over the limit of {MAX_MANIFEST_BYTES}")
            return None
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        problem("is nested too deeply to read")
    except FileNotFoundError:
        problem("file not found")
    except OSError as error:
        problem(f"cannot be read ({error.strerror or error})")
    except UnicodeDecodeError:
        problem("is not UTF-8 text")
    except tomllib.TOMLDecodeError as error:
        problem(f"is not valid TOML ({error})")
    return None
