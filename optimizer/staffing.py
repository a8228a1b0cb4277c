"""Staffing the test sites: which testers go to which site in which wave, and which zones go to which site.

The fluid model (times in seconds after the scenario's start):
- a pool's testers leave in waves: wave w leaves at `callup_delay_s + w * group_interval_s` with at most
  `group_size` testers; a tester of pool p in wave w reaches site s at a = departure + travel(p, s) and works
  there until a + `shift_s`;
- between two tester events a site staffs b booths: at most its booths, and at most the testers present of
  each role divided by that role's testers per booth (b is whole when a booth needs two or more of a role,
  as in the simulation);
- a staffed booth swabs 1 / mean swab time visitors a second; visitors reach a site `walk(z, s)` after they
  appear (the zone's visitors at the start, plus its expected arrivals up to the horizon);
- a site is done by T when, for every moment u, what reaches it at or after u can be swabbed in [u, T], so
  nobody is swabbed before they arrive. The makespan is the time the last site is done.

The model at a trial makespan T, each constraint group a function below:
- `add_pool_counts`: each pool sends at most its testers of each role;
- `add_wave_sizes`: each wave carries at most `group_size` testers;
- `add_zone_routing`: every visitor is routed: a zone's shares add up to 1 (one site per zone on request);
- `add_booth_staffing`: a site staffs at most its booths, and each booth needs its testers of every role;
- `add_capacity_curve`: the swabbing capacity of a site accumulates its staffed booths over time;
- `add_service_by`: what reaches a site at or after u is swabbed in [u, T];
- `add_all_testers_sent` (second phase, on request): every tester who can reach a site is sent.

The feasible makespans form a half-line, so the least is found by bisection. First on the LP relaxation
(GLOP): when it is infeasible at T, no plan finishes by T, which is the reported bound (proven, computed by
us, not a solver's bound). Then with MIP probes (SCIP by default) from the LP's threshold up, each found plan
scored by the exact fluid makespan (`fluid_makespan`), until the best plan is within `relative_gap` of the
bound; a probe the MIP proves infeasible raises the bound. A second MIP then fixes the makespan and minimises
visitor walking and tester travel (weights in `StaffingParams`). `formulation="direct"` instead solves one
MIP with the makespan a variable on a time grid (kept for comparison; see benchmarks/staffing.py).
"""

from __future__ import annotations

import bisect
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp

from optimizer.result import PlanResult, SolveParams
from scenarios.loading import scenario_graph, scenario_hash
from scenarios.mass_testing import MassTestingGeometry, pool_role_counts, roles_of
from scenarios.plan import AssignStaff, Plan, PlanMeta, RouteVisitors, SolverStats
from scenarios.schema import ArrivalProfile, MassTestingScenario

Backend = Literal["SCIP", "CBC", "HIGHS", "CP_SAT"]
EPS = 1e-9


@dataclass(frozen=True)
class StaffingParams:
    """The staffing model's own tunables (the shared ones — time limit, gap, seed — are in `SolveParams`)."""

    walk_weight: float = 1.0  # per visitor-second walked, after the makespan
    travel_weight: float = 1.0  # per tester-second travelled, after the makespan
    makespan_slack: float = 0.0  # relative makespan the second phase may give up to cut walking and travel
    backend: Backend = "HIGHS"
    formulation: Literal["bisection", "direct"] = "bisection"
    split_zones: bool = True  # a zone's visitors may be split over several sites
    send_all_testers: bool = True  # send every tester who can reach a site (the spares add slack)
    marginal: bool = True  # re-solve the LP relaxation to say what one more unit buys
    extra_testers: int = 10  # the unit of the marginal analysis for testers
    secondary: bool = True  # run the second phase at all
    grid_step_s: float = 60.0  # time grid of the direct formulation


# ------------------------------------------------------------------------------------------ the problem


@dataclass(frozen=True)
class PoolSpec:
    """A tester pool as the model sees it."""

    name: str
    roles: tuple[tuple[str, int], ...]  # (role, testers of that role)
    callup_delay_s: float
    group_size: int
    group_interval_s: float
    shift_s: float

    @property
    def count(self) -> int:
        return sum(n for _, n in self.roles)

    def departure_s(self, wave: int) -> float:
        return self.callup_delay_s + wave * self.group_interval_s

    @property
    def n_waves(self) -> int:
        return -(-self.count // self.group_size)


@dataclass(frozen=True)
class Wave:
    """One departure of a pool: its index in the pool, when it leaves, how many it can carry."""

    pool: int
    index: int
    depart_s: float
    size: int


@dataclass(frozen=True, eq=False)
class StaffingProblem:
    """The frozen data of the staffing decision: zones, sites, pools and the travel times between them."""

    name: str
    zones: tuple[str, ...]
    visitors: tuple[int, ...]
    arrivals: tuple[ArrivalProfile | None, ...]
    sites: tuple[str, ...]
    booths: tuple[int, ...]
    pools: tuple[PoolSpec, ...]
    per_booth: tuple[tuple[str, int], ...]  # testers of each role a booth needs
    travel: np.ndarray  # pools x sites, seconds (inf where a pool cannot reach a site)
    walk: np.ndarray  # zones x sites, seconds (inf where a zone cannot reach a site)
    mean_swab_s: float
    horizon_s: float
    wave_size_override: int | None = None  # unlimited-group variant used by the diagnosis

    @cached_property
    def waves(self) -> tuple[Wave, ...]:
        out = []
        for p, pool in enumerate(self.pools):
            n = max(pool.n_waves, 1) if self.wave_size_override else pool.n_waves
            size = self.wave_size_override or pool.group_size
            out += [Wave(p, w, pool.departure_s(w), size) for w in range(n)]
        return tuple(out)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r, _ in self.per_booth)

    @cached_property
    def mass(self) -> np.ndarray:
        """Visitors each zone sends in all: at the start plus expected arrivals up to the horizon."""
        return np.array([v + (a.expected_count(self.horizon_s) if a else 0.0)
                         for v, a in zip(self.visitors, self.arrivals, strict=True)])  # fmt: skip

    def mass_from(self, z: int, walk_s: float, u: float) -> float:
        """Visitors of zone `z` reaching a site `walk_s` away at or after `u`."""
        out = float(self.visitors[z]) if walk_s >= u else 0.0
        prof = self.arrivals[z]
        if prof is not None:
            out += prof.expected_count(self.horizon_s, since_s=max(0.0, u - walk_s))
        return out

    def arrival(self, g: int, s: int) -> float:
        wave = self.waves[g]
        return wave.depart_s + float(self.travel[wave.pool, s])

    @cached_property
    def timelines(self) -> tuple[Timeline, ...]:
        return tuple(_timeline(self, s) for s in range(len(self.sites)))

    @cached_property
    def horizon_cap_s(self) -> float:
        """After this, no site gains capacity and no visitor arrives: a plan not done by then never is."""
        ends = [tl.times[-1] for tl in self.timelines if len(tl.times)]
        reach = [self.horizon_s + float(np.min(self.walk[z])) for z, a in enumerate(self.arrivals) if a]
        walks = [float(np.min(self.walk[z])) for z in range(len(self.zones)) if self.mass[z] > 0]
        return max([0.0, *ends, *reach, *(w for w in walks if math.isfinite(w))])

    @property
    def testers(self) -> int:
        return sum(p.count for p in self.pools)


@dataclass(frozen=True, eq=False)
class Timeline:
    """A site's tester events: breakpoints `times` (from 0) and the waves present in each interval."""

    times: np.ndarray  # t_0 = 0 < t_1 < ... < t_K
    active: tuple[tuple[int, ...], ...]  # waves present in [t_k, t_k+1), k < K
    u_points: tuple[float, ...]  # moments u at which the service rule is checked

    def index(self, t: float) -> int:
        """k with t_k <= t < t_k+1 (K when t is at or after the last breakpoint)."""
        return bisect.bisect_right(self.times, t) - 1


