"""The frozen data of the dispatch decision on its time grid, and how it is built from a scenario and a forecast.

The grid: dispatch moments t_j = start + j * bucket_s, j = 0 .. G-1 (G: up to the scenario's horizon, or fewer
when the fleet provably clears every bay sooner). On it `BusProblem` holds, as arrays (no solver objects):
- `riders[b, d, j]`: riders at bay b for destination d who can board a bus dispatched at t_j: a bucket's riders
  count from the end of the bucket (the forecast's cumulative curve, in whole riders); with `boarding`
  "until_departure" (the simulation's rule) riders there by t_j + load_time_s board too;
- `cycle[b, d]`: a bus dispatched at t_j from b to d is idle at b again `cycle[b, d]` buckets later: load, drive,
  unload and drive back, rounded up to the grid (so no bus is planned before it is back);
- `supply[b, j]`: buses reach their bay from their depot at ready_at_s + drive, rounded up to the grid; the bay
  is the one the simulation gives them (`placement`: the shared rule `scenarios.mass_testing.bus_start_bays`,
  or, for comparison, the nearest bay by road); re-planning from a `BusState`, the buses where they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import numpy as np

from optimizer.buses.backends import Backend
from optimizer.buses.forecast import EPS, BayForecast, geometry_of
from scenarios.mass_testing import BusState, MassTestingGeometry, bus_start_bays
from scenarios.schema import MassTestingScenario

Placement = Literal["proportional", "nearest"]
Boarding = Literal["until_departure", "at_dispatch"]


@dataclass(frozen=True)
class BusOptions:
    """The bus model's own tunables (time limit, gap, workers and seed are in `SolveParams`)."""

    wait_weight: float = 1.0  # per rider-minute waited at a bay (phase 2)
    km_weight: float = 0.01  # per bus-km driven (phase 2): a 60 km round trip weighs 0.6 rider-minutes
    placement: Placement = "proportional"  # how buses reach bays; must match the simulation
    boarding: Boarding = "until_departure"  # who boards: riders there by departure, or only by the dispatch
    backend: Backend = "CP_SAT"  # CP_SAT, or a MIP solver through pywraplp (for comparison)
    first_phase_share: float = 0.6  # of the time limit, at most, for phase 1 (the rest for phase 2)
    improve: bool = True  # phase 2; without it the plan is phase 1's (as a start for a finer grid)
    diagnose: bool = True  # when the target is missed, find the fleet it would take
    deterministic: bool = True  # CP-SAT's interleaved search: the same answer for the same seed and limit
    coarse_share: float = 0.3  # of the time limit, for the coarser grid when `plan_buses` is given one


DEFAULT_OPTIONS = BusOptions()


@dataclass(frozen=True, eq=False)
class BusProblem:
    """The frozen data of the dispatch decision on its time grid (no solver objects)."""

    name: str
    bays: tuple[str, ...]
    destinations: tuple[str, ...]
    start_s: float
    bucket_s: float
    n_steps: int  # G: dispatch moments t_j = start_s + j * bucket_s, j < G
    capacity: int
    load_s: float
    unload_s: float
    fleet: int
    riders: np.ndarray  # [bay, dest, j]: whole riders at the bay by t_j (cumulative)
    total: np.ndarray  # [bay, dest]: whole riders forecast in all
    supply: np.ndarray  # [bay, j]: buses first idle at the bay at t_j
    cycle: np.ndarray  # [bay, dest]: buckets from a dispatch until the bus is idle at the bay again
    trip_km: np.ndarray  # [bay, dest]: km of the round trip
    positioning_km: float  # km of the depot-to-bay drives (the same in every plan)
    earliest: np.ndarray  # [bay]: first grid index any bus of the fleet could reach the bay
    target_step: int  # the last dispatch index that departs by the target (or the horizon)
    target_s: float
    horizon_s: float

    def t(self, j: int) -> float:
        """Dispatch moment j, in seconds after the scenario's start."""
        return self.start_s + j * self.bucket_s

    def truncated(self, n_steps: int) -> BusProblem:
        """The same problem with only the first `n_steps` dispatch moments."""
        n = max(1, min(n_steps, self.n_steps))
        return replace(self, n_steps=n, riders=self.riders[:, :, :n], supply=self.supply[:, :n],
                       target_step=min(self.target_step, n - 1))  # fmt: skip

    @cached_property
    def buses_at(self) -> np.ndarray:
        """[bay]: buses that ever reach each bay."""
        return self.supply.sum(axis=1)

    @property
    def riders_total(self) -> int:
        return int(self.total.sum())

    @cached_property
    def arrival_step(self) -> int | None:
        """The first j by which every forecast rider has reached a bay (None if some arrive after the grid)."""
        if self.n_steps == 0:
            return None
        done = np.all(self.riders >= self.total[:, :, None], axis=(0, 1))
        hits = np.flatnonzero(done)
        return int(hits[0]) if hits.size else None


