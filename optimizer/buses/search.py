"""The search: phase 1 (fewest stranded, then the earliest last departure), the diagnosis, phase 2, and the
refinement from a coarser grid.

Objective, lexicographic, in two phases on CP-SAT (chosen by measurement against SCIP; benchmarks/README.md):
1. the fewest stranded riders (carried by no dispatch within the grid), then the earliest step by which
   everyone is carried: the last departure. Bounds: the last rider's arrival plus loading, the
   fleet-capacity flow bound (`optimizer.buses.bounds`), the LP relaxation (bisection: no plan clears by t
   where even the LP cannot), and CP-SAT's infeasibility proofs. Plans: CP-SAT feasibility probes "everyone
   carried by step t", by bisection from the bound to the best plan (the better of two greedy schedules
   first), restarted with new seeds (time to a first plan is heavy-tailed).
2. with phase 1's value kept: `wait_weight` per rider-minute waited plus `km_weight` per bus-km (BusOptions).
   Bound: the LP relaxation, then CP-SAT on the whole model; plans: CP-SAT, then large neighbourhoods
   (one window of time, or three destinations, re-planned with everything else fixed).
When the target is missed, `min_fleet` finds how many buses it would take (spare buses ready at the bays when
the fleet first could be). Bounds hold for the model on its grid. A finer grid loses less to rounding but is a
bigger model: `solve_coarse_to_fine` first solves phase 1 on a coarser grid and starts the fine search from
that plan (`regrid_schedule`: it stays feasible on the fine grid).

Time: `SolveParams.time_limit_s`, spent through a `Budget`. With `BusOptions.deterministic` (default) CP-SAT
runs one worker on its deterministic clock (about `DET_PER_S` units a second), so the same input gives the same
plan every run; otherwise it runs `workers` in parallel on the wall clock (better plans in the same time, not
reproducible). What a backend can do (restarts, neighbourhoods) it says itself (`optimizer.buses.backends`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.buses.backends import RELAXATION, Backend, NeighbourhoodBackend
from optimizer.buses.bounds import BusScore, greedy_schedule, own_bound, regrid_schedule, score_schedule
from optimizer.buses.forecast import EPS, BayForecast
from optimizer.buses.model import OBJECTIVE_SCALE, DispatchModel
from optimizer.buses.problem import DEFAULT_OPTIONS, BusOptions, BusProblem
from optimizer.result import SolveParams, relative_gap
from optimizer.solving import DET_PER_S, Budget

DEFAULT_PARAMS = SolveParams()
# The wall-clock safety cap of a deterministic bus search, as a multiple of its limit: building the models in
# Python is not charged to CP-SAT's deterministic clock and takes three times as long on a busy machine.
WALL_CAP_BUSES = 10.0


@dataclass(frozen=True)
class FleetNeed:
    """What the diagnosis found: the fewest buses that move everyone by the target, within proven limits."""

    at_least: int | None  # proven: fewer buses cannot (None: not even unlimited spare buses can)
    enough: int | None  # a fleet of this size does it in the model (None: not found in time)
    status: str
    dispatch: np.ndarray | None = None  # the plan that does it with no spare bus, if one was found


def min_fleet(problem: BusProblem, *, params: SolveParams, options: BusOptions = DEFAULT_OPTIONS,
              budget: Budget | None = None, fleet_fails: bool = False) -> FleetNeed:  # fmt: skip
    """The fewest buses to move everyone by the target: the fleet plus spares ready at the bays early.

    Spares are ready at each bay when the first bus of the fleet could reach it and may go to any bay, so no
    real spare does better: `at_least` is a proven lower bound (`fleet_fails`: the fleet alone is proven
    short, so at least one more).
    """
    p = problem
    budget = budget or Budget(params.time_limit_s, deterministic=options.deterministic, cap_factor=WALL_CAP_BUSES)
    floor = 1 if fleet_fails else 0
    # Everyone must have reached a bay by the target's last dispatch moment.
    if p.target_step < 0 or p.arrival_step is None or p.arrival_step > p.target_step:
        return FleetNeed(None, None, "INFEASIBLE")
    model = DispatchModel(p, backend=options.backend, clear_by=p.target_step, extra_buses=True)
    assert model.extra is not None
    model.m.minimise([(1, v) for v in model.extra.values()])  # As few spare buses as possible.
    status = model.m.solve(budget.left(), budget, params, gap=0.0)
    if status == "INFEASIBLE":
        return FleetNeed(None, None, status)
    if status in ("OPTIMAL", "FEASIBLE"):
        value, bound = model.m.objective()
        plan = model.schedule() if round(value) == 0 else None
        return FleetNeed(p.fleet + max(floor, math.ceil(bound - EPS)), p.fleet + round(value), status, plan)
    return FleetNeed(p.fleet + floor, None, status)


@dataclass(frozen=True)
class Probe:
    """One feasibility probe of the search: can everyone be carried by step `step`?"""

    step: int
    status: str
    wall_s: float


@dataclass(frozen=True)
class BusOutcome:
    """What `solve_buses` found: the schedule, its score, both phases' values and bounds, and the diagnosis."""

    problem: BusProblem
    dispatch: np.ndarray  # [bay, dest, j] buses sent
    score: BusScore
    status: str
    last_value: float  # phase 1, in buckets: stranded * (G + 1) + first all-clear index (G if none)
    last_bound: float
    last_bound_source: str
    wait_value: float  # phase 2: weighted rider-minutes waited + weighted bus-km
    wait_bound: float | None
    phase_status: tuple[str, str]
    probes: tuple[Probe, ...] = ()
    need: FleetNeed | None = None
    missed: bool = False  # the target is not met by this schedule
    proven_missed: bool = False  # and no schedule meets it
    phase1_s: float = 0.0  # wall seconds until phase 1 ended
    phase2_s: float = 0.0
    neighbourhoods: int = 0  # phase 2's large-neighbourhood steps
    cap_note: str | None = None  # set when a deterministic search was stopped by its wall-clock safety cap

    def minutes(self, buckets: float) -> float:
        """Phase 1 in minutes after the start: the last departure (plus G + 1 buckets a stranded rider)."""
        p = self.problem
        return (p.start_s + p.load_s + buckets * p.bucket_s) / 60


