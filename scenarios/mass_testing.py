"""Domain rules of a mass-testing scenario: travel matrices, the default plan, and plan checks.

The default plan (rule `nearest`) is what a commander does without an optimiser:
- visitors go to the nearest test site (by walking time) that still has room, as marshals would send them:
  each site takes visitors in proportion to its booths, filled in order of walking time (a literal "nearest
  site" would send a whole park to the one site by the gate);
- all testers are spread over the sites in proportion to their booths, each district filling the sites
  nearest to it first, leaving in groups of `group_size` every `group_interval_s` after the call-up delay;
- buses serve the bays first come, first served (no dispatch actions: the simulation's own policy).

Where the buses start (`bus_start_bays`) is one rule, here, that the simulation follows and the bus optimiser
plans for.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import networkx as nx

from scenarios.checks import mass_testing_checks
from scenarios.errors import Problem
from scenarios.graphs import scenario_graph
from scenarios.kinds import KindSpec, Kpi, SpliceRules, WhatIfField
from scenarios.plan import Action, AssignStaff, DispatchBus, Plan, PlanMeta, RouteVisitors
from scenarios.schema import BusDepot, BusFleet, MassTestingScenario, TesterPool, scenario_hash
from scenarios.travel import distance_matrix, time_matrix


@dataclass(frozen=True)
class MassTestingGeometry:
    """The travel times a mass-testing scenario needs, computed once from its graph."""

    scenario: MassTestingScenario
    graph: nx.DiGraph

    @cached_property
    def zones(self) -> list[str]:
        return [z.node for z in self.scenario.population.zones]

    @cached_property
    def sites(self) -> list[str]:
        return [s.node for s in self.scenario.testing.sites]

    @cached_property
    def walk_zone_site(self) -> dict[str, dict[str, float]]:
        """Seconds on foot from each zone to each site."""
        speed = self.scenario.testing.walk_speed_mps
        return time_matrix(self.graph, self.zones, self.sites, mover="walk", walk_speed_mps=speed)

    @cached_property
    def tester_travel(self) -> dict[str, dict[str, float]]:
        """Seconds from each district centre to each site (driving, then walking the last stretch)."""
        centres = [p.centre for p in self.scenario.resources.testers.values()]
        speed = self.scenario.testing.walk_speed_mps
        return time_matrix(self.graph, centres, self.sites, mover="mixed", walk_speed_mps=speed)

    @cached_property
    def exits(self) -> list[str]:
        """Where tested visitors head for: bus bays, the metro station, car parks."""
        s = self.scenario
        out = list(s.population.parking)
        if s.resources.buses is not None:
            out += list(s.resources.buses.bays)
        if s.metro is not None:
            out.append(s.metro.station)
        return list(dict.fromkeys(out))

    @cached_property
    def walk_site_exit(self) -> dict[str, dict[str, float]]:
        """Seconds on foot from each site to each bay, station and car park."""
        if not self.exits:
            return {site: {} for site in self.sites}
        speed = self.scenario.testing.walk_speed_mps
        return time_matrix(self.graph, self.sites, self.exits, mover="walk", walk_speed_mps=speed)

    @cached_property
    def bus_drive(self) -> dict[str, dict[str, float]]:
        """Seconds by road between depots, bays and destinations (every pair among them)."""
        return time_matrix(self.graph, self.bus_places, self.bus_places, mover="drive")

    @cached_property
    def bus_places(self) -> list[str]:
        buses = self.scenario.resources.buses
        if buses is None:
            return []
        return list(dict.fromkeys([*(d.node for d in buses.depots), *buses.bays, *buses.destinations]))

    @cached_property
    def bus_distance_m(self) -> dict[str, dict[str, float]]:
        """Metres by road between depots, bays and destinations, along the fastest paths."""
        return distance_matrix(self.graph, self.bus_places, self.bus_places, mover="drive")

    def tester_departure_s(self, pool: TesterPool, wave: int, at_s: float = 0.0) -> float:
        """When a wave leaves its centre: not before the call-up delay plus the wave's place in line."""
        return max(at_s, pool.callup_delay_s + wave * pool.group_interval_s)


def roles_of(scenario: MassTestingScenario) -> dict[str, int]:
    """Testers needed per booth by role (`any` when booths need no separate registrar)."""
    t = scenario.testing
    if t.registrars_per_booth == 0:
        return {"any": t.swabbers_per_booth}
    return {"swabber": t.swabbers_per_booth, "registrar": t.registrars_per_booth}


