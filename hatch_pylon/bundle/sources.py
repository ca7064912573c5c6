"""Turn a TARGET (folder, wheel, sdist or installed distribution) into a folder holding a bundle.

A bundle folder has ``plan.json`` and ``.compose/blobs/…``. Archives are
never trusted and are judged from their index first: at most
``MAX_MEMBERS`` members; no duplicate names, file/folder conflicts,
absolute or ``..`` names, names that land on one path on case-insensitive
or normalizing file systems, or parts Windows would change; an sdist's
bundle is ``<root>/.pylon-bundle/`` only. Then the plan and ``pylon.json``
are copied out, and only the members the plan names after them (a member
under the bundle it does not name, a link, a special file or more than
``MAX_EXTRACTED`` bytes in all refuse the archive first), each streamed
through a byte limit into a private temp folder removed on every exit
path. A wheel's bundle files are also checked against its ``RECORD``.
Folders are read in place by the verification gate, which never follows a
link; installed distributions too, once their bundle is known to lie in
their site-packages behind real folders.
"""

from __future__ import annotations

import base64
import os
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, cast

from .._errors import ArchiveError, PylonError, TooLarge, bullets, plural, printable, quoted
from .._fs import TempFile, os_reason, private_folder, sha256_of
from .._layout import COMPOSED_SUFFIX, DEFAULT_MAX_COMPONENT_SIZE, META_FILE, PLAN_FILE, SDIST_BUNDLE_DIR, STORE_DIR
from ..composectl.plan import MAX_PLAN_BYTES
from .distributions import (
    DESCRIPTOR,
    DESCRIPTOR_PATH,
    MAX_RECORD_BYTES,
    PYFORGE_MANIFEST,
    find_distribution,
    installed_record,
    is_installed,
    parse_record,
)

if TYPE_CHECKING:
    import tarfile

MAX_MEMBERS = 100_000  # members in one wheel or sdist (a 10,000-component bundle has about 10,300)
MAX_EXTRACTED = 4 << 30  # bytes copied out of one archive, every bundle member together
DIST_PREFIX = "dist:"


@dataclass(frozen=True)
class BundleFolder:
    folder: Path
    label: str  # what the user named, for messages
    kind: str  # "folder", "wheel", "sdist", "distribution" or "project" (built from its sources)
    problems: tuple[str, ...] = field(default=())  # what unpacking found wrong (RECORD mismatches)
    provided: str | None = None  # a component distribution: its descriptor, below ``folder`` (no plan)
    store: str | None = None  # where its blobs are when not where the descriptor says (an sdist)
    dist_info: str | None = None  # a component distribution laid out as installed below ``folder``: its .dist-info
    owned: frozenset[str] | None = None  # an installed distribution: the files its RECORD lists, below ``folder``


ProjectBuilder = Callable[[Path, Path], Path]  # (project folder, private staging folder) -> bundle folder


