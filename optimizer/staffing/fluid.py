"""The fluid scorer: the makespan (and walking, travel, what binds) of a staffing, given as numbers or as a plan.

The fluid model (times in seconds after the scenario's start):
- a pool's testers leave in waves: wave w leaves at `callup_delay_s + w * group_interval_s` carrying at most
  `group_size` testers (a `delay` inject the planner is given holds back the waves due to leave after it
  fires: they leave that much later, as in the simulation); a tester of pool p in wave w reaches site s at
  a = departure + travel(p, s) and works there until a + `shift_s`;
- between two tester events a site staffs b booths: at most its booths, and at most the testers present of
  each role divided by that role's testers per booth (b is whole when a booth needs two or more testers of a
  role, as in the simulation; with one of each, a whole b comes free);
- a staffed booth swabs one visitor per mean swab time; visitors reach a site `walk(z, s)` after they appear
  (a zone's visitors at the start, plus its expected arrivals up to the horizon);
- a site is done by T when, for every moment u, what reaches it at or after u can be swabbed in [u, T], so
  nobody is swabbed before they arrive. The makespan is when the last site is done (`fluid_makespan` scores
  any plan this way).

`score` scores an `Assignment`, `fluid_makespan` any plan (timed as the simulation times it); both go through
`score_crews`. The MIP in `optimizer.staffing.model` is the same model at a trial makespan, and every plan the
search finds is re-scored here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from optimizer.staffing.problem import Assignment, StaffingProblem
from scenarios.plan import AssignStaff, Plan, RouteVisitors


@dataclass(frozen=True)
class Crew:
    """Testers of one role on duty at one site from `arrive_s` until `leave_s`, having travelled `travel_s`."""

    site: int
    role: str
    count: int
    arrive_s: float
    leave_s: float
    travel_s: float


@dataclass(frozen=True)
class FluidOutcome:
    """A plan scored by the fluid model."""

    makespan_s: float
    site_finish_s: tuple[float, ...]
    booth_bound_s: tuple[float, ...]  # seconds before its finish a site had every booth staffed
    staffed_from_s: tuple[float, ...]  # when a site first staffed a booth (inf if never)
    walk_s: float  # visitor-seconds of walking
    travel_s: float  # tester-seconds of travel
    testers_sent: int


def crews_of(problem: StaffingProblem, a: Assignment) -> list[Crew]:
    """The crews an assignment sends; each works its pool's shift from its arrival."""
    out = []
    for (g, s, r), n in sorted(a.x.items()):
        if n > 0:
            pool = problem.waves[g].pool
            arrive = problem.arrival(g, s)
            out.append(Crew(s, r, n, arrive, arrive + problem.pools[pool].shift_s, float(problem.travel[pool, s])))
    return out


def plan_crews_and_shares(problem: StaffingProblem, plan: Plan) -> tuple[list[Crew], dict[tuple[int, int], float]]:
    """A plan's crews, timed as the simulation times them, and its visitor shares (a zone's unrouted rest goes
    to its nearest site, as in the simulation)."""
    site_ix = {s: i for i, s in enumerate(problem.sites)}
    pool_ix = {p.name: i for i, p in enumerate(problem.pools)}
    crews = []
    for act in plan.of_type(AssignStaff):
        p, s = pool_ix[act.pool], site_ix[act.to]
        travel = float(problem.travel[p, s])
        if not math.isfinite(travel):
            continue  # never arrives
        pool = problem.pools[p]
        arrive = pool.departure_s(act.wave, act.at_s) + travel
        leave = arrive + pool.shift_s
        if act.until_s is not None:
            leave = min(leave, max(arrive, act.until_s))
        crews.append(Crew(s, act.role, act.count, arrive, leave, travel))
    zone_ix = {z: i for i, z in enumerate(problem.zones)}
    y: dict[tuple[int, int], float] = defaultdict(float)
    for act in plan.of_type(RouteVisitors):
        if act.origin in zone_ix and act.to in site_ix:
            y[(zone_ix[act.origin], site_ix[act.to])] += act.share
    for z in range(len(problem.zones)):
        rest = 1.0 - sum(v for (zz, _), v in y.items() if zz == z)
        if rest > 1e-9:
            y[(z, _nearest_site(problem, z))] += rest
    return crews, dict(y)


