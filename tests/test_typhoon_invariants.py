"""Invariants of the typhoon model: conservation at all times (Hypothesis), calm days, suspensions, huangpu_typhoon."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typhoon_worlds import CALM_DAY, small_typhoon, storm, typhoon_worlds

from scenarios import ScenarioError, load_scenario
from scenarios.loading import scenario_from_document, scenario_graph
from scenarios.plan import ClearLane, DirectRiders, EscortBatch, Plan, PlanMeta
from scenarios.schema import FerryLine, HazardPoint
from scenarios.typhoon import (
    DIRECTIONS,
    TyphoonGeometry,
    default_plan,
    ferry_windows,
    hazard_timeline,
    inside,
    suspension_windows,
    team_names,
)
from simulation.typhoon import TyphoonModel, simulate


@st.composite
def random_plans(draw, scenario, geo: TyphoonGeometry) -> Plan:
    """Any plan the scenario allows: lanes cleared at random, batches by any team at any time, riders sent anywhere
    on their bank."""
    horizon = int(scenario.clock.horizon_s)
    actions: list = []
    for tunnel, spec in scenario.tunnels.items():
        for d in DIRECTIONS:
            if draw(st.booleans()):
                start = draw(st.integers(0, horizon))
                until = draw(st.integers(start + 1, horizon + 3600))
                lanes = draw(st.integers(1, spec.lanes_per_direction))
                actions.append(ClearLane(at_s=start, tunnel=tunnel, direction=d, until_s=until, lanes=lanes))
    teams = team_names(scenario)
    for _ in range(draw(st.integers(0, 10)) if teams else 0):
        actions.append(EscortBatch(at_s=draw(st.integers(0, horizon)),
                                   tunnel=draw(st.sampled_from(sorted(scenario.tunnels))),
                                   direction=draw(st.sampled_from(DIRECTIONS)), team=draw(st.sampled_from(teams)),
                                   max_riders=draw(st.integers(1, scenario.escorts.batch_size))))  # fmt: skip
    for origin in sorted({f.origin for f in scenario.riders.flows}):
        if draw(st.booleans()):
            nodes = sorted(n for n in geo.points_at if math.isfinite(geo.ride_s[origin][n]))
            start = draw(st.integers(0, horizon))
            until = draw(st.one_of(st.none(), st.integers(start, horizon)))
            actions.append(DirectRiders(at_s=start, origin=origin, to=draw(st.sampled_from(nodes)), until_s=until,
                                        share=draw(st.floats(0, 1))))  # fmt: skip
    return Plan.build(PlanMeta(scenario=scenario.name, produced_by="hypothesis"), actions)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typhoon_worlds(), st.data())
def test_riders_and_vehicles_are_conserved_at_all_times(doc, data):
    """At every sample, arrived = crossed + waiting + given up for riders and arrived = through + queued for
    vehicles; nobody crosses twice or after giving up; batches and ferries stay within their rules."""
    scenario = scenario_from_document(doc, file="random_typhoon.yaml")
    geo = TyphoonGeometry(scenario, scenario_graph(scenario))
    plan = data.draw(random_plans(scenario, geo)) if data.draw(st.booleans()) else default_plan(scenario, geo.graph)
    model = TyphoonModel(scenario, plan, geometry=geo)
    result = model.run()
    series, rec = result.series, result.records

    # Riders: the live counts balance at every sample and agree with the per-rider records.
    times = np.asarray(series["riders_arrived"][0])
    arrived, crossed, waiting, gave_up = (np.asarray(series[f"riders_{k}"][1])
                                          for k in ("arrived", "crossed", "waiting", "gave_up"))  # fmt: skip
    assert np.array_equal(arrived, crossed + waiting + gave_up)
    for t, n_crossed, n_gave_up in zip(times, crossed, gave_up, strict=True):
        assert np.count_nonzero(rec["start_s"] < t) <= n_crossed <= np.count_nonzero(rec["start_s"] <= t)
        assert np.count_nonzero(rec["gave_up_s"] < t) <= n_gave_up <= np.count_nonzero(rec["gave_up_s"] <= t)
    by_area = sum(np.asarray(v) for k, (_, v) in series.items() if k.startswith("riders_waiting:"))
    assert np.array_equal(by_area, waiting)

    # Each rider: crosses at most once, never after giving up; times run forward.
    assert rec["cross_count"].max(initial=0) <= 1
    went, quit_ = np.isfinite(rec["start_s"]), np.isfinite(rec["gave_up_s"])
    assert not np.any(went & quit_)
    assert np.allclose(rec["gave_up_s"][quit_], rec["appear_s"][quit_] + rec["patience_s"][quit_])
    assert np.all(rec["start_s"][went] >= rec["appear_s"][went])
    assert np.all(rec["start_s"][went] <= rec["appear_s"][went] + rec["patience_s"][went] + 1e-6)
    assert np.all(rec["done_s"][went] >= rec["start_s"][went])
    assert np.all(rec["wait_s"] >= -1e-6)
    assert result.kpis["riders_crossed"] + result.kpis["riders_stranded"] == result.kpis["riders"]

    # Vehicles: conserved exactly at every step, and the series reads the same queue.
    assert np.array_equal(rec["veh_arrived"], rec["veh_served"] + rec["veh_queue"])
    assert rec["veh_queue"].min(initial=0) >= 0
    assert np.all(np.diff(rec["veh_served"], axis=1) >= 0)
    for i, way in enumerate(model.ways):
        t_s, queued = series[f"vehicle_queue:{way[0]}:{way[1]}"]
        step = np.searchsorted(rec["step_end_s"], t_s[1:])
        assert np.array_equal(np.asarray(queued[1:]), rec["veh_queue"][i, step])

    # Escorts: no batch over its size, none outside a usable lane, no team in two batches at once.
    e = scenario.escorts
    for _team, tunnel, d, board, _free, n in model.batches:
        assert n <= e.batch_size
        assert inside(model.usable[(tunnel, d)], board)
        assert any(a <= board and board + geo.transit_s(tunnel, d) <= b + 1e-6 for a, b in model.usable[(tunnel, d)])
    for team in team_names(scenario):
        spans = sorted((board - e.setup_s, free) for t, _, _, board, free, n in model.batches if t == team and n)
        assert all(a[1] <= b[0] + 1e-6 for a, b in itertools.pairwise(spans))
    assert sum(n for *_, n in model.batches) == np.count_nonzero(rec["escorted"])

    # Ferries: no departure while suspended, none over capacity.
    for line, _direction, t, n in model.trips:
        assert not inside(model.suspended[line], t)
        assert n <= scenario.ferries[line].riders_per_trip


def test_a_calm_day_clears_nothing_and_nobody_waits_for_an_escort():
    """With no storm the default plan is empty, every rider crosses by ferry and no one queues for an escort."""
    scenario = small_typhoon(hazard={"timeline": CALM_DAY})
    plan = default_plan(scenario)
    assert plan.actions == ()
    result = simulate(scenario, plan)
    assert result.kpis["ferry_suspended_h"] == 0
    assert result.kpis["riders_escorted"] == 0
    assert result.kpis["escort_utilisation"] == 0
    assert result.kpis["riders_crossed"] > 0
    assert max(result.series["escort_queue_total"][1]) == 0
    assert not result.records["escorted"].any()
    assert not any(e.kind in ("lane_cleared", "batch", "ferry_suspended") for e in result.events)


def test_suspension_lasts_until_the_resume_delay_after_the_last_adverse_point():
    """A relapse inside the resume delay keeps the line stopped; one after it starts a new suspension."""
    line = FerryLine(piers=("a", "b"), headway_s=600, crossing_s=300, riders_per_trip=60, resume_delay_s=1800)
    pts = [HazardPoint(at_s=t, wind_force=w) for t, w in [(0, 5), (3600, 7), (7200, 5), (8000, 8), (9000, 4),
                                                           (20_000, 9)]]  # fmt: skip
    assert suspension_windows(pts, line, until_s=30_000) == ((3600, 10_800), (20_000, 30_000))
    orange = [HazardPoint(at_s=0, wind_force=3, warning="orange")]
    assert suspension_windows(orange, line, until_s=100) == ((0, 100),)
    never = line.model_copy(update={"suspend_warning": "none"})
    assert suspension_windows([HazardPoint(at_s=0, wind_force=3, warning="red")], never, until_s=100) == ()


def test_a_forecast_inject_revises_the_timeline_from_its_moment_on():
    """A `forecast` inject extends the storm in the model's timeline; the start-of-day plan keeps the old forecast."""
    hazard = storm((0, 3, "none"), (3600, 8, "orange"), (7200, 4, "blue"))
    inject = {"at_s": 5000, "kind": "forecast", "params": {"wind_force": 9, "warning": "red", "until_s": 10_800}}
    scenario = small_typhoon(hazard=hazard, injects=[inject])
    assert [(p.at_s, p.wind_force) for p in hazard_timeline(scenario, known_at_s=0)] == [(0, 3), (3600, 8), (7200, 4)]
    assert [(p.at_s, p.wind_force) for p in hazard_timeline(scenario)] == [(0, 3), (3600, 8), (5000, 9), (10_800, 4)]
    line = scenario.ferries["dongjin"]
    assert (line.suspend_wind_force, line.resume_delay_s) == (7, 1800)  # the line stops at force 7 and up
    # The full timeline: adverse (force 8) from 3600 s, force 9 from the revision at 5000 s, calm (force 4) from
    # the revision's end; the line resumes the resume delay after the calm: 10,800 + 1800 = 12,600 s.
    revised_end = inject["params"]["until_s"] + line.resume_delay_s
    assert ferry_windows(scenario)["dongjin"] == ((3600, revised_end),)
    # The start-of-day plan clears one lane for the suspension of the forecast known at 0 s (the inject at 5000 s
    # is not known yet): adverse from the first point at force >= 7 to the first calm point after it plus the
    # resume delay, and at least the minimum clearing time.
    points = [(p["at_s"], p["wind_force"]) for p in hazard["timeline"]]
    start = next(t for t, force in points if force >= line.suspend_wind_force)
    calm = next(t for t, force in points if t > start and force < line.suspend_wind_force)
    end = max(calm + line.resume_delay_s, start + scenario.lanes.min_clear_s)
    assert (start, end) == (3600, 9000)  # 7200 + 1800, min_clear_s 0
    (clear,) = default_plan(scenario).of_type(ClearLane)
    assert (clear.at_s, clear.until_s) == (start, end)
    result = simulate(scenario)
    assert result.kpis["ferry_suspended_h"] == pytest.approx((revised_end - start) / 3600)
    assert any(e.kind == "forecast_revised" and e.t_s == 5000 for e in result.events)
    bad = {**inject, "params": {"wind_force": 30}}
    with pytest.raises(ScenarioError, match=r"injects\[0\]\.params\.wind_force"):
        hazard_timeline(small_typhoon(hazard=hazard, injects=[bad]))


