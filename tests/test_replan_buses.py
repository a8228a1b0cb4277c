"""Re-planning the buses mid-incident: the state they are in, the riders still to come, and a spliced plan that
leaves the buses' past as it was."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from command.loop import _splice, _what_has_happened
from optimizer.buses import BayForecast, bus_problem
from optimizer.mass_testing import optimise_mass_testing
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.mass_testing import BusState
from scenarios.plan import DispatchBus, Plan, PlanMeta
from simulation import simulate
from simulation.mass_testing import MassTestingModel

AT_S = 10_800.0  # 3 h into the Disney scenario: its buses have been carrying riders for 40 minutes


@pytest.fixture(scope="module")
def disney():  # type: ignore[no-untyped-def]
    return load_scenario("disney_mass_testing")


def _departures(result, before_s: float) -> list[tuple[float, str, str, str, int]]:  # type: ignore[no-untyped-def]
    return [(e.t_s, e.data["bus"], e.data["bay"], e.data["destination"], e.data["riders"])
            for e in result.events if e.kind == "bus_departs" and e.t_s < before_s]  # fmt: skip


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
    orders = Plan.build(PlanMeta(scenario=disney.name, produced_by="test"),
                        [DispatchBus(at_s=AT_S + 600 * k, origin=bay, to=dest, count=2)
                         for k in range(6) for bay in disney.resources.buses.bays
                         for dest in disney.resources.buses.destinations])  # fmt: skip
    spliced = _splice(base, orders, AT_S, scenario=disney)
    assert spliced.meta.dispatch_from_s == AT_S
    before = _departures(simulate(disney, base, seed=disney.seed), AT_S)
    after = simulate(disney, spliced, seed=disney.seed)
    assert before and _departures(after, AT_S) == before
    # Without the handover time the orders govern from the start, and the past changes: what the field guards.
    unmarked = spliced.model_copy(update={"meta": spliced.meta.model_copy(update={"dispatch_from_s": None})})
    assert _departures(simulate(disney, unmarked, seed=disney.seed), AT_S) != before
    # Spliced again later, the orders keep governing from the first handover.
    again = _splice(spliced, orders, AT_S + 1800, scenario=disney)
    assert again.meta.dispatch_from_s == AT_S
    # A plan whose orders governed from the start keeps them doing so.
    assert _splice(orders, orders, AT_S, scenario=disney).meta.dispatch_from_s is None


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
    spliced = _splice(base, result.plan, AT_S, scenario=disney)
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
       st.floats(0, 900))  # fmt: skip
def test_the_riders_still_to_come_are_those_of_the_forecast_after_the_moment(row, at_offset, bucket_s, start_s):  # type: ignore[no-untyped-def]
    """`BayForecast.after(t)`: on buckets from t; by the end of each of its buckets as many riders have come as
    the forecast has coming from t to then (a bucket's riders spread evenly over it); nobody is made up or lost."""
    fc = BayForecast(bucket_s=bucket_s, arrivals={("bay", "d"): tuple(row)}, start_s=start_s)
    at_s = start_s + at_offset
    later = fc.after(at_s)
    assert later.start_s == at_s and later.bucket_s == bucket_s

    def by(forecast: BayForecast, t: float) -> float:
        """Riders reaching the bay by time t, with each bucket's spread evenly over it."""
        got = 0.0
        for k, riders in enumerate(forecast.arrivals.get(("bay", "d"), ())):
            lo = forecast.start_s + k * forecast.bucket_s
            got += riders * min(max((t - lo) / forecast.bucket_s, 0.0), 1.0)
        return got

    for k in (0, 1, 2, 7, 10**6):
        end = at_s + k * bucket_s
        assert by(later, end) == pytest.approx(by(fc, end) - by(fc, at_s), abs=1e-6)
    assert fc.after(start_s).total() == pytest.approx(fc.total())
    with pytest.raises(ValueError, match="at_s"):
        fc.after(start_s - 1)
