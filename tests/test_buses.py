"""The bus dispatch model: capacity, fleet, conservation, brute force on tiny cases, FCFS, diagnosis, determinism.

Tiny worlds are built by hand: one bay (which is also the depot), two destinations whose round trips are whole
5-min buckets, riders reaching the bay at bucket ends. On such worlds the model's grid loses nothing, so its
optimum must equal the best of every dispatch schedule replayed by `replay`, an event-based evaluator written
here from the simulation's rules (not the model's): an order takes the first buses idle at or after its time,
boards up to capacity of the riders waiting (and those arriving while it loads), and is dropped if nobody waits.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from optimizer.buses import (
    BayForecast,
    BusOptions,
    bus_placement,
    bus_problem,
    flow_bound,
    forecast_bay_demand,
    greedy_schedule,
    plan_buses,
    regrid_schedule,
    score_schedule,
    solve_buses,
)
from optimizer.result import SolveParams
from scenarios.mass_testing import MassTestingGeometry, bus_start_bays, check_plan
from scenarios.plan import DispatchBus
from scenarios.schema import BusDepot, BusFleet, MassTestingScenario

STEP = 300.0
FAST = SolveParams(time_limit_s=5.0, workers=2, relative_gap=0.0)
EXACT = BusOptions(deterministic=True)
FCFS_FILL_S = 300.0


# ------------------------------------------------------------------------------------------ tiny worlds


def tiny_world(*, buses: int = 2, capacity: int = 4, drive_s: dict[str, float] | None = None,
               horizon_s: float = 60 + 4 * STEP, ready_s: float = 0.0, metro: bool = False,
               bus_share: float = 1.0) -> tuple[MassTestingScenario, MassTestingGeometry]:  # fmt: skip
    """One bay that is also the depot; destinations `drive_s` seconds away (default: 1- and 2-bucket cycles)."""
    drive_s = drive_s or {"dest_a": 90.0, "dest_b": 240.0}  # 60 + 90 + 60 + 90 = 300 s; 60 + 240 + 60 + 240 = 600 s
    g = nx.DiGraph()
    for node, kind in [("bay_0", "bus_bay"), ("zone", "zone"), ("site", "test_site"), ("centre", "district_centre"),
                       ("station", "metro"), *((d, "destination") for d in drive_s)]:  # fmt: skip
        g.add_node(node, kind=kind, lat=31.14, lon=121.66)

    def edge(u: str, v: str, mode: str, length: float, speed: float) -> None:
        for a, b in ((u, v), (v, u)):
            g.add_edge(a, b, mode=mode, length_m=length, free_speed_mps=speed, width_m=5.0, lanes=1)

    for d, s in drive_s.items():
        edge("bay_0", d, "road", 10.0 * s, 10.0)  # 10 m/s: s seconds, 10 s metres
    edge("zone", "site", "walk", 60.0, 1.34)
    edge("site", "bay_0", "walk", 180.0, 1.34)  # 150 s at the scenario's 1.2 m/s
    edge("site", "station", "walk", 60.0, 1.34)
    edge("station", "bay_0", "walk", 120.0, 1.34)
    edge("centre", "site", "road", 1000.0, 10.0)
    shares = {d: 1 / len(drive_s) for d in drive_s}
    doc = {
        "name": "tiny_buses", "kind": "mass_testing", "title": "tiny bus world",
        "clock": {"start": "2021-10-31T20:15:00", "horizon_s": horizon_s}, "graph": "tiny", "seed": 1,
        "population": {"zones": [{"node": "zone", "visitors": 10}],
                       "home_modes": {"bus": bus_share, "metro": 1 - bus_share, "walk": 0.0}},
        "testing": {"swab_time": {"dist": "deterministic", "value_s": 30}, "walk_speed_mps": 1.2,
                    "sites": [{"node": "site", "booths": 1}]},
        "resources": {
            "testers": {"pool": {"centre": "centre", "count": 1}},
            "buses": {"count": buses, "capacity": capacity, "load_time_s": 60, "unload_time_s": 60,
                      "depots": [{"node": "bay_0", "count": buses, "ready_at_s": ready_s}],
                      "bays": ["bay_0"], "destinations": shares},
        },
    }  # fmt: skip
    if metro or bus_share < 1:
        doc["metro"] = {"station": "station", "closes_at_s": 0 if metro else None}
    scenario = MassTestingScenario.model_validate(doc)
    return scenario, MassTestingGeometry(scenario, g)


def forecast(rows: dict[str, list[float]]) -> BayForecast:
    """Riders per 5-min bucket reaching bay_0 for each destination."""
    return BayForecast(bucket_s=STEP, arrivals={("bay_0", d): tuple(r) for d, r in rows.items()})


# ------------------------------------------------------------------------------------------ the evaluator


@dataclass(frozen=True)
class Outcome:
    stranded: int
    last_departure_s: float
    wait_s: float
    km: float
    trips: tuple[int, ...]  # riders on each trip

    def key(self, wait_weight: float = 1.0, km_weight: float = 0.01) -> tuple[float, float, float]:
        """The model's lexicographic objective: stranded, last departure, then weighted waiting and km."""
        return (self.stranded, self.last_departure_s, round(wait_weight * self.wait_s / 60 + km_weight * self.km, 6))


