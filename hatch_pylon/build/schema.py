"""The pylon configuration's schema: every key (``OPTIONS``), its kinds, and the README table it renders.

``OPTIONS`` lists every key (name, type, default, doc), sub-keys of ``policy`` and of the
``components``, ``policy.capabilities`` and ``secrets`` entries included; ``type_problem`` says why a value
does not fit its key. The parser (``build.config``) takes unknown keys and type errors from here.

``markdown_table()`` renders ``OPTIONS`` for README.md; ``python -m hatch_pylon.build.schema
--markdown`` prints it, and ``tests/test_docs.py`` fails when the README's copy is stale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .._layout import DEFAULT_IGNORE_IMPORTS, DEFAULT_MAX_COMPONENT_SIZE
from .._records import NamedTuple
from ..composectl.plan import (
    CAPABILITY_LEVELS,
    DEFAULT_CAPABILITIES,
    DETERMINISM,
    LINKAGES,
    MAX_U64,
    backend_uri_problem,
    source_problem,
)

HATCH_TABLE = "tool.hatch.build.hooks.pylon"
SETUPTOOLS_TABLE = "tool.pylon"
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
ID_PROBLEM = "{} is not a valid component id (use [a-z0-9][a-z0-9._-]*)"
VALIDATION_LEVELS = ("names", "types")
AUTO = "auto"  # linkage: decided by the root's imports (composectl.linkage.linkage_for)
DEFAULT_MAX_IMPORTS = 10_000


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
INVALID: Any = object()  # a value that failed its check (the problem is already recorded)
DISTRIBUTION_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508's name


class Option(NamedTuple):
    """One configuration key.

    ``name`` is its path inside the pylon table: ``policy.limits.cpu-ms`` for a key of a
    sub-table, ``components[].id`` for a key of each entry of an array of tables. ``kind`` is
    one of ``KINDS``; ``default`` is ``REQUIRED``, ``None`` (unset) or the value used when the
    key is absent; ``shown_default`` replaces it in the README where it is computed. ``check`` is a
    rule beyond the kind (on each item of a list); ``unique`` says the items of a list (``"*"``) or
    the entries of an array of tables (by that key) may not repeat; ``plan_key`` is the key it is
    written as in the plan.
    """

    name: str
    kind: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    shown_default: str | None = None
    check: Callable[[str], str | None] | None = None
    unique: str | None = None
    plan_key: str | None = None

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
    Option(
        "components[].source",
        "url",
        None,
        "where composectl may fetch it: `file://`, `http(s)://`, `ipfs://` or `oci://` (the plan's `source`)",
        check=source_problem,
    ),
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
        "the hook has the front-end install them to build from the sources ([docs](docs/distributions.md))",
        check=lambda name: (
            None
            if DISTRIBUTION_NAME.fullmatch(name)
            else f"{name!r} is not a distribution name (give the name only; pin versions in build-system.requires)"
        ),
        unique="*",
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
        "distributed-versions",
        "choice",
        "exact",
        "referenced distributions: `exact` (`==` the version used) or `compatible` (`>=` it, below the next "
        "major, or minor for 0.x): an installed app then takes a newer release, its plan re-resolved and "
        "type-checked by `verify` and `run` ([docs](docs/distributions.md#taking-a-newer-cap))",
        choices=("exact", "compatible"),
    ),
    Option(
        "provides",
        "strings",
        [],
        "ids of configured components this wheel provides: a component wheel (no plan) whose "
        "`.dist-info/extra_metadata/pylon-components.json` lists them",
        check=lambda component_id: (
            None if ID_PATTERN.fullmatch(component_id) else ID_PROBLEM.format(repr(component_id))
        ),
        unique="*",
    ),
    Option(
        "pyforge",
        "table",
        None,
        "with one `provides` id: the wheel is a python-wasm extension wheel "
        "([docs](docs/distributions.md#python-wasms-extension-wheels))",
    ),
    Option("pyforge.bridge", "path", REQUIRED, "its bridge folder, `_<srcdir>` (holding `pyforge-pkg.toml`)"),
    Option(
        "pyforge.python",
        "name",
        REQUIRED,
        "the one CPython minor it is for, `3.14`",
        check=lambda minor: (
            None
            if re.fullmatch(r"3\.(0|[1-9][0-9]*)", minor)
            else f"{minor!r} is not a CPython minor version such as '3.14'"
        ),
    ),
    Option("ignore-imports", "strings", list(DEFAULT_IGNORE_IMPORTS), "import-name prefixes left to the host"),
    Option(
        "registry",
        "ids",
        None,
        "when a component imports `compose:dynlink/linker`: the ids of the endpoint providers bundled, unbound, "
        "for it to resolve at run time",
        shown_default="every `compose:dynlink/endpoint` provider found",
    ),
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
        AUTO,
        "`runtime`: the plan is linked when run (a root importing `compose:dynlink`); `static`: composectl's "
        "static plan (imports merged into one sealed component); `auto`: `runtime` for a root importing "
        "`compose:dynlink/linker` or `/endpoint`, else `static`",
        choices=(AUTO, *LINKAGES),
    ),
    Option("compose", "bool", False, "also bundle the composed component `<destination>/<root-id>.composed.wasm`"),
    Option("strip", "bool", False, "drop custom sections from the composed component (needs `compose`)"),
    Option(
        "validate",
        "choice",
        "types",
        "`types`: every binding also type-checked, with types decoded from the binaries (a binding the decoder "
        "cannot decide is named in a warning); `names`: only that every import is bound to an export of its "
        "name and kind",
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
    Option("policy.determinism", "choice", "relaxed", "`strict` only with static linkage", choices=DETERMINISM),
    Option("policy.tenant", "name", None, "composectl's tenant id for the plan"),
    Option(
        "policy.capabilities",
        "tables",
        [{"name": n, "level": lvl} for n, lvl in DEFAULT_CAPABILITIES],
        "capabilities the plan requests, unique by name",
        shown_default="`dynlink:resolve`, `dynlink:invoke`, both required",
        unique="name",
    ),
    Option("policy.capabilities[].name", "name", REQUIRED, "the capability's name"),
    Option("policy.capabilities[].level", "choice", "required", "how much it is needed", choices=CAPABILITY_LEVELS),
    Option("policy.limits", "table", {}, "resource limits; only the keys given are written"),
    Option("policy.limits.cpu-ms", "u64", None, "written as `cpu_ms`", plan_key="cpu_ms"),
    Option("policy.limits.memory-bytes", "u64", None, "written as `memory_bytes`", plan_key="memory_bytes"),
    Option("policy.limits.io-ops", "u64", None, "written as `io_ops`", plan_key="io_ops"),
    Option(
        "secrets",
        "tables",
        [],
        "secrets composectl resolves for the plan at run time: where, never a value",
        unique="secret-id",
    ),
    Option("secrets[].secret-id", "name", REQUIRED, "the secret's id (`secret_id`), unique"),
    Option(
        "secrets[].backend-uri",
        "url",
        REQUIRED,
        "its backend, `<scheme>://…` (`backend_uri`; no password)",
        check=backend_uri_problem,
    ),
)

# Type column of the README, and the phrase a type error uses (``must be ...``); ``id`` and
# ``choice`` name the bad value first instead.
KINDS = {
    "path": ("path", "a non-empty string path"),
    "paths": ("list of paths", "a list of non-empty strings"),
    "strings": ("list of strings", "a list of non-empty strings"),
    "ids": ("list of ids", "a list of component ids"),
    "folder": ("string", "a non-empty relative folder"),
    "name": ("string", "a non-empty string"),
    "url": ("URL", "a non-empty string"),
    "id": ("id", ""),
    "choice": ("", ""),
    "bool": ("boolean", "true or false"),
    "count": ("positive integer", "a positive integer"),
    "u64": ("integer, 0 to 2**64 - 1", "a non-negative integer below 2**64"),
    "table": ("table", "a table"),
    "tables": ("array of tables", "an array of tables"),
}


def children(prefix: str) -> dict[str, Option]:
    return {option.leaf: option for option in OPTIONS if option.parent == prefix}


def type_problem(option: Option, value: Any) -> str | None:
    """Why ``value`` does not fit ``option``'s type, or None."""
    kind = option.kind
    if kind == "id":
        ok = isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
        return None if ok else ID_PROBLEM.format(describe(value))
    if kind == "choice":
        options = ", ".join(repr(choice) for choice in option.choices)
        return None if value in option.choices else f"{describe(value)} is not one of {options}"
    checks = {
        "path": lambda: isinstance(value, str) and value != "",
        "paths": lambda: isinstance(value, list) and all(isinstance(item, str) and item for item in value),
        "folder": lambda: isinstance(value, str) and value.strip("/") != "",
        "name": lambda: isinstance(value, str) and value != "",
        "url": lambda: isinstance(value, str) and value != "",
        "bool": lambda: isinstance(value, bool),
        "count": lambda: isinstance(value, int) and not isinstance(value, bool) and value > 0,
        "u64": lambda: isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_U64,
        "table": lambda: isinstance(value, Mapping),
        "tables": lambda: isinstance(value, list),
    }
    checks["strings"] = checks["paths"]
    checks["ids"] = lambda: (
        isinstance(value, list) and all(isinstance(item, str) and ID_PATTERN.fullmatch(item) for item in value)
    )
    if checks[kind]():
        return _unicode_problem(value)
    expected = KINDS[kind][1]
    if kind == "tables":
        expected = f"an array of {{ {', '.join(children(option.name + '[]'))} }} tables"
    return f"must be {expected}, got {describe(value)}"


