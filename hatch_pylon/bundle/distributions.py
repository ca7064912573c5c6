"""Component distributions: the descriptor a component wheel carries, and the installed ones a build or a gate finds.

A *component distribution* is a Python distribution whose wheel provides components: their blobs sit in a
composectl store inside the package (``<destination>/.compose/blobs/…``) and a descriptor in the wheel's
``.dist-info/extra_metadata/pylon-components.json`` lists each one's id, digest, size, imports and exports,
so ``importlib.metadata`` reads it without importing anything. A component may instead sit at a ``path`` of
its own in the wheel (a python-wasm extension wheel's ``_<bridge>_component/<file>.wasm``).

python-wasm's extension wheels (its ``docs/pyforge-wheel-spec.md``) are read as they are built: a bridge folder
``_<srcdir>/pyforge-pkg.toml`` with ``[wheel.component] artifact`` provides that one component, its digest and
size the ones the wheel's ``RECORD`` gives, its id the artifact's file stem; every ``[[capabilities.required]]``
interface must be exported by it (checked where its binary is read). Distributions are found in this
environment first, then in python-wasm's ``$PYTHON_WASM_HOME/site-packages``.

An app that *references* a component records ``{distribution, version, components}`` in its ``pylon.json``;
``locate_references`` finds those blobs in the installed distributions for the verification gate, and says
by name what is missing, of another version, or damaged, and what to install.

Every file is opened below the distribution's install folder without following a link, and size-capped.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._errors import ArchiveError, ComponentsError, PylonError, TooLarge, bullets, printable, quoted, shell_word
from .._fs import os_reason, read_small
from .._layout import STORE_DIR, blob_relpath, is_digest
from .._records import NamedTuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DESCRIPTOR = "pylon-components.json"
DESCRIPTOR_PATH = f"extra_metadata/{DESCRIPTOR}"  # inside .dist-info: where hatchling's extra_metadata puts it
PYFORGE_MANIFEST = "pyforge-pkg.toml"  # in a bridge folder at the top of a python-wasm extension wheel
PYFORGE_SCHEMA = "tegmentum:pylon-pyforge/pkg@0.1.0"
SCHEMA = "hatch-pylon/components@1"
MAX_DESCRIPTOR_BYTES = 4 << 20
_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


class ProvidedComponent(NamedTuple):
    """One component a distribution provides; ``digest`` is None only while a pyforge artifact's RECORD entry
    is not read yet."""

    id: str
    relative: str  # its file, below the distribution's install folder (POSIX)
    digest: str | None
    size: int | None
    imports: tuple[tuple[str, str], ...] = ()  # (name, kind), as the descriptor lists them
    exports: tuple[tuple[str, str], ...] = ()
    requires: tuple[str, ...] = ()  # its bridge's [[capabilities.required]], ``interface@version``: it must export them
    manifest: str | None = None  # that bridge's pyforge-pkg.toml, for messages
    listed: bool = True  # imports and exports come from a descriptor (a pyforge artifact's are read from the binary)


class ComponentDistribution(NamedTuple):
    """An installed (or unpacked) distribution's components."""

    name: str
    version: str
    base: Path  # the folder its files are relative to (site-packages, or an unpacked wheel)
    components: tuple[ProvidedComponent, ...]
    descriptor: str  # which descriptor they came from, for messages
    found_in: str = "the build environment"  # or python-wasm's $PYTHON_WASM_HOME/site-packages
    tags: tuple[str, ...] = ()  # its WHEEL's tags
    store: str | None = None  # the descriptor's composectl store, when it has one

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def wasm_only(self) -> bool:
        """Its wheel is for ``wasm32_*`` platforms only (python-wasm's ``cp3X-cp3X-wasm32_wasip2``): a host pip
        can never install it, so an app copies its components rather than requiring it."""
        return bool(self.tags) and all(tag.rsplit("-", 1)[-1].startswith("wasm32") for tag in self.tags)

    @property
    def requirement(self) -> str:
        return exact_requirement(self.name, self.version)


