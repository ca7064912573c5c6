"""Bind every non-ignored import, transitively, to exactly one provider export.

Starting at the root, each import is matched against the candidates'
exports: pinned components (the root and ``components`` entries) before
dir-found ones, those before component distributions'; within a tier an
exact name before a semver-compatible one, the highest compatible version
winning. Anything unbound, ambiguous or
cyclic is collected and reported in one ``ResolveError``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._errors import ResolveError
from .._layout import WASI_PREFIX
from .._records import NamedTuple
from ..composectl.linkage import (
    CAP_INVOKE,
    CAP_RESOLVE,
    LINKER,
    host_provides,
    is_endpoint,
    is_linker,
    linkage_for,
    roles,
)
from ..composectl.plan import Binding, find_cycle
from ..wasm.binary import Extern
from ..wasm.names import ExternName, compatible, parse_name
from .components import Candidate, Catalog
from .config import PylonConfig
from .schema import AUTO


class Resolution(NamedTuple):
    components: tuple[Candidate, ...]  # sorted by id, the root included (registry members too)
    bindings: tuple[Binding, ...]  # sorted by (consumer_id, import_name)
    linkage: str  # the plan's: the configured one, or what ``auto`` decided from the root's imports
    host_imports: tuple[tuple[str, str], ...] = ()  # (consumer id, import name) the host serves, sorted
    registry: tuple[str, ...] = ()  # ids of endpoint providers bundled, unbound, for a linker guest to resolve

    def roles(self) -> dict[str, tuple[str, ...]]:
        """Component id -> its dynlink roles (linker guest, endpoint provider, endpoint consumer), where it has any."""
        found = {}
        for component in self.components:
            info = component.file.info
            these = roles((e.name for e in info.imports), (e.name for e in info.exports))
            if these:
                found[component.id] = these
        return found


class _Offer(NamedTuple):
    provider: Candidate
    export: Extern
    name: ExternName


def resolve(catalog: Catalog, config: PylonConfig) -> Resolution:
    """Choose providers for the root's imports and, in turn, for theirs."""
    offers = _OfferIndex(
        _Offer(candidate, export, parse_name(export.name))
        for candidate in (catalog.root, *catalog.candidates)
        for export in candidate.file.info.exports
    )
    chosen: dict[str, Candidate] = {catalog.root.id: catalog.root}
    queue = [catalog.root]
    bindings: list[Binding] = []
    host: list[tuple[str, str]] = []
    unresolved: list[str] = []
    ambiguous: list[str] = []
    problems = []
    linkage = config.linkage
    if linkage == AUTO:
        linkage = linkage_for(e.name for e in catalog.root.file.info.imports)
        if linkage == "runtime" and config.policy.determinism == "strict":
            problems.append(
                f"{catalog.root.id} imports compose:dynlink, so the plan links at run time, and 'strict' cannot be "
                f"used with runtime linkage (composectl rejects the plan); set {config.table}.policy.determinism "
                "to 'audit' or 'relaxed'"
            )

    for consumer in queue:
        for wanted in sorted(consumer.file.info.imports):
            if is_linker(wanted.name) and linkage == "static":
                problems.append(
                    f"{consumer.id} ({consumer.display}) imports {wanted.name!r}, which only runtime linkage "
                    f'provides (composectl composes a static plan into one component); set linkage = "runtime"'
                )
                continue
            if host_provides(wanted.name, linkage):
                host.append((consumer.id, wanted.name))
                continue
            if config.is_ignored(wanted.name):
                continue
            matches = _best_offers(consumer, wanted, offers)
            if not matches:
                unresolved.append(_describe_unresolved(consumer, wanted, offers))
                continue
            if len(matches) > 1:
                ambiguous.append(_describe_ambiguous(consumer, wanted, matches, config))
                continue
            offer = matches[0]
            bindings.append(Binding(consumer.id, wanted.name, offer.provider.id, offer.export.name))
            if offer.provider.id not in chosen:
                chosen[offer.provider.id] = offer.provider
                queue.append(offer.provider)

    guests = sorted({consumer for consumer, name in host if is_linker(name)})
    registry: list[Candidate] = []
    if guests:
        problems += _linker_policy_problems(guests, config)
        registry = _registry(catalog, config, chosen, problems)
        for member in registry:
            chosen[member.id] = member
    elif config.registry:
        problems.append(
            f"{config.table}.registry lists {', '.join(config.registry)}, but no component of the graph imports "
            f"{LINKER} to resolve them; remove the key"
        )
    if unresolved:
        searched = "\n".join(f"    {place}" for place in catalog.searched) or "    (no component dirs configured)"
        pinned = ", ".join(c.id for c in (catalog.root, *catalog.candidates) if c.pinned)
        problems.append(
            f"{len(unresolved)} unresolved import{'s' if len(unresolved) != 1 else ''}:\n"
            + "\n".join(unresolved)
            + f"\n  pinned components: {pinned}\n  component dirs searched:\n{searched}"
            + "\n  Add a component that exports it (component-dirs, [[components]], component-distributions or"
            + " $PYLON_COMPONENT_DIRS),"
            + f" or leave it to the host with {config.table}.ignore-imports."
        )
    problems.extend(ambiguous)
    cycle = find_cycle(bindings)
    if cycle:
        problems.append(f"dependency cycle: {cycle}; a component graph must be acyclic")
    if problems:
        raise ResolveError("cannot resolve the component graph:\n" + "\n".join(problems))
    return Resolution(
        components=tuple(sorted(chosen.values(), key=lambda c: c.id.encode())),
        bindings=tuple(sorted(bindings, key=lambda b: (b.consumer_id.encode(), b.import_name.encode()))),
        linkage=linkage,
        host_imports=tuple(sorted(host, key=lambda item: (item[0].encode(), item[1].encode()))),
        registry=tuple(sorted((member.id for member in registry), key=str.encode)),
    )


