"""Turn a TARGET (folder, wheel, sdist or installed distribution) into a folder holding a bundle.

A bundle folder has ``plan.json`` and ``.compose/blobs/…``. Archives are
never trusted: only the bundle's own members are copied out, each streamed
through a byte limit into a private temp folder that is removed on every
exit path; duplicate names, file/folder conflicts, absolute and ``..``
names, links and special members are refused. A wheel's bundle files are
also checked against its ``RECORD``. Folders and installed distributions
are read in place by the verification gate, which never follows a link.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from ._errors import ArchiveError, PylonError, Say, TooLarge, bullets, say_nothing
from ._fs import TempFile, private_folder, sha256_of
from ._layout import COMPOSED_SUFFIX, DEFAULT_MAX_COMPONENT_SIZE, META_FILE, PLAN_FILE, SDIST_BUNDLE_DIR, STORE_DIR
from ._plan import MAX_PLAN_BYTES

_MAX_RECORD = 64 << 20
DIST_PREFIX = "dist:"


@dataclass(frozen=True)
class BundleFolder:
    folder: Path
    label: str  # what the user named, for messages
    kind: str  # "folder", "wheel", "sdist", "distribution" or "project" (built from its sources)
    problems: tuple[str, ...] = field(default=())  # what unpacking found wrong (RECORD mismatches)


ProjectBuilder = Callable[[Path, Path], Path]  # (project folder, private staging folder) -> bundle folder


@contextmanager
def open_target(
    target: str,
    *,
    limit: int = DEFAULT_MAX_COMPONENT_SIZE,
    say: Say = say_nothing,
    project: ProjectBuilder | None = None,
) -> Iterator[BundleFolder]:
    """The bundle TARGET names, as a folder; archives are unpacked for the life of the context.

    ``dist:NAME`` always means an installed distribution; a path with a
    separator (``./NAME``) always means a path. A bare name that is a folder
    holding no bundle falls back to the installed distribution of that name,
    and ``say`` is told which was picked. A folder holding no bundle but a
    ``pyproject.toml`` is a project: ``project`` (the layer that can build)
    resolves it from its sources into a private folder, which lives as long
    as the context; the bundle it makes goes through the same gate.
    """
    if target.startswith(DIST_PREFIX):
        yield BundleFolder(_installed_bundle(target[len(DIST_PREFIX) :]), target, "distribution")
        return
    path = Path(target)
    if path.is_dir():
        found = _folder_bundle(path)
        if found is None and os.sep not in target and "/" not in target and _is_installed(target):
            say(
                f"{target}/ holds no bundle; using the installed distribution {target!r} "
                f"(write ./{target} to mean the folder)"
            )
            yield BundleFolder(_installed_bundle(target), target, "distribution")
            return
        if found is None and project is not None and (path / "pyproject.toml").is_file():
            with private_folder("hatch-pylon-project-") as temp:
                yield BundleFolder(project(path, temp), target, "project")
            return
        if found is None:
            raise PylonError(
                f"{target}: no {PLAN_FILE} here (expected {PLAN_FILE} next to {STORE_DIR}/) and no pyproject.toml"
            )
        yield BundleFolder(found, target, "folder")
    elif path.is_file() and path.suffix == ".whl":
        with private_folder("hatch-pylon-unpack-") as temp:
            folder, problems = _unpack_wheel(path, temp, limit)
            yield BundleFolder(folder, target, "wheel", tuple(problems))
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        with private_folder("hatch-pylon-unpack-") as temp:
            yield BundleFolder(_unpack_sdist(path, temp, limit), target, "sdist")
    elif path.exists() or os.path.islink(target):
        raise PylonError(f"{target}: not a wheel (.whl), an sdist (.tar.gz) or a folder")
    else:
        yield BundleFolder(_installed_bundle(target), target, "distribution")


def _folder_bundle(path: Path) -> Path | None:
    for candidate in (path, path / SDIST_BUNDLE_DIR):
        if (candidate / PLAN_FILE).is_file():
            return candidate
    return None


def _is_installed(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _bundle_prefix(names: list[str], source: str) -> str:
    """The archive folder whose plan.json sits next to a .compose store."""
    prefixes = sorted(name[: -len(PLAN_FILE)] for name in names if name.endswith(f"/{PLAN_FILE}") or name == PLAN_FILE)
    stores = {name.split(f"{STORE_DIR}/", 1)[0] for name in names if f"{STORE_DIR}/" in name}
    with_store = [p for p in prefixes if p in stores] or prefixes
    if not with_store:
        raise ArchiveError(f"{source}: contains no {PLAN_FILE}; was it built with hatch-pylon?")
    if len(with_store) > 1:
        raise ArchiveError(f"{source}: contains several bundles ({', '.join(p or './' for p in with_store)})")
    return with_store[0]


def _member_problems(names: list[str]) -> list[str]:
    """Duplicate names, file/folder conflicts, absolute and ``..`` names: each one refuses the archive."""
    problems = []
    seen: set[str] = set()
    folders: set[str] = set()
    for name in names:
        posix = PurePosixPath(name)
        if (
            name.startswith("/")
            or posix.is_absolute()
            or ".." in posix.parts
            or "\\" in name
            or (posix.parts and ":" in posix.parts[0])
        ):
            problems.append(f"unsafe member name {name!r}")
            continue
        if name.endswith("/"):
            folders.add(name.rstrip("/"))
            continue
        if name in seen:
            problems.append(f"member {name!r} appears more than once")
        seen.add(name)
        folders.update(str(parent) for parent in posix.parents if str(parent) != ".")
    problems += [f"{name!r} is both a file and a folder" for name in sorted(seen & folders)]
    return problems


def _is_bundle_member(name: str, prefix: str) -> bool:
    if not name.startswith(prefix) or name.endswith("/"):
        return False
    rest = name[len(prefix) :]
    return rest in (PLAN_FILE, META_FILE) or rest.startswith(f"{STORE_DIR}/") or rest.endswith(COMPOSED_SUFFIX)


def _extract(stream: IO[bytes], target: Path, limit: int) -> tuple[str, int]:
    """Stream one member to ``target`` (hashing it); nothing is left if it goes past ``limit``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with TempFile(target.parent) as temp:
        digest, size = sha256_of(stream, limit, copy_to=temp.file)
        temp.commit(target)
    return digest, size