@contextmanager
def open_target(
    target: str,
    *,
    limit: int = DEFAULT_MAX_COMPONENT_SIZE,
    project: ProjectBuilder | None = None,
) -> Iterator[BundleFolder]:
    """The bundle TARGET names, as a folder; archives are unpacked for the life of the context.

    ``dist:NAME`` always means an installed distribution; a path with a
    separator (``./NAME``) always means a path. A bare name that is both a
    path here and an installed distribution is refused, naming both forms:
    guessing would run one where the user meant the other. A folder holding no bundle but a
    ``pyproject.toml`` is a project: ``project`` (the layer that can build)
    resolves it from its sources into a private folder, which lives as long
    as the context; the bundle it makes goes through the same gate.
    """
    if target.startswith(DIST_PREFIX):
        yield _installed_target(target[len(DIST_PREFIX) :], target)
        return
    path = Path(target)
    bare = not any(sep in target for sep in ("/", os.sep, os.altsep or "/"))
    if bare and os.path.lexists(target) and is_installed(target):
        shown = printable(target)
        raise PylonError(
            f"{shown} is both a {'folder' if path.is_dir() else 'file'} here and an installed distribution; "
            f"write ./{shown} for the {'folder' if path.is_dir() else 'file'} or {DIST_PREFIX}{shown} for the "
            "distribution"
        )
    if path.is_dir():
        found = _folder_bundle(path)
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
            folder, problems, provided = _unpack_wheel(path, temp, limit)
            if provided is not None and provided.endswith(".dist-info"):  # a python-wasm extension wheel
                yield BundleFolder(folder, target, "wheel", tuple(problems), dist_info=provided)
            elif provided is None:
                yield BundleFolder(folder, target, "wheel", tuple(problems))
            else:  # a component wheel, unpacked as its sdist carries it: the descriptor next to the store
                yield BundleFolder(folder, target, "wheel", tuple(problems), provided=DESCRIPTOR, store=STORE_DIR)
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        with private_folder("hatch-pylon-unpack-") as temp:
            folder = _unpack_sdist(path, temp, limit)
            if (folder / PLAN_FILE).is_file():
                yield BundleFolder(folder, target, "sdist")
            else:  # a component wheel's sdist: the descriptor next to the store
                yield BundleFolder(folder, target, "sdist", provided=DESCRIPTOR, store=STORE_DIR)
    elif path.exists() or os.path.islink(target):
        raise PylonError(f"{target}: not a wheel (.whl), an sdist (.tar.gz) or a folder")
    else:
        yield _installed_target(target, target)


def _installed_target(name: str, label: str) -> BundleFolder:
    """An installed app's bundle, or an installed component distribution (no plan), found here or in python-wasm's
    ``$PYTHON_WASM_HOME/site-packages``."""
    found = find_distribution(name)
    if found is None:
        raise PylonError(
            f"{printable(name)}: no such file, folder or installed distribution (looked here and in "
            "$PYTHON_WASM_HOME/site-packages)"
        )
    distribution = found[0]
    files = [PurePosixPath(f).as_posix() for f in installed_record(distribution, f"distribution {quoted(name)}")]
    provided = _provided(files)
    if provided is None:
        return BundleFolder(_installed_bundle(distribution, name), label, "distribution")
    if provided.endswith(".dist-info"):
        return BundleFolder(Path(str(distribution.locate_file(""))), label, "distribution", dist_info=provided)
    base = Path(str(distribution.locate_file("")))
    return BundleFolder(base, label, "distribution", provided=provided, owned=frozenset(files))


def _provided(names: list[str]) -> str | None:
    """A component wheel's descriptor (``*.dist-info/extra_metadata/pylon-components.json``), if it has one, or its
    ``.dist-info`` folder when it is a python-wasm extension wheel (a ``<bridge>/pyforge-pkg.toml`` at its top).

    These decide: a component distribution stays one whatever data files it ships (a ``plan.json`` among its
    examples), and an app's wheel has neither.
    """
    if any(n.count("/") == 1 and n.endswith(f"/{PYFORGE_MANIFEST}") for n in names):
        records = sorted(n for n in names if n.endswith(".dist-info/RECORD") and n.count("/") == 1)
        if records:
            return records[0].split("/", 1)[0]
    found = sorted(n for n in names if n.endswith(f".dist-info/{DESCRIPTOR_PATH}") and n.count("/") == 2)
    return found[0] if found else None


def _folder_bundle(path: Path) -> Path | None:
    """The bundle in folder ``path`` (or its sdist's ``.pylon-bundle``). A project's own folder is never one:
    a ``plan.json`` next to ``pyproject.toml`` with no ``.compose`` store beside it (``plan --json > plan.json``)
    leaves the folder a project, built from its sources."""
    for candidate in (path, path / SDIST_BUNDLE_DIR):
        if not (candidate / PLAN_FILE).is_file():
            continue
        if candidate == path and (path / "pyproject.toml").is_file() and not (path / STORE_DIR).is_dir():
            continue
        return candidate
    return None