def _timeline(problem: StaffingProblem, s: int) -> Timeline:
    events = {0.0}
    spans = []
    for g, wave in enumerate(problem.waves):
        a = problem.arrival(g, s)
        if math.isfinite(a):
            e = a + problem.pools[wave.pool].shift_s
            events.update((a, e))
            spans.append((g, a, e))
    times = np.array(sorted(events))
    active = tuple(tuple(g for g, a, e in spans if a <= times[k] < e) for k in range(len(times) - 1))
    u: set[float] = set()
    continuous = False
    for z in range(len(problem.zones)):
        w = float(problem.walk[z, s])
        if not math.isfinite(w) or problem.mass[z] <= 0:
            continue
        if problem.visitors[z] > 0:
            u.add(w)
        prof = problem.arrivals[z]
        if prof is not None:
            continuous = True
            u.update(w + p.from_s for p in prof.periods if p.from_s < problem.horizon_s)
            u.add(w + problem.horizon_s)
    if continuous:
        u.update(float(t) for t in times)
    return Timeline(times, active, tuple(sorted(u)))


def staffing_problem(scenario: MassTestingScenario, geometry: MassTestingGeometry | None = None) -> StaffingProblem:
    """The staffing problem of a mass-testing scenario, with travel times from its city graph."""
    geo = geometry if geometry is not None else _geometry(scenario)
    counts = pool_role_counts(scenario)
    per_booth = tuple(roles_of(scenario).items())
    pools = tuple(
        PoolSpec(name, tuple((r, counts[(name, r)]) for r, _ in per_booth), p.callup_delay_s, p.group_size,
                 p.group_interval_s, p.shift_s)  # fmt: skip
        for name, p in scenario.resources.testers.items()
    )
    sites = tuple(s.node for s in scenario.testing.sites)
    zones = scenario.population.zones
    travel = np.array([[geo.tester_travel[scenario.resources.testers[p.name].centre][s] for s in sites]
                       for p in pools], dtype=float).reshape(len(pools), len(sites))  # fmt: skip
    walk = np.array([[geo.walk_zone_site[z.node][s] for s in sites] for z in zones], dtype=float)
    return StaffingProblem(
        name=scenario.name,
        zones=tuple(z.node for z in zones),
        visitors=tuple(z.visitors for z in zones),
        arrivals=tuple(z.arrivals for z in zones),
        sites=sites,
        booths=tuple(s.booths for s in scenario.testing.sites),
        pools=pools,
        per_booth=per_booth,
        travel=travel,
        walk=walk,
        mean_swab_s=float(scenario.testing.swab_time.mean_s),
        horizon_s=scenario.clock.horizon_s,
    )


def _geometry(scenario: MassTestingScenario) -> MassTestingGeometry:
    return MassTestingGeometry(scenario, scenario_graph(scenario))


# ------------------------------------------------------------------------------------------ a plan's makespan


@dataclass(frozen=True)
class Assignment:
    """Testers and visitors as numbers: `x[(wave, site, role)]` testers, `y[(zone, site)]` shares."""

    x: dict[tuple[int, int, str], int]
    y: dict[tuple[int, int], float]


@dataclass(frozen=True)
class FluidOutcome:
    """A plan scored by the fluid model."""

    makespan_s: float
    site_finish_s: tuple[float, ...]
    booth_bound_s: tuple[float, ...]  # seconds before its finish a site had all its booths staffed
    staffed_from_s: tuple[float, ...]  # when a site first staffed a booth (inf if never)
    walk_s: float  # visitor-seconds of walking
    travel_s: float  # tester-seconds of travel
    testers_sent: int


@dataclass(frozen=True)
class Crew:
    """Testers of one role on duty at one site from `arrive_s` until `leave_s`, having travelled `travel_s`."""

    site: int
    role: str
    count: int
    arrive_s: float
    leave_s: float
    travel_s: float


def crews_of(problem: StaffingProblem, a: Assignment) -> list[Crew]:
    """The crews an assignment sends (each works its pool's shift from arrival)."""
    out = []
    for (g, s, r), n in sorted(a.x.items()):
        if n > 0:
            wave = problem.waves[g]
            arrive = problem.arrival(g, s)
            out.append(Crew(s, r, n, arrive, arrive + problem.pools[wave.pool].shift_s,
                            float(problem.travel[wave.pool, s])))  # fmt: skip
    return out


def plan_crews_and_shares(problem: StaffingProblem, plan: Plan) -> tuple[list[Crew], dict[tuple[int, int], float]]:
    """A plan's crews (timed as the simulation times them) and visitor shares (a zone's unrouted rest goes to
    its nearest site, as in the simulation)."""
    site_ix = {s: i for i, s in enumerate(problem.sites)}
    pool_ix = {p.name: i for i, p in enumerate(problem.pools)}
    crews = []
    for act in plan.of_type(AssignStaff):
        p = pool_ix[act.pool]
        pool, s = problem.pools[p], site_ix[act.to]
        travel = float(problem.travel[p, s])
        if not math.isfinite(travel):
            continue  # never arrives
        arrive = max(act.at_s, pool.departure_s(act.wave)) + travel
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
            s = min(range(len(problem.sites)), key=lambda s: (problem.walk[z, s], problem.sites[s]))
            y[(z, s)] += rest
    return crews, dict(y)


def fluid_makespan(problem: StaffingProblem, plan: Plan) -> FluidOutcome:
    """The fluid model's makespan of any plan: when the last visitor is swabbed if everything flows."""
    return score_crews(problem, *plan_crews_and_shares(problem, plan))


def score(problem: StaffingProblem, a: Assignment) -> FluidOutcome:
    """The fluid makespan (and walking, travel, what binds) of testers and shares given as numbers."""
    return score_crews(problem, crews_of(problem, a), a.y)


def score_crews(problem: StaffingProblem, crews: list[Crew], y: dict[tuple[int, int], float]) -> FluidOutcome:
    """The fluid makespan of crews on duty and visitor shares, site by site.

    At a site, the booths staffed between two crew events are min(booths, testers of each role // per booth);
    C(t) is the capacity accumulated by t. The site is done at the first T with C(T) >= C(u) + (visitors reaching
    it at or after u) for every u at which someone still arrives.
    """
    need = np.array([n for _, n in problem.per_booth], dtype=float)
    finish, booth_bound, staffed_from = [], [], []
    for s in range(len(problem.sites)):
        mine = [c for c in crews if c.site == s and c.leave_s > c.arrive_s]
        times = np.array(sorted({0.0, *(c.arrive_s for c in mine), *(c.leave_s for c in mine)}))
        present = np.zeros((max(0, len(times) - 1), len(need)))
        for c in mine:
            lo, hi = np.searchsorted(times, [c.arrive_s, c.leave_s])
            present[lo:hi, problem.roles.index(c.role)] += c.count
        b = np.minimum(problem.booths[s], np.floor(present / need + 1e-9).min(axis=1, initial=np.inf))
        rate = b / problem.mean_swab_s
        cum = np.concatenate([[0.0], np.cumsum(rate * np.diff(times))])
        zones = [(z, float(problem.walk[z, s]), v) for (z, ss), v in y.items() if ss == s and v > 0]
        if any(not math.isfinite(w) for z, w, _ in zones if problem.mass[z] > 0):
            end = math.inf
        else:
            us = {0.0, *times.tolist()}
            for z, w, _ in zones:
                us.add(w)
                prof = problem.arrivals[z]
                if prof is not None:
                    us.update(w + p.from_s for p in prof.periods)
                    us.add(w + problem.horizon_s)
            need_cap = 0.0  # max over u of C(u) + (what arrives at or after u), where something still arrives
            for u in us:
                later = sum(v * problem.mass_from(z, w, u) for z, w, v in zones)
                if later > 1e-9:
                    need_cap = max(need_cap, float(np.interp(u, times, cum)) + later)
            end = _inverse(times, cum, rate, need_cap)
        finish.append(end)
        on = np.flatnonzero(b > 0)
        staffed_from.append(float(times[on[0]]) if on.size else math.inf)
        booth_bound.append(sum(max(0.0, min(times[k + 1], end) - times[k])
                               for k in range(len(b)) if b[k] >= problem.booths[s]))  # fmt: skip
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


def _inverse(times: np.ndarray, cum: np.ndarray, rate: np.ndarray, value: float) -> float:
    """The first moment the cumulative capacity reaches `value` (inf if it never does)."""
    if value <= 1e-9:
        return 0.0
    tol = 1e-9 * max(1.0, value)
    k = int(np.searchsorted(cum, value - tol))
    if k >= len(cum):
        return math.inf
    if k == 0:
        return float(times[0])
    return float(times[k - 1] + max(0.0, value - cum[k - 1]) / rate[k - 1])


