"""A python-wasm extension wheel, as python-wasm's ``docs/pyforge-wheel-spec.md`` lays it out (``pyforge``).

``zstd_cap-0.1.0-cp314-cp314-wasm32_wasip2.whl`` holds the bridge folder ``_<srcdir>/`` as it is in the project
(``__pycache__``, ``*.pyc`` and editor swap files left out), its ``pyforge-pkg.toml`` written back with a
``[wheel.component] artifact`` as python-wasm's ``wheel_builder.py`` writes it (a ``wit_world`` the manifest
gives is kept), and the one capability component at ``_<srcdir>_component/<its file name>``; the member names are
the ones ``wheel_builder.build()`` gives for the same bridge and component, plus hatch-pylon's descriptor in
``.dist-info/extra_metadata/`` (which names the component's file, so there is no second copy). The tag is
``cp3X-cp3X-wasm32_wasip2``, ``Root-Is-Purelib: false``; METADATA gets ``Platform: wasm32-wasip2``, and
``Requires-Python: >=3.X,<3.X+1`` and ``Summary`` (``[package] description``) where the project gives none
(``metadata_lines``, written by ``finish_wheel``; the sdist's PKG-INFO too, ``finish_sdist``, so they agree).

Before anything is written, the spec's section 7 checks run, each problem one line: the manifest's schema
and ``[package]``; ``[project]`` name and version equal to ``[package]``'s; the files ``[extension]`` and
``[[provides]]`` name exist (``pyforge-pkg-verify``); the component parses as a component; every
``[[capabilities.required]]`` interface is exported by it (wasmtime's semver tracks).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .._errors import ComponentsError, PylonError, ResolveError, TooLarge, bullets, printable
from .._fs import atomic_write, os_reason, read_small
from .._records import NamedTuple
from ..bundle.distributions import (
    PYFORGE_MANIFEST,
    DescribedComponent,
    PyforgeManifest,
    canonical_name,
    missing_capabilities,
    parse_pyforge_manifest,
)
from .config import Pyforge

PLATFORM = "wasm32-wasip2"  # METADATA's Platform, as the spec's section 4 writes it
_SKIPPED_DIRS = ("__pycache__",)
_SKIPPED_SUFFIXES = (".pyc", ".swp")  # wheel_builder's ignore patterns: *.pyc and .*.swp


class ExtensionWheel(NamedTuple):
    """What the wheel carries beyond hatchling's own files: archive path -> source file, and the summary."""

    layout: dict[str, str]  # source file -> archive path
    artifact: str  # the component's path in the wheel
    requires_python: str | None  # ">=3.14,<3.15" when the project does not declare it (the hook adds it)
    summary: str | None  # [package] description, when the project has none of its own (the hook adds it)
    lines: tuple[str, ...]
    inputs: tuple[Path, ...]  # the project's files a build of the wheel reads (an sdist must carry them)


def metadata_lines(extension: ExtensionWheel) -> list[str]:
    """The core-metadata fields the hook adds, as the spec's section 4 maps them: ``Platform``, and
    ``Requires-Python`` and ``Summary`` where the project gives none."""
    lines = [f"Platform: {PLATFORM}"]
    lines += [f"Requires-Python: {extension.requires_python}"] if extension.requires_python else []
    lines += [f"Summary: {extension.summary}"] if extension.summary else []
    return lines


def _refused(problems: list[str]) -> ResolveError:
    return ResolveError("cannot build the python-wasm extension wheel:\n" + bullets(problems))


def requires_python_for(python: str) -> str:
    major, minor = python.split(".")
    return f">={python},<{major}.{int(minor) + 1}"


