"""``hatch-pylon new NAME``: a project that builds and runs as written.

The files are package data (``template/*.tmpl``): a pyproject.toml with the
hook configured for every target and the sdist excludes, a .gitignore, a
componentize-py root (``app/``) and cap with a resource (``counter/``), their
WIT (with the one WASI package a world exporting ``wasi:cli/run`` needs), and
``build_components.py``. The project is written into a temp folder inside
its place and moved up, so a failure leaves nothing behind, and no folder
that was there before is ever removed.
"""

from __future__ import annotations

import contextlib
import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path

from .._errors import PylonError, printable, quoted
from .._fs import os_reason
from ..build.config import import_name_of

TEMPLATE = Path(__file__).resolve().parent / "template"
SUFFIX = ".tmpl"
RENAMES = {"gitignore": ".gitignore"}  # a dotfile in package data is easy to lose
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*")
_WIT_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*")


# WIT's keywords (wit-parser's lexer): a package namespace spelled as one is refused, so ``new stream`` names its
# packages ``stream-app:…`` instead.
WIT_KEYWORDS = frozenset(
    (
        "_",
        "as",
        "async",
        "borrow",
        "bool",
        "char",
        "constructor",
        "enum",
        "error-context",
        "export",
        "f32",
        "f64",
        "flags",
        "float32",
        "float64",
        "from",
        "func",
        "future",
        "import",
        "include",
        "interface",
        "list",
        "map",
        "option",
        "own",
        "package",
        "record",
        "resource",
        "result",
        "s16",
        "s32",
        "s64",
        "s8",
        "static",
        "stream",
        "string",
        "tuple",
        "type",
        "u16",
        "u32",
        "u64",
        "u8",
        "use",
        "variant",
        "with",
        "world",
    )
)


def wit_namespace(name: str) -> str:
    """The WIT package namespace for project ``name``: kebab-case, never a WIT keyword (``app`` if none fits)."""
    wit = name.lower().replace("_", "-").replace(".", "-")
    if not _WIT_NAME.fullmatch(wit):
        return "app"
    return f"{wit}-app" if wit in WIT_KEYWORDS else wit


def new_project(target: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    """Write the template to ``target`` (which must not exist, or be an empty folder); (folder, files written).

    ``target`` may be ``.`` or ``../x`` (it is resolved first). The files are written into a temp folder
    inside the project folder and moved up, so a failure leaves nothing: not the folder, if this made it,
    nor any folder above it this made; a folder that was there before is never removed.
    """
    given = Path(target)
    if given.is_symlink():
        raise PylonError(f"{printable(str(given))}: already exists (a symbolic link); give a new folder")
    folder = given.resolve()
    name = folder.name
    if not _NAME.fullmatch(name):
        raise PylonError(
            f"{quoted(name)} is not a project name: use letters and digits, with '-', '_' or '.' between them, "
            "starting with a letter"
        )
    package = import_name_of(name)
    if keyword.iskeyword(package):
        raise PylonError(f"{name!r} is a Python keyword; its package could not be imported")
    if folder.exists() and not (folder.is_dir() and not any(folder.iterdir())):
        raise PylonError(f"{printable(str(given))}: already exists; give a new folder (or an empty one)")
    values = {"name": name, "package": package, "wit": wit_namespace(name)}
    made = _make_folders(folder, given)
    temp: Path | None = None
    moved: list[Path] = []
    try:
        temp = Path(tempfile.mkdtemp(prefix=".hatch-pylon-new-", dir=folder))
        written = []
        for source in sorted(TEMPLATE.rglob(f"*{SUFFIX}")):
            relative = source.relative_to(TEMPLATE).as_posix()[: -len(SUFFIX)]
            relative = RENAMES.get(relative, relative)
            if relative.startswith("package/"):
                relative = f"{package}/{relative[len('package/') :]}"
            text = source.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            path = temp / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(relative)
        for entry in sorted(os.listdir(temp)):
            os.rename(temp / entry, folder / entry)  # the folder was empty: nothing is replaced
            moved.append(folder / entry)
        os.rmdir(temp)
    except BaseException as error:
        for path in [*moved, *([temp] if temp is not None else [])]:
            shutil.rmtree(path, ignore_errors=True)
        for path in made:  # deepest first; each is this call's own, empty once the above is gone
            with contextlib.suppress(OSError):
                os.rmdir(path)
        if isinstance(error, OSError):
            raise PylonError(f"{printable(str(given))}: cannot write the project ({os_reason(error)})") from None
        raise
    return given, sorted(written)


def _make_folders(folder: Path, given: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones this made, deepest first. One message when a part of
    the way is a file (``notes.txt/app``) or cannot be made."""
    missing = []
    current = folder
    while not os.path.lexists(current):
        missing.append(current)
        current = current.parent
    if not current.is_dir():
        raise PylonError(f"{printable(str(given))}: {printable(str(current))} is a file, not a folder")
    made: list[Path] = []
    try:
        for path in reversed(missing):
            os.mkdir(path)
            made.append(path)
    except OSError as error:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        raise PylonError(
            f"{printable(str(given))}: cannot create {printable(str(path))} ({os_reason(error)})"
        ) from None
    return list(reversed(made))
