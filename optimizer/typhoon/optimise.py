"""The typhoon optimiser's entry point: `optimise_typhoon(scenario, params, state=...)` plans one window (lanes,
escorts, riders' orders), with the rationale, what one more escort team would buy and the trade-off against car
delay, and returns a `PlanResult`."""

from __future__ import annotations

import time
from dataclasses import replace

from optimizer.result import PlanResult, SolveParams, relative_gap
from optimizer.typhoon.problem import DEFAULT_OPTIONS, TyphoonOptions, typhoon_problem
from optimizer.typhoon.report import describe_cost, describe_extra_team, describe_schedule, plan_actions, trade_off
from optimizer.typhoon.search import (
    ANOTHER_WEIGHT,
    DEFAULT_PARAMS,
    extra_team_solve,
    offered,
    solve_typhoon,
    trade_off_runs,
)
from scenarios.loading import scenario_graph, scenario_hash
from scenarios.plan import Plan, PlanMeta
from scenarios.schema import TRADE_OFF_FACTORS, TyphoonScenario
from scenarios.typhoon import TyphoonGeometry, TyphoonState


def objective_terms(scenario: TyphoonScenario) -> dict[str, float]:
    """The weights of the objective the plan's schedule is optimised for: the scenario's, the car-delay weight
    x the trade-off point's factor."""
    w = scenario.weights
    return {"rider_wait_per_h": w.rider_wait_per_h, "rider_stranded": w.rider_stranded,
            "vehicle_delay_per_h": w.vehicle_delay_per_h * TRADE_OFF_FACTORS[w.trade_off]}  # fmt: skip


def optimise_typhoon(scenario: TyphoonScenario, params: SolveParams | None = None, *,
                     state: TyphoonState | None = None, options: TyphoonOptions = DEFAULT_OPTIONS,
                     hours: float | None = None) -> PlanResult:  # fmt: skip
    """Plan one window from `state` (its time `at_s`, riders waiting, vehicles queued, lanes cleared; the
    scenario's start with no state): by default the ferry suspensions known then, or `hours` from then."""
    params = DEFAULT_PARAMS if params is None else params
    start_s = 0.0 if state is None else state.at_s
    started = time.perf_counter()
    geo = TyphoonGeometry(scenario, scenario_graph(scenario))
    problem = typhoon_problem(scenario, geo, state=state, hours=hours, options=options)
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by="optimizer:typhoon",
                    state_time_s=start_s, seed=params.seed,
                    objective_terms=objective_terms(scenario))  # fmt: skip
    if problem.n_periods == 0 or not problem.ways:
        plan = Plan(meta=meta.model_copy(update={"note": "no ferry suspension ahead: nothing to clear"}))
        return PlanResult(plan, "OPTIMAL", 0.0, 0.0, time.perf_counter() - started, params.seed,
                          ("no ferry suspension in the window, or no tunnel within reach of the riders",))  # fmt: skip
    side = params.time_limit_s * options.side_share
    main = solve_typhoon(problem, params=params, lp_bound_s=options.lp_bound_s, deterministic=options.deterministic,
                         routings=options.routings)  # fmt: skip
    if main.clear is None or main.teams is None or main.cost is None:
        return PlanResult(None, main.status, None, main.bound, time.perf_counter() - started, params.seed,
                          diagnosis=f"no schedule in {params.time_limit_s:g} s ({main.status})")  # fmt: skip
    # Every pick solves the same points (the scenario's weights first, then the others from it), so the point a
    # commander picks is the point offered.
    w = scenario.weights
    pick = TRADE_OFF_FACTORS[w.trade_off]
    runs = trade_off_runs(problem, main, w, factors=(*options.pareto_factors, pick), params=params,
                          time_limit_s=side, deterministic=options.deterministic,
                          routings=options.routings)  # fmt: skip
    chosen = next(r for r in runs if r.factor == pick)
    shown = offered(runs, chosen)
    sol, problem = chosen.solution, chosen.solution.problem
    assert sol.clear is not None and sol.teams is not None and sol.cost is not None
    actions = plan_actions(problem, scenario, geo, clear=sol.clear, teams=sol.teams, sent=sol.sent)
    rationale = describe_schedule(problem, scenario, sol)
    cost = sol.cost
    if sol.source == ANOTHER_WEIGHT:
        rationale.append("the schedule was found by the solve at another car-delay weight: at this plan's weights it "
                         "is better than what its own solve found; the bound is its own solve's")  # fmt: skip
    elif sol.source != "CP-SAT":
        limit = params.time_limit_s if chosen.factor == 1.0 else side
        rationale.append(f"the schedule is the {sol.source}: CP-SAT found nothing better in its {limit:g} s; the "
                         "bound is CP-SAT's")  # fmt: skip
    if sol.capped:
        rationale.append("CP-SAT was stopped by its wall-clock safety cap before its deterministic time ran out: "
                         "solved again, this plan may differ")  # fmt: skip
    restricted = 0 < sol.routings < sol.routings_total  # the bound covers the candidate routings only
    if sol.routings:
        over = (f"{sol.routings} candidate routings of the window's {sol.routings_total}" if restricted
                else f"all {sol.routings} routings the window has")
        within = ""
        if restricted:
            gap = 100 * (relative_gap(sol.objective, sol.bound) or 0.0)
            within = (f": within {gap:.1f}% of the best plan over those routings, which is no bound over the others, "
                      "so the plan's status is FEASIBLE and it states no bound")
        rationale.append(f"the riders' routing was decided first (the best of {over}, then the lanes and teams with "
                         f"it fixed){within}")
    rationale.append(describe_cost(problem, scenario, cost))
    details: dict[str, float] = {
        "periods": float(problem.n_periods), "window_start_s": problem.start_s,
        "rider_wait_h": cost.rider_wait_h, "riders_stranded": float(cost.stranded), "vehicle_h": cost.vehicle_h,
    }  # fmt: skip
    if sol.routings:
        details["routings"] = float(sol.routings)
        details["routings_total"] = float(sol.routings_total)
        if restricted and sol.bound is not None:
            details["routed_bound"] = sol.bound  # a bound over the candidate routings only
    if sol.lp_bound is not None:
        details["lp_bound"] = sol.lp_bound
        rationale.append(f"bound {sol.bound:.1f}: the LP relaxation gave {sol.lp_bound:.1f}")
    if options.extra_team:
        more = extra_team_solve(problem, sol, params=params, time_limit_s=side, deterministic=options.deterministic,
                                routings=options.routings)  # fmt: skip
        extra, lines = describe_extra_team(problem, sol, more, side)
        details.update(extra)
        rationale += lines
    pareto, points, lines = trade_off(problem, w, shown, chosen, [r for r in runs if all(r is not x for x in shown)])
    details.update(pareto)
    rationale += lines
    note = (f"weights: {w.rider_wait_per_h:g} per rider-hour waiting, {w.rider_stranded:g} per rider stranded, "
            f"{w.vehicle_delay_per_h * pick:g} per vehicle-hour (trade-off point '{w.trade_off}'); "
            + "; ".join(rationale[:1]))  # fmt: skip
    result = PlanResult(None, sol.status, sol.objective, None if restricted else sol.bound,
                        time.perf_counter() - started, params.seed, tuple(rationale), details=details)  # fmt: skip
    meta = meta.model_copy(update={"note": note, "solver": result.plan_stats(), "trade_off": tuple(points)})
    return replace(result, plan=Plan.build(meta, actions))
