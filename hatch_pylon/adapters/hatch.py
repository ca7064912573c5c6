"""The hatchling build hook: a thin adapter from hatchling to ``build.pipeline``.

Wheels get the bundle at ``<destination>/`` (``plan.json`` next to a
composectl ``.compose`` store); sdists carry it in ``.pylon-bundle/`` so a
wheel built from the sdist reuses the same bytes, verified, without the
original component files.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

from .._errors import ConfigError, PylonError, human_size, is_warning, plural, printable, warning
from .._fs import atomic_write, make_private_folder
from .._layout import PLAN_FILE, SDIST_BUNDLE_DIR
from ..build.config import PylonConfig, load_config
from ..build.pipeline import Bundle, Provided, adapter_bundle, adapter_provided, check_requirements, has_shipped_bundle
from ..build.project import hatch_table_name, one_target_problems, sdist_carries_bundle
from ..build.pyforge import ExtensionWheel, metadata_lines
from ..bundle.distributions import DESCRIPTOR, DESCRIPTOR_PATH
from ..bundle.placement import exclude_store

DETAIL_LIMIT = 20  # beyond this many components, per-item lines only with -v


_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")  # a distribution name (the parser says why not)


def _carries_bundle(root: Path) -> bool:
    """An unpacked sdist holding its bundle: its wheel is built from that, never from component sources."""
    return (root / "PKG-INFO").is_file() and (root / SDIST_BUNDLE_DIR / PLAN_FILE).is_file()


class PylonBuildHook(BuildHookInterface):
    PLUGIN_NAME = "pylon"
    _staging: Path | None

    def dependencies(self) -> list[str]:
        """Build requirements beyond hatchling, asked for only when this project's configuration needs them.

        ``compose = true`` needs wasm-tools (``hatch-pylon[compose]``); the default build, type checks
        included (decoded from the binaries, never compiled), needs nothing more. The listed
        ``component-distributions`` are needed to resolve the graph from the sources (but those in python-wasm's
        ``$PYTHON_WASM_HOME/site-packages``, read there); an unpacked sdist that carries its bundle needs none of
        them (its wheel is that bundle), so none is installed for it.
        """
        from .. import __version__

        required = []
        if self.config.get("compose") is True:
            required.append(f"hatch-pylon[compose]=={__version__}")
        distributions = self.config.get("component-distributions")
        if isinstance(distributions, list) and not _carries_bundle(Path(self.root)):
            from ..bundle.distributions import python_wasm_distribution

            required += [
                name
                for name in distributions
                if isinstance(name, str) and _NAME.fullmatch(name) and python_wasm_distribution(name) is None
            ]  # python-wasm's own (wasm32 wheels no host installer takes) are found in its site-packages
        return required

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name not in ("wheel", "sdist"):
            self._say(warning(f"nothing to do for the {self.target_name!r} target"))
            return
        try:
            self._staging = make_private_folder("hatch-pylon-")  # swept if this process is killed
            config = self._load_config()
            if config.provides:
                if config.pyforge is not None and self.target_name == "wheel":
                    self._select_nothing_else()
                exclude_store(self.build_config, self.root, config.store)
                self._provide(config, self._staging, version, build_data)
                return
            bundle = adapter_bundle(config, self._staging, self._say, required=sdist_carries_bundle(self.root))
            exclude_store(self.build_config, self.root, config.store)
            check_requirements(bundle.requirements, self.metadata.core.dependencies, config.table)
            plan_file = bundle.write_records(self._staging)  # plan.json and pylon.json
        except PylonError as error:
            self._cleanup()
            self.app.abort(f"hatch-pylon: {error}")
            raise  # abort exits; this keeps type checkers and odd apps honest
        except BaseException:
            self._cleanup()  # whatever went wrong, no staging folder outlives the build
            raise

        self._warn_about_artifacts(bundle)
        folder = SDIST_BUNDLE_DIR if self.target_name == "sdist" else config.destination
        layout = bundle.layout(plan_file, folder)
        if version == "editable":
            # hatchling uses force_include_editable *instead of* the configured force-include.
            build_data["force_include_editable"] = {**self.build_config.get_force_include(), **layout}
        else:
            build_data["force_include"].update(layout)
        self._report(bundle, f"{folder}/{PLAN_FILE}")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        metadata = getattr(self, "_extension_metadata", None)
        try:
            if metadata and self.target_name == "wheel":
                from ..build.pyforge import finish_wheel

                finish_wheel(Path(artifact_path), metadata)
            elif metadata and self.target_name == "sdist":
                from ..build.pyforge import finish_sdist

                finish_sdist(Path(artifact_path), metadata)
        except PylonError as error:
            self.app.abort(f"hatch-pylon: {error}")
            raise
        finally:
            self._cleanup()

    def _provide(self, config: PylonConfig, staging: Path, version: str, build_data: dict[str, Any]) -> None:
        """A component wheel: blobs in the store below ``destination``, the descriptor in ``.dist-info``."""
        provided = adapter_provided(config, staging, self._say)
        descriptor = staging / DESCRIPTOR
        atomic_write(descriptor, provided.descriptor)
        extension = self._extension(config, provided, staging, version) if config.pyforge is not None else None
        if self.target_name == "sdist":
            layout = provided.layout(SDIST_BUNDLE_DIR)
            layout[os.fspath(descriptor)] = f"{SDIST_BUNDLE_DIR}/{DESCRIPTOR}"
            where = f"{SDIST_BUNDLE_DIR}/{DESCRIPTOR}"
        elif extension is not None and config.pyforge is not None:  # the component at its own path, nowhere else
            layout = extension.layout
            build_data["extra_metadata"][os.fspath(descriptor)] = DESCRIPTOR
            build_data["tag"] = config.pyforge.tag
            build_data["pure_python"] = False
            where = f".dist-info/{DESCRIPTOR_PATH}"
        else:
            layout = provided.layout(config.destination)
            build_data["extra_metadata"][os.fspath(descriptor)] = DESCRIPTOR  # .dist-info/extra_metadata/
            where = f".dist-info/{DESCRIPTOR_PATH}"
        if version == "editable":
            build_data["force_include_editable"] = {**self.build_config.get_force_include(), **layout}
        else:
            build_data["force_include"].update(layout)
        for line in provided.summary():
            self._say(line)
        for line in extension.lines if extension is not None else ():
            self._say(line)
        self._say(provided.headline(where))

    def _extension(self, config: PylonConfig, provided: Provided, staging: Path, version: str) -> ExtensionWheel:
        """A python-wasm extension wheel (``pyforge``): the spec's checks, for the sdist too (so it fails early),
        and the wheel's layout. Only what the bridge's own files need is read from the project."""
        from ..build.pyforge import prepare

        assert config.pyforge is not None
        if version == "editable":
            raise ConfigError([f"{config.table}.pyforge: a python-wasm extension wheel is never installed editable"])
        (component,) = provided.components
        extension = prepare(
            config.pyforge,
            component,
            provided.blobs[component.digest],
            project_name=self.metadata.core.raw_name,
            project_version=self.metadata.version,
            requires_python=self.metadata.core.requires_python or None,
            description=self.metadata.core.description or None,
            staging=staging,
            table=config.table,
        )
        self._extension_metadata = metadata_lines(extension)  # written by finalize, after hatchling
        if self.target_name == "sdist":
            self._check_sdist_carries(config, list(extension.inputs))
        return extension

    def _check_sdist_carries(self, config: PylonConfig, inputs: list[Path]) -> None:
        """The sdist must carry the bridge and the shims it names: a wheel built from it reads them."""
        left_out = [p for p in inputs if not self._carried_by_sdist([p])]
        if left_out:
            root = Path(self.root)
            names = ", ".join(printable(os.path.relpath(p, root).replace(os.sep, "/")) for p in left_out)
            raise ConfigError(
                [
                    f"{config.table}.pyforge.bridge: the sdist leaves out {names}, which a wheel built from it "
                    "needs; include them in the sdist"
                ]
            )

    def _select_nothing_else(self) -> None:
        """A project with no package of its name ships the extension's files only (the spec's layout), where
        hatchling would otherwise refuse to guess which files to ship."""
        try:
            self.build_config.default_file_selection_options  # noqa: B018 (hatchling raises when it cannot choose)
        except ValueError:
            self.build_config.__dict__["bypass_selection"] = True  # a functools.cached_property: the instance wins

    def _load_config(self) -> PylonConfig:
        table = hatch_table_name(self.root, self.target_name)
        shipped = has_shipped_bundle(self.root)
        return load_config(
            self.config, project_root=self.root, project_name=self.metadata.name, table=table, shipped=shipped
        )

    def _say(self, message: str) -> None:
        """The ``Say`` this hook hands to the pipeline: warnings through hatchling's warning display."""
        if is_warning(message):
            self.app.display_warning(f"hatch-pylon: {message}")
        else:
            self.app.display_info(f"hatch-pylon: {message}")

    def _warn_about_artifacts(self, bundle: Bundle) -> None:
        """What the build can finish but should not: a hook table for one target only (an sdist without
        the bundle), and an sdist carrying the raw component files next to the bundle (twice the size)."""
        if (Path(self.root) / "PKG-INFO").is_file():
            return  # an unpacked sdist: its layout is already decided
        for problem in one_target_problems(self.root):
            self._say(warning(problem))
        if self.target_name == "sdist" and bundle.resolution is not None:
            carried = self._carried_by_sdist([Path(c.path) for c in bundle.resolution.components])
            if carried:
                size = sum(os.path.getsize(Path(self.root) / name) for name in carried)
                lines = ", ".join(f'"{pattern}"' for pattern in _exclude_patterns(carried))
                self._say(
                    warning(
                        f"the sdist carries the raw components next to their bundle ({plural(len(carried), 'file')}, "
                        f"{human_size(size)}: {', '.join(carried)}); a wheel built from it needs only the bundle. "
                        f"Exclude them:\n[tool.hatch.build.targets.sdist]\nexclude = [{lines}]"
                    )
                )

    def _carried_by_sdist(self, paths: list[Path]) -> list[str]:
        """The project-relative names of ``paths`` that hatchling's sdist file selection takes."""
        root = Path(self.root).resolve()
        carried = []
        for path in paths:
            try:
                relative = path.resolve().relative_to(root)
            except (ValueError, OSError):
                continue  # outside the project: never in the sdist
            folders = [(p.name, p.parent.as_posix() if p.parent.name else "") for p in relative.parents if p.name]
            if any(self.build_config.directory_is_excluded(name, parent) for name, parent in folders):
                continue
            if self.build_config.include_path(relative.as_posix(), is_package=False):
                carried.append(relative.as_posix())
        return sorted(set(carried))

    def _report(self, bundle: Bundle, plan_path: str) -> None:
        """Per-component and per-binding lines for small graphs (or with -v), then one summary line."""
        detailed = len(bundle.plan.components) <= DETAIL_LIMIT or self.app.verbosity > 0
        for line in bundle.summary() if detailed else []:
            self._say(line)
        hint = "" if detailed else " (-v lists them)"
        self._say(f"{bundle.headline(plan_path)}{hint}")

    def _cleanup(self) -> None:
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            self._staging = None