def _world(scenario: MassTestingScenario, geo: MassTestingGeometry, fc: BayForecast):
    fleet = scenario.resources.buses
    riders = []  # (arrival, destination)
    for (_, d), row in fc.arrivals.items():
        for q, count in enumerate(row):
            riders += [((q + 1) * fc.bucket_s, d)] * round(count)
    cycle = {d: fleet.load_time_s + 2 * geo.bus_drive["bay_0"][d] + fleet.unload_time_s for d in fleet.destinations}
    km = {d: 2 * geo.bus_distance_m["bay_0"][d] / 1000 for d in fleet.destinations}
    ready = [fleet.depots[0].ready_at_s + geo.bus_drive[fleet.depots[0].node]["bay_0"]] * fleet.count
    return sorted(riders), cycle, km, ready, fleet


def replay(scenario: MassTestingScenario, geo: MassTestingGeometry, fc: BayForecast,
           orders: list[tuple[float, str, int]] | None) -> Outcome:  # fmt: skip
    """Run a plan's orders `(at_s, destination, count)` at one bay, or first come first served when None."""
    riders, cycle, km, ready, fleet = _world(scenario, geo, fc)
    horizon = scenario.clock.horizon_s
    waiting: dict[str, list[float]] = {d: [] for d in cycle}
    pending = list(riders)
    idle = list(ready)  # when each bus is next idle at the bay
    trips: list[int] = []
    last, wait, dist = 0.0, 0.0, 0.0

    def admit(t: float) -> None:
        while pending and pending[0][0] <= t + 1e-9:
            a, d = pending.pop(0)
            waiting[d].append(a)

    def board(d: str, room: int, now: float = math.inf) -> list[float]:
        """Up to `room` of the riders for `d` waiting (those there by `now`), longest waiting first."""
        n = min(room, sum(a <= now + 1e-9 for a in waiting[d]))
        got, waiting[d][:] = waiting[d][:n], waiting[d][n:]
        return got

    def leave(b: int, t: float, d: str, on: list[float]) -> None:
        nonlocal last, wait, dist
        if t > horizon + 1e-9:
            for a in on:  # the horizon came first: they never left
                waiting[d].insert(0, a)
            idle[b] = math.inf
            return
        trips.append(len(on))
        last = max(last, t)
        wait += sum(t - a for a in on)
        dist += km[d]
        idle[b] = t + cycle[d] - fleet.load_time_s

    if orders is not None:
        queue = [(at, seq, d) for seq, (at, d, k) in enumerate(orders) for _ in range(k)]
        heapq.heapify(queue)
        while queue:
            at, _, d = heapq.heappop(queue)
            b = min(range(len(idle)), key=lambda i: (max(idle[i], at), i))
            t = max(idle[b], at)
            if not math.isfinite(t):
                break
            admit(t)
            on = board(d, fleet.capacity)
            admit(t + fleet.load_time_s)  # riders who come while it loads board it
            on += board(d, fleet.capacity - len(on))
            if not on:  # nobody came: the empty bus stays, free again once it has loaded
                idle[b] = t + fleet.load_time_s
                continue
            leave(b, t + fleet.load_time_s, d, on)
    else:
        while True:
            b = min(range(len(idle)), key=lambda i: (idle[i], i))
            t = idle[b]
            if not math.isfinite(t):
                break
            admit(t)
            # Riders admitted by a bus replayed before this one may come after t: they are not here yet.
            here = [(q[0], d) for d, q in waiting.items() if q and q[0] <= t + 1e-9]
            if not here:
                later = [q[0] for q in waiting.values() if q] + [a for a, _ in pending[:1]]
                if not later or not math.isfinite(t):
                    break
                idle[b] = max(t, min(later))
                continue
            d = min(here)[1]  # the longest-waiting rider's destination
            on = board(d, fleet.capacity, t)
            t += fleet.load_time_s
            admit(t)
            on += board(d, fleet.capacity - len(on), t)
            deadline = t + FCFS_FILL_S
            while len(on) < fleet.capacity and (nxt := [a for a in waiting[d] if a > t] + [a for a, _ in pending[:1]]) \
                    and min(nxt) <= deadline:
                t = max(t, min(nxt))
                admit(t)
                on += board(d, fleet.capacity - len(on), t)
            if len(on) < fleet.capacity:
                t = deadline
            leave(b, t, d, on)
    stranded = sum(len(q) for q in waiting.values()) + len(pending)
    return Outcome(stranded, last if not stranded else horizon, wait, dist, tuple(trips))