def _bundle_prefix(names: list[str], source: str, provided: bool = False) -> str:
    """The archive folder whose plan.json (``provided``: a component wheel's descriptor) sits next to a .compose
    store."""
    prefixes = (
        [] if provided else sorted(n[: -len(PLAN_FILE)] for n in names if n.endswith(f"/{PLAN_FILE}") or n == PLAN_FILE)
    )
    if not prefixes:  # a component wheel's sdist carries its descriptor where an app's carries the plan
        prefixes = sorted(n[: -len(DESCRIPTOR)] for n in names if n.endswith(f"/{DESCRIPTOR}"))
    stores = {name.split(f"{STORE_DIR}/", 1)[0] for name in names if f"{STORE_DIR}/" in name}
    with_store = [p for p in prefixes if p in stores] or prefixes
    if not with_store:
        raise ArchiveError(f"{source}: contains no {PLAN_FILE}; was it built with hatch-pylon?")
    if len(with_store) > 1:
        raise ArchiveError(f"{source}: contains several bundles ({', '.join(p or './' for p in with_store)})")
    return with_store[0]


def _member_problems(names: list[str]) -> list[str]:
    """What refuses the archive outright: absolute and ``..`` names, names a case-insensitive or
    normalizing file system (macOS, Windows) would land on another member's path, names Windows would
    change (a part ending in ``.`` or a space), duplicates and file/folder conflicts."""
    problems = []
    seen: set[str] = set()
    folders: set[str] = set()
    spellings: dict[str, str] = {}  # case-folded NFC path -> the first spelling seen
    for name in names:
        posix = PurePosixPath(name)
        if (
            name.startswith("/")
            or posix.is_absolute()
            or ".." in posix.parts
            or "\\" in name
            or (posix.parts and ":" in posix.parts[0])
            or any(part.endswith((".", " ")) for part in posix.parts)
        ):
            problems.append(f"unsafe member name {quoted(name)}")
            continue
        for path in (*reversed([p for p in posix.parents if str(p) != "."]), posix):  # the shortest clash first
            spelled = str(path)
            key = unicodedata.normalize("NFC", spelled).casefold()
            first = spellings.setdefault(key, spelled)
            if first != spelled:
                problems.append(
                    f"members {quoted(first)} and {quoted(spelled)} are one path on case-insensitive file systems"
                )
                break
        if name.endswith("/"):
            folders.add(name.rstrip("/"))
            continue
        if name in seen:
            problems.append(f"member {quoted(name)} appears more than once")
        seen.add(name)
        folders.update(str(parent) for parent in posix.parents if str(parent) != ".")
    problems += [f"{quoted(name)} is both a file and a folder" for name in sorted(seen & folders)]
    return problems


def _is_bundle_member(name: str, prefix: str) -> bool:
    if not name.startswith(prefix) or name.endswith("/"):
        return False
    rest = name[len(prefix) :]
    return (
        rest in (PLAN_FILE, META_FILE, DESCRIPTOR) or rest.startswith(f"{STORE_DIR}/") or rest.endswith(COMPOSED_SUFFIX)
    )


@dataclass(frozen=True)
class _Member:
    """One archive member, as read from the archive's index (nothing extracted yet)."""

    name: str  # folders end in "/"
    size: int
    kind: str  # "file", "folder", "symbolic link", "hard link" or "special file"
    handle: object  # the ZipInfo or TarInfo


def _zip_members(archive: zipfile.ZipFile, source: Path) -> list[_Member]:
    infos = archive.infolist()
    _check_count(len(infos), source)
    members = []
    for info in infos:
        if info.is_dir():
            kind = "folder"
        elif stat.S_ISLNK(info.external_attr >> 16):
            kind = "symbolic link"
        else:
            kind = "file"
        members.append(_Member(info.filename, info.file_size, kind, info))
    return members