def prepare(
    pyforge: Pyforge,
    component: DescribedComponent,
    blob: Path,
    *,
    project_name: str,
    project_version: str,
    requires_python: str | None,
    description: str | None,
    staging: Path,
    table: str,
) -> ExtensionWheel:
    """Check the bridge and the component as the spec's section 7 does and lay the wheel out; ``ResolveError``
    listing every problem otherwise. The written-back manifest goes to ``staging``."""
    key = f"{table}.pyforge"
    bridge = pyforge.bridge
    shown = printable(bridge.name)
    manifest_where = f"{key}.bridge: {shown}/{PYFORGE_MANIFEST}"
    try:
        text = read_small(bridge, PYFORGE_MANIFEST, 1 << 20)
    except FileNotFoundError:
        raise _refused([f"{key}.bridge: {shown}/{PYFORGE_MANIFEST} is missing (the bridge's manifest)"]) from None
    except (OSError, TooLarge) as error:
        reason = os_reason(error) if isinstance(error, OSError) else str(error)
        raise _refused([f"{manifest_where}: cannot be read ({reason})"]) from None
    try:
        manifest = parse_pyforge_manifest(text, manifest_where)
    except ComponentsError as error:
        raise _refused([str(error)]) from None
    problems = _identity_problems(manifest, project_name, project_version, requires_python, pyforge, key)
    problems += _verify_problems(manifest, bridge, manifest_where)
    artifact = component.path or f"{bridge.name}_component/{component.id}.wasm"
    if manifest.artifact is not None and manifest.artifact != artifact:
        problems.append(
            f"{manifest_where}: [wheel.component] artifact is {manifest.artifact!r}, but the component goes to "
            f"{artifact!r} (its file name below {bridge.name}_component/); remove the artifact line or make it that"
        )
    missing = missing_capabilities(manifest.required, (name for name, _ in component.exports))
    if missing:
        exported = ", ".join(sorted({name for name, _ in component.exports})) or "nothing"
        problems.append(
            f"{manifest_where} requires {', '.join(missing)}, which component {component.id!r} does not export "
            f"(it exports {exported})"
        )
    files = _bridge_files(bridge, key, problems)
    if problems:
        raise _refused(problems)
    written = staging / PYFORGE_MANIFEST
    atomic_write(written, _written_back(text, manifest, artifact, manifest_where))
    layout = {os.fspath(bridge / relative): f"{bridge.name}/{relative}" for relative in files}
    layout = {source: target for source, target in layout.items() if target != f"{bridge.name}/{PYFORGE_MANIFEST}"}
    layout[os.fspath(written)] = f"{bridge.name}/{PYFORGE_MANIFEST}"
    layout[os.fspath(blob)] = artifact
    wanted = requires_python_for(pyforge.python)
    lines = (
        f"extension {manifest.name} {manifest.version} for CPython {pyforge.python} ({pyforge.tag}): bridge "
        f"{bridge.name}/ ({len(files)} files), component {component.id} -> {artifact}",
        f"extension requires {len(manifest.required)} capabilities, all exported by {component.id}"
        if manifest.required
        else "extension requires no capabilities",
    )
    shims = [bridge / shim for shim in _shims(manifest)]
    inputs = tuple(
        [bridge / PYFORGE_MANIFEST, *(bridge / f for f in files), *(Path(os.path.normpath(p)) for p in shims)]
    )
    package_description = (manifest.document.get("package") or {}).get("description")
    summary = " ".join(package_description.split()) if isinstance(package_description, str) else None
    summary = None if description else summary
    added = wanted if requires_python is None else None
    return ExtensionWheel(layout, artifact, added, summary or None, lines, tuple(sorted(set(inputs))))


def _shims(manifest: PyforgeManifest) -> list[str]:
    """The ``[[provides]] shim`` files a bridge names (relative to the bridge folder)."""
    provides = manifest.document.get("provides", [])
    entries = provides if isinstance(provides, list) else []
    return [e["shim"] for e in entries if isinstance(e, dict) and isinstance(e.get("shim"), str) and e["shim"]]


def _identity_problems(
    manifest: PyforgeManifest,
    project_name: str,
    project_version: str,
    requires_python: str | None,
    pyforge: Pyforge,
    key: str,
) -> list[str]:
    """``[project]`` and ``[package]`` describe one distribution; its Requires-Python is the tag's."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    problems = []
    where = f"{key}.bridge: {manifest.where.rsplit(': ', 1)[-1]}"
    if canonical_name(project_name) != canonical_name(manifest.name):
        problems.append(
            f"[project] name {project_name!r} and {where} [package] name {manifest.name!r} must be the same "
            "distribution (python-wasm names the wheel from [package])"
        )
    try:
        same = Version(project_version) == Version(manifest.version)
    except InvalidVersion:
        same = project_version == manifest.version
    if not same:
        problems.append(
            f"[project] version {project_version!r} and {where} [package] version {manifest.version!r} must be the same"
        )
    wanted = requires_python_for(pyforge.python)
    if requires_python is not None:
        try:
            fits = SpecifierSet(requires_python) == SpecifierSet(wanted)
        except InvalidSpecifier:
            fits = False
        if not fits:
            problems.append(
                f"[project] requires-python {requires_python!r} does not fit a cp{pyforge.python.replace('.', '')} "
                f"extension wheel: remove it (the wheel gets Requires-Python: {wanted}) or write {wanted!r}"
            )
    return problems


def _verify_problems(manifest: PyforgeManifest, bridge: Path, where: str) -> list[str]:
    """python-wasm's ``pyforge-pkg-verify``: the files ``[extension]`` and ``[[provides]]`` name exist."""
    problems = []
    extension = manifest.document.get("extension")
    if isinstance(extension, dict):
        for field, folder in (("c_file", ""), ("gen_import_c", "gen/"), ("gen_import_obj", "gen/")):
            name = extension.get(field)
            if not isinstance(name, str) or not name:
                problems.append(f"{where}: [extension] {field} is missing")
            elif not (bridge / folder / name).is_file():
                problems.append(f"{where}: [extension] {field} names {folder}{name}, which is not in the bridge")
    for shim in _shims(manifest):
        if not (bridge / shim).is_file():
            problems.append(f"{where}: [[provides]] shim {shim!r} does not exist")
    return problems


