"""Plans: lossless JSON round trip, and a diff that names exactly what changed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios import Plan, PlanMeta, ScenarioError, SolverStats, diff_plans
from scenarios.plan import (
    AssignStaff,
    ChangeShow,
    ClearLane,
    CloseExit,
    CloseRoad,
    DirectRiders,
    DispatchBus,
    EscortBatch,
    MeterFlow,
    OneWay,
    RouteVisitors,
    TradeOffPoint,
)

idents = st.from_regex(r"[a-z0-9_]{1,10}", fullmatch=True)
nodes = st.sampled_from(["site_1", "site_2", "zone_a", "bay_1", "hub_kangxin", "portal_a", "stair_x"])
times = st.floats(min_value=0, max_value=86_400, allow_nan=False)
maybe_times = st.none() | times
notes = st.text(max_size=15)
shares = st.floats(min_value=0, max_value=1)
directions = st.sampled_from(["ab", "ba"])

actions = st.one_of(
    st.builds(AssignStaff, at_s=times, pool=idents, to=nodes, count=st.integers(1, 5000), role=idents,
              wave=st.integers(0, 50), until_s=maybe_times, note=notes),
    st.builds(DispatchBus, at_s=times, origin=nodes, to=nodes, count=st.integers(1, 300),
              bus=st.none() | idents, note=notes),
    st.builds(RouteVisitors, at_s=times, origin=nodes, to=nodes, share=shares, note=notes),
    st.builds(ClearLane, at_s=times, tunnel=idents, direction=directions, lanes=st.integers(1, 3), until_s=times),
    st.builds(EscortBatch, at_s=times, tunnel=idents, direction=directions, team=idents,
              max_riders=st.integers(1, 500)),
    st.builds(DirectRiders, at_s=times, origin=nodes, to=nodes, share=shares, until_s=maybe_times),
    st.builds(MeterFlow, at_s=times, node=nodes, rate_per_min=st.floats(0, 5000), until_s=maybe_times),
    st.builds(OneWay, at_s=times, u=nodes, v=nodes, until_s=maybe_times),
    st.builds(CloseRoad, at_s=times, u=nodes, v=nodes, until_s=maybe_times),
    st.builds(CloseExit, at_s=times, node=nodes, until_s=maybe_times),
    st.builds(ChangeShow, at_s=times, segment=st.integers(0, 30),
              change=st.sampled_from(["pause", "shorten", "cancel"]), minutes=st.floats(0, 60)),
)  # fmt: skip
solver_stats = st.none() | st.builds(
    SolverStats,
    status=st.sampled_from(["OPTIMAL", "FEASIBLE", "INFEASIBLE"]),
    objective=st.none() | st.floats(-1e9, 1e9),
    bound=st.none() | st.floats(-1e9, 1e9),
    gap=st.none() | st.floats(0, 10),
    wall_s=st.none() | st.floats(0, 100),
)
metas = st.builds(PlanMeta, scenario=idents, scenario_hash=st.text("0123456789abcdef", max_size=64),
                  produced_by=st.sampled_from(["default", "optimizer", "user:li_wei"]),
                  state_time_s=times, seed=st.none() | st.integers(0, 2**63 - 1), solver=solver_stats,
                  objective_terms=st.dictionaries(idents, st.floats(-1e6, 1e6), max_size=3), note=notes)  # fmt: skip
plans = st.builds(lambda meta, acts: Plan.build(meta, acts), metas, st.lists(actions, max_size=25))


@settings(max_examples=300)
@given(plans)
def test_json_round_trip_is_lossless(plan):
    """Any plan parsed back from its JSON equals the original, field for field, with the same digest."""
    again = Plan.from_json(plan.to_json())
    assert again == plan
    assert again.digest() == plan.digest()
    assert diff_plans(plan, again).empty


def test_a_trade_off_set_round_trips_and_its_absence_changes_no_digest():
    """A plan's trade-off set survives JSON; a plan without one has no `trade_off` in its JSON, so the digests
    of plans made before the field existed are unchanged."""
    meta = PlanMeta(scenario="s", produced_by="optimizer:typhoon")
    bare = Plan.build(meta, [ClearLane(at_s=0, tunnel="t", direction="ab", until_s=900)])
    assert "trade_off" not in bare.to_json() and "trade_off" not in bare.model_dump(mode="json")["meta"]
    point = TradeOffPoint(vehicle_weight=0.5, rider_wait_h=10.0, riders_stranded=4.0, vehicle_h=20.0,
                          cleared_periods=8, period_s=900, chosen=True)  # fmt: skip
    rich = bare.model_copy(update={"meta": meta.model_copy(update={"trade_off": (point,)})})
    again = Plan.from_json(rich.to_json())
    assert again.meta.trade_off == (point,) and again.digest() == rich.digest() != bare.digest()


@settings(max_examples=200)
@given(plans, st.data())
def test_diff_names_exactly_the_changed_field(plan, data):
    """Changing one number of one action shows as one change of that field, nothing added or removed."""
    candidates = [
        (i, f)
        for i, a in enumerate(plan.actions)
        for f in ("count", "share", "max_riders", "rate_per_min", "minutes", "lanes")
        if f in type(a).model_fields and f not in a.key_fields
    ]
    if not candidates:
        return
    i, name = data.draw(st.sampled_from(candidates))
    old = plan.actions[i]
    value = getattr(old, name)
    new_value = value + 1 if isinstance(value, int) else (value / 2 if value > 0.5 else value + 0.25)
    changed = old.model_copy(update={name: new_value})
    # Skip the rare case where an identical action already exists in the plan (it then pairs with that).
    if changed in plan.actions:
        return
    new_plan = plan.model_copy(update={"actions": (*plan.actions[:i], changed, *plan.actions[i + 1 :])})
    diff = diff_plans(plan, new_plan)
    assert not diff.added and not diff.removed and not diff.meta
    assert len(diff.changed) == 1
    assert diff.changed[0].fields == ((name, value, new_value),)


@settings(max_examples=100)
@given(plans, actions)
def test_diff_reports_an_inserted_action_as_added(plan, extra):
    """Inserting one action shows exactly that action as added."""
    new_plan = Plan.build(plan.meta, [*plan.actions, extra])
    diff = diff_plans(plan, new_plan)
    assert diff.added == (extra,)
    assert not diff.removed and not diff.changed


def test_diff_lines_are_readable():
    """The text diff shows removals, additions and field changes with times."""
    meta = PlanMeta(scenario="disney_mass_testing")
    old = Plan.build(meta, [
        AssignStaff(at_s=600, pool="pudong", to="site_1", count=40, role="swabber"),
        DispatchBus(at_s=3600, origin="bay_1", to="hub_kangxin", count=10),
    ])  # fmt: skip
    new = Plan.build(meta, [
        AssignStaff(at_s=600, pool="pudong", to="site_1", count=55, role="swabber"),
        RouteVisitors(at_s=0, origin="zone_a", to="site_2", share=0.5),
    ])  # fmt: skip
    lines = diff_plans(old, new).lines()
    assert "+ +00:00:00 route_visitors origin=zone_a to=site_2 share=0.5" in lines
    assert "- +01:00:00 dispatch_bus origin=bay_1 to=hub_kangxin count=10" in lines
    assert "~ +00:10:00 assign_staff pool=pudong to=site_1 role=swabber wave=0: count: 40 -> 55" in lines


def test_unordered_actions_are_refused_with_the_position():
    """A plan whose actions go back in time names the offending position."""
    text = (
        '{"meta": {"scenario": "x"}, "actions": ['
        '{"type": "close_exit", "at_s": 100, "node": "a"}, {"type": "close_exit", "at_s": 50, "node": "b"}]}'
    )
    with pytest.raises(ScenarioError, match=r"actions\[1\]\.at_s"):
        Plan.from_json(text, file="p.json")


def test_malformed_plan_names_field_and_file():
    """A plan with a bad field is refused with file, field path and reason."""
    text = (
        '{"meta": {"scenario": "x"}, "actions": '
        '[{"type": "assign_staff", "at_s": 0, "pool": "p", "to": "s", "count": -2}]}'
    )
    with pytest.raises(ScenarioError) as info:
        Plan.from_json(text, file="plan.json")
    assert str(info.value) == "plan.json: actions[0].count: must be >= 1 (got -2)"