def orders_of(result) -> list[tuple[float, str, int]]:
    return [(a.at_s, a.to, a.count) for a in result.plan.of_type(DispatchBus)]


def brute_force(scenario: MassTestingScenario, geo: MassTestingGeometry, fc: BayForecast) -> Outcome:
    """The best outcome over every schedule of whole buses per destination at every dispatch moment."""
    p = bus_problem(scenario, fc, geo)
    dests = list(p.destinations)
    fleet = scenario.resources.buses.count
    choices = [c for c in itertools.product(range(fleet + 1), repeat=len(dests)) if sum(c) <= fleet]
    best = None
    for plan in itertools.product(choices, repeat=p.n_steps):
        orders = [(p.t(j), d, n) for j, counts in enumerate(plan) for d, n in zip(dests, counts, strict=True) if n]
        out = replay(scenario, geo, fc, orders)
        if best is None or out.key() < best.key():
            best = out
    assert best is not None
    return best


# ------------------------------------------------------------------------------------------ brute force


TINY_CASES = {
    "two buses, both destinations busy": (2, 4, {"dest_a": [3, 2, 4, 0], "dest_b": [5, 0, 3, 0]}),
    "two buses, far destination first": (2, 3, {"dest_a": [0, 2, 2, 0], "dest_b": [4, 1, 0, 0]}),
    "three buses, a rush then nothing": (3, 4, {"dest_a": [6, 1, 0], "dest_b": [4, 4, 0]}),
    "one bus cannot keep up": (1, 4, {"dest_a": [4, 4, 4, 4], "dest_b": [4, 4, 4, 4]}),
}


@pytest.mark.parametrize("name", sorted(TINY_CASES))
def test_optimum_equals_brute_force_on_tiny_cases(name):
    """On 1 bay, 2 destinations and 1-3 buses the plan is as good as the best of every dispatch schedule."""
    buses, capacity, rows = TINY_CASES[name]
    horizon = 60 + (4 if buses == 3 else 5) * STEP
    scenario, geo = tiny_world(buses=buses, capacity=capacity, horizon_s=horizon)
    fc = forecast(rows)
    result = plan_buses(scenario, fc, geo, params=FAST, options=EXACT)
    best = brute_force(scenario, geo, fc)
    mine = replay(scenario, geo, fc, orders_of(result))
    assert mine.key() == pytest.approx(best.key(), abs=1e-6)
    if best.stranded == 0:
        assert result.status == "OPTIMAL"
        assert result.objective == pytest.approx(best.last_departure_s / 60)
        assert result.bound == pytest.approx(result.objective)


def test_model_scores_plans_as_the_evaluator_does():
    """The plan is valid for the scenario, and the model's account of it (last departure, waiting, km) matches
    the event-based replay."""
    scenario, geo = tiny_world(buses=2, capacity=4, horizon_s=60 + 5 * STEP)
    fc = forecast(TINY_CASES["two buses, both destinations busy"][2])
    result = plan_buses(scenario, fc, geo, params=FAST, options=EXACT)
    assert check_plan(result.plan, scenario) == []
    out = replay(scenario, geo, fc, orders_of(result))
    load = scenario.resources.buses.load_time_s
    assert out.stranded == result.details["stranded_riders"] == 0
    assert out.last_departure_s / 60 == pytest.approx(result.details["last_departed_min"])
    riders = result.details["riders"]
    assert out.wait_s / 60 == pytest.approx(result.details["wait_rider_min"] + riders * load / 60)
    assert out.km == pytest.approx(result.details["bus_km"])


