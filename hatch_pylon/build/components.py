"""Find the candidate components: the root, pinned providers, component dirs, then component distributions.

Precedence decides ids: the root, then ``components`` entries, then
``$PYLON_COMPONENT_DIRS``, then ``component-dirs`` in order, then the
installed ``component-distributions`` in order. A later file with an id
already taken is shadowed (like ``PATH``); two files in one folder that map
to the same id are an error, since neither is clearly meant. A component
from a distribution must hash to the digest its descriptor gives.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import ComponentFormatError, ComponentsError, PylonError, shell_word
from .._fs import LARGE_FILE
from .._records import NamedTuple
from ..wasm.binary import Limits, ScannedFile, scan
from .config import PylonConfig
from .schema import ID_PATTERN

if TYPE_CHECKING:
    from ..bundle.distributions import ComponentDistribution, ProvidedComponent
    from .ingest import Ingest

Progress = Callable[[int, int], None]  # (files read, bytes read) so far


class Candidate(NamedTuple):
    """A component file that may be bundled, read and hashed once."""

    id: str
    origin: str  # the setting that brought it in
    pinned: bool  # root or an explicit ``components`` entry
    file: ScannedFile
    display: str  # the path as messages show it: project-relative when inside the project
    source: tuple[ComponentDistribution, ProvidedComponent] | None = None  # from a component distribution

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def tier(self) -> int:
        """Resolution rank: pinned (0), found in component dirs (1), from a component distribution (2)."""
        return 0 if self.pinned else 2 if self.source is not None else 1


class Catalog(NamedTuple):
    root: Candidate
    candidates: tuple[Candidate, ...]  # everything but the root, in precedence order
    searched: tuple[str, ...]  # human-readable list of places looked in
    shadowed: tuple[tuple[str, str, str], ...]  # (id, shadowed path, winner's path)


class _Job(NamedTuple):
    id: str
    path: Path
    origin: str
    pinned: bool
    source: tuple[ComponentDistribution, ProvidedComponent] | None = None


def discover(config: PylonConfig, ingest: Ingest | None = None, progress: Progress | None = None) -> Catalog:
    """Scan the root, every configured component, every ``*.wasm`` in the search dirs and every distributed one.

    Which files are candidates is decided from names alone; then the files
    are read, concurrently (hashing and file I/O release the GIL). With
    ``ingest``, each file is staged into the blob store in the same pass that
    hashes and parses it (a distribution's component only when it is copied,
    ``distributed = "copy"``).
    """
    candidates, searched, shadowed = scan_candidates(config, ingest, progress, with_root=True)
    root, *others = candidates
    return Catalog(root, tuple(others), tuple(searched), tuple(shadowed))


def scan_candidates(
    config: PylonConfig, ingest: Ingest | None, progress: Progress | None = None, *, with_root: bool
) -> tuple[list[Candidate], list[str], list[tuple[str, str, str]]]:
    """Every candidate in precedence order (the root first, ``with_root``), the places searched, the shadowed."""
    problems: list[str] = []
    jobs, searched, shadowed = _plan_jobs(config, problems, with_root)
    totals = [0, 0]
    candidates: list[Candidate] = []
    limits = Limits(max_size=config.max_component_size, max_externs=config.max_imports)
    outcomes = _scan_all(jobs, ingest, limits, config.distributed, keep_types=config.validate == "types")
    for job, outcome in zip(jobs, outcomes):
        if isinstance(outcome, str):
            problems.append(f"{job.origin}: {_display(config, job)}{outcome}")
            continue
        if job.source is not None:
            problem = _source_problem(job.source, outcome)
            if problem is not None:
                problems.append(f"{job.origin}: {problem}")
                continue
        candidates.append(Candidate(job.id, job.origin, job.pinned, outcome, _display(config, job), job.source))
        totals[0] += 1
        totals[1] += outcome.size
        if progress is not None:
            progress(*totals)
    if problems:
        message = "cannot read the components:\n" + "\n".join(f"  - {p}" for p in problems)
        raise PylonError(message + _unbuilt_hint(config, problems))
    return candidates, searched, shadowed


BUILD_SCRIPT = "build_components.py"  # what ``hatch-pylon new`` writes to build a project's components


def _unbuilt_hint(config: PylonConfig, problems: list[str]) -> str:
    """What builds the missing components, when the project has the build script ``new`` writes."""
    missing = any(p.endswith("file not found") or ": directory not found: " in p for p in problems)
    if not missing or not (config.project_root / BUILD_SCRIPT).is_file():
        return ""
    return f"\nthe project's components are not built yet: run python {BUILD_SCRIPT} first"


def _source_problem(source: tuple[ComponentDistribution, ProvidedComponent], scanned: ScannedFile) -> str | None:
    """A distribution's component must be the file its descriptor or RECORD names (digest and size) and export
    every capability its bridge requires."""
    from ..bundle.distributions import capability_problem

    distribution, provided = source
    where = f"{distribution.label}: {provided.relative}"
    if scanned.digest != provided.digest or (provided.size is not None and scanned.size != provided.size):
        return (
            f"{where} does not match its descriptor (sha256 {scanned.digest}, {scanned.size} bytes; "
            f"{distribution.descriptor} says {provided.digest}, {provided.size} bytes); reinstall it: "
            f"pip install --force-reinstall {shell_word(distribution.requirement)}"
        )
    problem = capability_problem(distribution.label, provided, (e.name for e in scanned.info.exports))
    return None if problem is None else f"component {provided.id!r}: {provided.relative}: {problem}"


def copied(source: tuple[ComponentDistribution, ProvidedComponent] | None, distributed: str) -> bool:
    """Whether a distribution's component is copied into the app's bundle: with ``distributed = "copy"``, and
    always from a ``wasm32``-only distribution (a host pip could never install a requirement on it)."""
    return source is not None and (distributed == "copy" or source[0].wasm_only)


def _display(config: PylonConfig, job: _Job) -> str:
    if job.source is not None:
        return f"{job.source[0].label}: {job.source[1].relative}"
    return _relative(config, job.path)


_MAX_WORKERS = 4


def _scan_all(
    jobs: list[_Job], ingest: Ingest | None, limits: Limits, distributed: str, keep_types: bool = False
) -> list[ScannedFile | str]:
    """Scan every job, concurrently where that pays; the outcomes come back in job order. ``keep_types``:
    each scan keeps the sections the type check decodes, so no file is read twice. A distribution's component
    is staged only when it is copied (``copied``).

    Files go to a thread pool, unless together they are too few bytes to
    repay starting one. The exception is a project with a single large file
    (the usual Pylon shape: an 18 MB root and small caps): staging gives that
    file a copy thread, and the pair runs best with the reader on this thread
    after the pool is done (measured on the sample: 15-16 ms against 18-20 ms
    from a pool thread or beside it, where reader and copier often share a
    core). With several large files, hashing them on every core wins instead
    (8 x 32 MiB: 0.14 s in the pool, 0.18 s one after another).
    """
    sizes = [_size(job.path) for job in jobs]
    first: dict[str, int] = {}  # one scan per path: a file named twice (root also in components) is read once
    for index, job in enumerate(jobs):
        first.setdefault(os.fspath(job.path), index)
    unique = sorted(first.values())
    large = [i for i in unique if sizes[i] >= LARGE_FILE]
    alone = large if len(large) == 1 else []
    pooled = [i for i in unique if i not in alone]
    outcomes: list[ScannedFile | str] = [""] * len(jobs)
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, len(pooled)))

    def scan_one(index: int) -> ScannedFile | str:
        source = jobs[index].source
        return _scan(jobs[index], ingest if source is None or copied(source, distributed) else None, limits, keep_types)

    if workers == 1 or sum(sizes[i] for i in pooled) < LARGE_FILE:
        for index in pooled:
            outcomes[index] = scan_one(index)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hatch-pylon-scan") as pool:
            for index, outcome in zip(pooled, pool.map(scan_one, pooled)):
                outcomes[index] = outcome
    for index in alone:
        outcomes[index] = scan_one(index)
    for index, job in enumerate(jobs):
        outcomes[index] = outcomes[first[os.fspath(job.path)]]
    return outcomes


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # the scan will say what is wrong with it


def _scan(job: _Job, ingest: Ingest | None, limits: Limits, keep_types: bool = False) -> ScannedFile | str:
    """The scanned file, or the problem (as text following the path)."""
    name = os.fspath(job.path)
    try:
        sink = ingest.sink(name) if ingest else None
        scanned = scan(name, sink, limits, via=sink.reading if sink else None, keep_types=keep_types)
    except ComponentFormatError as error:
        if ingest is not None:
            ingest.failed(name)
        where = f" at offset {error.offset} (0x{error.offset:x})" if error.offset is not None else ""
        return f": {error.reason}{where}"
    if scanned.info.kind != "component":
        if ingest is not None:
            ingest.failed(name)
        return " is a core WebAssembly module, not a component (wrap it with `wasm-tools component new`)"
    if ingest is not None:
        ingest.scanned(name, scanned.digest)
    return scanned


def _plan_jobs(
    config: PylonConfig, problems: list[str], with_root: bool = True
) -> tuple[list[_Job], list[str], list[tuple[str, str, str]]]:
    """The files to read, in precedence order (root first), decided by ids, paths and descriptors only."""
    jobs = [] if config.root is None else [_Job(config.root.id, config.root.path, config.root.origin, True)]
    jobs += [_Job(source.id, source.path, source.origin, True) for source in config.components]
    taken = {job.id: job for job in jobs}
    seen_files = {_identity(job.path) for job in jobs}
    searched: list[str] = []
    shadowed: list[tuple[str, str, str]] = []
    for search_dir in config.component_dirs:
        searched.append(f"{_relative(config, search_dir.path)} ({search_dir.origin})")
        ids_here: dict[str, Path] = {}
        for path in _list_wasm(search_dir.path, search_dir.origin, config, problems):
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
            job = _Job(component_id, path, search_dir.origin, False)
            taken[component_id] = job
            jobs.append(job)
    if config.component_distributions:  # only then is the distributions' reader imported
        from ..bundle.distributions import component_path, installed
    for index, name in enumerate(config.component_distributions):
        origin = f"{config.table}.component-distributions[{index}]"
        try:
            distribution = installed(name)
        except ComponentsError as error:
            problems.append(f"{origin}: {error}")
            continue
        searched.append(f"{distribution.label} ({origin}; found in {distribution.found_in})")
        for provided in distribution.components:
            where = f"{distribution.label}: {provided.relative}"
            try:
                path = component_path(distribution, provided)
            except ComponentsError as error:
                problems.append(f"{origin}: {error}")
                continue
            if provided.id in taken:
                shadowed.append((provided.id, where, _relative(config, taken[provided.id].path)))
                continue
            job = _Job(provided.id, path, origin, False, (distribution, provided))
            taken[provided.id] = job
            jobs.append(job)
    if with_root and config.root is None:
        root = taken.get(config.root_id)
        if root is None or root.source is None:
            problems.append(
                f"{config.table}.root: not set, and no component distribution provides the root id "
                f"{config.root_id!r} ({', '.join(config.component_distributions) or 'none listed'})"
            )
        else:
            jobs.remove(root)
            jobs.insert(0, root._replace(pinned=True))
    return jobs, searched, shadowed


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