def _tar_members(archive: tarfile.TarFile, source: Path) -> list[_Member]:
    members: list[_Member] = []
    while (info := archive.next()) is not None:  # one header at a time: the count is checked as they come
        _check_count(len(members) + 1, source)
        if info.isdir():
            member = _Member(info.name + "/", 0, "folder", info)
        elif info.issym() or info.islnk():
            member = _Member(info.name, 0, "symbolic link" if info.issym() else "hard link", info)
        else:
            member = _Member(info.name, info.size, "file" if info.isfile() else "special file", info)
        members.append(member)
    return members


def _check_count(count: int, source: Path) -> None:
    if count > MAX_MEMBERS:
        raise ArchiveError(f"{source}: more than {MAX_MEMBERS} members; a hatch-pylon archive has far fewer")


def _sdist_prefix(names: list[str], source: Path) -> str:
    """``<root folder>/.pylon-bundle/``: the one place an sdist carries its bundle (any other is refused)."""
    elsewhere = sorted(
        {
            "/".join(parts[: parts.index(SDIST_BUNDLE_DIR) + 1])
            for parts in (n.rstrip("/").split("/") for n in names)
            if SDIST_BUNDLE_DIR in parts and parts.index(SDIST_BUNDLE_DIR) != 1
        }
    )
    if elsewhere:
        raise ArchiveError(
            f"{source}: an sdist carries its bundle in <root folder>/{SDIST_BUNDLE_DIR}/ only, "
            f"not in:\n{bullets(quoted(e) for e in elsewhere)}"
        )
    tops = sorted({n.split("/", 1)[0] for n in names if n.split("/")[1:2] == [SDIST_BUNDLE_DIR]})
    if not tops:
        raise ArchiveError(f"{source}: contains no {SDIST_BUNDLE_DIR}/{PLAN_FILE}; was it built with hatch-pylon?")
    if len(tops) > 1:
        raise ArchiveError(f"{source}: contains several bundles ({', '.join(quoted(t) for t in tops)})")
    return f"{tops[0]}/{SDIST_BUNDLE_DIR}/"


def _expected_members(read: Callable[[str], bytes | None]) -> set[str] | None:
    """The bundle paths the plan names (relative to the bundle), or None when the plan does not parse
    (the gate then reports why, from the extracted ``plan.json``)."""
    from .._layout import blob_relpath, composed_name
    from ..composectl.plan import PlanFormatError, parse_plan

    data = read(PLAN_FILE)
    if data is None:
        return _described_members(read(DESCRIPTOR))
    try:
        plan = parse_plan(data, PLAN_FILE)
    except PlanFormatError:
        return None
    expected = {PLAN_FILE, META_FILE, composed_name(plan.root)}
    return expected | {f"{STORE_DIR}/{blob_relpath(c.digest)}" for c in plan.components}


def _described_members(data: bytes | None) -> set[str] | None:
    """A component distribution's bundle paths: its descriptor and the blobs it lists (None when it does not parse)."""
    from .._errors import ComponentsError
    from .._layout import blob_relpath
    from .distributions import parse_descriptor

    if data is None:
        return None
    try:
        _, components = parse_descriptor(data, DESCRIPTOR)
    except ComponentsError:
        return None
    return {DESCRIPTOR} | {f"{STORE_DIR}/{blob_relpath(c.digest or '')}" for c in components}