# ------------------------------------------------------------------------------------------ FCFS


def test_optimised_plan_beats_first_come_first_served():
    """On the same evaluator the plan carries everyone sooner, with less waiting, than first come first served."""
    scenario, geo = tiny_world(buses=2, capacity=4, horizon_s=60 + 8 * STEP)
    fc = forecast({"dest_a": [1, 4, 4, 1, 0], "dest_b": [4, 1, 1, 4, 0]})
    result = plan_buses(scenario, fc, geo, params=FAST, options=EXACT)
    mine = replay(scenario, geo, fc, orders_of(result))
    fcfs = replay(scenario, geo, fc, None)
    assert mine.stranded == fcfs.stranded == 0
    assert mine.last_departure_s < fcfs.last_departure_s
    assert mine.wait_s < fcfs.wait_s


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=5), st.integers(1, 3),
       st.integers(2, 6))  # fmt: skip
def test_plan_is_never_worse_than_fcfs(rows, buses, capacity):
    """The plan strands no more riders than first come first served, and its last rider leaves no later."""
    # Up to one loading time: a first-come bus waiting to fill leaves as soon as its last rider boards, while
    # a dispatched bus always takes its loading time (the simulation's rules for both).
    scenario, geo = tiny_world(buses=buses, capacity=capacity, horizon_s=60 + 12 * STEP)
    fc = forecast({"dest_a": [a for a, _ in rows], "dest_b": [b for _, b in rows]})
    result = plan_buses(scenario, fc, geo, params=FAST, options=EXACT)
    mine = replay(scenario, geo, fc, orders_of(result))
    fcfs = replay(scenario, geo, fc, None)
    assert mine.stranded <= fcfs.stranded
    if mine.stranded == fcfs.stranded == 0:
        assert mine.last_departure_s <= fcfs.last_departure_s + scenario.resources.buses.load_time_s


# ------------------------------------------------------------------------------------------ invariants


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=8),
       st.integers(1, 8), st.integers(5, 40), st.sampled_from([0.0, 150.0, 400.0]))  # fmt: skip
def test_capacity_fleet_and_conservation(rows, buses, capacity, ready_s):
    """No trip over capacity, never more buses away than have reached the bay, every rider carried or stranded."""
    drive = {"dest_a": 300.0, "dest_b": 700.0, "dest_c": 1300.0}
    scenario, geo = tiny_world(buses=buses, capacity=capacity, drive_s=drive, horizon_s=6 * 3600, ready_s=ready_s)
    fc = forecast({d: [r[i] for r in rows] for i, d in enumerate(drive)})
    result = plan_buses(scenario, fc, geo, params=SolveParams(time_limit_s=2.0), options=EXACT)
    p = bus_problem(scenario, fc, geo)
    dispatch = np.zeros_like(p.riders)
    for a in result.plan.of_type(DispatchBus):
        assert a.origin == "bay_0" and a.count >= 1
        dispatch[0, p.destinations.index(a.to), round((a.at_s - p.start_s) / p.bucket_s)] += a.count
    score = score_schedule(p, dispatch)
    # No trip over capacity.
    assert np.all(score.carried <= capacity * dispatch)
    # Never more buses away on trips than have reached the bay (hence never more than the fleet).
    away = np.zeros(p.n_steps, dtype=int)
    for k, j in zip(*np.nonzero(dispatch[0]), strict=True):
        away[j : j + p.cycle[0, k]] += dispatch[0, k, j]
    assert np.all(away <= np.cumsum(p.supply[0])) and away.max(initial=0) <= buses
    assert score.fleet_shortfall == 0
    # Conservation: everyone forecast is carried or stranded; when feasible, everyone is carried.
    assert int(score.carried.sum()) + score.stranded == p.riders_total
    assert score.stranded == result.details["stranded_riders"]
    if result.status in ("OPTIMAL", "FEASIBLE"):
        assert score.stranded == 0
        replayed = replay(scenario, geo, fc, orders_of(result))
        assert replayed.stranded == 0
        assert max(replayed.trips, default=0) <= capacity
    # The bound is a bound.
    assert result.bound <= result.objective + 1e-9


