"""How held and turned-away people behave: patience runs out (another viewing area, home, or push on), a metro
station holds people up to its capacity, trains skip a closed station and its arrivals go to the neighbouring
stations; every person is on the graph or gone, at every step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from crowd_builders import crowd_scenario, plan_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios import ScenarioError
from scenarios.crowd import check_plan
from scenarios.loading import scenario_graph
from scenarios.plan import AssignStaff, CloseExit, CloseStation, MeterFlow
from scenarios.schema import CrowdScenario
from simulation.crowd import CrowdModel
from simulation.crowd.readout import waits_min

KEEP_SHARES = {"other_area": 0.25, "home": 0.5, "push_on": 0.25}


def _gate(tmp: Path, *, patience: dict[str, Any] | None, horizon_s: float = 600) -> CrowdScenario:
    """One entrance (a team posted there), a 60 m walk to a large viewing area, an exit beside the entrance;
    arrivals one a second; a holding area large enough never to fill."""
    nodes = [("o", "entrance", 0, 0, 0), ("v", "viewing_area", 60, 0, 5000), ("x", "exit", 0, -30, 0)]
    edges = [("o", "v", 60, 6), ("o", "x", 30, 4)]
    extra: dict[str, Any] = {} if patience is None else {"patience": patience}
    return crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"],
                          rate_per_h=3600, horizon_s=horizon_s, holding_m2=10_000.0,
                          staff={"team": {"count": 10, "base": "o"}}, **extra)  # fmt: skip


def _metered(s: CrowdScenario, rate_per_min: float) -> Any:
    return plan_of(s, AssignStaff(at_s=0, pool="team", to="o", count=10),
                   MeterFlow(at_s=0, node="o", rate_per_min=rate_per_min))  # fmt: skip


def test_a_fixed_patience_sends_each_held_person_off_after_exactly_that_wait(tmp_path):
    """A gate metered to nobody, one arrival a second for 600 s, patience exactly 120 s: the people who came in
    the first 481 seconds (t = 0 … 480) have waited 120 s by the end and gave up, a quarter to another area, half
    home and a quarter pushing on (who stay); 600 − 0.75 × 481 = 239.25 are still held."""
    s = _gate(tmp_path, patience={"wait": {"dist": "deterministic", "value_s": 120}, **KEEP_SHARES,
                                  "source": "EST: test"})  # fmt: skip
    result = CrowdModel(s, _metered(s, 0), seed=1).run()
    k = result.kpis
    assert k["visitors"] == pytest.approx(600)
    assert k["diverted"] == pytest.approx(0.25 * 481)
    assert k["went_home"] == pytest.approx(0.5 * 481)
    assert k["pushed_on"] == pytest.approx(0.25 * 481)
    assert k["entry_queue_end"] == pytest.approx(600 - 0.75 * 481)
    assert k["held_off_graph"] == pytest.approx(0.0, abs=1e-9)


def test_without_patience_nobody_gives_up(tmp_path):
    """The same gate with no patience in the scenario: all 600 are still held at the end, nobody diverted or gone
    home (the behaviour before patience existed)."""
    s = _gate(tmp_path, patience=None)
    k = CrowdModel(s, _metered(s, 0), seed=1).run().kpis
    assert k["entry_queue_end"] == pytest.approx(600)
    assert k["diverted"] == k["went_home"] == k["pushed_on"] == 0.0


def test_an_exponential_patience_empties_the_queue_as_the_fluid_equation_says(tmp_path):
    """Held by a closed gate with arrivals λ = 1/s and exponential patience of mean τ = 300 s, the number waiting
    follows dN/dt = λ − N/τ: N(600 s) = λτ(1 − e^−2) = 259.4, the other 340.6 gave up (all went home); within 2%
    (the patience is sampled, and rounded up to whole steps)."""
    s = _gate(tmp_path, patience={"wait": {"dist": "exponential", "mean_s": 300}, "other_area": 0.0, "home": 1.0,
                                  "push_on": 0.0, "source": "EST: test"})  # fmt: skip
    k = CrowdModel(s, _metered(s, 0), seed=1).run().kpis
    waiting = 300 * (1 - math.exp(-2))
    assert k["entry_queue_end"] == pytest.approx(waiting, rel=0.02)
    assert k["went_home"] == pytest.approx(600 - waiting, rel=0.02)
    assert k["diverted"] == 0.0


def test_those_who_wait_longest_go_in_first_and_the_rest_give_up_at_their_patience(tmp_path):
    """A meter letting in 30 a minute (0.5/s) against one arrival a second, patience 120 s: first in, first out,
    nobody waits more than 120 s; the meter lets in 300 by 600 s; at the end those who came in the last 120 s
    are held (the half of the front cohort the meter has not yet taken aside): about 120; the other 180 gave up."""
    s = _gate(tmp_path, patience={"wait": {"dist": "deterministic", "value_s": 120}, "other_area": 1.0, "home": 0.0,
                                  "push_on": 0.0, "source": "EST: test"})  # fmt: skip
    model = CrowdModel(s, _metered(s, 30), seed=1)
    k = model.run().kpis
    assert model.entered_network - k["entry_queue_end"] - k["diverted"] == pytest.approx(300, abs=1.5)  # let in
    assert k["entry_queue_end"] == pytest.approx(120, abs=1.5)
    assert k["diverted"] == pytest.approx(180, abs=1.5)
    assert k["held_p95_wait_min"] <= 2.0 + 1e-9


def _stations(tmp: Path, *, cap_a: int = 100, cap_b: int = 300, horizon_s: float = 300,
              **extra: Any) -> CrowdScenario:  # fmt: skip
    """Two metro station exits a and b (each an origin, a team posted at each), 200 m apart, each a 50 m walk from
    a large viewing area, an exit x; every arrival comes by train to a, one a second."""
    nodes = [("a", "metro_exit", 0, 0, 0), ("b", "metro_exit", 200, 0, 0), ("v", "viewing_area", 100, 30, 5000),
             ("x", "exit", 100, -60, 0)]  # fmt: skip
    edges = [("a", "v", 105, 6), ("b", "v", 105, 6), ("a", "x", 120, 4), ("b", "x", 120, 4)]
    demand = {"arrivals": {"process": "deterministic", "periods": [{"from_s": 0, "rate_per_h": 3600}]},
              "origins": {"a": 1.0, "b": 0.0}, "destinations": {"v": 1.0}, "holding_default_m2": 10_000.0,
              "stations": {"a": {"capacity": cap_a, "neighbours": ["b"], "source": "EST: test"},
                           "b": {"capacity": cap_b, "neighbours": ["a"], "source": "EST: test"}}}  # fmt: skip
    return crowd_scenario(tmp, nodes, edges, origins={"a": 1.0, "b": 0.0}, destinations={"v": 1.0}, exits=["x"],
                          horizon_s=horizon_s, demand=demand,
                          staff={"sa": {"count": 10, "base": "a"}, "sb": {"count": 10, "base": "b"}},
                          **extra)  # fmt: skip


def _shut_gates(s: CrowdScenario, *more: Any) -> Any:
    """Both station exits metered to nobody: whoever the trains bring stays inside."""
    return plan_of(s, AssignStaff(at_s=0, pool="sa", to="a", count=10),
                   AssignStaff(at_s=0, pool="sb", to="b", count=10), MeterFlow(at_s=0, node="a", rate_per_min=0),
                   MeterFlow(at_s=0, node="b", rate_per_min=0),
                   *more)  # fmt: skip


def test_a_station_holds_people_up_to_its_capacity_and_the_rest_stay_on_the_train(tmp_path):
    """Station a (capacity 100) with its exit shut, 300 arrivals: 100 inside at the end (the most inside at once),
    200 refused (they stay on the train); b, with no arrivals, empty."""
    s = _stations(tmp_path)
    model = CrowdModel(s, _shut_gates(s), seed=1)
    k = model.run().kpis
    assert k["station_held_peak"] == pytest.approx(100)
    assert k["refused_full"] == pytest.approx(200)
    assert model.people()["in_stations"] == pytest.approx(100)
    assert k["station_skipped"] == 0.0


def test_trains_skip_a_closed_station_and_its_arrivals_go_to_the_neighbour_up_to_its_capacity(tmp_path):
    """Station a closed from 100 s: its first 100 arrivals are inside a, the next 200 go to b (capacity 150):
    150 inside b, 50 refused there; 200 counted as skipped."""
    s = _stations(tmp_path, cap_b=150)
    model = CrowdModel(s, _shut_gates(s, CloseStation(at_s=100, station="a")), seed=1)
    k = model.run().kpis
    inside = model.n_nodes_arr[model.holding_node].sum(axis=1)
    assert inside[model.origins.index("a")] == pytest.approx(100)
    assert inside[model.origins.index("b")] == pytest.approx(150)
    assert k["station_skipped"] == pytest.approx(200)
    assert k["refused_full"] == pytest.approx(50)
    assert k["station_held_peak"] == pytest.approx(250)
    assert any(e.kind == "station" for e in model.rec.events)


def test_when_trains_skip_every_neighbour_too_the_arrivals_ride_on_beyond_the_area(tmp_path):
    """Both stations closed from the start: all 300 arrivals ride on (diverted), none inside either station."""
    s = _stations(tmp_path)
    plan = _shut_gates(s, CloseStation(at_s=0, station="a"), CloseStation(at_s=0, station="b"))
    model = CrowdModel(s, plan, seed=1)
    k = model.run().kpis
    assert k["diverted"] == pytest.approx(300)
    assert k["station_skipped"] == pytest.approx(300)
    assert model.people()["in_stations"] == 0.0


@pytest.mark.parametrize("skipped", [False, True])
def test_a_skipped_station_takes_nobody_away(tmp_path, skipped):
    """600 people released at an entrance walk 50 m to station a to leave by train; while the trains skip a they
    walk on 410 m to the exit x instead: everybody leaves either way, none of them at a when it is skipped."""
    nodes = [("o", "entrance", 0, 50, 0), ("a", "metro_exit", 0, 0, 0), ("x", "exit", 0, -400, 0)]
    edges = [("o", "a", 50, 6), ("a", "x", 410, 6)]
    demand = {"release": {"at_s": 0, "people": 600, "over_s": 300}, "origins": {"o": 1.0, "a": 0.0},
              "destinations": {"a": 1.0}, "stations": {"a": {"capacity": 500}}}
    s = crowd_scenario(tmp_path, nodes, edges, origins={"o": 1.0, "a": 0.0}, destinations={"a": 1.0},
                       exits=["a", "x"], horizon_s=1200, demand=demand)  # fmt: skip
    plan = plan_of(s, *([CloseStation(at_s=0, station="a")] if skipped else []))
    model = CrowdModel(s, plan, seed=1)
    k = model.run().kpis
    assert k["departed"] == pytest.approx(600, rel=1e-6)
    assert k["visitors_served"] == (0.0 if skipped else pytest.approx(600, rel=1e-6))  # reached a to leave there


def test_people_in_equal_people_on_the_graph_in_stations_and_gone_at_every_step(tmp_path):
    """With holding areas, stations (one closed for a while), a metered gate, a closed entrance and exponential
    patience: at every step the people who came are those on the graph (waiting, in the stations among them,
    walking, dwelling) plus those gone (by an exit, turned away, diverted, home), to 1e-9 of them."""
    nodes = [("a", "metro_exit", 0, 0, 0), ("b", "metro_exit", 200, 0, 0), ("e", "entrance", 100, 80, 0),
             ("v", "viewing_area", 100, 30, 300), ("x", "exit", 100, -60, 0)]  # fmt: skip
    edges = [("a", "v", 105, 3), ("b", "v", 105, 3), ("e", "v", 50, 3), ("a", "x", 120, 4), ("b", "x", 120, 4)]
    demand = {"arrivals": {"process": "poisson", "periods": [{"from_s": 0, "rate_per_h": 40_000}]},
              "origins": {"a": 0.4, "b": 0.3, "e": 0.3}, "destinations": {"v": 1.0},
              "holding_m2": {"e": 40.0},
              "stations": {"a": {"capacity": 150, "neighbours": ["b"]}, "b": {"capacity": 200, "neighbours": ["a"]}}}
    s = crowd_scenario(tmp_path, nodes, edges, origins={"a": 0.4, "b": 0.3, "e": 0.3}, destinations={"v": 1.0},
                       exits=["x", "b"], horizon_s=900, demand=demand,
                       dwell={"dist": "lognormal", "mean_s": 120, "sd_s": 60},
                       patience={"wait": {"dist": "exponential", "mean_s": 90}, **KEEP_SHARES, "source": "EST: test"},
                       staff={"t": {"count": 10, "base": "e"}})  # fmt: skip
    plan = plan_of(s, AssignStaff(at_s=0, pool="t", to="e", count=10),
                   MeterFlow(at_s=0, node="e", rate_per_min=20), CloseStation(at_s=200, station="a", until_s=500),
                   CloseExit(at_s=300, node="e", until_s=600))  # fmt: skip
    gaps: list[float] = []

    def books(m: CrowdModel) -> None:
        p = m.people()
        gone = p["departed"] + p["refused"] + p["diverted"] + p["went_home"]
        gaps.append(abs(p["entered"] - p["queued"] - p["inside"] - gone))
        assert p["off_graph"] == 0.0
        assert 0.0 <= p["in_stations"] <= p["queued"] + 1e-9

    model = CrowdModel(s, plan, seed=3, on_step=books)
    k = model.run().kpis
    assert len(gaps) == model.n_steps
    assert max(gaps) <= 1e-9 * model.entered
    assert k["held_off_graph"] == pytest.approx(0.0, abs=1e-6)
    assert k["went_home"] > 0 and k["diverted"] > 0 and k["station_skipped"] > 0  # every way out was taken
    assert k["pushed_on"] == pytest.approx(k["diverted"])  # a quarter each (none rode on: b was open)


def _doc(**demand_extra: Any) -> dict[str, Any]:
    return {"name": "bad", "kind": "crowd", "title": "bad", "clock": {"start": "2021-07-01T19:00:00", "horizon_s": 600},
            "graph": "world.geojson", "seed": 1, "exits": ["x"], "dwell": {"dist": "deterministic", "value_s": 60},
            "demand": {"arrivals": {"periods": [{"from_s": 0, "rate_per_h": 100}]}, "origins": {"a": 1.0},
                       "destinations": {"v": 1.0}, **demand_extra}}  # fmt: skip


def _problems(tmp: Path, doc: dict[str, Any]) -> list[str]:
    from crowd_builders import write_graph

    from scenarios.loading import scenario_from_document

    write_graph(tmp / "world.geojson", [("a", "metro_exit", 0, 0, 0), ("b", "metro_exit", 200, 0, 0),
                                        ("v", "viewing_area", 100, 30, 5000), ("x", "exit", 100, -60, 0)],
                [("a", "v", 105, 6), ("b", "v", 105, 6), ("a", "x", 120, 4)])  # fmt: skip
    with pytest.raises(ScenarioError) as info:
        scenario_from_document(doc, file="bad.yaml", base_dir=tmp)
    return [str(p) for p in info.value.problems]


def test_validate_names_a_negative_patience_and_shares_that_do_not_add_up(tmp_path):
    """A negative patience and patience shares adding up to 0.9 are each refused at their field path."""
    doc = _doc()
    doc["patience"] = {"wait": {"dist": "exponential", "mean_s": -5}, **KEEP_SHARES, "source": "EST"}
    assert _problems(tmp_path, doc) == ["bad.yaml: patience.wait.mean_s: must be > 0.0 (got -5)"]
    doc["patience"] = {"wait": {"dist": "exponential", "mean_s": 60}, "other_area": 0.5, "home": 0.3, "push_on": 0.1,
                       "source": "EST"}  # fmt: skip
    found = _problems(tmp_path, doc)
    assert len(found) == 1 and found[0].startswith("bad.yaml: patience: ")
    assert "must add up to 1 (they add up to 0.9)" in found[0]


def test_validate_names_an_unknown_station(tmp_path):
    """A station's neighbour that is not a station of the demand, and a station that is not an origin, are refused
    with the name and where it was written."""
    found = _problems(tmp_path, _doc(stations={"a": {"capacity": 100, "neighbours": ["b"]}}))
    assert len(found) == 1 and "stations.a.neighbours[0]: 'b' is not a station of the demand (a)" in found[0]
    found = _problems(tmp_path, _doc(stations={"b": {"capacity": 100}}))
    assert len(found) == 1 and "stations.b: not an origin of the demand (a)" in found[0]


def test_a_plan_closing_an_unknown_station_is_refused(tmp_path):
    """`close_station` on a node that is not one of the scenario's stations is a plan problem naming it."""
    s = _stations(tmp_path)
    s = s.model_copy(update={"demand": s.demand.model_copy(update={"stations": {}})})
    problems = check_plan(plan_of(s, CloseStation(at_s=0, station="a")), s, scenario_graph(s))
    assert [str(p) for p in problems] == [
        "plan: actions[0].station: unknown station 'a' (the scenario's demand.stations: none)"
    ]


