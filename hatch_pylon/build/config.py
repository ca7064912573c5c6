"""The pylon configuration's parser, driven by the schema (``build.schema.OPTIONS``).

The parser takes unknown keys (with a "did you mean" from ``difflib``) and type errors from
the schema, then applies the rules a table cannot say: path expansion, environment overrides,
ids and their precedence, and which keys go together. Every problem is collected and raised
at once as one ``ConfigError``.

Pure apart from one file: when ``manifest`` is set, python-wasm's ``.pylon.toml`` is read
for its ``[[capabilities]]``. Component files themselves are ``build.components``' job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from .._errors import ConfigError, quoted
from .._layout import DEFAULT_MAX_COMPONENT_SIZE
from .._records import NamedTuple
from ..composectl.plan import Capability, Policy, Secret
from .expand import MAX_DEFAULT_DEPTH, TooDeep, expand_variables
from .schema import (
    DEFAULT_MAX_IMPORTS,
    HATCH_TABLE,
    INVALID,
    OPTIONS,
    REQUIRED,
    describe,
    read_entry,
    read_table,
    type_name,
)

# Keys hatchling itself reads from every hook table.
HATCH_RESERVED_KEYS = frozenset(
    {"dependencies", "require-runtime-dependencies", "require-runtime-features", "enable-by-default"}
)
# -- the result ----------------------------------------------------------------------------------


class ComponentSource(NamedTuple):
    """A configured component file: where it is and which setting named it."""

    id: str
    path: Path
    origin: str  # the TOML key (or manifest entry) or environment variable that chose this path
    fetch_url: str | None = None  # ``components[].source``: written into the plan as the component's source


class SearchDir(NamedTuple):
    path: Path
    origin: str


class Pyforge(NamedTuple):
    """``pyforge``: the wheel is a python-wasm extension wheel of this bridge, for one CPython minor."""

    bridge: Path
    python: str  # "3.14"
    tag: str  # "cp314-cp314-wasm32_wasip2": one CPython minor per wheel, python-wasm's platform


class PylonConfig(NamedTuple):
    project_root: Path
    root: ComponentSource | None  # None: the root comes from a component distribution, or there is none (provides)
    components: tuple[ComponentSource, ...]  # `components` entries, then the manifest's capabilities
    component_dirs: tuple[SearchDir, ...]
    destination: str
    store: Path
    ignore_imports: tuple[str, ...]
    policy: Policy = Policy()
    validate: str = "types"
    table: str = HATCH_TABLE
    max_component_size: int = DEFAULT_MAX_COMPONENT_SIZE
    max_imports: int = DEFAULT_MAX_IMPORTS
    linkage: str = "auto"  # or the plan's: Resolution.linkage is what the build decided
    compose: bool = False
    strip: bool = False
    manifest: Path | None = None
    secrets: tuple[Secret, ...] = ()
    root_id: str = "python"
    component_distributions: tuple[str, ...] = ()
    distributed: str = "reference"
    distributed_versions: str = "exact"  # "compatible": references are required >= the version, on its track
    distributed_set: bool = False  # written in the table (not the default)
    provides: tuple[str, ...] = ()
    pyforge: Pyforge | None = None  # a python-wasm extension wheel
    registry: tuple[str, ...] | None = None  # None: every endpoint provider found

    def is_ignored(self, import_name: str) -> bool:
        return any(import_name.startswith(prefix) for prefix in self.ignore_imports)


def env_var_for(component_id: str) -> str:
    """``PYLON_COMPONENT_<ID>``: upper-cased, with ``-`` and ``.`` turned into ``_``."""
    return "PYLON_COMPONENT_" + re.sub(r"[-.]", "_", component_id).upper()


def import_name_of(project_name: str) -> str:
    return re.sub(r"[-_.]+", "_", project_name).lower()


def load_config(
    raw: Mapping[str, Any],
    *,
    project_root: str | os.PathLike[str],
    project_name: str,
    environ: Mapping[str, str] | None = None,
    table: str = HATCH_TABLE,
    shipped: bool = False,
) -> PylonConfig:
    """Validate ``raw`` (the pylon TOML table); raise ``ConfigError`` listing every problem.

    ``table`` is how messages name the table (``tool.pylon``, ``hatch.toml: build.hooks.pylon``, …).
    ``shipped``: the project is an unpacked sdist carrying its bundle, so the keys that name build inputs
    (``root``, ``components``, ``manifest``, ``component-dirs``, and the variables in them) are type-checked
    but never resolved: a wheel built from an sdist needs nothing of the machine that built the sdist.
    """
    environ = os.environ if environ is None else environ
    return _Parser(raw, Path(project_root), project_name, environ, table, shipped).parse()


# -- the parser ----------------------------------------------------------------------------------

_INVALID = INVALID


class _Parser:
    def __init__(
        self,
        raw: Mapping[str, Any],
        root: Path,
        project_name: str,
        environ: Mapping[str, str],
        table: str,
        shipped: bool = False,
    ):
        self.shipped = shipped
        self.raw = raw
        self.root = root
        self.project_name = project_name
        self.environ = environ
        self.table = table
        self.problems: list[str] = []

    def key(self, *parts: str | int) -> str:
        text = self.table
        for part in parts:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def parse(self) -> PylonConfig:
        if not isinstance(self.raw, Mapping):
            raise ConfigError([f"{self.table}: must be a table, got {type_name(self.raw)}"])
        top = self.values("", self.raw, self.table, reserved=HATCH_RESERVED_KEYS)

        root_id = top["root-id"] if top["root-id"] is not _INVALID else str(self.raw.get("root-id"))
        distributions = () if top["component-distributions"] is _INVALID else tuple(top["component-distributions"])
        provides = tuple(top["provides"]) if top["provides"] is not _INVALID else ()
        seen: dict[str, str] = {root_id: self.key("root-id")}
        root: ComponentSource | None = None
        components: tuple[ComponentSource, ...] = ()
        listed: tuple[ComponentSource, ...] = ()
        manifest: Path | None = None
        dirs: tuple[SearchDir, ...] = ()
        if not self.shipped:  # an sdist's bundle is all its wheel gets: build inputs are not even looked at
            root = self.root_source(root_id, top["root"], optional=bool(provides or distributions))
            components = self.components(top["components"], seen)
            manifest, listed = self.manifest(top["manifest"], seen)
            dirs = self.search_dirs(top["component-dirs"])
        destination = self.destination(top["destination"])
        store = self.path(top["store"], self.key("store")) if top["store"] is not _INVALID else None
        linkage = top["linkage"]
        compose, strip = top["compose"], top["strip"]
        if provides and compose is True:
            self.problem(self.key("compose"), "a component wheel (provides) has no plan to compose")
        if strip is True and compose is not True:
            self.problem(self.key("strip"), "needs compose = true (it strips the composed component)")
        policy = self.policy(top["policy"], linkage)
        secrets = self.secrets(top["secrets"])
        pyforge = self.pyforge(top["pyforge"], provides)

        if self.problems:
            raise ConfigError(self.problems)
        return PylonConfig(
            project_root=self.root,
            root=root,
            components=components + listed,
            component_dirs=dirs,
            destination=destination,
            store=store,  # type: ignore[arg-type]
            ignore_imports=tuple(top["ignore-imports"]),
            policy=policy,
            validate=top["validate"],
            table=self.table,
            max_component_size=top["max-component-size"],
            max_imports=top["max-imports"],
            linkage=linkage,
            compose=compose,
            strip=strip,
            manifest=manifest,
            secrets=secrets,
            root_id=root_id,
            component_distributions=distributions,
            distributed=top["distributed"],
            distributed_versions=top["distributed-versions"],
            distributed_set="distributed" in self.raw,
            provides=provides,
            pyforge=pyforge,
            registry=None if top["registry"] in (None, _INVALID) else tuple(top["registry"]),
        )

    def values(
        self, prefix: str, raw: Any, key: str, reserved: frozenset[str] = frozenset(), hint: str = ""
    ) -> dict[str, Any]:
        return read_table(prefix, raw, key, self.problems, reserved, hint)

    def entry(self, prefix: str, raw: Any, key: str, hint: str = "") -> dict[str, Any] | None:
        return read_entry(prefix, raw, key, self.problems, hint)

    # -- values ---------------------------------------------------------------------------------

    def expand(self, value: str, key: str) -> str | None:
        """Expand ``~``, ``$VAR``, ``${VAR}`` and ``${VAR:-default}``; None (with a problem) on an unset variable."""
        missing: list[str] = []
        try:
            expanded = expand_variables(value, self.environ, missing)
        except TooDeep:
            self.problem(key, f"{quoted(value)} nests defaults more than {MAX_DEFAULT_DEPTH} deep")
            return None
        if missing:
            names = ", ".join(f"${name}" for name in missing)
            self.problem(key, f"environment variable {names} is not set and {value!r} gives no default")
            return None
        return self.expand_home(expanded)

    def origin(self, key: str, value: Any) -> str:
        """``key``, naming the environment variables whose values made the path: ``root (from $PYTHON_WASM)``."""
        if not isinstance(value, str):
            return key
        used: list[str] = []
        try:
            expand_variables(value, self.environ, [], used=used)
        except TooDeep:
            return key
        used = [name for name in used if self.environ.get(name)]
        return f"{key} (from {', '.join('$' + name for name in used)})" if used else key

    def expand_home(self, text: str) -> str:
        if text == "~" or text.startswith("~/"):
            home = self.environ.get("HOME")
            return (home + text[1:]) if home else os.path.expanduser(text)
        return os.path.expanduser(text)

    def path(self, value: Any, key: str, base: Path | None = None) -> Path | None:
        """``value`` expanded, relative to ``base`` (the project root by default)."""
        expanded = self.path_text(value, key)
        return None if expanded is None else (base or self.root) / expanded

    def path_text(self, value: Any, key: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.problem(key, f"must be a non-empty string path, got {describe(value)}")
            return None
        expanded = self.expand(value, key)
        if expanded is None:
            return None
        if not expanded:
            self.problem(key, f"{value!r} expands to an empty path")
            return None
        return expanded

    # -- components -----------------------------------------------------------------------------

    def overridden(self, component_id: str, path: Path | None, origin: str) -> ComponentSource | None:
        variable = env_var_for(component_id)
        override = self.environ.get(variable)
        if override:
            return ComponentSource(component_id, self.root / self.expand_home(override), f"${variable}")
        if path is None:
            return None
        return ComponentSource(component_id, path, origin)

    def root_source(self, root_id: str, value: Any, optional: bool = False) -> ComponentSource | None:
        if value is REQUIRED:
            if env_var_for(root_id) in self.environ:
                return self.overridden(root_id, None, self.key("root"))
            if optional:
                return None
            self.problem(self.key("root"), "is required: the path of the root component (e.g. 'wasm/python.wasm')")
            return None
        path = None if value is _INVALID else self.path(value, self.key("root"))
        return self.overridden(root_id, path, self.origin(self.key("root"), value))

    def components(self, entries: Any, seen: dict[str, str]) -> tuple[ComponentSource, ...]:
        if entries is _INVALID:
            return ()
        sources = []
        for index, raw in enumerate(entries):
            key = self.key("components", index)
            values = self.entry("components[]", raw, key)
            if values is not None:
                source = self.pinned(values, key, seen, self.root)
                if source is not None:
                    sources.append(source)
        return tuple(sources)

    def pinned(self, values: dict[str, Any], key: str, seen: dict[str, str], base: Path) -> ComponentSource | None:
        """A ``{ id, path }`` entry whose values passed (or failed) the schema; registers its id in ``seen``."""
        component_id, path = values["id"], values["path"]
        if component_id in (REQUIRED, _INVALID) or path is REQUIRED:
            return None
        if component_id in seen:
            self.problem(f"{key}.id", f"duplicate id {component_id!r} (already used by {seen[component_id]})")
            return None
        seen[component_id] = f"{key}.id"
        resolved = None if path is _INVALID else self.path(path, f"{key}.path", base)
        fetch_url = values.get("source")
        source = self.overridden(component_id, resolved, self.origin(f"{key}.path", path))
        if source is None or not isinstance(fetch_url, str):
            return source
        return source._replace(fetch_url=fetch_url)

    def manifest(self, value: Any, seen: dict[str, str]) -> tuple[Path | None, tuple[ComponentSource, ...]]:
        """python-wasm's ``.pylon.toml``: its ``[[capabilities]]`` ``{ id, path }`` entries become pinned components."""
        if value is None or value is _INVALID:
            return None, ()
        shown = self.path_text(value, self.key("manifest"))
        if shown is None:
            return None, ()
        from .manifest import read_manifest  # only a project naming a manifest pays for reading one

        path = self.root / shown
        sources = []
        for entry_key, values in read_manifest(path, shown, self.key("manifest"), self.problems):
            source = self.pinned(values, entry_key, seen, path.parent)
            if source is not None:
                sources.append(source)
        return path, tuple(sources)

    def search_dirs(self, entries: Any) -> tuple[SearchDir, ...]:
        dirs: list[SearchDir] = []
        for entry in filter(None, self.environ.get("PYLON_COMPONENT_DIRS", "").split(os.pathsep)):
            dirs.append(SearchDir(self.root / self.expand_home(entry), "$PYLON_COMPONENT_DIRS"))
        for index, entry in enumerate([] if entries is _INVALID else entries):
            key = self.key("component-dirs", index)
            path = self.path(entry, key)
            if path is not None:
                dirs.append(SearchDir(path, key))
        return tuple(dirs)

    # -- placement and policy -------------------------------------------------------------------

    def destination(self, value: Any) -> str:
        key = self.key("destination")
        example = f"{import_name_of(self.project_name)}/_pylon"
        if value is None:
            return example
        if value is _INVALID:
            return ""
        posix = PurePosixPath(value.replace("\\", "/"))
        parts = [part for part in posix.parts if part not in (".", "/")]
        if posix.is_absolute() or re.match(r"^[A-Za-z]:", value):
            self.problem(key, f"{value!r} is absolute; give a folder inside the wheel, e.g. 'my_pkg/_pylon'")
        elif ".." in posix.parts:
            self.problem(key, f"{value!r} contains '..'; the bundle must stay inside the wheel")
        elif not parts:
            self.problem(key, f"{value!r} is the top of the wheel; give a folder inside your package, e.g. {example!r}")
        elif parts[0].endswith((".dist-info", ".data")):
            self.problem(
                key, f"{value!r} is inside the wheel's metadata; give a folder inside your package, e.g. {example!r}"
            )
        return "/".join(parts)

    def policy(self, raw: Any, linkage: Any) -> Policy:
        key = self.key("policy")
        if raw is _INVALID:
            return Policy()
        values = self.values("policy", raw, key)
        determinism = values["determinism"]
        if determinism == "strict" and linkage == "runtime":
            self.problem(
                f"{key}.determinism",
                "'strict' cannot be used with runtime linkage (composectl rejects the plan); use 'audit' or "
                "'relaxed', or set linkage = \"static\"",
            )
        capabilities = Policy().capabilities
        if "capabilities" in raw:
            capabilities = self.capabilities(values["capabilities"], f"{key}.capabilities")
        tenant = values["tenant"] if isinstance(values["tenant"], str) else None
        return Policy(str(determinism), capabilities, self.limits(values["limits"]), tenant)

    def pyforge(self, raw: Any, provides: tuple[str, ...]) -> Pyforge | None:
        """``pyforge = { bridge, python }``: a python-wasm extension wheel carries exactly one component."""
        key = self.key("pyforge")
        values = None if raw is None or raw is _INVALID else self.entry("pyforge", raw, key)
        if values is None:
            return None
        if len(provides) != 1:
            self.problem(
                key,
                f"a python-wasm extension wheel carries one capability component; provides lists {len(provides)} "
                "(give the one component's id)",
            )
        bridge, python = values["bridge"], values["python"]
        path = self.path(bridge, f"{key}.bridge") if bridge not in (REQUIRED, _INVALID) else None
        if path is not None and not path.name.startswith("_"):
            self.problem(f"{key}.bridge", f"{path.name!r}: a bridge folder's name starts with '_' (_<srcdir>)")
        if path is None or python in (REQUIRED, _INVALID) or self.problems:
            return None
        cp = "cp" + python.replace(".", "")
        return Pyforge(path, python, f"{cp}-{cp}-wasm32_wasip2")

    def capabilities(self, entries: Any, key: str) -> tuple[Capability, ...]:
        if entries is _INVALID:
            return ()
        result = []
        for index, raw in enumerate(entries):
            values = self.entry("policy.capabilities[]", raw, f"{key}[{index}]")
            if values is not None:
                result.append(Capability(str(values["name"]), str(values["level"])))
        return tuple(result)

    def limits(self, values: Any) -> tuple[tuple[str, int], ...]:
        if values is _INVALID:
            return ()
        limits = self.values("policy.limits", values, self.key("policy", "limits"))
        plan_keys = {option.leaf: option.plan_key for option in OPTIONS if option.parent == "policy.limits"}
        return tuple(
            (str(plan_keys[name]), amount)
            for name, amount in sorted(limits.items())
            if amount is not None and amount is not _INVALID
        )

    def secrets(self, entries: Any) -> tuple[Secret, ...]:
        if entries is _INVALID:
            return ()
        result = []
        for index, raw in enumerate(entries):
            hint = " (a plan names where a secret lives, never its value)"
            values = self.entry("secrets[]", raw, self.key("secrets", index), hint=hint)
            if values is not None and isinstance(values["secret-id"], str) and isinstance(values["backend-uri"], str):
                result.append(Secret(values["secret-id"], values["backend-uri"]))
        return tuple(result)