def test_flow_bound_is_below_the_optimum():
    """The fleet-capacity flow bound never exceeds the proven optimal last step."""
    scenario, geo = tiny_world(buses=1, capacity=4, horizon_s=60 + 12 * STEP)
    fc = forecast({"dest_a": [4, 4, 4, 4], "dest_b": [4, 4, 4, 4]})
    p = bus_problem(scenario, fc, geo)
    out = solve_buses(p, params=FAST, options=EXACT)
    assert out.phase_status[0] == "OPTIMAL"
    assert flow_bound(p) is not None and flow_bound(p) <= out.last_value


def test_one_bus_with_every_rider_waiting_needs_the_longest_trip_last():
    """One bus, free from step 2, riders for three destinations (cycles 3, 6 and 10 steps) all waiting: every
    trip but the last keeps the bus busy its whole cycle, so the best plan ends with a long trip. For 5, 16 and
    23 riders (1 + 4 + 5 trips of 5) the last starts at step 2 + 77 - 10 = 69, and the flow bound proves it;
    for 6, 16 and 21 (2 + 4 + 5 trips) it would be step 72, past the grid's last (71): a rider is stranded, and
    the bound proves that too (the target is missed by every plan)."""
    drive = {"dest_a": 300.0, "dest_b": 700.0, "dest_c": 1300.0}
    scenario, geo = tiny_world(buses=1, capacity=5, drive_s=drive, horizon_s=6 * 3600, ready_s=400.0)
    fits = bus_problem(scenario, forecast({"dest_a": [5], "dest_b": [16], "dest_c": [23]}), geo)
    assert list(fits.cycle[0]) == [3, 6, 10] and fits.n_steps == 72 and fits.supply[0, 2] == 1
    assert flow_bound(fits) == 69
    out = solve_buses(fits, params=SolveParams(time_limit_s=2.0), options=EXACT)
    assert out.score.stranded == 0 and out.last_value == 69 and out.phase_status[0] == "OPTIMAL"
    short = bus_problem(scenario, forecast({"dest_a": [6], "dest_b": [16], "dest_c": [21]}), geo)
    assert flow_bound(short) is None
    out = solve_buses(short, params=SolveParams(time_limit_s=2.0), options=EXACT)
    assert out.status == "INFEASIBLE" and out.score.stranded == 1
    assert out.last_bound == out.last_value  # one stranded rider, proven the fewest


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=4), st.integers(1, 3),
       st.integers(2, 6), st.sampled_from([0.0, 400.0]))  # fmt: skip
def test_the_flow_bound_never_exceeds_a_proven_optimum(rows, buses, capacity, ready_s):
    """Against CP-SAT's proven optimum on small cases (one bay, up to three buses): the flow bound, busy time
    included, is never above it, and when it says nobody can be carried in time somebody is stranded."""
    drive = {"dest_a": 300.0, "dest_b": 1000.0}
    scenario, geo = tiny_world(buses=buses, capacity=capacity, drive_s=drive, horizon_s=60 + 16 * STEP,
                               ready_s=ready_s)  # fmt: skip
    p = bus_problem(scenario, forecast({d: [r[i] for r in rows] for i, d in enumerate(drive)}), geo)
    out = solve_buses(p, params=SolveParams(time_limit_s=10.0, relative_gap=0.0), options=EXACT)
    event(f"phase 1 {out.phase_status[0].lower()}")
    if out.phase_status[0] != "OPTIMAL":
        return  # nothing proven to compare with
    bound = flow_bound(p)
    event("nobody can be carried in time" if bound is None else "bound == optimum" if bound == out.last_value
          else "bound < optimum")  # fmt: skip
    if bound is None:
        assert out.score.stranded > 0
    else:
        assert bound <= out.last_value


# ------------------------------------------------------------------------------------------ diagnosis


def test_diagnosis_when_the_fleet_is_too_small():
    """A target the fleet cannot meet is INFEASIBLE, with the least fleet that meets it, proven both ways."""
    rows = {"dest_a": [8, 8, 0], "dest_b": [8, 8, 0]}
    target = 60 + 3 * STEP  # everyone gone by the dispatch at t_3
    scenario, geo = tiny_world(buses=2, capacity=4, horizon_s=60 + 10 * STEP)
    result = plan_buses(scenario, forecast(rows), geo, params=FAST, options=EXACT, target_s=target)
    assert result.status == "INFEASIBLE" and not result.feasible
    assert result.plan is not None and result.plan.actions, "the best effort plan is still given"
    need = int(result.details["buses_needed_at_least"])
    assert need > 2
    assert result.diagnosis.startswith(f"needs at least {need} buses to move everyone by 20:")
    assert "2 are available" in result.diagnosis
    enough, _ = tiny_world(buses=need, capacity=4, horizon_s=60 + 10 * STEP)
    met = plan_buses(enough, forecast(rows), geo, params=FAST, options=EXACT, target_s=target)
    assert met.status == "OPTIMAL" and met.diagnosis is None
    short, _ = tiny_world(buses=need - 1, capacity=4, horizon_s=60 + 10 * STEP)
    assert plan_buses(short, forecast(rows), geo, params=FAST, options=EXACT, target_s=target).status == "INFEASIBLE"