def _linker_policy_problems(guests: list[str], config: PylonConfig) -> list[str]:
    """A linker import resolves and invokes at run time: the policy must grant both verbs (strict determinism
    is refused with runtime linkage, by the configuration or by ``resolve``)."""
    names = {capability.name for capability in config.policy.capabilities}
    missing = [cap for cap in (CAP_RESOLVE, CAP_INVOKE) if cap not in names]
    problems = []
    who = ", ".join(guests)
    if missing:
        listed = " and ".join(repr(cap) for cap in missing)
        problems.append(
            f"{who} imports {LINKER}, which needs {listed} in {config.table}.policy.capabilities "
            f'(e.g. {{ name = "{missing[0]}", level = "required" }})'
        )
    return problems


def _registry(
    catalog: Catalog, config: PylonConfig, chosen: dict[str, Candidate], problems: list[str]
) -> list[Candidate]:
    """The endpoint providers bundled for a linker guest: every candidate exporting the endpoint, or the ids
    ``registry`` lists. composectl instantiates a resolved provider with WASI alone, so each must be self-contained."""
    providers = {
        candidate.id: candidate
        for candidate in catalog.candidates
        if any(is_endpoint(export.name) for export in candidate.file.info.exports)
    }
    if config.registry is None:
        wanted = sorted(providers)
    else:
        wanted = list(config.registry)
        for component_id in wanted:
            if component_id not in providers:
                known = ", ".join(sorted(providers)) or "none"
                problems.append(
                    f"{config.table}.registry: {component_id!r} is not a component exporting "
                    f"compose:dynlink/endpoint (those found: {known})"
                )
    members = []
    for component_id in wanted:
        member = providers.get(component_id)
        if member is None:
            continue
        foreign = _foreign_imports(member)
        if foreign:
            problems.append(
                f"{member.id} ({member.display}) is an endpoint provider a linker guest may resolve, but it imports "
                f"{', '.join(map(repr, foreign))}; composectl instantiates a resolved provider with WASI alone, so "
                "make it self-contained: compose its providers into it first (wasm-tools compose, or hatch-pylon "
                f"compose), or leave it out with {config.table}.registry"
            )
            continue
        if member.id not in chosen:
            members.append(member)
    return members