def _phase1_value(p: BusProblem, score: BusScore) -> float:
    g = p.n_steps
    return float(score.stranded * (g + 1) + (score.last_step if score.last_step is not None else g))


@dataclass
class _Phase1:
    best: np.ndarray
    value: float
    bound: float
    source: str
    status: str
    probes: list[Probe] = field(default_factory=list)


def _fewest_stranded(p: BusProblem, one: _Phase1, *, params: SolveParams, options: BusOptions, budget: Budget,
                     until: float) -> _Phase1:  # fmt: skip
    """Phase 1 when someone may be stranded: the most riders carried within the grid."""
    g = p.n_steps
    model = DispatchModel(p, backend=options.backend)
    model.hint_schedule(one.best)
    terms, const = model.stranded_terms()
    model.m.minimise(terms, const)  # As few riders stranded as possible.
    status = model.m.solve(budget.left(until), budget, params, gap=0.0)
    if status in ("OPTIMAL", "FEASIBLE"):
        best = model.schedule()
        value = _phase1_value(p, score_schedule(p, best))
        if value < one.value:
            one.best, one.value = best, value
        lowest = math.ceil(model.m.objective()[1] - EPS)
        if lowest > 0 and lowest * (g + 1) + g > one.bound:
            one.bound, one.source = float(lowest * (g + 1) + g), f"{_solver_name(options)}'s bound on stranded riders"
    one.status = status
    return one


def _earliest_clear(p: BusProblem, one: _Phase1, *, params: SolveParams, options: BusOptions, budget: Budget,
                    until: float) -> _Phase1:  # fmt: skip
    """Phase 1 when everyone can be carried: can they all be carried by step t?

    First the LP relaxation, by bisection: where even it cannot clear by t, no plan can (clearing by t
    would clear by any later step too), which raises the bound. Then CP-SAT from there up, with half the
    time left each: a plan found lowers the best step to the plan's; a proof of infeasibility raises the
    bound; a probe out of time is passed over.
    """
    lo, hi = math.ceil(one.bound - EPS), int(one.value)  # no plan clears before lo; the best clears at hi
    started = time.perf_counter()
    a, b = lo, hi  # the LP is infeasible before a (proven) and feasible at b (hi itself is feasible)
    while a < b:
        mid = (a + b) // 2
        relaxed = DispatchModel(p, backend=RELAXATION, clear_by=mid)
        if relaxed.m.solve(budget.left(), budget, params, gap=0.0) == "INFEASIBLE":
            a = mid + 1
        else:
            b = mid
    if a > lo:
        one.probes.append(Probe(a - 1, "LP_INFEASIBLE", time.perf_counter() - started))
        lo = a
        one.bound, one.source = float(lo), f"the LP relaxation cannot clear by step {lo - 1}"
    # CP-SAT probes by bisection between the highest step not ruled out and the best plan's step.
    # When the bisection is done and time is left, the step just below the best is tried again (new seeds).
    soft = lo  # below this, no plan (proven) or none found in time
    attempts: dict[int, int] = {}
    while lo < hi and budget.left(until) > 0:
        trial = (soft + hi) // 2 if soft < hi else hi - 1
        started = time.perf_counter()
        model = DispatchModel(p, backend=options.backend, clear_by=trial)
        model.hint_schedule(one.best)
        probes_left = max(1, math.ceil(math.log2(hi - soft + 1))) if soft < hi else 1
        status, attempts[trial] = _probe(model, budget.left(until) / probes_left, budget, params,
                                         first=attempts.get(trial, 0))  # fmt: skip
        one.probes.append(Probe(trial, status, time.perf_counter() - started))
        if status in ("OPTIMAL", "FEASIBLE"):
            best = model.schedule()
            value = _phase1_value(p, score_schedule(p, best))
            if value < one.value:
                one.best, one.value = best, value
            hi = min(hi, int(value))
        elif status == "INFEASIBLE":
            lo = soft = trial + 1
            one.bound, one.source = float(lo), f"{_solver_name(options)} proved no plan clears by step {trial}"
        else:
            soft = trial + 1
    one.status = "OPTIMAL" if lo >= hi else "FEASIBLE"
    return one


