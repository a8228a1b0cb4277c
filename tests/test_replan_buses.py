"""Re-planning the buses mid-incident: the state they are in, the riders still to come, and a spliced plan that
leaves the buses' past as it was."""

from __future__ import annotations

import heapq
from collections import deque

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from command.kinds import simulate
from command.loop import _what_has_happened
from optimizer.buses import BayForecast, bus_problem
from optimizer.mass_testing import optimise_mass_testing
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.mass_testing import BusState
from scenarios.plan import DispatchBus, Plan, PlanMeta
from scenarios.splice import splice
from simulation.mass_testing import FCFS_FILL_WAIT_S, Bay, MassTestingModel, Scheduled

AT_S = 10_800.0  # 3 h into the Disney scenario: its buses have been carrying riders for 40 minutes


@pytest.fixture(scope="module")
def disney():  # type: ignore[no-untyped-def]
    return load_scenario("disney_mass_testing")


def _departures(result, before_s: float) -> list[tuple[float, str, str, str, int]]:  # type: ignore[no-untyped-def]
    return [(e.t_s, e.data["bus"], e.data["bay"], e.data["destination"], e.data["riders"])
            for e in result.events if e.kind == "bus_departs" and e.t_s < before_s]  # fmt: skip


def _orders_from(disney, at_s: float) -> Plan:  # type: ignore[no-untyped-def]
    """A plan of dispatch orders only: two buses from every bay to every destination every 10 minutes for an hour
    from `at_s`."""
    return Plan.build(PlanMeta(scenario=disney.name, produced_by="test"),
                      [DispatchBus(at_s=at_s + 600 * k, origin=bay, to=dest, count=2)
                       for k in range(6) for bay in disney.resources.buses.bays
                       for dest in disney.resources.buses.destinations])  # fmt: skip


def test_the_bus_state_holds_every_bus_and_the_riders_queued_at_the_bays(disney):  # type: ignore[no-untyped-def]
    """Part-way through: every bus of the fleet is idle at a bay or away with a time it is back, later than now;
    the riders queued are those the run's own reading of the bays gives; and running on from the state's moment
    gives the whole run's result (reading the state does not disturb the run)."""
    model = MassTestingModel(disney, default_plan(disney), seed=disney.seed)
    model.run(until_s=AT_S)
    state = model.bus_state()
    assert state.fleet == disney.resources.buses.count
    assert all(at_s > AT_S for _, at_s in state.returning)
    assert set(state.idle) | {bay for bay, _ in state.returning} <= set(disney.resources.buses.bays)
    assert sum(state.waiting.values()) == model.state("bay_waiting")
    departed_by_bus = sum(e.data["riders"] for e in model.rec.events if e.kind == "bus_departs")
    assert departed_by_bus > 0  # the buses have been working: the state is not the depots'
    whole = simulate(disney, default_plan(disney), seed=disney.seed)
    assert _departures(whole, AT_S) == _departures(model._result(0.0), AT_S)


def test_a_dispatch_plan_taking_over_from_first_come_first_served_leaves_the_buses_past_as_it_was(disney):  # type: ignore[no-untyped-def]
    """The default plan runs the buses first come, first served. A plan with dispatch orders spliced in at 3 h
    says so (`dispatch_from_s`), and its simulation has the same departures before 3 h as the default plan's:
    the buses do not sit waiting for orders that were not given yet."""
    base = default_plan(disney)
    assert not base.of_type(DispatchBus)
    orders = _orders_from(disney, AT_S)
    spliced = splice(base, orders, AT_S, scenario=disney)
    assert spliced.meta.dispatch_from_s == AT_S
    before = _departures(simulate(disney, base, seed=disney.seed), AT_S)
    after = simulate(disney, spliced, seed=disney.seed)
    assert before and _departures(after, AT_S) == before
    # Without the handover time the orders govern from the start, and the past changes: what the field guards.
    unmarked = spliced.model_copy(update={"meta": spliced.meta.model_copy(update={"dispatch_from_s": None})})
    assert _departures(simulate(disney, unmarked, seed=disney.seed), AT_S) != before
    # Spliced again later, the orders keep governing from the first handover.
    again = splice(spliced, orders, AT_S + 1800, scenario=disney)
    assert again.meta.dispatch_from_s == AT_S
    # A plan whose orders governed from the start keeps them doing so.
    assert splice(orders, orders, AT_S, scenario=disney).meta.dispatch_from_s is None


