"""Turn a TARGET (folder, wheel, sdist or installed distribution) into a folder holding a bundle.

A bundle folder has ``plan.json`` and ``.compose/blobs/…``. Archives are
unpacked (only the bundle's own members, path-checked) into a temp folder
that lives as long as the ``open_target`` context.
"""

from __future__ import annotations

import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from .bundle import PLAN_FILE, SDIST_BUNDLE_DIR, STORE_DIR
from .errors import PylonError

# Python < 3.12 without the backported tar filters still gets our own path check (_safe).
_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


@dataclass(frozen=True)
class BundleFolder:
    folder: Path
    label: str  # what the user named, for messages


@contextmanager
def open_target(target: str) -> Iterator[BundleFolder]:
    path = Path(target)
    if path.is_dir():
        yield BundleFolder(_folder_bundle(path), target)
    elif path.is_file() and path.suffix == ".whl":
        with tempfile.TemporaryDirectory(prefix="hatch-pylon-") as temp:
            yield BundleFolder(_unpack_wheel(path, Path(temp)), target)
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        with tempfile.TemporaryDirectory(prefix="hatch-pylon-") as temp:
            yield BundleFolder(_unpack_sdist(path, Path(temp)), target)
    elif path.exists():
        raise PylonError(f"{target}: not a wheel (.whl), an sdist (.tar.gz) or a folder")
    else:
        yield BundleFolder(_installed_bundle(target), target)


def _folder_bundle(path: Path) -> Path:
    for candidate in (path, path / SDIST_BUNDLE_DIR):
        if (candidate / PLAN_FILE).is_file():
            return candidate
    raise PylonError(f"{path}: no {PLAN_FILE} here (expected {PLAN_FILE} next to {STORE_DIR}/)")


def _bundle_prefix(names: list[str], source: str) -> str:
    """The archive folder whose plan.json sits next to a .compose store."""
    prefixes = sorted(
        name[: -len(PLAN_FILE)] for name in names
        if name.endswith(f"/{PLAN_FILE}") or name == PLAN_FILE
    )
    with_store = [p for p in prefixes if any(n.startswith(f"{p}{STORE_DIR}/") for n in names)] or prefixes
    if not with_store:
        raise PylonError(f"{source}: contains no {PLAN_FILE}; was it built with hatch-pylon?")
    if len(with_store) > 1:
        raise PylonError(f"{source}: contains several bundles ({', '.join(p or './' for p in with_store)})")
    return with_store[0]


def _safe(name: str, source: str) -> PurePosixPath:
    posix = PurePosixPath(name)
    if posix.is_absolute() or ".." in posix.parts:
        raise PylonError(f"{source}: refusing unsafe member path {name!r}")
    return posix


def _unpack_wheel(wheel: Path, temp: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            prefix = _bundle_prefix(names, str(wheel))
            for name in names:
                if name.startswith(prefix) and not name.endswith("/") and (
                    name == f"{prefix}{PLAN_FILE}" or name.startswith(f"{prefix}{STORE_DIR}/")
                ):
                    target = temp / _safe(name, str(wheel))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
    except zipfile.BadZipFile as exc:
        raise PylonError(f"{wheel}: not a valid wheel ({exc})") from None
    return temp / prefix


def _unpack_sdist(sdist: Path, temp: Path) -> Path:
    try:
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.isfile()]
            names = [m.name for m in members]
            prefix = _bundle_prefix([n for n in names if f"/{SDIST_BUNDLE_DIR}/" in f"/{n}"], str(sdist))
            for member in members:
                if member.name.startswith(prefix):
                    _safe(member.name, str(sdist))
                    archive.extract(member, temp, **_DATA_FILTER)
    except tarfile.TarError as exc:
        raise PylonError(f"{sdist}: not a valid sdist ({exc})") from None
    return temp / prefix


def _installed_bundle(name: str) -> Path:
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise PylonError(f"{name}: no such file, folder or installed distribution") from None
    files = [str(f) for f in distribution.files or []]
    prefix = _bundle_prefix(files, f"distribution {name!r}")
    return Path(distribution.locate_file(f"{prefix}{PLAN_FILE}")).parent