class Reference(NamedTuple):
    """Components an app's plan names by digest whose blobs stay in another distribution.

    ``compatible``: the app takes a newer release on the version's track (``distributed-versions =
    "compatible"``), whose components the gate substitutes into the plan and checks; otherwise exactly this one.
    """

    distribution: str
    version: str
    components: tuple[tuple[str, str], ...]  # (id, digest), sorted by id
    compatible: bool = False

    @property
    def requirement(self) -> str:
        if self.compatible:
            return compatible_requirement(self.distribution, self.version)
        return exact_requirement(self.distribution, self.version)


def exact_requirement(name: str, version: str) -> str:
    """The Requires-Dist an app gets: the version the build used, exactly (the plan names the blob by digest)."""
    return f"{canonical_name(name)}=={version}"


def compatible_requirement(name: str, version: str) -> str:
    """``name>=version`` below the next major (the next minor for ``0.x``; ``0.0.x`` exactly): the releases on
    the version's semver track, as wasmtime links interface versions."""
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return exact_requirement(name, version)
    major, minor = (*parsed.release, 0, 0)[:2]
    if major:
        bound = f"{major + 1}"
    elif minor:
        bound = f"0.{minor + 1}"
    else:
        return exact_requirement(name, version)
    return f"{canonical_name(name)}>={version},<{bound}"


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_problems(needed: Iterable[str], declared: Iterable[str], table: str) -> list[str]:
    """Each ``name==version`` the references need that ``declared`` (the project's dependencies) does not say exactly.

    The same requirement must be in the sdist's metadata as in the wheel's, so it is the project's to declare:
    written by hand, or added by the ``pylon`` metadata hook.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    by_name: dict[str, list[str]] = {}
    for text in declared:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        by_name.setdefault(canonical_name(requirement.name), []).append(str(requirement.specifier))
    problems = []
    for text in sorted(set(needed)):
        wanted = Requirement(text)
        name = canonical_name(wanted.name)
        specifiers = by_name.get(name, [])
        if any(_within(declared, wanted) for declared in specifiers):
            continue
        found = (
            f" (it says {name}{', '.join(s for s in specifiers if s) or ' without a version'})" if specifiers else ""
        )
        version = min(s.version for s in wanted.specifier)
        problems.append(
            f"the plan references components of {name} {version}, so the project must require {text!r}{found}: "
            f'add it to [project] dependencies, or list "dependencies" in project.dynamic and add an empty '
            f"[tool.hatch.metadata.hooks.pylon] table so {table} adds it"
        )
    return problems


def _within(declared: str, wanted: Any) -> bool:
    """Whether a declared specifier allows the version the build used and nothing past what ``wanted`` allows:
    exactly it, or (a compatible reference) a range inside the track."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        allowed = SpecifierSet(declared)
    except InvalidSpecifier:
        return False
    used = min(s.version for s in wanted.specifier)
    if str(allowed) in (f"=={used}", f"==={used}"):
        return True
    upper = [s.version for s in wanted.specifier if s.operator == "<"]
    return bool(upper) and allowed.contains(used) and not allowed.contains(upper[0])


# -- the descriptor ---------------------------------------------------------------------------------------


class DescribedComponent(NamedTuple):
    id: str
    digest: str
    size: int
    imports: tuple[tuple[str, str], ...]
    exports: tuple[tuple[str, str], ...]
    path: str | None = None  # its own file in the wheel, instead of a blob in the store