def test_a_plan_without_dispatch_orders_keeps_its_json_and_digest():
    """The handover time is left out of a plan's JSON when unset, so that plans approved before it existed keep
    the digest their approval refers to."""
    plan = Plan.build(PlanMeta(scenario="x"), [])
    assert "dispatch_from_s" not in plan.to_json()
    marked = plan.model_copy(update={"meta": plan.meta.model_copy(update={"dispatch_from_s": 60.0})})
    assert marked.digest() != plan.digest()
    assert Plan.from_json(marked.to_json()).meta.dispatch_from_s == 60.0


def test_the_loop_hands_the_optimiser_the_buses_where_they_are_and_the_new_orders_start_then(disney):  # type: ignore[no-untyped-def]
    """Re-planned at 3 h: the loop's state carries the buses; the bus model starts with the fleet where the
    simulation has it (no depots), with the riders waiting then; no order of the new plan is before 3 h."""
    base = default_plan(disney)
    _, state = _what_has_happened(disney, base, disney.seed, AT_S)
    assert state.buses is not None and state.buses.fleet == disney.resources.buses.count
    result = optimise_mass_testing(disney, params=SolveParams(time_limit_s=5, seed=disney.seed), state=state)
    assert result.plan is not None
    orders = result.plan.of_type(DispatchBus)
    assert orders and min(a.at_s for a in orders) >= AT_S
    assert any(line.startswith("buses: re-planned from") for line in result.rationale)
    spliced = splice(base, result.plan, AT_S, scenario=disney)
    run = simulate(disney, spliced, seed=disney.seed)
    assert _departures(run, AT_S) == _departures(simulate(disney, base, seed=disney.seed), AT_S)
    assert run.kpis["stranded_visitors"] == 0


def test_a_bus_problem_from_a_state_has_its_buses_and_riders_and_no_depots():
    """The state's buses replace the depots (idle ones now, the others when back), and its riders waiting count
    from the first step."""
    from tests.test_buses import STEP, tiny_world

    scenario, geo = tiny_world(buses=3, capacity=4, horizon_s=4 * 3600)
    fc = BayForecast(bucket_s=STEP, arrivals={("bay_0", "dest_a"): (2.0, 3.0)}, start_s=600.0)
    state = BusState(waiting={("bay_0", "dest_b"): 5}, idle={"bay_0": 1}, returning=(("bay_0", 1500.0),))
    p = bus_problem(scenario, fc, geo, state=state)
    assert p.fleet == 2 and p.start_s == 600.0 and p.positioning_km == 0.0
    assert list(p.supply[0, :4]) == [1, 0, 0, 1]  # idle now; back at 1500 s: step 3 of the grid from 600 s
    b = p.destinations.index("dest_b")
    assert p.riders[0, b, 0] == 5 and p.total[0, b] == 5
    assert p.total[0, p.destinations.index("dest_a")] == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 50), min_size=1, max_size=12), st.floats(0, 4000), st.sampled_from([60.0, 300.0]),
       st.floats(0, 900), st.sampled_from([None, 60.0, 90.0, 300.0, 420.0]))  # fmt: skip
def test_the_riders_still_to_come_are_those_of_the_forecast_after_the_moment(row, at_offset, bucket_s, start_s, grid):  # type: ignore[no-untyped-def]
    """`BayForecast.after(t, grid)`: on buckets of `grid` (default the forecast's) from t; by the end of each of
    its buckets as many riders have come as the forecast has coming from t to then (a bucket's riders spread
    evenly over it, on either grid); nobody is made up or lost."""
    fc = BayForecast(bucket_s=bucket_s, arrivals={("bay", "d"): tuple(row)}, start_s=start_s)
    at_s = start_s + at_offset
    later = fc.after(at_s, grid)
    assert later.start_s == at_s and later.bucket_s == (bucket_s if grid is None else grid)

    def by(forecast: BayForecast, t: float) -> float:
        """Riders reaching the bay by time t, with each bucket's spread evenly over it."""
        got = 0.0
        for k, riders in enumerate(forecast.arrivals.get(("bay", "d"), ())):
            lo = forecast.start_s + k * forecast.bucket_s
            got += riders * min(max((t - lo) / forecast.bucket_s, 0.0), 1.0)
        return got

    for k in (0, 1, 2, 7, 10**6):
        end = at_s + k * later.bucket_s
        assert by(later, end) == pytest.approx(by(fc, end) - by(fc, at_s), abs=1e-6)
    assert fc.after(start_s, grid).total() == pytest.approx(fc.total())
    with pytest.raises(ValueError, match="at_s"):
        fc.after(start_s - 1)
    with pytest.raises(ValueError, match="bucket_s"):
        fc.after(at_s, 0.0)


# ------------------------------------------------------------------------------------------ the policy