def pool_role_counts(scenario: MassTestingScenario) -> dict[tuple[str, str], int]:
    """How many testers each pool has of each role."""
    out = {}
    roles = roles_of(scenario)
    for name, pool in scenario.resources.testers.items():
        if "any" in roles:
            out[(name, "any")] = pool.count
        else:
            registrars = round(pool.count * pool.registrar_share)
            out[(name, "registrar")] = registrars
            out[(name, "swabber")] = pool.count - registrars
    return out


def crew_warnings(scenario: MassTestingScenario) -> list[str]:
    """Where a tester pool cannot staff a booth by itself: too few of a role the booth's crew needs
    (`testing.swabbers_per_booth`, `registrars_per_booth`), or groups too small to carry one crew together."""
    roles = roles_of(scenario)
    counts = pool_role_counts(scenario)
    crew = sum(roles.values())
    out = []
    for name, pool in scenario.resources.testers.items():
        short = [f"{counts[(name, r)]} {r}{'s' if counts[(name, r)] != 1 else ''} (a booth needs {n})"
                 for r, n in roles.items() if counts[(name, r)] < n]  # fmt: skip
        if short:
            out.append(f"pool {name!r} cannot staff a booth by itself: it has {' and '.join(short)}")
        if pool.group_size < crew:
            out.append(f"pool {name!r} sends groups of {pool.group_size}, fewer than a booth's crew of {crew}: "
                       "a booth opens only when groups arrive together")
    return out


