"""How composectl runs each linkage: the host's own interfaces, dynlink roles, and which runtime plans its exec refuses.

composectl runs a ``linkage: "runtime"`` plan in one of two ways:

- **flavor A**: the root imports ``compose:dynlink/endpoint`` and the plan's one
  binding names the provider, which runs in its own store;
- **flavor B**: the root imports ``compose:dynlink/linker@0.1.x`` (served by the
  host, with ``sys:compose/*``) and resolves providers from the plan's
  components by id or digest at run time; typed bindings next to it are
  composed first.

Any other runtime plan is refused by composectl's exec ("runtime linkage binds
one endpoint provider per plan"). A static plan is composed into one
component, so nothing in it can import the linker. Pure: names only, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..wasm.names import parse_name
from .plan import Binding, Plan

LINKER = "compose:dynlink/linker"
ENDPOINT = "compose:dynlink/endpoint"
SYS_COMPOSE = "sys:compose/"
LINKER_TRACK = f"{LINKER}@0.1"  # the linker interface the host implements: compose:dynlink/linker@0.1.x
CAP_RESOLVE = "dynlink:resolve"
CAP_INVOKE = "dynlink:invoke"

LINKER_GUEST = "linker guest"
ENDPOINT_PROVIDER = "endpoint provider"
ENDPOINT_CONSUMER = "endpoint consumer"


def is_linker(name: str) -> bool:
    """``compose:dynlink/linker@0.1.x``: the interface composectl's host implements for flavor B."""
    return parse_name(name).track == LINKER_TRACK


def is_endpoint(name: str) -> bool:
    return parse_name(name).base == ENDPOINT


def host_provides(name: str, linkage: str) -> bool:
    """Whether the host itself serves this import: the linker and ``sys:compose/*``, under runtime linkage only."""
    return linkage == "runtime" and (is_linker(name) or name.startswith(SYS_COMPOSE))


def roles(imports: Iterable[str], exports: Iterable[str]) -> tuple[str, ...]:
    """A component's dynlink roles, from its import and export names (empty for most components)."""
    imported = list(imports)
    found = []
    if any(is_linker(name) for name in imported):
        found.append(LINKER_GUEST)
    if any(is_endpoint(name) for name in exports):
        found.append(ENDPOINT_PROVIDER)
    if any(is_endpoint(name) for name in imported):
        found.append(ENDPOINT_CONSUMER)
    return tuple(found)


def exec_refusal(plan: Plan, root_imports: Iterable[str]) -> str | None:
    """Why composectl's exec refuses this plan, or None when it runs it (``root_imports``: the root's import names)."""
    if plan.linkage != "runtime":
        return None
    granted = {capability.name for capability in plan.policy.capabilities}
    missing = [cap for cap in (CAP_RESOLVE, CAP_INVOKE) if cap not in granted]
    if missing:
        return (
            f"composectl's exec refuses this runtime plan: runtime linking requires the '{CAP_RESOLVE}' and "
            f"'{CAP_INVOKE}' capabilities, and policy.capabilities lacks {' and '.join(map(repr, missing))}"
        )
    if any(is_linker(name) for name in root_imports):
        return None
    if (
        len(plan.bindings) == 1
        and plan.bindings[0].consumer_id == plan.root
        and is_endpoint(plan.bindings[0].import_name)
    ):
        return None
    return (
        f"composectl's exec refuses this runtime plan: its root imports no {LINKER}@0.1.x and it is not one "
        f'{ENDPOINT} binding ("runtime linkage binds one endpoint provider per plan"); set linkage = "static" '
        "for composectl to compose it (hatch-pylon run runs it either way)"
    )


def bound_closure(root: str, bindings: Iterable[Binding], stop_at: Iterable[str] = ()) -> set[str]:
    """The root and every component its bindings reach, transitively; ``stop_at`` ids are not entered.

    A registry member (an endpoint provider no binding names) is never reached: a linker guest resolves it.
    """
    edges: dict[str, list[str]] = {}
    for binding in bindings:
        edges.setdefault(binding.consumer_id, []).append(binding.provider_id)
    stops = set(stop_at)
    reached = {root}
    pending = [root]
    while pending:
        for provider in edges.get(pending.pop(), ()):
            if provider not in reached and provider not in stops:
                reached.add(provider)
                pending.append(provider)
    return reached
