"""Staffing the test sites: which testers go to which site in which wave, and which zones go to which site.

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

The model at a trial makespan T (each group a function below, its rule as the comment where it is added):
- `add_pool_counts`: each pool sends at most its testers of each role;
- `add_wave_sizes`: each wave carries at most `group_size` testers;
- `add_zone_routing`: every visitor is routed: a zone's shares add up to 1 (one site per zone on request);
- `add_booth_staffing`: a site staffs at most its booths, and each booth needs its testers of every role;
- `add_capacity_curve`: a site's capacity grows by its staffed booths over each interval;
- `add_service_by`: what reaches a site at or after u is swabbed in [u, T];
- `FluidModel.add_all_testers_sent` (second phase, by default): every tester who can reach a site is sent.

Search (chosen by measurement, see benchmarks/staffing.py and benchmarks/README.md): the feasible makespans
form a half-line, so the least is found by bisection. First on the LP relaxation (GLOP, minimising the
shortfall): a positive shortfall at T proves that no plan finishes by T; that bound is ours, computed, not a
solver's. Then MIP probes (HiGHS by default; SCIP and CBC on request) from the LP's threshold up, each plan
found scored by the exact fluid makespan, until the best is within `relative_gap` of the bound; a probe the MIP
proves infeasible raises the bound. A second MIP then fixes the makespan and minimises visitor walking and
tester travel (weights in `StaffingParams`). Measured alternatives kept for comparison: `formulation="direct"`
(one MIP with the makespan a variable on a time grid) and `backend="CP_SAT"` (probes by CP-SAT on a
whole-second copy of the model).
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp

from optimizer.result import PlanResult, SolveParams
from scenarios.injects import delay_of, facts
from scenarios.loading import scenario_graph, scenario_hash
from scenarios.mass_testing import MassTestingGeometry, MassTestingState, pool_role_counts, roles_of
from scenarios.plan import AssignStaff, Plan, PlanMeta, RouteVisitors, SolverStats
from scenarios.schema import ArrivalProfile, MassTestingScenario

Backend = Literal["HIGHS", "SCIP", "CBC", "CP_SAT"]
DEFAULT_PARAMS = SolveParams()
ABS_TOL_S = 0.01  # makespans this close count as equal, whatever the relative gap


@dataclass(frozen=True)
class StaffingParams:
    """The staffing model's own tunables (the shared ones, time limit, gap, workers and seed, are `SolveParams`)."""

    walk_weight: float = 1.0  # per visitor-second walked, second phase
    travel_weight: float = 1.0  # per tester-second travelled, second phase
    makespan_slack: float = 0.0  # relative makespan the second phase may give up for less walking and travel
    backend: Backend = "HIGHS"
    formulation: Literal["bisection", "direct"] = "bisection"
    split_zones: bool = True  # a zone's visitors may be split over several sites
    send_all_testers: bool = True  # send every tester who can reach a site (spares relieve, at no cost in T)
    secondary: bool = True  # run the second phase at all
    marginal: bool = True  # say what more testers or booths would buy (re-solving the LP relaxation)
    extra_testers: int = 10  # the unit of more testers in the marginal analysis
    grid_step_s: float = 60.0  # the time grid of the direct formulation