def _proportional(total: int, weights: dict[str, int], *, cap: bool = True) -> dict[str, int]:
    """Split `total` into whole numbers in proportion to `weights` (largest remainder), at most each weight
    when `cap`."""
    weight_sum = sum(weights.values())
    if cap:
        total = min(total, weight_sum)
    if weight_sum == 0 or total == 0:
        return dict.fromkeys(weights, 0)
    raw = {k: total * w / weight_sum for k, w in weights.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[: total - sum(out.values())]:
        out[k] += 1
    return out


def _nearest_with_room(scenario: MassTestingScenario, geo: MassTestingGeometry,
                       open_sites: list[str]) -> list[RouteVisitors]:  # fmt: skip
    """Zones fill the open sites in order of walking time, each up to its booth-proportional share."""
    expected = {
        z.node: z.visitors + (z.arrivals.expected_count(scenario.clock.horizon_s) if z.arrivals else 0.0)
        for z in scenario.population.zones
    }
    total = sum(expected.values())
    booths = {s.node: s.booths for s in scenario.testing.sites if s.node in open_sites}
    room = {s: total * b / sum(booths.values()) for s, b in booths.items()}
    left = dict(expected)
    sent: dict[tuple[str, str], float] = defaultdict(float)
    pairs = sorted((geo.walk_zone_site[z][s], z, s) for z in expected for s in booths)
    for t, z, s in pairs:
        take = min(left[z], room[s])
        if take > 1e-9 and math.isfinite(t):
            sent[(z, s)] += take
            left[z] -= take
            room[s] -= take
    actions = []
    for zone in geo.zones:
        if expected[zone] <= 0:
            row = {s: geo.walk_zone_site[zone][s] for s in booths}
            actions.append(RouteVisitors(at_s=0.0, origin=zone, to=min(row, key=lambda s: (row[s], s)), share=1.0))
            continue
        legs = [(s, n) for (z, s), n in sent.items() if z == zone]
        shares = [round(n / expected[zone], 6) for _, n in legs]
        if shares:  # make the shares add up to exactly 1 despite rounding
            shares[shares.index(max(shares))] += round(1.0 - sum(shares), 6)
        for (site, _), share in zip(legs, shares, strict=True):
            if share > 0:
                actions.append(RouteVisitors(at_s=0.0, origin=zone, to=site, share=min(1.0, share)))
    return actions


def _open_sites(scenario: MassTestingScenario, geo: MassTestingGeometry) -> list[str]:
    """The sites a commander can staff: all if there are testers for every booth, else the ones nearest the
    visitors, as many as there are full booth crews and no more than the crews can fill."""
    roles = roles_of(scenario)
    totals = {role: sum(n for (_, r), n in pool_role_counts(scenario).items() if r == role) for role in roles}
    crews = min(totals[role] // need for role, need in roles.items())
    booths = {s.node: s.booths for s in scenario.testing.sites}
    if crews >= sum(booths.values()) or crews == 0:
        return list(booths)
    weight = {z.node: z.visitors + 1.0 for z in scenario.population.zones}
    mean_walk = {s: sum(weight[z] * geo.walk_zone_site[z][s] for z in weight) / sum(weight.values()) for s in booths}
    chosen: list[str] = []
    covered = 0
    for site in sorted(booths, key=lambda s: (mean_walk[s], s)):
        if len(chosen) == crews or covered >= crews:
            break
        chosen.append(site)
        covered += booths[site]
    return chosen


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` whole units over keys in proportion to `weights` (largest remainder; equal split when all
    weights are 0). The buses' placement over the bays uses it (`bus_start_bays`)."""
    s = sum(weights.values())
    if s <= 0:
        base = {k: total // len(weights) for k in weights}
        for k in list(weights)[: total - sum(base.values())]:
            base[k] += 1
        return base
    raw = {k: total * w / s for k, w in weights.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[: total - sum(out.values())]:
        out[k] += 1
    return out


def bus_start_bays(fleet: BusFleet, expected: dict[str, float]) -> list[tuple[BusDepot, str]]:
    """Where the buses start: one `(depot, bay)` per bus of the fleet, the depots' buses in the order listed.

    The fleet is split over the bays (`expected`'s keys, in order) in proportion to the riders expected at each
    (largest remainder), the bays with the largest share first, and the depots' buses are dealt to those slots in
    turn (all to the first bay when none has a share). The simulation places its buses so, and the bus optimiser
    plans for it (`optimizer.buses.problem.bus_placement`)."""
    bays = list(expected)
    share = largest_remainder(fleet.count, expected)
    slots = [b for b in sorted(bays, key=lambda b: -share[b]) for _ in range(share[b])]
    out: list[tuple[BusDepot, str]] = []
    for depot in fleet.depots:
        for _ in range(depot.count):
            out.append((depot, slots[len(out) % len(slots)] if slots else bays[0]))
    return out


def default_plan(scenario: MassTestingScenario, graph: nx.DiGraph | None = None) -> Plan:
    """The scenario's own plan: nearest sites with room for visitors, proportional nearest-first testers, FCFS
    buses."""
    geo = MassTestingGeometry(scenario, graph if graph is not None else scenario_graph(scenario))
    open_sites = _open_sites(scenario, geo)
    actions: list[Action] = [*_nearest_with_room(scenario, geo, open_sites)]
    booths = {s.node: s.booths for s in scenario.testing.sites if s.node in open_sites}
    pools = scenario.resources.testers
    sent_by_role: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for role, per_booth in roles_of(scenario).items():
        available = {name: n for (name, r), n in pool_role_counts(scenario).items() if r == role}
        total = sum(available.values())
        # Every open site gets one booth's crew first, the rest in proportion to booths.
        floor = {s: per_booth for s in booths} if total >= per_booth * len(booths) else dict.fromkeys(booths, 0)
        extra = _proportional(total - sum(floor.values()), {s: b * per_booth for s, b in booths.items()}, cap=False)
        need = {s: floor[s] + extra[s] for s in booths}
        pairs = sorted((geo.tester_travel[pools[p].centre][s], p, s) for p in available for s in booths)
        sent: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for _, p, s in pairs:
            take = min(available[p], need[s])
            if take > 0:
                sent[p].append((s, take))
                available[p] -= take
                need[s] -= take
        sent_by_role[role] = sent
    for p in pools:
        actions.extend(_waves(scenario, geo, p, {role: sent.get(p, []) for role, sent in sent_by_role.items()}))
    meta = PlanMeta(
        scenario=scenario.name,
        scenario_hash=scenario_hash(scenario),
        produced_by="default:nearest",
        seed=scenario.seed,
        note="visitors to the nearest site with room; testers in proportion to booths, nearest first; "
        "buses first come first served",
    )
    return Plan.build(meta, actions)


def _waves(scenario: MassTestingScenario, geo: MassTestingGeometry, pool_name: str,
           legs: dict[str, list[tuple[str, int]]]) -> list[AssignStaff]:  # fmt: skip
    """Cut a pool's assignments of each role (nearest site first) into departure groups of `group_size`.

    Each group is a mixed crew: its seats are shared among the roles in the proportions a booth needs (a
    swabber and a registrar side by side), so that the first group to arrive opens booths at once. This is how
    sampling teams were sent (facts.md 2.2: a table's crew is one sampler and one or two registrars) and what
    puts the Disney baseline on its record (the last swab about 23:00). A pool too small in its groups for
    every role (`group_size` below the roles) fills each group role after role instead.
    """
    pool = scenario.resources.testers[pool_name]
    per_booth = {r: n for r, n in roles_of(scenario).items() if legs.get(r)}
    seats = _proportional(pool.group_size, per_booth, cap=False)
    out: list[AssignStaff] = []
    if all(seats.values()):
        for role, room_per_wave in seats.items():
            wave, room = 0, room_per_wave
            for site, count in legs[role]:
                while count > 0:
                    take = min(count, room)
                    out.append(AssignStaff(at_s=geo.tester_departure_s(pool, wave), pool=pool_name, to=site,
                                           count=take, role=role, wave=wave))  # fmt: skip
                    count, room = count - take, room - take
                    if room == 0:
                        wave, room = wave + 1, room_per_wave
        return out
    wave, room = 0, pool.group_size
    for role in per_booth:
        for site, count in legs[role]:
            while count > 0:
                take = min(count, room)
                out.append(AssignStaff(at_s=geo.tester_departure_s(pool, wave), pool=pool_name, to=site, count=take,
                                       role=role, wave=wave))  # fmt: skip
                count, room = count - take, room - take
                if room == 0:
                    wave, room = wave + 1, pool.group_size
    return out


@dataclass(frozen=True)
class BusState:
    """The buses' side of a simulated state at a moment, for re-planning the dispatches from it.

    `waiting[(bay, destination)]`: riders queued now; `idle[bay]`: buses idle there now; `returning`: one
    `(bay, at_s)` per bus away (on a trip, loading, or driving from its depot), idle at that bay again at `at_s`.
    The depots no longer count.
    """

    waiting: Mapping[tuple[str, str], int] = field(default_factory=dict)
    idle: Mapping[str, int] = field(default_factory=dict)
    returning: tuple[tuple[str, float], ...] = ()

    @property
    def fleet(self) -> int:
        return sum(self.idle.values()) + len(self.returning)


@dataclass(frozen=True)
class MassTestingState:
    """What a re-plan at `at_s` starts from: the visitors' routing in force ((zone, site) -> share; they have been
    sent to their sites), the plan in effect's tester groups (those due before `at_s` have been sent), and, from
    a simulation of the plan in effect up to `at_s`, the buses (`simulation.mass_testing.MassTestingModel
    .bus_state`; None: the buses are planned from the start); and the plan in effect itself."""

    at_s: float
    routing: dict[tuple[str, str], float]
    groups: tuple[AssignStaff, ...]
    buses: BusState | None = None
    fired: frozenset[int] = frozenset()  # the injects fired by `at_s` (`scenarios.state.ReplanState`)
    #: The plan in effect (run up to `at_s`), so that a re-plan can judge its own plan spliced into it, against
    #: carrying it on (`optimizer.buses.judge`). None: not known (judged as if nothing ran before).
    in_effect: Plan | None = None


def mass_testing_state(plan: Plan, scenario: MassTestingScenario, at_s: float,
                       geometry: MassTestingGeometry | None = None, *,
                       buses: BusState | None = None,
                       fired: frozenset[int] = frozenset()) -> MassTestingState:  # fmt: skip
    return MassTestingState(at_s, routing_in_force(plan, scenario, at_s, geometry), tuple(plan.of_type(AssignStaff)),
                            buses, fired, plan)  # fmt: skip


def routing_in_force(plan: Plan, scenario: MassTestingScenario, at_s: float,
                     geometry: MassTestingGeometry | None = None) -> dict[tuple[str, str], float]:  # fmt: skip
    """Each zone's routing in force at `at_s` under `plan`, as the simulation applies it: the shares of the
    zone's latest `RouteVisitors` at or before `at_s`, the rest to its nearest site. (zone, site) -> share."""
    geo = geometry or MassTestingGeometry(scenario, scenario_graph(scenario))
    sites = [t.node for t in scenario.testing.sites]
    out: dict[tuple[str, str], float] = {}
    for zone in (z.node for z in scenario.population.zones):
        acts = [a for a in plan.of_type(RouteVisitors) if a.origin == zone and a.at_s <= at_s]
        latest = max((a.at_s for a in acts), default=None)
        for a in acts:
            if a.at_s == latest:
                out[(zone, a.to)] = out.get((zone, a.to), 0.0) + a.share
        rest = 1.0 - sum(v for (z, _), v in out.items() if z == zone)
        if rest > 1e-9:
            nearest = min(sites, key=lambda t: (geo.walk_zone_site[zone][t], t))
            out[(zone, nearest)] = out.get((zone, nearest), 0.0) + rest
    return out


def check_plan(plan: Plan, scenario: MassTestingScenario, *, file: str = "plan") -> list[Problem]:
    """Problems that make a plan impossible for this scenario (unknown pools or sites, too many testers)."""
    problems = []
    sites = {s.node for s in scenario.testing.sites}
    zones = {z.node for z in scenario.population.zones}
    roles = roles_of(scenario)
    have = pool_role_counts(scenario)
    used: dict[tuple[str, str], int] = defaultdict(int)
    wave_sizes: dict[tuple[str, int], int] = defaultdict(int)
    shares: dict[str, float] = defaultdict(float)
    buses = scenario.resources.buses
    for i, act in enumerate(plan.actions):
        where = f"actions[{i}]"
        if isinstance(act, AssignStaff):
            if act.pool not in scenario.resources.testers:
                problems.append(Problem(file, f"{where}.pool", f"no tester pool {act.pool!r} in the scenario"))
            if act.to not in sites:
                problems.append(Problem(file, f"{where}.to", f"{act.to!r} is not one of the scenario's test sites"))
            if act.role not in roles:
                problems.append(
                    Problem(file, f"{where}.role", f"role must be one of {sorted(roles)} (got {act.role!r})")
                )
            used[(act.pool, act.role)] += act.count
            if act.pool in scenario.resources.testers:
                wave_sizes[(act.pool, act.wave)] += act.count
        elif isinstance(act, RouteVisitors):
            if act.origin not in zones:
                problems.append(Problem(file, f"{where}.origin", f"{act.origin!r} is not a zone of the scenario"))
            if act.to not in sites:
                problems.append(Problem(file, f"{where}.to", f"{act.to!r} is not one of the scenario's test sites"))
            shares[act.origin] += act.share
        elif isinstance(act, DispatchBus):
            if buses is None or act.origin not in buses.bays:
                problems.append(Problem(file, f"{where}.origin", f"{act.origin!r} is not a bus bay of the scenario"))
            if buses is None or act.to not in buses.destinations:
                problems.append(Problem(file, f"{where}.to", f"{act.to!r} is not a bus destination of the scenario"))
        else:
            problems.append(Problem(file, f"{where}.type", f"{act.type} does not apply to a mass-testing scenario"))
    for (pool, wave), n in sorted(wave_sizes.items()):
        size = scenario.resources.testers[pool].group_size
        if n > size:
            reason = f"wave {wave} of {pool!r} carries {n} testers; groups hold {size}"
            problems.append(Problem(file, "actions", reason))
    for (pool, role), n in sorted(used.items()):
        if n > have.get((pool, role), 0):
            problems.append(
                Problem(
                    file, "actions", f"assigns {n} {role} testers of {pool!r}, which has {have.get((pool, role), 0)}"
                )
            )
    for zone, total in sorted(shares.items()):
        if total > 1 + 1e-9:
            problems.append(Problem(file, "actions", f"routes {total:.3g} of zone {zone!r} (more than all of it)"))
    return problems


# ------------------------------------------------------------------------------------------ the kind


def fit_tester_groups(scenario: MassTestingScenario, kept: list[Any], taken: list[Any]) -> list[Any]:
    """A re-plan's tester groups cut to what each pool has left, by role and by group, after those sent."""
    left = dict(pool_role_counts(scenario))
    room = {(name, w): pool.group_size for name, pool in scenario.resources.testers.items()
            for w in range(-(-pool.count // pool.group_size))}  # fmt: skip
    for a in kept:
        if isinstance(a, AssignStaff):
            left[(a.pool, a.role)] = left.get((a.pool, a.role), 0) - a.count
            room[(a.pool, a.wave)] = room.get((a.pool, a.wave), 0) - a.count
    out = []
    for a in taken:
        if isinstance(a, AssignStaff):
            n = min(a.count, left.get((a.pool, a.role), 0), room.get((a.pool, a.wave), 0))
            if n <= 0:
                continue
            left[(a.pool, a.role)] -= n
            room[(a.pool, a.wave)] -= n
            a = a if n == a.count else a.model_copy(update={"count": n})
        out.append(a)
    return out


def _whatif(scenario: MassTestingScenario) -> list[WhatIfField]:
    """Visitors per zone; testers per pool; buses (with their depots, which must hold them all); the thresholds."""
    out = [WhatIfField(key=f"zone_{i}", path=f"population.zones[{i}].visitors", en=f"{zone.node} · visitors",
                       zh=f"{zone.node} · 游客", value=zone.visitors, minimum=None, step=100)
           for i, zone in enumerate(scenario.population.zones)]  # fmt: skip
    out += [WhatIfField(key=f"pool_{pool}", path=f"resources.testers.{pool}.count", en=f"testers · {pool}",
                        zh=f"采样人员 · {pool}", value=spec.count, minimum=None, step=10, column=1)
            for pool, spec in scenario.resources.testers.items()]  # fmt: skip
    buses = scenario.resources.buses
    if buses is not None:
        out.append(WhatIfField(key="buses", path="resources.buses.count", en="buses", zh="大巴", value=buses.count,
                               minimum=None, step=10, column=1))  # fmt: skip
        out += [WhatIfField(key=f"depot_{i}", path=f"resources.buses.depots[{i}].count",
                            en=f"buses at depot {d.node}", zh=f"{d.node} 停车场大巴", value=d.count, minimum=0,
                            step=10, column=1) for i, d in enumerate(buses.depots)]  # fmt: skip
    th = scenario.thresholds
    if th.target_finish_s is not None:
        out.append(WhatIfField(key="finish", path="thresholds.target_finish_s", en="target finish (min after start)",
                               zh="目标完成时间（开始后分钟）", value=int(th.target_finish_s // 60), scale=60,
                               minimum=None, step=15, column=1))  # fmt: skip
    if th.max_wait_s is not None:
        out.append(WhatIfField(key="wait", path="thresholds.max_wait_s", en="max wait (min)", zh="最长等待（分钟）",
                               value=int(th.max_wait_s // 60), scale=60, minimum=None, step=5, column=1))  # fmt: skip
    return out


KPIS = (
    Kpi(name="last_tested_min", unit="min after start", better="lower", headline=True, en="Last visitor tested",
        zh="最后一人完成采样"),
    Kpi(name="mean_wait_min", unit="min", better="lower", headline=True, en="Mean wait to be swabbed",
        zh="平均等待采样"),
    Kpi(name="p95_wait_min", unit="min", better="lower", en="95th-percentile wait to be swabbed",
        zh="等待采样95分位"),
    Kpi(name="max_wait_min", unit="min", better="lower", en="Longest wait to be swabbed (to the run's end if never)",
        zh="最长等待采样"),
    Kpi(name="max_queue", unit="people", better="lower", en="Longest queue at a site", zh="采样点最长排队"),
    Kpi(name="last_departed_min", unit="min after start", better="lower", en="Last visitor left by bus or metro",
        zh="最后一人离开"),
    Kpi(name="stranded_visitors", unit="people", better="lower", en="Visitors not moved out", zh="未能离开的游客"),
    Kpi(name="swab_to_bus_min", unit="min", better="lower", watched=True, en="Mean time from swab to bus departure",
        zh="采样后候车平均时间"),
    Kpi(name="bus_km", unit="km", better="lower", en="Bus distance driven", zh="大巴行驶里程"),
    Kpi(name="tester_hours", unit="tester-hours", better="lower", en="Tester time on site", zh="采样人员工时"),
    Kpi(name="visitors", unit="people", better="neither", en="Visitors to test", zh="需采样游客"),
    Kpi(name="tested", unit="people", better="higher", en="Visitors tested", zh="已采样游客"),
)  # fmt: skip

SPEC = KindSpec(
    name="mass_testing",
    title_en="Mass testing",
    title_zh="大规模核酸检测",
    checks=mass_testing_checks,
    schema=MassTestingScenario,
    default_plan=default_plan,
    state=MassTestingState,
    state_label="the routing and tester groups in force",
    kpis=KPIS,
    injects=frozenset({"message", "delay"}),
    splice=SpliceRules(fit=fit_tester_groups),
    breach_checks={
        "misses_target_finish": lambda s, k: s.thresholds.target_finish_s is not None
        and k["last_tested_min"] * 60 > s.thresholds.target_finish_s,
        "anyone_stranded": lambda s, k: k["stranded_visitors"] > 0,
        # The chance that someone waits longer than the maximum wait (the same threshold as the run's `wait` breach).
        "anyone_waits_over_max": lambda s, k: s.thresholds.max_wait_s is not None
        and k["max_wait_min"] * 60 > s.thresholds.max_wait_s,
    },
    whatif=_whatif,
    roster_teams=lambda scenario: [*scenario.resources.testers, "buses"],
    check_plan=check_plan,
    map_layers=("site_queue",),
    chart_series=("queue_total",),
)
