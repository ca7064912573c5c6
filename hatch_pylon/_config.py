"""The pylon configuration: one declarative schema, the parser it drives, and the README table it generates.

``OPTIONS`` lists every key (name, type, default, doc), sub-keys of ``policy`` and of the
``components`` and ``policy.capabilities`` entries included. The parser takes unknown keys
(with a "did you mean" from ``difflib``) and type errors from it, then applies the rules a
table cannot say: path expansion, environment overrides, ids and their precedence, and which
keys go together. Every problem is collected and raised at once as one ``ConfigError``.

``markdown_table()`` renders ``OPTIONS`` for README.md; ``python -m hatch_pylon._config
--markdown`` prints it, and ``tests/test_docs.py`` fails when the README's copy is stale.

Pure apart from one file: when ``manifest`` is set, python-wasm's ``.pylon.toml`` is read
for its ``[[capabilities]]``. Component files themselves are ``_components``' job.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from ._errors import ConfigError
from ._plan import CAPABILITY_LEVELS, DEFAULT_CAPABILITIES, DETERMINISM, LINKAGES, MAX_U64, Capability, Policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HATCH_TABLE = "tool.hatch.build.hooks.pylon"
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
LIMIT_KEYS = {"cpu-ms": "cpu_ms", "memory-bytes": "memory_bytes", "io-ops": "io_ops"}
VALIDATION_LEVELS = ("names", "types")
DEFAULT_MAX_COMPONENT_SIZE = 2 << 30
DEFAULT_MAX_IMPORTS = 10_000
MAX_MANIFEST_BYTES = 1 << 20

# Keys hatchling itself reads from every hook table.
HATCH_RESERVED_KEYS = frozenset(
    {"dependencies", "require-runtime-dependencies", "require-runtime-features", "enable-by-default"}
)
_VARIABLE = re.compile(
    # ${VAR} or ${VAR:-default}, where the default may itself use $VAR and ${VAR}
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>(?:\$\{[^}]*\}|[^}])*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"  # $VAR
)


# -- the schema ----------------------------------------------------------------------------------


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class Option(NamedTuple):
    """One configuration key.

    ``name`` is its path inside the pylon table: ``policy.limits.cpu-ms`` for a key of a
    sub-table, ``components[].id`` for a key of each entry of an array of tables. ``kind`` is
    one of ``_KINDS``; ``default`` is ``REQUIRED``, ``None`` (unset) or the value used when the
    key is absent; ``shown_default`` replaces it in the README where it is computed.
    """

    name: str
    kind: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    shown_default: str | None = None

    @property
    def parent(self) -> str:
        return self.name.rpartition(".")[0] if "." in self.name else ""

    @property
    def leaf(self) -> str:
        return self.name.rpartition(".")[2]


OPTIONS: tuple[Option, ...] = (
    Option(
        "root",
        "path",
        REQUIRED,
        "the root component's file; its id is `root-id`. Optional with `provides`, or when a "
        "`component-distributions` entry provides `root-id`",
    ),
    Option("root-id", "id", "python", "the root's id in the plan"),
    Option("components", "tables", [], "pinned components, which win over found ones"),
    Option("components[].id", "id", REQUIRED, "the component's id in the plan"),
    Option("components[].path", "path", REQUIRED, "its file"),
    Option("component-dirs", "paths", [], "folders searched (not recursively) for `*.wasm` providers"),
    Option(
        "manifest",
        "path",
        None,
        "python-wasm's `.pylon.toml`: its `[[capabilities]]` `{ id, path }` entries "
        "are pinned like `components`; other tables in it are ignored",
    ),
    Option(
        "component-distributions",
        "strings",
        [],
        "installed distributions whose components are candidates, ranked after `component-dirs`; "
        "list them in `build-system.requires` too ([docs](docs/distributions.md))",
    ),
    Option(
        "distributed",
        "choice",
        "reference",
        "components chosen from `component-distributions`: `reference` (the plan names them by digest, the "
        "blobs stay in that distribution, the wheel requires it `==` the version used) or `copy` them in",
        choices=("reference", "copy"),
    ),
    Option(
        "provides",
        "strings",
        [],
        "ids of configured components this wheel provides: a component wheel (no plan) whose "
        "`.dist-info/extra_metadata/pylon-components.json` lists them",
    ),
    Option("ignore-imports", "strings", ["wasi:"], "import-name prefixes left to the host"),
    Option(
        "destination",
        "folder",
        None,
        "folder inside the package tree for `plan.json` and `.compose/`: relative, no `..`, not the wheel's top level",
        shown_default='"<import name>/_pylon"',
    ),
    Option("store", "path", ".compose", "local blob store the build stages into (composectl layout)"),
    Option(
        "linkage",
        "choice",
        "runtime",
        "`runtime`: the plan is linked when run; `static`: composectl's "
        "static plan (imports merged into one sealed component)",
        choices=LINKAGES,
    ),
    Option("compose", "bool", False, "also bundle the composed component `<destination>/<root-id>.composed.wasm`"),
    Option("strip", "bool", False, "drop custom sections from the composed component (needs `compose`)"),
    Option(
        "validate",
        "choice",
        "names",
        "`names`: every import bound to an export of that name and kind; `types`: also type-check every binding",
        choices=VALIDATION_LEVELS,
    ),
    Option(
        "max-component-size",
        "count",
        DEFAULT_MAX_COMPONENT_SIZE,
        "bytes; a larger component file is refused before it is read",
    ),
    Option("max-imports", "count", DEFAULT_MAX_IMPORTS, "imports (and, separately, exports) per component"),
    Option("policy", "table", {}, "composectl's policy, written into the plan"),
    Option("policy.determinism", "choice", "relaxed", '`strict` only with `linkage = "static"`', choices=DETERMINISM),
    Option(
        "policy.capabilities",
        "tables",
        [{"name": n, "level": lvl} for n, lvl in DEFAULT_CAPABILITIES],
        "capabilities the plan requests, unique by name",
        shown_default="`dynlink:resolve`, `dynlink:invoke`, both required",
    ),
    Option("policy.capabilities[].name", "name", REQUIRED, "the capability's name"),
    Option("policy.capabilities[].level", "choice", "required", "how much it is needed", choices=CAPABILITY_LEVELS),
    Option("policy.limits", "table", {}, "resource limits; only the keys given are written"),
    Option("policy.limits.cpu-ms", "u64", None, "written as `cpu_ms`"),
    Option("policy.limits.memory-bytes", "u64", None, "written as `memory_bytes`"),
    Option("policy.limits.io-ops", "u64", None, "written as `io_ops`"),
)
_BY_NAME = {option.name: option for option in OPTIONS}

# Type column of the README, and the phrase a type error uses (``must be ...``); ``id`` and
# ``choice`` name the bad value first instead.
_KINDS = {
    "path": ("path", "a non-empty string path"),
    "paths": ("list of paths", "a list of non-empty strings"),
    "strings": ("list of strings", "a list of non-empty strings"),
    "folder": ("string", "a non-empty relative folder"),
    "name": ("string", "a non-empty string"),
    "id": ("id", ""),
    "choice": ("", ""),
    "bool": ("boolean", "true or false"),
    "count": ("positive integer", "a positive integer"),
    "u64": ("integer, 0 to 2**64 - 1", "a non-negative integer below 2**64"),
    "table": ("table", "a table"),
    "tables": ("array of tables", "an array of tables"),
}


def _children(prefix: str) -> dict[str, Option]:
    return {option.leaf: option for option in OPTIONS if option.parent == prefix}


def _type_problem(option: Option, value: Any) -> str | None:
    """Why ``value`` does not fit ``option``'s type, or None."""
    kind = option.kind
    if kind == "id":
        ok = isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
        return None if ok else f"{_describe(value)} is not a valid component id (use [a-z0-9][a-z0-9._-]*)"
    if kind == "choice":
        options = ", ".join(repr(choice) for choice in option.choices)
        return None if value in option.choices else f"{_describe(value)} is not one of {options}"
    checks = {
        "path": lambda: isinstance(value, str) and value != "",
        "paths": lambda: isinstance(value, list) and all(isinstance(item, str) and item for item in value),
        "folder": lambda: isinstance(value, str) and value.strip("/") != "",
        "name": lambda: isinstance(value, str) and value != "",
        "bool": lambda: isinstance(value, bool),
        "count": lambda: isinstance(value, int) and not isinstance(value, bool) and value > 0,
        "u64": lambda: isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_U64,
        "table": lambda: isinstance(value, Mapping),
        "tables": lambda: isinstance(value, list),
    }
    checks["strings"] = checks["paths"]
    if checks[kind]():
        return None
    expected = _KINDS[kind][1]
    if kind == "tables":
        expected = f"an array of {{ {', '.join(_children(option.name + '[]'))} }} tables"
    return f"must be {expected}, got {_describe(value)}"


