"""``hatch-pylon new NAME``: a project that builds and runs as written.

The files are package data (``template/*.tmpl``): a pyproject.toml with the
hook configured for every target and the sdist excludes, a .gitignore, a
componentize-py root (``app/``) and cap with a resource (``counter/``), their
WIT (with the one WASI package a world exporting ``wasi:cli/run`` needs), and
``build_components.py``. The project is written into a temp folder beside
its place and renamed there, so a failure leaves nothing behind.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path

from .._errors import PylonError
from ..build.config import import_name_of

TEMPLATE = Path(__file__).resolve().parent / "template"
SUFFIX = ".tmpl"
RENAMES = {"gitignore": ".gitignore"}  # a dotfile in package data is easy to lose
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*")
_WIT_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*")


def new_project(target: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    """Write the template to ``target`` (which must not exist, or be an empty folder); (folder, files written)."""
    folder = Path(target)
    name = folder.resolve().name
    if not _NAME.fullmatch(name):
        raise PylonError(
            f"{name!r} is not a project name: use letters and digits, with '-', '_' or '.' between them, "
            "starting with a letter"
        )
    package = import_name_of(name)
    if keyword.iskeyword(package):
        raise PylonError(f"{name!r} is a Python keyword; its package could not be imported")
    if folder.is_symlink() or (folder.exists() and not (folder.is_dir() and not any(folder.iterdir()))):
        raise PylonError(f"{folder}: already exists; give a new folder (or an empty one)")
    wit = name.lower().replace("_", "-").replace(".", "-")
    values = {"name": name, "package": package, "wit": wit if _WIT_NAME.fullmatch(wit) else "app"}
    parent = folder.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
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
        os.chmod(temp, 0o755)  # mkdtemp's folder is private; a project folder is not
        if folder.exists():
            folder.rmdir()  # empty, checked above
        os.replace(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return folder, sorted(written)