def _exclude_patterns(names: list[str]) -> list[str]:
    """hatchling exclude patterns for ``names``: ``/dir/*.wasm`` for a folder with several, else the file."""
    folders: dict[str, list[str]] = {}
    for name in names:
        folders.setdefault(name.rpartition("/")[0], []).append(name)
    patterns = []
    for folder, files in sorted(folders.items()):
        if len(files) > 1 and all(f.endswith(".wasm") for f in files):
            patterns.append(f"/{folder}/*.wasm" if folder else "/*.wasm")
        else:
            patterns += [f"/{f}" for f in files]
    return patterns


class PylonMetadataHook(MetadataHookInterface):
    """``[tool.hatch.metadata.hooks.pylon]``: adds the Requires-Dist the plan's references need.

    With ``dependencies`` in ``project.dynamic``, the project's own requirements go in this table's
    ``dependencies``; the hook appends ``name==version`` for every component distribution the plan references,
    resolved as the build hook resolves (in an unpacked sdist: from the bundle's ``pylon.json``). The sdist's
    PKG-INFO and the wheel's METADATA therefore carry the same requirements.
    """

    PLUGIN_NAME = "pylon"

    def update(self, metadata: dict[str, Any]) -> None:
        table = "tool.hatch.metadata.hooks.pylon"
        own = self.config.get("dependencies", [])
        unknown = sorted(set(self.config) - {"dependencies"})
        if unknown or not (isinstance(own, list) and all(isinstance(item, str) for item in own)):
            problem = f"{table}.{unknown[0]} is not a known option" if unknown else f"{table}.dependencies"
            raise SystemExit(f"error: hatch-pylon: {problem}: the table takes only dependencies, a list of strings")
        try:
            needed = self._requirements()
        except PylonError as error:
            raise SystemExit(f"error: hatch-pylon: {error}") from None
        merged: list[str] = []
        for requirement in [*metadata.get("dependencies", []), *own, *needed]:
            if requirement not in merged:
                merged.append(requirement)
        metadata["dependencies"] = merged

    def _requirements(self) -> list[str]:
        root = Path(self.root)
        if (root / "PKG-INFO").is_file() and (root / SDIST_BUNDLE_DIR / PLAN_FILE).is_file():
            from ..bundle.verify import bundle_meta

            return sorted({reference.requirement for reference in bundle_meta(root / SDIST_BUNDLE_DIR).references})
        from ..build.pipeline import project_requirements
        from ..build.project import load_project

        return project_requirements(load_project(root))