def rule_problems(option: Option, value: Any, key: str) -> list[str]:
    """The ``check`` and ``unique`` rules on ``value`` (of ``option``, at ``key``), which fits its kind."""
    problems: list[str] = []
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, item in items if option.check is not None else ():
        message = option.check(item) if isinstance(item, str) else None  # type: ignore[misc]
        if message is not None:
            problems.append(f"{key}{'' if index is None else f'[{index}]'}: {message}")
    first: dict[str, int] = {}
    for index, item in enumerate(value) if option.unique is not None and isinstance(value, list) else ():
        entry = f"{key}[{index}]"
        name = item if option.unique == "*" else item.get(option.unique) if isinstance(item, Mapping) else None
        if not isinstance(name, str) or any(problem.startswith(entry) for problem in problems):
            continue
        if name in first:
            where = entry if option.unique == "*" else f"{entry}.{option.unique}"
            problems.append(f"{where}: {name!r} is listed twice (first at {key}[{first[name]}])")
        else:
            first[name] = index
    return problems


def read_table(
    prefix: str, raw: Any, key: str, problems: list[str], reserved: frozenset[str] = frozenset(), hint: str = ""
) -> dict[str, Any]:
    """Each option under ``prefix`` -> its value in ``raw`` (the table at ``key``), its default when absent, or
    ``INVALID``; what is wrong goes to ``problems``. Unknown keys are problems with a suggestion (or ``hint``);
    a missing ``REQUIRED`` key comes back as ``REQUIRED``."""
    options = children(prefix)
    for name in sorted(set(raw) - set(options) - reserved, key=str):
        problems.append(f"{key}.{name} is not a known option{suggestion(str(name), [*options, *reserved]) or hint}")
    result: dict[str, Any] = {}
    for leaf, option in options.items():
        if leaf not in raw:
            result[leaf] = option.default
            continue
        message = type_problem(option, raw[leaf])
        rules = rule_problems(option, raw[leaf], f"{key}.{leaf}") if message is None else []
        if message is not None:
            problems.append(f"{key}.{leaf}: {message}")
        problems += rules
        result[leaf] = INVALID if message is not None or (rules and option.kind != "tables") else raw[leaf]
    return result


