"""The makespan search: the least makespan with a proven bound (first phase), then walking and travel with the
makespan fixed (second phase).

Chosen by measurement (see benchmarks/staffing.py and benchmarks/README.md): the feasible makespans form a
half-line, so the least is found by bisection. First on the LP relaxation (GLOP, minimising the shortfall): a
positive shortfall at T proves that no plan finishes by T; that bound is ours, computed, not a solver's. Then MIP
probes (HiGHS by default; SCIP and CBC on request) from the LP's threshold up, each plan found scored by the
exact fluid makespan, until the best is within `relative_gap` of the bound; a probe the MIP proves infeasible
raises the bound. A second MIP then fixes the makespan and minimises visitor walking and tester travel (weights
in `StaffingOptions`). The first phase is a `Formulation`: `Bisection` here; the alternatives measured against it
(one MIP with the makespan a variable on a time grid; probes by CP-SAT on a whole-second copy of the model) live
in benchmarks/staffing_formulations.py.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optimizer.result import SolveParams
from optimizer.solving import DET_PER_S, Budget
from optimizer.staffing.fluid import score
from optimizer.staffing.model import FluidModel
from optimizer.staffing.problem import Assignment, StaffingOptions, StaffingProblem

ABS_TOL_S = 0.01  # makespans this close count as equal, whatever the relative gap
# A deterministic search (`StaffingOptions.deterministic`) counts work, not seconds: each MIP (a probe, the second
# phase) stops after PROBE_NODES branch-and-bound nodes and is charged a fixed share of the time limit, each LP
# LP_S, whatever they took (`Budget.charge`); the wall clock is only the budget's safety cap. The shares are the
# typical wall times on the Disney cases on a quiet machine, where the root node decides every probe: PROBE_S
# from the start (0.6-2 s), PROBE_FIXED_S re-planning with the routing fixed (1-11 s at 18:50, median about 7;
# charged 5 s, so that a 10 s limit still makes three probes); LP_S a warm-started shortfall LP's.
PROBE_NODES = 100
PROBE_S = 2.5
PROBE_FIXED_S = 5.0
LP_S = 0.05
REFERENCE_VARIABLES = 12_680  # the Disney model's size, at which the shares were measured; a model is charged in
#                               proportion to its variables (a small one is cheap to solve)
# The staffing budget's wall-clock safety cap, as a multiple of its limit: wider than CP-SAT's (`WALL_CAP`), since a
# MIP cannot be stopped on a deterministic clock part-way through its root node (which took up to 22 s with
# four times as many busy processes as cores).
WALL_CAP_STAFFING = 10.0


def probe_s(problem: StaffingProblem) -> float:
    """What a MIP of this problem is charged, in seconds of the limit at the reference size."""
    return PROBE_FIXED_S if problem.fixed_shares is not None else PROBE_S


class Probe(Protocol):
    """A model that looks for a plan finishing by a trial makespan: the MIP (`FluidModel`) or a variant."""

    def set_makespan(self, t_s: float) -> None: ...

    def solve(self, time_limit_s: float, *, relative_gap: float = 0.0) -> str: ...

    def assignment(self) -> Assignment: ...


class ProbeFactory(Protocol):
    """Makes the probes of a bisection (a `Probe` class is one)."""

    def __call__(self, problem: StaffingProblem, *, split_zones: bool, params: SolveParams) -> Probe: ...


class Formulation(Protocol):
    """How the first phase finds the least makespan; `name` goes into the plan's `produced_by`."""

    @property
    def name(self) -> str: ...

    def search(self, problem: StaffingProblem, *, params: SolveParams, options: StaffingOptions, budget: Budget,
               incumbent: Assignment | None) -> Search: ...  # fmt: skip


def charge(budget: Budget, model: FluidModel, seconds: float) -> None:
    """Charge a solve of `model` to a deterministic budget: `seconds` (`probe_s`, LP_S) at the reference size,
    in proportion to the model's variables elsewhere; a wall budget counts its own seconds."""
    budget.charge(seconds * DET_PER_S * model.solver.NumVariables() / REFERENCE_VARIABLES)