def test_diagnosis_when_riders_arrive_too_late():
    """When the last riders reach the bay after the target, no fleet helps, and the diagnosis says so."""
    scenario, geo = tiny_world(buses=3, capacity=4, horizon_s=60 + 10 * STEP)
    result = plan_buses(scenario, forecast({"dest_a": [0, 0, 0, 0, 2], "dest_b": [1]}), geo, params=FAST,
                        options=EXACT, target_s=60 + 2 * STEP)  # fmt: skip
    assert result.status == "INFEASIBLE"
    assert "no number of buses moves everyone by" in result.diagnosis


def test_stranded_riders_when_the_horizon_is_short():
    """More riders than the fleet can carry within the horizon: the fewest stranded, diagnosed."""
    scenario, geo = tiny_world(buses=1, capacity=2, horizon_s=60 + 2 * STEP)
    result = plan_buses(scenario, forecast({"dest_a": [5], "dest_b": [5]}), geo, params=FAST, options=EXACT)
    assert result.status == "INFEASIBLE"
    assert result.details["stranded_riders"] == 10 - 2 * 2  # one bus, capacity 2, dispatches at t_1 and t_2
    assert "riders are not carried" in result.diagnosis


# ------------------------------------------------------------------------------------------ determinism


def test_same_input_same_plan():
    """Two runs with the same input and seed give the same plan and numbers (bar wall time)."""
    scenario, geo = tiny_world(buses=3, capacity=5, drive_s={"dest_a": 300.0, "dest_b": 700.0, "dest_c": 1300.0},
                               horizon_s=6 * 3600)  # fmt: skip
    rng = np.random.default_rng(3)
    fc = forecast({d: list(rng.integers(0, 12, size=10).astype(float)) for d in ("dest_a", "dest_b", "dest_c")})
    runs = [plan_buses(scenario, fc, geo, params=SolveParams(time_limit_s=0.5), options=EXACT) for _ in range(2)]
    a, b = (r.plan.model_dump(exclude={"meta": {"solver": {"wall_s"}}}) for r in runs)
    assert a == b
    assert runs[0].details == runs[1].details


# ------------------------------------------------------------------------------------------ the placement


def test_buses_start_in_proportion_to_the_riders_expected_largest_share_first():
    """Five buses over riders expected 3:1 go four to one bay and one to the other, dealt depot by depot."""
    fleet = BusFleet(count=5, capacity=40, depots=(BusDepot(node="d1", count=3), BusDepot(node="d2", count=2)),
                     bays=("a", "b"), destinations={"x": 1.0})  # fmt: skip
    start = [(depot.node, bay) for depot, bay in bus_start_bays(fleet, {"b": 1.0, "a": 3.0})]
    assert start == [("d1", "a"), ("d1", "a"), ("d1", "a"), ("d2", "a"), ("d2", "b")]


def test_the_optimiser_places_buses_by_the_shared_rule():
    """`bus_placement` ("proportional") counts the buses of `bus_start_bays` on the forecast's riders per bay."""
    scenario, geo = tiny_world(buses=3)
    fc = BayForecast(bucket_s=STEP, arrivals={("bay_0", "dest_a"): (4.0,), ("bay_0", "dest_b"): (2.0,)})
    fleet = scenario.resources.buses
    assert fleet is not None
    expected = {b: fc.total(bay=b) for b in fleet.bays}
    dealt = Counter((depot.node, bay) for depot, bay in bus_start_bays(fleet, expected))
    assert bus_placement(scenario, fc, geo) == [(depot, bay, n) for (depot, bay), n in dealt.items()]


# ------------------------------------------------------------------------------------------ the forecast


def test_forecast_walks_riders_to_the_bay():
    """Swabs in a bucket reach the bay 150 s later: half in the same bucket, half in the next, split by share."""
    scenario, geo = tiny_world()
    fc = forecast_bay_demand(scenario, {"site": [10.0, 0.0]}, geo)
    assert fc.arrivals[("bay_0", "dest_a")] == pytest.approx((2.5, 2.5))
    assert fc.total() == pytest.approx(10.0)