def _unpack_wheel(wheel: Path, temp: Path, limit: int) -> tuple[Path, list[str]]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            problems = _member_problems(names)
            if problems:
                raise ArchiveError(f"{wheel}: not a safe wheel:\n{bullets(problems)}")
            prefix = _bundle_prefix(names, str(wheel))
            hashes: dict[str, tuple[str, int]] = {}
            for info in infos:
                if not _is_bundle_member(info.filename, prefix):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise ArchiveError(
                        f"{wheel}: member {info.filename!r} is a symbolic link; a bundle holds files only"
                    )
                cap = MAX_PLAN_BYTES if info.filename.endswith(("/" + PLAN_FILE, "/" + META_FILE)) else limit
                with archive.open(info) as member:
                    hashes[info.filename] = _extract(member, temp / info.filename, cap)
            record = _record(archive, names, wheel)
    except TooLarge as error:
        raise ArchiveError(f"{wheel}: a bundle member {error}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise ArchiveError(f"{wheel}: not a valid wheel ({exc})") from None
    return temp / prefix, _record_problems(record, hashes)


def _record(archive: zipfile.ZipFile, names: list[str], wheel: Path) -> dict[str, tuple[str, str]] | None:
    """``RECORD``'s hash and size per file, or None when the archive has no RECORD (not a wheel we can check)."""
    records = [n for n in names if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
    if len(records) != 1:
        return None
    info = archive.getinfo(records[0])
    if info.file_size > _MAX_RECORD:
        raise ArchiveError(f"{wheel}: RECORD is over {_MAX_RECORD} bytes")
    text = archive.read(info).decode("utf-8", errors="replace")
    return {row[0]: (row[1], row[2]) for row in csv.reader(io.StringIO(text)) if len(row) >= 3}


def _record_problems(record: dict[str, tuple[str, str]] | None, hashes: dict[str, tuple[str, int]]) -> list[str]:
    if record is None:
        return ["the wheel has no RECORD, so its bundle files cannot be checked against it"]
    problems = []
    for name, (digest, size) in sorted(hashes.items()):
        expected = record.get(name)
        encoded = "sha256=" + base64.urlsafe_b64encode(bytes.fromhex(digest)).rstrip(b"=").decode()
        if expected is None:
            problems.append(f"RECORD does not list {name}")
        elif expected != (encoded, str(size)):
            problems.append(f"RECORD's hash or size for {name} does not match the file")
    return problems


def _unpack_sdist(sdist: Path, temp: Path, limit: int) -> Path:
    try:
        with tarfile.open(sdist) as archive:
            members = archive.getmembers()
            names = [m.name + ("/" if m.isdir() else "") for m in members]
            problems = _member_problems(names)
            if problems:
                raise ArchiveError(f"{sdist}: not a safe sdist:\n{bullets(problems)}")
            candidates = [n for n in names if f"/{SDIST_BUNDLE_DIR}/" in f"/{n}"]
            prefix = _bundle_prefix(candidates, str(sdist))
            for member in members:
                if member.isdir() or not _is_bundle_member(member.name, prefix):
                    continue
                if member.issym() or member.islnk():
                    kind = "symbolic link" if member.issym() else "hard link"
                    raise ArchiveError(f"{sdist}: member {member.name!r} is a {kind}; a bundle holds files only")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ArchiveError(f"{sdist}: member {member.name!r} is a special file; a bundle holds files only")
                stream = archive.extractfile(member)
                if stream is None:
                    raise ArchiveError(f"{sdist}: member {member.name!r} cannot be read")
                cap = MAX_PLAN_BYTES if member.name.endswith(("/" + PLAN_FILE, "/" + META_FILE)) else limit
                with stream:
                    _extract(stream, temp / member.name, cap)
    except TooLarge as error:
        raise ArchiveError(f"{sdist}: a bundle member {error}") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, EOFError) and exc.errno is not None:
            raise
        raise ArchiveError(f"{sdist}: not a valid sdist ({exc})") from None
    return temp / prefix


def _installed_bundle(name: str) -> Path:
    from importlib import metadata

    try:
        distribution = metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        raise PylonError(f"{name}: no such file, folder or installed distribution") from None
    files = [str(f) for f in distribution.files or []]
    prefix = _bundle_prefix(files, f"distribution {name!r}")
    return Path(str(distribution.locate_file(f"{prefix}{PLAN_FILE}"))).parent