# ------------------------------------------------------------------------------------------ the model


def _status(code: int) -> str:
    return {
        pywraplp.Solver.OPTIMAL: "OPTIMAL",
        pywraplp.Solver.FEASIBLE: "FEASIBLE",
        pywraplp.Solver.INFEASIBLE: "INFEASIBLE",
        pywraplp.Solver.UNBOUNDED: "UNBOUNDED",
    }.get(code, "UNKNOWN")


def add_pool_counts(solver: Any, x: dict, problem: StaffingProblem) -> dict[tuple[int, str], Any]:
    """Each pool sends at most its testers of each role."""
    terms: dict[tuple[int, str], list] = defaultdict(list)
    for (g, _, r), v in x.items():
        terms[(problem.waves[g].pool, r)].append(v)
    rows = {}
    for p, pool in enumerate(problem.pools):
        for r, n in pool.roles:
            if terms[(p, r)]:
                rows[(p, r)] = _row(solver, terms[(p, r)], ub=n)
    return rows


def add_wave_sizes(solver: Any, x: dict, problem: StaffingProblem) -> dict[int, Any]:
    """Each wave carries at most group_size testers."""
    terms: dict[int, list] = defaultdict(list)
    for (g, _, _), v in x.items():
        terms[g].append(v)
    return {g: _row(solver, vs, ub=problem.waves[g].size) for g, vs in sorted(terms.items())}


def _row(solver: Any, variables: list, *, lb: float | None = None, ub: float | None = None) -> Any:
    """lb <= sum(variables) <= ub."""
    inf = solver.infinity()
    ct = solver.Constraint(-inf if lb is None else lb, inf if ub is None else ub)
    for v in variables:
        ct.SetCoefficient(v, 1.0)
    return ct


def add_zone_routing(solver: Any, y: dict, problem: StaffingProblem, unit: dict) -> None:
    """Every visitor is routed: a zone's shares add up to 1."""
    terms: dict[int, list] = defaultdict(list)
    for (z, s), v in y.items():
        terms[z].append(v)
    for z in range(len(problem.zones)):
        if problem.mass[z] > 0:
            solver.Add(solver.Sum(terms[z]) == unit[z])


def add_booth_staffing(solver: Any, x: dict, b: dict, problem: StaffingProblem) -> None:
    """A site staffs at most its booths (the variables' bound), and each booth needs its testers of every role.

    The testers of a role present in an interval are carried from the interval before, plus the waves that
    arrive and minus those whose shift ends (a chain, so that each row stays short).
    """
    need = dict(problem.per_booth)
    inf = solver.infinity()
    for s, tl in enumerate(problem.timelines):
        for r in problem.roles:
            before: Any = None
            was: set[int] = set()
            for k, act in enumerate(tl.active):
                now = set(act)
                present = solver.NumVar(0, inf, f"p_{s}_{k}_{r}")
                row = solver.Constraint(0, 0)  # present = before + arriving - leaving
                row.SetCoefficient(present, 1)
                if before is not None:
                    row.SetCoefficient(before, -1)
                for g in now - was:
                    if (g, s, r) in x:
                        row.SetCoefficient(x[(g, s, r)], -1)
                for g in was - now:
                    if (g, s, r) in x:
                        row.SetCoefficient(x[(g, s, r)], 1)
                if (s, k) in b:
                    staff = solver.Constraint(-inf, 0)  # need * booths <= present
                    staff.SetCoefficient(b[(s, k)], need[r])
                    staff.SetCoefficient(present, -1)
                before, was = present, now


def add_capacity_curve(solver: Any, b: dict, cap: dict, problem: StaffingProblem) -> None:
    """A site's capacity (visitors it can swab from the start) grows by its staffed booths over each interval."""
    for s, tl in enumerate(problem.timelines):
        solver.Add(cap[(s, 0)] == 0)
        for k in range(len(tl.times) - 1):
            grow = b[(s, k)] * (float(tl.times[k + 1] - tl.times[k]) / problem.mean_swab_s) if (s, k) in b else 0
            solver.Add(cap[(s, k + 1)] == cap[(s, k)] + grow)


def add_service_by(solver: Any, y: dict, problem: StaffingProblem, unit: dict) -> list[tuple[int, float, Any]]:
    """What reaches a site at or after u is swabbed in [u, T] (the capacity terms are set per trial T)."""
    rows = []
    for s, tl in enumerate(problem.timelines):
        for u in tl.u_points:
            ct = solver.Constraint(0.0, solver.infinity())
            for z in range(len(problem.zones)):
                if (z, s) in y:
                    m = problem.mass_from(z, float(problem.walk[z, s]), u)
                    if m > 0:
                        ct.SetCoefficient(y[(z, s)], -m / unit[z])
            rows.append((s, u, ct))
    return rows


