"""The crowd optimiser's entry point: `optimise_crowd(scenario, params, state=...)` solves the flow LP (and again
with unpaired stairs up-only, keeping the better), posts the staff the metering and the one-way stairs need,
and returns a `PlanResult` with metering, stair one-ways, announcements, stations the trains skip, areas held in
place and let go in waves after a show, and staff posts.

Counter-flow: where the solution crosses a walkway both ways with no room left for the friction the
simulation charges, the LP is solved again with it charged (`_solve_with_friction`; Bund 2014's Waibaidu
walkway took 631 people in against 692 leaving in 4 minutes, at the LP's full capacity, and the simulation
packed it to 4.31 /m² at seed 12).

If some metering or hold cannot be staffed, the flows are solved again without it in those periods;
the result's objective is that second solve's, and its bound is the first solve's (every origin meterable: a
relaxation of the staffed problem), so the gap says what the staff shortage costs.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from optimizer.crowd.flow import FlowProblem, flow_problem
from optimizer.crowd.lp import FlowSolution, counterflow_cuts, solve_flows
from optimizer.crowd.options import DEFAULT_OPTIONS, CrowdOptions
from optimizer.crowd.report import (
    _announce_actions,
    _hold_actions,
    _meter_actions,
    _staff_actions,
    _station_actions,
    describe,
    unpaced_line,
)
from optimizer.crowd.staff import covered_periods, holding_needs, metering_needs, solve_staff, staff_problem
from optimizer.result import PlanResult, SolveParams
from scenarios.crowd import CrowdState, stairs
from scenarios.loading import scenario_graph, scenario_hash
from scenarios.plan import Plan, PlanMeta
from scenarios.schema import CrowdScenario

DEFAULT_PARAMS = SolveParams()
LP_MIN_S = 300.0  # the flow LP's time limit at least (it is solved to optimality or not used)
# Times the flow LP is solved again with the counter-flow its solution makes charged (`counterflow_cuts`): a
# solve that crosses walkways both ways where the friction leaves no room is solved again with those charged.
FRICTION_ROUNDS = 2


def _solve_with_friction(problem: FlowProblem, budget: float, sol: FlowSolution | None = None
                         ) -> tuple[FlowProblem, FlowSolution]:  # fmt: skip
    """The flow LP solved (`sol`, if given, is its solution already), and again with the counter-flows its
    solution makes where the friction leaves no room charged (at most `FRICTION_ROUNDS` times: each round's
    charges stay). The returned solution's wall and CPU times are all the rounds'; a round GLOP cannot solve
    leaves the round before it (and its problem)."""
    if sol is None:
        sol = solve_flows(problem, time_limit_s=budget)
    wall, cpu = sol.wall_s, sol.cpu_s
    for _ in range(FRICTION_ROUNDS):
        if sol.objective is None:
            break
        cuts = counterflow_cuts(problem, sol)
        if cuts is None:
            break
        charged = problem.with_counterflow(cuts)
        again = solve_flows(charged, time_limit_s=budget)
        wall, cpu = wall + again.wall_s, cpu + again.cpu_s
        if again.objective is None:
            break
        problem, sol = charged, again
    return problem, replace(sol, wall_s=wall, cpu_s=cpu)


def _cap_note(solution: FlowSolution, limit_s: float) -> str:
    """What to add to a diagnosis when the flow LP was stopped by its wall-clock safety cap."""
    if not solution.capped:
        return ""
    return (f": GLOP was stopped by its wall-clock safety cap of {limit_s:g} s (the machine is much slower or busier "
            "than it should be; a quiet one solves it to optimality)")  # fmt: skip


def optimise_crowd(scenario: CrowdScenario, params: SolveParams | None = None, *, state: CrowdState | None = None,
                   options: CrowdOptions = DEFAULT_OPTIONS) -> PlanResult:  # fmt: skip
    """Metering, stair one-ways and staff posts for a crowd scenario, to its end: from its start and an empty
    site, or from `state` (the people where they are at its time, the teams at their posts), for a re-plan.

    Every action of a plan from a state is at or after the state's time (the loop keeps what the plan in
    effect did before: `command.loop`)."""
    params = DEFAULT_PARAMS if params is None else params
    start_s = 0.0 if state is None else state.at_s
    started = time.perf_counter()
    graph = scenario_graph(scenario)
    problem = flow_problem(scenario, graph=graph, options=options, seed=params.seed, state=state)
    meta = PlanMeta(scenario=scenario.name, scenario_hash=scenario_hash(scenario), produced_by="optimizer:crowd",
                    state_time_s=start_s, seed=params.seed,
                    objective_terms={"over_critical": options.weights.over_critical,
                                     "over_target": options.weights.over_target,
                                     "queue": options.weights.queue, "walk": options.weights.walk})  # fmt: skip
    # The flow LP has no usable answer before it is solved, so it gets at least `LP_MIN_S`; the time limit
    # applies as such to the staff model.
    budget = max(LP_MIN_S, params.time_limit_s)
    first = solve_flows(problem, time_limit_s=budget)
    lp_wall, lp_cpu = first.wall_s, first.cpu_s
    paired = {frozenset((a.u, a.v)) for a in problem.one_ways}
    unpaired = any(frozenset(step) not in paired for st in stairs(graph) for step in itertools.pairwise(st.nodes))
    if options.single_stairs == "best" and unpaired:
        # Unpaired stairs: two-way, or up only (down by other ways); the flow LP's optimum decides.
        up = flow_problem(scenario, graph=graph, options=replace(options, single_stairs="up"), seed=params.seed,
                          state=state)  # fmt: skip
        other = solve_flows(up, time_limit_s=budget)
        lp_wall += other.wall_s
        lp_cpu += other.cpu_s
        if other.objective is not None and (first.objective is None or other.objective < first.objective):
            problem, first, options = up, other, replace(options, single_stairs="up")
    # Counter-flow charged on the variant kept (its first solve's time is counted above).
    solved_wall, solved_cpu = first.wall_s, first.cpu_s
    problem, first = _solve_with_friction(problem, budget, first)
    lp_wall += first.wall_s - solved_wall
    lp_cpu += first.cpu_s - solved_cpu
    if first.objective is None:
        return PlanResult(None, first.status, None, None, time.perf_counter() - started, params.seed,
                          diagnosis=f"the flow LP found no solution ({first.status})"
                                    f"{_cap_note(first, budget)}")  # fmt: skip
    n_staff = max(1, math.ceil(problem.n_periods * problem.period_s / options.staff_period_s))
    need = metering_needs(problem, first, options.staff_period_s, n_staff)
    for name, weights in holding_needs(problem, first, options.staff_period_s, n_staff).items():
        need[name] = np.maximum(need[name], weights) if name in need else weights
    # One-way stairs come first: they are staffed from the start, at the weight of the heaviest metering.
    top = max([1.0, *(float(w.max()) for w in need.values())])
    for act in problem.one_ways:
        need[act.u] = np.full(n_staff, top)
    min_post = options.min_post if options.min_post is not None else scenario.staff_post
    sp = staff_problem(scenario, graph, need=need, period_s=options.staff_period_s, n_periods=n_staff,
                       min_post=min_post, start_s=start_s,
                       posted=state.posted if state is not None else None)  # fmt: skip
    staff = solve_staff(sp, time_limit_s=max(1.0, params.time_limit_s), workers=params.workers, seed=params.seed,
                        deterministic=options.deterministic)
    final = first
    if staff.covered is None:
        return PlanResult(None, staff.status, None, None, time.perf_counter() - started, params.seed,
                          diagnosis=f"the staff model found no posting in {params.time_limit_s:g} s "
                                    f"({staff.status}); allow it more time")  # fmt: skip
    index = {r: k for k, r in enumerate(sp.requirements)}
    # One-way stairs no team can hold are left out (the simulation would not enforce them).
    unheld = [a for a in problem.one_ways
              if a.u not in index or not staff.covered[index[a.u]][sp.need[index[a.u]] > 0].all()]  # fmt: skip
    # A meter, or a hold in place, is possible where a team covers it throughout the period (none needed: none).
    covered = staff.covered

    def staffed(name: str) -> np.ndarray:
        k = index.get(name)
        return covered_periods(problem, None if k is None else covered[k], options.staff_period_s, n_staff)

    meterable = problem.meterable.copy()
    meterable[:] = [staffed(name) for name in problem.origins]
    holdable = problem.holdable.copy() if problem.holdable is not None else None
    if holdable is not None:
        holdable &= np.array([staffed(name) for name in problem.destinations]).reshape(holdable.shape)
    may_hold = problem.holdable  # where the plan may hold people, before the staff decide where it can
    held_first = first.held if first.held is not None else np.zeros((len(problem.destinations), 0))
    unstaffed_hold = holdable is not None and bool(((held_first > 0.5) & ~holdable).any())
    if not meterable.all() or unheld or unstaffed_hold:
        # The charges the first solve's last round still called for go in from the start (one solve fewer).
        first_problem = problem
        cuts = counterflow_cuts(problem, first)
        charged = problem if cuts is None else problem.with_counterflow(cuts)
        if unheld:
            rebuilt = flow_problem(scenario, graph=graph, options=options, seed=params.seed, state=state,
                                   leave_out=frozenset((a.u, a.v) for a in unheld))  # fmt: skip
            problem = rebuilt.with_counterflow(rebuilt.counterflow_of(charged))
        else:
            problem = charged
        problem = problem.with_meterable(meterable)
        if holdable is not None:
            problem = problem.with_holdable(holdable)
        kept_charges = problem.counterflow_of(first_problem)
        problem, final = _solve_with_friction(problem, budget)
        if final.objective is None and cuts is not None:
            # GLOP can fail on a problem it solves with other charges (the light show at seed 6 came back UNKNOWN
            # with the carried ones): the first solve's own charges then, and its rounds.
            wall, cpu = final.wall_s, final.cpu_s
            problem, final = _solve_with_friction(problem.with_counterflow(kept_charges), budget)
            final = replace(final, wall_s=final.wall_s + wall, cpu_s=final.cpu_s + cpu)
        if final.objective is None:
            return PlanResult(None, final.status, None, first.objective if first.status == "OPTIMAL" else None,
                              time.perf_counter() - started, params.seed,
                              diagnosis=f"the flow LP with the staffable controls only found no solution "
                                        f"({final.status}){_cap_note(final, budget)}")  # fmt: skip
    if holdable is not None:
        # Where a team can hold the area (a surge the LP let go that no team can pace stays a burst: `_unpaced_line`)
        problem = problem.with_holdable(holdable)
    # (A stair's one-way is made from the start, or from the state's time when re-planning.)
    actions: list[Any] = [*(a.model_copy(update={"at_s": max(a.at_s, start_s)}) for a in problem.one_ways),
                          *_meter_actions(problem, final, options), *_announce_actions(problem, final),
                          *_hold_actions(problem, final),
                          *_station_actions(problem, final)]  # fmt: skip
    if staff.x is not None:
        actions += _staff_actions(sp, staff, scenario)
    # Nothing after the scenario's end (the LP looked past it only so as not to rush people in at the end).
    end = scenario.clock.horizon_s
    actions = [a if getattr(a, "until_s", None) is None or a.until_s < end else a.model_copy(update={"until_s": None})
               for a in actions if a.at_s < end]  # fmt: skip
    rationale = describe(problem, first, final, staff, sp, scenario.clock)
    small = [f"{name} ({team.count})" for name, team in scenario.staff.items() if 0 < team.count < min_post]
    if small:
        rationale.append(f"warning: {', '.join(small)} cannot staff a post of {min_post} (the scenario's "
                         "staff_post): kept at base")  # fmt: skip
    if not actions:
        rationale.append("no control needed: the flows stay under the target density everywhere without metering, "
                         "one-way stairs or posts, so every team stays at its base")  # fmt: skip
    if unheld:
        rationale.append(f"one-way stairs left out: no team can hold {', '.join(sorted({a.u for a in unheld}))}")
    burst = unpaced_line(problem, final, may_hold, scenario.clock)
    if burst is not None:
        rationale.append(burst)
    details = {f"lp_{k}": float(v) for k, v in final.terms.items()}
    lp_wall += final.wall_s if final is not first else 0.0
    lp_cpu += final.cpu_s if final is not first else 0.0
    details.update({"periods": float(problem.n_periods), "lp_wall_s": lp_wall, "lp_cpu_s": lp_cpu,
                    "staff_wall_s": staff.wall_s})
    if staff.objective is not None and staff.bound is not None:
        # The staff model's own figures (its objective counts uncovered need, moves and metres walked).
        details.update({"staff_objective": float(staff.objective), "staff_bound": float(staff.bound)})
        rationale.append(f"staff model {staff.status}: objective {staff.objective:,.0f}, bound {staff.bound:,.0f}")
    status = "OPTIMAL" if final.status == "OPTIMAL" and staff.status == "OPTIMAL" else (
        "FEASIBLE" if final.objective is not None else final.status)  # fmt: skip
    # The first LP (every origin meterable) bounds the staffed one from below, if it was solved to optimality.
    bound = first.objective if first.status == "OPTIMAL" and final.status == "OPTIMAL" and not unheld else None
    result = PlanResult(None, status, final.objective, bound, time.perf_counter() - started, params.seed,
                        tuple(rationale), details=details)  # fmt: skip
    note = "; ".join(rationale[:2])
    plan = Plan.build(meta.model_copy(update={"note": note, "solver": result.plan_stats()}), actions)
    return replace(result, plan=plan)
