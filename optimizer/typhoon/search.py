"""The typhoon model's search: solving one window (`solve_typhoon`), and the side solves the report needs (one
more escort team; other car-delay weights for the trade-off).

CP-SAT starts from a complete hint, the best "static" schedule (`optimizer.typhoon.static`); if it finds nothing
better in time, that schedule is returned (status FEASIBLE, said in the rationale). CP-SAT runs without its
presolve (it found little and took 0.8 s of a 1 s budget on 24 periods). Bounds are CP-SAT's, or with
`lp_bound_s` the LP relaxation's (`optimizer.typhoon.bound`) when higher; either holds for this fluid model on
its grid, not for the simulation. A side solve gets a share of the time limit and starts from the main solution
or its own problem's best static schedule.

Two stages (`solve_routed`, what `optimise_typhoon` runs with `TyphoonOptions.routings` > 0, the default): the
riders' routing first (`optimizer.typhoon.routing`: a few candidate routings), then the lanes and teams with each
fixed; the bound then holds over the candidate routings only. The full model's LP relaxation splits each bank
area's riders across two or three tunnel directions and its bound stays 10-65% short in a second; with the
routing fixed the windows of the rolling day are proven within 1% in 0.5-1.3 CPU seconds (benchmarks/README.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
from ortools.sat.python import cp_model

from optimizer.result import SolveParams, relative_gap
from optimizer.solving import DET_PER_S, capped, cp_sat_limits, cp_sat_status
from optimizer.typhoon.cost import FluidCost, fluid_cost
from optimizer.typhoon.model import TyphoonModel, schedule_values
from optimizer.typhoon.problem import SCALE, TyphoonProblem, Way
from optimizer.typhoon.routing import Routed, candidate_routings, routed
from optimizer.typhoon.static import Schedule, best_static_schedule
from scenarios.schema import TRADE_OFF_FACTORS, TyphoonWeights

DEFAULT_PARAMS = SolveParams()
# The two-stage search's wall-clock safety cap, as a multiple of its limit (shared by its candidates): wider than a
# single CP-SAT solve's (`WALL_CAP`), as the staffing and bus searches' are, since its candidates' model building
# and search take a few CPU-tenths of a second each, which a machine at load 20 on 2 cores (measured 2026-12-06)
# stretches past 3x a 1 s limit: every window then hit the cap before its first bound (gap 100%).
WALL_CAP_ROUTED = 10.0
ANOTHER_WEIGHT = "solve at another car-delay weight"  # a trade-off point's schedule found by another point's solve


@dataclass(frozen=True)
class TyphoonSolution:
    """One solve of one window: the solver's numbers and the schedule (no solver object)."""

    problem: TyphoonProblem
    status: str
    objective: float | None
    bound: float | None
    wall_s: float
    clear: np.ndarray | None = None
    teams: np.ndarray | None = None
    cost: FluidCost | None = None
    sent: dict[str, Way] = field(default_factory=dict)  # the way each origin's riders are sent to
    source: str = "CP-SAT"  # `first schedule` when CP-SAT found nothing better in time, or `ANOTHER_WEIGHT`
    lp_bound: float | None = None  # the LP relaxation's bound, when one was asked for and solved in time
    capped: bool = False  # a deterministic solve stopped by its wall-clock safety cap (then not reproducible)
    routings: int = 0  # the candidate routings tried, when the routing was decided first (`solve_routed`); 0: none
    work: float = 0.0  # CP-SAT's deterministic time spent (wall seconds when not deterministic)
    # Routings the window has in all (each bank area to one of the ways it reaches): when `routings` is fewer, the
    # bound holds over the candidates only, not over the window, and the search is no proof of the window's optimum.
    routings_total: int = 0


