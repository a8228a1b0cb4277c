"""A staffing in the planners' terms: the plan actions, the rationale (what binds, what more would buy) and the
diagnosis (how many testers a finish time needs, or why no number can)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from optimizer.result import SolveParams
from optimizer.solving import Budget
from optimizer.staffing.fluid import FluidOutcome, _nearest_site
from optimizer.staffing.model import FluidModel
from optimizer.staffing.problem import (
    DEFAULT_OPTIONS,
    DEFAULT_PARAMS,
    Assignment,
    StaffingOptions,
    StaffingProblem,
    staffing_problem,
)
from optimizer.staffing.search import LP_S, PROBE_NODES, WALL_CAP_STAFFING, LpSearch, Search, _gap, charge
from scenarios.mass_testing import MassTestingGeometry
from scenarios.plan import AssignStaff, Plan, PlanMeta, RouteVisitors
from scenarios.schema import MassTestingScenario


def to_plan(problem: StaffingProblem, a: Assignment, meta: PlanMeta) -> Plan:
    """Plan actions: one AssignStaff per (pool, wave, site, role), one RouteVisitors per (zone, site)."""
    actions: list[Any] = []
    for (g, s, r), n in sorted(a.x.items()):
        if n > 0:
            wave = problem.waves[g]
            pool = problem.pools[wave.pool].name
            actions.append(AssignStaff(at_s=problem.pools[wave.pool].scheduled_s(wave.index), pool=pool,
                                       to=problem.sites[s], count=n, role=r,
                                       wave=wave.index))  # fmt: skip
    routed = {z for (z, _), v in a.y.items() if v > 0}
    for (z, s), v in sorted(a.y.items()):
        if v > 0:
            actions.append(RouteVisitors(at_s=0.0, origin=problem.zones[z], to=problem.sites[s], share=v))
    for z in range(len(problem.zones)):
        if z not in routed:  # nobody there now: the nearest site, for anyone who turns up
            site = problem.sites[_nearest_site(problem, z)]
            actions.append(RouteVisitors(at_s=0.0, origin=problem.zones[z], to=site, share=1.0))
    return Plan.build(meta, actions)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def _names(items: list[str], most: int = 4) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def rationale(problem: StaffingProblem, outcome: FluidOutcome, search: Search,
              label: Callable[[float], str]) -> tuple[list[str], list[int]]:  # fmt: skip
    """What binds, in words; and the booth-bound bottleneck sites (for the marginal analysis)."""
    end = outcome.makespan_s
    lines = [
        f"last visitor swabbed at {label(end)}, {_minutes(end)} after the start (fluid model); no plan finishes "
        f"before {label(search.lower_s)} ({search.lower_source}); gap {100 * _gap(end, search.lower_s):.2f}%"
    ]
    near = max(60.0, 0.002 * end)
    late = [s for s in range(len(problem.sites)) if outcome.site_finish_s[s] >= end - near]
    booth: list[int] = []
    tester: list[int] = []
    for s in sorted(late, key=lambda s: (-outcome.booth_bound_s[s], problem.sites[s])):
        busy = outcome.site_finish_s[s] - outcome.staffed_from_s[s]
        (booth if busy > 0 and outcome.booth_bound_s[s] >= 0.5 * busy else tester).append(s)
    parts = []
    if booth:
        sites = _names([problem.sites[s] for s in booth])
        parts.append(f"booths bind at {sites} (every booth staffed at least half the time)")
    if tester:
        parts.append(f"testers bind at {_names([problem.sites[s] for s in tester])}")
    lines.append(f"bottleneck: {len(late)} of {len(problem.sites)} sites finish within {_minutes(near)} of the "
                 "last; " + "; ".join(parts))  # fmt: skip
    if (visitors := float(problem.mass.sum())) > 0:
        lines.append(f"visitors walk {outcome.walk_s / visitors / 60:.1f} min on average to their site")
    travel = outcome.travel_s / max(1, outcome.testers_sent)
    lines.append(f"{outcome.testers_sent} of {problem.testers} testers sent; they travel {_minutes(travel)} "
                 "on average")  # fmt: skip
    return lines, booth[:2]


def marginal_values(search: Search, *, options: StaffingOptions, booth_sites: list[int], budget: Budget) -> list[str]:
    """What more buys: the LP relaxation's least makespan re-found with more testers in each pool, or a booth more
    at the booth-bound bottleneck sites (the base and each variant to the same tolerance, on the same LP)."""
    lp, bracket = search.lp, search.lp_bracket
    if lp is None or bracket is None or not math.isfinite(bracket[1]):
        return []
    lp.budget = budget
    tol = 1e-4
    lp.model.what_if()
    base = lp.threshold(tol=tol, lo=bracket[0], hi=bracket[1])
    if base is None or not math.isfinite(base[1]):
        return []
    problem, n = lp.problem, options.extra_testers
    variants: list[tuple[str, dict[str, int]]] = [
        (f"{n} more {pool.name} testers", {"pool": p, "testers": n})
        for p, pool in enumerate(problem.pools)
        if pool.n_waves > 0
    ]
    variants += [(f"one more booth at {problem.sites[s]}", {"site": s, "booths": 1}) for s in booth_sites]
    out = []
    for label, change in variants:
        if budget.left() <= 0:
            out.append("what more would buy: not computed (out of time)")
            break
        lp.model.what_if(**change)
        found = lp.threshold(tol=tol, lo=base[0], hi=base[1])
        if found is None or not math.isfinite(found[1]):
            continue
        gain = base[1] - found[1]
        if gain >= 30:
            out.append(f"{label} would finish about {_minutes(gain)} earlier (LP relaxation re-solved)")
        else:
            out.append(f"{label} would not finish noticeably earlier (LP relaxation re-solved)")
    lp.model.what_if()
    return out


@dataclass(frozen=True)
class StaffingDiagnosis:
    """How many testers a finish time needs."""

    finish_by_s: float
    available: int
    needed: int | None  # proven: fewer testers cannot finish by then (None: no number of testers can)
    found: int | None  # testers in the leanest plan found that finishes by then
    earliest_s: float | None  # when no number can: no plan finishes before this, even with unlimited testers
    message: str


def _unlimited(problem: StaffingProblem, finish_by_s: float) -> StaffingProblem:
    """The problem with waves as large as could ever be useful and no limit on a pool's testers."""
    shift = min((p.shift_s for p in problem.pools), default=1.0)
    slots = sum(problem.booths) * sum(n for _, n in problem.per_booth)
    return replace(problem, unlimited_waves=max(1, slots * (math.ceil(finish_by_s / shift) + 1)))


