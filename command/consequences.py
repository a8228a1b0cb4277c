"""A plan's consequences a commander must see before signing: never silently worse.

Every run that proposes a plan checks it against the default plan on the same seed and says, as structured
warnings (`ARCHITECTURE`: `warnings: [{kind, kpi, default, plan, message}]`):
- `worse`: each headline KPI of the scenario's kind (its KPI table) the plan makes worse than the default plan,
  in the KPI's own direction, by how much, in its unit; and each watched KPI it makes worse (`Kpi.watched`, one
  a plan may trade away for the headline ones), said as a trade-off;
- `breach`: each threshold the plan's simulated run crosses (the kind's `breaches`: a critical density, a
  visitor waiting past the maximum, testing past the target time; and its `cautions`: a crowd's warning
  density), where and when;
- `weak_bound`: the optimiser's plan is not proven within `GAP_LIMIT` of the best possible (or has no bound);
- `trade_off`: the plan is one of several points the optimiser offers (its `meta.trade_off`, e.g. a typhoon's
  rider wait against car delay), none better than another in every respect: which one, and the others.
A plan with none of these is one the commander can approve knowing what it does; one with some says so first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from command.kinds import breaches, kind_of
from optimizer.result import PlanResult
from simulation.core import SimResult

#: A sub-model proven no closer than this to the best possible is reported as a weak bound.
GAP_LIMIT = 0.05


@dataclass(frozen=True)
class Consequence:
    """One warning about a plan: what kind, which KPI (if any), its value under the default plan and this one."""

    kind: Literal["worse", "breach", "weak_bound", "trade_off"]
    kpi: str | None
    default: float | None
    plan: float | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def consequences(scenario: Any, baseline: SimResult, planned: SimResult | None,
                 solve: PlanResult | None = None) -> list[Consequence]:  # fmt: skip
    """The warnings a plan carries: headline KPIs made worse, thresholds its run crosses, a weak bound. With no
    plan (`planned` None), the thresholds the default plan's own run crosses."""
    spec = kind_of(scenario).spec
    out: list[Consequence] = []
    run = planned if planned is not None else baseline
    if planned is not None:
        for kpi in (*spec.headline, *spec.watched):
            if kpi.name not in baseline.kpis or kpi.name not in planned.kpis:
                continue
            was, now = float(baseline.kpis[kpi.name]), float(planned.kpis[kpi.name])
            if kpi.worse(was, now):
                said = (f"{kpi.label()}: {warning_number(now)} under this plan against {warning_number(was)} under "
                        f"the default plan ({warning_number(now - was, sign=True)} {kpi.unit}; {kpi.better} is "
                        "better)")  # fmt: skip
                if not kpi.headline:
                    said += "; not a headline KPI: a trade-off this plan makes"
                out.append(Consequence("worse", kpi.name, was, now, said))
    for b in breaches(scenario, run, cautions=planned is not None):
        out.append(Consequence("breach", None, None, None, f"{b.text} at {scenario.clock.label(b.t_s)}"))
    if solve is not None and solve.plan is not None:
        gap = solve.gap
        if gap is None:
            out.append(Consequence("weak_bound", None, None, None,
                                   f"the optimiser ({solve.status}) has no bound on how far this plan may be from "
                                   "the best possible"))  # fmt: skip
        elif gap > GAP_LIMIT:
            out.append(Consequence("weak_bound", None, None, None,
                                   f"the optimiser ({solve.status}) proved this plan within {100 * gap:.0f}% of the "
                                   f"best possible only (more than {100 * GAP_LIMIT:.0f}%)"))  # fmt: skip
        if len(solve.plan.meta.trade_off) > 1:
            out.append(trade_off_warning(solve.plan.meta.trade_off, [c for c in out if c.kind == "worse"]))
    return out


def warning_number(x: float | None, *, sign: bool = False) -> str:
    """A KPI's value in a warning: whole numbers with thousands separators from 1,000 on (people, person-minutes),
    four significant digits below (not `2.781e+04`)."""
    if x is None:
        return "-"
    plus = "+" if sign else ""
    return f"{x:{plus},.0f}" if abs(x) >= 1000 else f"{x:{plus},.4g}"


def trade_off_warning(points: Any, worse: list[Consequence] | None = None) -> Consequence:
    """The trade-off the plan declares: the point it carries out and the others offered, in the optimiser's model;
    and the headline KPIs the plan's run makes worse than the default plan's (`worse`), the first named as the
    warning's KPI: the price of the point picked."""

    def said(p: Any) -> str:
        return (f"'{p.name or p.vehicle_weight}' ({p.rider_wait_h:,.0f} rider-hours waiting, {p.riders_stranded:,.0f}"
                f" stranded, {p.vehicle_h:,.0f} vehicle-hours of car delay)")  # fmt: skip

    chosen = next((p for p in points if p.chosen), points[0])
    others = "; ".join(said(p) for p in points if p is not chosen)
    message = (f"this plan trades rider wait against car delay: it is the point {said(chosen)}, forecast by the "
               f"optimiser's model; also offered, none better in every respect: {others}; pick another by its name "
               "(see the rationale)")  # fmt: skip
    if not worse:
        return Consequence("trade_off", None, None, None, message)
    price = ", ".join(f"{c.kpi} {warning_number(c.plan)} against {warning_number(c.default)}" for c in worse)
    first = worse[0]
    return Consequence("trade_off", first.kpi, first.default, first.plan,
                       f"{message}. Simulated, this point is worse than the default plan on {price}: the price of "
                       "the point picked")  # fmt: skip


__all__ = ["GAP_LIMIT", "Consequence", "consequences", "warning_number"]
