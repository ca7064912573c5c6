"""setuptools integration: the same bundle for projects configured in ``[tool.pylon]``.

Registered as a ``setuptools.finalize_distribution_options`` entry point (the
pattern setuptools-scm uses), so it runs for every setuptools build on a
machine where hatch-pylon is installed and must stay inert unless the
project has a ``[tool.pylon]`` table. It wraps ``build_py`` to write
``plan.json`` and the blobs into ``build_lib/<destination>/`` and ``sdist``
to carry the bundle in ``.pylon-bundle/``. With ``provides`` (a component
wheel) the blobs go to the same places without a plan, and ``egg_info`` is
wrapped to put the descriptor in ``extra_metadata/pylon-components.json``,
which becomes the wheel's ``.dist-info/extra_metadata/``, as with hatchling.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .._errors import PylonError
from .._fs import atomic_write, make_private_folder
from .._layout import COMPOSED_SUFFIX, META_FILE, PLAN_FILE, SDIST_BUNDLE_DIR, STORE_DIR
from ..build.config import PylonConfig, load_config
from ..build.pipeline import Bundle, Provided, adapter_bundle, adapter_provided, check_requirements, has_shipped_bundle
from ..build.project import read_pyproject, sdist_carries_bundle
from ..build.pyforge import PLATFORM, ExtensionWheel
from ..build.schema import SETUPTOOLS_TABLE
from ..bundle.distributions import DESCRIPTOR, DESCRIPTOR_PATH


def finalize(dist: Any) -> None:
    """Entry point: hook ``build_py`` and ``sdist`` when the project configures pylon."""
    root = Path(os.getcwd())
    try:
        data = read_pyproject(root)
    except PylonError:
        return
    raw = data.get("tool", {}).get("pylon")
    if raw is None:
        return
    state = _State(root, raw, data.get("project", {}).get("name"), dist)
    dist.cmdclass["build_py"] = _wrap_build_py(dist.cmdclass.get("build_py") or _default("build_py"), state)
    dist.cmdclass["sdist"] = _wrap_sdist(dist.cmdclass.get("sdist") or _default("sdist"), state)
    provides = isinstance(raw, dict) and bool(raw.get("provides"))
    dist.cmdclass["egg_info"] = _wrap_egg_info(dist.cmdclass.get("egg_info") or _default("egg_info"), state, provides)
    pyforge = raw.get("pyforge") if isinstance(raw, dict) else None
    if isinstance(pyforge, dict) and isinstance(pyforge.get("python"), str):
        dist.cmdclass["bdist_wheel"] = _wrap_bdist_wheel(dist.get_command_class("bdist_wheel"), pyforge["python"])
        # build_py runs (it writes the extension) with no module of the project's, and what it writes is
        # installed at the wheel's root, as a platform wheel's files are (Root-Is-Purelib: false)
        dist.has_pure_modules = lambda: True
        dist.has_ext_modules = lambda: True


def _default(command: str) -> type:
    if command == "build_py":
        from setuptools.command.build_py import build_py

        return build_py
    if command == "egg_info":
        from setuptools.command.egg_info import egg_info

        return egg_info
    from setuptools.command.sdist import sdist

    return sdist


class _State:
    """Builds the bundle once per setuptools run, whichever command asks first."""

    def __init__(self, root: Path, raw: Any, name: str | None, dist: Any) -> None:
        self.root, self.raw, self.name, self.dist = root, raw, name, dist
        self.bundle: Bundle | Provided | None = None
        self.config: PylonConfig | None = None
        self.extension: ExtensionWheel | None = None  # a python-wasm extension wheel (``pyforge``)

    def project_name(self) -> str:
        """pyproject's name, else the one setup.cfg or setup.py gave (read after this hook was registered)."""
        name = self.name or self.dist.metadata.name
        if not isinstance(name, str) or not name:
            raise PylonError("the project has no name (set [project] name in pyproject.toml, or name in setup.cfg)")
        return name

    def get(self) -> tuple[PylonConfig, Bundle | Provided]:
        if self.bundle is None:
            try:
                name = self.project_name()
                self.config = load_config(
                    self.raw,
                    project_root=self.root,
                    project_name=name,
                    table=SETUPTOOLS_TABLE,
                    shipped=has_shipped_bundle(self.root),
                )
                self.staging = make_private_folder("hatch-pylon-")  # swept if this process is killed
                atexit.register(shutil.rmtree, self.staging, True)
                if self.config.provides:
                    self.bundle = adapter_provided(self.config, self.staging, _say)
                    if self.config.pyforge is not None:
                        self.extension = self._extension(self.config, self.bundle)
                else:
                    bundle = adapter_bundle(self.config, self.staging, _say, required=sdist_carries_bundle(self.root))
                    check_requirements(bundle.requirements, list(self.dist.install_requires or []), SETUPTOOLS_TABLE)
                    self.bundle = bundle
            except PylonError as error:
                raise SystemExit(f"error: hatch-pylon: {error}") from None
            for line in self.bundle.summary():
                _say(line)
        assert self.config is not None
        return self.config, self.bundle

    def _extension(self, config: PylonConfig, provided: Provided) -> ExtensionWheel:
        """The spec's checks and the extension wheel's layout, with the project's metadata as setuptools has it."""
        from ..build.pyforge import prepare

        assert config.pyforge is not None
        (component,) = provided.components
        declared = getattr(self.dist, "python_requires", None)  # the project's own (the hook's goes to metadata)
        extension = prepare(
            config.pyforge,
            component,
            provided.blobs[component.digest],
            project_name=self.project_name(),
            project_version=str(self.dist.metadata.get_version()),
            requires_python=str(declared) if declared else None,
            description=self.dist.metadata.description or None,
            staging=self.staging,
            table=SETUPTOOLS_TABLE,
        )
        for line in extension.lines:
            _say(line)
        return extension


