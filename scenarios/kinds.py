"""What a scenario kind is on the domain side: one `KindSpec` per kind, registered here.

A kind (crowd, typhoon, mass testing, and any added later) is one implementation of one contract. This module
holds the pure-data half, which the loader, the default-plan rule and the re-planning splice need without any
solver or simulation: the schema model, the default plan rule, the re-planning state type, the KPI table, the
injects it supports, how a new plan is spliced into the one in effect, the threshold checks a sweep counts, the
fields a what-if form offers, the teams a roster has, and what the console draws. The whole contract, with the
kind's simulation and optimiser, is `command.kinds.Kind`; registering one there registers its spec here too.

Each built-in kind's spec is `SPEC` in its own module (`scenarios/crowd.py`, `scenarios/typhoon.py`,
`scenarios/mass_testing.py`); `spec_of` finds it. Nothing outside the registries branches on a kind's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from scenarios.plan import Control
    from scenarios.schema import ScenarioBase

#: KPI units as a Chinese label says them (a unit not here is shown as it is).
UNIT_ZH = {
    "min": "分钟", "min after start": "开始后分钟", "h": "小时", "people": "人", "riders": "人", "vehicles": "辆",
    "person-minutes": "人·分钟", "/m²": "人/m²", "km": "公里", "vehicle-hours": "车·小时", "crossings": "次",
    "walkway-minutes": "通道·分钟", "tester-hours": "人·小时",
}  # fmt: skip

#: The modules that define the built-in kinds' specs (`SPEC`), imported on first use.
BUILTIN_SPECS = ("scenarios.mass_testing", "scenarios.crowd", "scenarios.typhoon")


@dataclass(frozen=True, kw_only=True)
class Kpi:
    """One KPI of a kind: its name in results, its unit, which way is better, and its labels.

    `unit` is what one of it counts ("min", "people", "person-minutes", "/m²", "h", "share", "km");
    `better` says which way a plan should move it ("neither" for a count of demand or a moment in time); a
    `headline` KPI is one a commander judges a plan by: a plan that makes a headline KPI worse than the default
    plan says so in its warnings. A `watched` KPI is not one a plan is judged by but one it may trade away for
    the headline ones (e.g. mass testing's time from swab to bus: faster testing brings riders to the buses
    sooner): a plan that makes it worse says so too, as a trade-off."""

    name: str
    unit: str
    better: Literal["lower", "higher", "neither"]
    en: str
    zh: str
    headline: bool = False
    watched: bool = False

    def label(self, lang: str = "en") -> str:
        """The label with its unit, in the language asked for ("zh" or "en"): `Mean wait (min)`, `平均等待（分钟）`."""
        if not self.unit or self.unit == "share":
            return self.zh if lang == "zh" else self.en
        if lang == "zh":
            return f"{self.zh}（{UNIT_ZH.get(self.unit, self.unit)}）"
        return f"{self.en} ({self.unit})"

    def worse(self, default: float, plan: float, *, tolerance: float = 1e-9) -> bool:
        """Whether `plan` is worse than `default` in this KPI's direction (beyond a relative tolerance)."""
        slack = tolerance * max(1.0, abs(default))
        if self.better == "neither":
            return False
        return plan > default + slack if self.better == "lower" else plan < default - slack