def _unpack(
    members: list[_Member],
    open_member: Callable[[_Member], IO[bytes]],
    prefix_of: Callable[[list[str]], str],
    source: Path,
    what: str,
    temp: Path,
    limit: int,
) -> tuple[Path, dict[str, tuple[str, int]]]:
    """The archive's bundle members, checked from the archive's index first, then copied into
    ``temp/bundle/``: the plan and the record first, then only what the plan names. A member under the
    bundle the plan does not name, or more bytes in all than ``MAX_EXTRACTED``, refuses the archive
    before anything else is written."""
    problems = _member_problems([m.name for m in members])
    if problems:
        raise ArchiveError(f"{source}: not a safe {what}:\n{bullets(problems)}")
    prefix = prefix_of([m.name for m in members])
    bundle = {m.name[len(prefix) :]: m for m in members if _is_bundle_member(m.name, prefix)}
    for member in bundle.values():
        if member.kind != "file":
            raise ArchiveError(f"{source}: member {quoted(member.name)} is a {member.kind}; a bundle holds files only")
    folder = temp / "bundle"
    hashes: dict[str, tuple[str, int]] = {}

    def extract(relative: str, cap: int) -> None:
        member = bundle[relative]
        if member.size > cap:
            raise ArchiveError(f"{source}: bundle member {quoted(member.name)} is over the limit of {cap} bytes")
        target = folder / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open_member(member) as stream:
                hashes[member.name] = _extract(stream, target, cap)
        except OSError as exc:
            raise ArchiveError(f"{source}: cannot unpack {quoted(member.name)} ({os_reason(exc)})") from None
        except TooLarge as error:
            raise ArchiveError(f"{source}: bundle member {quoted(member.name)} {error}") from None

    for small in (PLAN_FILE, META_FILE, DESCRIPTOR):
        if small in bundle:
            extract(small, MAX_PLAN_BYTES)

    def read(relative: str) -> bytes | None:
        try:
            return (folder / relative).read_bytes() if relative in bundle else None
        except OSError:
            return None

    expected = _expected_members(read)
    if expected is None:
        return folder, hashes
    strays = sorted(m.name for rel, m in bundle.items() if rel not in expected)
    strays += sorted(
        m.name
        for m in members
        if m.kind == "folder"
        and m.name.startswith(f"{prefix}{STORE_DIR}/")
        and not any(e.startswith(m.name[len(prefix) :]) for e in expected)
    )
    if strays:
        raise ArchiveError(
            f"{source}: {plural(len(strays), 'member')} in the bundle that the plan does not name:\n"
            + bullets(quoted(s) for s in strays)
        )
    rest = sorted(rel for rel in bundle if rel not in (PLAN_FILE, META_FILE, DESCRIPTOR))
    total = sum(bundle[rel].size for rel in rest)
    if total > MAX_EXTRACTED:
        raise ArchiveError(
            f"{source}: the bundle holds {total} bytes, over the limit of {MAX_EXTRACTED} bytes for one archive"
        )
    for relative in rest:
        extract(relative, limit)
    return folder, hashes


def _extract(stream: IO[bytes], target: Path, limit: int) -> tuple[str, int]:
    """Stream one member to ``target`` (hashing it); nothing is left if it goes past ``limit``."""
    with TempFile(target.parent) as temp:
        digest, size = sha256_of(stream, limit, copy_to=temp.file)
        temp.commit(target)
    return digest, size


_RENAMED: dict[str, str] = {}  # a component wheel's descriptor, as unpacked -> its name in the wheel


def _descriptor_beside_store(members: list[_Member], descriptor: str, wheel: Path) -> list[_Member]:
    """A component wheel's members with its descriptor renamed to sit next to its one ``.compose`` store, so it
    unpacks as an sdist carries it: ``pylon-components.json`` beside ``.compose/``."""
    from dataclasses import replace

    stores = sorted({m.name.split(f"{STORE_DIR}/", 1)[0] for m in members if f"/{STORE_DIR}/" in f"/{m.name}"})
    stores = [s for s in stores if not s.split("/", 1)[0].endswith(".dist-info")]
    if len(stores) != 1:
        raise ArchiveError(f"{wheel}: a component wheel holds one {STORE_DIR}/ store, not {len(stores)}")
    renamed = f"{stores[0]}{DESCRIPTOR}"
    _RENAMED[renamed] = descriptor
    return [replace(m, name=renamed) if m.name == descriptor else m for m in members]