def descriptor_json(store: str | None, components: Iterable[DescribedComponent]) -> bytes:
    """The descriptor's canonical bytes: components sorted by id, externs by name; no paths outside the wheel.

    ``store`` is left out when every component has a ``path`` of its own.
    """
    entries = []
    for c in sorted(components, key=lambda c: c.id):
        entry: dict[str, Any] = {"id": c.id, "digest": c.digest, "size": c.size}
        if c.path is not None:
            entry["path"] = c.path
        entry["imports"] = [{"name": n, "kind": k} for n, k in sorted(set(c.imports))]
        entry["exports"] = [{"name": n, "kind": k} for n, k in sorted(set(c.exports))]
        entries.append(entry)
    document: dict[str, Any] = {"schema": SCHEMA}
    if store is not None:
        document["store"] = store
    document["components"] = entries
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def parse_descriptor(data: bytes, where: str) -> tuple[str | None, tuple[ProvidedComponent, ...]]:
    """(store, components) of a descriptor; ``ComponentsError`` naming ``where`` and every problem otherwise.

    A component with a ``path`` is that file; the others are blobs in the store, which may be absent only
    when every component has a ``path``.
    """
    problems: list[str] = []
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ComponentsError(f"{where}: is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise ComponentsError(f"{where}: must be a JSON object")
    if document.get("schema") != SCHEMA:
        problems.append(f"schema must be {SCHEMA!r}, got {document.get('schema')!r}")
    store = document.get("store")
    entries = document.get("components")
    components: list[ProvidedComponent] = []
    if not isinstance(entries, list):
        problems.append("components must be an array")
        entries = []
    pathless = any(not (isinstance(e, dict) and "path" in e) for e in entries) or not entries
    if (store is not None or pathless) and (not isinstance(store, str) or not _plain_relative(store)):
        problems.append(f"store must be a relative folder inside the distribution, got {store!r}")
        store = ""
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        at = f"components[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{at} must be an object")
            continue
        cid, digest, size = entry.get("id"), entry.get("digest"), entry.get("size")
        if not isinstance(cid, str) or not _ID.fullmatch(cid):
            problems.append(f"{at}.id is not a component id: {cid!r}")
            continue
        if cid in seen:
            problems.append(f"{at}.id {cid!r} appears twice")
        seen.add(cid)
        if not isinstance(digest, str) or not is_digest(digest):
            problems.append(f"{at}.digest is not a lower-case SHA-256: {digest!r}")
            continue
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            problems.append(f"{at}.size is not a byte count: {size!r}")
            continue
        imports, exports = (_externs(entry.get(role), f"{at}.{role}", problems) for role in ("imports", "exports"))
        path = entry.get("path")
        if path is not None and not (
            isinstance(path, str)
            and _plain_relative(path)
            and path.endswith(".wasm")
            and not path.split("/", 1)[0].endswith((".dist-info", ".data"))
        ):
            problems.append(f"{at}.path must be the relative path of a .wasm file outside .dist-info, got {path!r}")
            continue
        relative = path if path is not None else f"{store}/{blob_relpath(digest)}"
        components.append(ProvidedComponent(cid, relative, digest, size, imports, exports))
    if problems:
        raise ComponentsError(f"{where}: damaged descriptor:\n" + "\n".join(f"  - {p}" for p in problems))
    return store, tuple(components)


def _externs(value: Any, at: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("kind"), str) for e in value
    ):
        problems.append(f"{at} must be an array of {{name, kind}} objects")
        return ()
    return tuple((e["name"], e["kind"]) for e in value)


def _plain_relative(text: str) -> bool:
    parts = text.split("/")
    return bool(text) and "\\" not in text and all(p not in ("", ".", "..") for p in parts) and ":" not in parts[0]


# -- python-wasm's extension wheels ---------------------------------------------------------------------


class PyforgeManifest(NamedTuple):
    """A bridge folder's ``pyforge-pkg.toml``, as python-wasm's wheel spec reads it."""

    where: str  # for messages
    name: str
    version: str
    pattern: str
    required: tuple[str, ...]  # ``[[capabilities.required]]``, each ``interface@version``
    artifact: str | None  # ``[wheel.component] artifact``: the component, relative to site-packages
    wit_world: str | None
    document: dict[str, Any]