def quick_lower_bound(problem: StaffingProblem) -> float:
    """A makespan no plan beats, from totals: booths from their earliest staffing, testers from their earliest arrival.

    By bisection on T: the booth-seconds the sites could offer by T (every booth staffed from the first arrival
    there), and those each role's testers could (in their pools' earliest waves, at the nearest site, until
    their shifts end), must each cover every visitor's swab.
    """
    need = float(problem.mass.sum()) * problem.mean_swab_s
    if need <= 0:
        return 0.0
    first = [min((problem.arrival(g, s) for g in range(len(problem.waves))), default=math.inf)
             for s in range(len(problem.sites))]  # fmt: skip
    crews: list[tuple[str, float, float, int]] = []  # (role, arrival, end of shift, testers)
    for p, pool in enumerate(problem.pools):
        reach = float(np.min(problem.travel[p], initial=math.inf))
        if math.isfinite(reach):
            for r, n in pool.roles:
                left = n
                for wave in (w for w in problem.waves if w.pool == p):
                    take = min(left, wave.size)
                    crews.append((r, wave.depart_s + reach, wave.depart_s + reach + pool.shift_s, take))
                    left -= take
    per_booth = dict(problem.per_booth)

    def enough(t: float) -> bool:
        booths = sum(b * max(0.0, t - a) for b, a in zip(problem.booths, first, strict=True) if math.isfinite(a))
        work = {r: sum(n * max(0.0, min(t, e) - a) for rr, a, e, n in crews if rr == r) for r in per_booth}
        return booths >= need and all(work[r] / per_booth[r] >= need for r in per_booth)

    lo, hi = 0.0, problem.horizon_cap_s
    if not enough(hi):
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return lo


class LpSearch:
    """The LP relaxation's least feasible makespan, on one warm-started LP that minimises the shortfall.

    The shortfall (visitors a site cannot swab in time) is positive exactly when the LP is infeasible at T,
    which proves that no plan finishes by T. It falls as T grows, nearly linearly close to the threshold, so
    each trial extrapolates the last two infeasible ones (within the bracket); trials stay close together,
    which keeps the warm-started simplex quick.
    """

    def __init__(self, problem: StaffingProblem, *, budget: Budget):
        self.problem = problem
        self.budget = budget
        self.model = FluidModel(problem, integer=False, elastic=True)
        self.eps = 1e-6 * max(1.0, float(problem.mass.sum()))
        self.top = problem.horizon_cap_s * (1 + 1e-9) + 1e-6

    def shortfall(self, t: float) -> float | None:
        """Visitors not swabbed by `t` in the best LP plan (None if the LP did not finish in time)."""
        self.model.set_makespan(t)
        status = self.model.solve(max(0.01, self.budget.seconds_left()))
        charge(self.budget, self.model, LP_S)
        if status != "OPTIMAL":
            return None
        return self.model.objective()[0]

    def threshold(self, *, tol: float, lo: float | None = None, hi: float | None = None) -> tuple[float, float] | None:
        """`(lo, hi)`: no plan finishes before `lo`; the LP is feasible at `hi`, which is within `tol` (relative)
        of `lo`, or inf if time ran out first. None: the LP is infeasible at any makespan.

        `lo` and `hi` are hints (`hi` known feasible). A site's shortfall shrinks at most at its booths' swab
        rate, so from an infeasible T no plan finishes before T + shortfall * mean swab / all booths: the first
        step up; later ones extrapolate.
        """
        p = self.problem
        rate = sum(p.booths) / p.mean_swab_s
        proven = quick_lower_bound(p) if lo is None else 0.0
        lo = proven if lo is None else lo
        while True:  # an infeasible lower end, widening downwards
            f_lo = self.shortfall(lo) if lo > 0 else float(p.mass.sum())
            if f_lo is None:
                return proven, math.inf
            if f_lo > self.eps:
                proven = max(proven, lo)
                break
            if lo <= 0:
                return 0.0, 0.0
            hi, lo = lo, max(0.0, lo - 2 * ((hi if hi is not None else lo) - lo) - 0.05 * lo - 1.0)
        before: tuple[float, float] | None = None
        while hi is None or (hi - lo > max(ABS_TOL_S, tol * hi) and self.budget.left() > 0):
            step = 0.9 * max(ABS_TOL_S, tol * (hi if hi is not None else lo))
            if before is None:
                trial = lo + f_lo / rate  # no plan finishes before this
            elif before[1] > f_lo:
                trial = lo + f_lo * (lo - before[0]) / (before[1] - f_lo)
            else:
                trial = 2 * lo - before[0]
            trial = min(max(trial, lo + step), self.top)
            if hi is not None:
                trial = min(trial, hi - step) if hi - lo > 2 * step else (lo + hi) / 2
            f = self.shortfall(trial)
            if f is None:
                return lo, math.inf if hi is None else hi
            if f <= self.eps:
                hi = trial
            elif trial >= self.top:
                return None
            else:
                before, lo, f_lo = (lo, f_lo), trial, f
        return lo, hi