# -- the README table ----------------------------------------------------------------------------


def markdown_table() -> str:
    """The configuration table README.md carries between its ``config-table`` markers."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        if option.kind == "choice":
            type_text = " \\| ".join(f'`"{choice}"`' for choice in option.choices)
        else:
            type_text = _KINDS[option.kind][0]
        lines.append(f"| `{option.name}` | {type_text} | {_default_text(option)} | {option.doc} |")
    return "\n".join(lines) + "\n"


def _default_text(option: Option) -> str:
    if option.shown_default is not None:
        text = option.shown_default
        return text if text.startswith("`") else f"`{text}`"
    if option.default is REQUIRED:
        return "required"
    if option.default is None:
        return "unset"
    if option.kind in ("table", "tables") or option.default == []:
        return "`[]`" if option.kind != "table" else "`{}`"
    return f"`{_toml(option.default)}`"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return str(value)


# -- the result ----------------------------------------------------------------------------------


class ComponentSource(NamedTuple):
    """A configured component file: where it is and which setting named it."""

    id: str
    path: Path
    origin: str  # the TOML key (or manifest entry) or environment variable that chose this path


class SearchDir(NamedTuple):
    path: Path
    origin: str


class PylonConfig(NamedTuple):
    project_root: Path
    root: ComponentSource | None  # None: the root comes from a component distribution, or there is none (provides)
    components: tuple[ComponentSource, ...]  # `components` entries, then the manifest's capabilities
    component_dirs: tuple[SearchDir, ...]
    destination: str
    store: Path
    ignore_imports: tuple[str, ...]
    policy: Policy = Policy()
    validate: str = "names"
    table: str = HATCH_TABLE
    max_component_size: int = DEFAULT_MAX_COMPONENT_SIZE
    max_imports: int = DEFAULT_MAX_IMPORTS
    linkage: str = "runtime"
    compose: bool = False
    strip: bool = False
    manifest: Path | None = None
    root_id: str = "python"
    component_distributions: tuple[str, ...] = ()
    distributed: str = "reference"
    provides: tuple[str, ...] = ()

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
    """Validate ``raw`` (the pylon TOML table); raise ``ConfigError`` listing every problem.

    ``table`` is how messages name the table (``tool.pylon``, ``hatch.toml: build.hooks.pylon``, …).
    """
    return _Parser(raw, Path(project_root), project_name, os.environ if environ is None else environ, table).parse()


# -- the parser ----------------------------------------------------------------------------------

_INVALID: Any = object()  # a value that failed its type check (the problem is already recorded)


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
        top = self.values("", self.raw, self.table, reserved=HATCH_RESERVED_KEYS)

        root_id = top["root-id"] if top["root-id"] is not _INVALID else str(self.raw.get("root-id"))
        distributions = self.distribution_names(top["component-distributions"])
        provides = tuple(top["provides"]) if top["provides"] is not _INVALID else ()
        provides = self.provided(provides)
        root = self.root_source(root_id, top["root"], optional=bool(provides or distributions))
        seen: dict[str, str] = {root_id: self.key("root-id")}
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
            root_id=root_id,
            component_distributions=distributions,
            distributed=top["distributed"],
            provides=provides,
        )

    # -- the schema's part: known keys and types ------------------------------------------------

    def values(self, prefix: str, raw: Any, key: str, reserved: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Each option under ``prefix`` -> its value, its default (absent) or ``_INVALID`` (a problem recorded).

        Unknown keys are problems with a suggestion; a missing ``REQUIRED`` key comes back as ``REQUIRED``.
        """
        options = _children(prefix)
        for name in sorted(set(raw) - set(options) - reserved, key=str):
            self.problems.append(f"{key}.{name} is not a known option{_suggestion(str(name), [*options, *reserved])}")
        result: dict[str, Any] = {}
        for leaf, option in options.items():
            if leaf not in raw:
                result[leaf] = option.default
                continue
            message = _type_problem(option, raw[leaf])
            if message is not None:
                self.problem(f"{key}.{leaf}", message)
                result[leaf] = _INVALID
            else:
                result[leaf] = raw[leaf]
        return result

    def entry(self, prefix: str, raw: Any, key: str) -> dict[str, Any] | None:
        """One entry of an array of tables; None when it is not a table. Missing required keys are problems."""
        if not isinstance(raw, Mapping):
            self.problem(key, f"must be a table, got {_describe(raw)}")
            return None
        values = self.values(prefix, raw, key)
        for leaf, value in values.items():
            if value is REQUIRED:
                self.problem(f"{key}.{leaf}", "is required")
        return values

    # -- values ---------------------------------------------------------------------------------

    def expand(self, value: str, key: str) -> str | None:
        """Expand ``~``, ``$VAR``, ``${VAR}`` and ``${VAR:-default}``; None (with a problem) on an unset variable."""
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name = match["braced"] or match["bare"]
            current = self.environ.get(name)
            if match["default"] is not None and not current:
                return _VARIABLE.sub(substitute, match["default"])  # as a shell does: $HOME in a default expands
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

    def path(self, value: Any, key: str, base: Path | None = None) -> Path | None:
        """``value`` expanded, relative to ``base`` (the project root by default)."""
        expanded = self.path_text(value, key)
        return None if expanded is None else (base or self.root) / expanded

    def path_text(self, value: Any, key: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.problem(key, f"must be a non-empty string path, got {_describe(value)}")
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
        return self.overridden(root_id, path, self.key("root"))

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
        return self.overridden(component_id, resolved, f"{key}.path")

    def manifest(self, value: Any, seen: dict[str, str]) -> tuple[Path | None, tuple[ComponentSource, ...]]:
        """python-wasm's ``.pylon.toml``: its ``[[capabilities]]`` become pinned components."""
        key = self.key("manifest")
        if value is None or value is _INVALID:
            return None, ()
        shown = self.path_text(value, key)
        if shown is None:
            return None, ()
        path = self.root / shown
        document = self.read_manifest(path, shown, key)
        if document is None:
            return path, ()
        entries = document.get("capabilities", [])
        if not isinstance(entries, list):
            self.problem(
                f"{shown}: capabilities", f"must be an array of {{ id, path }} tables, got {_describe(entries)}"
            )
            return path, ()
        sources = []
        for index, raw in enumerate(entries):
            entry_key = f"{shown}: capabilities[{index}]"
            if not isinstance(raw, Mapping):
                self.problem(entry_key, f"must be a table, got {_describe(raw)}")
                continue
            values: dict[str, Any] = {}
            for leaf, option in _children("components[]").items():  # other keys are the manifest's own business
                values[leaf] = raw.get(leaf, REQUIRED)
                if values[leaf] is REQUIRED:
                    self.problem(f"{entry_key}.{leaf}", "is required")
                elif (message := _type_problem(option, values[leaf])) is not None:
                    self.problem(f"{entry_key}.{leaf}", message)
                    values[leaf] = _INVALID
            source = self.pinned(values, entry_key, seen, path.parent)
            if source is not None:
                sources.append(source)
        return path, tuple(sources)

    def read_manifest(self, path: Path, shown: str, key: str) -> dict[str, Any] | None:
        try:
            status = os.stat(path)
            if not stat.S_ISREG(status.st_mode):
                self.problem(key, f"{shown}: is not a regular file")
                return None
            if status.st_size > MAX_MANIFEST_BYTES:
                self.problem(key, f"{shown}: is {status.st_size} bytes, over the limit of {MAX_MANIFEST_BYTES}")
                return None
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.problem(key, f"{shown}: file not found")
        except OSError as error:
            self.problem(key, f"{shown}: cannot be read ({error.strerror or error})")
        except UnicodeDecodeError:
            self.problem(key, f"{shown}: is not UTF-8 text")
        except tomllib.TOMLDecodeError as error:
            self.problem(key, f"{shown}: is not valid TOML ({error})")
        return None

    def distribution_names(self, entries: Any) -> tuple[str, ...]:
        """``component-distributions``: distribution names (PEP 508 names, no versions: pin those in requires)."""
        if entries is _INVALID:
            return ()
        names: list[str] = []
        for index, name in enumerate(entries):
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", name):
                self.problem(
                    self.key("component-distributions", index),
                    f"{name!r} is not a distribution name (give the name only; pin versions in build-system.requires)",
                )
            elif name in names:
                self.problem(self.key("component-distributions", index), f"{name!r} is listed twice")
            else:
                names.append(name)
        return tuple(names)

    def provided(self, ids: tuple[str, ...]) -> tuple[str, ...]:
        """``provides``: valid, unique ids; whether each is configured is known once the component dirs are listed."""
        result: list[str] = []
        for index, component_id in enumerate(ids):
            key = self.key("provides", index)
            if not ID_PATTERN.fullmatch(component_id):
                self.problem(key, f"{component_id!r} is not a valid component id (use [a-z0-9][a-z0-9._-]*)")
            elif component_id in result:
                self.problem(key, f"{component_id!r} is listed twice")
            else:
                result.append(component_id)
        return tuple(result)

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
        return Policy(determinism=str(determinism), capabilities=capabilities, limits=self.limits(values["limits"]))

    def capabilities(self, entries: Any, key: str) -> tuple[Capability, ...]:
        if entries is _INVALID:
            return ()
        result = []
        seen: dict[str, str] = {}
        for index, raw in enumerate(entries):
            item_key = f"{key}[{index}]"
            values = self.entry("policy.capabilities[]", raw, item_key)
            if values is None:
                continue
            name, level = values["name"], values["level"]
            if isinstance(name, str) and name in seen:
                self.problem(f"{item_key}.name", f"duplicate capability {name!r} (already listed at {seen[name]})")
                continue
            if isinstance(name, str):
                seen[name] = item_key
            result.append(Capability(str(name), str(level)))
        return tuple(result)

    def limits(self, values: Any) -> tuple[tuple[str, int], ...]:
        if values is _INVALID:
            return ()
        limits = self.values("policy.limits", values, self.key("policy", "limits"))
        return tuple(
            (LIMIT_KEYS[name], amount)
            for name, amount in sorted(limits.items())
            if amount is not None and amount is not _INVALID
        )


def _suggestion(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"{_type_name(value)} ({value!r})"


def main(argv: list[str] | None = None) -> int:
    """``python -m hatch_pylon._config --markdown``: print the README's configuration table."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--markdown"]:
        print("usage: python -m hatch_pylon._config --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
