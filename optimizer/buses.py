"""Bus dispatch for mass testing: how many buses leave each bay for each destination, and when.

The input is a forecast of riders reaching each bay for each destination per time bucket (`BayForecast`,
given as data, or built from a testing completion curve by `forecast_bay_demand`). The output is a plan of
`DispatchBus(at_s=t, origin=bay, to=destination, count=k)` actions: trips per destination over time.

The model is time-indexed on the forecast's buckets: dispatch moments t_j = start + j * bucket_s,
j = 0 .. G-1 (G: up to the scenario's horizon, or fewer when the fleet provably clears every bay sooner).
- `A[b, d, j]`: riders at bay b for destination d who can board a bus dispatched at t_j: a bucket's riders
  count from the end of the bucket (the forecast's cumulative curve, in whole riders); with `boarding`
  "until_departure" (the simulation's rule) riders there by t_j + load_time_s board too;
- a dispatch of `n[b, d, j]` buses at t_j boards up to `capacity` each; they depart at t_j + load_time_s;
- a bus dispatched at t_j from b to d is idle at b again `cycle[b, d]` buckets later: load, drive, unload
  and drive back, rounded up to the grid (so no bus is planned before it is back);
- buses reach their bay from their depot at ready_at_s + drive, rounded up to the grid; the bay is the one
  the simulation gives them (`placement`: in proportion to the riders expected at each bay, or the nearest
  bay by road).

Variables: `n[b, d, j]` buses dispatched, `C[b, d, j]` riders carried by the dispatches up to t_j
(cumulative), `idle[b, j]` buses idle at b after the dispatches at t_j. Constraints, each group a function:
- `add_riders_present` (variable bounds): nobody is carried before reaching the bay: C[b, d, j] <= A[b, d, j];
- `add_carry_order`: the carried count never falls: C[b, d, j] >= C[b, d, j-1];
- `add_capacity`: a dispatch carries at most capacity riders per bus: C[j] - C[j-1] <= capacity * n[j];
- `add_fleet`: buses idle at a bay = idle before + arrived + returned - dispatched, never negative (so never
  more buses away than have reached the bay, nor than the fleet);
- `add_clear_by` (the probes, phase 2, the diagnosis): everyone is carried by the model's last step.

Objective, lexicographic, in two phases on CP-SAT (chosen by measurement against SCIP; benchmarks/README.md):
1. the fewest stranded riders (carried by no dispatch within the grid), then the earliest step by which
   everyone is carried: the last departure. Bounds: the last rider's arrival plus loading, the
   fleet-capacity flow bound (trips each bay needs against trips its buses can start), the LP relaxation
   (bisection: no plan clears by t where even the LP cannot), and CP-SAT's infeasibility proofs. Plans:
   CP-SAT feasibility probes "everyone carried by step t", by bisection from the bound to the best plan
   (the better of two greedy schedules first), restarted with new seeds (time to a first plan is heavy-tailed).
2. with phase 1's value kept: `wait_weight` per rider-minute waited plus `km_weight` per bus-km (BusParams).
   Bound: the LP relaxation, then CP-SAT on the whole model; plans: CP-SAT, then large neighbourhoods
   (one window of time, or three destinations, re-planned with everything else fixed).
`PlanResult.objective` is phase 1 in minutes after the scenario's start (the last departure, plus G + 1
buckets for each stranded rider), its bound the best proven one; phase 2's objective, bound and gap are in
`details`. When the target is missed, `min_fleet` finds how many buses it would take (spare buses ready at
the bays when the fleet first could be) and that is the diagnosis. Bounds hold for the model on its grid.
A finer grid loses less to rounding but is a bigger model: `plan_buses(coarse_s=)` first solves phase 1 on a
coarser grid and starts the fine search from that plan (`regrid_schedule`: it stays feasible on the fine grid).

Time: `SolveParams.time_limit_s`. With `BusParams.deterministic` (default) CP-SAT runs one worker on its
deterministic clock (about `DET_PER_S` units a second), so the same input gives the same plan every run;
otherwise it runs `workers` in parallel on the wall clock (better plans in the same time, not reproducible).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from optimizer.result import PlanResult, SolveParams, relative_gap
from scenarios.mass_testing import BusState, MassTestingGeometry, largest_remainder
from scenarios.plan import DispatchBus, Plan, PlanMeta, SolverStats
from scenarios.schema import MassTestingScenario

Backend = Literal["CP_SAT", "SCIP", "HIGHS", "CBC", "GLOP"]
Placement = Literal["proportional", "nearest"]
Boarding = Literal["until_departure", "at_dispatch"]
OBJECTIVE_SCALE = 1000  # phase 2's integer objective is in thousandths of a weighted rider-minute
EPS = 1e-9
DEFAULT_PARAMS = SolveParams()


# ------------------------------------------------------------------------------------------ the forecast


@dataclass(frozen=True)
class BayForecast:
    """Riders expected to reach each bus bay, per destination, per time bucket from `start_s`.

    `arrivals[(bay, destination)][k]` riders reach `bay` for `destination` in
    [start_s + k * bucket_s, start_s + (k + 1) * bucket_s); counts may be fractional (expected values).
    """

    bucket_s: float
    arrivals: Mapping[tuple[str, str], tuple[float, ...]]
    start_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bucket_s) and self.bucket_s > 0):
            raise ValueError(f"bucket_s: {self.bucket_s!r} must be a positive number of seconds")
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise ValueError(f"start_s: {self.start_s!r} must be a non-negative number of seconds")
        clean: dict[tuple[str, str], tuple[float, ...]] = {}
        for key, row in self.arrivals.items():
            values = tuple(float(v) for v in row)
            for k, v in enumerate(values):
                if not (math.isfinite(v) and v >= 0):
                    raise ValueError(f"arrivals[{key!r}][{k}]: {v!r} must be a non-negative number")
            clean[(str(key[0]), str(key[1]))] = values
        object.__setattr__(self, "arrivals", clean)

    @property
    def n_buckets(self) -> int:
        return max((len(row) for row in self.arrivals.values()), default=0)

    def total(self, bay: str | None = None, destination: str | None = None) -> float:
        """Riders forecast in all (optionally at one bay, or for one destination)."""
        return sum(sum(row) for (b, d), row in self.arrivals.items()
                   if (bay is None or b == bay) and (destination is None or d == destination))  # fmt: skip

    def after(self, at_s: float, bucket_s: float | None = None) -> BayForecast:
        """The riders still to come at `at_s`, on buckets of `bucket_s` (default this forecast's) from `at_s`: a
        re-plan's forecast, those who came before being in its state. A bucket's riders are spread evenly over
        it, as `forecast_bay_demand` has them, on both grids."""
        offset = at_s - self.start_s
        if not (math.isfinite(offset) and offset >= 0):
            raise ValueError(f"at_s: {at_s!r} must be at or after the forecast's start ({self.start_s:g} s)")
        b = self.bucket_s
        nb = b if bucket_s is None else float(bucket_s)
        if not (math.isfinite(nb) and nb > 0):
            raise ValueError(f"bucket_s: {bucket_s!r} must be a positive number of seconds")
        arrivals: dict[tuple[str, str], tuple[float, ...]] = {}
        for key, row in self.arrivals.items():
            new: dict[int, float] = {}
            for k, riders in enumerate(row):  # the part of bucket k from `at_s` on, on the new grid
                lo, hi = max(k * b, offset), (k + 1) * b
                _spread(new, lo - offset, hi - offset, riders * max(hi - lo, 0.0) / b, nb)
            if new:
                arrivals[key] = tuple(new.get(q, 0.0) for q in range(max(new) + 1))
        return BayForecast(bucket_s=nb, arrivals=arrivals, start_s=at_s)

    def cumulative(self, bay: str, destination: str, n: int) -> np.ndarray:
        """Whole riders who have reached `bay` for `destination` by the end of buckets 0 .. n-1 (rounded)."""
        row = np.asarray(self.arrivals.get((bay, destination), ()), dtype=float)
        cum = np.cumsum(np.concatenate([row, np.zeros(max(0, n - row.size))]))[:n] if n else np.zeros(0)
        return np.floor(cum + 0.5 + EPS).astype(np.int64)


def _spread(row: dict[int, float], lo: float, hi: float, riders: float, bucket_s: float) -> None:
    """Add `riders` coming evenly over [lo, hi) (seconds from the grid's start) to `row`'s buckets."""
    if riders <= 0 or hi <= lo:
        return
    width = hi - lo
    k = math.floor(lo / bucket_s + EPS)
    while lo < hi - EPS:
        end = min(hi, (k + 1) * bucket_s)
        if end > lo:
            row[k] = row.get(k, 0.0) + riders * (end - lo) / width
        lo, k = max(lo, end), k + 1


def forecast_bay_demand(
    scenario: MassTestingScenario,
    tested: Mapping[str, Sequence[float]] | Sequence[float],
    geometry: MassTestingGeometry | None = None,
    *,
    bucket_s: float = 300.0,
    start_s: float = 0.0,
    metro_fallback: bool = True,
) -> BayForecast:
    """A bay forecast from a testing completion curve: tested × bus share × destination shares, walked to the bay.

    `tested` is visitors swabbed per bucket of `bucket_s` from `start_s`, per test site (a mapping), or in all
    (a sequence, split over the sites in proportion to their booths). Within a bucket swabs are spread
    evenly; a bus rider walks to the bay nearest their site (ties by name), and the shifted spread is split
    over the buckets it overlaps. With `metro_fallback`, metro riders who reach the station after it closes
    (or whose metro has no capacity) walk on to the bay nearest the station, as the simulation has them do.
    """
    buses = scenario.resources.buses
    if buses is None:
        raise ValueError("resources.buses: the scenario has no buses")
    geo = geometry if geometry is not None else _geometry(scenario)
    sites = [s.node for s in scenario.testing.sites]
    if isinstance(tested, Mapping):
        per_site = {}
        for site, row in tested.items():
            if site not in sites:
                raise ValueError(f"tested: {site!r} is not one of the scenario's test sites")
            per_site[site] = np.asarray(row, dtype=float)
    else:
        curve = np.asarray(tested, dtype=float)
        booths = {s.node: s.booths for s in scenario.testing.sites}
        total_booths = sum(booths.values())
        per_site = {s: curve * booths[s] / total_booths for s in sites}
    for site, row in per_site.items():
        if row.ndim != 1 or not np.all(np.isfinite(row)) or np.any(row < 0):
            raise ValueError(f"tested[{site!r}]: counts per bucket must be non-negative numbers")

    modes = scenario.population.home_modes
    metro = scenario.metro
    station_walk: dict[str, float] = {}
    if metro_fallback and metro is not None and modes.metro > 0:
        from scenarios.travel import time_matrix

        station_walk = time_matrix(geo.graph, [metro.station], list(buses.bays), mover="walk",
                                   walk_speed_mps=scenario.testing.walk_speed_mps)[metro.station]  # fmt: skip
    per_bay: dict[str, dict[int, float]] = {b: {} for b in buses.bays}

    def spread(bay: str, lo: float, hi: float, riders: float) -> None:
        """Add `riders` reaching `bay` evenly over [lo, hi) (seconds after start_s) to the buckets."""
        if math.isfinite(lo):
            _spread(per_bay[bay], lo, hi, riders, bucket_s)

    for site, row in per_site.items():
        exits = geo.walk_site_exit[site]
        bay = min(buses.bays, key=lambda b: (exits[b], b))
        walk = exits[bay]
        if not math.isfinite(walk):
            continue
        for k, count in enumerate(row):
            lo, hi = k * bucket_s + walk, (k + 1) * bucket_s + walk
            spread(bay, lo, hi, count * modes.bus)
            if station_walk and count > 0:
                assert metro is not None
                to_station = exits.get(metro.station, math.inf)
                fallback_bay = min(buses.bays, key=lambda b: (station_walk[b], b))
                extra = station_walk[fallback_bay]
                if not (math.isfinite(to_station) and math.isfinite(extra)):
                    continue
                a, b = k * bucket_s + to_station, (k + 1) * bucket_s + to_station
                closes = math.inf if metro.closes_at_s is None else metro.closes_at_s - start_s
                if metro.capacity_per_h <= 0:
                    closes = -math.inf
                late_lo = max(a, closes)
                if late_lo < b:
                    spread(fallback_bay, late_lo + extra, b + extra, count * modes.metro * (b - late_lo) / (b - a))
    n = max((max(r) + 1 for r in per_bay.values() if r), default=0)
    arrivals = {}
    for bay, row in per_bay.items():
        riders = np.array([row.get(k, 0.0) for k in range(n)])
        if riders.sum() <= 0:
            continue
        for dest, share in buses.destinations.items():
            if share > 0:
                arrivals[(bay, dest)] = tuple(float(v) for v in riders * share)
    return BayForecast(bucket_s=bucket_s, arrivals=arrivals, start_s=start_s)


# ------------------------------------------------------------------------------------------ the problem


@dataclass(frozen=True)
class BusParams:
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
    geo = geometry if geometry is not None else _geometry(scenario)
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

    `proportional` (simulation/mass_testing.py today): the fleet is split over the bays in proportion to the
    riders expected at each (largest remainder), the bays with the largest share first, and the depots'
    buses dealt to those slots in turn. `nearest`: each bus to the bay nearest its depot by road, equally
    near bays in turn.
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
        expected = {b: forecast.total(bay=b) for b in bays}
        share = largest_remainder(fleet.count, expected)
        slots = [b for b in sorted(bays, key=lambda b: -share[b]) for _ in range(share[b])]
        k = 0
        for depot in fleet.depots:
            for _ in range(depot.count):
                put(depot.node, slots[k % len(slots)] if slots else bays[0])
                k += 1
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


def _geometry(scenario: MassTestingScenario) -> MassTestingGeometry:
    from scenarios.loading import scenario_graph

    return MassTestingGeometry(scenario, scenario_graph(scenario))


# ------------------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class BusScore:
    """A dispatch schedule scored on the model's grid: what the model's objective terms are for it."""

    stranded: int
    last_step: int | None  # first j by which every rider is carried (None if some are stranded)
    last_departure_s: float | None
    wait_rider_s: float  # rider-seconds waited after reaching the bay, from t_j on (the model's measure)
    bus_km: float  # round trips only (the depot-to-bay drives are the same in every plan)
    trips: int
    carried: np.ndarray  # [bay, dest, j]: riders carried by the dispatch at t_j
    fleet_shortfall: int  # most buses a schedule asks for beyond those idle at a bay (0: executable)
    max_out: int  # most buses on trips at once


def score_schedule(problem: BusProblem, dispatch: np.ndarray) -> BusScore:
    """Board riders first come first served under a schedule `dispatch[bay, dest, j]` and score it."""
    p = problem
    b_n, d_n, g = p.riders.shape
    carried = np.zeros_like(p.riders)
    cum = np.zeros((b_n, d_n), dtype=np.int64)
    idle = np.zeros(b_n, dtype=np.int64)
    returns = np.zeros((b_n, g + int(p.cycle.max(initial=1)) + 1), dtype=np.int64)
    short, out, max_out, wait = 0, 0, 0, 0.0
    for j in range(g):
        idle += p.supply[:, j] + returns[:, j]
        out -= int(returns[:, j].sum())
        for i in range(b_n):
            want = int(dispatch[i, :, j].sum())
            short = max(short, want - int(idle[i]))
            idle[i] -= want
            for k in range(d_n):
                n = int(dispatch[i, k, j])
                if n:
                    take = min(n * p.capacity, int(p.riders[i, k, j] - cum[i, k]))
                    carried[i, k, j] = take
                    cum[i, k] += take
                    returns[i, j + p.cycle[i, k]] += n
                    out += n
        max_out = max(max_out, out)
        wait += float((p.riders[:, :, j] - cum).sum()) * p.bucket_s
    stranded = int((p.total - cum).sum())
    done = np.all(np.cumsum(carried, axis=2) >= p.total[:, :, None], axis=(0, 1))
    hits = np.flatnonzero(done)
    last = int(hits[0]) if stranded == 0 and hits.size else None
    if p.riders_total == 0:
        last = None
    return BusScore(
        stranded=stranded,
        last_step=last,
        last_departure_s=None if last is None else p.t(last) + p.load_s,
        wait_rider_s=wait,
        bus_km=float((dispatch * p.trip_km[:, :, None]).sum()),
        trips=int(dispatch.sum()),
        carried=carried,
        fleet_shortfall=max(0, short),
        max_out=max_out,
    )


GreedyRule = Literal["most_waiting", "shortest_cycle"]


def greedy_schedule(problem: BusProblem, rule: GreedyRule = "most_waiting") -> np.ndarray:
    """Every idle bus leaves at once: for the destination with the most riders waiting (full loads first), or,
    by `shortest_cycle`, for the one with riders waiting whose round trip is the shortest (so that the long
    trips come last, when a bus need not come back)."""
    p = problem
    b_n, d_n, g = p.riders.shape
    n = np.zeros_like(p.riders)
    cum = np.zeros((b_n, d_n), dtype=np.int64)
    idle = np.zeros(b_n, dtype=np.int64)
    returns = np.zeros((b_n, g + int(p.cycle.max(initial=1)) + 1), dtype=np.int64)
    for j in range(g):
        idle += p.supply[:, j] + returns[:, j]
        for i in range(b_n):
            waiting = p.riders[i, :, j] - cum[i]
            while idle[i] > 0 and waiting.max(initial=0) > 0:
                if rule == "most_waiting":
                    k = int(np.argmax(waiting))
                else:
                    k = int(np.argmin(np.where(waiting > 0, p.cycle[i], np.iinfo(np.int64).max)))
                n[i, k, j] += 1
                take = min(p.capacity, int(waiting[k]))
                waiting[k] -= take
                cum[i, k] += take
                idle[i] -= 1
                returns[i, j + p.cycle[i, k]] += 1
    return n


# ------------------------------------------------------------------------------------------ bounds


def arrival_bound(problem: BusProblem) -> int | None:
    """The first moment everyone can be carried is no earlier than the first by which everyone has arrived."""
    return problem.arrival_step


def flow_bound(problem: BusProblem) -> int | None:
    """Fleet-capacity flow bound: the first j by which each bay's buses can start the trips its riders need.

    A bay needs at least n_d = ceil(riders / capacity) trips to each destination d, and its buses must start
    them all by t_j:
    - by count: a bus first idle at e can start at most floor((j - e) / c) + 1 trips by t_j, c the bay's
      shortest cycle;
    - by busy time: a bus starts its next trip no sooner than a cycle after its last, so every trip but each
      bus's last keeps a bus busy for its whole cycle: sum_d n_d c_d less the cycles of the B longest trips (B
      buses idle by t_j, each with a last trip) is at most sum_b (j - e_b).
    None: never within the grid (so some rider is stranded).
    """
    p = problem
    best = 0
    for i in range(len(p.bays)):
        trips = np.array([math.ceil(t / p.capacity) for t in p.total[i]], dtype=np.int64)
        need = int(trips.sum())
        if need == 0:
            continue
        live = p.cycle[i][p.total[i] > 0]
        if np.any(live == 0):
            return None
        c = int(live.min())
        longest_first = np.sort(np.repeat(p.cycle[i], trips))[::-1]
        busy = int(longest_first.sum())
        starts = np.repeat(np.arange(p.n_steps), p.supply[i])
        found = None
        for j in range(p.n_steps):
            ready = starts[starts <= j]
            enough = int(((j - ready) // c + 1).sum()) >= need
            if enough and int((j - ready).sum()) >= busy - int(longest_first[: ready.size].sum()):
                found = j
                break
        if found is None:
            return None
        best = max(best, found)
    return best


def regrid_schedule(dispatch: np.ndarray, coarse: BusProblem, fine: BusProblem) -> np.ndarray:
    """A schedule of `coarse` on `fine`'s grid: every dispatch at the same moment, which must be a moment of the
    fine grid, and not after its last step. When the fine grid's step divides the coarse one's, it rounds round
    trips and returns up less and counts riders from the same moments or later, so the plan stays feasible on
    it and carries at least as many riders by each moment (`solve_buses` checks the fleet all the same)."""
    if (coarse.bays, coarse.destinations) != (fine.bays, fine.destinations):
        raise ValueError("fine: the problems' bays and destinations differ")
    if np.shape(dispatch) != coarse.riders.shape:
        raise ValueError(f"dispatch: shape {np.shape(dispatch)} is not the coarse problem's {coarse.riders.shape}")
    out = np.zeros_like(fine.riders)
    for i, k, j in zip(*np.nonzero(dispatch), strict=True):
        q = (coarse.t(int(j)) - fine.start_s) / fine.bucket_s
        if q < -EPS or abs(q - round(q)) > 1e-6:
            raise ValueError(f"dispatch: the moment {coarse.t(int(j)):g} s is not on the fine grid "
                             f"({fine.bucket_s:g} s from {fine.start_s:g} s)")  # fmt: skip
        if round(q) >= fine.n_steps:
            raise ValueError(f"dispatch: the moment {coarse.t(int(j)):g} s is after the fine grid's last step "
                             f"({fine.t(fine.n_steps - 1):g} s); build it with min_steps")  # fmt: skip
        out[i, k, round(q)] += dispatch[i, k, j]
    return out


# ------------------------------------------------------------------------------------------ the model


DET_PER_S = 0.5  # CP-SAT deterministic time per wall second, one worker (measured 0.47-0.65 on the Disney case)
WALL_CAP = 3.0  # a deterministic run stops anyway at this multiple of its time limit plus a second (then
#                it is not reproducible)
SOLVE_OVERHEAD = 0.01  # deterministic time charged per solver call for the model building around it


@dataclass
class Budget:
    """Solver time: wall seconds, or CP-SAT's deterministic time (the same work, so the same answer, every run)."""

    limit_s: float
    deterministic: bool
    det_used: float = 0.0
    t0: float = field(default_factory=time.perf_counter)

    @property
    def total(self) -> float:
        return self.limit_s * (DET_PER_S if self.deterministic else 1.0)

    def wall(self) -> float:
        return time.perf_counter() - self.t0

    def used(self) -> float:
        return self.det_used if self.deterministic else self.wall()

    @property
    def wall_cap_s(self) -> float:
        return WALL_CAP * self.limit_s + 1.0 if self.deterministic else self.limit_s

    def left(self, until: float | None = None) -> float:
        """Units left before `until` (a mark) or the end; none once the wall cap is reached."""
        if self.wall() >= self.wall_cap_s:
            return 0.0
        end = self.total if until is None else min(until, self.total)
        return max(0.0, end - self.used())

    def mark(self, share: float) -> float:
        """The point `share` of the way from now to the end: where a phase must stop."""
        return self.used() + share * self.left()


class _Solver:
    """One linear integer model for CP-SAT, a MIP solver or GLOP (the LP relaxation); variables stay here."""

    def __init__(self, backend: Backend):
        self.backend = backend
        if backend == "CP_SAT":
            self.cp = cp_model.CpModel()
            self.cp_solver: cp_model.CpSolver | None = None
        else:
            self.mip = pywraplp.Solver.CreateSolver(backend)
            if self.mip is None:
                raise ValueError(f"OR-Tools has no {backend!r} solver in this build")
        self.status = "UNKNOWN"

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        if self.backend == "CP_SAT":
            return self.cp.new_int_var(int(lb), int(ub), name)
        if self.backend == "GLOP":  # the LP relaxation
            return self.mip.NumVar(int(lb), int(ub), name)
        return self.mip.IntVar(int(lb), int(ub), name)

    def add(self, constraint: Any) -> None:
        if self.backend == "CP_SAT":
            self.cp.add(constraint)
        else:
            self.mip.Add(constraint)

    def minimise(self, terms: list[tuple[int, Any]], offset: float = 0.0) -> None:
        """Minimise sum(c * v) + offset (the offset inside the solver, so that its relative gap is the true one)."""
        if self.backend == "CP_SAT":
            self.cp.minimize(sum(c * v for c, v in terms if c) + round(offset))
        else:
            obj = self.mip.Objective()
            obj.Clear()
            for c, v in terms:
                if c:
                    obj.SetCoefficient(v, obj.GetCoefficient(v) + c)
            obj.SetOffset(float(offset))
            obj.SetMinimization()

    def hint(self, values: dict[Any, int]) -> None:
        if self.backend == "CP_SAT":
            self.cp.clear_hints()
            for v, x in values.items():
                self.cp.add_hint(v, int(x))
        elif self.backend in ("SCIP", "CBC"):  # HiGHS through pywraplp crashes on hints (OR-Tools 9.15)
            self.mip.SetHint(list(values), [float(x) for x in values.values()])

    def set_domain(self, v: Any, lo: int, hi: int) -> None:
        """Narrow or restore a CP-SAT variable's domain in place (for the neighbourhoods of the search)."""
        domain = self.cp.proto.variables[v.index].domain
        domain.clear()
        domain.extend([int(lo), int(hi)])

    def solve(self, amount: float, budget: Budget, params: SolveParams, *, gap: float) -> str:
        """Solve with at most `amount` of the budget's units (fewer if the budget has fewer left)."""
        amount = max(1e-3, min(amount, budget.left()))
        if self.backend == "CP_SAT":
            solver = self.cp_solver = cp_model.CpSolver()
            solver.parameters.random_seed = params.seed
            solver.parameters.relative_gap_limit = gap
            if budget.deterministic:
                solver.parameters.num_workers = 1
                solver.parameters.max_deterministic_time = amount
                solver.parameters.max_time_in_seconds = max(0.01, budget.wall_cap_s - budget.wall())
            else:
                solver.parameters.num_workers = max(1, params.workers)
                solver.parameters.max_time_in_seconds = amount
            code = solver.solve(self.cp)
            budget.det_used += solver.deterministic_time + SOLVE_OVERHEAD
            self.status = {cp_model.OPTIMAL: "OPTIMAL", cp_model.FEASIBLE: "FEASIBLE",
                           cp_model.INFEASIBLE: "INFEASIBLE", cp_model.MODEL_INVALID: "MODEL_INVALID"}.get(
                code, "UNKNOWN")  # fmt: skip
            return self.status
        started = time.perf_counter()
        self.mip.SetTimeLimit(max(1, int(1000 * amount / (DET_PER_S if budget.deterministic else 1.0))))
        if self.backend != "GLOP":
            self.mip.SetNumThreads(max(1, params.workers))
        mp = pywraplp.MPSolverParameters()
        if self.backend != "GLOP":
            mp.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, max(gap, 1e-9))
        code = self.mip.Solve(mp)
        if budget.deterministic and self.backend != "GLOP":  # MIP solvers have no deterministic clock here
            budget.det_used += DET_PER_S * (time.perf_counter() - started)
        self.status = {pywraplp.Solver.OPTIMAL: "OPTIMAL", pywraplp.Solver.FEASIBLE: "FEASIBLE",
                       pywraplp.Solver.INFEASIBLE: "INFEASIBLE"}.get(code, "UNKNOWN")  # fmt: skip
        return self.status

    def value(self, v: Any) -> int:
        if self.backend == "CP_SAT":
            assert self.cp_solver is not None
            return int(self.cp_solver.value(v))
        return round(v.solution_value())

    def objective(self) -> tuple[float, float]:
        """(objective, best bound) of the last solve."""
        if self.backend == "CP_SAT":
            assert self.cp_solver is not None
            return self.cp_solver.objective_value, self.cp_solver.best_objective_bound
        obj = self.mip.Objective()
        value = obj.Value()
        return value, (value if self.backend == "GLOP" else obj.BestBound())