def _probe(model: DispatchModel, amount: float, budget: Budget, params: SolveParams, *,
           first: int = 0) -> tuple[str, int]:  # fmt: skip
    """Can the model be satisfied? Restarts with the next seed and twice the time, in a fixed sequence.

    CP-SAT's time to a first plan here is heavy-tailed (0.3 s or over 4 s by seed on the Disney case), so
    short runs with new seeds find plans sooner than one long run. `first`: the attempts made before (their
    seeds are not tried again). Returns the status and the attempts made in all.
    """
    if not model.m.restarts:
        return model.m.solve(amount, budget, params, gap=0.0), first + 1
    end = budget.used() + amount
    status, attempt = "UNKNOWN", first
    step = 0.5 * (DET_PER_S if budget.deterministic else 1.0) * 2 ** min(first, 4)
    while status not in ("OPTIMAL", "FEASIBLE", "INFEASIBLE") and budget.left(end) > 1e-3:
        status = model.m.solve(min(step, budget.left(end)), budget, replace(params, seed=params.seed + attempt),
                               gap=0.0)  # fmt: skip
        attempt, step = attempt + 1, 2 * step
    return status, attempt


def _solver_name(options: BusOptions) -> str:
    return options.backend.replace("_", "-")


@dataclass
class _Phase2:
    best: np.ndarray
    value: float  # weighted rider-minutes + weighted bus-km
    bound: float | None
    status: str
    neighbourhoods: int = 0