def run_cp_sat(model: TyphoonModel, time_limit_s: float, params: SolveParams, *, deterministic: bool = True,
               wall_cap_s: float | None = None) -> TyphoonSolution:  # fmt: skip
    """Solve the model as it stands (hint and bounds included) with CP-SAT; its status and, if it found one, the
    schedule it found, costed by `fluid_cost`. `wall_cap_s`: a deterministic run's wall-clock safety cap, when not
    the one `cp_sat_limits` gives its limit (a share of a search's limit shares that search's cap)."""
    solver = cp_model.CpSolver()
    cp_sat_limits(solver.parameters, time_limit_s, workers=params.workers, deterministic=deterministic)
    if deterministic and wall_cap_s is not None:
        solver.parameters.max_time_in_seconds = max(0.01, wall_cap_s)
    solver.parameters.random_seed = params.seed
    solver.parameters.relative_gap_limit = params.relative_gap
    # CP-SAT's presolve finds little here and took 0.8 s of a 1 s budget on a 24-period window.
    solver.parameters.cp_model_presolve = False
    started = time.perf_counter()
    status = solver.solve(model.m)
    wall = time.perf_counter() - started
    name = cp_sat_status(status)
    pr, v = model.problem, model.v
    bound = solver.best_objective_bound / SCALE if math.isfinite(solver.best_objective_bound) else None
    cut = (capped(wall, time_limit_s, deterministic=deterministic) if wall_cap_s is None
           else deterministic and wall >= 0.99 * wall_cap_s)  # fmt: skip
    work = solver.deterministic_time if deterministic else wall
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return TyphoonSolution(pr, name, None, bound, wall, capped=cut, work=work)
    W, NO, P = len(pr.ways), len(pr.origins), pr.n_periods
    clear = np.array([[solver.value(v.x[(w, p)]) for p in range(P)] for w in range(W)], dtype=bool).reshape(W, P)
    teams = np.array([[solver.value(v.n[(w, p)]) for p in range(P)] for w in range(W)],
                     dtype=np.int64).reshape(W, P)  # fmt: skip
    carried = np.zeros((NO, W, P), dtype=np.int64)
    for key, var in v.c.items():
        carried[key] = solver.value(var)
    sent = {o: w for (o, w), y in v.y.items() if solver.value(y)}
    cost = fluid_cost(pr, clear, teams, carried, sent)
    return TyphoonSolution(pr, name, solver.objective_value / SCALE, bound, wall,
                           clear=clear, teams=teams, cost=cost, capped=cut, work=work,
                           sent={pr.origins[o]: pr.ways[w] for o, w in sent.items()})  # fmt: skip


def solve_typhoon(problem: TyphoonProblem, *, params: SolveParams = DEFAULT_PARAMS, time_limit_s: float | None = None,
                  starts: tuple[Schedule, ...] | None = None, lp_bound_s: float = 0.0,
                  deterministic: bool = True, routings: int = 0) -> TyphoonSolution:  # fmt: skip
    """Solve one window with CP-SAT from the best of the given schedules (by default the best static one); if
    CP-SAT finds nothing better in time, that schedule is the answer. With `lp_bound_s`, the LP relaxation is
    solved first (in up to that many seconds more) and its bound handed to CP-SAT. `deterministic`: CP-SAT gets
    the whole limit in deterministic time (the wall time spent building the model is not taken off it, which
    would make the answer depend on the machine's load). With `routings` > 0, the riders' routing is decided
    first (`solve_routed`: the best of that many candidate routings, the bound over those routings only)."""
    if routings > 0:
        return solve_routed(problem, params=params, time_limit_s=time_limit_s, starts=starts, count=routings,
                            deterministic=deterministic)  # fmt: skip
    limit = params.time_limit_s if time_limit_s is None else time_limit_s
    started = time.perf_counter()
    model = TyphoonModel(problem)
    lp_bound = None
    if lp_bound_s > 0 and problem.n_periods:
        lp_bound = model.lp_bound(lp_bound_s)
        limit += time.perf_counter() - started  # the LP's time is on top of CP-SAT's
        if lp_bound is not None:
            model.add_lower_bound(lp_bound)
    if starts is None:
        static = best_static_schedule(problem)
        starts = () if static is None else (static,)
    first = min((rescore(problem, x) for x in starts), key=lambda x: x.cost.objective_int, default=None)
    if first is not None:
        model.hint(schedule_values(problem, first))
    left = limit if deterministic else max(0.01, limit - (time.perf_counter() - started))
    out = run_cp_sat(model, left, params, deterministic=deterministic)
    if lp_bound is not None:
        out = replace(out, lp_bound=lp_bound / SCALE, bound=max(out.bound or 0.0, lp_bound / SCALE))
    if first is not None and (out.cost is None or out.cost.objective_int > first.cost.objective_int):
        sent = {problem.origins[o]: problem.ways[w] for o, w in first.sent.items()}
        out = replace(out, status="FEASIBLE", objective=first.cost.objective, clear=first.clear, teams=first.teams,
                      cost=first.cost, sent=sent, source="first schedule")  # fmt: skip
    return replace(out, wall_s=time.perf_counter() - started)