def diagnose(problem: StaffingProblem, finish_by_s: float, *, label: Callable[[float], str], params: SolveParams,
             options: StaffingOptions, budget: Budget) -> StaffingDiagnosis:  # fmt: skip
    """The fewest testers that finish by `finish_by_s`, leaving on the pools' schedules in groups of any size.

    The same model with every wave unlimited and no pool limits, minimising the testers sent: the LP's value
    and the MIP's bound prove that fewer cannot finish in time; the MIP's plan shows that its number can.
    """
    available, when = problem.testers, label(finish_by_s)
    if stuck := problem.stranded_zones():
        message = f"visitors of {_names(stuck)} cannot walk to any test site"
        return StaffingDiagnosis(finish_by_s, available, None, None, None, message)
    big = _unlimited(problem, finish_by_s)
    lp = FluidModel(big, integer=False)
    lp.set_makespan(finish_by_s)
    lp.minimise_testers()
    lp_status = lp.solve(max(0.01, budget.seconds_left()))
    charge(budget, lp, LP_S)
    if lp_status != "OPTIMAL":
        found = LpSearch(big, budget=budget).threshold(tol=1e-3)
        earliest = None if found is None else found[0]
        walks = [float(np.min(big.walk[z])) for z in range(len(big.zones)) if big.mass[z] > 0]
        why = ("visitors are still walking to their sites" if walks and max(walks) >= finish_by_s
               else "the booths and the testers' call-up and travel times bind")  # fmt: skip
        tail = f"; even unlimited testers finish no earlier than {label(earliest)}" if earliest else ""
        message = f"cannot finish by {when} with any number of testers{tail} ({why})"
        return StaffingDiagnosis(finish_by_s, available, None, None, earliest, message)
    bound = lp.objective()[0]
    mip = FluidModel(big, integer=True, backend=options.backend, params=params)
    mip.set_makespan(finish_by_s)
    mip.minimise_testers()
    if budget.deterministic:
        mip.node_limit = PROBE_NODES
    found_n: int | None = None
    if mip.solve(max(0.01, budget.seconds_left())) in ("OPTIMAL", "FEASIBLE"):
        value, best_bound = mip.objective()
        found_n, bound = round(value), max(bound, best_bound)
    needed = max(0, math.ceil(bound - 1e-6))
    are = "is" if available == 1 else "are"
    if needed > available:
        message = f"needs at least {_plural(needed, 'tester')} to finish by {when}; {available} {are} available"
    else:
        message = (f"finishing by {when} needs at least {_plural(needed, 'tester')} and {available} {are} "
                   "available, but not in the groups and roles the pools can send in time")  # fmt: skip
    if found_n is not None and found_n > needed:
        message += f" (the leanest plan found uses {found_n})"
    return StaffingDiagnosis(finish_by_s, available, needed, found_n, None, message)


def diagnose_staffing(scenario: MassTestingScenario, geometry: MassTestingGeometry | None = None, *,
                      finish_by_s: float | None = None, params: SolveParams = DEFAULT_PARAMS,
                      options: StaffingOptions = DEFAULT_OPTIONS) -> StaffingDiagnosis:  # fmt: skip
    """How many testers finishing by `finish_by_s` needs (by default the scenario's target, else its horizon)."""
    if finish_by_s is None:
        finish_by_s = scenario.thresholds.target_finish_s
    if finish_by_s is None:
        finish_by_s = scenario.clock.horizon_s
    problem = staffing_problem(scenario, geometry)
    return diagnose(problem, finish_by_s, label=scenario.clock.label, params=params, options=options,
                    budget=Budget(params.time_limit_s, deterministic=options.deterministic,
                                  cap_factor=WALL_CAP_STAFFING))  # fmt: skip
