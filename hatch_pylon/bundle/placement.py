"""Where the bundle lands in a wheel, and keeping the blob store out of every artifact.

``check_placement`` is asked before anything is built, by the one build entry
every adapter calls (``build.pipeline.adapter_bundle``), with the table the
configuration came from:

- ``destination`` must be a folder the build makes for the bundle: not an
  existing file (``demo/__init__.py``), and not a source folder that already
  holds ``plan.json``, ``pylon.json``, ``.compose`` or a composed component,
  which the wheel would package next to (or instead of) the bundle's own;
- ``store`` must not be inside a packaged folder (the destination, or a
  Python package: a folder with ``__init__.py``), or the wheel and sdist
  would ship stale blobs, the index and temp files.

The hatchling hook then adds the store to hatchling's exclude patterns
(``exclude_store``), so no store internal (``.pylon-index.json``, ``.tmp-*``,
stale blobs) reaches an sdist or a wheel, whatever the project's ignore files
say.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._layout import COMPOSED_SUFFIX, META_FILE, PLAN_FILE, STORE_DIR

_BUNDLE_NAMES = (PLAN_FILE, META_FILE, STORE_DIR)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _source_folders(project_root: Path, destination: str) -> list[Path]:
    """Where the files packaged at ``destination`` come from: the project root, or ``src/`` for a src layout."""
    return [base / destination for base in (project_root, project_root / "src")]


def placement_problems(
    project_root: str | os.PathLike[str],
    destination: str,
    store: str | os.PathLike[str] | None,
    *,
    key: str,
) -> list[str]:
    """What is wrong with putting the bundle at ``destination`` and staging into ``store``; empty when fine."""
    root = Path(project_root).absolute()
    problems: list[str] = []
    for source in _source_folders(root, destination):
        shown = source.relative_to(root).as_posix()
        if os.path.lexists(source) and not source.is_dir():
            problems.append(
                f"{key}.destination: {destination!r} is the file {shown}, which the build would "
                "package too; give a folder of its own, e.g. 'my_pkg/_pylon'"
            )
        elif source.is_dir():
            clashes = sorted(
                name for name in os.listdir(source) if name in _BUNDLE_NAMES or name.endswith(COMPOSED_SUFFIX)
            )
            problems += [
                f"{key}.destination: {destination!r} already holds {shown}/{name}, which the build "
                f"would package as well as the bundle's own {name}; pick another destination"
                for name in clashes
            ]
    if store is not None:
        store_path = Path(store).absolute()
        packaged = [s for s in _source_folders(root, destination) if _inside(store_path, s)]
        if packaged:
            problems.append(
                f"{key}.store: {store_path} is inside the destination "
                f"{packaged[0].relative_to(root).as_posix()}/, so the wheel would ship the store's "
                "stale blobs, index and temp files; keep the store outside the package"
            )
        elif _inside(store_path, root):
            folder = store_path.parent
            while folder != root and _inside(folder, root):
                if (folder / "__init__.py").is_file():
                    problems.append(
                        f"{key}.store: {store_path} is inside the package folder "
                        f"{folder.relative_to(root).as_posix()}/, so artifacts would ship the store; "
                        "keep the store outside the package"
                    )
                    break
                folder = folder.parent
    return problems


def store_pattern(project_root: str | os.PathLike[str], store: str | os.PathLike[str] | None) -> str | None:
    """A gitignore-style pattern (anchored at the project root) matching the store, or None when it is outside."""
    if store is None:
        return None
    root = Path(project_root).absolute()
    store_path = Path(store).absolute()
    if store_path == root or not _inside(store_path, root):
        return None
    return "/" + store_path.relative_to(root).as_posix() + "/"


def exclude_store(
    build_config: Any, project_root: str | os.PathLike[str], store: str | os.PathLike[str] | None
) -> None:
    """Add the store (when inside the project) to a hatchling ``BuilderConfig``'s ``exclude_spec``."""
    pattern = store_pattern(project_root, store)
    if pattern is None:
        return
    import pathspec

    extra = pathspec.GitIgnoreSpec.from_lines([pattern])
    current = build_config.exclude_spec
    combined = extra if current is None else type(current)([*current.patterns, *extra.patterns])
    build_config.__dict__["exclude_spec"] = combined  # a functools.cached_property: the instance dict wins


def check_placement(
    project_root: str | os.PathLike[str],
    destination: str,
    store: str | os.PathLike[str] | None,
    *,
    key: str,
) -> None:
    """Raise ``ConfigError`` for a bad placement; ``key`` is the table the configuration came from."""
    from .._errors import ConfigError

    problems = placement_problems(project_root, destination, store, key=key)
    if problems:
        raise ConfigError(problems)