def test_forecast_sends_metro_riders_to_the_bus_after_closure():
    """With the station closed, metro riders walk on to the bay: every tested visitor becomes a bus rider."""
    scenario, geo = tiny_world(metro=True, bus_share=0.4)
    fc = forecast_bay_demand(scenario, [100.0, 100.0], geo)
    assert fc.total() == pytest.approx(200.0)
    late = fc.arrivals[("bay_0", "dest_a")]
    assert len(late) == 3  # the metro riders' longer walk (50 + 100 s) reaches into a third bucket


def test_forecast_rejects_bad_input():
    """Unknown sites, negative counts and unknown bays are errors that name the bad value."""
    scenario, geo = tiny_world()
    with pytest.raises(ValueError, match="'nowhere' is not one of the scenario's test sites"):
        forecast_bay_demand(scenario, {"nowhere": [1.0]}, geo)
    with pytest.raises(ValueError, match="must be a non-negative number"):
        BayForecast(bucket_s=300, arrivals={("bay_0", "dest_a"): (-1.0,)})
    with pytest.raises(ValueError, match="'bay_9' is not a bus bay"):
        bus_problem(scenario, BayForecast(bucket_s=300, arrivals={("bay_9", "dest_a"): (1.0,)}), geo)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 9), st.floats(0, 9)), min_size=1, max_size=6), st.integers(1, 3),
       st.integers(2, 6), st.sampled_from([(90.0, 240.0), (100.0, 250.0), (130.0, 170.0), (20.0, 400.0)]),
       st.sampled_from([60.0, 100.0, 150.0, 300.0]), st.sampled_from(["most_waiting", "shortest_cycle"]),
       st.booleans())  # fmt: skip
@example([(0.0, 9.0)], 1, 2, (100.0, 250.0), 60.0, "most_waiting", False)  # the fine grid must be made longer
def test_a_plan_stays_feasible_and_no_later_on_a_finer_grid(rows, buses, capacity, drives, fine_s, rule, midway):
    """On a finer grid round trips, returns and riders' arrivals are rounded less, so a coarse grid's plan moved
    onto it (the same dispatches at the same moments) needs no more buses than there are, strands no more riders
    and has the last one leave no later: it is a sound start for the search on the finer grid. The fine grid is
    made long enough to hold it (`min_steps`); otherwise its own bound on the steps may end it sooner."""
    from optimizer.buses import BusState

    scenario, geo = tiny_world(buses=buses, capacity=capacity, horizon_s=60 + 14 * STEP,
                               drive_s={"dest_a": drives[0], "dest_b": drives[1]})  # fmt: skip
    fc = forecast({"dest_a": [a for a, _ in rows], "dest_b": [b for _, b in rows]})
    state = None
    if midway:  # re-planning: riders waiting, a bus back at a moment off both grids
        state = BusState(waiting={("bay_0", "dest_b"): 3}, idle={"bay_0": buses}, returning=(("bay_0", 410.0),))
    fine_fc = fc.after(fc.start_s, fine_s)
    coarse = bus_problem(scenario, fc, geo, state=state)
    plan = greedy_schedule(coarse, rule)
    used = np.flatnonzero(plan.sum(axis=(0, 1)))
    reach = 0 if used.size == 0 else round(coarse.t(int(used[-1])) / fine_s) + 1
    fine = bus_problem(scenario, fine_fc, geo, state=state, min_steps=reach)
    moved = regrid_schedule(plan, coarse, fine)
    before, after = score_schedule(coarse, plan), score_schedule(fine, moved)
    assert int(moved.sum()) == int(plan.sum())
    assert after.fleet_shortfall == 0
    assert after.stranded <= before.stranded
    if before.stranded == 0 and before.last_departure_s is not None:
        assert after.last_departure_s is not None and after.last_departure_s <= before.last_departure_s
    short = bus_problem(scenario, fine_fc, geo, state=state)
    if reach > short.n_steps:
        with pytest.raises(ValueError, match="min_steps"):
            regrid_schedule(plan, coarse, short)


