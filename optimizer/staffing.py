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
from ortools.linear_solver import pywraplp

from optimizer.result import PlanResult, SolveParams
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
    backend: Backend = "SCIP"
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
            out += prof.expected_count(self.horizon_s, since=max(0.0, u - walk_s))
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
    from scenarios.loading import scenario_graph

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


def assignment_of(problem: StaffingProblem, plan: Plan) -> Assignment:
    """Read a plan's testers and visitor shares in the problem's indices (a zone's unrouted rest goes nearest)."""
    site_ix = {s: i for i, s in enumerate(problem.sites)}
    pool_ix = {p.name: i for i, p in enumerate(problem.pools)}
    x: dict[tuple[int, int, str], int] = defaultdict(int)
    extra: list[tuple[int, float, int, str, int]] = []
    first = {}
    for g, wave in enumerate(problem.waves):
        first.setdefault(wave.pool, g)
    for act in plan.of_type(AssignStaff):
        p = pool_ix[act.pool]
        pool = problem.pools[p]
        depart = max(act.at_s, pool.departure_s(act.wave))
        if act.at_s <= pool.departure_s(act.wave) and act.wave < pool.n_waves and act.until_s is None:
            x[(first[p] + act.wave, site_ix[act.to], act.role)] += act.count
        else:  # a departure off the pool's schedule: scored as its own group
            extra.append((p, depart, site_ix[act.to], act.role, act.count))
    if extra:
        raise ValueError("plan sends testers off their pool's wave schedule; fluid_makespan cannot score it")
    y: dict[tuple[int, int], float] = defaultdict(float)
    zone_ix = {z: i for i, z in enumerate(problem.zones)}
    for act in plan.of_type(RouteVisitors):
        if act.origin in zone_ix and act.to in site_ix:
            y[(zone_ix[act.origin], site_ix[act.to])] += act.share
    for z in range(len(problem.zones)):
        rest = 1.0 - sum(v for (zz, _), v in y.items() if zz == z)
        if rest > 1e-9:
            s = min(range(len(problem.sites)), key=lambda s: (problem.walk[z, s], problem.sites[s]))
            y[(z, s)] += rest
    return Assignment(dict(x), dict(y))


def fluid_makespan(problem: StaffingProblem, plan: Plan) -> FluidOutcome:
    """The fluid model's makespan of a plan: when the last visitor is swabbed if everything flows."""
    return score(problem, assignment_of(problem, plan))


