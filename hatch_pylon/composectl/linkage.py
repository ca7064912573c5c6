"""How composectl's exec runs each linkage: the host's own interfaces, dynlink roles, and which plans it refuses.

composectl's exec (``hosts/wasmtime/src/exec.rs``) decides, before anything starts:

- a **static** plan is composed into one component and linked with WASI alone:
  a root importing ``compose:dynlink/linker`` fails to instantiate;
- a **runtime** plan needs both ``dynlink:resolve`` and ``dynlink:invoke`` in
  ``policy.capabilities`` (``exec-capability-denied`` otherwise), then:
  - **flavor B** when the root imports ``compose:dynlink/linker`` at any version
    (served by the host, with ``sys:compose/*``): it resolves providers from the
    plan's components by id or digest at run time; typed bindings next to it are
    composed first;
  - **flavor A** otherwise, on the plan's one binding, whatever its names: its
    provider, which must export ``compose:dynlink/endpoint``, serves the root's
    ``compose:dynlink/endpoint`` import from a store of its own; 0 or 2+ bindings
    are refused.

Pure: names only, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._records import NamedTuple
from ..wasm.names import parse_name
from .plan import Binding, Plan

LINKER = "compose:dynlink/linker"
ENDPOINT = "compose:dynlink/endpoint"
SYS_COMPOSE = "sys:compose/"
CAP_RESOLVE = "dynlink:resolve"
CAP_INVOKE = "dynlink:invoke"

LINKER_GUEST = "linker guest"
ENDPOINT_PROVIDER = "endpoint provider"
ENDPOINT_CONSUMER = "endpoint consumer"

STATIC, FLAVOR_A, FLAVOR_B = "static", "flavor A", "flavor B"


def is_linker(name: str) -> bool:
    """``compose:dynlink/linker`` at any version: what makes composectl's exec run a runtime plan as flavor B."""
    return name.startswith(LINKER)


def is_endpoint(name: str) -> bool:
    return parse_name(name).base == ENDPOINT


def linkage_for(root_imports: Iterable[str]) -> str:
    """The linkage exec can run a graph under, from its root's imports: ``runtime`` for a root importing
    ``compose:dynlink`` (the linker: flavor B; an endpoint: flavor A), else ``static`` (exec refuses any runtime
    plan whose root imports neither)."""
    return "runtime" if any(is_linker(name) or is_endpoint(name) for name in root_imports) else "static"


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


class ExecDecision(NamedTuple):
    """How composectl's exec takes a plan: its flavor, and why it refuses the plan (with the fix), if it does."""

    flavor: str  # STATIC, FLAVOR_A or FLAVOR_B
    refusal: str | None = None
    fix: str = ""

    def message(self) -> str:
        """The refusal and its fix, one line (empty when exec runs the plan)."""
        if self.refusal is None:
            return ""
        kind = "static plan" if self.flavor == STATIC else f"runtime plan ({self.flavor})"
        return f"composectl's exec refuses this {kind}: {self.refusal}; {self.fix}"


def exec_decision(
    plan: Plan, root_imports: Iterable[str], provider_exports: Iterable[str] | None = None
) -> ExecDecision:
    """What composectl's exec does with ``plan`` (``root_imports``: the root's import names; ``provider_exports``:
    the export names of a flavor-A plan's one provider, when known)."""
    imports = list(root_imports)
    linker = next((name for name in imports if is_linker(name)), None)
    if plan.linkage != "runtime":
        if linker is None:
            return ExecDecision(STATIC)
        return ExecDecision(
            STATIC,
            f"it links a static plan's composed component with WASI alone, so the root's import {linker} is not "
            "served (exec-trap: failed to instantiate command)",
            f'set linkage = "runtime" with the {CAP_RESOLVE} and {CAP_INVOKE} capabilities',
        )
    flavor = FLAVOR_B if linker is not None else FLAVOR_A
    granted = {capability.name for capability in plan.policy.capabilities}
    missing = [cap for cap in (CAP_RESOLVE, CAP_INVOKE) if cap not in granted]
    if missing:
        return ExecDecision(
            flavor,
            f"runtime linking requires the '{CAP_RESOLVE}' and '{CAP_INVOKE}' capabilities "
            f"(exec-capability-denied; policy.capabilities lacks {' and '.join(map(repr, missing))})",
            "add them to the policy's capabilities",
        )
    if linker is not None:
        return ExecDecision(flavor)
    fix = f'set linkage = "static" (composectl composes the graph) or import {LINKER} in the root'

    if not plan.bindings:
        return ExecDecision(flavor, "runtime linkage requires exactly one endpoint binding (plan-invalid-graph)", fix)
    if len(plan.bindings) > 1:
        return ExecDecision(
            flavor,
            "runtime linkage binds one endpoint provider per plan; use guest-driven linking "
            f"(compose:dynlink/linker) for multiple providers (plan-invalid-graph; the plan has {len(plan.bindings)} "
            "bindings)",
            fix,
        )
    if provider_exports is not None and not any(is_endpoint(name) for name in provider_exports):
        return ExecDecision(flavor, f"provider does not export {ENDPOINT} (plan-invalid-graph)", fix)
    if not any(is_endpoint(name) for name in imports):
        return ExecDecision(
            flavor,
            f"consumer does not import {ENDPOINT}; the runtime binding has nothing to satisfy (plan-invalid-graph)",
            fix,
        )
    return ExecDecision(flavor)


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
