"""From the search's outcome to what the commander sees: `plan_buses` (the door: scenario and forecast in,
`PlanResult` out), the plan's `DispatchBus` actions, its rationale, its numbers, and the diagnosis when the
target is missed.

`PlanResult.objective` is phase 1 in minutes after the scenario's start (the last departure, plus G + 1
buckets for each stranded rider), its bound the best proven one; phase 2's objective, bound and gap are in
`details`. No solver object reaches this module: it reads `BusOutcome` (`optimizer.buses.search`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from optimizer.buses.bounds import BusScore
from optimizer.buses.forecast import BayForecast, geometry_of
from optimizer.buses.problem import DEFAULT_OPTIONS, BusOptions, BusProblem, bus_problem
from optimizer.buses.search import DEFAULT_PARAMS, BusOutcome, solve_coarse_to_fine
from optimizer.result import PlanResult, SolveParams, relative_gap
from scenarios.mass_testing import BusState, MassTestingGeometry
from scenarios.plan import DispatchBus, Plan, PlanMeta, SolverStats
from scenarios.schema import MassTestingScenario


def plan_buses(
    scenario: MassTestingScenario,
    forecast: BayForecast,
    geometry: MassTestingGeometry | None = None,
    *,
    params: SolveParams = DEFAULT_PARAMS,
    options: BusOptions = DEFAULT_OPTIONS,
    target_s: float | None = None,
    state: BusState | None = None,
    coarse_s: float | None = None,
) -> PlanResult:
    """Dispatch the scenario's buses against a bay forecast: last departure first, then waiting, then bus-km.

    `target_s` (seconds after the start; default the horizon) is when the last rider should have left. When
    no plan meets it the status is INFEASIBLE, the diagnosis says how many buses it would take, and the plan
    is the best effort (fewest stranded, then the earliest last departure). `state`: re-plan from a
    simulated moment (riders waiting and buses where they are at `forecast.start_s`).

    `coarse_s`: a coarser grid (seconds, a multiple of the forecast's bucket) to solve first, phase 1 only, with
    `options.coarse_share` of the time limit. Its plan is one of the starts of the search on the forecast's
    grid, which has the rest: a fine grid loses less to rounding, a coarse one finds good plans sooner.
    """
    from scenarios.loading import scenario_hash

    started = time.perf_counter()
    geo = geometry if geometry is not None else geometry_of(scenario)

    def problem_on(fc: BayForecast, min_steps: int = 0) -> BusProblem:
        return bus_problem(scenario, fc, geo, placement=options.placement, boarding=options.boarding,
                           target_s=target_s, state=state, min_steps=min_steps)  # fmt: skip

    problem, out, first = solve_coarse_to_fine(problem_on, forecast, coarse_s=coarse_s, params=params,
                                               options=options)  # fmt: skip
    coarse_lines: tuple[str, ...] = ()
    if first is not None and coarse_s is not None:
        gone = first.score.last_departure_s
        was = "" if gone is None else f" (last rider departs at {scenario.clock.label(gone)})"
        coarse_lines = (f"started from a plan on the {coarse_s / 60:g}-min grid{was}",)
    wall = time.perf_counter() - started
    objective, bound = out.minutes(out.last_value), out.minutes(out.last_bound)
    details = outcome_details(out, options)
    # No wall time in the plan: the same plan has the same digest however busy the machine was.
    stats = SolverStats(status=out.status, objective=objective, bound=bound, gap=relative_gap(objective, bound))
    meta = PlanMeta(
        scenario=scenario.name,
        scenario_hash=scenario_hash(scenario),
        produced_by="optimizer.buses",
        state_time_s=forecast.start_s,
        seed=params.seed,
        solver=stats,
        objective_terms={k: details[k] for k in ("last_departed_min", "stranded_riders", "wait_rider_min", "bus_km")},
        note=(f"buses: last departure first, then waiting ({options.wait_weight:g} per rider-minute) and bus-km "
              f"({options.km_weight:g} per km); {problem.bucket_s / 60:g}-min grid"),
    )  # fmt: skip
    return PlanResult(
        plan=Plan.build(meta, dispatch_actions(problem, out.dispatch, out.score)),
        status=out.status,
        objective=objective,
        bound=bound,
        wall_s=wall,
        seed=params.seed,
        rationale=(*rationale(out, scenario.clock.label), *coarse_lines,
                   *(note for note in (first.cap_note if first is not None else None, out.cap_note) if note)),
        diagnosis=diagnosis(out, scenario.clock.label),
        details=details,
    )


def dispatch_actions(problem: BusProblem, dispatch: np.ndarray, score: BusScore | None = None) -> list[DispatchBus]:
    """The schedule as plan actions: `count` buses from a bay to a destination at each dispatch moment."""
    p = problem
    out = []
    for j in range(p.n_steps):
        for i, bay in enumerate(p.bays):
            for k, dest in enumerate(p.destinations):
                n = int(dispatch[i, k, j])
                if n > 0:
                    note = f"~{int(score.carried[i, k, j])} riders" if score is not None else ""
                    out.append(DispatchBus(at_s=p.t(j), origin=bay, to=dest, count=n, note=note))
    return out


def outcome_details(out: BusOutcome, options: BusOptions) -> dict[str, float]:
    """The outcome's numbers by name (all finite): KPI estimates, phase 2's value and bound, the fleet needed."""
    p, s = out.problem, out.score
    carried = p.riders_total - s.stranded
    d: dict[str, float] = {
        "riders": float(p.riders_total),
        "fleet": float(p.fleet),
        "bucket_s": p.bucket_s,
        "steps": float(p.n_steps),
        "stranded_riders": float(s.stranded),
        "last_departed_min": (s.last_departure_s if s.last_departure_s is not None else p.horizon_s) / 60,
        "wait_rider_min": s.wait_rider_s / 60,
        # From reaching the bay to leaving: the model's waiting, half a bucket before t_j on average, and loading.
        "mean_wait_min": (s.wait_rider_s + carried * (p.bucket_s / 2 + p.load_s)) / max(1, carried) / 60,
        "bus_km": s.bus_km + p.positioning_km,
        "trips": float(s.trips),
        "peak_buses_out": float(s.max_out),
        # The last rider's arrival plus loading: no plan on the grid has everyone leave sooner.
        "arrival_bound_min": (p.t(p.arrival_step) + p.load_s if p.arrival_step is not None else p.horizon_s) / 60,
        "phase2_objective": out.wait_value,
        "wait_weight": options.wait_weight,
        "km_weight": options.km_weight,
    }
    if out.wait_bound is not None:
        d["phase2_bound"] = out.wait_bound
        gap = relative_gap(out.wait_value, out.wait_bound)
        if gap is not None:
            d["phase2_gap"] = gap
    if out.need is not None:
        if out.need.at_least is not None:
            d["buses_needed_at_least"] = float(out.need.at_least)
        if out.need.enough is not None:
            d["buses_enough"] = float(out.need.enough)
    return d


def rationale(out: BusOutcome, label: Any = None) -> tuple[str, ...]:
    """A few lines for the commander: when the last rider leaves, what bounds it, what the fleet does."""
    p, s = out.problem, out.score
    when = label or _offset_label
    lines = []
    if s.last_departure_s is not None:
        arrive = p.arrival_step
        after = "" if arrive is None else f", {(s.last_departure_s - p.t(arrive)) / 60:.0f} min after the last arrival"
        lines.append(f"last rider departs at {when(s.last_departure_s)}{after}")
    if s.stranded:
        lines.append(f"{s.stranded} riders cannot be carried by {when(p.horizon_s)}")
    else:
        lines.append(f"no plan on the {p.bucket_s / 60:g}-min grid has the last rider leave before "
                     f"{when(out.minutes(out.last_bound) * 60)} (bound: {out.last_bound_source})")  # fmt: skip
    buses = f"{p.fleet} bus{'es' if p.fleet != 1 else ''}"
    lines.append(f"{s.trips} trips by {buses}, at most {s.max_out} on the road at once; "
                 f"{s.bus_km + p.positioning_km:.0f} bus-km")  # fmt: skip
    for k, dest in enumerate(p.destinations):
        trips = int(out.dispatch[:, k, :].sum())
        if trips:
            lines.append(f"{dest}: {trips} trips, {int(s.carried[:, k, :].sum())} riders")
    return tuple(lines)


def diagnosis(outcome: BusOutcome, label: Any = None) -> str | None:
    """Why the target is missed and what it would take, in one sentence (None when the target is met)."""
    p, s, need = outcome.problem, outcome.score, outcome.need
    if not outcome.missed:
        return None
    when = label or _offset_label
    by = when(p.target_s)
    missed = (f"{s.stranded} of {p.riders_total} riders are not carried by {when(p.horizon_s)}" if s.stranded
              else f"the last rider departs at {when(s.last_departure_s or 0.0)}")  # fmt: skip
    proven = "" if outcome.proven_missed else " in the plan found (not proven impossible)"
    if need is None:
        return f"{missed}{proven}, after the target {by}; {_available(p.fleet)}"
    if need.at_least is None:
        arrive = p.arrival_step
        last = "after the horizon" if arrive is None else f"by {when(p.t(arrive))}"
        return (f"the last riders reach the bays {last}: no number of buses moves everyone by {by}; "
                f"{_available(p.fleet)} ({missed})")  # fmt: skip
    upper = "" if need.enough is None or need.enough == need.at_least else f"; {need.enough} suffice in the model"
    if need.at_least <= p.fleet:  # not proven short: say what was found, and what would surely do
        enough = "" if need.enough is None else f"; {need.enough} buses do it in the model"
        return (f"{missed} in the plan found, after the target {by}; {_available(p.fleet)}{enough} "
                "(not proven impossible)")  # fmt: skip
    return (f"needs at least {need.at_least} buses to move everyone by {by}; {_available(p.fleet)}"
            f"{upper} ({missed}{proven})")  # fmt: skip


def _available(n: int) -> str:
    return f"{n} {'is' if n == 1 else 'are'} available"


def _offset_label(t_s: float) -> str:
    t = round(t_s)
    return f"+{t // 3600:02d}:{t % 3600 // 60:02d}"
