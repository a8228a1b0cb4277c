"""The staffing decision's frozen data: zones, sites, tester pools and their waves, the travel times between them,
each site's timeline of tester events; and the model's tunables.

`staffing_problem(scenario, geometry, state=...)` builds it once from a scenario (and, when re-planning, fixes
the routing in force and the waves already sent); everything else in `optimizer.staffing` only reads it.
An `Assignment` is a staffing as numbers: testers per (wave, site, role) and visitor shares per (zone, site).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np

from optimizer.result import SolveParams
from scenarios.injects import delay_of, facts
from scenarios.loading import scenario_graph
from scenarios.mass_testing import MassTestingGeometry, MassTestingState, pool_role_counts, roles_of
from scenarios.plan import AssignStaff
from scenarios.schema import ArrivalProfile, MassTestingScenario

Backend = Literal["HIGHS", "SCIP", "CBC"]
DEFAULT_PARAMS = SolveParams()


@dataclass(frozen=True)
class StaffingOptions:
    """The staffing model's own tunables (the shared ones, time limit, gap, workers and seed, are `SolveParams`)."""

    walk_weight: float = 1.0  # per visitor-second walked, second phase
    travel_weight: float = 1.0  # per tester-second travelled, second phase
    makespan_slack: float = 0.0  # relative makespan the second phase may give up for less walking and travel
    backend: Backend = "HIGHS"
    split_zones: bool = True  # a zone's visitors may be split over several sites
    send_all_testers: bool = True  # send every tester who can reach a site (spares relieve, at no cost in T)
    secondary: bool = True  # run the second phase at all
    marginal: bool = True  # say what more testers or booths would buy (re-solving the LP relaxation)
    extra_testers: int = 10  # the unit of more testers in the marginal analysis
    # Count work, not seconds (node-limited MIPs, each charged a fixed share of the time limit), so that the
    # same input gives the same plan however busy the machine is; the wall clock only a safety cap
    # (`optimizer.staffing.search`, PROBE_S).
    deterministic: bool = True


DEFAULT_OPTIONS = StaffingOptions()


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


@dataclass(frozen=True)
class Assignment:
    """Testers and visitors as numbers: `x[(wave, site, role)]` testers, `y[(zone, site)]` shares."""

    x: dict[tuple[int, int, str], int]
    y: dict[tuple[int, int], float]


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