class FluidModel:
    """The fluid model at a trial makespan T, in one pywraplp solver; its variables never leave this module."""

    def __init__(self, problem: StaffingProblem, *, integer: bool, backend: str = "HIGHS",
                 split_zones: bool = True, elastic: bool = False, params: SolveParams = SolveParams()):  # fmt: skip
        self.problem = problem
        self.integer = integer
        self.solver = pywraplp.Solver.CreateSolver(backend if integer else "GLOP")
        if self.solver is None:
            raise ValueError(f"OR-Tools has no {backend!r} solver in this build")
        solver = self.solver
        self.backend, self.seed = backend, params.seed
        self._value: Any = None
        self._objective: tuple[float, float] | None = None
        whole_booths = any(n > 1 for _, n in problem.per_booth) or backend == "CP_SAT"
        self.x: dict[tuple[int, int, str], Any] = {}
        for g, wave in enumerate(problem.waves):
            pool = problem.pools[wave.pool]
            for s in range(len(problem.sites)):
                if not math.isfinite(problem.travel[wave.pool, s]):
                    continue
                for r, n in pool.roles:
                    ub = wave.size if problem.wave_size_override else min(n, wave.size)
                    if ub > 0:
                        self.x[(g, s, r)] = solver.Var(0, ub, integer, f"x_{g}_{s}_{r}")
        # A zone's share of site s; CP-SAT (which cannot scale [0, 1] shares) counts whole visitors instead.
        counted = integer and backend == "CP_SAT" and split_zones
        self.unit = {z: float(max(1, round(problem.mass[z]))) if counted else 1.0 for z in range(len(problem.zones))}
        self.y: dict[tuple[int, int], Any] = {}
        for z in range(len(problem.zones)):
            for s in range(len(problem.sites)):
                if problem.mass[z] > 0 and math.isfinite(problem.walk[z, s]):
                    whole = integer and (not split_zones or counted)
                    self.y[(z, s)] = solver.Var(0, self.unit[z], whole, f"y_{z}_{s}")
        self.b: dict[tuple[int, int], Any] = {}
        self.cap: dict[tuple[int, int], Any] = {}
        for s, tl in enumerate(problem.timelines):
            for k, act in enumerate(tl.active):
                if act:
                    self.b[(s, k)] = solver.Var(0, problem.booths[s], integer and whole_booths, f"b_{s}_{k}")
            most = problem.booths[s] * float(tl.times[-1]) / problem.mean_swab_s
            for k in range(len(tl.times)):
                self.cap[(s, k)] = solver.NumVar(0, most, f"c_{s}_{k}")

        self.pool_rows = {} if problem.wave_size_override else add_pool_counts(solver, self.x, problem)  # Each pool sends at most its testers of each role.
        self.wave_rows = add_wave_sizes(solver, self.x, problem)  # Each wave carries at most group_size testers.
        add_zone_routing(solver, self.y, problem, self.unit)  # Every visitor is routed: a zone's shares add up to 1.
        add_booth_staffing(solver, self.x, self.b, problem)  # Booths <= site's; each needs its testers per role.
        add_capacity_curve(solver, self.b, self.cap, problem)  # Capacity grows by the staffed booths.
        self.service = add_service_by(solver, self.y, problem, self.unit)  # What reaches s at/after u is swabbed by T.
        self._terms: list[list[Any]] = [[] for _ in self.service]
        if elastic:  # a site may fall short (visitors not swabbed in time), and the shortfall is minimised
            short = [solver.NumVar(0, solver.infinity(), f"short_{s}") for s in range(len(problem.sites))]
            for s, _, ct in self.service:
                ct.SetCoefficient(short[s], 1.0)
            for v in short:
                solver.Objective().SetCoefficient(v, 1.0)
            solver.Objective().SetMinimization()
        self.makespan_s: float | None = None

    def capacity_at(self, s: int, t: float) -> dict[Any, float]:
        """The site's capacity up to `t` as terms of the model's variables."""
        tl = self.problem.timelines[s]
        k = tl.index(t)
        if k >= len(tl.times) - 1:
            return {self.cap[(s, len(tl.times) - 1)]: 1.0}
        out = {self.cap[(s, k)]: 1.0}
        if (s, k) in self.b and t > tl.times[k]:
            out[self.b[(s, k)]] = float(t - tl.times[k]) / self.problem.mean_swab_s
        return out

    def set_makespan(self, t_s: float) -> None:
        """Ask for every site to be done by `t_s`."""
        for i, (s, u, ct) in enumerate(self.service):
            for v in self._terms[i]:
                ct.SetCoefficient(v, 0.0)
            terms: dict[Any, float] = {}
            if u < t_s:
                terms = self.capacity_at(s, t_s)
                for v, c in self.capacity_at(s, u).items():
                    terms[v] = terms.get(v, 0.0) - c
            for v, c in terms.items():
                ct.SetCoefficient(v, c)
            self._terms[i] = list(terms)
        self.makespan_s = t_s

    def what_if(self, *, pool: int | None = None, testers: int = 0, site: int | None = None, booths: int = 0) -> None:
        """Give a pool more testers (filling its last wave, which grows if need be) or a site more booths;
        `what_if()` restores the scenario's own numbers."""
        p = self.problem
        for (q, r), row in self.pool_rows.items():
            extra = _role_split(p.pools[q], testers)[r] if q == pool else 0
            row.SetUb(dict(p.pools[q].roles)[r] + extra)
        last = {w.pool: g for g, w in enumerate(p.waves)}
        for g, row in self.wave_rows.items():
            wave = p.waves[g]
            size = wave.size
            if wave.pool == pool and g == last[pool]:
                used = p.pools[pool].count - sum(w.size for w in p.waves[:g] if w.pool == pool)
                size += max(0, testers - (wave.size - used))
            row.SetUb(size)
            for (gg, _, r), v in self.x.items():
                if gg == g:
                    n = dict(p.pools[wave.pool].roles)[r] + (_role_split(p.pools[pool], testers)[r] if wave.pool == pool else 0)
                    v.SetUb(size if p.wave_size_override else min(n, size))
        for (s, _), v in self.b.items():
            v.SetUb(p.booths[s] + (booths if s == site else 0))

    def minimise_walk_and_travel(self, opts: StaffingParams) -> None:
        """The second phase's objective: visitor-seconds walked and tester-seconds travelled, weighted."""
        obj = self.solver.Objective()
        obj.Clear()
        p = self.problem
        for (z, s), v in self.y.items():
            obj.SetCoefficient(v, opts.walk_weight * float(p.mass[z] * p.walk[z, s]) / self.unit[z])
        for (g, s, _), v in self.x.items():
            obj.SetCoefficient(v, opts.travel_weight * float(p.travel[p.waves[g].pool, s]))
        obj.SetMinimization()

    def minimise_testers(self) -> None:
        """The diagnosis objective: as few testers as possible."""
        obj = self.solver.Objective()
        obj.Clear()
        for v in self.x.values():
            obj.SetCoefficient(v, 1.0)
        obj.SetMinimization()

    def add_all_testers_sent(self) -> None:
        """Every tester who can reach a site is sent."""
        terms: dict[tuple[int, str], list] = defaultdict(list)
        for (g, _, r), v in self.x.items():
            terms[(self.problem.waves[g].pool, r)].append(v)
        for p, pool in enumerate(self.problem.pools):
            for r, n in pool.roles:
                if terms[(p, r)]:
                    self.solver.Add(self.solver.Sum(terms[(p, r)]) == n)

    def solve(self, time_limit_s: float, *, relative_gap: float = 0.0) -> str:
        """Solve as the model stands; a MIP is solved by a fresh solver loaded from the model's proto (SCIP does not
        re-solve a modified model reliably through pywraplp)."""
        mp = pywraplp.MPSolverParameters()
        if not self.integer:
            self.solver.SetTimeLimit(max(1, int(1000 * time_limit_s)))
            status = _status(self.solver.Solve(mp))
            self._value = (lambda v: v.solution_value()) if status == "OPTIMAL" else None
            self._objective = (self.solver.Objective().Value(),) * 2 if status == "OPTIMAL" else None
            return status
        proto = linear_solver_pb2.MPModelProto()
        self.solver.ExportModelToProto(proto)
        fresh = pywraplp.Solver.CreateSolver(self.backend)
        fresh.LoadModelFromProto(proto)
        fresh.SetTimeLimit(max(1, int(1000 * time_limit_s)))
        if self.backend == "SCIP":
            fresh.SetSolverSpecificParametersAsString(f"randomization/randomseedshift = {self.seed}\n")
        elif self.backend == "HIGHS":  # no banner on stdout (it would spoil `--json`); our seed
            fresh.SetSolverSpecificParametersAsString(f"output_flag=false\nrandom_seed={self.seed}\n")
        mp.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, max(relative_gap, 1e-9))
        status = _status(fresh.Solve(mp))
        if status in ("OPTIMAL", "FEASIBLE"):
            values = [v.solution_value() for v in fresh.variables()]
            self._value = lambda v: values[v.index()]
            self._objective = (fresh.Objective().Value(), fresh.Objective().BestBound())
        else:
            self._value, self._objective = None, None
        return status

    def objective(self) -> tuple[float, float]:
        """The last solve's objective value and best bound."""
        assert self._objective is not None, "no solution"
        return self._objective

    def assignment(self) -> Assignment:
        """The last solve's testers and shares."""
        value = self._value
        assert value is not None, "no solution"
        x = {key: round(value(v)) for key, v in self.x.items() if value(v) > 0.5}
        y = {(z, s): value(v) / self.unit[z] for (z, s), v in self.y.items() if value(v) > 1e-9}
        return Assignment(x, _normalise_shares(y))


def _normalise_shares(y: dict[tuple[int, int], float]) -> dict[tuple[int, int], float]:
    """Shares rounded to 1e-9 that add up to exactly 1 per zone (the largest absorbs the rounding)."""
    by_zone: dict[int, dict[int, float]] = defaultdict(dict)
    for (z, s), v in y.items():
        if v > 1e-7:
            by_zone[z][s] = min(1.0, v)
    out = {}
    for z, row in by_zone.items():
        total = sum(row.values())
        row = {s: round(v / total, 9) for s, v in row.items()}
        top = max(row, key=lambda s: (row[s], -s))
        row[top] = round(1.0 - sum(v for s, v in row.items() if s != top), 9)
        out.update({(z, s): v for s, v in row.items() if v > 0})
    return out


# ------------------------------------------------------------------------------------------ the search


@dataclass
class Search:
    """What the makespan search found: the best plan, a proven lower bound and how it was proven."""

    best: Assignment | None = None
    best_s: float = math.inf
    lower_s: float = 0.0
    lower_source: str = "trivial"
    lp_s: float = math.inf  # the least makespan the LP relaxation found feasible
    status: str = "UNKNOWN"
    probes: list[tuple[float, str, float]] = field(default_factory=list)  # (T, status, seconds)
    model: FluidModel | None = None
    lp: LpSearch | None = None
    lp_bracket: tuple[float, float] | None = None

    @property
    def gap(self) -> float:
        if not math.isfinite(self.best_s):
            return math.inf
        return (self.best_s - self.lower_s) / max(self.best_s, 1e-9)