Pair = tuple[int, int]  # (bay index, destination index)


def add_riders_present(m: _Solver, pairs: list[Pair], problem: BusProblem) -> dict:
    """Nobody is carried before reaching the bay: C[b, d, j] lies in [0, A[b, d, j]] (the variables' bounds)."""
    return {(i, k, j): m.int_var(0, int(problem.riders[i, k, j]), f"C_{i}_{k}_{j}")
            for i, k in pairs for j in range(problem.n_steps)}  # fmt: skip


def add_carry_order(m: _Solver, c: dict, pairs: list[Pair], problem: BusProblem) -> None:
    """The carried count never falls: C[b, d, j] >= C[b, d, j-1]."""
    for i, k in pairs:
        for j in range(1, problem.n_steps):
            m.add(c[(i, k, j)] >= c[(i, k, j - 1)])


def add_capacity(m: _Solver, n: dict, c: dict, pairs: list[Pair], problem: BusProblem) -> None:
    """A dispatch carries at most capacity riders per bus: C[j] - C[j-1] <= capacity * n[j]."""
    for i, k in pairs:
        for j in range(problem.n_steps):
            before = c[(i, k, j - 1)] if j else 0
            m.add(c[(i, k, j)] - before <= problem.capacity * n[(i, k, j)])


def add_fleet(m: _Solver, n: dict, idle: dict, pairs: list[Pair], problem: BusProblem,
              extra: dict | None = None) -> None:  # fmt: skip
    """Buses idle at a bay after t_j = idle before + arrived + returned - dispatched, never negative."""
    p = problem
    for i in sorted({i for i, _ in pairs}):
        dests = [k for ii, k in pairs if ii == i]
        for j in range(p.n_steps):
            back = [n[(i, k, j - int(p.cycle[i, k]))] for k in dests if j - p.cycle[i, k] >= 0]
            came = int(p.supply[i, j])
            new = [extra[i]] if extra is not None and i in extra and j == p.earliest[i] else []
            before = [idle[(i, j - 1)]] if j else []
            sent = [n[(i, k, j)] for k in dests]
            m.add(idle[(i, j)] == sum(before) + came + sum(new) + sum(back) - sum(sent))