DEFAULT_OPTIONS = StaffingParams()


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
    delays: tuple[tuple[float, float], ...] = ()  # (at_s, seconds) of the pool's `delay` injects the planner knows

    @property
    def count(self) -> int:
        return sum(n for _, n in self.roles)

    @property
    def n_waves(self) -> int:
        return -(-self.count // self.group_size)

    def scheduled_s(self, wave: int) -> float:
        """When a wave is due to leave (what a plan says)."""
        return self.callup_delay_s + wave * self.group_interval_s

    def departure_s(self, wave: int, at_s: float = 0.0) -> float:
        """When a wave sent at `at_s` leaves: its turn, and then as much later as the delays known by then say
        (as the simulation times a group)."""
        t = max(at_s, self.scheduled_s(wave))
        return t + sum(late for when, late in self.delays if when <= t)


@dataclass(frozen=True)
class Wave:
    """One departure of a pool: the pool's index, the wave's number in it, when it leaves, how many it carries."""

    pool: int
    index: int
    depart_s: float
    size: int


@dataclass(frozen=True, eq=False)
class Timeline:
    """A site's tester events: breakpoints `times` (from 0) and the waves on duty in each interval."""

    times: np.ndarray  # t_0 = 0 < t_1 < ... < t_K
    active: tuple[tuple[int, ...], ...]  # waves on duty in [t_k, t_k+1), k < K
    u_points: tuple[float, ...]  # the moments u at which the service rule is checked

    def index(self, t: float) -> int:
        """k with t_k <= t < t_k+1 (K when t is at or after the last breakpoint)."""
        return bisect.bisect_right(self.times, t) - 1


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
    unlimited_waves: int | None = None  # the diagnosis's variant: waves this large and no pool limits
    # Re-planning: visitors already sent to their sites keep them ((zone, site) -> share), and the waves due to
    # leave before the re-planning time are as they were sent ((wave, site, role) -> testers; others none).
    fixed_shares: dict[tuple[int, int], float] | None = None
    fixed_waves: frozenset[int] = frozenset()
    fixed_x: dict[tuple[int, int, str], int] = field(default_factory=dict)

    @cached_property
    def waves(self) -> tuple[Wave, ...]:
        out = []
        for p, pool in enumerate(self.pools):
            n = max(pool.n_waves, 1) if self.unlimited_waves else pool.n_waves
            size = self.unlimited_waves or pool.group_size
            out += [Wave(p, w, pool.departure_s(w), size) for w in range(n)]
        return tuple(out)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r, _ in self.per_booth)

    @property
    def testers(self) -> int:
        return sum(p.count for p in self.pools)

    @cached_property
    def mass(self) -> np.ndarray:
        """Visitors each zone sends in all: those there at the start plus expected arrivals up to the horizon."""
        return np.array([v + (a.expected_count(self.horizon_s) if a else 0.0)
                         for v, a in zip(self.visitors, self.arrivals, strict=True)])  # fmt: skip

    def mass_from(self, z: int, walk_s: float, u: float) -> float:
        """Visitors of zone `z` reaching a site `walk_s` away at or after `u`."""
        out = float(self.visitors[z]) if walk_s >= u else 0.0
        profile = self.arrivals[z]
        if profile is not None:
            out += profile.expected_count(self.horizon_s, since_s=max(0.0, u - walk_s))
        return out

    def arrival(self, g: int, s: int) -> float:
        """When wave `g` reaches site `s` (inf if it cannot)."""
        wave = self.waves[g]
        return wave.depart_s + float(self.travel[wave.pool, s])

    @cached_property
    def timelines(self) -> tuple[Timeline, ...]:
        return tuple(_timeline(self, s) for s in range(len(self.sites)))

    @cached_property
    def horizon_cap_s(self) -> float:
        """After this no site gains capacity and nobody arrives: a plan not done by then never is."""
        ends = [float(tl.times[-1]) for tl in self.timelines]
        reach = [self.horizon_s + float(np.min(self.walk[z])) for z, a in enumerate(self.arrivals) if a]
        walks = [float(np.min(self.walk[z])) for z in range(len(self.zones)) if self.mass[z] > 0]
        return max([0.0, *ends, *(t for t in reach + walks if math.isfinite(t))])

    def stranded_zones(self) -> list[str]:
        """Zones with visitors who cannot walk to any site."""
        return [self.zones[z] for z in range(len(self.zones))
                if self.mass[z] > 0 and not np.isfinite(self.walk[z]).any()]  # fmt: skip


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
        profile = problem.arrivals[z]
        if profile is not None:
            continuous = True
            u.update(w + p.from_s for p in profile.periods if p.from_s < problem.horizon_s)
            u.add(w + problem.horizon_s)
    if continuous:  # a steady stream can outrun the capacity anywhere: check at every tester event too
        u.update(float(t) for t in times)
    return Timeline(times, active, tuple(sorted(u)))


def staffing_problem(scenario: MassTestingScenario, geometry: MassTestingGeometry | None = None, *,
                     state: MassTestingState | None = None) -> StaffingProblem:  # fmt: skip
    """The staffing problem of a mass-testing scenario, with travel times from its city graph; re-planned from a
    `state`, the zones' shares are the routing in force and the waves due before its time are as sent."""
    geo = geometry if geometry is not None else MassTestingGeometry(scenario, scenario_graph(scenario))
    counts = pool_role_counts(scenario)
    per_booth = tuple(roles_of(scenario).items())
    known = facts(scenario.injects)  # delays the planner knows of: the waves they hold back leave later
    testers = scenario.resources.testers
    pools = tuple(
        PoolSpec(
            name=name,
            roles=tuple((r, counts[(name, r)]) for r, _ in per_booth),
            callup_delay_s=pool.callup_delay_s,
            group_size=pool.group_size,
            group_interval_s=pool.group_interval_s,
            shift_s=pool.shift_s,
            delays=tuple((inj.at_s, delay_of(inj)) for inj in known if inj.kind == "delay" and inj.target == name),
        )
        for name, pool in testers.items()
    )
    sites = tuple(s.node for s in scenario.testing.sites)
    zones = scenario.population.zones
    travel = [[geo.tester_travel[testers[p.name].centre][s] for s in sites] for p in pools]
    walk = [[geo.walk_zone_site[z.node][s] for s in sites] for z in zones]
    problem = StaffingProblem(
        name=scenario.name,
        zones=tuple(z.node for z in zones),
        visitors=tuple(z.visitors for z in zones),
        arrivals=tuple(z.arrivals for z in zones),
        sites=sites,
        booths=tuple(s.booths for s in scenario.testing.sites),
        pools=pools,
        per_booth=per_booth,
        travel=np.array(travel, dtype=float).reshape(len(pools), len(sites)),
        walk=np.array(walk, dtype=float).reshape(len(zones), len(sites)),
        mean_swab_s=float(scenario.testing.swab_time.mean_s),
        horizon_s=scenario.clock.horizon_s,
    )  # fmt: skip
    return problem if state is None else _fixed_by(problem, state)


def _fixed_by(problem: StaffingProblem, state: MassTestingState) -> StaffingProblem:
    """The problem with the routing in force and the waves already due fixed (see `StaffingProblem`)."""
    zi = {z: i for i, z in enumerate(problem.zones)}
    si = {t: i for i, t in enumerate(problem.sites)}
    shares = {(zi[z], si[t]): v for (z, t), v in state.routing.items() if z in zi and t in si}
    due = frozenset(g for g, w in enumerate(problem.waves) if problem.pools[w.pool].scheduled_s(w.index) < state.at_s)
    sent = {k: n for k, n in _counts_of(problem, state.groups).items() if k[0] in due}
    return replace(problem, fixed_shares=shares, fixed_waves=due, fixed_x=sent)