def _improve(p: BusProblem, start: np.ndarray, *, last_step: int | None, stranded: int, params: SolveParams,
             options: BusOptions, budget: Budget) -> _Phase2:  # fmt: skip
    """Phase 2: least weighted waiting and km keeping phase 1's value, then a bound.

    The LP relaxation gives a first bound; CP-SAT on the whole model (a quarter of the time) a better bound
    and maybe a better plan; then large neighbourhoods: CP-SAT re-plans one window of time (a third of the
    grid), or a few destinations over the whole grid, with every other dispatch fixed, until time is up.
    """

    def build(backend: Backend) -> DispatchModel:
        if last_step is not None:
            model = DispatchModel(p, backend=backend, clear_by=last_step)
        else:
            model = DispatchModel(p, backend=backend)
            terms, const = model.stranded_terms()
            model.keep_at_most(terms, const, stranded)  # No more riders stranded than in phase 1.
        model.m.minimise(*model.wait_km_terms(options))  # Weighted rider-minutes waited and bus-km.
        return model

    out = _Phase2(start, _wait_km(score_schedule(p, start), options), None, "UNKNOWN")

    def offer(model: DispatchModel) -> None:
        if model.m.status in ("OPTIMAL", "FEASIBLE"):
            cand = model.schedule()
            value = _wait_km(score_schedule(p, cand), options)
            if value < out.value - 1e-9:
                out.best, out.value = cand, value

    relaxed = build(RELAXATION)
    if relaxed.m.solve(budget.left(), budget, params, gap=0.0) == "OPTIMAL":
        out.bound = relaxed.m.objective()[1] / OBJECTIVE_SCALE
    model = build(options.backend)
    model.hint_schedule(out.best)
    status = model.m.solve(0.25 * budget.left(), budget, params, gap=params.relative_gap)
    offer(model)
    if status in ("OPTIMAL", "FEASIBLE"):
        bound = model.m.objective()[1] / OBJECTIVE_SCALE
        out.bound = bound if out.bound is None else max(out.bound, bound)
    out.status = status
    m = model.m
    if not isinstance(m, NeighbourhoodBackend) or _within(out, params) or budget.left() <= 0:
        return out

    # Large neighbourhoods in a fixed order, their width adapted to how the last one went (so that a
    # deterministic budget gives the same plan every run): wider after a window solved to optimality,
    # narrower after one that ran out of time.
    g = model.problem.n_steps
    width = max(4, math.ceil(g / 3))
    dests = sorted({k for _, k in model.pairs})
    domains = {key: (0, m.domain_max(v)) for key, v in model.n.items()}
    cap = 2.0 * (DET_PER_S if budget.deterministic else 1.0)
    k, j0, r = 0, 0, 0
    while budget.left() > 0.01 and not _within(out, params):
        k += 1
        if len(dests) > 3 and k % 4 == 0:  # every fourth: three destinations over the whole grid
            chosen, steps = {dests[(r + q) % len(dests)] for q in range(3)}, range(g)
            r += 2
        else:  # a window of time, all destinations
            chosen, steps = set(dests), range(j0, j0 + width)
            j0 = j0 + max(1, width // 2) if j0 + width < g else 0
        for (i, d, j), v in model.n.items():
            free = d in chosen and j in steps
            lo, hi = domains[(i, d, j)] if free else (int(out.best[i, d, j]),) * 2
            m.set_domain(v, lo, hi)
        model.hint_schedule(out.best)
        status = model.m.solve(cap, budget, params, gap=0.0)
        offer(model)
        width = min(g, math.ceil(1.25 * width)) if status == "OPTIMAL" else max(4, math.floor(0.7 * width))
    out.neighbourhoods = k
    if out.status == "OPTIMAL" and out.bound is not None and out.value > out.bound + 1e-6:
        out.status = "FEASIBLE"
    return out


def _within(two: _Phase2, params: SolveParams) -> bool:
    gap = relative_gap(two.value, two.bound)
    return gap is not None and gap <= params.relative_gap + EPS


def solve_buses(problem: BusProblem, *, params: SolveParams = DEFAULT_PARAMS, options: BusOptions = DEFAULT_OPTIONS,
                starts: Sequence[np.ndarray] = ()) -> BusOutcome:  # fmt: skip
    """Phase 1 (stranded, then the last departure), the diagnosis if the target is missed, then phase 2.

    The search starts from the best of the two greedy schedules and `starts` (schedules on this problem's grid,
    e.g. a coarser grid's plan through `regrid_schedule`); a start that needs more buses than there are is
    ignored."""
    p = problem
    budget = Budget(params.time_limit_s, deterministic=options.deterministic, cap_factor=WALL_CAP_BUSES)
    for n, given in enumerate(starts):
        if np.shape(given) != p.riders.shape:
            raise ValueError(f"starts[{n}]: shape {np.shape(given)} is not the problem's {p.riders.shape}")
    scored = [(g, score_schedule(p, g)) for g in (greedy_schedule(p), greedy_schedule(p, "shortest_cycle"))]
    scored += [(g, sc) for g in starts if (sc := score_schedule(p, np.asarray(g, dtype=np.int64))).fleet_shortfall == 0]
    greedy, gscore = min(scored, key=lambda pair: _phase1_value(p, pair[1]))  # the first plan: the best start
    bound, source = own_bound(p)
    one = _Phase1(greedy, _phase1_value(p, gscore), bound, source, "FEASIBLE")
    nothing = p.riders_total == 0 or p.n_steps == 0
    if nothing:
        one.bound, one.source = one.value, "nothing to decide"

    # Phase 1: fewest stranded, then the earliest moment everyone is carried.
    until = budget.mark(min(1.0, max(0.05, options.first_phase_share)))
    if one.bound < one.value - EPS:
        if gscore.stranded or one.bound > p.n_steps:
            one = _fewest_stranded(p, one, params=params, options=options, budget=budget, until=until)
        if score_schedule(p, one.best).stranded == 0 and one.bound < one.value - EPS:
            one = _earliest_clear(p, one, params=params, options=options, budget=budget, until=until)
    if one.bound >= one.value - EPS:
        one.status = "OPTIMAL"
        one.source += " (met: optimal)" if "proved" not in one.source and "cannot" not in one.source else ""
    phase1_s = budget.wall()
    dispatch, score = one.best, score_schedule(p, one.best)

    # The target: met, missed by this plan, or missed by every plan (then: how many buses it would take).
    missed = score.stranded > 0 or (score.last_step is not None and score.last_step > p.target_step)
    proven_missed = missed and one.bound > p.target_step + EPS
    need = None
    if missed and options.diagnose:
        sub = Budget(0.5 * budget.left() / (DET_PER_S if budget.deterministic else 1.0) + 0.05,
                     deterministic=budget.deterministic, cap_factor=WALL_CAP_BUSES)  # fmt: skip
        need = min_fleet(p, params=params, options=options, budget=sub, fleet_fails=proven_missed)
        budget.det_used += sub.det_used
        if need.dispatch is not None:  # the fleet meets the target after all: a better phase 1 plan
            value = _phase1_value(p, score_schedule(p, need.dispatch))
            if value < one.value:
                one.best, one.value = need.dispatch, value
                one.status = "OPTIMAL" if one.bound >= value - EPS else "FEASIBLE"
                dispatch, score = one.best, score_schedule(p, one.best)
                missed = score.stranded > 0 or (score.last_step is not None and score.last_step > p.target_step)

    # Phase 2: phase 1's value kept (the same last step, or no more stranded); weighted waiting and bus-km.
    two = _Phase2(dispatch, _wait_km(score, options), None, "UNKNOWN")
    if not nothing and options.improve and budget.left() > 0:
        two = _improve(p, dispatch, last_step=score.last_step if score.stranded == 0 else None,
                       stranded=score.stranded, params=params, options=options, budget=budget)  # fmt: skip
        dispatch, score = two.best, score_schedule(p, two.best)
    elif nothing:
        two.bound, two.status = two.value, "OPTIMAL"
    gap1 = relative_gap(*(p.start_s + p.load_s + p.bucket_s * v for v in (one.value, one.bound)))
    within = gap1 is not None and gap1 <= params.relative_gap + EPS and _within(two, params)
    status = "INFEASIBLE" if proven_missed else "OPTIMAL" if within else "FEASIBLE"
    return BusOutcome(
        problem=p, dispatch=dispatch, score=score, status=status, last_value=one.value, last_bound=one.bound,
        last_bound_source=one.source, wait_value=two.value, wait_bound=two.bound,
        phase_status=(one.status, two.status), probes=tuple(one.probes), need=need, missed=missed,
        proven_missed=proven_missed, phase1_s=phase1_s, phase2_s=budget.wall() - phase1_s,
        neighbourhoods=two.neighbourhoods, cap_note=budget.cap_note(),
    )  # fmt: skip


def _wait_km(score: BusScore, options: BusOptions) -> float:
    return options.wait_weight * score.wait_rider_s / 60 + options.km_weight * score.bus_km


def solve_coarse_to_fine(
    problem_on: Callable[..., BusProblem],
    forecast: BayForecast,
    *,
    coarse_s: float | None,
    params: SolveParams,
    options: BusOptions,
) -> tuple[BusProblem, BusOutcome, BusOutcome | None]:
    """Solve on the forecast's grid, first on a coarser one when `coarse_s` is given: (problem, outcome, coarse).

    `problem_on(forecast, min_steps=0)` builds the problem on a forecast's grid. `coarse_s` (seconds, a multiple of
    the forecast's bucket): phase 1 only on that grid, with `options.coarse_share` of the time limit; its plan is
    one of the starts of the search on the forecast's grid, which has the rest.
    """
    step = forecast.bucket_s
    times = coarse_s / step if coarse_s is not None and math.isfinite(coarse_s) and coarse_s > 0 else 0.0
    if coarse_s is not None and not (round(times) >= 1 and abs(times - round(times)) < 1e-9):
        raise ValueError(f"coarse_s: {coarse_s!r} must be a positive multiple of the forecast's bucket ({step:g} s)")
    if coarse_s is None or round(times) == 1:
        problem = problem_on(forecast)
        return problem, solve_buses(problem, params=params, options=options), None
    share = min(0.95, max(0.05, options.coarse_share))
    rough = problem_on(forecast.after(forecast.start_s, coarse_s))
    first = solve_buses(rough, params=replace(params, time_limit_s=share * params.time_limit_s),
                        options=replace(options, diagnose=False, improve=False, first_phase_share=1.0))  # fmt: skip
    used = np.flatnonzero(first.dispatch.sum(axis=(0, 1)))
    reach = 0 if used.size == 0 else round((rough.t(int(used[-1])) - forecast.start_s) / step) + 1
    problem = problem_on(forecast, min_steps=reach)
    out = solve_buses(problem, params=replace(params, time_limit_s=(1 - share) * params.time_limit_s),
                      options=options, starts=[regrid_schedule(first.dispatch, rough, problem)])  # fmt: skip
    return problem, out, first