def quick_lower_bound(problem: StaffingProblem) -> float:
    """A makespan no plan beats, from totals alone: the booths, and each role's testers, from their earliest arrival.

    By bisection on T: the booth-seconds the sites could offer by T (every booth staffed from the first possible
    arrival) and those each role's testers could (each in its pool's earliest waves, at its nearest site, until
    its shift ends) must cover every visitor's swab.
    """
    need = float(problem.mass.sum()) * problem.mean_swab_s
    if need <= 0:
        return 0.0
    first = [min((problem.arrival(g, s) for g in range(len(problem.waves))), default=math.inf)
             for s in range(len(problem.sites))]  # fmt: skip
    per_booth = dict(problem.per_booth)
    crews: list[tuple[str, float, float, int]] = []  # (role, arrival, leaves, testers)
    for p, pool in enumerate(problem.pools):
        reach = float(np.min(problem.travel[p])) if len(problem.sites) else math.inf
        if not math.isfinite(reach):
            continue
        for r, n in pool.roles:
            left = n
            for wave in problem.waves:
                if wave.pool == p and left > 0:
                    take = min(left, wave.size)
                    crews.append((r, wave.depart_s + reach, wave.depart_s + reach + pool.shift_s, take))
                    left -= take

    def enough(t: float) -> bool:
        booths = sum(b * max(0.0, t - a) for b, a in zip(problem.booths, first, strict=True) if math.isfinite(a))
        if booths < need:
            return False
        for r in problem.roles:
            work = sum(n * max(0.0, min(t, e) - a) for rr, a, e, n in crews if rr == r)
            if work / per_booth[r] < need:
                return False
        return True

    hi = problem.horizon_cap_s
    if not enough(hi):
        return hi
    lo = 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return lo


class LpSearch:
    """The LP relaxation's least feasible makespan, on one warm-started LP that minimises the shortfall.

    The shortfall (visitors not swabbed in time, summed over the service rows) is positive exactly when the LP
    is infeasible, which proves that no plan finishes by then. It falls as T grows, nearly linearly close to the
    threshold, so each trial extrapolates the last two infeasible ones (safeguarded by the bracket); trials stay
    close together, which keeps the warm-started simplex quick.
    """

    def __init__(self, problem: StaffingProblem, *, deadline: float):
        self.problem = problem
        self.deadline = deadline
        self.model = FluidModel(problem, integer=False, elastic=True)
        self.eps = 1e-6 * max(1.0, float(problem.mass.sum()))
        self.top = problem.horizon_cap_s * (1 + 1e-9) + 1e-6
        self.solves = 0

    def shortfall(self, t: float) -> float | None:
        self.model.set_makespan(t)
        self.solves += 1
        if self.model.solve(max(0.01, self.deadline - time.perf_counter())) != "OPTIMAL":
            return None
        return self.model.objective()[0]

    def threshold(self, *, tol: float, lo: float | None = None, hi: float | None = None) -> tuple[float, float] | None:
        """`(lo, hi)` within `tol` (relative): infeasible at `lo`, feasible at `hi`; None when infeasible at any T.

        `lo` and `hi` are hints: `hi` must be known feasible; `lo` is lowered until it is infeasible.
        A site's shortfall can shrink at most by its booths' swab rate, so from an infeasible T the makespan is
        at least T + shortfall * mean swab / all booths (the first step up); then the last two are extrapolated.
        """
        p = self.problem
        rate = sum(p.booths) / p.mean_swab_s
        lo = quick_lower_bound(p) if lo is None else lo
        while True:  # an infeasible lower end, widening downwards
            f_lo = self.shortfall(lo) if lo > 0 else float(p.mass.sum())
            if f_lo is None:
                return None
            if f_lo > self.eps:
                break
            if lo <= 0:
                return 0.0, 0.0
            hi, lo = lo, max(0.0, lo - 2 * ((hi if hi is not None else lo) - lo) - 0.05 * lo - 1.0)
        prev: tuple[float, float] | None = None
        while hi is None or (hi - lo > max(1.0, tol * hi) and time.perf_counter() < self.deadline):
            step = 0.9 * max(1.0, tol * (hi if hi is not None else lo))
            if prev is None:
                trial = lo + f_lo / rate  # no plan finishes before this
            else:
                trial = lo + f_lo * (lo - prev[0]) / (prev[1] - f_lo) if prev[1] > f_lo else 2 * lo - prev[0]
            trial = max(trial, lo + step)
            if hi is not None:
                trial = min(trial, hi - step) if hi - lo > 2 * step else (lo + hi) / 2
            if trial >= self.top:
                trial = self.top
            f = self.shortfall(trial)
            if f is None:
                return None
            if f <= self.eps:
                hi = trial
            elif trial >= self.top:
                return None
            else:
                prev, lo, f_lo = (lo, f_lo), trial, f
        return lo, hi


def lp_threshold(problem: StaffingProblem, *, tol: float, deadline: float) -> tuple[float, float] | None:
    """`(lo, hi)`: the LP relaxation is infeasible at `lo` and feasible at `hi` (None: infeasible at any T)."""
    return LpSearch(problem, deadline=deadline).threshold(tol=tol)


def search_makespan(problem: StaffingProblem, *, params: SolveParams, options: StaffingParams,
                    deadline: float) -> Search:  # fmt: skip
    """Bisection on the makespan: the LP relaxation for the bound, then MIP probes for plans."""
    out = Search()
    out.lp = LpSearch(problem, deadline=deadline)
    found = out.lp.threshold(tol=params.relative_gap / 10)
    out.lp_bracket = found
    if found is None:
        out.status = "INFEASIBLE"
        out.lower_s, out.lower_source = math.inf, "LP relaxation infeasible at any makespan"
        return out
    out.lower_s, out.lp_s = found
    out.lower_source = "LP relaxation infeasible (bisection)"
    if (quick := quick_lower_bound(problem)) > out.lower_s:
        out.lower_s, out.lower_source = quick, "booth and tester totals"
    model: Any
    if options.backend == "CP_SAT":
        model = CpSatProbe(problem, split_zones=options.split_zones, params=params)
        out.model = FluidModel(problem, integer=True, backend="HIGHS", split_zones=options.split_zones, params=params)
    else:
        model = out.model = FluidModel(problem, integer=True, backend=options.backend,
                                       split_zones=options.split_zones, params=params)  # fmt: skip
    trial, top, step = out.lp_s, problem.horizon_cap_s * (1 + 1e-9) + 1e-6, 0.0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        model.set_makespan(trial)
        status = model.solve(deadline - started)
        out.probes.append((trial, status, time.perf_counter() - started))
        if status in ("OPTIMAL", "FEASIBLE"):
            a = model.assignment()
            t = score(problem, a).makespan_s
            if t < out.best_s:
                out.best, out.best_s = a, t
        elif status == "INFEASIBLE":
            if trial > out.lower_s:
                out.lower_s, out.lower_source = trial, "MIP proved infeasible (bisection)"
            if trial >= top:
                break
        if out.gap <= params.relative_gap or out.best_s - out.lower_s <= 1.0:
            break
        if math.isfinite(out.best_s):
            base = trial if status not in ("OPTIMAL", "FEASIBLE", "INFEASIBLE") else out.lower_s
            if out.best_s - base <= 1.0:
                break
            trial = (base + out.best_s) / 2
        else:
            if trial >= top:
                break
            step = max(1.0, params.relative_gap * trial, 2 * step)  # no plan yet: step up, doubling
            trial = min(trial + step, top)
    if out.best is None:
        out.status = "UNKNOWN"
    else:
        out.status = "OPTIMAL" if out.gap <= params.relative_gap or out.best_s - out.lower_s <= 1.0 else "FEASIBLE"
    return out


# ------------------------------------------------------------------------------------------ second phase


def send_spares(problem: StaffingProblem, a: Assignment) -> Assignment:
    """Send every tester not yet assigned, in the pool's earliest waves with room, to their nearest site."""
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
                if spare <= 0:
                    break
                if wave.pool == p and load[g] < wave.size:
                    take = min(spare, wave.size - load[g])
                    x[(g, site, r)] = x.get((g, site, r), 0) + take
                    load[g] += take
                    spare -= take
    return Assignment(x, a.y)


@dataclass(frozen=True)
class SecondPhase:
    assignment: Assignment
    status: str
    objective: float | None
    bound: float | None