def test_a_conditional_forecast_revises_the_storm_only_if_its_condition_holds():
    """A forecast inject gated on the riders waiting changes the ferries' suspension only when the gate is met."""
    hazard = storm((0, 3, "none"), (3600, 8, "orange"), (7200, 4, "blue"))
    revision = {"at_s": 5000, "kind": "forecast", "params": {"wind_force": 9, "until_s": 10_800}}
    met = small_typhoon(hazard=hazard, injects=[{**revision, "condition": "riders_waiting > 0"}])
    unmet = small_typhoon(hazard=hazard, injects=[{**revision, "condition": "riders_waiting > 100000"}])
    fired, skipped = simulate(met, Plan(meta=PlanMeta(scenario=met.name))), simulate(unmet)
    delay = met.ferries["dongjin"].resume_delay_s
    # Fired: suspended from 3600 s until the revised calm (10,800 s) plus the resume delay; skipped: until the
    # forecast calm (7200 s) plus the resume delay.
    assert fired.kpis["ferry_suspended_h"] == pytest.approx((10_800 + delay - 3600) / 3600)
    assert skipped.kpis["ferry_suspended_h"] == pytest.approx((7200 + delay - 3600) / 3600)
    assert [e.kind for e in fired.events if e.kind.startswith("inject")] == ["inject"]
    assert [e.kind for e in skipped.events if e.kind.startswith("inject")] == ["inject_skipped"]
    resumed = [e.t_s for e in fired.events if e.kind == "ferry_resumed"]
    assert resumed == [10_800 + delay], "the resumption forecast before the revision is void"