def bus_problem(
    scenario: MassTestingScenario,
    forecast: BayForecast,
    geometry: MassTestingGeometry | None = None,
    *,
    placement: Placement = "proportional",
    boarding: Boarding = "until_departure",
    target_s: float | None = None,
    state: BusState | None = None,
    min_steps: int = 0,
) -> BusProblem:
    """The dispatch problem of a scenario's fleet facing a bay forecast, on the forecast's time grid.

    With a `state` (re-planning at `forecast.start_s`), its waiting riders and its buses replace the depots.
    `min_steps`: at least this many dispatch moments (up to the horizon), e.g. to hold a coarser grid's plan.
    """
    fleet = scenario.resources.buses
    if fleet is None:
        raise ValueError("resources.buses: the scenario has no buses")
    for bay, dest in forecast.arrivals:
        if bay not in fleet.bays:
            raise ValueError(f"forecast.arrivals: {bay!r} is not a bus bay of the scenario")
        if dest not in fleet.destinations:
            raise ValueError(f"forecast.arrivals: {dest!r} is not a bus destination of the scenario")
    geo = geometry if geometry is not None else geometry_of(scenario)
    bays, dests = tuple(fleet.bays), tuple(fleet.destinations)
    step, start = forecast.bucket_s, forecast.start_s
    horizon = scenario.clock.horizon_s
    target = horizon if target_s is None else min(float(target_s), horizon)
    drive, dist = geo.bus_drive, geo.bus_distance_m

    cycle = np.zeros((len(bays), len(dests)), dtype=np.int64)
    trip_km = np.zeros((len(bays), len(dests)))
    for i, b in enumerate(bays):
        for k, d in enumerate(dests):
            round_trip = fleet.load_time_s + drive[b][d] + fleet.unload_time_s + drive[d][b]
            cycle[i, k] = max(1, math.ceil(round_trip / step - EPS)) if math.isfinite(round_trip) else 0
            trip_km[i, k] = (dist[b][d] + dist[d][b]) / 1000 if math.isfinite(round_trip) else 0.0

    # Dispatch moments whose riders depart within the horizon.
    g_horizon = max(0, math.floor((horizon - fleet.load_time_s - start) / step + EPS) + 1)
    arrive: list[list[int]] = [[] for _ in bays]
    positioning_km = 0.0
    if state is None:
        for depot, bay, count in bus_placement(scenario, forecast, geo, placement=placement):
            a = fleet_ready(scenario, depot) + drive[depot][bay]
            if math.isfinite(a) and count > 0:
                arrive[bays.index(bay)] += [max(0, math.ceil((a - start) / step - EPS))] * count
                positioning_km += count * dist[depot][bay] / 1000
        earliest = np.array([
            max(0, math.ceil((min((fleet_ready(scenario, dp.node) + drive[dp.node][b] for dp in fleet.depots),
                                  default=math.inf) - start) / step - EPS))
            if any(math.isfinite(drive[dp.node][b]) for dp in fleet.depots) else g_horizon
            for b in bays
        ], dtype=np.int64)  # fmt: skip
        waiting = np.zeros((len(bays), len(dests)), dtype=np.int64)
    else:
        for bay, count in state.idle.items():
            arrive[_index(bays, bay, "state.idle")] += [0] * count
        for bay, at_s in state.returning:
            arrive[_index(bays, bay, "state.returning")].append(max(0, math.ceil((at_s - start) / step - EPS)))
        earliest = np.zeros(len(bays), dtype=np.int64)
        waiting = np.zeros((len(bays), len(dests)), dtype=np.int64)
        for (bay, dest), count in state.waiting.items():
            waiting[_index(bays, bay, "state.waiting"), _index(dests, dest, "state.waiting")] += count

    # Fewer steps when the fleet provably clears every bay sooner (see module docstring).
    n_fc = forecast.n_buckets
    totals = waiting + np.array([[forecast.cumulative(b, d, n_fc)[-1] if n_fc else 0 for d in dests]
                                 for b in bays], dtype=np.int64).reshape(len(bays), len(dests))  # fmt: skip
    g = g_horizon
    if all(arrive[i] or totals[i].sum() == 0 for i in range(len(bays))):
        clear = n_fc + 1
        for i in range(len(bays)):
            if totals[i].sum() == 0:
                continue
            live = cycle[i][totals[i] > 0]
            if np.any(live == 0):
                clear = g_horizon
                break
            trips = int(sum(math.ceil(t / fleet.capacity) for t in totals[i]))
            rounds = math.ceil(trips / len(arrive[i]))
            clear = max(clear, max(n_fc, max(arrive[i])) + rounds * int(live.max()) + 2)
        g = min(g_horizon, max(clear, min_steps))
    # Riders of bucket q count from its end; with boarding until departure, those there by t_j + load board.
    lead = math.floor(fleet.load_time_s / step + EPS) if boarding == "until_departure" else 0
    riders = np.zeros((len(bays), len(dests), g), dtype=np.int64)
    for i, b in enumerate(bays):
        for k, d in enumerate(dests):
            cum = np.concatenate([[0], forecast.cumulative(b, d, g + lead)])
            riders[i, k, :] = waiting[i, k] + cum[lead : lead + g]
    supply = np.zeros((len(bays), g), dtype=np.int64)
    for i in range(len(bays)):
        for e in arrive[i]:
            if e < g:
                supply[i, e] += 1
    target_step = min(g - 1, math.floor((target - fleet.load_time_s - start) / step + EPS))
    return BusProblem(
        name=scenario.name, bays=bays, destinations=dests, start_s=start, bucket_s=step, n_steps=g,
        capacity=fleet.capacity, load_s=fleet.load_time_s, unload_s=fleet.unload_time_s,
        fleet=fleet.count if state is None else sum(len(a) for a in arrive),
        riders=riders, total=totals, supply=supply, cycle=cycle, trip_km=trip_km, positioning_km=positioning_km,
        earliest=earliest, target_step=int(target_step), target_s=target, horizon_s=horizon,
    )  # fmt: skip