def second_phase(search: Search, *, params: SolveParams, options: StaffingParams, deadline: float) -> SecondPhase:
    """With the makespan fixed at the best found (plus any slack), minimise walking and tester travel."""
    assert search.model is not None and search.best is not None
    model, problem = search.model, search.model.problem
    limit = search.best_s * (1 + options.makespan_slack)
    fallback = send_spares(problem, search.best) if options.send_all_testers else search.best
    if not options.secondary or deadline - time.perf_counter() < 0.05:
        return SecondPhase(fallback, "SKIPPED", None, None)
    model.set_makespan(limit * (1 + 1e-9) + 1e-6)
    if options.send_all_testers:
        model.add_all_testers_sent()  # Every tester who can reach a site is sent.
    model.minimise_walk_and_travel(options)
    status = model.solve(deadline - time.perf_counter(), relative_gap=params.relative_gap)
    if status not in ("OPTIMAL", "FEASIBLE"):
        return SecondPhase(fallback, status, None, None)
    a = model.assignment()
    if score(problem, a).makespan_s > limit * (1 + 1e-6) + 1e-3:  # numerical trouble: keep the first phase's plan
        return SecondPhase(fallback, "REJECTED", None, None)
    value, bound = model.objective()
    return SecondPhase(a, status, value, bound)


# ------------------------------------------------------------------------------------------ plans and words


def to_plan(problem: StaffingProblem, a: Assignment, meta: PlanMeta) -> Plan:
    """Plan actions: one AssignStaff per (pool, wave, site, role), one RouteVisitors per (zone, site)."""
    actions: list[Any] = []
    for (g, s, r), n in sorted(a.x.items()):
        if n > 0:
            wave = problem.waves[g]
            actions.append(AssignStaff(at_s=wave.depart_s, pool=problem.pools[wave.pool].name, to=problem.sites[s],
                                       count=n, role=r, wave=wave.index))  # fmt: skip
    routed = {z for (z, _), v in a.y.items() if v > 0}
    for (z, s), v in sorted(a.y.items()):
        if v > 0:
            actions.append(RouteVisitors(at_s=0.0, origin=problem.zones[z], to=problem.sites[s], share=v))
    for z in range(len(problem.zones)):
        if z not in routed:  # nobody there: the nearest site, for anyone who turns up
            s = min(range(len(problem.sites)), key=lambda s: (problem.walk[z, s], problem.sites[s]))
            actions.append(RouteVisitors(at_s=0.0, origin=problem.zones[z], to=problem.sites[s], share=1.0))
    return Plan.build(meta, actions)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def _names(items: list[str], most: int = 4) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _role_split(pool: PoolSpec, n: int) -> dict[str, int]:
    """`n` more testers split over the pool's roles in its own proportions."""
    roles = list(pool.roles)
    if pool.count > 0 and len(roles) > 1:
        add = {r: round(n * c / pool.count) for r, c in roles}
    else:
        add = {r: 0 for r, _ in roles}
    add[roles[0][0]] += n - sum(add.values())
    return add


def marginal_values(search: Search, *, options: StaffingParams, booth_sites: list[int], deadline: float) -> list[str]:
    """What one more unit buys: the LP relaxation's least makespan re-found with more testers or booths.

    The base and every variant are found to the same tolerance on the same warm-started LP; more testers join the
    pool's last wave (which grows if it is full).
    """
    lp, bracket = search.lp, search.lp_bracket
    if lp is None or bracket is None:
        return []
    lp.deadline = deadline
    tol = 1e-4
    lp.model.what_if()
    base = lp.threshold(tol=tol, lo=bracket[0], hi=bracket[1])
    if base is None:
        return []
    problem = lp.problem
    n = options.extra_testers
    variants: list[tuple[str, dict[str, int]]] = [
        (f"{n} more {pool.name} testers", {"pool": p, "testers": n})
        for p, pool in enumerate(problem.pools) if pool.n_waves > 0
    ]  # fmt: skip
    variants += [(f"one more booth at {problem.sites[s]}", {"site": s, "booths": 1}) for s in booth_sites]
    out = []
    for label, change in variants:
        if time.perf_counter() >= deadline:
            out.append("what more units would buy: not computed (out of time)")
            break
        lp.model.what_if(**change)
        found = lp.threshold(tol=tol, lo=base[0], hi=base[1])
        if found is None:
            continue
        gain = base[1] - found[1]
        if gain >= 30:
            out.append(f"{label} would finish about {_minutes(gain)} earlier (LP relaxation re-solved)")
        else:
            out.append(f"{label} would not finish noticeably earlier (LP relaxation re-solved)")
    lp.model.what_if()
    return out


def _rationale(problem: StaffingProblem, outcome: FluidOutcome, search: Search, label: Any) -> tuple[list[str], list[int]]:
    """What binds, in words; and the booth-bound bottleneck sites (for the marginal analysis)."""
    end = outcome.makespan_s
    lines = [
        f"last visitor swabbed at {label(end)}, {_minutes(end)} after the start (fluid model); no plan finishes "
        f"before {label(search.lower_s)} ({search.lower_source}); gap {100 * outcome_gap(end, search.lower_s):.2f}%"
    ]
    near = max(60.0, 0.002 * end)
    late = [s for s in range(len(problem.sites)) if outcome.site_finish_s[s] >= end - near]
    booth, tester = [], []
    for s in sorted(late, key=lambda s: (-outcome.booth_bound_s[s], problem.sites[s])):
        busy = outcome.site_finish_s[s] - outcome.staffed_from_s[s]
        (booth if busy > 0 and outcome.booth_bound_s[s] >= 0.5 * busy else tester).append(s)
    parts = []
    if booth:
        parts.append(f"booths bind at {_names([problem.sites[s] for s in booth])} (every booth staffed at least half "
                     "the time)")  # fmt: skip
    if tester:
        parts.append(f"testers bind at {_names([problem.sites[s] for s in tester])}")
    lines.append(f"bottleneck: {len(late)} of {len(problem.sites)} sites finish within {_minutes(near)} of the last; "
                 + "; ".join(parts))  # fmt: skip
    visitors = float(problem.mass.sum())
    if visitors > 0:
        lines.append(f"visitors walk {outcome.walk_s / visitors / 60:.1f} min on average to their site")
    lines.append(f"{outcome.testers_sent} of {problem.testers} testers sent; they travel "
                 f"{outcome.travel_s / max(1, outcome.testers_sent) / 60:.0f} min on average")  # fmt: skip
    return lines, booth[:2]


def outcome_gap(objective: float, bound: float) -> float:
    return max(0.0, objective - bound) / max(objective, 1e-9)


# ------------------------------------------------------------------------------------------ diagnosis


@dataclass(frozen=True)
class StaffingDiagnosis:
    """How many testers a finish time needs, when the scenario's cannot make it."""

    finish_by_s: float
    available: int
    needed: int | None  # proven: fewer testers cannot finish by then (None: no number of testers can)
    found: int | None  # testers in the leanest plan found that finishes by then
    earliest_s: float | None  # when no number can: no plan finishes before this, even with unlimited testers
    message: str


def _unlimited(problem: StaffingProblem, finish_by_s: float) -> StaffingProblem:
    """The problem with every wave as large as could ever be useful, and no limit on a pool's testers."""
    shift = min((p.shift_s for p in problem.pools), default=1.0)
    slots = sum(problem.booths) * sum(n for _, n in problem.per_booth)
    return replace(problem, wave_size_override=max(1, slots * (math.ceil(finish_by_s / shift) + 1)))