def _bridge_files(bridge: Path, key: str, problems: list[str]) -> list[str]:
    """The bridge's files (POSIX, relative, sorted) as ``wheel_builder`` copies them; a link or special file is a
    problem (the wheel carries regular files only)."""
    found: list[str] = []
    for folder, folders, names in os.walk(bridge):
        folders[:] = sorted(f for f in folders if f not in _SKIPPED_DIRS)
        for name in sorted([*names, *(f for f in folders if os.path.islink(os.path.join(folder, f)))]):
            path = Path(folder) / name
            relative = path.relative_to(bridge).as_posix()
            if name.endswith(_SKIPPED_SUFFIXES):
                continue
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                problems.append(f"{key}.bridge: {printable(bridge.name)}/{printable(relative)} is not a regular file")
                continue
            found.append(relative)
    return sorted(found)


def _written_back(text: bytes, manifest: PyforgeManifest, artifact: str, where: str) -> bytes:
    """The manifest with its ``[wheel.component]`` block, as ``wheel_builder`` writes it: ``artifact`` added when
    it has none (a ``wit_world`` the manifest gives is kept; the binary does not name its world). Its text is
    otherwise kept, comments included."""
    import json

    if manifest.artifact is not None:
        return text
    block = f"\n[wheel.component]\nartifact = {json.dumps(artifact)}\n"
    data = text.rstrip(b"\n") + b"\n" + block.encode("utf-8")
    parse_pyforge_manifest(data, where)  # the written-back manifest reads back
    return data


# -- after hatchling wrote the wheel ------------------------------------------------------------------------


def _with_headers(text: str, added: list[str]) -> bytes:
    """Core metadata with ``added`` (``Field: value``) at the end of its headers, replacing those fields."""
    head, separator, body = text.partition("\n\n")
    fields = {line.split(":", 1)[0] for line in added}
    kept = [line for line in head.splitlines() if line.split(":", 1)[0] not in fields]
    return ("\n".join([*kept, *added]) + "\n" + (separator[1:] + body if separator else "")).encode("utf-8")


def finish_sdist(sdist: Path, lines: Iterable[str]) -> None:
    """Add ``lines`` to the sdist's PKG-INFO, as ``finish_wheel`` adds them to the wheel's METADATA: the archive is
    rewritten in place, streamed, every other member, header and timestamp kept (gzip's too)."""
    import gzip
    import io
    import tarfile

    from .._fs import TempFile

    added = list(lines)
    try:
        with open(sdist, "rb") as raw:
            header = raw.read(10)
        mtime = int.from_bytes(header[4:8], "little")
        with tarfile.open(sdist, "r:gz") as source, TempFile(sdist.parent) as temp:
            packed = gzip.GzipFile(filename="", fileobj=temp.file, mode="wb", mtime=mtime)
            with packed, tarfile.TarFile(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as output:
                for member in source:
                    stream = source.extractfile(member) if member.isfile() else None
                    if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                        assert stream is not None
                        data = _with_headers(stream.read().decode("utf-8"), added)
                        member.size = len(data)
                        stream = io.BytesIO(data)
                    output.addfile(member, stream)
            temp.commit(sdist)
    except (OSError, EOFError, UnicodeDecodeError, tarfile.TarError) as error:
        raise PylonError(f"{sdist}: cannot add {', '.join(added)} to its PKG-INFO ({error})") from None


def finish_wheel(wheel: Path, lines: Iterable[str]) -> None:
    """Add ``lines`` (``Platform``, ``Requires-Python``) to the wheel's METADATA headers and its RECORD row,
    rewriting the archive in place with every other member's bytes, order and timestamps kept."""
    import base64
    import csv
    import hashlib
    import io
    import zipfile

    from .._fs import TempFile

    added = list(lines)
    try:
        with zipfile.ZipFile(wheel) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            metadata = next(n for n in names if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            record = metadata.rsplit("/", 1)[0] + "/RECORD"
            new_metadata = _with_headers(archive.read(metadata).decode("utf-8"), added)
            digest = base64.urlsafe_b64encode(hashlib.sha256(new_metadata).digest()).rstrip(b"=").decode()
            rows = list(csv.reader(io.StringIO(archive.read(record).decode("utf-8"))))
            rows = [
                [metadata, f"sha256={digest}", str(len(new_metadata))] if r and r[0] == metadata else r for r in rows
            ]
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(rows)
            replaced = {metadata: new_metadata, record: buffer.getvalue().encode()}
            with TempFile(wheel.parent) as temp:
                with zipfile.ZipFile(temp.file, "w") as output:
                    for info in infos:
                        output.writestr(info, replaced.get(info.filename) or archive.read(info))
                temp.commit(wheel)
    except (OSError, StopIteration, UnicodeDecodeError, zipfile.BadZipFile, csv.Error) as error:
        raise PylonError(f"{wheel}: cannot add {', '.join(added)} to its METADATA ({error})") from None
