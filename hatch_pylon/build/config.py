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
import stat
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from .._errors import ConfigError, quoted
from .._layout import DEFAULT_MAX_COMPONENT_SIZE
from ..composectl.plan import Capability, Policy, Secret, backend_uri_problem, source_problem
from .schema import DEFAULT_MAX_IMPORTS, HATCH_TABLE, ID_PATTERN, REQUIRED, children, describe, type_name, type_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LIMIT_KEYS = {"cpu-ms": "cpu_ms", "memory-bytes": "memory_bytes", "io-ops": "io_ops"}
MAX_MANIFEST_BYTES = 1 << 20

# Keys hatchling itself reads from every hook table.
HATCH_RESERVED_KEYS = frozenset(
    {"dependencies", "require-runtime-dependencies", "require-runtime-features", "enable-by-default"}
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_DEFAULT_DEPTH = 16  # ${A:-${B:-...}} nested this deep at most


class _TooDeep(Exception):
    pass


def _expand_variables(
    text: str, environ: Mapping[str, str], missing: list[str], depth: int = 0, used: list[str] | None = None
) -> str:
    """``$VAR``, ``${VAR}`` and ``${VAR:-default}`` as a shell expands them, defaults nested to any depth up to
    ``MAX_DEFAULT_DEPTH`` (``_TooDeep`` beyond); unset variables without a default are added to ``missing``,
    and the variables whose values were used outside any default to ``used``.
    Anything else, an unterminated ``${`` included, is kept as written."""
    if depth > MAX_DEFAULT_DEPTH:
        raise _TooDeep
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
            continue
        if text.startswith("${", i):
            end, level = i + 2, 1
            while end < len(text) and level:
                if text.startswith("${", end):
                    level, end = level + 1, end + 2
                    continue
                level -= text[end] == "}"
                end += 1
            inner = text[i + 2 : end - 1]
            name, colon, default = inner.partition(":-")
            if level or not _NAME.fullmatch(name) or (not colon and inner != name):
                out.append(text[i : end if not level else i + 2])  # not a variable: kept as written
                i = end if not level else i + 2
                continue
            current = environ.get(name)
            if colon and not current:  # as a shell does: unset or empty takes the default, itself expanded
                out.append(_expand_variables(default, environ, missing, depth + 1, used))
            elif current is None:
                missing.append(name)
            else:
                out.append(current)
                if used is not None and depth == 0 and name not in used:
                    used.append(name)
            i = end
            continue
        match = _NAME.match(text, i + 1)
        if match is None:
            out.append("$")
            i += 1
            continue
        current = environ.get(match.group())
        if current is None:
            missing.append(match.group())
        else:
            out.append(current)
            if used is not None and depth == 0 and current and match.group() not in used:
                used.append(match.group())
        i = match.end()
    return "".join(out)


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
    linkage: str = "runtime"
    compose: bool = False
    strip: bool = False
    manifest: Path | None = None
    secrets: tuple[Secret, ...] = ()
    root_id: str = "python"
    component_distributions: tuple[str, ...] = ()
    distributed: str = "reference"
    distributed_versions: str = "exact"  # "compatible": references are required >= the version, on its track
    provides: tuple[str, ...] = ()
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

_INVALID: Any = object()  # a value that failed its type check (the problem is already recorded)


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
        distributions = self.distribution_names(top["component-distributions"])
        provides = tuple(top["provides"]) if top["provides"] is not _INVALID else ()
        provides = self.provided(provides)
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
            provides=provides,
            registry=None if top["registry"] in (None, _INVALID) else tuple(top["registry"]),
        )

    # -- the schema's part: known keys and types ------------------------------------------------

    def values(
        self, prefix: str, raw: Any, key: str, reserved: frozenset[str] = frozenset(), hint: str = ""
    ) -> dict[str, Any]:
        """Each option under ``prefix`` -> its value, its default (absent) or ``_INVALID`` (a problem recorded).

        Unknown keys are problems with a suggestion; a missing ``REQUIRED`` key comes back as ``REQUIRED``.
        """
        options = children(prefix)
        for name in sorted(set(raw) - set(options) - reserved, key=str):
            suggestion = _suggestion(str(name), [*options, *reserved]) or hint
            self.problems.append(f"{key}.{name} is not a known option{suggestion}")
        result: dict[str, Any] = {}
        for leaf, option in options.items():
            if leaf not in raw:
                result[leaf] = option.default
                continue
            message = type_problem(option, raw[leaf])
            if message is not None:
                self.problem(f"{key}.{leaf}", message)
                result[leaf] = _INVALID
            else:
                result[leaf] = raw[leaf]
        return result

    def entry(self, prefix: str, raw: Any, key: str, hint: str = "") -> dict[str, Any] | None:
        """One entry of an array of tables; None when it is not a table. Missing required keys are problems."""
        if not isinstance(raw, Mapping):
            self.problem(key, f"must be a table, got {describe(raw)}")
            return None
        values = self.values(prefix, raw, key, hint=hint)
        for leaf, value in values.items():
            if value is REQUIRED:
                self.problem(f"{key}.{leaf}", "is required")
        return values

    # -- values ---------------------------------------------------------------------------------

    def expand(self, value: str, key: str) -> str | None:
        """Expand ``~``, ``$VAR``, ``${VAR}`` and ``${VAR:-default}``; None (with a problem) on an unset variable."""
        missing: list[str] = []
        try:
            expanded = _expand_variables(value, self.environ, missing)
        except _TooDeep:
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
            _expand_variables(value, self.environ, [], used=used)
        except _TooDeep:
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
        if isinstance(fetch_url, str):
            problem = source_problem(fetch_url)
            if problem:
                self.problem(f"{key}.source", problem)
        source = self.overridden(component_id, resolved, self.origin(f"{key}.path", path))
        if source is None or not isinstance(fetch_url, str):
            return source
        return source._replace(fetch_url=fetch_url)

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
                f"{shown}: capabilities", f"must be an array of {{ id, path }} tables, got {describe(entries)}"
            )
            return path, ()
        sources = []
        for index, raw in enumerate(entries):
            entry_key = f"{shown}: capabilities[{index}]"
            if not isinstance(raw, Mapping):
                self.problem(entry_key, f"must be a table, got {describe(raw)}")
                continue
            values: dict[str, Any] = {}
            for leaf, option in children("components[]").items():  # other keys are the manifest's own business
                if option.default is not REQUIRED:  # only `{ id, path }` are read from a manifest's entries
                    continue
                values[leaf] = raw.get(leaf, REQUIRED)
                if values[leaf] is REQUIRED:
                    self.problem(f"{entry_key}.{leaf}", "is required")
                elif (message := type_problem(option, values[leaf])) is not None:
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
        except RecursionError:
            self.problem(key, f"{shown}: is nested too deeply to read")
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
        tenant = values["tenant"] if isinstance(values["tenant"], str) else None
        return Policy(str(determinism), capabilities, self.limits(values["limits"]), tenant)

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

    def secrets(self, entries: Any) -> tuple[Secret, ...]:
        if entries is _INVALID:
            return ()
        result = []
        seen: dict[str, str] = {}
        for index, raw in enumerate(entries):
            item_key = self.key("secrets", index)
            hint = " (a plan names where a secret lives, never its value)"
            values = self.entry("secrets[]", raw, item_key, hint=hint)
            if values is None:
                continue
            secret_id, backend = values["secret-id"], values["backend-uri"]
            if isinstance(backend, str):
                problem = backend_uri_problem(backend)
                if problem:
                    self.problem(f"{item_key}.backend-uri", problem)
            if isinstance(secret_id, str):
                if secret_id in seen:
                    self.problem(
                        f"{item_key}.secret-id", f"duplicate secret {secret_id!r} (already at {seen[secret_id]})"
                    )
                seen[secret_id] = item_key
                if isinstance(backend, str):
                    result.append(Secret(secret_id, backend))
        return tuple(result)


def _suggestion(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