@dataclass
class Search:
    """What the makespan search found: the best plan, a proven lower bound, and how it was proven."""

    best: Assignment | None = None
    best_s: float = math.inf
    lower_s: float = 0.0
    lower_source: str = "trivial"
    lp_s: float = math.inf  # the least makespan the LP relaxation was found feasible at
    status: str = "UNKNOWN"
    probes: list[tuple[float, str, float]] = field(default_factory=list)  # (T, status, seconds)
    model: FluidModel | None = None  # a MIP at the probes' makespan, for the second phase
    lp: LpSearch | None = None
    lp_bracket: tuple[float, float] | None = None

    @property
    def gap(self) -> float:
        return _gap(self.best_s, self.lower_s) if math.isfinite(self.best_s) else math.inf

    def start(self, problem: StaffingProblem, *, tol: float, budget: Budget) -> bool:
        """The LP relaxation's bracket and the totals' bound; False when no plan can ever finish."""
        self.lp = LpSearch(problem, budget=budget)
        found = self.lp_bracket = self.lp.threshold(tol=tol)
        if found is None:
            self.status, self.lower_s, self.lower_source = "INFEASIBLE", math.inf, "the LP relaxation never is"
            return False
        self.lower_s, self.lp_s = found
        self.lower_source = "the LP relaxation is infeasible before then"
        if (quick := quick_lower_bound(problem)) > self.lower_s:
            self.lower_s, self.lower_source = quick, "the booth and tester totals"
        return True

    def offer(self, problem: StaffingProblem, a: Assignment) -> None:
        """Keep a plan if the fluid model scores it best so far."""
        t = score(problem, a).makespan_s
        if t < self.best_s:
            self.best, self.best_s = a, t

    def close(self, relative_gap: float) -> None:
        done = self.gap <= relative_gap or self.best_s - self.lower_s <= ABS_TOL_S
        self.status = "UNKNOWN" if self.best is None else ("OPTIMAL" if done else "FEASIBLE")


def _gap(objective: float, bound: float) -> float:
    return max(0.0, objective - bound) / max(objective, 1e-9)


def search_makespan(problem: StaffingProblem, *, params: SolveParams, options: StaffingOptions, budget: Budget,
                    incumbent: Assignment | None = None, probe_by: ProbeFactory | None = None) -> Search:  # fmt: skip
    """Bisection on the makespan: the LP relaxation for the bound, then MIP probes for plans (from `incumbent`,
    a plan to beat, when re-planning). The probes are the MIP itself unless `probe_by` makes others."""
    out = Search()
    if not out.start(problem, tol=params.relative_gap / 10, budget=budget):
        return out
    if incumbent is not None:
        out.offer(problem, incumbent)
    out.model = FluidModel(problem, integer=True, backend=options.backend, split_zones=options.split_zones,
                           params=params)  # fmt: skip
    if budget.deterministic:
        out.model.node_limit = PROBE_NODES
    probe: Probe = out.model
    if probe_by is not None:
        probe = probe_by(problem, split_zones=options.split_zones, params=params)
    top = problem.horizon_cap_s * (1 + 1e-9) + 1e-6
    trial, step = min(out.lp_s, top), 0.0
    if math.isfinite(out.best_s):  # a plan to beat: start halfway between it and the bound
        trial = (out.lower_s + out.best_s) / 2
    # A deterministic search keeps a probe's worth for the second phase (but makes one probe whatever the limit).
    size = out.model.solver.NumVariables() / REFERENCE_VARIABLES
    reserve = probe_s(problem) * DET_PER_S * size if budget.deterministic and options.secondary else 0.0
    first = True
    while budget.left() > reserve or (first and budget.left() > 0):
        first = False
        started = time.perf_counter()
        probe.set_makespan(trial)
        if budget.deterministic:  # the node limit stops it; the wall clock only at the safety cap
            status = probe.solve(max(0.01, budget.seconds_left()))
            charge(budget, out.model, probe_s(problem))
        else:
            left = budget.left()
            allowed = left
            if problem.fixed_shares is not None:
                # With the routing fixed, a probe near the LP's threshold can be slow to decide: a probe gets a
                # quarter of what is left, and an undecided one moves the bisection on.
                allowed = max(1.0, allowed / 4)
            status = probe.solve(min(allowed, left))
        out.probes.append((trial, status, time.perf_counter() - started))
        if status in ("OPTIMAL", "FEASIBLE"):
            out.offer(problem, probe.assignment())
        elif status == "INFEASIBLE" and trial > out.lower_s:
            out.lower_s, out.lower_source = trial, "the MIP proved it infeasible"
        if out.gap <= params.relative_gap or out.best_s - out.lower_s <= ABS_TOL_S or out.lower_s >= top:
            break
        if math.isfinite(out.best_s):  # bisect between the bound (or an undecided probe) and the best plan
            base = out.lower_s if status in ("OPTIMAL", "FEASIBLE", "INFEASIBLE") else trial
            if out.best_s - base <= ABS_TOL_S:
                break
            trial = (base + out.best_s) / 2
        elif trial >= top:
            break
        else:  # no plan yet: step up, doubling
            step = max(ABS_TOL_S, params.relative_gap * trial, 2 * step)
            trial = min(trial + step, top)
    out.close(params.relative_gap)
    if out.best is None and out.lower_s >= top:
        out.status = "INFEASIBLE"
    return out


