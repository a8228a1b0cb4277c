"""The kind registry: every scenario kind is one `Kind`, registered here; nothing else branches on a kind's name.

A kind is one implementation of one contract:
- its domain half, `scenarios.kinds.KindSpec` (schema model, default plan rule, re-planning state type, KPI table
  with units, directions, headline flags and zh/en labels, supported injects, splice rules, sweep thresholds,
  what-if fields, roster teams, plan checks, the console's map layers and chart series);
- `simulate(scenario, plan=None, *, seed=None, until_s=None) -> SimResult`, its simulation;
- `state_at(scenario, plan, *, seed, at_s) -> state`, the state a re-plan at `at_s` starts from, read off a run
  of the plan in effect (a `scenarios.state.ReplanState`: it says its time and the injects fired by then);
- `optimise(scenario, *, params, state=None) -> PlanResult`, its optimiser (None: the kind has none yet,
  and `yiwang run` says so unless told `--no-optimize`);
- `breaches(scenario, result) -> list[Breach]`, the thresholds a run crosses (what stops `advance`).

The built-in kinds are made in `_builtins`, their parts named by import path so that loading the registry does
not load every model (`lazy`). More kinds come from the modules named in the environment variable `YIWANG_KINDS`
(comma-separated; each calls `register` when imported), loaded in every process that looks a kind up, sweep
workers included, and from `register` calls at run time.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer.result import PlanResult, SolveParams
from scenarios.errors import ScenarioError
from scenarios.kinds import KindSpec, WhatIfField, register_spec, spec_of, unregister_spec
from scenarios.plan import Plan
from simulation.core import Breach, SimResult

#: Modules that register more kinds when imported (comma-separated), e.g. a city's own kind.
PLUGINS_ENV = "YIWANG_KINDS"


class lazy:
    """A function named by `module:attribute`, imported on first call (picklable: sweeps send it to workers)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._fn: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            module, _, name = self.target.partition(":")
            self._fn = getattr(importlib.import_module(module), name)
        return self._fn(*args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {"target": self.target}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.target, self._fn = state["target"], None

    def __repr__(self) -> str:
        return f"lazy({self.target!r})"


def no_breaches(scenario: Any, result: SimResult) -> list[Breach]:
    """A kind without thresholds that stop the clock."""
    return []


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One scenario kind: its domain spec, its simulation, its re-planning state, its optimiser, its thresholds."""

    spec: KindSpec
    simulate: Callable[..., SimResult]
    state_at: Callable[..., Any]
    optimise: Callable[..., PlanResult] | None = None
    breaches: Callable[[Any, SimResult], list[Breach]] = no_breaches
    #: Thresholds a plan's forecast may cross that the commander must see before signing but that do not stop the
    #: incident's clock (a crowd's warning density, the 4 /m² its plans aim to stay under).
    cautions: Callable[[Any, SimResult], list[Breach]] = no_breaches
    #: Every threshold crossing of a run, earliest first, for the run's record (`yiwang run --json`:
    #: `crossings`); None: the kind's `breaches` (the first of each).
    crossings: Callable[[Any, SimResult], list[Breach]] | None = None
    #: Its cost model for the Run -> plan budget (`command.budget`): seconds per stage from the scenario's size;
    #: None: `command.budget.FALLBACK`.
    costs: Callable[[Any], Any] | None = None
    #: Where the demo store files an incident of this kind, and who commands it there.
    demo: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name


def optimise_mass_testing_judged(scenario: Any, *, params: SolveParams, state: Any = None) -> PlanResult:
    """The mass-testing optimiser with its simulation as the judge of its bus orders (the two meet only here):
    each candidate simulated in the run's world up to the re-plan and on other futures after it
    (`optimizer.buses.judge`)."""
    from optimizer.mass_testing import optimise_mass_testing
    from simulation.mass_testing import Future
    from simulation.mass_testing import simulate as simulate_mass_testing

    def judge(plan: Plan, *, future: int, from_s: float) -> dict[str, float]:
        return simulate_mass_testing(scenario, plan, seed=params.seed, future=Future(future, from_s)).kpis

    return optimise_mass_testing(scenario, params=params, state=state, judge=judge)


def _builtins() -> list[Kind]:
    return [
        Kind(spec=spec_of("mass_testing"), simulate=lazy("simulation.mass_testing:simulate"),
             state_at=lazy("simulation.mass_testing:state_at"),
             optimise=lazy("command.kinds:optimise_mass_testing_judged"),
             breaches=lazy("simulation.mass_testing:breaches"), costs=lazy("command.budget:mass_testing_costs"),
             demo={"jurisdiction": "pudong", "commander": "pudong_commander"}),
        Kind(spec=spec_of("crowd"), simulate=lazy("simulation.crowd:simulate"),
             state_at=lazy("simulation.crowd:state_at"), optimise=lazy("optimizer.crowd:optimise_crowd"),
             breaches=lazy("simulation.crowd:breaches"), cautions=lazy("simulation.crowd:cautions"),
             crossings=lazy("simulation.crowd:crossings"),
             costs=lazy("command.budget:crowd_costs"),
             demo={"jurisdiction": "bund_station", "commander": "bund_chief"}),
        Kind(spec=spec_of("typhoon"), simulate=lazy("simulation.typhoon:simulate"),
             state_at=lazy("simulation.typhoon:state_at"), optimise=lazy("optimizer.typhoon:optimise_typhoon"),
             costs=lazy("command.budget:typhoon_costs"), demo={"jurisdiction": "huangpu", "commander": "bund_chief"}),
    ]  # fmt: skip


_KINDS: dict[str, Kind] = {}
_loaded = False


def register(kind: Kind, *, replace: bool = False) -> Kind:
    """Add a kind (its spec too); a `ValueError` if its name is taken, unless `replace`."""
    _load()
    if kind.name in _KINDS and not replace and _KINDS[kind.name] is not kind:
        raise ValueError(f"scenario kind {kind.name!r} is already registered")
    register_spec(kind.spec, replace=True)
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (what a test that registered one does when it is done)."""
    _KINDS.pop(name, None)
    unregister_spec(name)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for kind in _builtins():
        register_spec(kind.spec, replace=True)
        _KINDS[kind.name] = kind
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        importlib.import_module(module)


def load_kinds() -> None:
    """Register the built-in kinds and those the modules in `YIWANG_KINDS` add (once per process); what an entry
    point does before it reads any scenario, so that the loader knows every kind's schema."""
    _load()


def kinds() -> list[Kind]:
    """Every registered kind, by name."""
    _load()
    return [_KINDS[n] for n in sorted(_KINDS)]


def kind_of(scenario_or_kind: Any) -> Kind:
    """The kind of a scenario (or a kind by name); a `KeyError` naming the known kinds if there is none."""
    _load()
    name = scenario_or_kind if isinstance(scenario_or_kind, str) else scenario_or_kind.kind
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown scenario kind {name!r}; known: {', '.join(sorted(_KINDS))}") from None


def simulate(scenario: Any, plan: Any = None, *, seed: int | None = None, until_s: float | None = None) -> SimResult:
    """Simulate a scenario under a plan (its default plan if none) with its kind's model."""
    return kind_of(scenario).simulate(scenario, plan, seed=seed, until_s=until_s)


def state_at(scenario: Any, plan: Any, *, seed: int, at_s: float) -> Any:
    """The state a re-plan at `at_s` starts from, read off a run of `plan` (its kind's `ReplanState`)."""
    return kind_of(scenario).state_at(scenario, plan, seed=seed, at_s=at_s)


def optimise(scenario: Any, params: SolveParams | None = None, *, state: Any = None) -> PlanResult:
    """Optimise a scenario's decisions with its kind's optimiser, from its start or from a re-planning state."""
    kind = kind_of(scenario)
    if kind.optimise is None:
        raise ScenarioError.single(scenario.name, "kind", f"no optimisation model for {kind.name!r} scenarios yet; "
                                   "simulate the scenario's own plan with --no-optimize")  # fmt: skip
    return kind.optimise(scenario, params=params or SolveParams(seed=scenario.seed), state=state)


def whatif_fields(scenario: Any) -> list[WhatIfField]:
    """The fields a what-if form offers for this scenario (its kind's; none if the kind has no form)."""
    make = kind_of(scenario).spec.whatif
    return list(make(scenario)) if make is not None else []


def crossings(scenario: Any, result: SimResult) -> list[Breach]:
    """Every threshold a run crosses, each time it does, earliest first, within the scenario's horizon (a kind
    that does not list them gives the first of each, as `breaches`)."""
    kind = kind_of(scenario)
    return _within(scenario, kind.crossings(scenario, result) if kind.crossings else kind.breaches(scenario, result))


def _within(scenario: Any, found: Sequence[Breach]) -> list[Breach]:
    """The breaches within the scenario's horizon, earliest first."""
    return sorted((b for b in found if b.t_s <= scenario.clock.horizon_s), key=lambda b: b.t_s)


def breaches(scenario: Any, result: SimResult, *, cautions: bool = False) -> list[Breach]:
    """The thresholds a run crosses, earliest first, within the scenario's horizon; with `cautions`, also those
    a commander must see before signing a plan that do not stop the clock (`Kind.cautions`)."""
    kind = kind_of(scenario)
    return _within(scenario, [*kind.breaches(scenario, result), *(kind.cautions(scenario, result) if cautions else ())])


__all__ = [
    "PLUGINS_ENV", "Kind", "breaches", "crossings", "kind_of", "kinds", "lazy", "load_kinds", "no_breaches", "optimise",
    "register", "simulate", "state_at", "unregister", "whatif_fields",
]  # fmt: skip