def _counts_of(problem: StaffingProblem, groups: tuple[AssignStaff, ...]) -> dict[tuple[int, int, str], int]:
    """A plan's tester groups as the model's numbers, (wave, site, role) -> testers (those the model has)."""
    gi = {(problem.pools[w.pool].name, w.index): g for g, w in enumerate(problem.waves)}
    si = {t: i for i, t in enumerate(problem.sites)}
    x: dict[tuple[int, int, str], int] = defaultdict(int)
    for a in groups:
        g, s = gi.get((a.pool, a.wave)), si.get(a.to)
        if g is not None and s is not None and a.role in problem.roles and math.isfinite(problem.travel[
                problem.waves[g].pool, s]):  # fmt: skip
            x[(g, s, a.role)] += a.count
    return dict(x)


def assignment_of(problem: StaffingProblem, groups: tuple[AssignStaff, ...]) -> Assignment:
    """A re-plan's starting point: the plan in effect's tester groups, with the routing the problem fixes."""
    return Assignment(_counts_of(problem, groups), dict(problem.fixed_shares or {}))


# ------------------------------------------------------------------------------------------ scoring a plan


@dataclass(frozen=True)
class Assignment:
    """Testers and visitors as numbers: `x[(wave, site, role)]` testers, `y[(zone, site)]` shares."""

    x: dict[tuple[int, int, str], int]
    y: dict[tuple[int, int], float]


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


# ------------------------------------------------------------------------------------------ the model


def _row(solver: Any, variables: list, *, lb: float | None = None, ub: float | None = None) -> Any:
    """lb <= sum(variables) <= ub."""
    inf = solver.infinity()
    ct = solver.Constraint(-inf if lb is None else lb, inf if ub is None else ub)
    for v in variables:
        ct.SetCoefficient(v, 1.0)
    return ct


def _grouped(items: dict, key: Callable[[Any], Any]) -> dict[Any, list]:
    out: dict[Any, list] = defaultdict(list)
    for k, v in items.items():
        out[key(k)].append(v)
    return out


def add_pool_counts(solver: Any, x: dict, problem: StaffingProblem) -> dict[tuple[int, str], Any]:
    """Each pool sends at most its testers of each role (the rows, for what-ifs)."""
    terms = _grouped(x, lambda k: (problem.waves[k[0]].pool, k[2]))
    return {(p, r): _row(solver, terms[(p, r)], ub=n)
            for p, pool in enumerate(problem.pools) for r, n in pool.roles if terms.get((p, r))}  # fmt: skip


def add_wave_sizes(solver: Any, x: dict, problem: StaffingProblem) -> dict[int, Any]:
    """Each wave carries at most group_size testers (the rows, for what-ifs)."""
    terms = _grouped(x, lambda k: k[0])
    return {g: _row(solver, vs, ub=problem.waves[g].size) for g, vs in sorted(terms.items())}


def add_zone_routing(solver: Any, y: dict, problem: StaffingProblem) -> None:
    """Every visitor is routed: a zone's shares add up to 1."""
    terms = _grouped(y, lambda k: k[0])
    for z in range(len(problem.zones)):
        if problem.mass[z] > 0:
            _row(solver, terms.get(z, []), lb=1.0, ub=1.0)


def add_booth_staffing(solver: Any, x: dict, b: dict, problem: StaffingProblem) -> None:
    """A site staffs at most its booths (the bound of b), and each booth needs its testers of every role.

    The testers of a role present in an interval are those of the interval before, plus the waves arriving,
    less those whose shift ends: a chain, so that every row stays short.
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
                chain = solver.Constraint(0, 0)  # present = before + arriving - leaving
                chain.SetCoefficient(present, 1)
                if before is not None:
                    chain.SetCoefficient(before, -1)
                for g, sign in [*((g, -1) for g in now - was), *((g, 1) for g in was - now)]:
                    if (g, s, r) in x:
                        chain.SetCoefficient(x[(g, s, r)], sign)
                if (s, k) in b:
                    staffed = solver.Constraint(-inf, 0)  # need * booths <= present
                    staffed.SetCoefficient(b[(s, k)], need[r])
                    staffed.SetCoefficient(present, -1)
                before, was = present, now


def add_capacity_curve(solver: Any, b: dict, cap: dict, problem: StaffingProblem) -> None:
    """A site's capacity (visitors it can swab from the start) grows by its staffed booths over each interval."""
    for s, tl in enumerate(problem.timelines):
        _row(solver, [cap[(s, 0)]], ub=0.0)
        for k in range(len(tl.times) - 1):
            grow = solver.Constraint(0, 0)  # cap[k+1] = cap[k] + b[k] * length / mean swab
            grow.SetCoefficient(cap[(s, k + 1)], 1)
            grow.SetCoefficient(cap[(s, k)], -1)
            if (s, k) in b:
                grow.SetCoefficient(b[(s, k)], -float(tl.times[k + 1] - tl.times[k]) / problem.mean_swab_s)


def add_service_by(solver: Any, y: dict, problem: StaffingProblem) -> list[tuple[int, float, Any]]:
    """What reaches a site at or after u is swabbed in [u, T] (the capacity terms are set for each trial T)."""
    rows = []
    for s, tl in enumerate(problem.timelines):
        for u in tl.u_points:
            ct = solver.Constraint(0.0, solver.infinity())
            for z in range(len(problem.zones)):
                if (z, s) in y and (m := problem.mass_from(z, float(problem.walk[z, s]), u)) > 0:
                    ct.SetCoefficient(y[(z, s)], -m)
            rows.append((s, u, ct))
    return rows