def _nearest_site(problem: StaffingProblem, z: int) -> int:
    return min(range(len(problem.sites)), key=lambda s: (problem.walk[z, s], problem.sites[s]))


def fluid_makespan(problem: StaffingProblem, plan: Plan) -> FluidOutcome:
    """The fluid model's makespan of any plan: when the last visitor is swabbed if everything flows."""
    return score_crews(problem, *plan_crews_and_shares(problem, plan))


def score(problem: StaffingProblem, a: Assignment) -> FluidOutcome:
    """The fluid makespan (and walking, travel, what binds) of testers and shares given as numbers."""
    return score_crews(problem, crews_of(problem, a), a.y)


def score_crews(problem: StaffingProblem, crews: list[Crew], y: dict[tuple[int, int], float]) -> FluidOutcome:
    """The fluid makespan of crews on duty and visitor shares, site by site.

    At a site, the booths staffed between two crew events are min(booths, testers of each role // per booth),
    and C(t) is the capacity accumulated by t. The site is done at the first T with C(T) >= C(u) + (visitors
    reaching it at or after u) for every u at which someone still arrives.
    """
    need = np.array([n for _, n in problem.per_booth], dtype=float)
    finish, booth_bound, staffed_from = [], [], []
    for s in range(len(problem.sites)):
        mine = [c for c in crews if c.site == s and c.leave_s > c.arrive_s]
        times = np.array(sorted({0.0, *(c.arrive_s for c in mine), *(c.leave_s for c in mine)}))
        present = np.zeros((len(times) - 1, len(need)))
        for c in mine:
            lo, hi = np.searchsorted(times, [c.arrive_s, c.leave_s])
            present[lo:hi, problem.roles.index(c.role)] += c.count
        booths = np.minimum(problem.booths[s], np.floor(present / need + 1e-9).min(axis=1, initial=np.inf))
        rate = booths / problem.mean_swab_s
        cum = np.concatenate([[0.0], np.cumsum(rate * np.diff(times))])
        zones = [(z, float(problem.walk[z, s]), v) for (z, ss), v in y.items() if ss == s and v > 0]
        if any(not math.isfinite(w) for z, w, _ in zones if problem.mass[z] > 0):
            end = math.inf
        else:
            moments = {0.0, *times.tolist()}
            for z, w, _ in zones:
                moments.add(w)
                profile = problem.arrivals[z]
                if profile is not None:
                    moments.update(w + p.from_s for p in profile.periods)
                    moments.add(w + problem.horizon_s)
            needed = 0.0  # max over u of C(u) + what arrives at or after u, where something still arrives
            for u in moments:
                later = sum(v * problem.mass_from(z, w, u) for z, w, v in zones)
                if later > 1e-9:
                    needed = max(needed, float(np.interp(u, times, cum)) + later)
            end = _reaches(times, cum, rate, needed)
        finish.append(end)
        on = np.flatnonzero(booths > 0)
        staffed_from.append(float(times[on[0]]) if on.size else math.inf)
        full = [k for k in range(len(booths)) if booths[k] >= problem.booths[s]]
        booth_bound.append(sum(max(0.0, min(float(times[k + 1]), end) - float(times[k])) for k in full))
    walk = sum(v * problem.mass[z] * problem.walk[z, s] for (z, s), v in y.items() if v > 0)
    return FluidOutcome(
        makespan_s=max(finish, default=0.0),
        site_finish_s=tuple(finish),
        booth_bound_s=tuple(booth_bound),
        staffed_from_s=tuple(staffed_from),
        walk_s=float(walk),
        travel_s=float(sum(c.count * c.travel_s for c in crews)),
        testers_sent=sum(c.count for c in crews),
    )


def _reaches(times: np.ndarray, cum: np.ndarray, rate: np.ndarray, value: float) -> float:
    """The first moment the cumulative capacity reaches `value` (inf if it never does)."""
    if value <= 1e-9:
        return 0.0
    k = int(np.searchsorted(cum, value - 1e-9 * max(1.0, value)))
    if k >= len(cum):
        return math.inf
    if k == 0:
        return float(times[0])
    return float(times[k - 1] + max(0.0, value - cum[k - 1]) / rate[k - 1])