def diagnose(problem: StaffingProblem, finish_by_s: float, *, label: Any, params: SolveParams,
             options: StaffingParams, deadline: float) -> StaffingDiagnosis:  # fmt: skip
    """The fewest testers (leaving on the pools' schedules, in groups of any size) that finish by `finish_by_s`."""
    available = problem.testers
    when = label(finish_by_s)
    walk = [float(np.min(problem.walk[z])) for z in range(len(problem.zones)) if problem.mass[z] > 0]
    if any(not math.isfinite(w) for w in walk):
        stuck = [problem.zones[z] for z in range(len(problem.zones))
                 if problem.mass[z] > 0 and not np.isfinite(problem.walk[z]).any()]  # fmt: skip
        return StaffingDiagnosis(finish_by_s, available, None, None, None,
                                 f"visitors of {_names(stuck)} cannot walk to any test site")  # fmt: skip
    big = _unlimited(problem, finish_by_s)
    lp = FluidModel(big, integer=False)
    lp.set_makespan(finish_by_s)
    lp.minimise_testers()
    if lp.solve(max(0.01, deadline - time.perf_counter())) != "OPTIMAL":
        found = lp_threshold(big, tol=1e-3, deadline=deadline)
        earliest = None if found is None else found[0]
        why = ("visitors are still walking to their sites" if walk and max(walk) >= finish_by_s
               else "the booths and the testers' call-up and travel times bind")  # fmt: skip
        tail = f"; even unlimited testers finish no earlier than {label(earliest)}" if earliest is not None else ""
        return StaffingDiagnosis(finish_by_s, available, None, None, earliest,
                                 f"cannot finish by {when} with any number of testers{tail} ({why})")  # fmt: skip
    lp_need = lp.objective()[0]
    mip = FluidModel(big, integer=True, backend=options.backend if options.backend != "CP_SAT" else "HIGHS",
                     params=params)  # fmt: skip
    mip.set_makespan(finish_by_s)
    mip.minimise_testers()
    status = mip.solve(max(0.01, deadline - time.perf_counter()), relative_gap=0.0)
    found: int | None = None
    bound = lp_need
    if status in ("OPTIMAL", "FEASIBLE"):
        found = round(mip.objective()[0])
        bound = max(bound, mip.objective()[1])
    needed = max(0, math.ceil(bound - 1e-6))
    testers = "tester" if needed == 1 else "testers"
    are = "is" if available == 1 else "are"
    if needed > available:
        message = f"needs at least {needed} {testers} to finish by {when}; {available} {are} available"
    else:
        message = (f"finishing by {when} needs at least {needed} {testers} and {available} {are} available, but not "
                   "in the groups and roles the pools can send in time")  # fmt: skip
    if found is not None and found > needed:
        message += f" (the leanest plan found uses {found})"
    return StaffingDiagnosis(finish_by_s, available, needed, found, None, message)


def diagnose_staffing(scenario: MassTestingScenario, geometry: MassTestingGeometry | None = None, *,
                      finish_by_s: float | None = None, params: SolveParams = SolveParams(),
                      options: StaffingParams = StaffingParams()) -> StaffingDiagnosis:  # fmt: skip
    """How many testers finishing by `finish_by_s` needs (by default the scenario's target, else its horizon)."""
    if finish_by_s is None:
        finish_by_s = scenario.thresholds.target_finish_s
    if finish_by_s is None:
        finish_by_s = scenario.clock.horizon_s
    problem = staffing_problem(scenario, geometry)
    return diagnose(problem, finish_by_s, label=scenario.clock.label, params=params, options=options,
                    deadline=time.perf_counter() + params.time_limit_s)  # fmt: skip


# ------------------------------------------------------------------------------------------ the entry point


def plan_staffing(scenario: MassTestingScenario, geometry: MassTestingGeometry | None = None, *,
                  params: SolveParams = SolveParams(), options: StaffingParams = StaffingParams()) -> PlanResult:  # fmt: skip
    """Testers to sites by wave and role, and zones to sites, minimising the makespan, then walking and travel.

    `objective` and `bound` are makespans in seconds after the start: the best plan's (scored by the fluid model)
    and a proven lower bound (see the module docstring); the rationale says what binds and what more would buy.
    When the scenario's `thresholds.target_finish_s` cannot be met, `diagnosis` says how many testers it needs.
    """
    started = time.perf_counter()
    deadline = started + params.time_limit_s
    problem = staffing_problem(scenario, geometry)
    label = scenario.clock.label
    target = scenario.thresholds.target_finish_s

    def result(plan: Plan | None, status: str, objective: float | None, bound: float | None,
               rationale: list[str], diagnosis: str | None, details: dict[str, float]) -> PlanResult:  # fmt: skip
        return PlanResult(plan=plan, status=status, objective=objective,
                          bound=bound if bound is not None and math.isfinite(bound) else None,
                          wall_s=time.perf_counter() - started, seed=params.seed, rationale=tuple(rationale),
                          diagnosis=diagnosis, details=details)  # fmt: skip

    stuck = [problem.zones[z] for z in range(len(problem.zones))
             if problem.mass[z] > 0 and not np.isfinite(problem.walk[z]).any()]  # fmt: skip
    if stuck:
        return result(None, "INFEASIBLE", None, None, [], f"visitors of {_names(stuck)} cannot walk to any test site", {})
    if options.formulation == "direct":
        search = search_direct(problem, params=params, options=options, deadline=deadline)
    else:
        search = search_makespan(problem, params=params, options=options, deadline=deadline)
    phase1_s = time.perf_counter() - started
    details: dict[str, float] = {"phase1_s": phase1_s, "probes": float(len(search.probes)), "lp_makespan_s": search.lp_s}
    if search.best is None:
        finish_by = target if target is not None else scenario.clock.horizon_s
        why = None
        if search.status == "INFEASIBLE":
            why = diagnose(problem, finish_by, label=label, params=params, options=options,
                           deadline=time.perf_counter() + params.time_limit_s).message  # fmt: skip
        else:
            why = f"no plan found within the time limit of {params.time_limit_s:g} s"
        return result(None, search.status, None, search.lower_s, [], why, details)

    second = second_phase(search, params=params, options=options, deadline=deadline)
    outcome = score(problem, second.assignment)
    details.update(
        phase2_s=time.perf_counter() - started - phase1_s,
        makespan_s=outcome.makespan_s,
        walk_visitor_s=outcome.walk_s,
        travel_tester_s=outcome.travel_s,
        testers_sent=float(outcome.testers_sent),
    )
    if second.objective is not None and second.bound is not None:
        details.update(secondary_objective=second.objective, secondary_bound=second.bound)
    gap = outcome_gap(outcome.makespan_s, search.lower_s)
    status = "OPTIMAL" if gap <= params.relative_gap or outcome.makespan_s - search.lower_s <= 1.0 else "FEASIBLE"
    meta = PlanMeta(
        scenario=scenario.name,
        scenario_hash=_hash(scenario),
        produced_by=f"optimizer:staffing:{options.formulation}:{options.backend}",
        seed=params.seed,
        solver=SolverStats(status=status, objective=outcome.makespan_s, bound=search.lower_s, gap=gap,
                           wall_s=round(time.perf_counter() - started, 6)),  # fmt: skip
        objective_terms={"makespan_s": round(outcome.makespan_s, 3), "walk_visitor_s": round(outcome.walk_s, 1),
                         "travel_tester_s": round(outcome.travel_s, 1)},  # fmt: skip
        note=f"second phase (walking and travel, makespan fixed): {second.status}",
    )
    plan = to_plan(problem, second.assignment, meta)
    lines, booth_sites = _rationale(problem, outcome, search, label)
    if options.marginal:
        lines += marginal_values(search, options=options, booth_sites=booth_sites,
                                 deadline=time.perf_counter() + max(1.0, params.time_limit_s / 2))  # fmt: skip
    diagnosis = None
    if target is not None:
        if outcome.makespan_s <= target:
            lines.append(f"target {label(target)} met with {_minutes(target - outcome.makespan_s)} to spare")
        elif search.lower_s > target:
            diagnosis = diagnose(problem, target, label=label, params=params, options=options,
                                 deadline=time.perf_counter() + params.time_limit_s).message  # fmt: skip
        else:
            lines.append(f"target {label(target)} not met by the best plan found, but not ruled out by the bound")
    details["wall_s"] = time.perf_counter() - started
    return result(plan, status, outcome.makespan_s, search.lower_s, lines, diagnosis, details)


def _hash(scenario: MassTestingScenario) -> str:
    return scenario_hash(scenario)


# ------------------------------------------------------------------------------------------ alternatives (measured)