def test_a_delay_inject_holds_back_the_escorts_not_yet_started():
    """Delaying all escort teams by 30 minutes at 01:00 shifts every later batch by 30 minutes."""
    delay = {"at_s": 3600, "kind": "delay", "target": "escorts", "params": {"delay_s": 1800}}
    base = small_typhoon(hazard=storm((0, 10, "red")))
    late = small_typhoon(hazard=storm((0, 10, "red")), injects=[delay])
    on_time = [e.t_s for e in simulate(base).events if e.kind == "batch"]
    delayed = [e.t_s for e in simulate(late).events if e.kind == "batch"]
    transit = TyphoonGeometry(late, scenario_graph(late)).transit_s("yanan", "ab")
    before = [t for t in on_time if t < 3600]
    shifted = [t + 1800 for t in on_time if t >= 3600 and t + 1800 + transit <= late.clock.horizon_s]
    assert delayed == pytest.approx(before + shifted, abs=1e-3)
    assert any(e.kind == "escort_delayed" for e in simulate(late).events)


def test_a_plan_naming_unknown_teams_or_too_many_lanes_is_refused():
    """A plan that clears more lanes than a tunnel has or names a team that does not exist is refused, by name."""
    scenario = small_typhoon()
    meta = PlanMeta(scenario=scenario.name)
    bad = Plan.build(meta, [
        ClearLane(at_s=0, tunnel="yanan", direction="ab", lanes=2, until_s=3600),
        ClearLane(at_s=1800, tunnel="yanan", direction="ab", lanes=1, until_s=7200),
        EscortBatch(at_s=0, tunnel="yanan", direction="ab", team="escort_9", max_riders=5),
    ])  # fmt: skip
    with pytest.raises(ScenarioError) as err:
        TyphoonModel(scenario, bad)
    assert "clears 3 lanes of yanan ab, which has 2" in str(err.value)
    assert "no escort team 'escort_9'" in str(err.value)