def test_the_optimiser_has_trains_skip_a_station_that_cannot_hold_its_arrivals(tmp_path):
    """Station a holds 200 and lets out about 1.3 a second through its 1 m exit while trains bring 3 a second; its
    neighbour b holds 5,000 behind a 6 m exit. The default plan fills a and leaves the rest on the trains; the
    optimiser has the trains skip a, says so in its rationale with how many it sends on, and in the simulation
    nobody is left on a train."""
    from optimizer.crowd import optimise_crowd
    from optimizer.result import SolveParams
    from simulation.crowd import simulate

    nodes = [("a", "metro_exit", 0, 0, 0), ("b", "metro_exit", 400, 0, 0), ("v", "viewing_area", 200, 60, 20_000),
             ("x", "exit", 200, -100, 0)]  # fmt: skip
    edges = [("a", "v", 215, 1), ("b", "v", 215, 6), ("v", "x", 170, 6)]
    demand = {"arrivals": {"process": "deterministic", "periods": [{"from_s": 0, "rate_per_h": 10_800}]},
              "origins": {"a": 1.0, "b": 0.0}, "destinations": {"v": 1.0}, "holding_default_m2": 10_000.0,
              "stations": {"a": {"capacity": 200, "neighbours": ["b"]}, "b": {"capacity": 5000, "neighbours": ["a"]}}}
    s = crowd_scenario(tmp_path, nodes, edges, origins={"a": 1.0, "b": 0.0}, destinations={"v": 1.0}, exits=["x"],
                       horizon_s=1800, demand=demand)  # fmt: skip
    result = optimise_crowd(s, SolveParams(time_limit_s=10, seed=1))
    assert result.plan is not None
    closures = [a for a in result.plan.actions if isinstance(a, CloseStation)]
    assert [c.station for c in closures] == ["a"] and closures[0].at_s == 0.0
    assert any(line.startswith("station a:") and "sent on to b" in line for line in result.rationale)
    assert any(line.startswith("people:") for line in result.rationale)
    default = simulate(s, seed=1).kpis
    planned = simulate(s, result.plan, seed=1).kpis
    assert default["refused_full"] > 1000
    assert planned["refused_full"] == 0.0
    assert planned["station_skipped"] == pytest.approx(5400, rel=0.01)