def _first_trip(bay: Bay, policy: Scheduled, free_at_s: float, arrivals=()) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    """When a bus free at the bay from `free_at_s` leaves, and for where; `arrivals`: (t, rider, destination)."""
    env = simpy.Environment()
    got: list[tuple[float, str]] = []

    def rider(t: float, v: int, dest: str):  # type: ignore[no-untyped-def]
        yield env.timeout(t)
        bay.arrive(env.now, v, dest)

    def bus():  # type: ignore[no-untyped-def]
        yield env.timeout(free_at_s)
        dest = yield from policy.next_trip(env, bay)
        got.append((env.now, dest))

    for t, v, dest in arrivals:
        env.process(rider(t, v, dest))
    env.process(bus())
    env.run()
    return got[0]


def _bay(**waiting: int) -> Bay:
    bay = Bay("bay", {"a": deque(), "b": deque()})
    for dest, n in waiting.items():
        bay.riders[dest].extend((0.0, 100 * ord(dest) + i) for i in range(n))
    return bay


def test_an_order_no_bus_was_free_to_carry_out_before_it_lapsed_is_dropped():
    """An order for b, due at 0 and lapsing at 300 s: a bus free at 600 s does not carry it out (it serves the
    longest-waiting rider's destination, a), while one free at 200 s does, and so does one at 600 s when the
    order lapses at 900 s. An order due at 900 s but cancelled at 500 s holds a bus free at 200 s until 500 s."""
    cases = [(0.0, 300.0, 600.0, (600.0, "a")), (0.0, 300.0, 200.0, (200.0, "b")),
             (0.0, 900.0, 600.0, (600.0, "b")), (900.0, 500.0, 200.0, (500.0, "a"))]  # fmt: skip
    for at_s, until_s, free_at_s, trip in cases:
        bay = _bay(a=1, b=1)
        bay.riders["a"][0] = (-1.0, 1)  # a's rider has waited longest
        heapq.heappush(bay.orders, (at_s, 0, "b", until_s))
        assert _first_trip(bay, Scheduled(), free_at_s) == trip


def test_before_the_orders_govern_a_bus_serves_first_come_first_served_and_then_follows_them():
    """Orders governing from 1,000 s: a bus free at 600 s with riders waiting leaves at once for the longest
    waiting (and waits to fill, as first come, first served does); a bus free at 600 s with nobody waiting
    waits, and at 1,000 s turns to its orders (an order at 1,200 s for b, whose rider came at 1,100 s) without
    leaving a stale wake-up call at the bay."""
    bay = _bay(a=1)
    heapq.heappush(bay.orders, (1200.0, 0, "b", float("inf")))
    policy = Scheduled(from_s=1000.0)
    assert _first_trip(bay, policy, 600.0) == (600.0, "a")
    assert policy.fill_wait(600.0) == FCFS_FILL_WAIT_S and policy.fill_wait(1000.0) == 0.0
    empty = _bay()
    heapq.heappush(empty.orders, (1200.0, 0, "b", float("inf")))
    assert _first_trip(empty, Scheduled(from_s=1000.0), 600.0, arrivals=[(1100.0, 7, "b")]) == (1200.0, "b")
    assert not empty.idle


def test_a_splice_lets_the_orders_in_effect_lapse_at_the_replanning_time_and_keeps_the_past(disney):  # type: ignore[no-untyped-def]
    """Re-planned again at 3.5 h with no dispatch orders: the orders of the plan in effect dated before then
    lapse then (those dated later are not taken), and the departures before 3.5 h are those of the plan in
    effect."""
    base = default_plan(disney)
    orders = _orders_from(disney, AT_S)
    first = splice(base, orders, AT_S, scenario=disney)
    later = AT_S + 1800
    second = splice(first, base, later, scenario=disney)
    kept = second.of_type(DispatchBus)
    assert kept and all(a.until_s == later for a in kept)
    after = [a for a in kept if a.at_s >= later]  # each bay's next order, cancelled: its buses were waiting
    assert sorted(a.origin for a in after) == sorted(disney.resources.buses.bays)
    assert all(a.until_s is None for a in first.of_type(DispatchBus))
    assert _departures(simulate(disney, second, seed=disney.seed), later) == \
        _departures(simulate(disney, first, seed=disney.seed), later)  # fmt: skip


def test_a_dispatch_order_keeps_its_digest_unless_it_lapses():
    order = DispatchBus(at_s=60, origin="bay", to="dest")
    plan = Plan.build(PlanMeta(scenario="x"), [order])
    assert "until_s" not in plan.to_json()
    assert Plan.from_json(plan.to_json()) == plan
    lapsing = order.model_copy(update={"until_s": 120.0})
    assert Plan.from_json(Plan.build(PlanMeta(scenario="x"), [lapsing]).to_json()).actions[0].until_s == 120.0