def _foreign_imports(member: Candidate) -> list[str]:
    """Imports a WASI-only store cannot satisfy: anything but ``wasi:`` and type-only instances (sys:compose/types)."""
    others = sorted({e.name for e in member.file.info.imports if not e.name.startswith(WASI_PREFIX)})
    if not others:
        return []
    from ..wasm.signatures import InstanceSignatures, Undecidable, decode_file, decode_types

    shaping = member.file.shaping  # what the scan kept: the file is not read again
    try:
        if shaping is None:
            items = decode_file(member.path, exports=False)[0]
        else:
            items = decode_types(shaping, str(member.path), exports=False)[0]
    except (Undecidable, OSError):
        return others
    return [
        name
        for name in others
        if not (isinstance(items.get(name), InstanceSignatures) and items[name].type_only)  # type: ignore[union-attr]
    ]


class _OfferIndex(list):
    """Every export on offer, indexed by exact name and by semver track, so lookups don't scan them all."""

    def __init__(self, offers: Iterable[_Offer]) -> None:
        super().__init__(offers)
        self.by_key: dict[str, list[_Offer]] = {}
        for offer in self:
            for key in {offer.export.name, offer.name.track}:
                if key is not None:
                    self.by_key.setdefault(key, []).append(offer)

    def for_import(self, wanted: ExternName) -> list[_Offer]:
        found = {id(o): o for key in (wanted.text, wanted.track) if key for o in self.by_key.get(key, ())}
        return [o for o in found.values() if compatible(wanted, o.name)]


def _best_offers(consumer: Candidate, wanted: Extern, offers: _OfferIndex) -> list[_Offer]:
    """The winning offers of the first tier that has any; more than one means ambiguous."""
    usable = [
        offer
        for offer in offers.for_import(parse_name(wanted.name))
        if offer.provider.id != consumer.id and offer.export.kind == wanted.kind
    ]
    for tier in (0, 1, 2):  # pinned, component dirs, component distributions
        in_tier = [offer for offer in usable if offer.provider.tier == tier]
        exact = [offer for offer in in_tier if offer.export.name == wanted.name]
        if exact:
            return exact
        if in_tier:
            best = max(offer.name.version or (0, 0, 0) for offer in in_tier)
            return [offer for offer in in_tier if offer.name.version == best]
    return []


def _describe_unresolved(consumer: Candidate, wanted: Extern, offers: _OfferIndex) -> str:
    wanted_name = parse_name(wanted.name)
    near = []
    for offer in offers:
        if offer.provider.id == consumer.id:
            continue
        if offer.name.base == wanted_name.base and offer.export.kind == wanted.kind:
            near.append(f"{offer.provider.id} exports {offer.export.name!r} (another version track)")
        elif offer.export.name == wanted.name:
            near.append(
                f"{offer.provider.id} exports {offer.export.name!r} as a {offer.export.kind}, not a {wanted.kind}"
            )
    if not near:
        names = sorted({offer.export.name for offer in offers if offer.provider.id != consumer.id})
        import difflib

        near = [f"similar export {name!r}" for name in difflib.get_close_matches(wanted.name, names, n=3, cutoff=0.75)]
    line = f"  - {consumer.id} ({consumer.display}) imports {wanted.kind} {wanted.name!r}: no component exports it"
    return line + "".join(f"\n      near miss: {item}" for item in near)


def _describe_ambiguous(consumer: Candidate, wanted: Extern, matches: list[_Offer], config: PylonConfig) -> str:
    names = " and ".join(f"{m.provider.id!r} ({m.provider.display}, export {m.export.name!r})" for m in matches)
    if all(match.provider.pinned for match in matches):
        advice = f"remove all but one of them from [[{config.table}.components]]"
    else:
        first = matches[0].provider
        advice = (
            f"pin one by listing it under [[{config.table}.components]] "
            f"(e.g. id = {first.id!r}, path = {first.display!r}); pinned components win over component-dirs"
        )
    return f"{consumer.id} imports {wanted.name!r}, which {names} all provide; {advice}"