def search_direct(problem: StaffingProblem, *, params: SolveParams, options: StaffingParams, deadline: float) -> Search:
    """One MIP with the makespan a variable on a time grid (`grid_step_s`), over the LP relaxation's rough range.

    Binary o_j says the plan runs into grid segment j (o_j >= o_j+1); a site's capacity in segment j counts
    only when o_j is set. The MIP's bound is on the grid: the makespan itself is at least that bound less one
    step, and at least the LP's.
    """
    out = Search()
    out.lp = LpSearch(problem, deadline=deadline)
    found = out.lp.threshold(tol=0.01)
    if found is None:
        out.status, out.lower_s, out.lower_source = "INFEASIBLE", math.inf, "LP relaxation infeasible at any makespan"
        return out
    out.lp_bracket = found
    out.lower_s, out.lp_s = found
    out.lower_source = "LP relaxation infeasible (bisection)"
    if (quick := quick_lower_bound(problem)) > out.lower_s:
        out.lower_s, out.lower_source = quick, "booth and tester totals"
    started = time.perf_counter()
    model = FluidModel(problem, integer=True, backend=options.backend, split_zones=options.split_zones, params=params)
    solver, step = model.solver, options.grid_step_s
    grid = [found[0] + j * step for j in range(math.ceil((found[1] * 1.05 - found[0]) / step) + 1)]
    used = [solver.BoolVar(f"o_{j}") for j in range(1, len(grid))]  # used[j - 1]: T reaches grid[j]
    for a, b in zip(used, used[1:], strict=False):
        solver.Add(b <= a)  # segments are used in order
    booth_rate = [n / problem.mean_swab_s for n in problem.booths]
    for s, u, ct in model.service:
        if u >= grid[-1]:
            continue
        j0 = 0 if u < grid[0] else bisect.bisect_right(grid, u)  # first segment wholly after u
        if u < grid[0]:
            for v, c in model.capacity_at(s, grid[0]).items():
                ct.SetCoefficient(v, ct.GetCoefficient(v) + c)
            for v, c in model.capacity_at(s, u).items():
                ct.SetCoefficient(v, ct.GetCoefficient(v) - c)
        else:  # the part of segment j0 after u counts when the segment is used
            part = solver.NumVar(0, solver.infinity(), "")
            _capacity_between(solver, model, s, u, grid[j0], part)
            solver.Add(part <= booth_rate[s] * (grid[j0] - u) * used[j0 - 1])
            ct.SetCoefficient(part, 1.0)
        for j in range(max(j0, 1) + (1 if u >= grid[0] else 0), len(grid)):
            ct.SetCoefficient(_segment(solver, model, s, grid, j, used, booth_rate[s]), 1.0)
    obj = solver.Objective()
    for j, o in enumerate(used, start=1):
        obj.SetCoefficient(o, grid[j] - grid[j - 1])
    obj.SetMinimization()
    status = model.solve(deadline - time.perf_counter(), relative_gap=params.relative_gap / 2)
    out.probes.append((grid[-1], status, time.perf_counter() - started))
    if status in ("OPTIMAL", "FEASIBLE"):
        out.best = model.assignment()
        out.best_s = score(problem, out.best).makespan_s
        on_grid = grid[0] + model.objective()[1] - step
        if on_grid > out.lower_s:
            out.lower_s, out.lower_source = on_grid, "direct MIP bound on the time grid, less one step"
    out.model = FluidModel(problem, integer=True, backend=options.backend, split_zones=options.split_zones,
                           params=params)  # fmt: skip
    out.status = "UNKNOWN" if out.best is None else ("OPTIMAL" if out.gap <= params.relative_gap else "FEASIBLE")
    return out


def _capacity_between(solver: Any, model: FluidModel, s: int, a: float, b: float, var: Any) -> None:
    """var <= the site's capacity in [a, b]."""
    ct = solver.Constraint(-solver.infinity(), 0.0)
    ct.SetCoefficient(var, 1.0)
    for v, c in model.capacity_at(s, b).items():
        ct.SetCoefficient(v, ct.GetCoefficient(v) - c)
    for v, c in model.capacity_at(s, a).items():
        ct.SetCoefficient(v, ct.GetCoefficient(v) + c)


def _segment(solver: Any, model: FluidModel, s: int, grid: list[float], j: int, used: list, rate: float) -> Any:
    """The capacity of site s in grid segment j that counts: all of it if the segment is used, else none."""
    key = (s, j)
    cache = model.__dict__.setdefault("_segments", {})
    if key not in cache:
        w = solver.NumVar(0, solver.infinity(), f"w_{s}_{j}")
        _capacity_between(solver, model, s, grid[j - 1], grid[j], w)
        solver.Add(w <= rate * (grid[j] - grid[j - 1]) * used[j - 1])
        cache[key] = w
    return cache[key]


class CpSatProbe:
    """The fluid model at a trial makespan in CP-SAT: whole visitors and whole seconds, rounded to the safe side
    (capacity down, demand up), so that every plan it finds meets T; its infeasibility proves nothing."""

    def __init__(self, problem: StaffingProblem, *, split_zones: bool, params: SolveParams):
        self.problem, self.split_zones, self.params = problem, split_zones, params
        self.makespan_s: float | None = None
        self._solution: Assignment | None = None

    def set_makespan(self, t_s: float) -> None:
        self.makespan_s = t_s

    def solve(self, time_limit_s: float, *, relative_gap: float = 0.0) -> str:
        from ortools.sat.python import cp_model

        p, t = self.problem, float(self.makespan_s or 0.0)
        m = cp_model.CpModel()
        x = {}
        for g, wave in enumerate(p.waves):
            for s in range(len(p.sites)):
                if math.isfinite(p.travel[wave.pool, s]):
                    for r, n in p.pools[wave.pool].roles:
                        if min(n, wave.size) > 0:
                            x[(g, s, r)] = m.NewIntVar(0, min(n, wave.size), "")
        for (q, r), vs in _group(x, lambda k: (p.waves[k[0]].pool, k[2])).items():
            m.Add(sum(vs) <= dict(p.pools[q].roles)[r])  # Each pool sends at most its testers of each role.
        for g, vs in _group(x, lambda k: k[0]).items():
            m.Add(sum(vs) <= p.waves[g].size)  # Each wave carries at most group_size testers.
        whole = {z: math.ceil(p.mass[z] - 1e-9) for z in range(len(p.zones))}
        n_vis = {}
        for z in range(len(p.zones)):
            if whole[z] <= 0:
                continue
            reach = [s for s in range(len(p.sites)) if math.isfinite(p.walk[z, s])]
            for s in reach:
                if self.split_zones:
                    n_vis[(z, s)] = m.NewIntVar(0, whole[z], "")
                else:
                    n_vis[(z, s)] = m.NewBoolVar("") * whole[z]
            m.Add(sum(n_vis[(z, s)] for s in reach) == whole[z])  # Every visitor is routed.
        b = {}
        need = dict(p.per_booth)
        for s, tl in enumerate(p.timelines):
            for k, act in enumerate(tl.active):
                if act and tl.times[k] < t:
                    b[(s, k)] = m.NewIntVar(0, p.booths[s], "")
                    for r in p.roles:  # Booths <= site's; each needs its testers of every role.
                        m.Add(need[r] * b[(s, k)] <= sum(x[(g, s, r)] for g in act if (g, s, r) in x))
            for u in tl.u_points:  # What reaches s at or after u is swabbed in [u, T] (in milli-swab-seconds).
                cap = sum(b[(s, k)] * 1000 * math.floor(max(0.0, min(tl.times[k + 1], t) - max(tl.times[k], u)))
                          for k in range(len(tl.active)) if (s, k) in b)  # fmt: skip
                dem = sum(n_vis[(z, s)] * math.ceil(1000 * p.mean_swab_s * p.mass_from(z, float(p.walk[z, s]), u)
                                                    / p.mass[z])
                          for z in range(len(p.zones)) if (z, s) in n_vis)  # fmt: skip
                if not isinstance(dem, int):
                    m.Add(cap >= dem)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
        solver.parameters.num_workers = max(1, self.params.workers)
        solver.parameters.random_seed = self.params.seed
        code = solver.Solve(m)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            xs = {k: int(solver.Value(v)) for k, v in x.items() if solver.Value(v) > 0}
            ys = {k: solver.Value(v) / whole[k[0]] for k, v in n_vis.items() if solver.Value(v) > 0}
            self._solution = Assignment(xs, _normalise_shares(ys))
            return "FEASIBLE"
        self._solution = None
        return "UNKNOWN"  # CP-SAT's infeasibility is of the rounded model: no proof for the fluid one

    def assignment(self) -> Assignment:
        assert self._solution is not None
        return self._solution


def _group(d: dict, key: Any) -> dict[Any, list]:
    out: dict[Any, list] = defaultdict(list)
    for k, v in d.items():
        out[key(k)].append(v)
    return out