class FluidModel:
    """The fluid model at a trial makespan, in one pywraplp model; its variables never leave this module."""

    def __init__(self, problem: StaffingProblem, *, integer: bool, backend: str = "HIGHS",
                 split_zones: bool = True, elastic: bool = False, params: SolveParams = DEFAULT_PARAMS):  # fmt: skip
        self.problem, self.integer, self.backend, self.seed = problem, integer, backend, params.seed
        solver = self.solver = pywraplp.Solver.CreateSolver(backend if integer else "GLOP")
        if solver is None:
            raise ValueError(f"OR-Tools has no {backend!r} solver in this build")
        self._value: Callable[[Any], float] | None = None
        self._objective: tuple[float, float] | None = None
        self.makespan_s: float | None = None
        whole_booths = integer and any(n > 1 for _, n in problem.per_booth)
        self.x: dict[tuple[int, int, str], Any] = {}
        for g, wave in enumerate(problem.waves):
            for s in range(len(problem.sites)):
                if math.isfinite(problem.travel[wave.pool, s]):
                    for r, n in problem.pools[wave.pool].roles:
                        ub = wave.size if problem.unlimited_waves else min(n, wave.size)
                        if g in problem.fixed_waves:  # sent already, as it was sent
                            sent = problem.fixed_x.get((g, s, r), 0)
                            self.x[(g, s, r)] = solver.Var(sent, sent, integer, f"x_{g}_{s}_{r}")
                        elif ub > 0:
                            self.x[(g, s, r)] = solver.Var(0, ub, integer, f"x_{g}_{s}_{r}")
        self.y: dict[tuple[int, int], Any] = {}
        fixed = problem.fixed_shares
        for z in range(len(problem.zones)):
            for s in range(len(problem.sites)):
                if problem.mass[z] > 0 and math.isfinite(problem.walk[z, s]):
                    if fixed is not None:  # visitors already sent keep their sites
                        share = fixed.get((z, s), 0.0)
                        self.y[(z, s)] = solver.NumVar(share, share, f"y_{z}_{s}")
                    else:
                        self.y[(z, s)] = solver.Var(0, 1, integer and not split_zones, f"y_{z}_{s}")
        self.b: dict[tuple[int, int], Any] = {}
        self.cap: dict[tuple[int, int], Any] = {}
        for s, tl in enumerate(problem.timelines):
            for k, act in enumerate(tl.active):
                if act:
                    self.b[(s, k)] = solver.Var(0, problem.booths[s], whole_booths, f"b_{s}_{k}")
            most = problem.booths[s] * float(tl.times[-1]) / problem.mean_swab_s
            for k in range(len(tl.times)):
                self.cap[(s, k)] = solver.NumVar(0, most, f"c_{s}_{k}")

        # Each pool sends at most its testers of each role (no such limit in the diagnosis's variant).
        self.pool_rows = {} if problem.unlimited_waves else add_pool_counts(solver, self.x, problem)
        # Each wave carries at most group_size testers.
        self.wave_rows = add_wave_sizes(solver, self.x, problem)
        # Every visitor is routed: a zone's shares add up to 1.
        add_zone_routing(solver, self.y, problem)
        # A site staffs at most its booths, and each booth needs its testers of every role.
        add_booth_staffing(solver, self.x, self.b, problem)
        # A site's capacity grows by its staffed booths over each interval.
        add_capacity_curve(solver, self.b, self.cap, problem)
        # What reaches a site at or after u is swabbed in [u, T] (T is set by `set_makespan`).
        self.service = add_service_by(solver, self.y, problem)
        self._terms: list[list[Any]] = [[] for _ in self.service]
        if elastic:  # a site may fall short (visitors not swabbed in time); the shortfall is minimised
            short = [solver.NumVar(0, solver.infinity(), f"short_{s}") for s in range(len(problem.sites))]
            for s, _, ct in self.service:
                ct.SetCoefficient(short[s], 1.0)
            for v in short:
                solver.Objective().SetCoefficient(v, 1.0)
            solver.Objective().SetMinimization()

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
        """Give a pool more testers (in its last wave, which grows if it is full) or a site more booths;
        `what_if()` restores the scenario's own numbers."""
        p = self.problem
        extra = _role_split(p.pools[pool], testers) if pool is not None else {}
        for (q, r), row in self.pool_rows.items():
            row.SetUb(dict(p.pools[q].roles)[r] + (extra[r] if q == pool else 0))
        last = {w.pool: g for g, w in enumerate(p.waves)}
        size = {g: w.size for g, w in enumerate(p.waves)}
        if pool is not None and pool in last:
            g = last[pool]
            room = size[g] * p.pools[pool].n_waves - p.pools[pool].count
            size[g] += max(0, testers - room)
        for g, row in self.wave_rows.items():
            row.SetUb(size[g])
        for (g, _, r), v in self.x.items():
            if g in p.fixed_waves:  # sent already: as it was sent, whatever the what-if
                continue
            q = p.waves[g].pool
            have = dict(p.pools[q].roles)[r] + (extra[r] if q == pool else 0)
            v.SetUb(size[g] if p.unlimited_waves else min(have, size[g]))
        for (s, _), v in self.b.items():
            v.SetUb(p.booths[s] + (booths if s == site else 0))

    def minimise_walk_and_travel(self, options: StaffingParams) -> None:
        """The second phase's objective: visitor-seconds walked and tester-seconds travelled, weighted."""
        obj = self.solver.Objective()
        obj.Clear()
        p = self.problem
        for (z, s), v in self.y.items():
            obj.SetCoefficient(v, options.walk_weight * float(p.mass[z] * p.walk[z, s]))
        for (g, s, _), v in self.x.items():
            obj.SetCoefficient(v, options.travel_weight * float(p.travel[p.waves[g].pool, s]))
        obj.SetMinimization()

    def minimise_testers(self) -> None:
        """The diagnosis's objective: as few testers as possible."""
        obj = self.solver.Objective()
        obj.Clear()
        for v in self.x.values():
            obj.SetCoefficient(v, 1.0)
        obj.SetMinimization()

    def add_all_testers_sent(self) -> None:
        """Every tester who can reach a site is sent (the pool rows become equalities)."""
        for (q, r), row in self.pool_rows.items():
            row.SetLb(dict(self.problem.pools[q].roles)[r])

    def solve(self, time_limit_s: float, *, relative_gap: float = 0.0) -> str:
        """Solve the model as it stands: OPTIMAL, FEASIBLE, INFEASIBLE or UNKNOWN.

        An LP is re-solved in place (GLOP starts from the last basis). A MIP is solved by a fresh solver
        loaded from the model's proto: SCIP does not re-solve a modified model reliably through pywraplp.
        """
        mp = pywraplp.MPSolverParameters()
        if not self.integer:
            self.solver.SetTimeLimit(max(1, int(1000 * time_limit_s)))
            status = _status(self.solver.Solve(mp))
            ok = status == "OPTIMAL"
            self._value = (lambda v: v.solution_value()) if ok else None
            self._objective = (self.solver.Objective().Value(),) * 2 if ok else None
            return status
        proto = linear_solver_pb2.MPModelProto()
        self.solver.ExportModelToProto(proto)
        fresh = pywraplp.Solver.CreateSolver(self.backend)
        fresh.LoadModelFromProto(proto)
        fresh.SetTimeLimit(max(1, int(1000 * time_limit_s)))
        if self.backend == "SCIP":
            fresh.SetSolverSpecificParametersAsString(f"randomization/randomseedshift = {self.seed}\n")
        elif self.backend == "HIGHS":  # no banner on stdout (it would spoil `--json`), and our seed
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
        """The last solve's testers and shares, as numbers."""
        value = self._value
        assert value is not None, "no solution"
        x = {key: round(value(v)) for key, v in self.x.items() if value(v) > 0.5}
        y = {key: value(v) for key, v in self.y.items() if value(v) > 1e-9}
        return Assignment(x, _normalise_shares(y))