def parse_pyforge_manifest(data: bytes, where: str) -> PyforgeManifest:
    """``pyforge-pkg.toml``: the schema string, ``[package]``, ``[[capabilities.required]]`` and ``[wheel.component]``.

    Every problem is listed in one ``ComponentsError`` naming ``where``.
    """
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as error:
        raise ComponentsError(f"{where}: is not valid TOML ({error})") from None
    problems = []
    if document.get("schema") != PYFORGE_SCHEMA:
        problems.append(f"schema must be {PYFORGE_SCHEMA!r}, got {document.get('schema')!r}")
    package = document.get("package")
    package = package if isinstance(package, dict) else {}
    fields = {}
    for key in ("name", "version", "pattern"):
        value = package.get(key)
        if not isinstance(value, str) or not value:
            problems.append(f"[package] {key} must be a non-empty string, got {value!r}")
        fields[key] = value if isinstance(value, str) else ""
    required = []
    capabilities = document.get("capabilities", {})
    entries = capabilities.get("required", []) if isinstance(capabilities, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else [None]):
        interface = entry.get("interface") if isinstance(entry, dict) else None
        version = entry.get("version") if isinstance(entry, dict) else None
        if not (isinstance(interface, str) and interface and isinstance(version, str) and version):
            problems.append(f"[[capabilities.required]] entry {index + 1} must have an interface and a version")
        else:
            required.append(f"{interface}@{version}")
    wheel = document.get("wheel", {})
    component = wheel.get("component") if isinstance(wheel, dict) else None
    artifact = wit_world = None
    if component is not None:
        artifact = component.get("artifact") if isinstance(component, dict) else None
        if not isinstance(artifact, str) or not _plain_relative(artifact) or not artifact.endswith(".wasm"):
            problems.append(
                f"[wheel.component] artifact must be the relative path of a .wasm file in the wheel, got {artifact!r}"
            )
            artifact = None
        world = component.get("wit_world") if isinstance(component, dict) else None
        wit_world = world if isinstance(world, str) else None
    if problems:
        raise ComponentsError(f"{where}: not a python-wasm extension manifest:\n" + bullets(problems))
    return PyforgeManifest(
        where, fields["name"], fields["version"], fields["pattern"], tuple(required), artifact, wit_world, document
    )


def artifact_id(artifact: str) -> str:
    """A ``[wheel.component] artifact``'s component id: its file stem, lower-cased, ``_`` as ``-`` (as component
    dirs name theirs)."""
    stem = artifact.rsplit("/", 1)[-1][: -len(".wasm")]
    return stem.lower().replace("_", "-")


def missing_capabilities(required: Iterable[str], exports: Iterable[str]) -> list[str]:
    """The ``interface@version`` names in ``required`` that no export satisfies, under wasmtime's semver tracks."""
    from ..wasm.names import compatible, parse_name

    offered = [parse_name(name) for name in exports]
    return [name for name in required if not any(compatible(parse_name(name), o) for o in offered)]


def capability_problem(distribution: str, provided: ProvidedComponent, exports: Iterable[str]) -> str | None:
    """Why ``provided`` does not export every capability its bridge requires (to follow the component's name and
    file in a message), or None."""
    exported = sorted(set(exports))
    missing = missing_capabilities(provided.requires, exported)
    if not missing:
        return None
    return (
        f"{provided.manifest} of {distribution} requires {', '.join(missing)}, which it does not export "
        f"(it exports {', '.join(exported) or 'nothing'})"
    )


# -- installed distributions ------------------------------------------------------------------------------

BUILD_ENVIRONMENT = "the build environment"


def python_wasm_site() -> Path:
    """python-wasm's install folder: ``$PYTHON_WASM_HOME/site-packages`` (``~/.python-wasm`` when unset)."""
    home = os.environ.get("PYTHON_WASM_HOME") or os.path.join(os.path.expanduser("~"), ".python-wasm")
    return Path(home) / "site-packages"


def find_distribution(name: str) -> tuple[Any, str] | None:
    """The installed distribution ``name`` and where it was found: this environment (``sys.path``) first, then
    python-wasm's ``$PYTHON_WASM_HOME/site-packages``; None when neither has it."""
    from importlib import metadata

    try:
        return metadata.distribution(name), BUILD_ENVIRONMENT
    except (metadata.PackageNotFoundError, ValueError):
        pass
    found = python_wasm_distribution(name)
    where = f"$PYTHON_WASM_HOME/site-packages ({printable(str(python_wasm_site()))})"
    return (found, where) if found is not None else None