def add_clear_by(m: _Solver, c: dict, pairs: list[Pair], problem: BusProblem) -> None:
    """Everyone is carried by the last dispatch moment of the model: C[b, d, G-1] = riders in all."""
    for i, k in pairs:
        m.add(c[(i, k, problem.n_steps - 1)] == int(problem.total[i, k]))


def _trips_for(problem: BusProblem, i: int) -> int:
    """Trips that carry every rider of bay i, one destination per trip."""
    return int(sum(math.ceil(int(t) / problem.capacity) for t in problem.total[i]))


class DispatchModel:
    """The time-indexed dispatch model in one solver; its variables never leave this module.

    `clear_by` (a step index): the model stops there and everyone must be carried by then. `extra_buses`
    adds the diagnosis's spare buses. Only pairs (bay, destination) with riders, a road between them and
    buses at the bay get variables; riders of any other pair are stranded whatever the plan.
    """

    def __init__(self, problem: BusProblem, *, backend: Backend = "CP_SAT", clear_by: int | None = None,
                 extra_buses: bool = False):  # fmt: skip
        self.full = problem
        p = self.problem = problem if clear_by is None else problem.truncated(clear_by + 1)
        m = self.m = _Solver(backend)
        g = p.n_steps
        self.extra: dict[int, Any] | None = None
        live = [(i, k) for i in range(len(p.bays)) for k in range(len(p.destinations))
                if p.total[i, k] > 0 and p.cycle[i, k] > 0]  # fmt: skip
        if extra_buses:
            # Enough spare buses at a bay to carry all its riders in one trip each.
            self.extra = {i: m.int_var(0, _trips_for(p, i), f"y_{i}")
                          for i in sorted({i for i, _ in live}) if p.earliest[i] < g}  # fmt: skip
        cap = {i: int(p.buses_at[i]) + (_trips_for(p, i) if self.extra and i in self.extra else 0)
               for i in range(len(p.bays))}  # fmt: skip
        self.pairs = [(i, k) for i, k in live if cap[i] > 0]
        self.n = {}
        for i, k in self.pairs:
            for j in range(g):
                ub = min(cap[i], math.ceil(int(p.riders[i, k, j]) / p.capacity))
                self.n[(i, k, j)] = m.int_var(0, ub, f"n_{i}_{k}_{j}")
        self.idle = {(i, j): m.int_var(0, cap[i], f"idle_{i}_{j}")
                     for i in sorted({i for i, _ in self.pairs}) for j in range(g)}  # fmt: skip

        self.c = add_riders_present(m, self.pairs, p)  # Nobody is carried before reaching the bay.
        add_carry_order(m, self.c, self.pairs, p)  # The carried count never falls.
        add_capacity(m, self.n, self.c, self.pairs, p)  # A dispatch carries at most capacity riders per bus.
        add_fleet(m, self.n, self.idle, self.pairs, p, self.extra)  # Idle = came + back - sent >= 0.
        if clear_by is not None:
            add_clear_by(m, self.c, self.pairs, p)  # Everyone is carried by the model's last moment.

    def stranded_terms(self) -> tuple[list[tuple[int, Any]], float]:
        """Riders not carried by the model's last moment, as (terms, constant)."""
        g = self.problem.n_steps
        return [(-1, self.c[(i, k, g - 1)]) for i, k in self.pairs], float(self.problem.riders_total)

    def wait_km_terms(self, options: BusParams) -> tuple[list[tuple[int, Any]], float]:
        """Weighted rider-minutes waited and bus-km, in thousandths, as (terms, constant)."""
        p = self.problem
        per_bucket = round(OBJECTIVE_SCALE * options.wait_weight * p.bucket_s / 60)
        terms = [(-per_bucket, v) for v in self.c.values()]
        terms += [(round(OBJECTIVE_SCALE * options.km_weight * float(p.trip_km[i, k])), v)
                  for (i, k, _), v in self.n.items()]  # fmt: skip
        return terms, float(per_bucket * int(p.riders.sum()))

    def keep_at_most(self, terms: list[tuple[int, Any]], constant: float, value: float) -> None:
        """An objective found in an earlier phase stays at or below its value."""
        self.m.add(sum(c * v for c, v in terms if c) <= math.floor(value - constant + EPS))

    def schedule(self) -> np.ndarray:
        """The solution's dispatches on the full problem's grid."""
        out = np.zeros_like(self.full.riders)
        for (i, k, j), v in self.n.items():
            out[i, k, j] = self.m.value(v)
        return out

    def hint_schedule(self, dispatch: np.ndarray) -> None:
        """Hint a schedule (cut to the model's grid): its dispatches, carried riders and idle buses."""
        p = self.problem
        cut = dispatch[:, :, : p.n_steps]
        cum = np.cumsum(score_schedule(p, cut).carried, axis=2)
        values: dict[Any, int] = {}
        for (i, k, j), v in self.n.items():
            values[v] = int(cut[i, k, j])
            values[self.c[(i, k, j)]] = int(cum[i, k, j])
        idle = p.supply.cumsum(axis=1) - _busy(p, cut)
        for (i, j), v in self.idle.items():
            values[v] = int(idle[i, j])
        self.m.hint(values)


