"""The mass-testing plan: staffing and visitor routing first, then the buses against the testing forecast.

1. `plan_staffing` chooses testers per site, wave and role and routes zones to sites (fluid makespan model).
2. Its plan gives a testing forecast: each site swabs its routed visitors evenly between the moment it first
   staffs a booth and its fluid finish time (the fluid model's own schedule, coarsened to 5-minute buckets).
3. `forecast_bay_demand` turns that into riders reaching each bay per destination, and `plan_buses` schedules
   the dispatches against it on the 5-minute grid. When the fleet is ample there (the last rider leaves at the
   arrival bound: the buses wait for riders, not riders for buses), the dispatches are planned again on the
   grid of `FINE_BUCKET_S`, started from the 5-minute plan: departures every 2.5 minutes, so that riders wait
   less for the next bus. With a binding fleet the 5-minute grid is kept: there the bigger model's plan, found
   in the same time, is worse in the simulation (benchmarks/README.md, "Disney buses").

The result's objective, bound and gap are the staffing model's (the last swab, in seconds after the start);
the bus model's are in `details` and its rationale lines follow the staffing ones.

4. With a `judge` (the simulation, which the optimiser cannot import: `command.kinds` hands it in), the bus
   orders the plan carries are chosen by simulating the candidates as they will run, from the same state, on
   futures other than the run's own: the new orders, first come, first served, and at a re-plan the orders in
   effect carried on (`optimizer.buses.judge`); the rationale says which was chosen and why.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from optimizer.buses import forecast_bay_demand, plan_buses
from optimizer.buses.judge import BUS_KPIS as BUS_KPIS
from optimizer.buses.judge import CARRIED_ON, NEW, PlanJudge, candidates, choose
from optimizer.result import PlanResult, SolveParams, relative_gap
from optimizer.staffing import fluid_makespan, plan_staffing, staffing_problem
from scenarios.loading import scenario_graph
from scenarios.mass_testing import MassTestingGeometry, MassTestingState, crew_warnings
from scenarios.plan import Plan, RouteVisitors
from scenarios.schema import MassTestingScenario

BUCKET_S = 300.0
#: The bus model's grid for a re-plan from the buses' state. A finer one (60 s) is planned with its search
#: started from a plan on the 5-minute grid (`plan_buses(coarse_s=)`). It rounds round trips up less and is
#: better in the model, but it is kept at 5 minutes: in the simulation it helps a late re-plan and hurts an
#: early one, and it overruns the time limit (`benchmarks/README.md`, re-planning).
REPLAN_BUCKET_S = BUCKET_S
#: The bus model's grid when the fleet is ample on the 5-minute one (module docstring).
FINE_BUCKET_S = 150.0


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


def optimise_mass_testing(scenario: MassTestingScenario, *, params: SolveParams, state: MassTestingState | None = None,
                          judge: PlanJudge | None = None) -> PlanResult:  # fmt: skip
    """Staffing and routing, then buses; one plan with both. Re-planned from a `state`
    (`scenarios.mass_testing.mass_testing_state`), visitors keep their sites and the groups sent stay sent; with
    the state's buses, the dispatches start from the riders waiting and the buses where they are at `state.at_s`,
    for the riders the forecast has still to come, on the grid of `REPLAN_BUCKET_S`. With a `judge`, the
    bus orders are those the simulation shows best from the same state on other futures (`BUS_KPIS`;
    `optimizer.buses.judge`)."""
    started = time.perf_counter()
    geo = MassTestingGeometry(scenario, scenario_graph(scenario))
    staff = plan_staffing(scenario, geo, params=params, state=state)
    if warnings := crew_warnings(scenario):  # the crews are the scenario's; say where a pool cannot make one
        staff = replace(staff, rationale=(*staff.rationale, *(f"warning: {w}" for w in warnings)))
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
    if fleet_ample(buses):  # the buses wait for riders: departures more often
        finer = plan_buses(scenario, forecast.after(forecast.start_s, FINE_BUCKET_S), geo, params=params,
                           state=at_bays, coarse_s=forecast.bucket_s)  # fmt: skip
        if finer.plan is not None:  # the first search's word on its safety cap is kept (its plan decided this)
            capped = tuple(line for line in buses.rationale if "safety cap" in line)
            buses = replace(finer, rationale=(*finer.rationale, f"the fleet is ample on the {forecast.bucket_s / 60:g}"
                                              f"-min grid, so planned on the {FINE_BUCKET_S / 60:g}-min grid", *capped))
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
    lines = (*staff.rationale, *from_state, *(f"buses: {r}" for r in buses.rationale))
    with_orders: PlanResult | None = buses
    if judge is not None:
        at_s = state.at_s if state is not None else None
        cands = candidates(plan, staff.plan, in_effect=state.in_effect if state is not None else None,
                           at_s=at_s, scenario=scenario)  # fmt: skip
        verdict = choose(cands, judge, seed=params.seed, from_s=at_s or 0.0,
                         label=scenario.clock.label(at_s) if at_s is not None else "the start")  # fmt: skip
        details["buses_adopted"] = float(verdict.chosen.name == NEW)
        details["buses_carried_on"] = float(verdict.chosen.name == CARRIED_ON)
        lines = (*lines, verdict.line)
        plan = verdict.chosen.plan
        if verdict.chosen.name != NEW:
            with_orders = None
    status, said = overall_status(staff, with_orders, details,
                                  carried_on=details.get("buses_carried_on", 0.0) == 1.0)  # fmt: skip
    assert staff.plan.meta.solver is not None
    solver = staff.plan.meta.solver.model_copy(update={"status": status, "gap": max(
        [v for k, v in details.items() if k.startswith("gap_")], default=staff.plan.meta.solver.gap)})
    plan = Plan.build(plan.meta.model_copy(update={"solver": solver}), plan.actions)
    return replace(
        staff,
        plan=plan,
        status=status,
        wall_s=time.perf_counter() - started,
        rationale=(*lines, said),
        diagnosis=diagnosis,
        details=details,
    )


def fleet_ample(buses: PlanResult) -> bool:
    """Whether the bus plan has nobody stranded and its last rider leaving at the arrival bound (the last rider's
    arrival plus loading): the fleet does not bind, the buses wait for the riders."""
    d = buses.details
    if buses.plan is None or "arrival_bound_min" not in d:
        return False
    return d.get("stranded_riders", 1.0) == 0 and d["last_departed_min"] <= d["arrival_bound_min"] + 1e-6


def overall_status(staff: PlanResult, buses: PlanResult | None, details: dict[str, float], *,
                   carried_on: bool = False) -> tuple[str, str]:  # fmt: skip
    """OPTIMAL only when every sub-model in the plan is proven within its gap (the staffing, and the buses when
    their new orders are kept), otherwise FEASIBLE; each sub-model's gap goes into `details` as
    `gap_<sub-model>` (`PlanResult.gap` reports the largest); and the rationale line that says so. `carried_on`:
    the buses carry on an earlier plan's orders, proven nothing now."""
    parts = [f"staffing {staff.status} (gap {_pct(staff.gap)})"]
    proven = staff.status == "OPTIMAL"
    if staff.gap is not None:
        details["gap_staffing"] = staff.gap
    if buses is None and carried_on:
        parts.append("buses carry on the orders in effect (not re-proven)")
        proven = False
    elif buses is None:
        parts.append("buses first come, first served (no model)")
    else:
        gaps = [relative_gap(buses.objective, buses.bound), buses.details.get("phase2_gap")]
        known = [g for g in gaps if g is not None]
        # No bound on a phase: nothing proven about it (counted as a 100% gap).
        details["gap_buses"] = max(known) if len(known) == len(gaps) else 1.0
        parts.append(f"buses {buses.status} (gap {_pct(details['gap_buses'])}: last departure "
                     f"{_pct(gaps[0])}, waiting and bus-km {_pct(gaps[1])})")  # fmt: skip
        proven = proven and buses.status == "OPTIMAL"
    status = "OPTIMAL" if proven else "FEASIBLE"
    return status, f"status {status}: " + "; ".join(parts)


def _pct(gap: float | None) -> str:
    return "none proven" if gap is None else f"{100 * gap:.2f}%"
