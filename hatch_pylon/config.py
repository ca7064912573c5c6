"""Parse and validate the pylon table, reporting every problem at once.

Pure: takes the raw TOML mapping plus the project's root, name and
environment, returns a frozen ``PylonConfig``. Nothing here touches the
component files themselves; that is ``components``' job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ConfigError
from .wasm import DEFAULT_LIMITS, Limits

HATCH_TABLE = "tool.hatch.build.hooks.pylon"
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
DETERMINISM = ("strict", "audit", "relaxed")
CAPABILITY_LEVELS = ("required", "optional")
DEFAULT_CAPABILITIES = (("dynlink:resolve", "required"), ("dynlink:invoke", "required"))
LIMIT_KEYS = {"cpu-ms": "cpu_ms", "memory-bytes": "memory_bytes", "io-ops": "io_ops"}
VALIDATION_LEVELS = ("names", "types")

# Keys hatchling itself reads from every hook table.
HATCH_RESERVED_KEYS = frozenset(
    {"dependencies", "require-runtime-dependencies", "require-runtime-features", "enable-by-default"}
)
_KNOWN_KEYS = frozenset(
    {"root", "root-id", "component-dirs", "destination", "store", "ignore-imports", "components", "policy", "validate",
     "max-component-size", "max-imports"}
)
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"  # ${VAR} or ${VAR:-default}
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"  # $VAR
)


@dataclass(frozen=True)
class ComponentSource:
    """A configured component file: where it is and which setting named it."""

    id: str
    path: Path
    origin: str  # the TOML key or environment variable that chose this path


@dataclass(frozen=True)
class SearchDir:
    path: Path
    origin: str


@dataclass(frozen=True)
class Capability:
    name: str
    level: str


@dataclass(frozen=True)
class Policy:
    determinism: str = "relaxed"
    capabilities: tuple[Capability, ...] = tuple(Capability(n, lvl) for n, lvl in DEFAULT_CAPABILITIES)
    limits: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class PylonConfig:
    project_root: Path
    root: ComponentSource
    components: tuple[ComponentSource, ...]
    component_dirs: tuple[SearchDir, ...]
    destination: str
    store: Path
    ignore_imports: tuple[str, ...]
    policy: Policy = field(default_factory=Policy)
    validate: str = "names"
    table: str = HATCH_TABLE
    limits: Limits = DEFAULT_LIMITS

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
) -> PylonConfig:
    """Validate ``raw`` (the pylon TOML table); raise ``ConfigError`` listing every problem."""
    return _Parser(raw, Path(project_root), project_name, os.environ if environ is None else environ, table).parse()


class _Parser:
    def __init__(self, raw: Mapping[str, Any], root: Path, project_name: str, environ: Mapping[str, str], table: str):
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
            raise ConfigError([f"{self.table}: must be a table, got {_type_name(self.raw)}"])
        for name in sorted(set(self.raw) - _KNOWN_KEYS - HATCH_RESERVED_KEYS):
            self.problems.append(f"{self.key(name)} is not a known option")

        root_id = self.identifier(self.raw.get("root-id", "python"), self.key("root-id"))
        root = self.root_source(root_id)
        components = self.components(root_id)
        dirs = self.search_dirs()
        destination = self.destination()
        store = self.path_option("store", ".compose")
        ignore = self.string_list("ignore-imports", ["wasi:"])
        policy = self.policy()
        validate = self.choice(self.raw.get("validate", "names"), self.key("validate"), VALIDATION_LEVELS)
        limits = Limits(
            max_size=self.positive_int("max-component-size", DEFAULT_LIMITS.max_size),
            max_externs=self.positive_int("max-imports", DEFAULT_LIMITS.max_externs),
        )

        if self.problems:
            raise ConfigError(self.problems)
        return PylonConfig(
            project_root=self.root,
            root=root,  # type: ignore[arg-type]
            components=components,
            component_dirs=dirs,
            destination=destination,
            store=store,  # type: ignore[arg-type]
            ignore_imports=tuple(ignore),
            policy=policy,
            validate=validate,
            table=self.table,
            limits=limits,
        )

    # -- values -------------------------------------------------------

    def expand(self, value: str, key: str) -> str | None:
        """Expand ``~``, ``$VAR``, ``${VAR}`` and ``${VAR:-default}``; None (with a problem) on an unset variable."""
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name = match["braced"] or match["bare"]
            current = self.environ.get(name)
            if match["default"] is not None and not current:
                return match["default"]
            if current is None:
                missing.append(name)
                return ""
            return current

        expanded = _VARIABLE.sub(substitute, value)
        if missing:
            names = ", ".join(f"${name}" for name in missing)
            self.problem(key, f"environment variable {names} is not set and {value!r} gives no default")
            return None
        return self.expand_home(expanded)

    def expand_home(self, text: str) -> str:
        if text == "~" or text.startswith("~/"):
            home = self.environ.get("HOME")
            return (home + text[1:]) if home else os.path.expanduser(text)
        return os.path.expanduser(text)

    def path(self, value: Any, key: str) -> Path | None:
        if not isinstance(value, str) or not value:
            self.problem(key, f"must be a non-empty string path, got {_describe(value)}")
            return None
        expanded = self.expand(value, key)
        if expanded is None:
            return None
        if not expanded:
            self.problem(key, f"{value!r} expands to an empty path")
            return None
        return self.root / expanded

    def path_option(self, name: str, default: str) -> Path | None:
        return self.path(self.raw.get(name, default), self.key(name))

    def identifier(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
            self.problem(key, f"{_describe(value)} is not a valid component id (use [a-z0-9][a-z0-9._-]*)")
            return str(value)
        return value

    def choice(self, value: Any, key: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            options = ", ".join(repr(option) for option in allowed)
            self.problem(key, f"{_describe(value)} is not one of {options}")
        return str(value)

    def positive_int(self, name: str, default: int) -> int:
        value = self.raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.problem(self.key(name), f"must be a positive integer, got {_describe(value)}")
            return default
        return value

    def string_list(self, name: str, default: list[str]) -> list[str]:
        value = self.raw.get(name, default)
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            self.problem(self.key(name), f"must be a list of non-empty strings, got {_describe(value)}")
            return []
        return value

    def table_keys(self, value: Any, key: str, known: set[str]) -> bool:
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a table, got {_describe(value)}")
            return False
        for name in sorted(set(value) - known):
            self.problems.append(f"{key}.{name} is not a known option")
        return True

    # -- sections -----------------------------------------------------

    def overridden(self, component_id: str, path: Path | None, origin: str) -> ComponentSource | None:
        variable = env_var_for(component_id)
        override = self.environ.get(variable)
        if override:
            return ComponentSource(component_id, self.root / self.expand_home(override), f"${variable}")
        if path is None:
            return None
        return ComponentSource(component_id, path, origin)

    def root_source(self, root_id: str) -> ComponentSource | None:
        if "root" not in self.raw:
            if env_var_for(root_id) in self.environ:
                return self.overridden(root_id, None, self.key("root"))
            self.problem(self.key("root"), "is required: the path of the root component (e.g. 'wasm/python.wasm')")
            return None
        return self.overridden(root_id, self.path(self.raw["root"], self.key("root")), self.key("root"))

    def components(self, root_id: str) -> tuple[ComponentSource, ...]:
        entries = self.raw.get("components", [])
        if not isinstance(entries, list):
            self.problem(self.key("components"), f"must be an array of tables, got {_describe(entries)}")
            return ()
        sources: list[ComponentSource] = []
        seen: dict[str, str] = {root_id: self.key("root-id")}
        for index, entry in enumerate(entries):
            key = self.key("components", index)
            if not self.table_keys(entry, key, {"id", "path"}):
                continue
            for required in ("id", "path"):
                if required not in entry:
                    self.problem(f"{key}.{required}", "is required")
            if "id" not in entry or "path" not in entry:
                continue
            component_id = self.identifier(entry["id"], f"{key}.id")
            if component_id in seen:
                self.problem(f"{key}.id", f"duplicate id {component_id!r} (already used by {seen[component_id]})")
                continue
            seen[component_id] = f"{key}.id"
            source = self.overridden(component_id, self.path(entry["path"], f"{key}.path"), f"{key}.path")
            if source is not None:
                sources.append(source)
        return tuple(sources)

    def search_dirs(self) -> tuple[SearchDir, ...]:
        dirs: list[SearchDir] = []
        for entry in filter(None, self.environ.get("PYLON_COMPONENT_DIRS", "").split(os.pathsep)):
            dirs.append(SearchDir(self.root / self.expand_home(entry), "$PYLON_COMPONENT_DIRS"))
        for index, entry in enumerate(self.string_list("component-dirs", [])):
            key = self.key("component-dirs", index)
            path = self.path(entry, key)
            if path is not None:
                dirs.append(SearchDir(path, key))
        return tuple(dirs)

    def destination(self) -> str:
        key = self.key("destination")
        value = self.raw.get("destination", f"{import_name_of(self.project_name)}/_pylon")
        if not isinstance(value, str) or not value.strip("/"):
            self.problem(key, f"must be a non-empty relative folder, got {_describe(value)}")
            return ""
        posix = PurePosixPath(value.replace("\\", "/"))
        if posix.is_absolute() or re.match(r"^[A-Za-z]:", value):
            self.problem(key, f"{value!r} is absolute; give a folder inside the wheel, e.g. 'my_pkg/_pylon'")
        elif ".." in posix.parts:
            self.problem(key, f"{value!r} contains '..'; the bundle must stay inside the wheel")
        parts = [part for part in posix.parts if part not in (".", "/")]
        return "/".join(parts)

    def policy(self) -> Policy:
        key = self.key("policy")
        raw = self.raw.get("policy", {})
        if not self.table_keys(raw, key, {"determinism", "capabilities", "limits"}):
            return Policy()
        determinism = self.choice(raw.get("determinism", "relaxed"), f"{key}.determinism", DETERMINISM)
        if determinism == "strict":
            self.problem(
                f"{key}.determinism",
                "'strict' cannot be used with runtime linkage (composectl rejects the plan); use 'audit' or 'relaxed'",
            )
        capabilities = Policy().capabilities
        if "capabilities" in raw:
            capabilities = self.capabilities(raw["capabilities"], f"{key}.capabilities")
        return Policy(determinism=determinism, capabilities=capabilities, limits=self.limits(raw, key))

    def capabilities(self, value: Any, key: str) -> tuple[Capability, ...]:
        if not isinstance(value, list):
            self.problem(key, f"must be an array of {{ name, level }} tables, got {_describe(value)}")
            return ()
        result = []
        for index, entry in enumerate(value):
            item_key = f"{key}[{index}]"
            if not self.table_keys(entry, item_key, {"name", "level"}):
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                self.problem(f"{item_key}.name", f"must be a non-empty string, got {_describe(name)}")
            level = self.choice(entry.get("level", "required"), f"{item_key}.level", CAPABILITY_LEVELS)
            result.append(Capability(str(name), level))
        return tuple(result)

    def limits(self, raw: Mapping[str, Any], key: str) -> tuple[tuple[str, int], ...]:
        value = raw.get("limits", {})
        if not self.table_keys(value, f"{key}.limits", set(LIMIT_KEYS)):
            return ()
        limits = []
        for name in sorted(value):
            if name not in LIMIT_KEYS:
                continue
            amount = value[name]
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                self.problem(f"{key}.limits.{name}", f"must be a non-negative integer, got {_describe(amount)}")
                continue
            limits.append((LIMIT_KEYS[name], amount))
        return tuple(limits)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"{_type_name(value)} ({value!r})"