def test_same_seed_same_run_and_the_same_riders_under_any_plan():
    """The same seed gives the same KPIs; another plan faces the same riders (common random numbers)."""
    scenario = small_typhoon(hazard=storm((0, 9, "red")), riders={
        "flows": [{"origin": "area_bund_nanjing_e", "destination": "area_lujiazui",
                   "arrivals": {"periods": [{"from_s": 0, "rate_per_h": 200}]}}],
        "patience": {"dist": "exponential", "mean_s": 1500}})  # fmt: skip
    a, b = simulate(scenario, seed=3), simulate(scenario, seed=3)
    assert a.kpis == b.kpis and a.series == b.series
    c = simulate(scenario, Plan(meta=PlanMeta(scenario=scenario.name)), seed=3)
    for key in ("appear_s", "patience_s", "flow"):
        assert np.array_equal(a.records[key], c.records[key])
    assert c.kpis["riders_stranded"] > a.kpis["riders_stranded"]


def test_huangpu_typhoon_runs_under_its_default_plan_and_stops_its_ferries_in_the_storm():
    """The built-in 24-hour day suspends every line from 07:00 to 18:30 and the default plan escorts riders
    meanwhile; the ferries run overnight."""
    scenario = load_scenario("huangpu_typhoon")
    windows = ferry_windows(scenario)
    assert set(windows.values()) == {((25_200, 66_600),)}
    plan = default_plan(scenario)
    assert {(a.tunnel, a.direction, a.at_s, a.until_s) for a in plan.of_type(ClearLane)} == {
        (t, d, 25_200, 66_600) for t in ("fuxing", "dalian") for d in ("ab", "ba")}  # fmt: skip
    model = TyphoonModel(scenario, plan)
    result = model.run()
    k = result.kpis
    assert k["ferry_suspended_h"] == pytest.approx(11.5)
    suspended = {e.data["line"] for e in result.events if e.kind == "ferry_suspended" and e.t_s == 25_200}
    assert suspended == set(scenario.ferries)
    assert not any(25_200 <= t < 66_600 for _, _, t, _ in model.trips)
    assert any(t < 25_200 for _, _, t, _ in model.trips)  # the night's ferries run
    assert k["riders_escorted"] > 0
    batch_times = [e.t_s for e in result.events if e.kind == "batch"]
    assert batch_times and min(batch_times) >= 25_200 and max(batch_times) < 66_600
    assert k["vehicle_delay_h"] > 0 and 0 < k["escort_utilisation"] <= 1
    assert set(k) >= {"rider_mean_wait_min", "rider_p95_wait_min", "riders_stranded", "riders_crossed",
                      "vehicle_delay_h", "max_vehicle_queue", "escort_utilisation", "ferry_suspended_h"}  # fmt: skip
    idle = simulate(scenario, Plan(meta=PlanMeta(scenario=scenario.name)))
    assert k["riders_stranded"] < idle.kpis["riders_stranded"]
    assert k["vehicle_delay_h"] > idle.kpis["vehicle_delay_h"]