def _status(code: int) -> str:
    return {
        pywraplp.Solver.OPTIMAL: "OPTIMAL",
        pywraplp.Solver.FEASIBLE: "FEASIBLE",
        pywraplp.Solver.INFEASIBLE: "INFEASIBLE",
    }.get(code, "UNKNOWN")


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

    def __init__(self, problem: StaffingProblem, *, deadline: float):
        self.problem = problem
        self.deadline = deadline
        self.model = FluidModel(problem, integer=False, elastic=True)
        self.eps = 1e-6 * max(1.0, float(problem.mass.sum()))
        self.top = problem.horizon_cap_s * (1 + 1e-9) + 1e-6

    def shortfall(self, t: float) -> float | None:
        """Visitors not swabbed by `t` in the best LP plan (None if the LP did not finish in time)."""
        self.model.set_makespan(t)
        if self.model.solve(max(0.01, self.deadline - time.perf_counter())) != "OPTIMAL":
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
        while hi is None or (hi - lo > max(ABS_TOL_S, tol * hi) and time.perf_counter() < self.deadline):
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

    def start(self, problem: StaffingProblem, *, tol: float, deadline: float) -> bool:
        """The LP relaxation's bracket and the totals' bound; False when no plan can ever finish."""
        self.lp = LpSearch(problem, deadline=deadline)
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


def search_makespan(problem: StaffingProblem, *, params: SolveParams, options: StaffingParams,
                    deadline: float, incumbent: Assignment | None = None) -> Search:  # fmt: skip
    """Bisection on the makespan: the LP relaxation for the bound, then MIP probes for plans (from `incumbent`,
    a plan to beat, when re-planning)."""
    out = Search()
    if not out.start(problem, tol=params.relative_gap / 10, deadline=deadline):
        return out
    if incumbent is not None:
        out.offer(problem, incumbent)
    backend = "HIGHS" if options.backend == "CP_SAT" else options.backend
    out.model = FluidModel(problem, integer=True, backend=backend, split_zones=options.split_zones, params=params)
    probe: Any = out.model
    if options.backend == "CP_SAT":
        if problem.fixed_shares is not None:
            raise ValueError("the CP_SAT backend cannot re-plan from a state; use HIGHS, SCIP or CBC")
        probe = CpSatProbe(problem, split_zones=options.split_zones, params=params)
    top = problem.horizon_cap_s * (1 + 1e-9) + 1e-6
    trial, step = min(out.lp_s, top), 0.0
    if math.isfinite(out.best_s):  # a plan to beat: start halfway between it and the bound
        trial = (out.lower_s + out.best_s) / 2
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        probe.set_makespan(trial)
        budget = deadline - started
        if problem.fixed_shares is not None:
            # With the routing fixed, a probe near the LP's threshold can be slow to decide: a probe gets a
            # quarter of what is left, and an undecided one moves the bisection on.
            budget = max(1.0, budget / 4)
        status = probe.solve(min(budget, deadline - started))
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


