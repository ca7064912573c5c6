"""Component distributions: the descriptor a component wheel carries, and the installed ones a build or a gate finds.

A *component distribution* is a Python distribution whose wheel provides components: their blobs sit in a
composectl store inside the package (``<destination>/.compose/blobs/…``) and a descriptor in the wheel's
``.dist-info/extra_metadata/pylon-components.json`` lists each one's id, digest, size, imports and exports,
so ``importlib.metadata`` reads it without importing anything. python-wasm's extension-wheel descriptor
(``.dist-info/pyforge.toml``, ``[wheel.component] artifact``) is read too: its one artifact is a component
whose digest is the one the wheel's ``RECORD`` gives it.

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
from typing import Any, NamedTuple

from .._errors import ComponentsError, TooLarge
from .._fs import os_reason, read_small
from .._layout import STORE_DIR, blob_relpath, is_digest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DESCRIPTOR = "pylon-components.json"
DESCRIPTOR_PATH = f"extra_metadata/{DESCRIPTOR}"  # inside .dist-info: where hatchling's extra_metadata puts it
PYFORGE_DESCRIPTOR = "pyforge.toml"
SCHEMA = "hatch-pylon/components@1"
MAX_DESCRIPTOR_BYTES = 4 << 20
_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


class ProvidedComponent(NamedTuple):
    """One component a distribution provides; ``digest`` is None only for a pyforge artifact (RECORD's hash)."""

    id: str
    relative: str  # its file, below the distribution's install folder (POSIX)
    digest: str | None
    size: int | None
    imports: tuple[tuple[str, str], ...] = ()  # (name, kind), as the descriptor lists them
    exports: tuple[tuple[str, str], ...] = ()


class ComponentDistribution(NamedTuple):
    """An installed (or unpacked) distribution's components."""

    name: str
    version: str
    base: Path  # the folder its files are relative to (site-packages, or an unpacked wheel)
    components: tuple[ProvidedComponent, ...]
    descriptor: str  # which descriptor they came from, for messages

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

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


def descriptor_json(store: str, components: Iterable[DescribedComponent]) -> bytes:
    """The descriptor's canonical bytes: components sorted by id, externs by name; no paths outside the wheel."""
    entries = [
        {
            "id": c.id,
            "digest": c.digest,
            "size": c.size,
            "imports": [{"name": n, "kind": k} for n, k in sorted(set(c.imports))],
            "exports": [{"name": n, "kind": k} for n, k in sorted(set(c.exports))],
        }
        for c in sorted(components, key=lambda c: c.id)
    ]
    document = {"schema": SCHEMA, "store": store, "components": entries}
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def parse_descriptor(data: bytes, where: str) -> tuple[str, tuple[ProvidedComponent, ...]]:
    """(store, components) of a descriptor; ``ComponentsError`` naming ``where`` and every problem otherwise."""
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
    if not isinstance(store, str) or not _plain_relative(store):
        problems.append(f"store must be a relative folder inside the distribution, got {store!r}")
        store = ""
    entries = document.get("components")
    components: list[ProvidedComponent] = []
    if not isinstance(entries, list):
        problems.append("components must be an array")
        entries = []
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
        externs = [_externs(entry.get(role), f"{at}.{role}", problems) for role in ("imports", "exports")]
        components.append(ProvidedComponent(cid, f"{store}/{blob_relpath(digest)}", digest, size, *externs))
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


def parse_pyforge(data: bytes, where: str, dist_info: str) -> tuple[ProvidedComponent, ...]:
    """python-wasm's ``pyforge.toml``: ``[wheel.component] artifact`` is one component, id from its file stem.

    Its digest and size come from RECORD when the caller checks the file (the descriptor has none).
    """
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as error:
        raise ComponentsError(f"{where}: is not valid TOML ({error})") from None
    wheel = document.get("wheel")
    component = wheel.get("component") if isinstance(wheel, dict) else None
    artifact = component.get("artifact") if isinstance(component, dict) else None
    if not isinstance(artifact, str) or not _plain_relative(artifact) or not artifact.endswith(".wasm"):
        raise ComponentsError(f"{where}: [wheel.component] artifact must be the relative path of a .wasm file")
    stem = artifact.rsplit("/", 1)[-1][: -len(".wasm")]
    cid = stem.lower().replace("_", "-")
    if not _ID.fullmatch(cid):
        raise ComponentsError(f"{where}: artifact {artifact!r} gives the id {cid!r}, not a valid component id")
    return (ProvidedComponent(cid, artifact, None, None),)


# -- installed distributions ------------------------------------------------------------------------------


def installed(name: str) -> ComponentDistribution:
    """The components of the installed distribution ``name``; one ``ComponentsError`` naming it otherwise."""
    from importlib import metadata

    try:
        distribution = metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        raise ComponentsError(
            f"component distribution {name!r} is not installed; install it (pip install {name}) or, for a build, "
            "add it to build-system.requires"
        ) from None
    version = distribution.version
    label = f"component distribution {name!r} ({version})"
    files = _record(distribution.read_text("RECORD") or "", label)
    base = Path(str(distribution.locate_file("")))
    descriptors = sorted(f for f in files if f.endswith(f".dist-info/{DESCRIPTOR_PATH}") and f.count("/") == 2)
    pyforge = sorted(f for f in files if f.endswith(f".dist-info/{PYFORGE_DESCRIPTOR}") and f.count("/") == 1)
    if not files:
        raise ComponentsError(f"{label}: has no RECORD, so its files cannot be found; reinstall it")
    if descriptors:
        where = f"{label}: {descriptors[0]}"
        _, components = parse_descriptor(read_capped(base, descriptors[0], where), where)
        return ComponentDistribution(distribution.metadata["Name"] or name, version, base, components, where)
    if pyforge:
        where = f"{label}: {pyforge[0]}"
        components = parse_pyforge(read_capped(base, pyforge[0], where), where, pyforge[0].split("/")[0])
        with_record = tuple(_from_record(c, files.get(c.relative), where) for c in components)
        return ComponentDistribution(distribution.metadata["Name"] or name, version, base, with_record, where)
    raise ComponentsError(
        f"{label}: provides no components (no .dist-info/{DESCRIPTOR_PATH} and no .dist-info/{PYFORGE_DESCRIPTOR}); "
        "was it built with hatch-pylon's provides key?"
    )


def _record(text: str, label: str) -> dict[str, tuple[str, str]]:
    """RECORD's (hash, size) per listed file, missing files included.

    ``Distribution.files`` leaves out listed files that are missing on Python 3.12 and later, which would turn
    a damaged install into one that provides nothing; reading RECORD itself says the same on every Python.
    """
    import csv

    try:
        return {row[0]: (row[1], row[2]) for row in csv.reader(text.splitlines()) if len(row) >= 3}
    except csv.Error as exc:
        raise ComponentsError(f"{label}: RECORD cannot be read ({exc}); reinstall it") from None


def _from_record(component: ProvidedComponent, entry: tuple[str, str] | None, where: str) -> ProvidedComponent:
    """A pyforge artifact's digest and size, from the wheel's RECORD."""
    mode, _, value = (entry or ("", ""))[0].partition("=")
    try:
        digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except ValueError:
        digest = ""
    if entry is None or mode != "sha256" or not is_digest(digest) or not (entry[1].isdigit() or not entry[1]):
        raise ComponentsError(f"{where}: artifact {component.relative} has no sha256 in RECORD; reinstall it")
    return component._replace(digest=digest, size=int(entry[1]) if entry[1] else None)


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
            f"pip install --force-reinstall '{distribution.requirement}'"
        ) from None
    return path