def _busy(problem: BusProblem, dispatch: np.ndarray) -> np.ndarray:
    """[bay, j]: buses of each bay away on trips just after the dispatches at t_j."""
    p = problem
    out = np.zeros((len(p.bays), p.n_steps), dtype=np.int64)
    for i, k, j in zip(*np.nonzero(dispatch), strict=True):
        out[i, j : j + int(p.cycle[i, k])] += int(dispatch[i, k, j])
    return out


# ------------------------------------------------------------------------------------------ the search


@dataclass(frozen=True)
class FleetNeed:
    """What the diagnosis found: the fewest buses that move everyone by the target, within proven limits."""

    at_least: int | None  # proven: fewer buses cannot (None: not even unlimited spare buses can)
    enough: int | None  # a fleet of this size does it in the model (None: not found in time)
    status: str
    dispatch: np.ndarray | None = None  # the plan that does it with no spare bus, if one was found


def min_fleet(problem: BusProblem, *, params: SolveParams, options: BusParams = BusParams(),
              budget: Budget | None = None, fleet_fails: bool = False) -> FleetNeed:  # fmt: skip
    """The fewest buses to move everyone by the target: the fleet plus spares ready at the bays early.

    Spares are ready at each bay when the first bus of the fleet could reach it and may go to any bay, so no
    real spare does better: `at_least` is a proven lower bound (`fleet_fails`: the fleet alone is proven
    short, so at least one more).
    """
    p = problem
    budget = budget or Budget(params.time_limit_s, deterministic=options.deterministic)
    floor = 1 if fleet_fails else 0
    # Everyone must have reached a bay by the target's last dispatch moment.
    if p.target_step < 0 or p.arrival_step is None or p.arrival_step > p.target_step:
        return FleetNeed(None, None, "INFEASIBLE")
    model = DispatchModel(p, backend=options.backend, clear_by=p.target_step, extra_buses=True)
    assert model.extra is not None
    model.m.minimise([(1, v) for v in model.extra.values()])  # As few spare buses as possible.
    status = model.m.solve(budget.left(), budget, params, gap=0.0)
    if status == "INFEASIBLE":
        return FleetNeed(None, None, status)
    if status in ("OPTIMAL", "FEASIBLE"):
        value, bound = model.m.objective()
        plan = model.schedule() if round(value) == 0 else None
        return FleetNeed(p.fleet + max(floor, math.ceil(bound - EPS)), p.fleet + round(value), status, plan)
    return FleetNeed(p.fleet + floor, None, status)