# ------------------------------------------------------------------------------------------ second phase


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


def second_phase(search: Search, *, params: SolveParams, options: StaffingParams, deadline: float) -> SecondPhase:
    """With the makespan fixed at the best found (plus any slack), minimise walking and tester travel."""
    assert search.model is not None and search.best is not None
    model, problem = search.model, search.model.problem
    limit = search.best_s * (1 + options.makespan_slack)
    fallback = send_spares(problem, search.best) if options.send_all_testers else search.best
    if not options.secondary or deadline - time.perf_counter() < 0.05:
        return SecondPhase(fallback, "SKIPPED")
    model.set_makespan(limit * (1 + 1e-9) + 1e-6)
    if options.send_all_testers:
        model.add_all_testers_sent()  # Every tester who can reach a site is sent.
    model.minimise_walk_and_travel(options)
    status = model.solve(deadline - time.perf_counter(), relative_gap=params.relative_gap)
    if status not in ("OPTIMAL", "FEASIBLE"):
        return SecondPhase(fallback, status)
    a = model.assignment()
    if score(problem, a).makespan_s > limit * (1 + 1e-6) + 1e-3:  # numerical trouble: keep the first plan
        return SecondPhase(fallback, "REJECTED")
    return SecondPhase(a, status, *model.objective())


# ------------------------------------------------------------------------------------------ plans and words


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


def _role_split(pool: PoolSpec, n: int) -> dict[str, int]:
    """`n` more testers split over the pool's roles in its own proportions."""
    roles = list(pool.roles)
    add = {r: (round(n * c / pool.count) if pool.count else 0) for r, c in roles}
    add[roles[0][0]] += n - sum(add.values())
    return add


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


def marginal_values(search: Search, *, options: StaffingParams, booth_sites: list[int], deadline: float) -> list[str]:
    """What more buys: the LP relaxation's least makespan re-found with more testers in each pool, or a booth more
    at the booth-bound bottleneck sites (the base and each variant to the same tolerance, on the same LP)."""
    lp, bracket = search.lp, search.lp_bracket
    if lp is None or bracket is None or not math.isfinite(bracket[1]):
        return []
    lp.deadline = deadline
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
        if time.perf_counter() >= deadline:
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


# ------------------------------------------------------------------------------------------ diagnosis


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
             options: StaffingParams, deadline: float) -> StaffingDiagnosis:  # fmt: skip
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
    if lp.solve(max(0.01, deadline - time.perf_counter())) != "OPTIMAL":
        found = LpSearch(big, deadline=deadline).threshold(tol=1e-3)
        earliest = None if found is None else found[0]
        walks = [float(np.min(big.walk[z])) for z in range(len(big.zones)) if big.mass[z] > 0]
        why = ("visitors are still walking to their sites" if walks and max(walks) >= finish_by_s
               else "the booths and the testers' call-up and travel times bind")  # fmt: skip
        tail = f"; even unlimited testers finish no earlier than {label(earliest)}" if earliest else ""
        message = f"cannot finish by {when} with any number of testers{tail} ({why})"
        return StaffingDiagnosis(finish_by_s, available, None, None, earliest, message)
    bound = lp.objective()[0]
    backend = options.backend if options.backend != "CP_SAT" else "HIGHS"
    mip = FluidModel(big, integer=True, backend=backend, params=params)
    mip.set_makespan(finish_by_s)
    mip.minimise_testers()
    found_n: int | None = None
    if mip.solve(max(0.01, deadline - time.perf_counter())) in ("OPTIMAL", "FEASIBLE"):
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
                      options: StaffingParams = DEFAULT_OPTIONS) -> StaffingDiagnosis:  # fmt: skip
    """How many testers finishing by `finish_by_s` needs (by default the scenario's target, else its horizon)."""
    if finish_by_s is None:
        finish_by_s = scenario.thresholds.target_finish_s
    if finish_by_s is None:
        finish_by_s = scenario.clock.horizon_s
    problem = staffing_problem(scenario, geometry)
    return diagnose(problem, finish_by_s, label=scenario.clock.label, params=params, options=options,
                    deadline=time.perf_counter() + params.time_limit_s)  # fmt: skip


# ------------------------------------------------------------------------------------------ the entry point


