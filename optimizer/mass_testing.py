"""The mass-testing plan: staffing and visitor routing first, then the buses against the testing forecast.

1. `plan_staffing` chooses testers per site, wave and role and routes zones to sites (fluid makespan model).
2. Its plan gives a testing forecast: each site swabs its routed visitors evenly between the moment it first
   staffs a booth and its fluid finish time (the fluid model's own schedule, coarsened to 5-minute buckets).
3. `forecast_bay_demand` turns that into riders reaching each bay per destination, and `plan_buses` schedules
   the dispatches against it.

The result's objective, bound and gap are the staffing model's (the last swab, in seconds after the start);
the bus model's are in `details` and its rationale lines follow the staffing ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from optimizer.buses import forecast_bay_demand, plan_buses
from optimizer.result import PlanResult, SolveParams
from optimizer.staffing import fluid_makespan, plan_staffing, staffing_problem
from scenarios.loading import scenario_graph
from scenarios.mass_testing import MassTestingGeometry, MassTestingState
from scenarios.plan import Plan, RouteVisitors
from scenarios.schema import MassTestingScenario

BUCKET_S = 300.0
#: The bus model's grid for a re-plan from the buses' state. A finer one (60 s) is planned with its search
#: started from a plan on the 5-minute grid (`plan_buses(coarse_s=)`). It rounds round trips up less and is
#: better in the model, but it is kept at 5 minutes: in the simulation it helps a late re-plan and hurts an
#: early one, and it overruns the time limit (`benchmarks/README.md`, re-planning).
REPLAN_BUCKET_S = BUCKET_S


def testing_forecast(problem, plan: Plan, horizon_s: float) -> dict[str, list[float]]:
    """Visitors swabbed per 5-minute bucket at each site under a staffing plan (fluid schedule)."""
    outcome = fluid_makespan(problem, plan)
    visitors = dict(zip(problem.zones, problem.visitors, strict=True))
    load = dict.fromkeys(problem.sites, 0.0)
    for act in plan.of_type(RouteVisitors):
        load[act.to] += act.share * visitors.get(act.origin, 0)
    n = math.ceil(horizon_s / BUCKET_S)
    out: dict[str, list[float]] = {}
    for i, site in enumerate(problem.sites):
        start, end = outcome.staffed_from_s[i], outcome.site_finish_s[i]
        row = np.zeros(n)
        if load[site] > 0 and math.isfinite(start) and math.isfinite(end) and end > start:
            edges = np.arange(n + 1) * BUCKET_S
            covered = np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0, None)
            row = load[site] * covered / (end - start)
        out[site] = row.tolist()
    return out


def optimise_mass_testing(scenario: MassTestingScenario, *, params: SolveParams,
                          state: MassTestingState | None = None) -> PlanResult:  # fmt: skip
    """Staffing and routing, then buses; one plan with both. Re-planned from a `state`
    (`scenarios.mass_testing.mass_testing_state`), visitors keep their sites and the groups sent stay sent; with
    the state's buses, the dispatches start from the riders waiting and the buses where they are at `state.at_s`,
    for the riders the forecast has still to come, on the grid of `REPLAN_BUCKET_S`."""
    started = time.perf_counter()
    geo = MassTestingGeometry(scenario, scenario_graph(scenario))
    staff = plan_staffing(scenario, geo, params=params, state=state)
    if staff.plan is None or scenario.resources.buses is None:
        return staff
    problem = staffing_problem(scenario, geo, state=state)
    tested = testing_forecast(problem, staff.plan, scenario.clock.horizon_s)
    forecast = forecast_bay_demand(scenario, tested, geo, bucket_s=BUCKET_S)
    at_bays = state.buses if state is not None else None
    if state is not None and at_bays is not None:  # from the buses and riders where they are, for those to come
        forecast = forecast.after(state.at_s, REPLAN_BUCKET_S)
    coarse = BUCKET_S if at_bays is not None else None
    buses = plan_buses(scenario, forecast, geo, params=params, state=at_bays, coarse_s=coarse)
    if buses.plan is None:
        return replace(staff, rationale=(*staff.rationale, f"buses: {buses.diagnosis or buses.status}; "
                                         "the simulation runs them first come, first served"))  # fmt: skip
    plan = Plan.build(
        staff.plan.meta.model_copy(update={"produced_by": "optimizer:staffing+buses"}),
        [*staff.plan.actions, *buses.plan.actions],
    )
    details = dict(staff.details)
    details.update({f"buses_{k}": v for k, v in buses.details.items() if isinstance(v, int | float)})
    for name in ("objective", "bound"):
        value = getattr(buses, name)
        if value is not None:
            details[f"buses_{name}"] = float(value)
    diagnosis = "; ".join(d for d in (staff.diagnosis, buses.diagnosis) if d) or None
    from_state = () if at_bays is None else (
        f"buses: re-planned from {scenario.clock.label(forecast.start_s)}: {sum(at_bays.waiting.values())} riders "
        f"waiting, {sum(at_bays.idle.values())} buses idle, {len(at_bays.returning)} away; "
        f"{forecast.total():.0f} riders forecast to come",
    )  # fmt: skip
    return replace(
        staff,
        plan=plan,
        wall_s=time.perf_counter() - started,
        rationale=(*staff.rationale, *from_state, *(f"buses: {r}" for r in buses.rationale)),
        diagnosis=diagnosis,
        details=details,
    )