@dataclass(frozen=True)
class Probe:
    """One feasibility probe of the search: can everyone be carried by step `step`?"""

    step: int
    status: str
    wall_s: float


@dataclass(frozen=True)
class BusOutcome:
    """What `solve_buses` found: the schedule, its score, both phases' values and bounds, and the diagnosis."""

    problem: BusProblem
    dispatch: np.ndarray  # [bay, dest, j] buses sent
    score: BusScore
    status: str
    last_value: float  # phase 1, in buckets: stranded * (G + 1) + first all-clear index (G if none)
    last_bound: float
    last_bound_source: str
    wait_value: float  # phase 2: weighted rider-minutes waited + weighted bus-km
    wait_bound: float | None
    phase_status: tuple[str, str]
    probes: tuple[Probe, ...] = ()
    need: FleetNeed | None = None
    missed: bool = False  # the target is not met by this schedule
    proven_missed: bool = False  # and no schedule meets it
    phase1_s: float = 0.0  # wall seconds until phase 1 ended
    phase2_s: float = 0.0
    neighbourhoods: int = 0  # phase 2's large-neighbourhood steps

    def minutes(self, buckets: float) -> float:
        """Phase 1 in minutes after the start: the last departure (plus G + 1 buckets a stranded rider)."""
        p = self.problem
        return (p.start_s + p.load_s + buckets * p.bucket_s) / 60