def test_validate_warns_of_a_station_capacity_its_area_cannot_hold(tmp_path):
    """A station of capacity 10,000 whose waiting area is the default 500 m² holds at most 2,700 at the jam
    density (5.4 /m²): `validate` warns at the capacity, naming both figures."""
    from scenarios.checks import crowd_checks

    s = _stations(tmp_path, cap_a=10_000)
    s = s.model_copy(update={"demand": s.demand.model_copy(update={"holding_default_m2": 500.0})})
    found = [f for f in crowd_checks(s, scenario_graph(s), "s.yaml") if "stations" in f.problem.path]
    assert [(f.warning, str(f.problem)) for f in found] == [(True, "s.yaml: demand.stations.a.capacity: 10,000 people "
            "do not fit in 500 m² (at most 2,700 at the jam density, 5.40 /m²): the station holds that many; give "
            "its area_m2")]  # fmt: skip


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patience_s=st.integers(min_value=20, max_value=200), rate_per_min=st.integers(min_value=0, max_value=50),
       home=st.integers(min_value=0, max_value=4), push_on=st.integers(min_value=0, max_value=4))  # fmt: skip
def test_held_people_never_wait_past_their_patience_and_nobody_is_lost(tmp_path, patience_s, rate_per_min, home,
                                                                       push_on):  # fmt: skip
    """For any fixed patience, meter rate and shares (other_area taking what home and push_on leave): people in =
    on the graph + gone at every step, and with nobody pushing on, nobody waits longer than the patience (to the
    steps between two settlings of who gives up)."""
    home_share, push_share = home / 10, push_on / 10
    patience = {"wait": {"dist": "deterministic", "value_s": patience_s},
                "other_area": round(1 - home_share - push_share, 10), "home": home_share, "push_on": push_share,
                "source": "EST"}  # fmt: skip
    s = _gate(tmp_path, horizon_s=400, patience=patience)
    gaps: list[float] = []

    def books(m: CrowdModel) -> None:
        p = m.people()
        gaps.append(abs(p["entered"] - p["queued"] - p["inside"] - p["departed"] - p["refused"] - p["diverted"]
                        - p["went_home"]))  # fmt: skip

    model = CrowdModel(s, _metered(s, rate_per_min), seed=1, on_step=books)
    model.run()
    assert max(gaps) <= 1e-9 * max(model.entered, 1.0)
    waits, _ = waits_min(model)
    if push_on == 0 and waits.size:
        every = model.waiting.every if model.waiting is not None else 1  # settled every so many steps
        assert waits.max() <= (patience_s + every * model.dt) / 60 + 1e-9