def python_wasm_distribution(name: str) -> Any:
    """The distribution ``name`` in python-wasm's ``$PYTHON_WASM_HOME/site-packages``, or None."""
    from importlib import metadata

    site = python_wasm_site()
    if not site.is_dir():
        return None
    try:
        return next(iter(metadata.Distribution.discover(name=name, path=[str(site)])), None)
    except ValueError:
        return None


def installed(name: str) -> ComponentDistribution:
    """The components of the installed distribution ``name``; one ``ComponentsError`` naming it otherwise."""
    found = find_distribution(name)
    if found is None:
        raise ComponentsError(
            f"component distribution {name!r} is not installed here nor in $PYTHON_WASM_HOME/site-packages "
            f"({printable(str(python_wasm_site()))}); install it (pip install {shell_word(name)}, or python-wasm pip "
            f"install {shell_word(name)}) or, for a build, add it to build-system.requires"
        )
    return read_distribution(found[0], name, found[1])


def read_distribution(distribution: Any, name: str, found_in: str = BUILD_ENVIRONMENT) -> ComponentDistribution:
    """The components an installed (or unpacked) ``importlib.metadata`` distribution provides.

    hatch-pylon's descriptor lists them; without it, each bridge folder's ``pyforge-pkg.toml`` with a
    ``[wheel.component] artifact`` provides that one component, its digest and size the ones RECORD gives.
    A bridge that requires capabilities attaches them to its component, to be checked against its exports.
    """
    version = distribution.version
    label = f"component distribution {name!r} ({version})"
    files = _record(distribution, label)
    if not files:
        raise ComponentsError(f"{label}: has no RECORD, so its files cannot be found; reinstall it")
    base = Path(str(distribution.locate_file("")))
    display = distribution.metadata["Name"] or name
    descriptors = sorted(f for f in files if f.endswith(f".dist-info/{DESCRIPTOR_PATH}") and f.count("/") == 2)
    manifests = []
    for relative in sorted(f for f in files if f.endswith(f"/{PYFORGE_MANIFEST}") and f.count("/") == 1):
        where = f"{label}: {relative}"
        manifests.append((relative, parse_pyforge_manifest(read_capped(base, relative, where), where)))
    store: str | None = None
    if descriptors:
        where = f"{label}: {descriptors[0]}"
        store, components = parse_descriptor(read_capped(base, descriptors[0], where), where)
    else:
        where = f"{label}: {', '.join(r for r, _ in manifests)}" if manifests else label
        artifacts = [m.artifact for _, m in manifests if m.artifact is not None]
        for artifact in artifacts:
            if not _ID.fullmatch(artifact_id(artifact)):
                raise ComponentsError(
                    f"{where}: artifact {printable(artifact)} gives the id {printable(artifact_id(artifact))!r}, which "
                    "is not a valid component id ([a-z0-9][a-z0-9._-]*)"
                )
        components = tuple(
            _from_record(ProvidedComponent(artifact_id(a), a, None, None, listed=False), files.get(a), where)
            for a in artifacts
        )
    by_relative = {c.relative: c for c in components}
    for relative, manifest in manifests:
        if manifest.artifact is None:
            continue
        component = by_relative.get(manifest.artifact)
        if component is None:
            raise ComponentsError(
                f"{label}: {relative}'s [wheel.component] artifact {manifest.artifact} is not a component "
                f"{descriptors[0]} lists"
            )
        by_relative[manifest.artifact] = component._replace(requires=manifest.required, manifest=relative)
    components = tuple(by_relative.get(c.relative, c) for c in components)
    if not components:
        if manifests:
            shims = ", ".join(f"{r} (pattern {m.pattern!r})" for r, m in manifests)
            raise ComponentsError(
                f"{label}: provides no components: {shims} has no [wheel.component] artifact (a shim-only "
                "python-wasm package)"
            )
        raise ComponentsError(
            f"{label}: provides no components (no .dist-info/{DESCRIPTOR_PATH} and no <bridge>/{PYFORGE_MANIFEST} "
            "with a [wheel.component] artifact); was it built with hatch-pylon's provides key?"
        )
    tags = _wheel_tags(distribution.read_text("WHEEL") or "")
    return ComponentDistribution(display, version, base, components, where, found_in, tags, store)