def solve_routed(problem: TyphoonProblem, *, params: SolveParams = DEFAULT_PARAMS, time_limit_s: float | None = None,
                 starts: tuple[Schedule, ...] | None = None, count: int = 3,
                 deterministic: bool = True) -> TyphoonSolution:  # fmt: skip
    """Two stages (`optimizer.typhoon.routing`): up to `count` candidate routings (those of `starts`, then the
    static schedules'), and for each the window with its routing fixed, solved by CP-SAT from that routing's
    cheapest schedule. The first candidate gets its share of the limit and keeps the best schedule; each later one
    is asked only for a schedule better than that by more than the relative gap (a cut-off), so that it either
    finds one or proves it has none. The time not used by a candidate goes to those after it; on a deterministic
    clock the candidates share one wall-clock safety cap, `WALL_CAP_ROUTED` x the limit.

    The answer is the cheapest schedule found, costed under `problem`; its bound is the least of the candidates'
    bounds (a candidate proven to have nothing under its cut-off is bounded by the cut-off): a proven bound on the
    best schedule over these routings, not over every routing. OPTIMAL when that bound is within the relative gap.
    With no candidate (no static schedule: nothing suspended in the window), the full model is solved."""
    limit = params.time_limit_s if time_limit_s is None else time_limit_s
    started = time.perf_counter()
    candidates = candidate_routings(problem, () if starts is None else starts, count)
    if not candidates:
        return solve_typhoon(problem, params=params, time_limit_s=limit, starts=starts, deterministic=deterministic)
    best: tuple[int, TyphoonSolution, Routed] | None = None  # full objective, the solution, its routed window
    bounds: list[float] = []
    spent, capped_any = 0.0, False
    for i, (routing, start_full) in enumerate(candidates):
        share = max(0.01, (limit - spent) / (len(candidates) - i))
        window = routed(problem, routing)
        sub, start = window.problem, window.narrow(start_full)
        model = TyphoonModel(sub)
        cutoff = None  # in the routed window's units (the full objective less the open ways' constant)
        if best is not None:
            cutoff = math.ceil(best[0] * (1 - params.relative_gap)) - 1 - window.open_cost
            model.add_upper_bound(cutoff)
        if cutoff is None or start.cost.objective_int <= cutoff:
            model.hint(schedule_values(sub, start))
        elapsed = time.perf_counter() - started
        out = run_cp_sat(model, share if deterministic else max(0.01, limit - elapsed), params,
                         deterministic=deterministic, wall_cap_s=WALL_CAP_ROUTED * limit + 1.0 - elapsed)  # fmt: skip
        spent += out.work / DET_PER_S if deterministic else out.wall_s
        capped_any = capped_any or out.capped
        # The candidate's bound: CP-SAT's, and with a cut-off no more than one unit above it (nothing below it
        # means the candidate costs more than the cut-off); plus the open ways' constant.
        bound = out.bound * SCALE if out.bound is not None else 0.0
        if cutoff is not None:
            bound = cutoff + 1 if out.status == "INFEASIBLE" else min(bound, cutoff + 1)
        bounds.append((bound + window.open_cost) / SCALE)
        if cutoff is None and (out.cost is None or out.cost.objective_int > start.cost.objective_int):
            out = replace(out, status="FEASIBLE", objective=start.cost.objective, clear=start.clear,
                          teams=start.teams, cost=start.cost, source="first schedule",
                          sent={sub.origins[o]: sub.ways[w] for o, w in start.sent.items()})  # fmt: skip
        if out.cost is not None and (best is None or out.cost.objective_int + window.open_cost < best[0]):
            best = (out.cost.objective_int + window.open_cost, out, window)
    assert best is not None
    _units, sol, window = best
    assert sol.cost is not None and sol.clear is not None and sol.teams is not None
    clear, teams, carried = window.widen(problem, sol.clear, sol.teams, sol.cost.carried)
    sent = {problem.origins.index(o): problem.ways.index(w) for o, w in sol.sent.items()}
    cost = fluid_cost(problem, clear, teams, carried, sent)
    bound = min(min(bounds), cost.objective)
    gap = relative_gap(cost.objective, bound)
    total = int(np.prod([max(1, int(problem.reach[o].sum())) for o in range(len(problem.origins))]))
    # OPTIMAL only when the candidates were every routing the window has: then their least bound is the window's.
    proven = len(candidates) >= total and gap is not None and gap <= params.relative_gap + 1e-12
    status = "OPTIMAL" if proven else "FEASIBLE"
    return replace(sol, problem=problem, clear=clear, teams=teams, cost=cost, objective=cost.objective, bound=bound,
                   status=status, capped=capped_any, routings=len(candidates), routings_total=total,
                   work=spent * DET_PER_S if deterministic else spent,
                   wall_s=time.perf_counter() - started)  # fmt: skip


