"""Find the pylon table in a project's ``pyproject.toml`` (for the CLI; the hook gets it from hatchling)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import HATCH_TABLE, PylonConfig, load_config
from .errors import PylonError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_pyproject(project_dir: str | os.PathLike[str]) -> dict[str, Any]:
    pyproject = Path(project_dir) / "pyproject.toml"
    try:
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PylonError(f"{pyproject}: not found; pass the folder that holds pyproject.toml") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PylonError(f"{pyproject}: cannot be read ({exc})") from None


def load_project(project_dir: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> PylonConfig:
    """The pylon config a wheel build would use.

    hatch: the wheel target's hook table wins over the global one; setuptools: ``[tool.pylon]``.
    """
    root = Path(project_dir)
    pyproject = root / "pyproject.toml"
    data = read_pyproject(root)
    name = _dig(data, "project", "name")
    if not isinstance(name, str):
        raise PylonError(f"{pyproject}: [project].name is required")
    hatch_build = _dig(data, "tool", "hatch", "build") or {}
    for table, raw in (
        ("tool.hatch.build.targets.wheel.hooks.pylon", _dig(hatch_build, "targets", "wheel", "hooks", "pylon")),
        (HATCH_TABLE, _dig(hatch_build, "hooks", "pylon")),
        ("tool.pylon", _dig(data, "tool", "pylon")),
    ):
        if raw is not None:
            return load_config(raw, project_root=root, project_name=name, environ=environ, table=table)
    raise PylonError(f"{pyproject}: no [{HATCH_TABLE}] or [tool.pylon] table; hatch-pylon is not configured here")


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