def _wrap_bdist_wheel(base: type, python: str) -> type:
    """``cp3X-cp3X-wasm32_wasip2``, ``Root-Is-Purelib: false``: the tag python-wasm's spec gives its wheels."""
    py = "cp" + python.replace(".", "")

    class bdist_wheel(base):
        def get_tag(self) -> tuple[str, str, str]:
            return (py, py, "wasm32_wasip2")

    return bdist_wheel


def _say(message: str) -> None:
    print(f"hatch-pylon: {message}", file=sys.stderr)


def _write_bundle(bundle: Bundle | Provided, folder: Path, *, sdist: bool = False) -> None:
    """Write the bundle into ``folder``, first removing every bundle file an earlier build left there.

    ``build_lib`` outlives a build: a composed component from a ``compose =
    true`` build must not ship with a later ``compose = false`` one.
    """
    if folder.is_dir():
        shutil.rmtree(folder / STORE_DIR, ignore_errors=True)
        for entry in folder.iterdir():
            if entry.name in (PLAN_FILE, META_FILE, DESCRIPTOR) or entry.name.endswith(COMPOSED_SUFFIX):
                entry.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(bundle, Provided):
        bundle.write_to(folder, descriptor=sdist)  # a wheel's descriptor is metadata (egg_info writes it)
    else:
        bundle.write_to(folder)
    for path in (folder, *folder.rglob("*")):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _write_extension(extension: ExtensionWheel, build_lib: Path) -> None:
    """The extension wheel's files below ``build_lib``: the bridge (its manifest written back), the component."""
    for source, target in sorted(extension.layout.items()):
        path = build_lib / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        os.chmod(path, 0o644)


def _wrap_build_py(base: type, state: _State) -> type:
    class build_py(base):
        def run(self) -> None:
            super().run()
            config, bundle = state.get()
            if state.extension is not None:  # the bridge and the component at their own places, nothing else
                _write_extension(state.extension, Path(self.build_lib))
                return
            target = Path(self.build_lib) / config.destination
            _write_bundle(bundle, target)
            if isinstance(bundle, Bundle):
                _say(bundle.headline(f"{config.destination}/{PLAN_FILE}"))

        def get_outputs(self, include_bytecode: bool = True) -> list[str]:
            outputs = list(super().get_outputs(include_bytecode))
            config, _ = state.get()
            if state.extension is not None:
                return outputs + sorted(str(Path(self.build_lib) / t) for t in state.extension.layout.values())
            folder = Path(self.build_lib) / config.destination
            return outputs + sorted(str(p) for p in folder.rglob("*") if p.is_file())

    return build_py


def _wrap_sdist(base: type, state: _State) -> type:
    class sdist(base):
        def make_release_tree(self, base_dir: str, files: list[str]) -> None:
            super().make_release_tree(base_dir, files)
            _, bundle = state.get()
            _write_bundle(bundle, Path(base_dir) / SDIST_BUNDLE_DIR, sdist=True)
            for source in state.extension.inputs if state.extension is not None else ():
                target = Path(base_dir) / os.path.relpath(source, state.root)  # a wheel built from it reads them
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
            where = PLAN_FILE if isinstance(bundle, Bundle) else DESCRIPTOR
            _say(bundle.headline(f"{SDIST_BUNDLE_DIR}/{where}"))

    return sdist


def _wrap_egg_info(base: type, state: _State, provides: bool) -> type:
    """egg_info writes the descriptor of a component wheel; without ``provides`` it removes the one an earlier
    build left in the same tree (``*.egg-info`` outlives a build, and its files become the wheel's metadata)."""

    class egg_info(base):
        def run(self) -> None:
            if not provides:
                super().run()
                stale = Path(self.egg_info) / DESCRIPTOR_PATH
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink()
                    _say(f"removed {DESCRIPTOR_PATH} from {self.egg_info}: this build provides no components")
                return
            _, provided = state.get()
            if state.extension is not None:  # PKG-INFO, and so the wheel's METADATA, as the spec's section 4 says
                metadata = self.distribution.metadata
                metadata.platforms = [PLATFORM]
                if state.extension.requires_python:
                    metadata.python_requires = state.extension.requires_python
                if state.extension.summary:
                    metadata.description = state.extension.summary
            super().run()
            if isinstance(provided, Provided):
                target = Path(self.egg_info) / DESCRIPTOR_PATH
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, provided.descriptor)
                _say(provided.headline(f".dist-info/{DESCRIPTOR_PATH}"))

    return egg_info