def rescore(problem: TyphoonProblem, schedule: Schedule) -> Schedule:
    """The same schedule costed under this problem (other weights, more teams)."""
    return replace(schedule, cost=fluid_cost(problem, schedule.clear, schedule.teams, sent=schedule.sent))


def _starts_for(problem: TyphoonProblem, solution: TyphoonSolution) -> tuple[Schedule, ...]:
    """A what-if solve starts from the main solution or this problem's best static schedule."""
    static = best_static_schedule(problem)
    return (as_schedule(solution), *(() if static is None else (static,)))


def as_schedule(solution: TyphoonSolution) -> Schedule:
    """A solution's schedule, to start another solve from."""
    pr = solution.problem
    assert solution.clear is not None and solution.teams is not None and solution.cost is not None
    sent = {pr.origins.index(o): pr.ways.index(w) for o, w in solution.sent.items()}
    return Schedule(solution.clear, solution.teams, sent, solution.cost)


def extra_team_solve(problem: TyphoonProblem, solution: TyphoonSolution, *, params: SolveParams,
                     time_limit_s: float, deterministic: bool = True,
                     routings: int = 0) -> TyphoonSolution:  # fmt: skip
    """The same window with one more escort team (what one more team would buy), started from the solution."""
    bigger = problem.with_teams(problem.teams + 1)
    return solve_typhoon(bigger, params=params, time_limit_s=time_limit_s, starts=_starts_for(bigger, solution),
                         deterministic=deterministic, routings=routings)  # fmt: skip


@dataclass(frozen=True)
class TradeOffRun:
    """One point of the trade-off: the car-delay weight factor (x the scenario's), the point's name, and the best
    schedule found for the window at that weight (`solution`: its problem carries those weights)."""

    index: int  # the point's place among the factors, in order
    factor: float
    name: str
    solution: TyphoonSolution

    @property
    def cost(self) -> FluidCost:
        assert self.solution.cost is not None
        return self.solution.cost

    @property
    def clear(self) -> np.ndarray:
        assert self.solution.clear is not None
        return self.solution.clear

    @property
    def outcome(self) -> tuple[float, float, float]:
        """What the point costs, every part lower is better: rider-hours waiting, riders stranded, vehicle-hours."""
        return (self.cost.rider_wait_h, float(self.cost.stranded), self.cost.vehicle_h)


def trade_off_factors(factors: tuple[float, ...]) -> tuple[float, ...]:
    """The weight multipliers in order: those below 1, the plan's own (1), those above 1."""
    factors = tuple(dict.fromkeys(factors))
    return (*sorted(f for f in factors if f < 1), 1.0, *sorted(f for f in factors if f > 1))


def factor_name(factor: float) -> str:
    """The trade-off point's name for a car-delay weight factor (`TRADE_OFF_FACTORS`), or `x<factor>`."""
    return next((name for name, f in TRADE_OFF_FACTORS.items() if f == factor), f"x{factor:g}")


def dominates(a: tuple[float, ...], b: tuple[float, ...], tol: float = 1e-9) -> bool:
    """Whether outcome `a` is no worse than `b` in every part and better in one (lower is better)."""
    return all(x <= y + tol for x, y in zip(a, b, strict=True)) and any(x < y - tol for x, y in zip(a, b, strict=True))