def _wheel_tags(text: str) -> tuple[str, ...]:
    """The ``Tag:`` lines of a ``WHEEL`` file."""
    return tuple(sorted(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")))


MAX_RECORD_BYTES = 64 << 20  # a RECORD's size: a 100,000-member wheel's is about 15 MB


def parse_record(text: str, where: str) -> dict[str, tuple[str, str]]:
    """The one RECORD reader, for a wheel's and an installed distribution's alike: (hash, size) per listed
    file, missing files included; ``ArchiveError`` naming ``where`` for a RECORD over ``MAX_RECORD_BYTES`` or
    one csv cannot read (a field over its limit, a stray quote), never a traceback.

    ``Distribution.files`` leaves out listed files that are missing on Python 3.12 and later, which would turn
    a damaged install into one that provides nothing, and raises csv's own error on a field over its limit;
    reading RECORD itself says the same on every Python.
    """
    import csv
    import io

    if len(text) > MAX_RECORD_BYTES:
        raise ArchiveError(f"{where}: RECORD is over {MAX_RECORD_BYTES} bytes")
    try:
        return {row[0]: (row[1], row[2]) for row in csv.reader(io.StringIO(text)) if len(row) >= 3}
    except csv.Error as exc:
        raise ArchiveError(f"{where}: RECORD cannot be read ({exc})") from None


def installed_record(distribution: Any, label: str) -> dict[str, tuple[str, str]]:
    """An installed distribution's RECORD (``importlib.metadata`` distribution), through ``parse_record``."""
    try:
        text = distribution.read_text("RECORD") or ""
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise ArchiveError(f"{label}: RECORD cannot be read ({reason})") from None
    return parse_record(text, label)


def _record(distribution: Any, label: str) -> dict[str, tuple[str, str]]:
    try:
        return installed_record(distribution, label)
    except ArchiveError as error:
        raise ComponentsError(f"{error}; reinstall it") from None


def _from_record(component: ProvidedComponent, entry: tuple[str, str] | None, where: str) -> ProvidedComponent:
    """A pyforge artifact's digest and size, from the wheel's RECORD, which must list it (it is inside the wheel;
    a size is at most 20 ASCII digits)."""
    if entry is None:
        raise ComponentsError(
            f"{where}: artifact {component.relative} is not a file of the distribution (RECORD does not list it)"
        )
    mode, _, value = entry[0].partition("=")
    try:
        digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except ValueError:
        digest = ""
    if mode != "sha256" or not is_digest(digest):
        raise ComponentsError(f"{where}: artifact {component.relative} has no sha256 in RECORD; reinstall it")
    size = entry[1]
    if not (size.isascii() and size.isdigit() and len(size) <= 20):
        shown = size if len(size) <= 40 else f"{size[:40]}... ({len(size)} characters)"
        raise ComponentsError(
            f"{where}: artifact {component.relative} has no byte count in RECORD ({quoted(shown)}); reinstall it"
        )
    return component._replace(digest=digest, size=int(size))


def component_path(distribution: ComponentDistribution, provided: ProvidedComponent) -> Path:
    """The file of a provided component, checked to be a regular file reached through real folders only."""
    import stat

    path = distribution.base
    parts = provided.relative.split("/")
    try:
        for index, part in enumerate(parts):
            path = path / part
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) if index == len(parts) - 1 else stat.S_ISDIR(mode)):
                raise ComponentsError(
                    f"{distribution.label}: {provided.relative} is not reached through plain folders to a regular "
                    f"file (a link or special file at {'/'.join(parts[: index + 1])}); reinstall it"
                )
    except FileNotFoundError:
        raise ComponentsError(
            f"{distribution.label}: component {provided.id!r} is missing ({provided.relative}); reinstall it: "
            f"pip install --force-reinstall {shell_word(distribution.requirement)}"
        ) from None
    return path