@dataclass(frozen=True)
class Bisection:
    """Bisection on the makespan (`search_makespan`), the product's formulation; `probe_by` makes other probes."""

    name: str = "bisection"
    probe_by: ProbeFactory | None = None

    def search(self, problem: StaffingProblem, *, params: SolveParams, options: StaffingOptions, budget: Budget,
               incumbent: Assignment | None) -> Search:  # fmt: skip
        return search_makespan(problem, params=params, options=options, budget=budget, incumbent=incumbent,
                               probe_by=self.probe_by)  # fmt: skip


BISECTION = Bisection()


def send_spares(problem: StaffingProblem, a: Assignment) -> Assignment:
    """Send every tester not yet assigned, in the pool's earliest waves with room (not one already sent, when
    re-planning), to the pool's nearest site."""
    x = dict(a.x)
    used: dict[tuple[int, str], int] = defaultdict(int)
    load: dict[int, int] = defaultdict(int)
    for (g, _, r), n in x.items():
        used[(problem.waves[g].pool, r)] += n
        load[g] += n
    for p, pool in enumerate(problem.pools):
        reach = [s for s in range(len(problem.sites)) if math.isfinite(problem.travel[p, s])]
        if not reach:
            continue
        site = min(reach, key=lambda s: (problem.travel[p, s], s))
        for r, n in pool.roles:
            spare = n - used[(p, r)]
            for g, wave in enumerate(problem.waves):
                if wave.pool == p and spare > 0 and load[g] < wave.size and g not in problem.fixed_waves:
                    take = min(spare, wave.size - load[g])
                    x[(g, site, r)] = x.get((g, site, r), 0) + take
                    load[g] += take
                    spare -= take
    return Assignment(x, a.y)


@dataclass(frozen=True)
class SecondPhase:
    """The plan after the second phase, its status, and its objective and bound (walking and travel)."""

    assignment: Assignment
    status: str
    objective: float | None = None
    bound: float | None = None


def second_phase(search: Search, *, params: SolveParams, options: StaffingOptions, budget: Budget) -> SecondPhase:
    """With the makespan fixed at the best found (plus any slack), minimise walking and tester travel."""
    assert search.model is not None and search.best is not None
    model, problem = search.model, search.model.problem
    limit = search.best_s * (1 + options.makespan_slack)
    fallback = send_spares(problem, search.best) if options.send_all_testers else search.best
    if not options.secondary or budget.left() < (0.01 if budget.deterministic else 0.05):
        return SecondPhase(fallback, "SKIPPED")
    model.set_makespan(limit * (1 + 1e-9) + 1e-6)
    if options.send_all_testers:
        model.add_all_testers_sent()  # Every tester who can reach a site is sent.
    model.minimise_walk_and_travel(options)
    status = model.solve(budget.seconds_left(), relative_gap=params.relative_gap)
    charge(budget, model, probe_s(problem))
    if status not in ("OPTIMAL", "FEASIBLE"):
        return SecondPhase(fallback, status)
    a = model.assignment()
    if score(problem, a).makespan_s > limit * (1 + 1e-6) + 1e-3:  # numerical trouble: keep the first plan
        return SecondPhase(fallback, "REJECTED")
    return SecondPhase(a, status, *model.objective())