def _phase1_value(p: BusProblem, score: BusScore) -> float:
    g = p.n_steps
    return float(score.stranded * (g + 1) + (score.last_step if score.last_step is not None else g))


def own_bound(problem: BusProblem) -> tuple[float, str]:
    """A proven lower bound on phase 1 computed here, and what proves it."""
    p = problem
    g = p.n_steps
    late = int((p.total - p.riders[:, :, -1]).sum()) if g else p.riders_total  # reach a bay after the grid
    no_bus = (p.cycle == 0) | (p.buses_at[:, None] == 0)  # no road to the destination, or no bus at the bay
    lost = int(np.where(no_bus, p.riders[:, :, -1], 0).sum()) if g else 0
    if late or lost:
        why = "riders reaching the bays after the horizon" if late else "riders at a bay no bus serves"
        return float((late + lost) * (g + 1) + g), why
    candidates = [(0.0, "trivial")]
    arrive, flow = arrival_bound(p), flow_bound(p)
    if arrive is not None:
        candidates.append((float(arrive), "the last rider's arrival plus loading"))
    if flow is not None:
        candidates.append((float(flow), "the fleet-capacity flow bound"))
    elif g:  # the buses cannot start every trip needed within the grid: a rider at least is stranded
        candidates.append((float(g + 1 + g), "the fleet-capacity flow bound (a rider at least is stranded)"))
    return max(candidates, key=lambda c: c[0])


@dataclass
class _Phase1:
    best: np.ndarray
    value: float
    bound: float
    source: str
    status: str
    probes: list[Probe] = field(default_factory=list)


def _fewest_stranded(p: BusProblem, one: _Phase1, *, params: SolveParams, options: BusParams, budget: Budget,
                     until: float) -> _Phase1:  # fmt: skip
    """Phase 1 when someone may be stranded: the most riders carried within the grid."""
    g = p.n_steps
    model = DispatchModel(p, backend=options.backend)
    model.hint_schedule(one.best)
    terms, const = model.stranded_terms()
    model.m.minimise(terms, const)  # As few riders stranded as possible.
    status = model.m.solve(budget.left(until), budget, params, gap=0.0)
    if status in ("OPTIMAL", "FEASIBLE"):
        best = model.schedule()
        value = _phase1_value(p, score_schedule(p, best))
        if value < one.value:
            one.best, one.value = best, value
        lowest = math.ceil(model.m.objective()[1] - EPS)
        if lowest > 0 and lowest * (g + 1) + g > one.bound:
            one.bound, one.source = float(lowest * (g + 1) + g), f"{_solver_name(options)}'s bound on stranded riders"
    one.status = status
    return one


def _earliest_clear(p: BusProblem, one: _Phase1, *, params: SolveParams, options: BusParams, budget: Budget,
                    until: float) -> _Phase1:  # fmt: skip
    """Phase 1 when everyone can be carried: can they all be carried by step t?

    First the LP relaxation, by bisection: where even it cannot clear by t, no plan can (clearing by t
    would clear by any later step too), which raises the bound. Then CP-SAT from there up, with half the
    time left each: a plan found lowers the best step to the plan's; a proof of infeasibility raises the
    bound; a probe out of time is passed over.
    """
    lo, hi = math.ceil(one.bound - EPS), int(one.value)  # no plan clears before lo; the best clears at hi
    started = time.perf_counter()
    a, b = lo, hi  # the LP is infeasible before a (proven) and feasible at b (hi itself is feasible)
    while a < b:
        mid = (a + b) // 2
        relaxed = DispatchModel(p, backend="GLOP", clear_by=mid)
        if relaxed.m.solve(budget.left(), budget, params, gap=0.0) == "INFEASIBLE":
            a = mid + 1
        else:
            b = mid
    if a > lo:
        one.probes.append(Probe(a - 1, "LP_INFEASIBLE", time.perf_counter() - started))
        lo = a
        one.bound, one.source = float(lo), f"the LP relaxation cannot clear by step {lo - 1}"
    # CP-SAT probes by bisection between the highest step not ruled out and the best plan's step.
    # When the bisection is done and time is left, the step just below the best is tried again (new seeds).
    soft = lo  # below this, no plan (proven) or none found in time
    attempts: dict[int, int] = {}
    while lo < hi and budget.left(until) > 0:
        trial = (soft + hi) // 2 if soft < hi else hi - 1
        started = time.perf_counter()
        model = DispatchModel(p, backend=options.backend, clear_by=trial)
        model.hint_schedule(one.best)
        probes_left = max(1, math.ceil(math.log2(hi - soft + 1))) if soft < hi else 1
        status, attempts[trial] = _probe(model, budget.left(until) / probes_left, budget, params,
                                         first=attempts.get(trial, 0))  # fmt: skip
        one.probes.append(Probe(trial, status, time.perf_counter() - started))
        if status in ("OPTIMAL", "FEASIBLE"):
            best = model.schedule()
            value = _phase1_value(p, score_schedule(p, best))
            if value < one.value:
                one.best, one.value = best, value
            hi = min(hi, int(value))
        elif status == "INFEASIBLE":
            lo = soft = trial + 1
            one.bound, one.source = float(lo), f"{_solver_name(options)} proved no plan clears by step {trial}"
        else:
            soft = trial + 1
    one.status = "OPTIMAL" if lo >= hi else "FEASIBLE"
    return one