def plan_staffing(
    scenario: MassTestingScenario,
    geometry: MassTestingGeometry | None = None,
    *,
    params: SolveParams = DEFAULT_PARAMS,
    options: StaffingParams = DEFAULT_OPTIONS,
    state: MassTestingState | None = None,
) -> PlanResult:
    """Testers to sites by wave and role, and zones to sites: the least makespan, then walking and travel.

    `objective` and `bound` are makespans in seconds after the start: the plan's, scored by the fluid model,
    and a proven lower bound (see the module docstring). `rationale` says what binds and what more would buy;
    `diagnosis` says how many testers the scenario's `thresholds.target_finish_s` needs when it cannot be met,
    or why there is no plan at all. `params.time_limit_s` bounds the solve; the marginal analysis and the
    diagnosis have budgets of their own (half of it, and all of it). Re-planned from a `state`, visitors keep
    their sites, the groups already sent are as sent, and the search starts from the plan in effect's groups.
    """
    started = time.perf_counter()
    deadline = started + params.time_limit_s
    problem = staffing_problem(scenario, geometry, state=state)
    if state is not None and options.formulation == "direct":
        raise ValueError("the direct formulation cannot re-plan from a state; use the bisection")
    label = scenario.clock.label
    target = scenario.thresholds.target_finish_s
    details: dict[str, float] = {}

    def result(plan: Plan | None, status: str, objective: float | None, bound: float | None,
               lines: list[str], diagnosis: str | None) -> PlanResult:  # fmt: skip
        details["wall_s"] = time.perf_counter() - started
        return PlanResult(plan=plan, status=status, objective=objective,
                          bound=float(bound) if bound is not None and math.isfinite(bound) else None,
                          wall_s=details["wall_s"], seed=params.seed, rationale=tuple(lines),
                          diagnosis=diagnosis, details={k: float(v) for k, v in details.items()})  # fmt: skip

    def diagnosis_by(finish_by_s: float) -> str:
        when = time.perf_counter() + params.time_limit_s
        return diagnose(problem, finish_by_s, label=label, params=params, options=options, deadline=when).message

    if stuck := problem.stranded_zones():
        return result(None, "INFEASIBLE", None, None, [], f"visitors of {_names(stuck)} cannot walk to any test site")
    if options.formulation == "direct":
        search = search_direct(problem, params=params, options=options, deadline=deadline)
    else:
        start = assignment_of(problem, state.groups) if state is not None else None
        search = search_makespan(problem, params=params, options=options, deadline=deadline, incumbent=start)
    details.update(phase1_s=time.perf_counter() - started, probes=len(search.probes), lp_makespan_s=search.lp_s)
    if search.best is None:
        if search.status == "INFEASIBLE":
            why = diagnosis_by(target if target is not None else scenario.clock.horizon_s)
        else:
            why = f"no plan found within the time limit of {params.time_limit_s:g} s"
        return result(None, search.status, None, search.lower_s, [], why)

    second = second_phase(search, params=params, options=options, deadline=deadline)
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
        produced_by=f"optimizer.staffing ({options.formulation}, {options.backend})",
        seed=params.seed,
        solver=SolverStats(status=status, objective=outcome.makespan_s, bound=search.lower_s, gap=gap),
        objective_terms={k: round(float(v), 3) for k, v in terms.items()},
        note=f"makespan first (fluid model); then walking and travel with it fixed: {second.status}",
    )
    plan = to_plan(problem, second.assignment, meta)
    lines, booth_sites = rationale(problem, outcome, search, label)
    if options.marginal:
        budget = time.perf_counter() + max(1.0, params.time_limit_s / 2)
        lines += marginal_values(search, options=options, booth_sites=booth_sites, deadline=budget)
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


# ------------------------------------------------------------------------------------------ alternatives (measured)


def search_direct(problem: StaffingProblem, *, params: SolveParams, options: StaffingParams, deadline: float) -> Search:
    """One MIP with the makespan a variable on a time grid (`grid_step_s`) over the LP relaxation's rough range.

    Binary o_j says the plan runs into grid segment j (o_j >= o_j+1); a site's capacity in segment j counts only
    when o_j is set. The MIP's bound holds on the grid: the makespan itself is at least that bound less one step.
    """
    out = Search()
    if not out.start(problem, tol=0.01, deadline=deadline) or not math.isfinite(out.lp_s):
        return out
    started = time.perf_counter()
    model = FluidModel(problem, integer=True, backend=options.backend, split_zones=options.split_zones, params=params)
    solver, step, low = model.solver, options.grid_step_s, out.lp_bracket[0]  # type: ignore[index]
    grid = [low + j * step for j in range(math.ceil((out.lp_s * 1.05 - low) / step) + 1)]
    used = [solver.BoolVar(f"o_{j}") for j in range(1, len(grid))]  # used[j - 1]: T reaches grid[j]
    for a, b in itertools.pairwise(used):
        solver.Add(b <= a)  # Segments are used in order.
    segments: dict[tuple[int, int], Any] = {}

    def segment(s: int, j: int) -> Any:
        """The capacity of site s in grid segment j that counts: all of it if the segment is used, else none."""
        if (s, j) not in segments:
            w = segments[(s, j)] = solver.NumVar(0, solver.infinity(), f"w_{s}_{j}")
            _at_most_capacity(model, s, grid[j - 1], grid[j], w)
            solver.Add(w <= problem.booths[s] / problem.mean_swab_s * (grid[j] - grid[j - 1]) * used[j - 1])
        return segments[(s, j)]

    for s, u, ct in model.service:  # What reaches a site at or after u is swabbed in [u, T].
        if u >= grid[-1]:
            continue
        if u < grid[0]:  # [u, grid[0]] always counts
            for v, c in model.capacity_at(s, grid[0]).items():
                ct.SetCoefficient(v, ct.GetCoefficient(v) + c)
            for v, c in model.capacity_at(s, u).items():
                ct.SetCoefficient(v, ct.GetCoefficient(v) - c)
            first = 1
        else:  # the part of u's segment after u counts when the segment is used
            j0 = bisect.bisect_right(grid, u)
            part = solver.NumVar(0, solver.infinity(), "")
            _at_most_capacity(model, s, u, grid[j0], part)
            solver.Add(part <= problem.booths[s] / problem.mean_swab_s * (grid[j0] - u) * used[j0 - 1])
            ct.SetCoefficient(part, 1.0)
            first = j0 + 1
        for j in range(first, len(grid)):
            ct.SetCoefficient(segment(s, j), 1.0)
    obj = solver.Objective()
    for j, o in enumerate(used, start=1):
        obj.SetCoefficient(o, grid[j] - grid[j - 1])
    obj.SetMinimization()
    status = model.solve(deadline - time.perf_counter(), relative_gap=params.relative_gap / 2)
    out.probes.append((grid[-1], status, time.perf_counter() - started))
    if status in ("OPTIMAL", "FEASIBLE"):
        out.offer(problem, model.assignment())
        if (on_grid := grid[0] + model.objective()[1] - step) > out.lower_s:
            out.lower_s, out.lower_source = on_grid, "the direct MIP's bound on its time grid, less one step"
    out.model = FluidModel(problem, integer=True, backend=options.backend, split_zones=options.split_zones,
                           params=params)  # fmt: skip
    out.close(params.relative_gap)
    return out