def score(problem: StaffingProblem, a: Assignment) -> FluidOutcome:
    """The fluid makespan (and walking, travel, what binds) of testers and shares given as numbers."""
    need = dict(problem.per_booth)
    finish, booth_bound, staffed_from = [], [], []
    for s in range(len(problem.sites)):
        tl = problem.timelines[s]
        present = np.zeros((len(tl.active), len(need)))
        for (g, ss, r), n in a.x.items():
            if ss == s and n > 0:
                arrive = problem.arrival(g, s)
                lo = tl.index(arrive)
                hi = tl.index(arrive + problem.pools[problem.waves[g].pool].shift_s)
                present[lo:hi, problem.roles.index(r)] += n
        per = np.array([need[r] for r in problem.roles], dtype=float)
        b = np.minimum(problem.booths[s], np.floor(present / per + 1e-9).min(axis=1)) if len(tl.active) else np.zeros(0)
        rate = b / problem.mean_swab_s
        cum = np.concatenate([[0.0], np.cumsum(rate * np.diff(tl.times))])
        zones = [(z, float(problem.walk[z, s]), v) for (z, ss), v in a.y.items() if ss == s and v > 0]
        if any(not math.isfinite(w) for z, w, _ in zones if problem.mass[z] > 0):
            finish.append(math.inf)
        else:
            us = {0.0, *tl.times.tolist()}
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
                    need_cap = max(need_cap, float(np.interp(u, tl.times, cum)) + later)
            finish.append(_inverse(tl.times, cum, rate, need_cap))
        on = [k for k in range(len(b)) if b[k] > 0]
        staffed_from.append(float(tl.times[on[0]]) if on else math.inf)
        end = finish[-1]
        booth_bound.append(sum(max(0.0, min(tl.times[k + 1], end) - tl.times[k])
                               for k in range(len(b)) if b[k] >= problem.booths[s]))  # fmt: skip
    walk = sum(v * problem.mass[z] * problem.walk[z, s] for (z, s), v in a.y.items() if v > 0)
    travel = sum(n * problem.travel[problem.waves[g].pool, s] for (g, s, _), n in a.x.items() if n > 0)
    return FluidOutcome(
        makespan_s=max(finish, default=0.0),
        site_finish_s=tuple(finish),
        booth_bound_s=tuple(booth_bound),
        staffed_from_s=tuple(staffed_from),
        walk_s=float(walk),
        travel_s=float(travel),
        testers_sent=sum(n for n in a.x.values() if n > 0),
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


def add_pool_counts(solver: Any, x: dict, problem: StaffingProblem) -> None:
    """Each pool sends at most its testers of each role."""
    terms: dict[tuple[int, str], list] = defaultdict(list)
    for (g, _, r), v in x.items():
        terms[(problem.waves[g].pool, r)].append(v)
    for p, pool in enumerate(problem.pools):
        for r, n in pool.roles:
            if terms[(p, r)]:
                solver.Add(solver.Sum(terms[(p, r)]) <= n)


def add_wave_sizes(solver: Any, x: dict, problem: StaffingProblem) -> None:
    """Each wave carries at most group_size testers."""
    terms: dict[int, list] = defaultdict(list)
    for (g, _, _), v in x.items():
        terms[g].append(v)
    for g, vs in sorted(terms.items()):
        solver.Add(solver.Sum(vs) <= problem.waves[g].size)


def add_zone_routing(solver: Any, y: dict, problem: StaffingProblem, unit: dict) -> None:
    """Every visitor is routed: a zone's shares add up to 1."""
    terms: dict[int, list] = defaultdict(list)
    for (z, s), v in y.items():
        terms[z].append(v)
    for z in range(len(problem.zones)):
        if problem.mass[z] > 0:
            solver.Add(solver.Sum(terms[z]) == unit[z])


def add_booth_staffing(solver: Any, x: dict, b: dict, problem: StaffingProblem) -> None:
    """A site staffs at most its booths (the variables' bound), and each booth needs its testers of every role."""
    need = dict(problem.per_booth)
    for (s, k), bv in b.items():
        for r in problem.roles:
            here = [x[(g, s, r)] for g in problem.timelines[s].active[k] if (g, s, r) in x]
            solver.Add(need[r] * bv <= solver.Sum(here))


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

    def __init__(self, problem: StaffingProblem, *, integer: bool, backend: str = "SCIP",
                 split_zones: bool = True, params: SolveParams = SolveParams()):  # fmt: skip
        self.problem = problem
        self.integer = integer
        self.solver = pywraplp.Solver.CreateSolver(backend if integer else "GLOP")
        if self.solver is None:
            raise ValueError(f"OR-Tools has no {backend!r} solver in this build")
        solver = self.solver
        if integer:
            self.solver.SetNumThreads(max(1, params.workers))
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

        if not problem.wave_size_override:
            add_pool_counts(solver, self.x, problem)  # Each pool sends at most its testers of each role.
        add_wave_sizes(solver, self.x, problem)  # Each wave carries at most group_size testers.
        add_zone_routing(solver, self.y, problem, self.unit)  # Every visitor is routed: a zone's shares add up to 1.
        add_booth_staffing(solver, self.x, self.b, problem)  # Booths <= site's; each needs its testers per role.
        add_capacity_curve(solver, self.b, self.cap, problem)  # Capacity grows by the staffed booths.
        self.service = add_service_by(solver, self.y, problem, self.unit)  # What reaches s at/after u is swabbed by T.
        self._terms: list[list[Any]] = [[] for _ in self.service]
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
        self.solver.SetTimeLimit(max(1, int(1000 * time_limit_s)))
        mp = pywraplp.MPSolverParameters()
        if self.integer:
            mp.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, max(relative_gap, 1e-9))
        return _status(self.solver.Solve(mp))

    def objective(self) -> tuple[float, float]:
        obj = self.solver.Objective()
        value = obj.Value()
        bound = obj.BestBound() if self.integer else value
        return value, bound

    def assignment(self) -> Assignment:
        x = {key: round(v.solution_value()) for key, v in self.x.items() if v.solution_value() > 0.5}
        y = {(z, s): v.solution_value() / self.unit[z] for (z, s), v in self.y.items() if v.solution_value() > 1e-9}
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

    @property
    def gap(self) -> float:
        if not math.isfinite(self.best_s):
            return math.inf
        return (self.best_s - self.lower_s) / max(self.best_s, 1e-9)


def lp_threshold(problem: StaffingProblem, *, tol: float, deadline: float,
                 hi: float | None = None) -> tuple[float, float] | None:  # fmt: skip
    """`(lo, hi)`: the LP relaxation is infeasible at `lo` and feasible at `hi` (None: infeasible at any T)."""
    model = FluidModel(problem, integer=False)
    top = problem.horizon_cap_s * (1 + 1e-9) + 1e-6
    hi = top if hi is None else min(hi, top)
    model.set_makespan(hi)
    if model.solve(max(0.01, deadline - time.perf_counter())) != "OPTIMAL":
        if hi >= top:
            return None
        model.set_makespan(top)
        if model.solve(max(0.01, deadline - time.perf_counter())) != "OPTIMAL":
            return None
        hi = top
    lo = 0.0
    while hi - lo > max(1.0, tol * hi) and time.perf_counter() < deadline:
        mid = (lo + hi) / 2
        model.set_makespan(mid)
        if model.solve(max(0.01, deadline - time.perf_counter())) == "OPTIMAL":
            hi = mid
        else:
            lo = mid
    return lo, hi


def search_makespan(problem: StaffingProblem, *, params: SolveParams, options: StaffingParams,
                    deadline: float) -> Search:  # fmt: skip
    """Bisection on the makespan: the LP relaxation for the bound, then MIP probes for plans."""
    out = Search()
    found = lp_threshold(problem, tol=params.relative_gap / 4, deadline=deadline)
    if found is None:
        out.status = "INFEASIBLE"
        out.lower_s, out.lower_source = math.inf, "LP relaxation infeasible at any makespan"
        return out
    out.lower_s, out.lp_s = found
    out.lower_source = "LP relaxation infeasible (bisection)"
    model = out.model = FluidModel(problem, integer=True, backend=options.backend,
                                   split_zones=options.split_zones, params=params)  # fmt: skip
    trial, top = out.lp_s, problem.horizon_cap_s * (1 + 1e-9) + 1e-6
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
            step = max(1.0, params.relative_gap * trial, 2 * (trial - out.lower_s))
            trial = min(trial + step, top)
    if out.best is None:
        out.status = "UNKNOWN"
    else:
        out.status = "OPTIMAL" if out.gap <= params.relative_gap or out.best_s - out.lower_s <= 1.0 else "FEASIBLE"
    return out
