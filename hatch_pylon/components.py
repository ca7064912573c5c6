"""Find the candidate components: the root, pinned providers, then component dirs.

Precedence decides ids: the root, then ``components`` entries, then
``$PYLON_COMPONENT_DIRS``, then ``component-dirs`` in order. A later file with
an id already taken is shadowed (like ``PATH``); two files in one folder that
map to the same id are an error, since neither is clearly meant.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import ID_PATTERN, PylonConfig
from .errors import ComponentFormatError, PylonError
from .store import Ingest
from .wasm import ScannedFile, scan

Progress = Callable[[int, int], None]  # (files read, bytes read) so far


@dataclass(frozen=True)
class Candidate:
    """A component file that may be bundled, read and hashed once."""

    id: str
    origin: str  # the setting that brought it in
    pinned: bool  # root or an explicit ``components`` entry
    file: ScannedFile
    display: str  # the path as messages show it: project-relative when inside the project

    @property
    def path(self) -> str:
        return self.file.path


@dataclass(frozen=True)
class Catalog:
    root: Candidate
    candidates: tuple[Candidate, ...]  # everything but the root, in precedence order
    searched: tuple[str, ...]  # human-readable list of places looked in
    shadowed: tuple[tuple[str, str, str], ...]  # (id, shadowed path, winner's path)


def discover(config: PylonConfig, ingest: Ingest | None = None, progress: Progress | None = None) -> Catalog:
    """Scan every configured component and every ``*.wasm`` in the search dirs.

    With ``ingest``, each file is staged into the blob store in the same pass
    that hashes and parses it.
    """
    totals = [0, 0]
    problems: list[str] = []
    taken: dict[str, Candidate] = {}
    seen_files: set[tuple[int, int]] = set()
    shadowed: list[tuple[str, str, str]] = []

    def admit(component_id: str, path: Path, origin: str, pinned: bool) -> Candidate | None:
        name = os.fspath(path)
        try:
            scanned = scan(name, ingest.sink(name) if ingest else None)
        except ComponentFormatError as error:
            problems.append(f"{origin}: {_relative(config, error.path)}: {error.reason}"
                            + (f" at offset {error.offset} (0x{error.offset:x})" if error.offset is not None else ""))
            return None
        if scanned.info.kind != "component":
            problems.append(
                f"{origin}: {_relative(config, path)} is a core WebAssembly module, not a component "
                "(wrap it with `wasm-tools component new`)"
            )
            return None
        if ingest is not None:
            ingest.scanned(name, scanned.digest)
        totals[0] += 1
        totals[1] += scanned.size
        if progress is not None:
            progress(*totals)
        candidate = Candidate(component_id, origin, pinned, scanned, _relative(config, path))
        taken[component_id] = candidate
        seen_files.add(_identity(path))
        return candidate

    root = admit(config.root.id, config.root.path, config.root.origin, pinned=True)
    pinned = [admit(source.id, source.path, source.origin, pinned=True) for source in config.components]

    searched: list[str] = []
    found: list[Candidate | None] = []
    for search_dir in config.component_dirs:
        searched.append(f"{_relative(config, search_dir.path)} ({search_dir.origin})")
        files = _list_wasm(search_dir.path, search_dir.origin, config, problems)
        ids_here: dict[str, Path] = {}
        for path in files:
            if _identity(path) in seen_files:
                continue
            component_id = path.stem.lower().replace("_", "-")
            if not ID_PATTERN.fullmatch(component_id):
                problems.append(
                    f"{search_dir.origin}: {_relative(config, path)} gives the id {component_id!r}, which is not a "
                    "valid component id ([a-z0-9][a-z0-9._-]*); rename the file"
                )
                continue
            if component_id in ids_here:
                problems.append(
                    f"{search_dir.origin}: duplicate id {component_id!r}: {_relative(config, ids_here[component_id])} "
                    f"and {_relative(config, path)} (ids are the file stem, lower-cased, '_' as '-'); rename one"
                )
                continue
            ids_here[component_id] = path
            if component_id in taken:
                shadowed.append((component_id, _relative(config, path), _relative(config, taken[component_id].path)))
                continue
            found.append(admit(component_id, path, search_dir.origin, pinned=False))

    if problems:
        raise PylonError("cannot read the components:\n" + "\n".join(f"  - {p}" for p in problems))
    assert root is not None
    candidates = tuple(c for c in (*pinned, *found) if c is not None)
    return Catalog(root, candidates, tuple(searched), tuple(shadowed))


def _list_wasm(directory: Path, origin: str, config: PylonConfig, problems: list[str]) -> list[Path]:
    try:
        names = sorted(entry.name for entry in os.scandir(directory) if entry.name.endswith(".wasm"))
    except FileNotFoundError:
        problems.append(f"{origin}: directory not found: {_relative(config, directory)}")
        return []
    except NotADirectoryError:
        problems.append(f"{origin}: {_relative(config, directory)} is a file, not a directory")
        return []
    except OSError as exc:
        problems.append(f"{origin}: cannot list {_relative(config, directory)} ({exc.strerror or exc})")
        return []
    return [directory / name for name in names]


def _identity(path: Path) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return (-1, hash(os.fspath(path)))
    return (stat.st_dev, stat.st_ino)


def _relative(config: PylonConfig, path: str | os.PathLike[str]) -> str:
    """Paths in messages: relative to the project when inside it, else as given."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(config.project_root)).as_posix()
    except ValueError:
        return os.fspath(path)
