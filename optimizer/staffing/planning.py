"""The entry point: `plan_staffing(scenario, geometry, params=..., options=..., state=...) -> PlanResult`.

The problem (`problem`), the least makespan (`search`, first phase), walking and travel with it fixed (second
phase), the plan scored by the fluid model (`fluid`), and the plan, rationale and diagnosis (`explain`).
"""

from __future__ import annotations

import math
import time

from optimizer.result import PlanResult, SolveParams
from optimizer.solving import Budget
from optimizer.staffing.explain import _minutes, _names, diagnose, marginal_values, rationale, to_plan
from optimizer.staffing.fluid import score
from optimizer.staffing.problem import (
    DEFAULT_OPTIONS,
    DEFAULT_PARAMS,
    StaffingOptions,
    assignment_of,
    staffing_problem,
)
from optimizer.staffing.search import ABS_TOL_S, BISECTION, WALL_CAP_STAFFING, Formulation, _gap, second_phase
from scenarios.loading import scenario_hash
from scenarios.mass_testing import MassTestingGeometry, MassTestingState
from scenarios.plan import Plan, PlanMeta, SolverStats
from scenarios.schema import MassTestingScenario


def plan_staffing(
    scenario: MassTestingScenario,
    geometry: MassTestingGeometry | None = None,
    *,
    params: SolveParams = DEFAULT_PARAMS,
    options: StaffingOptions = DEFAULT_OPTIONS,
    state: MassTestingState | None = None,
    formulation: Formulation = BISECTION,
) -> PlanResult:
    """Testers to sites by wave and role, and zones to sites: the least makespan, then walking and travel.

    `objective` and `bound` are makespans in seconds after the start: the plan's, scored by the fluid model,
    and a proven lower bound (see the module docstring). `rationale` says what binds and what more would buy;
    `diagnosis` says how many testers the scenario's `thresholds.target_finish_s` needs when it cannot be met,
    or why there is no plan at all. `params.time_limit_s` bounds the solve; the marginal analysis and the
    diagnosis have budgets of their own (half of it, and all of it). Re-planned from a `state`, visitors keep
    their sites, the groups already sent are as sent, and the search starts from the plan in effect's groups.
    `formulation` is the first phase's search: the bisection, unless a benchmark measures another.
    """
    started = time.perf_counter()
    budget = Budget(params.time_limit_s, deterministic=options.deterministic, t0=started,
                    cap_factor=WALL_CAP_STAFFING)
    problem = staffing_problem(scenario, geometry, state=state)
    label = scenario.clock.label
    target = scenario.thresholds.target_finish_s
    details: dict[str, float] = {}

    def result(plan: Plan | None, status: str, objective: float | None, bound: float | None,
               lines: list[str], diagnosis: str | None) -> PlanResult:  # fmt: skip
        details["wall_s"] = time.perf_counter() - started
        if (note := budget.cap_note()) is not None:  # said, so that nobody takes the plan for reproducible
            lines = [*lines, f"staffing {note}"]
            details["wall_cap_hit"] = 1.0
        return PlanResult(plan=plan, status=status, objective=objective,
                          bound=float(bound) if bound is not None and math.isfinite(bound) else None,
                          wall_s=details["wall_s"], seed=params.seed, rationale=tuple(lines),
                          diagnosis=diagnosis, details={k: float(v) for k, v in details.items()})  # fmt: skip

    def diagnosis_by(finish_by_s: float) -> str:
        return diagnose(problem, finish_by_s, label=label, params=params, options=options,
                        budget=Budget(params.time_limit_s, deterministic=options.deterministic,
                                      cap_factor=WALL_CAP_STAFFING)).message

    if stuck := problem.stranded_zones():
        return result(None, "INFEASIBLE", None, None, [], f"visitors of {_names(stuck)} cannot walk to any test site")
    start = assignment_of(problem, state.groups) if state is not None else None
    search = formulation.search(problem, params=params, options=options, budget=budget, incumbent=start)
    details.update(phase1_s=time.perf_counter() - started, probes=len(search.probes), lp_makespan_s=search.lp_s)
    if search.best is None:
        if search.status == "INFEASIBLE":
            why = diagnosis_by(target if target is not None else scenario.clock.horizon_s)
        else:
            why = f"no plan found within the time limit of {params.time_limit_s:g} s"
        return result(None, search.status, None, search.lower_s, [], why)

    second = second_phase(search, params=params, options=options, budget=budget)
    outcome = score(problem, second.assignment)
    gap = _gap(outcome.makespan_s, search.lower_s)
    status = "OPTIMAL" if gap <= params.relative_gap or outcome.makespan_s - search.lower_s <= ABS_TOL_S else "FEASIBLE"
    details.update(phase2_s=time.perf_counter() - started - details["phase1_s"], makespan_s=outcome.makespan_s,
                   walk_visitor_s=outcome.walk_s, travel_tester_s=outcome.travel_s,
                   testers_sent=outcome.testers_sent)  # fmt: skip
    if second.objective is not None and second.bound is not None:
        details.update(secondary_objective=second.objective, secondary_bound=second.bound)
    terms = {"makespan_s": outcome.makespan_s, "walk_visitor_s": outcome.walk_s, "travel_tester_s": outcome.travel_s}
    meta = PlanMeta(
        scenario=scenario.name,
        scenario_hash=scenario_hash(scenario),
        produced_by=f"optimizer.staffing ({formulation.name}, {options.backend})",
        seed=params.seed,
        solver=SolverStats(status=status, objective=outcome.makespan_s, bound=search.lower_s, gap=gap),
        objective_terms={k: round(float(v), 3) for k, v in terms.items()},
        note=f"makespan first (fluid model); then walking and travel with it fixed: {second.status}",
    )
    plan = to_plan(problem, second.assignment, meta)
    lines, booth_sites = rationale(problem, outcome, search, label)
    if options.marginal:
        lines += marginal_values(search, options=options, booth_sites=booth_sites,
                                 budget=Budget(max(1.0, params.time_limit_s / 2), deterministic=options.deterministic,
                                                 cap_factor=WALL_CAP_STAFFING))
    diagnosis = None
    if target is not None:
        details["target_met"] = float(outcome.makespan_s <= target)
        if outcome.makespan_s <= target:
            lines.append(f"target {label(target)} met with {_minutes(target - outcome.makespan_s)} to spare")
        elif search.lower_s > target:
            diagnosis = diagnosis_by(target)
        else:
            lines.append(f"target {label(target)} not met by the best plan found, but not ruled out by the bound")
    return result(plan, status, outcome.makespan_s, search.lower_s, lines, diagnosis)