def read_capped(base: Path, relative: str, where: str) -> bytes:
    """A small file below ``base``, opened without following links, at most ``MAX_DESCRIPTOR_BYTES``."""
    try:
        return read_small(base, relative, MAX_DESCRIPTOR_BYTES)
    except FileNotFoundError:
        raise ComponentsError(f"{where}: is missing; reinstall the distribution") from None
    except OSError as error:
        raise ComponentsError(f"{where}: cannot be read ({os_reason(error)})") from None
    except TooLarge as error:
        raise ComponentsError(f"{where}: {error}") from None


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


def parse_references(value: Any) -> tuple[Reference, ...] | None:
    """The ``references`` of a bundle record; None when malformed."""
    if not isinstance(value, list):
        return None
    result = []
    for entry in value:
        if not isinstance(entry, Mapping):
            return None
        name, version, components = entry.get("distribution"), entry.get("version"), entry.get("components")
        if not (isinstance(name, str) and name and isinstance(version, str) and version):
            return None
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
        install = f"pip install '{reference.requirement}'"
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
                        f"reinstall it: pip install --force-reinstall '{reference.requirement}'",
                    )
                )
                continue
            advice = f"reinstall it: pip install --force-reinstall '{reference.requirement}'"
            located.blobs[digest] = (distribution.base, provided.relative, f"{distribution.label} ({advice})")
    return located


def _allows(reference: Reference, version: str) -> bool:
    from packaging.requirements import Requirement

    return reference.compatible and Requirement(reference.requirement).specifier.contains(version, prereleases=True)


def _relocate(reference: Reference, distribution: ComponentDistribution, located: Located) -> None:
    """A compatible reference taken by another installed release: its components of the same ids."""
    by_id = {c.id: c for c in distribution.components}
    advice = f"reinstall it: pip install --force-reinstall '{distribution.name}=={distribution.version}'"
    changes = []
    for cid, digest in reference.components:
        provided = by_id.get(cid)
        if provided is None or provided.digest is None:
            located.problems.append(
                _referenced(reference, cid, f"{distribution.label} is installed and provides no component {cid!r}")
            )
            continue
        located.replaced[cid] = (provided, distribution.label)
        located.blobs[provided.digest] = (distribution.base, provided.relative, f"{distribution.label} ({advice})")
        same = " (the same bytes)" if provided.digest == digest else f" (was {digest})"
        changes.append(f"{cid} sha256 {provided.digest}{same}")
    if changes:
        located.replacements.append(
            f"{distribution.name} {distribution.version} replaces {reference.version}: {', '.join(changes)}"
        )


def is_installed(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return True


def _referenced(reference: Reference, ids: str, detail: str) -> str:
    return f"component {ids} is referenced from {reference.requirement}: {detail}"


def dist_store(destination: str) -> str:
    """The store a component wheel's descriptor names: the composectl store below the bundle ``destination``."""
    return f"{destination}/{STORE_DIR}"