def _unpack_wheel(wheel: Path, temp: Path, limit: int) -> tuple[Path, list[str], str | None]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = _zip_members(archive, wheel)
            provided = _provided([m.name for m in members])
            if provided is not None and provided.endswith(".dist-info"):
                return _unpack_distribution(archive, members, wheel, temp, limit, provided)
            if provided is not None:  # a component wheel: its descriptor is unpacked next to its store
                members = _descriptor_beside_store(members, provided, wheel)

            def prefix_of(names: list[str]) -> str:
                return _bundle_prefix(names, str(wheel), provided is not None)

            def open_member(member: _Member) -> IO[bytes]:
                return archive.open(cast(zipfile.ZipInfo, member.handle))

            folder, hashes = _unpack(members, open_member, prefix_of, wheel, "wheel", temp, limit)
            record = _record(archive, [m.name for m in _zip_members(archive, wheel)], wheel)
            if provided is not None:
                hashes = {_RENAMED.get(name, name): value for name, value in hashes.items()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise ArchiveError(f"{wheel}: not a valid wheel ({exc})") from None
    return folder, _record_problems(record, hashes), provided


def _unpack_distribution(
    archive: zipfile.ZipFile, members: list[_Member], wheel: Path, temp: Path, limit: int, dist_info: str
) -> tuple[Path, list[str], str]:
    """A python-wasm extension wheel, unpacked as pip would install it, but only what says what it provides: the
    ``.dist-info`` files, the bridge manifests and the component files they name (never the bridge's sources).
    Each file is checked against RECORD; the gate then reads the folder as an installed distribution."""
    from importlib.metadata import PathDistribution

    from .._errors import ComponentsError
    from .distributions import read_distribution

    problems = _member_problems([m.name for m in members])
    if problems:
        raise ArchiveError(f"{wheel}: not a safe wheel:\n{bullets(problems)}")
    by_name = {m.name: m for m in members}
    folder = temp / "site"
    hashes: dict[str, tuple[str, int]] = {}

    def extract(name: str, cap: int) -> None:
        member = by_name[name]
        if member.kind != "file":
            raise ArchiveError(f"{wheel}: member {quoted(name)} is a {member.kind}; a wheel holds files only")
        if member.size > cap:
            raise ArchiveError(f"{wheel}: member {quoted(name)} is over the limit of {cap} bytes")
        target = folder / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(cast(zipfile.ZipInfo, member.handle)) as stream:
                hashes[name] = _extract(stream, target, cap)
        except OSError as exc:
            raise ArchiveError(f"{wheel}: cannot unpack {quoted(name)} ({os_reason(exc)})") from None
        except TooLarge as error:
            raise ArchiveError(f"{wheel}: member {quoted(name)} {error}") from None

    small = [f"{dist_info}/{n}" for n in ("METADATA", "WHEEL", "RECORD", DESCRIPTOR_PATH)]
    small += [m.name for m in members if m.name.count("/") == 1 and m.name.endswith(f"/{PYFORGE_MANIFEST}")]
    for name in small:
        if name in by_name:
            extract(name, MAX_PLAN_BYTES if not name.endswith("/RECORD") else MAX_RECORD_BYTES)
    try:
        record = PathDistribution(folder / dist_info)
        components = read_distribution(record, record.metadata["Name"] or dist_info).components
    except ComponentsError:
        components = ()  # the gate reads it again and says why
    for component in components:
        if component.relative in by_name:
            extract(component.relative, limit)
    recorded = _record(archive, [m.name for m in members], wheel)
    hashes.pop(f"{dist_info}/RECORD", None)
    return folder, _record_problems(recorded, hashes), dist_info


def _record(archive: zipfile.ZipFile, names: list[str], wheel: Path) -> dict[str, tuple[str, str]] | None:
    """``RECORD``'s hash and size per file, or None when the archive has no RECORD (not a wheel we can check)."""
    records = [n for n in names if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
    if len(records) != 1:
        return None
    info = archive.getinfo(records[0])
    if info.file_size > MAX_RECORD_BYTES:
        raise ArchiveError(f"{wheel}: RECORD is over {MAX_RECORD_BYTES} bytes")
    return parse_record(archive.read(info).decode("utf-8", errors="replace"), str(wheel))


def _record_problems(record: dict[str, tuple[str, str]] | None, hashes: dict[str, tuple[str, int]]) -> list[str]:
    if record is None:
        return ["the wheel has no RECORD, so its bundle files cannot be checked against it"]
    problems = []
    for name, (digest, size) in sorted(hashes.items()):
        expected = record.get(name)
        encoded = "sha256=" + base64.urlsafe_b64encode(bytes.fromhex(digest)).rstrip(b"=").decode()
        if expected is None:
            problems.append(f"RECORD does not list {printable(name)}")
        elif expected != (encoded, str(size)):
            problems.append(f"RECORD's hash or size for {printable(name)} does not match the file")
    return problems


def _unpack_sdist(sdist: Path, temp: Path, limit: int) -> Path:
    import tarfile  # here: a wheel, a folder or an installed distribution needs none of it

    try:
        with tarfile.open(sdist) as archive:
            members = _tar_members(archive, sdist)

            def prefix_of(names: list[str]) -> str:
                return _sdist_prefix(names, sdist)

            def open_member(member: _Member) -> IO[bytes]:
                stream = archive.extractfile(cast("tarfile.TarInfo", member.handle))
                if stream is None:
                    raise ArchiveError(f"{sdist}: member {quoted(member.name)} cannot be read")
                return stream

            folder, _ = _unpack(members, open_member, prefix_of, sdist, "sdist", temp, limit)
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"{sdist}: not a valid sdist ({exc})") from None
    except OSError as exc:  # gzip's own errors carry no errno; the rest are the file's
        reason = exc if exc.errno is None else os_reason(exc)
        raise ArchiveError(f"{sdist}: not a valid sdist ({reason})") from None
    return folder


def _installed_bundle(distribution: Any, name: str) -> Path:
    label = f"distribution {quoted(name)}"
    files = [PurePosixPath(f).as_posix() for f in installed_record(distribution, label)]
    prefix = _bundle_prefix(files, label)
    return _inside_site_packages(Path(str(distribution.locate_file(""))), prefix, files, label)


def _inside_site_packages(base: Path, prefix: str, files: list[str], label: str) -> Path:
    """The bundle folder ``prefix`` names below ``base``, once every bundle file ``RECORD`` lists is
    known to be a regular file inside ``base``, reached through real folders only (no symbolic link on
    the way, so nothing is read from outside the distribution's site-packages)."""
    problems = []
    parts = PurePosixPath(prefix).parts
    if PurePosixPath(prefix).is_absolute() or ".." in parts or any(":" in p or "\\" in p for p in parts):
        raise ArchiveError(f"{label}: RECORD places its bundle at {quoted(prefix)}, outside its site-packages")
    folder = base
    for part in parts:
        folder = folder / part
        try:
            mode = os.lstat(folder).st_mode
        except OSError as exc:
            raise ArchiveError(f"{label}: {printable(str(folder))} cannot be read ({os_reason(exc)})") from None
        if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
            raise ArchiveError(
                f"{label}: {printable(str(folder))} is {kind}; a bundle is read through real folders only"
            )
    for name in files:
        if not _is_bundle_member(name, prefix):
            continue
        relative = PurePosixPath(name[len(prefix) :])
        if ".." in relative.parts:
            problems.append(f"RECORD names {quoted(name)}, outside the bundle")
            continue
        try:
            mode = os.lstat(folder / relative).st_mode
        except FileNotFoundError:
            continue  # the gate names what is missing
        except OSError as exc:
            problems.append(f"{quoted(name)} cannot be read ({os_reason(exc)})")
            continue
        if not stat.S_ISREG(mode):
            problems.append(f"{quoted(name)} is {'a symbolic link' if stat.S_ISLNK(mode) else 'not a regular file'}")
    if problems:
        raise ArchiveError(f"{label}: not a safe installed bundle:\n{bullets(problems)}")
    return folder