def _at_most_capacity(model: FluidModel, s: int, a: float, b: float, var: Any) -> None:
    """var <= the site's capacity in [a, b]."""
    ct = model.solver.Constraint(-model.solver.infinity(), 0.0)
    ct.SetCoefficient(var, 1.0)
    for v, c in model.capacity_at(s, b).items():
        ct.SetCoefficient(v, ct.GetCoefficient(v) - c)
    for v, c in model.capacity_at(s, a).items():
        ct.SetCoefficient(v, ct.GetCoefficient(v) + c)


class CpSatProbe:
    """The fluid model at a trial makespan in CP-SAT: whole visitors and whole seconds, rounded to the safe side
    (capacity down, demand up), so that every plan it finds meets T; its infeasibility proves nothing."""

    def __init__(self, problem: StaffingProblem, *, split_zones: bool, params: SolveParams):
        self.problem, self.split_zones, self.params = problem, split_zones, params
        self.makespan_s = 0.0
        self._solution: Assignment | None = None

    def set_makespan(self, t_s: float) -> None:
        self.makespan_s = t_s

    def solve(self, time_limit_s: float, *, relative_gap: float = 0.0) -> str:
        from ortools.sat.python import cp_model

        p, t, m = self.problem, self.makespan_s, cp_model.CpModel()
        x = {}
        for g, wave in enumerate(p.waves):
            for s in range(len(p.sites)):
                for r, n in p.pools[wave.pool].roles:
                    if math.isfinite(p.travel[wave.pool, s]) and min(n, wave.size) > 0:
                        x[(g, s, r)] = m.new_int_var(0, min(n, wave.size), "")
        for (q, r), vs in _grouped(x, lambda k: (p.waves[k[0]].pool, k[2])).items():
            m.add(sum(vs) <= dict(p.pools[q].roles)[r])  # Each pool sends at most its testers of each role.
        for g, vs in _grouped(x, lambda k: k[0]).items():
            m.add(sum(vs) <= p.waves[g].size)  # Each wave carries at most group_size testers.
        whole = {z: math.ceil(p.mass[z] - 1e-9) for z in range(len(p.zones))}
        sent: dict[tuple[int, int], Any] = {}
        for z in (z for z in range(len(p.zones)) if whole[z] > 0):
            reach = [s for s in range(len(p.sites)) if math.isfinite(p.walk[z, s])]
            for s in reach:
                one = m.new_int_var(0, whole[z], "") if self.split_zones else m.new_bool_var("") * whole[z]
                sent[(z, s)] = one
            m.add(sum(sent[(z, s)] for s in reach) == whole[z])  # Every visitor is routed.
        b = {}
        need = dict(p.per_booth)
        for s, tl in enumerate(p.timelines):
            for k, act in enumerate(tl.active):
                if act and tl.times[k] < t:
                    b[(s, k)] = m.new_int_var(0, p.booths[s], "")
                    for r in p.roles:  # A site staffs at most its booths; each needs its testers of every role.
                        m.add(need[r] * b[(s, k)] <= sum(x[(g, s, r)] for g in act if (g, s, r) in x))
            for u in tl.u_points:  # What reaches s at or after u is swabbed in [u, T] (milli-swab-seconds).
                cap = sum(b[(s, k)] * 1000 * math.floor(max(0.0, min(tl.times[k + 1], t) - max(tl.times[k], u)))
                          for k in range(len(tl.active)) if (s, k) in b)  # fmt: skip
                share = {z: p.mass_from(z, float(p.walk[z, s]), u) / p.mass[z] for z in range(len(p.zones))
                         if (z, s) in sent}  # fmt: skip
                demand = sum(sent[(z, s)] * math.ceil(1000 * p.mean_swab_s * f) for z, f in share.items())
                if not isinstance(demand, int):
                    m.add(cap >= demand)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
        solver.parameters.num_workers = max(1, self.params.workers)
        solver.parameters.random_seed = self.params.seed
        if solver.solve(m) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            xs = {k: int(solver.value(v)) for k, v in x.items() if solver.value(v) > 0}
            ys = {k: solver.value(v) / whole[k[0]] for k, v in sent.items() if solver.value(v) > 0}
            self._solution = Assignment(xs, _normalise_shares(ys))
            return "FEASIBLE"
        self._solution = None
        return "UNKNOWN"  # infeasible in the rounded model proves nothing about the fluid one

    def assignment(self) -> Assignment:
        assert self._solution is not None, "no solution"
        return self._solution