def _index(names: tuple[str, ...], name: str, where: str) -> int:
    if name not in names:
        raise ValueError(f"{where}: {name!r} is not one of {', '.join(names)}")
    return names.index(name)


def fleet_ready(scenario: MassTestingScenario, depot: str) -> float:
    """When the buses of a depot are ready to leave it (the earliest if the depot is listed twice)."""
    fleet = scenario.resources.buses
    assert fleet is not None
    return min(d.ready_at_s for d in fleet.depots if d.node == depot)


def bus_placement(
    scenario: MassTestingScenario,
    forecast: BayForecast,
    geometry: MassTestingGeometry,
    *,
    placement: Placement = "proportional",
) -> list[tuple[str, str, int]]:
    """`(depot, bay, buses)`: which bay each depot's buses drive to first, as the simulation sends them.

    `proportional`: the simulation's rule (`scenarios.mass_testing.bus_start_bays`) on the riders the forecast
    expects at each bay: the fleet split over the bays in proportion to them (largest remainder), the bays with
    the largest share first, and the depots' buses dealt to those slots in turn. `nearest`: each bus to the bay
    nearest its depot by road, equally near bays in turn.
    """
    fleet = scenario.resources.buses
    assert fleet is not None
    bays = list(fleet.bays)
    out: dict[tuple[str, str], int] = {}
    order: list[tuple[str, str]] = []

    def put(depot: str, bay: str) -> None:
        if (depot, bay) not in out:
            out[(depot, bay)] = 0
            order.append((depot, bay))
        out[(depot, bay)] += 1

    if placement == "proportional":
        for depot, bay in bus_start_bays(fleet, {b: forecast.total(bay=b) for b in bays}):
            put(depot.node, bay)
    elif placement == "nearest":
        turn: dict[tuple[str, ...], int] = {}
        for depot in fleet.depots:
            row = geometry.bus_drive[depot.node]
            best = min(row[b] for b in bays)
            near = tuple(b for b in bays if row[b] <= best + EPS)
            for _ in range(depot.count):
                k = turn.get(near, 0)
                put(depot.node, near[k % len(near)])
                turn[near] = k + 1
    else:
        raise ValueError(f"placement: {placement!r} is not 'proportional' or 'nearest'")
    return [(depot, bay, out[(depot, bay)]) for depot, bay in order]