@dataclass(frozen=True, kw_only=True)
class WhatIfField:
    """A field a what-if form offers, as `--set` takes it: `path=value`, validated like the file.

    `value` is what the form shows first, in the form's unit: the scenario stores `shown x scale` (minutes
    shown, seconds stored). `key` is unique within the scenario; `column` is the form column (0 or 1)."""

    key: str
    path: str
    en: str
    zh: str
    value: float | bool
    type: Literal["int", "float", "bool"] = "int"
    scale: float = 1.0
    minimum: float | None = None
    maximum: float | None = None
    step: float = 1.0
    column: int = 0

    def label(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else self.en

    def override(self, shown: float | bool) -> str:
        """The `--set` override for a value as the form shows it."""
        if self.type == "bool":
            return f"{self.path}={'true' if shown else 'false'}"
        if self.type == "int":
            return f"{self.path}={int(shown) * int(self.scale)}"
        return f"{self.path}={float(shown) * self.scale}"


@dataclass(frozen=True, kw_only=True)
class SpliceRules:
    """How a new plan takes over from the one in effect, beyond the rules every kind shares
    (`scenarios.splice`).

    `controls`: action types besides the shared controls that hold a state over a window (a crowd's staff post);
    `min_hold_s(scenario, action, done, at_s)`: how long a control of this kind already started must last at
    least when a re-plan at `at_s` cuts it short in the plan in effect `done` (a typhoon lane's minimum clearing,
    and the batches under way through it); `fit(scenario, kept, taken)`: the new plan's
    actions cut to what the kind's resources have left after the kept ones (tester groups)."""

    controls: tuple[type[Control], ...] = ()
    min_hold_s: Callable[[Any, Any, Any, float], float] | None = None
    fit: Callable[[Any, list[Any], list[Any]], list[Any]] | None = None


#: A threshold a sweep counts per replication: (scenario, KPIs of one replication) -> breached?
BreachCheck = Callable[[Any, Mapping[str, float]], bool]


@dataclass(frozen=True, kw_only=True)
class KindSpec:
    """The domain half of a scenario kind's contract."""

    name: str
    title_en: str
    title_zh: str
    schema: type[ScenarioBase]
    default_plan: Callable[..., Any]  # (scenario, graph=None) -> Plan: the kind's named rule
    state: type  # the re-planning state (`scenarios.state.ReplanState`)
    state_label: str = "the simulated state"  # what a re-plan starts from, as the progress line says it
    kpis: tuple[Kpi, ...]
    injects: frozenset[str] = frozenset({"message"})
    splice: SpliceRules = SpliceRules()
    breach_checks: Mapping[str, BreachCheck] = field(default_factory=dict)
    whatif: Callable[[Any], Sequence[WhatIfField]] | None = None
    roster_teams: Callable[[Any], Sequence[str]] = lambda scenario: ()
    check_plan: Callable[..., Sequence[Any]] | None = None  # (plan, scenario, *, file) -> problems
    checks: Callable[..., Sequence[Any]] | None = None  # (scenario, graph, file) -> findings (`scenarios.checks`)
    map_layers: tuple[str, ...] = ()  # per-node series prefixes (`<metric>:<node>`) the map colours, preferred first
    chart_series: tuple[str, ...] = ()  # whole-scenario series a console chart opens on, preferred first
    review_panels: tuple[str, ...] = ()  # extra panels the console's plan review shows (e.g. "controls")

    def kpi(self, name: str) -> Kpi | None:
        return next((k for k in self.kpis if k.name == name), None)

    @property
    def headline(self) -> tuple[Kpi, ...]:
        return tuple(k for k in self.kpis if k.headline)

    @property
    def watched(self) -> tuple[Kpi, ...]:
        """The KPIs a plan may trade away, said when it does (`Kpi.watched`)."""
        return tuple(k for k in self.kpis if k.watched and not k.headline)


_SPECS: dict[str, KindSpec] = {}
_loaded = False


def register_spec(spec: KindSpec, *, replace: bool = False) -> None:
    """Add a kind's spec (a `ValueError` if the name is taken, unless `replace`)."""
    if spec.name in _SPECS and not replace and _SPECS[spec.name] is not spec:
        raise ValueError(f"scenario kind {spec.name!r} is already registered")
    _SPECS[spec.name] = spec


def unregister_spec(name: str) -> None:
    _SPECS.pop(name, None)


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_SPECS:
            register_spec(importlib.import_module(module).SPEC, replace=True)


def spec_of(kind: str) -> KindSpec:
    """The spec of a kind by name (`KeyError` naming the known kinds if there is none)."""
    _load_builtins()
    try:
        return _SPECS[kind]
    except KeyError:
        raise KeyError(f"unknown scenario kind {kind!r}; known: {', '.join(sorted(_SPECS))}") from None


def kind_names() -> list[str]:
    _load_builtins()
    return sorted(_SPECS)


__all__ = ["BreachCheck", "KindSpec", "Kpi", "SpliceRules", "WhatIfField", "kind_names", "register_spec",
           "spec_of", "unregister_spec"]  # fmt: skip