def read_entry(prefix: str, raw: Any, key: str, problems: list[str], hint: str = "") -> dict[str, Any] | None:
    """A table's options (``read_table``), a missing required key a problem; None when ``raw`` is no table."""
    if not isinstance(raw, Mapping):
        problems.append(f"{key}: must be a table, got {describe(raw)}")
        return None
    values = read_table(prefix, raw, key, problems, hint=hint)
    problems += [f"{key}.{leaf}: is required" for leaf, value in values.items() if value is REQUIRED]
    return values


def suggestion(name: str, candidates: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or nothing."""
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unicode_problem(value: Any) -> str | None:
    """A string that cannot be written as UTF-8 (a lone surrogate), anywhere in ``value``."""
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return f"{text!r} holds a lone surrogate, which is not Unicode"
    return None


# -- the README table ----------------------------------------------------------------------------


def markdown_table() -> str:
    """The configuration table README.md carries between its ``config-table`` markers."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        if option.kind == "choice":
            type_text = " \\| ".join(f'`"{choice}"`' for choice in option.choices)
        else:
            type_text = KINDS[option.kind][0]
        lines.append(f"| `{option.name}` | {type_text} | {_default_text(option)} | {option.doc} |")
    return "\n".join(lines) + "\n"


def _default_text(option: Option) -> str:
    if option.shown_default is not None:
        text = option.shown_default
        return text if "`" in text else f"`{text}`"
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


def type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"{type_name(value)} ({value!r})"


def main(argv: list[str] | None = None) -> int:
    """``python -m hatch_pylon.build.schema --markdown``: print the README's configuration table."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--markdown"]:
        print("usage: python -m hatch_pylon.build.schema --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
