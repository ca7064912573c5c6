"""Find a project's pylon table as its build will, for the CLI (the hatch hook gets it from hatchling).

hatch: ``[tool.hatch]`` of pyproject.toml, updated key by key with ``hatch.toml`` beside it, as hatchling
does (so a ``[build]`` table there replaces all of ``tool.hatch.build``); the wheel target's
``build.targets.wheel.hooks.pylon`` replaces the global ``build.hooks.pylon``. setuptools: ``[tool.pylon]``.
Messages name the file and the key as the user wrote them: ``tool.hatch.build.hooks.pylon.root`` in
pyproject.toml, ``hatch.toml: build.hooks.pylon.root`` in hatch.toml.

``hook_problems`` tells what would keep the build from running the hook this table configures.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import PylonError
from .._records import NamedTuple
from .config import PylonConfig, load_config

if TYPE_CHECKING:
    from ..composectl.plan import Plan
from .schema import HATCH_TABLE, SETUPTOOLS_TABLE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
HATCH_TOML = "hatch.toml"
DISTRIBUTION = "hatch-pylon"


class HookTable(NamedTuple):
    """A pylon table a build reads: its raw value, how messages name it, and who reads it."""

    raw: Any
    table: str  # "tool.hatch.build.hooks.pylon", "hatch.toml: build.hooks.pylon", "tool.pylon", ...
    backend: str  # "hatch" or "setuptools"
    target: str | None = None  # the hatch target whose own table this is; None for the global table


def read_pyproject(project_dir: str | os.PathLike[str]) -> dict[str, Any]:
    pyproject = Path(project_dir) / PYPROJECT
    try:
        return _read_toml(pyproject)
    except FileNotFoundError:
        raise PylonError(f"{pyproject}: not found; pass the folder that holds pyproject.toml") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PylonError(f"{pyproject}: cannot be read ({exc})") from None


def read_hatch_toml(project_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``hatch.toml`` beside pyproject.toml, or None when there is none."""
    path = Path(project_dir) / HATCH_TOML
    if not path.is_file():
        return None
    try:
        return _read_toml(path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PylonError(f"{path}: cannot be read ({exc})") from None


def _read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's table; a FIFO or device in its place is refused, never opened."""
    from .._fs import open_regular

    with open_regular(path) as file:
        text = file.read().decode("utf-8")
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise PylonError(f"{path}: cannot be read (nested too deeply)") from None


def hook_tables(project_dir: str | os.PathLike[str], data: Mapping[str, Any] | None = None) -> dict[str, HookTable]:
    """Every pylon table the project has, keyed ``global``, ``wheel``, ``sdist`` (hatch) and ``setuptools``."""
    root = Path(project_dir)
    data = read_pyproject(root) if data is None else data
    hatch = _dig(data, "tool", "hatch")
    hatch = dict(hatch) if isinstance(hatch, Mapping) else {}
    prefix = "tool.hatch."
    extra = read_hatch_toml(root)
    if extra is not None:
        hatch.update(extra)  # hatchling's rule: top-level keys of hatch.toml replace tool.hatch's
        if "build" in extra:
            prefix = f"{HATCH_TOML}: "
    tables: dict[str, HookTable] = {}
    build = hatch.get("build")
    candidates: list[tuple[str, str | None, tuple[str, ...], str]] = [
        ("global", None, ("hooks", "pylon"), "build.hooks.pylon")
    ]
    candidates += [
        (target, target, ("targets", target, "hooks", "pylon"), f"build.targets.{target}.hooks.pylon")
        for target in ("wheel", "sdist")
    ]
    for label, target, keys, name in candidates:
        raw = _dig(build, *keys)
        if raw is not None:
            tables[label] = HookTable(raw, prefix + name, "hatch", target)
    raw = _dig(data, "tool", "pylon")
    if raw is not None:
        tables["setuptools"] = HookTable(raw, SETUPTOOLS_TABLE, "setuptools")
    return tables


def find_table(project_dir: str | os.PathLike[str], data: Mapping[str, Any] | None = None) -> HookTable | None:
    """The table a wheel build of this project reads, or None when hatch-pylon is not configured.

    The build backend decides between hatch's tables and ``[tool.pylon]``; without a known backend,
    hatch's are tried first.
    """
    data = read_pyproject(project_dir) if data is None else data
    tables = hook_tables(project_dir, data)
    hatch = tables.get("wheel") or tables.get("global")
    backend = _backend(data)
    if backend == "setuptools":
        return tables.get("setuptools")
    if backend == "hatch":
        return hatch
    return hatch or tables.get("setuptools")


def hatch_table_name(project_dir: str | os.PathLike[str], target: str) -> str:
    """How messages should name the table hatchling hands the hook for ``target`` (``wheel``, ``sdist``).

    ``tool.hatch.build.hooks.pylon`` in pyproject.toml, ``hatch.toml: build.hooks.pylon`` in hatch.toml, or
    the target's own table; for the hatch hook's ``load_config(..., table=...)``.
    """
    try:
        tables = hook_tables(project_dir)
    except PylonError:
        return HATCH_TABLE
    found = tables.get(target) or tables.get("global")
    return found.table if found is not None else HATCH_TABLE


def load_project(
    project_dir: str | os.PathLike[str], environ: Mapping[str, str] | None = None, data: Mapping[str, Any] | None = None
) -> PylonConfig:
    """The pylon config a wheel build of the project would use (``data``: its pyproject.toml, already read)."""
    root = Path(project_dir)
    pyproject = root / PYPROJECT
    data = read_pyproject(root) if data is None else data
    found = find_table(root, data)
    if found is None:
        raise PylonError(
            f"{pyproject}: no [{HATCH_TABLE}] or [{SETUPTOOLS_TABLE}] table (nor [build.hooks.pylon] "
            f"in {HATCH_TOML}) for its build backend; hatch-pylon is not configured here"
        )
    name = project_name(root, data, found)
    return load_config(found.raw, project_root=root, project_name=name, environ=environ, table=found.table)


def project_name(project_dir: str | os.PathLike[str], data: Mapping[str, Any], found: HookTable) -> str:
    """``[project].name``; when it is missing or dynamic, setup.cfg's ``[metadata] name``.

    The name only picks the default ``destination``, so a table that sets ``destination`` needs none.
    """
    root = Path(project_dir)
    name = _dig(data, "project", "name")
    if isinstance(name, str) and name:
        return name
    name = _setup_cfg_name(root)
    if name:
        return name
    if isinstance(found.raw, Mapping) and "destination" in found.raw:
        return root.resolve().name
    dynamic = _dig(data, "project", "dynamic")
    why = "is dynamic" if isinstance(dynamic, list) and "name" in dynamic else "is not set"
    raise PylonError(
        f"{root / PYPROJECT}: [project].name {why}, so the bundle's default folder is unknown; "
        f"set {found.table}.destination (e.g. 'my_pkg/_pylon') or [project].name"
    )


def hook_problems(project_dir: str | os.PathLike[str], data: Mapping[str, Any] | None = None) -> list[str]:
    """What would keep the build from running the pylon hook as configured, one sentence each (empty: none).

    - hatch-pylon missing from ``build-system.requires``: hatchling fails with ``UnknownPluginError``,
      and setuptools silently builds without the bundle;
    - a table the build backend does not read;
    - a hatch table for one target only: an sdist without the bundle (wheels built from it then fail),
      or wheels without it.
    """
    root = Path(project_dir)
    data = read_pyproject(root) if data is None else data
    tables = hook_tables(root, data)
    if not tables:
        return []
    problems = []
    backend = _backend(data)
    hatch = [table for key, table in tables.items() if key != "setuptools"]
    global_name = (
        f"[build.hooks.pylon] in {HATCH_TOML}"
        if hatch and not hatch[0].table.startswith("tool.")
        else f"[{HATCH_TABLE}]"
    )
    if hatch and backend == "setuptools":
        problems.append(
            f"{PYPROJECT}: build-system.build-backend is setuptools, which does not read "
            f"{hatch[0].table}; configure hatch-pylon in [{SETUPTOOLS_TABLE}] instead"
        )
    if "setuptools" in tables and not hatch and backend == "hatch":
        problems.append(
            f"{PYPROJECT}: build-system.build-backend is hatchling, which does not read "
            f"[{SETUPTOOLS_TABLE}]; move that table to [{HATCH_TABLE}]"
        )
    uses_hatch = bool(hatch) and backend != "setuptools"
    if not _requires_hatch_pylon(data):
        if uses_hatch:
            problems.append(
                f"{PYPROJECT}: build-system.requires does not list '{DISTRIBUTION}', so hatchling "
                f"cannot load the pylon hook (UnknownPluginError); add it: "
                f'requires = ["hatchling", "{DISTRIBUTION}"]'
            )
        elif "setuptools" in tables and backend != "hatch":
            problems.append(
                f"{PYPROJECT}: build-system.requires does not list '{DISTRIBUTION}', so setuptools "
                f"builds run without it and ship no bundle; add it: "
                f'requires = ["setuptools>=64", "{DISTRIBUTION}"]'
            )
    if uses_hatch:
        problems += _one_target_problems(tables, global_name)
    return problems


def sdist_carries_bundle(project_dir: str | os.PathLike[str]) -> bool:
    """Whether hatch-pylon ran when this project's sdist was made, so the sdist must carry ``.pylon-bundle/``:
    a hatch table that covers the sdist target, or ``[tool.pylon]`` with hatch-pylon in build-system.requires."""
    try:
        data = read_pyproject(Path(project_dir))
        tables = hook_tables(project_dir, data)
    except PylonError:
        return False
    if {"global", "sdist"} & set(tables):
        return True
    # setuptools runs hatch-pylon only where it is installed: listed in build-system.requires, it was
    requires = _dig(data, "build-system", "requires")
    listed = isinstance(requires, list) and any(
        isinstance(r, str) and re.match(r"hatch[-_.]pylon\b", r.strip(), re.IGNORECASE) for r in requires
    )
    return "setuptools" in tables and listed


def one_target_problems(project_dir: str | os.PathLike[str]) -> list[str]:
    """``hook_problems``' sentences about a hatch table for one target only (what the build warns about)."""
    tables = hook_tables(project_dir)
    hatch = [table for key, table in tables.items() if key != "setuptools"]
    if not hatch:
        return []
    in_hatch_toml = not hatch[0].table.startswith("tool.")
    return _one_target_problems(tables, f"[build.hooks.pylon] in {HATCH_TOML}" if in_hatch_toml else f"[{HATCH_TABLE}]")


def _one_target_problems(tables: Mapping[str, HookTable], global_name: str) -> list[str]:
    if "global" in tables:
        return []
    problems = []
    wheel, sdist = tables.get("wheel"), tables.get("sdist")
    if wheel is not None and sdist is None:
        problems.append(
            f"{wheel.table} configures the hook for the wheel target only: the sdist gets no "
            f"bundle, and wheels built from it (pip install, uv build, python -m build) fail; "
            f"move the table to {global_name}"
        )
    if sdist is not None and wheel is None:
        problems.append(
            f"{sdist.table} configures the hook for the sdist target only: wheels built from "
            f"the source tree get no bundle; move the table to {global_name}"
        )
    return problems


def _backend(data: Mapping[str, Any]) -> str | None:
    backend = _dig(data, "build-system", "build-backend")
    if not isinstance(backend, str):
        return None
    if backend.split(".")[0] in ("hatchling", "hatch"):
        return "hatch"
    if backend.split(".")[0] == "setuptools":
        return "setuptools"
    return None


def _requires_hatch_pylon(data: Mapping[str, Any]) -> bool:
    """Does ``build-system.requires`` name hatch-pylon (any extras, version, marker or URL)?"""
    import re

    requires = _dig(data, "build-system", "requires")
    for entry in requires if isinstance(requires, list) else []:
        # A PEP 508 requirement starts with its name; names compare after PEP 503 normalisation.
        match = re.match(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)", entry) if isinstance(entry, str) else None
        if match and re.sub(r"[-_.]+", "-", match[1]).lower() == DISTRIBUTION:
            return True
    return False


def _setup_cfg_name(root: Path) -> str | None:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "setup.cfg", encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    name = parser.get("metadata", "name", fallback="").strip()
    return name or None


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def editable_project(distribution: str) -> Path | None:
    """The project folder an editable install of ``distribution`` came from (its ``direct_url.json``), or None."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse
    from urllib.request import url2pathname

    try:
        text = metadata.distribution(distribution).read_text("direct_url.json")
        record = json.loads(text) if text else None
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return None
    if not isinstance(record, dict) or not (record.get("dir_info") or {}).get("editable"):
        return None
    url = urlparse(str(record.get("url", "")))
    if url.scheme != "file":
        return None
    folder = Path(url2pathname(unquote(url.path)))
    return folder if (folder / PYPROJECT).is_file() else None


def editable_changes(distribution: str, installed: Plan) -> str | None:
    """When ``distribution`` is an editable install whose project now resolves to another plan than the
    installed bundle's, a warning saying what changed and what to do; else None.

    The project is resolved as its build would (read and hashed, nothing written); a project that
    cannot be resolved now says so, since the installed bundle is then surely not what it builds.
    """
    folder = editable_project(distribution)
    if folder is None:
        return None
    from .pipeline import plan_project

    advice = f"reinstall it (pip install -e {folder}), or run the project itself: hatch-pylon run {folder}"
    try:
        _, current = plan_project(load_project(folder))
    except PylonError as error:
        first = str(error).splitlines()[0]
        return f"{distribution} is an editable install of {folder}, which no longer builds ({first}); {advice}"
    if current.to_json() == installed.to_json():
        return None
    before = {c.id: c.digest for c in installed.components}
    after = {c.id: c.digest for c in current.components}
    changed = sorted(i for i in before.keys() | after.keys() if before.get(i) != after.get(i))
    what = f"components changed ({', '.join(changed)})" if changed else "plan changed"
    return (
        f"{distribution} is an editable install of {folder}, whose {what} since it was installed; this runs the "
        f"installed bundle: {advice}"
    )