def _probe(model: DispatchModel, amount: float, budget: Budget, params: SolveParams, *,
           first: int = 0) -> tuple[str, int]:  # fmt: skip
    """Can the model be satisfied? Restarts with the next seed and twice the time, in a fixed sequence.

    CP-SAT's time to a first plan here is heavy-tailed (0.3 s or over 4 s by seed on the Disney case), so
    short runs with new seeds find plans sooner than one long run. `first`: the attempts made before (their
    seeds are not tried again). Returns the status and the attempts made in all.
    """
    if model.m.backend != "CP_SAT":
        return model.m.solve(amount, budget, params, gap=0.0), first + 1
    end = budget.used() + amount
    status, attempt = "UNKNOWN", first
    step = 0.5 * (DET_PER_S if budget.deterministic else 1.0) * 2 ** min(first, 4)
    while status not in ("OPTIMAL", "FEASIBLE", "INFEASIBLE") and budget.left(end) > 1e-3:
        status = model.m.solve(min(step, budget.left(end)), budget, replace(params, seed=params.seed + attempt),
                               gap=0.0)  # fmt: skip
        attempt, step = attempt + 1, 2 * step
    return status, attempt


def _solver_name(options: BusParams) -> str:
    return options.backend.replace("_", "-")


@dataclass
class _Phase2:
    best: np.ndarray
    value: float  # weighted rider-minutes + weighted bus-km
    bound: float | None
    status: str
    neighbourhoods: int = 0