def read_capped(
    base: Path,
    relative: str,
    where: str,
    *,
    limit: int = MAX_DESCRIPTOR_BYTES,
    missing: str = "is missing; reinstall the distribution",
    error: type[PylonError] = ComponentsError,
) -> bytes:
    """A small file below ``base``, opened without following links, at most ``limit`` bytes; otherwise ``error``
    naming ``where`` and the cause (``missing`` when there is no such file)."""
    try:
        return read_small(base, relative, limit)
    except FileNotFoundError:
        raise error(f"{where}: {missing}") from None
    except OSError as exc:
        raise error(f"{where}: cannot be read ({os_reason(exc)})") from None
    except TooLarge as exc:
        raise error(f"{where}: {exc}") from None


# -- references, as pylon.json records them -----------------------------------------------------------------


def references_json(references: Iterable[Reference]) -> list[dict[str, Any]]:
    return [
        {
            "distribution": r.distribution,
            "version": r.version,
            "requirement": r.requirement,
            **({"versions": "compatible"} if r.compatible else {}),
            "components": [{"id": cid, "digest": digest} for cid, digest in r.components],
        }
        for r in sorted(references, key=lambda r: canonical_name(r.distribution))
    ]


_DISTRIBUTION_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508's name


class BadReference(ValueError):
    """A reference whose distribution name or version is not one: the message names the field and its value."""


def parse_references(value: Any) -> tuple[Reference, ...] | None:
    """The ``references`` of a bundle record; None when malformed.

    Each ``distribution`` must be a distribution name (PEP 508, as PEP 503 normalizes it) and each ``version``
    a version (PEP 440, spelled without spaces), or ``BadReference`` says which is not: both reach messages and
    the commands they suggest.
    """
    if not isinstance(value, list):
        return None
    result = []
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            return None
        name, version, components = entry.get("distribution"), entry.get("version"), entry.get("components")
        if not (isinstance(name, str) and name and isinstance(version, str) and version):
            return None
        if not _DISTRIBUTION_NAME.fullmatch(name):
            raise BadReference(f"references[{index}].distribution is not a distribution name: {quoted(name)}")
        if not _is_version(version):
            raise BadReference(f"references[{index}].version is not a version (PEP 440): {quoted(version)}")
        if not isinstance(components, list) or not components:
            return None
        versions = entry.get("versions", "exact")
        if versions not in ("exact", "compatible"):
            return None
        pairs = []
        for item in components:
            if not (
                isinstance(item, Mapping)
                and isinstance(item.get("id"), str)
                and isinstance(item.get("digest"), str)
                and is_digest(item["digest"])
            ):
                return None
            pairs.append((item["id"], item["digest"]))
        result.append(Reference(name, version, tuple(sorted(pairs)), versions == "compatible"))
    return tuple(result)


def _is_version(text: str) -> bool:
    from packaging.version import InvalidVersion, Version  # hatchling's dependency, so always here

    if not text.isascii() or any(c.isspace() for c in text):
        return False
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


class Located(NamedTuple):
    """Where the gate finds the referenced blobs, and what it could not check."""

    blobs: dict[str, tuple[Path, str, str]]  # digest -> (base, relative, label of the distribution)
    problems: list[str]
    unchecked: list[str]  # references a bundle checked alone could not check (nothing installed to check against)
    # a compatible reference's newer release: component id -> (its component there, the release's label)
    replaced: dict[str, tuple[ProvidedComponent, str]]
    replacements: list[str]  # what replaces what, one line per distribution