def test_an_order_with_a_share_sends_exactly_the_riders_whose_number_falls_in_it():
    """Two orders of half each split a bank area's riders by their own uniform number: those below 0.5 wait for
    the escort and are led through, the others wait at the pier, where no ferry runs in the storm."""
    scenario = small_typhoon(hazard=storm((0, 10, "red")), riders={
        "flows": [{"origin": "area_bund_nanjing_e", "destination": "area_lujiazui",
                   "arrivals": {"periods": [{"from_s": 0, "rate_per_h": 120}]}}],
        "patience": {"dist": "deterministic", "value_s": 1_000_000}})  # fmt: skip
    plan = default_plan(scenario)
    escort = next(a for a in plan.of_type(DirectRiders)).to
    end = scenario.clock.horizon_s
    orders = [DirectRiders(at_s=0, origin="area_bund_nanjing_e", to=escort, share=0.5, until_s=end),
              DirectRiders(at_s=0, origin="area_bund_nanjing_e", to="pier_jinling_e", share=0.5, until_s=end)]
    split = Plan.build(plan.meta, [*plan.of_type(ClearLane), *plan.of_type(EscortBatch), *orders])
    model = TyphoonModel(scenario, split, seed=5)
    records = model.run().records
    low = model.choice < 0.5
    assert records["escorted"][low].sum() > 0
    assert not records["escorted"][~low].any()
    assert (records["state"][~low & (records["appear_s"] < end)] != 2).all()


@pytest.mark.parametrize("t", [9 * 3600 + 37.3, 15 * 3600 + 5.9])
def test_a_run_stopped_between_events_has_played_every_riders_moment_due_by_then(t):
    """Riders' moments are played off their own calendar, not as SimPy events: a run stopped at a moment no SimPy
    event falls on has the riders that the whole run's records date at or before it appeared, gave up and
    crossed, and no others."""
    scenario = load_scenario("huangpu_typhoon")
    whole = simulate(scenario).records
    part = simulate(scenario, until_s=t)
    k, rec = part.kpis, part.records
    assert k["riders"] == np.count_nonzero(whole["appear_s"] <= t) > 0
    assert k["riders_crossed"] == np.count_nonzero(whole["start_s"] <= t) > 0
    gave_up = np.count_nonzero(whole["gave_up_s"] <= t)
    assert k["riders_stranded"] == k["riders"] - k["riders_crossed"] and gave_up > 0
    assert np.count_nonzero(np.isfinite(rec["gave_up_s"])) == gave_up
    assert np.array_equal(rec["state"] == 0, whole["appear_s"] > t)  # the riders yet to appear are unseen
    assert part.stats.events < simulate(scenario).stats.events