def _reweighed(solution: TyphoonSolution, problem: TyphoonProblem) -> TyphoonSolution:
    """A solution's schedule (the same lanes, teams, orders and riders carried) costed under `problem`'s weights."""
    assert solution.clear is not None and solution.teams is not None and solution.cost is not None
    sent = {problem.origins.index(o): problem.ways.index(w) for o, w in solution.sent.items()}
    cost = fluid_cost(problem, solution.clear, solution.teams, solution.cost.carried, sent)
    return replace(solution, problem=problem, cost=cost, objective=cost.objective)


def trade_off_runs(problem: TyphoonProblem, solution: TyphoonSolution, weights: TyphoonWeights, *,
                   factors: tuple[float, ...], params: SolveParams, time_limit_s: float,
                   deterministic: bool = True, routings: int = 0) -> list[TradeOffRun]:  # fmt: skip
    """The window solved again at car-delay weights x each factor (the main solution at 1), each started from the
    main solution; then, at each weight, the best schedule any of these solves found (each solve's own bound
    kept, its status FEASIBLE if another's schedule was better). So no point is worse at its own weight than
    another point, and (all weights positive) none is dominated by another. A solve that finds nothing in time
    gives no schedule of its own."""
    assert solution.cost is not None and solution.clear is not None
    solves: list[tuple[float, TyphoonSolution]] = []
    for factor in trade_off_factors(factors):
        if factor == 1.0:
            solves.append((factor, solution))
            continue
        other_problem = problem.with_weights(weights.model_copy(
            update={"vehicle_delay_per_h": weights.vehicle_delay_per_h * factor}))  # fmt: skip
        other = solve_typhoon(other_problem, params=params, time_limit_s=time_limit_s,
                              starts=_starts_for(other_problem, solution), deterministic=deterministic,
                              routings=routings)  # fmt: skip
        solves.append((factor, other))
    found = [sol for _f, sol in solves if sol.cost is not None]
    out = []
    for i, (factor, own) in enumerate(solves):
        pr = own.problem
        options = [_reweighed(sol, pr) for sol in found]
        best = min(options, key=lambda x: (x.cost.objective_int, *_outcome(x)))  # type: ignore[union-attr]
        while True:  # a zero weight can leave a tie that another schedule improves on in every part
            better = [x for x in options if dominates(_outcome(x), _outcome(best))]
            if not better:
                break
            best = better[0]
        if own.cost is not None and np.allclose(_outcome(best), _outcome(own), rtol=0, atol=1e-9):
            best = own
        else:
            # Its own solve's bound; a two-stage solve's holds over its candidate routings only, which the other
            # weight's schedule may leave (then that schedule's objective is the bound over both).
            bound = own.bound if own.bound is None or best.objective is None else min(own.bound, best.objective)
            gap = relative_gap(best.objective, bound)
            proven = gap is not None and gap <= params.relative_gap + 1e-12  # as CP-SAT's OPTIMAL: within the gap
            best = replace(best, status="OPTIMAL" if proven else "FEASIBLE", bound=bound, lp_bound=own.lp_bound,
                           wall_s=own.wall_s, source=ANOTHER_WEIGHT)  # fmt: skip
        out.append(TradeOffRun(i, factor, factor_name(factor), best))
    return out


def _outcome(solution: TyphoonSolution) -> tuple[float, float, float]:
    assert solution.cost is not None
    return (solution.cost.rider_wait_h, float(solution.cost.stranded), solution.cost.vehicle_h)


def offered(runs: list[TradeOffRun], chosen: TradeOffRun) -> list[TradeOffRun]:
    """The points to offer, in order: each run's, less those another run's point dominates and repeats of one
    outcome (the chosen point kept among its repeats)."""
    out: list[TradeOffRun] = []
    for run in sorted(runs, key=lambda r: r is not chosen):
        if any(dominates(other.outcome, run.outcome) for other in runs):
            continue
        if any(np.allclose(kept.outcome, run.outcome, rtol=0, atol=1e-9) for kept in out):
            continue
        out.append(run)
    return sorted(out, key=lambda r: r.index)