def _improve(p: BusProblem, start: np.ndarray, *, last_step: int | None, stranded: int, params: SolveParams,
             options: BusParams, budget: Budget) -> _Phase2:  # fmt: skip
    """Phase 2: least weighted waiting and km keeping phase 1's value, then a bound.

    The LP relaxation gives a first bound; CP-SAT on the whole model (a quarter of the time) a better bound
    and maybe a better plan; then large neighbourhoods: CP-SAT re-plans one window of time (a third of the
    grid), or a few destinations over the whole grid, with every other dispatch fixed, until time is up.
    """

    def build(backend: Backend) -> DispatchModel:
        if last_step is not None:
            model = DispatchModel(p, backend=backend, clear_by=last_step)
        else:
            model = DispatchModel(p, backend=backend)
            terms, const = model.stranded_terms()
            model.keep_at_most(terms, const, stranded)  # No more riders stranded than in phase 1.
        model.m.minimise(*model.wait_km_terms(options))  # Weighted rider-minutes waited and bus-km.
        return model

    out = _Phase2(start, _wait_km(score_schedule(p, start), options), None, "UNKNOWN")

    def offer(model: DispatchModel) -> None:
        if model.m.status in ("OPTIMAL", "FEASIBLE"):
            cand = model.schedule()
            value = _wait_km(score_schedule(p, cand), options)
            if value < out.value - 1e-9:
                out.best, out.value = cand, value

    relaxed = build("GLOP")
    if relaxed.m.solve(budget.left(), budget, params, gap=0.0) == "OPTIMAL":
        out.bound = relaxed.m.objective()[1] / OBJECTIVE_SCALE
    model = build(options.backend)
    model.hint_schedule(out.best)
    status = model.m.solve(0.25 * budget.left(), budget, params, gap=params.relative_gap)
    offer(model)
    if status in ("OPTIMAL", "FEASIBLE"):
        bound = model.m.objective()[1] / OBJECTIVE_SCALE
        out.bound = bound if out.bound is None else max(out.bound, bound)
    out.status = status
    if options.backend != "CP_SAT" or _within(out, params) or budget.left() <= 0:
        return out

    # Large neighbourhoods in a fixed order, their width adapted to how the last one went (so that a
    # deterministic budget gives the same plan every run): wider after a window solved to optimality,
    # narrower after one that ran out of time.
    g = model.problem.n_steps
    width = max(4, math.ceil(g / 3))
    dests = sorted({k for _, k in model.pairs})
    domains = {key: (0, int(list(model.m.cp.proto.variables[v.index].domain)[-1])) for key, v in model.n.items()}
    cap = 2.0 * (DET_PER_S if budget.deterministic else 1.0)
    k, j0, r = 0, 0, 0
    while budget.left() > 0.01 and not _within(out, params):
        k += 1
        if len(dests) > 3 and k % 4 == 0:  # every fourth: three destinations over the whole grid
            chosen, steps = {dests[(r + q) % len(dests)] for q in range(3)}, range(g)
            r += 2
        else:  # a window of time, all destinations
            chosen, steps = set(dests), range(j0, j0 + width)
            j0 = j0 + max(1, width // 2) if j0 + width < g else 0
        for (i, d, j), v in model.n.items():
            free = d in chosen and j in steps
            lo, hi = domains[(i, d, j)] if free else (int(out.best[i, d, j]),) * 2
            model.m.set_domain(v, lo, hi)
        model.hint_schedule(out.best)
        status = model.m.solve(cap, budget, params, gap=0.0)
        offer(model)
        width = min(g, math.ceil(1.25 * width)) if status == "OPTIMAL" else max(4, math.floor(0.7 * width))
    out.neighbourhoods = k
    if out.status == "OPTIMAL" and out.bound is not None and out.value > out.bound + 1e-6:
        out.status = "FEASIBLE"
    return out


def _within(two: _Phase2, params: SolveParams) -> bool:
    gap = relative_gap(two.value, two.bound)
    return gap is not None and gap <= params.relative_gap + EPS


def solve_buses(problem: BusProblem, *, params: SolveParams = DEFAULT_PARAMS, options: BusParams = BusParams(),
                starts: Sequence[np.ndarray] = ()) -> BusOutcome:  # fmt: skip
    """Phase 1 (stranded, then the last departure), the diagnosis if the target is missed, then phase 2.

    The search starts from the best of the two greedy schedules and `starts` (schedules on this problem's grid,
    e.g. a coarser grid's plan through `regrid_schedule`); a start that needs more buses than there are is
    ignored."""
    p = problem
    budget = Budget(params.time_limit_s, deterministic=options.deterministic)
    for n, given in enumerate(starts):
        if np.shape(given) != p.riders.shape:
            raise ValueError(f"starts[{n}]: shape {np.shape(given)} is not the problem's {p.riders.shape}")
    scored = [(g, score_schedule(p, g)) for g in (greedy_schedule(p), greedy_schedule(p, "shortest_cycle"))]
    scored += [(g, sc) for g in starts if (sc := score_schedule(p, np.asarray(g, dtype=np.int64))).fleet_shortfall == 0]
    greedy, gscore = min(scored, key=lambda pair: _phase1_value(p, pair[1]))  # the first plan: the best start
    bound, source = own_bound(p)
    one = _Phase1(greedy, _phase1_value(p, gscore), bound, source, "FEASIBLE")
    nothing = p.riders_total == 0 or p.n_steps == 0
    if nothing:
        one.bound, one.source = one.value, "nothing to decide"

    # Phase 1: fewest stranded, then the earliest moment everyone is carried.
    until = budget.mark(min(1.0, max(0.05, options.first_phase_share)))
    if one.bound < one.value - EPS:
        if gscore.stranded or one.bound > p.n_steps:
            one = _fewest_stranded(p, one, params=params, options=options, budget=budget, until=until)
        if score_schedule(p, one.best).stranded == 0 and one.bound < one.value - EPS:
            one = _earliest_clear(p, one, params=params, options=options, budget=budget, until=until)
    if one.bound >= one.value - EPS:
        one.status = "OPTIMAL"
        one.source += " (met: optimal)" if "proved" not in one.source and "cannot" not in one.source else ""
    phase1_s = budget.wall()
    dispatch, score = one.best, score_schedule(p, one.best)

    # The target: met, missed by this plan, or missed by every plan (then: how many buses it would take).
    missed = score.stranded > 0 or (score.last_step is not None and score.last_step > p.target_step)
    proven_missed = missed and one.bound > p.target_step + EPS
    need = None
    if missed and options.diagnose:
        sub = Budget(0.5 * budget.left() / (DET_PER_S if budget.deterministic else 1.0) + 0.05,
                     deterministic=budget.deterministic)  # fmt: skip
        need = min_fleet(p, params=params, options=options, budget=sub, fleet_fails=proven_missed)
        budget.det_used += sub.det_used
        if need.dispatch is not None:  # the fleet meets the target after all: a better phase 1 plan
            value = _phase1_value(p, score_schedule(p, need.dispatch))
            if value < one.value:
                one.best, one.value = need.dispatch, value
                one.status = "OPTIMAL" if one.bound >= value - EPS else "FEASIBLE"
                dispatch, score = one.best, score_schedule(p, one.best)
                missed = score.stranded > 0 or (score.last_step is not None and score.last_step > p.target_step)

    # Phase 2: phase 1's value kept (the same last step, or no more stranded); weighted waiting and bus-km.
    two = _Phase2(dispatch, _wait_km(score, options), None, "UNKNOWN")
    if not nothing and options.improve and budget.left() > 0:
        two = _improve(p, dispatch, last_step=score.last_step if score.stranded == 0 else None,
                       stranded=score.stranded, params=params, options=options, budget=budget)  # fmt: skip
        dispatch, score = two.best, score_schedule(p, two.best)
    elif nothing:
        two.bound, two.status = two.value, "OPTIMAL"
    gap1 = relative_gap(*(p.start_s + p.load_s + p.bucket_s * v for v in (one.value, one.bound)))
    within = gap1 is not None and gap1 <= params.relative_gap + EPS and _within(two, params)
    status = "INFEASIBLE" if proven_missed else "OPTIMAL" if within else "FEASIBLE"
    return BusOutcome(
        problem=p, dispatch=dispatch, score=score, status=status, last_value=one.value, last_bound=one.bound,
        last_bound_source=one.source, wait_value=two.value, wait_bound=two.bound,
        phase_status=(one.status, two.status), probes=tuple(one.probes), need=need, missed=missed,
        proven_missed=proven_missed, phase1_s=phase1_s, phase2_s=budget.wall() - phase1_s,
        neighbourhoods=two.neighbourhoods,
    )  # fmt: skip


def _wait_km(score: BusScore, options: BusParams) -> float:
    return options.wait_weight * score.wait_rider_s / 60 + options.km_weight * score.bus_km


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


# ------------------------------------------------------------------------------------------ the plan


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


def plan_buses(
    scenario: MassTestingScenario,
    forecast: BayForecast,
    geometry: MassTestingGeometry | None = None,
    *,
    params: SolveParams = DEFAULT_PARAMS,
    options: BusParams = BusParams(),
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
    geo = geometry if geometry is not None else _geometry(scenario)

    def problem_on(fc: BayForecast, min_steps: int = 0) -> BusProblem:
        return bus_problem(scenario, fc, geo, placement=options.placement, boarding=options.boarding,
                           target_s=target_s, state=state, min_steps=min_steps)  # fmt: skip

    step = forecast.bucket_s
    times = coarse_s / step if coarse_s is not None and math.isfinite(coarse_s) and coarse_s > 0 else 0.0
    if coarse_s is not None and not (round(times) >= 1 and abs(times - round(times)) < 1e-9):
        raise ValueError(f"coarse_s: {coarse_s!r} must be a positive multiple of the forecast's bucket ({step:g} s)")
    coarse_lines: tuple[str, ...] = ()
    if coarse_s is None or round(times) == 1:
        problem = problem_on(forecast)
        out = solve_buses(problem, params=params, options=options)
    else:
        share = min(0.95, max(0.05, options.coarse_share))
        rough = problem_on(forecast.after(forecast.start_s, coarse_s))
        first = solve_buses(rough, params=replace(params, time_limit_s=share * params.time_limit_s),
                            options=replace(options, diagnose=False, improve=False, first_phase_share=1.0))  # fmt: skip
        used = np.flatnonzero(first.dispatch.sum(axis=(0, 1)))
        reach = 0 if used.size == 0 else round((rough.t(int(used[-1])) - forecast.start_s) / step) + 1
        problem = problem_on(forecast, min_steps=reach)
        out = solve_buses(problem, params=replace(params, time_limit_s=(1 - share) * params.time_limit_s),
                          options=options, starts=[regrid_schedule(first.dispatch, rough, problem)])  # fmt: skip
        gone = first.score.last_departure_s
        was = "" if gone is None else f" (last rider departs at {scenario.clock.label(gone)})"
        coarse_lines = (f"started from a plan on the {coarse_s / 60:g}-min grid{was}",)
    wall = time.perf_counter() - started
    objective, bound = out.minutes(out.last_value), out.minutes(out.last_bound)
    details = outcome_details(out, options)
    stats = SolverStats(status=out.status, objective=objective, bound=bound, gap=relative_gap(objective, bound),
                        wall_s=round(wall, 6))  # fmt: skip
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
        rationale=(*rationale(out, scenario.clock.label), *coarse_lines),
        diagnosis=diagnosis(out, scenario.clock.label),
        details=details,
    )


def outcome_details(out: BusOutcome, options: BusParams) -> dict[str, float]:
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


__all__ = [
    "BayForecast",
    "BusOutcome",
    "BusParams",
    "BusProblem",
    "BusScore",
    "BusState",
    "FleetNeed",
    "bus_placement",
    "bus_problem",
    "diagnosis",
    "dispatch_actions",
    "flow_bound",
    "forecast_bay_demand",
    "greedy_schedule",
    "min_fleet",
    "outcome_details",
    "own_bound",
    "plan_buses",
    "rationale",
    "regrid_schedule",
    "score_schedule",
    "solve_buses",
]