def test_a_re_plan_on_a_fine_grid_starts_from_a_coarse_plan():
    """One bus, 12 riders waiting, a 320 s round trip: the 5-minute grid rounds it up to 10 minutes (departures
    at 0, 600 and 1200 s); on a 60 s grid started from that plan the bus leaves every 6 minutes (0, 360, 720 s)."""
    from optimizer.buses import BusState

    scenario, geo = tiny_world(buses=1, capacity=4, horizon_s=4 * 3600, drive_s={"dest_a": 100.0, "dest_b": 400.0})
    state = BusState(waiting={("bay_0", "dest_a"): 12}, idle={"bay_0": 1}, returning=())
    five = BayForecast(bucket_s=STEP, start_s=0.0, arrivals={("bay_0", "dest_a"): (0.0,)})
    one = five.after(0.0, 60.0)
    coarse = plan_buses(scenario, five, geo, params=FAST, options=EXACT, state=state)
    fine = plan_buses(scenario, one, geo, params=FAST, options=EXACT, state=state, coarse_s=STEP)
    assert [a.at_s for a in coarse.plan.of_type(DispatchBus)] == [0.0, 600.0, 1200.0]
    assert [a.at_s for a in fine.plan.of_type(DispatchBus)] == [0.0, 360.0, 720.0]
    assert coarse.objective == pytest.approx((1200 + 60) / 60) and fine.objective == pytest.approx((720 + 60) / 60)
    assert fine.details["bucket_s"] == 60.0 and fine.status == "OPTIMAL"
    assert any("started from a plan on the 5-min grid" in line for line in fine.rationale)
    for wrong in (90.0, 30.0, 0.0, math.inf):
        with pytest.raises(ValueError, match="coarse_s"):
            plan_buses(scenario, one, geo, params=FAST, options=EXACT, state=state, coarse_s=wrong)


def test_the_search_starts_from_the_best_start_given():
    """Greedy sends the one bus off with the first rider and is away when the next four come (last departure at
    step 3); waiting one step carries all five at once (step 2, the arrival bound). Given that schedule as a
    start, with no time to search, the outcome is it, proven optimal; without it, greedy's. A start of the wrong
    shape is refused; one that needs more buses than there are is ignored."""
    scenario, geo = tiny_world(buses=1, capacity=5, horizon_s=60 + 12 * STEP)
    p = bus_problem(scenario, forecast({"dest_a": [0, 0], "dest_b": [1, 4]}), geo)
    b = p.destinations.index("dest_b")
    wait = np.zeros_like(p.riders)
    wait[0, b, 2] = 1
    two_buses = np.zeros_like(p.riders)
    two_buses[0, b, 1] = two_buses[0, b, 2] = 1
    none = SolveParams(time_limit_s=0.0)
    assert score_schedule(p, greedy_schedule(p)).last_step == 3
    assert solve_buses(p, params=none, options=EXACT).last_value == 3
    out = solve_buses(p, params=none, options=EXACT, starts=[two_buses, wait])
    assert out.last_value == 2 and out.phase_status[0] == "OPTIMAL" and np.array_equal(out.dispatch, wait)
    assert solve_buses(p, params=none, options=EXACT, starts=[two_buses]).last_value == 3
    with pytest.raises(ValueError, match=r"starts\[0\]"):
        solve_buses(p, params=none, options=EXACT, starts=[np.zeros((1, 1, 1), dtype=np.int64)])


def test_replanning_from_a_state():
    """Re-planning mid-incident: riders already waiting are carried, and a bus away is used only once back."""
    from optimizer.buses import BusState

    scenario, geo = tiny_world(buses=5, capacity=4, horizon_s=4 * 3600)
    fc = BayForecast(bucket_s=STEP, start_s=900.0, arrivals={("bay_0", "dest_a"): (2.0, 0.0)})
    state = BusState(waiting={("bay_0", "dest_a"): 3, ("bay_0", "dest_b"): 7}, idle={"bay_0": 1},
                     returning=(("bay_0", 1150.0),))  # fmt: skip
    result = plan_buses(scenario, fc, geo, params=FAST, options=EXACT, state=state)
    p = bus_problem(scenario, fc, geo, state=state)
    assert p.fleet == 2 and p.riders_total == 12
    assert list(p.supply[0, :3]) == [1, 1, 0]  # one idle now, one back at 1150 s (the grid's 1200 s)
    actions = result.plan.of_type(DispatchBus)
    assert actions[0].at_s == 900.0 and sum(a.count for a in actions if a.at_s == 900.0) == 1
    assert result.status == "OPTIMAL" and result.details["stranded_riders"] == 0