def locate_references(references: Iterable[Reference], *, required: bool, relock: bool = True) -> Located:
    """Find each referenced blob in the installed distribution of the recorded version.

    ``required`` (an installed app, ``run``, ``trust``, ``compose``): anything not found is a problem naming the
    distribution and the requirement to install. Otherwise (a wheel, sdist or folder checked alone) a
    distribution that is not installed, or installed at another version, is reported as not checked.
    With ``relock``, a compatible reference whose distribution is installed at another version its
    requirement allows is located there: each of its components by id, listed in ``replaced``, for the gate
    to substitute into the plan and check.
    """
    located = Located({}, [], [], {}, [])
    for reference in references:
        ids = ", ".join(cid for cid, _ in reference.components)
        install = f"pip install {shell_word(reference.requirement)}"
        if not is_installed(reference.distribution):
            if required:
                located.problems.append(_referenced(reference, ids, f"it is not installed; {install}"))
            else:
                located.unchecked.append(f"{ids} from {reference.requirement} (not installed here; {install} to check)")
            continue
        try:
            distribution = installed(reference.distribution)
        except ComponentsError as error:
            located.problems.append(_referenced(reference, ids, f"{error}; {install} --force-reinstall"))
            continue
        if distribution.version != reference.version and relock and _allows(reference, distribution.version):
            _relocate(reference, distribution, located)
            continue
        if distribution.version != reference.version:
            message = f"{reference.distribution} {distribution.version} is installed, not {reference.version}"
            if reference.compatible:
                message = f"{reference.distribution} {distribution.version} is installed, not {reference.requirement}"
            if required:
                located.problems.append(_referenced(reference, ids, f"{message}; {install}"))
            else:
                located.unchecked.append(f"{ids} from {reference.requirement} ({message})")
            continue
        by_digest = {c.digest: c for c in distribution.components}
        for cid, digest in reference.components:
            provided = by_digest.get(digest)
            if provided is None:
                located.problems.append(
                    _referenced(
                        reference,
                        cid,
                        f"{distribution.label} does not provide a component with sha256 {digest}; "
                        f"reinstall it: pip install --force-reinstall {shell_word(reference.requirement)}",
                    )
                )
                continue
            advice = f"reinstall it: pip install --force-reinstall {shell_word(reference.requirement)}"
            located.blobs[digest] = (distribution.base, provided.relative, f"{distribution.label} ({advice})")
    return located


def _allows(reference: Reference, version: str) -> bool:
    from packaging.requirements import Requirement

    return reference.compatible and Requirement(reference.requirement).specifier.contains(version, prereleases=True)


def _relocate(reference: Reference, distribution: ComponentDistribution, located: Located) -> None:
    """A compatible reference taken by another installed release: its components of the same ids."""
    by_id = {c.id: c for c in distribution.components}
    release = exact_requirement(distribution.name, distribution.version)
    advice = f"reinstall it: pip install --force-reinstall {shell_word(release)}"
    changes = []
    for cid, digest in reference.components:
        provided = by_id.get(cid)
        if provided is None or provided.digest is None:
            located.problems.append(
                _referenced(
                    reference, cid, f"{distribution.label} is installed and provides no component {quoted(cid)}"
                )
            )
            continue
        located.replaced[cid] = (provided, distribution.label)
        located.blobs[provided.digest] = (distribution.base, provided.relative, f"{distribution.label} ({advice})")
        same = " (the same bytes)" if provided.digest == digest else f" (was {digest})"
        changes.append(f"{printable(cid)} sha256 {provided.digest}{same}")
    if changes:
        located.replacements.append(
            f"{printable(distribution.name)} {printable(distribution.version)} replaces "
            f"{printable(reference.version)}: {', '.join(changes)}"
        )


def is_installed(name: str) -> bool:
    """Installed here, or in python-wasm's ``$PYTHON_WASM_HOME/site-packages``."""
    return find_distribution(name) is not None


def _referenced(reference: Reference, ids: str, detail: str) -> str:
    return f"component {ids} is referenced from {reference.requirement}: {detail}"


def dist_store(destination: str) -> str:
    """The store a component wheel's descriptor names: the composectl store below the bundle ``destination``."""
    return f"{destination}/{STORE_DIR}"
