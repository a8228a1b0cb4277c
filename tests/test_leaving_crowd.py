"""A crowd leaving a venue for stations: destinations that are exits are where people leave, in the shares the
demand gives, gone as they arrive (no dwell, no forecourt to stand on); a station as a destination that is not an
exit, or a place to stay without a dwell, is refused at its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crowd_builders import crowd_scenario, plan_of

from scenarios import ScenarioError
from scenarios.checks import check_scenario
from scenarios.graphs import scenario_graph
from simulation.crowd import CrowdModel

# A venue's gate a; a junction j 50 m on; station s 100 m beyond it, station t 290 m the other way.
NODES = [("a", "entrance", 0, 0, 0), ("j", "junction", 50, 0, 0), ("s", "metro", 150, 0, 0),
         ("t", "metro", 50, 285, 0), ("v", "square", 0, 60, 500)]  # fmt: skip
EDGES = [("a", "j", 50, 4.0), ("j", "s", 100, 4.0), ("j", "t", 290, 4.0), ("a", "v", 60, 4.0)]
FREE_MPS = 1.34
PEOPLE = 100
SHARES = {"s": 0.6, "t": 0.4}


def _venue(tmp: Path, destinations: dict[str, float], exits: list[str], **extra: Any):  # type: ignore[no-untyped-def]
    """The venue lets `PEOPLE` out through a over 100 s from the start."""
    demand = {"release": {"at_s": 0, "people": PEOPLE, "over_s": 100}, "origins": {"a": 1.0},
              "destinations": destinations}  # fmt: skip
    extra.setdefault("dwell", None)
    return crowd_scenario(tmp, NODES, EDGES, origins={"a": 1.0}, destinations=destinations, exits=exits,
                          horizon_s=3600, demand=demand, **extra)  # fmt: skip


def _person_s_on(m: CrowdModel, u: str, v: str) -> float:
    e = m.net.edge_index[(u, v)]
    first = m.net.first_cell[e]
    return float(m.n_cells_arr[first : first + m.net.n_cells[e]].sum()) * m.dt


def test_people_walk_to_their_station_in_its_share_and_are_gone_on_arrival(tmp_path):
    """Of 100 let out, 60 head for s and 40 for t (not all to the nearest exit): the person-seconds on each
    branch are its people times its free walking time (60 x 100 m and 40 x 290 m at 1.34 m/s); nobody ever
    dwells, and by the end all 100 have left, each as they reached their station."""
    on = {("j", "s"): 0.0, ("j", "t"): 0.0}
    dwelling: list[float] = []

    def watch(m: CrowdModel) -> None:
        for way in on:
            on[way] += _person_s_on(m, *way)
        dwelling.append(float(m.dwell_at.sum() + m.dwelling.sum()))

    scenario = _venue(tmp_path, SHARES, ["s", "t"])
    result = CrowdModel(scenario, plan_of(scenario), seed=1, on_step=watch).run()
    assert on[("j", "s")] == pytest.approx(PEOPLE * SHARES["s"] * 100 / FREE_MPS, rel=1e-6)
    assert on[("j", "t")] == pytest.approx(PEOPLE * SHARES["t"] * 290 / FREE_MPS, rel=1e-6)
    assert max(dwelling) == 0.0
    assert result.kpis["departed"] == pytest.approx(PEOPLE)
    assert result.kpis["visitors_served"] == pytest.approx(PEOPLE)
    assert result.kpis["on_site_end"] == pytest.approx(0.0, abs=1e-6)


def test_a_place_to_stay_and_a_station_mix(tmp_path):
    """Half go to square v and stay (a 10-minute dwell), half leave at s: when the square's people are still
    there, those who went to s are already gone."""
    dwell = {"dist": "deterministic", "value_s": 600}
    scenario = _venue(tmp_path, {"v": 0.5, "s": 0.5}, ["s"], dwell=dwell)
    model = CrowdModel(scenario, plan_of(scenario), seed=1)
    model.run_until(500)
    people = model.people()
    assert model.departed == pytest.approx(PEOPLE / 2, rel=1e-3)  # all of s's half, within the walk's tail
    assert float(model.dwell_at.sum()) == pytest.approx(PEOPLE / 2, rel=1e-3)  # the square's, standing there
    assert people["entered"] == pytest.approx(PEOPLE)


def test_a_station_that_is_not_an_exit_or_a_stay_without_a_dwell_is_refused(tmp_path):
    """A station as a destination must be one of the exits (validate: one line at the destination), and a place
    to stay needs a dwell (one line at `dwell`)."""
    scenario = _venue(tmp_path, SHARES, ["s"], dwell={"dist": "deterministic", "value_s": 60})
    findings = check_scenario(scenario, scenario_graph(scenario), "venue.yaml")
    assert [(f.problem.path, f.warning) for f in findings] == [("demand.destinations.t", False)]
    assert "'t' is a metro, a way out: list it in exits" in findings[0].problem.reason
    with pytest.raises(ScenarioError) as info:
        _venue(tmp_path, {"v": 0.5, "s": 0.5}, ["s"])
    [problem] = info.value.problems
    assert problem.path == "dwell" and "people stay at 'v'" in problem.reason


def test_people_heading_for_a_closed_station_leave_by_the_other(tmp_path):
    """With station s closed from the start (a `close_exit` inject), all 100 walk to t: 100 x 290 m at 1.34 m/s
    on the way there (to 1e-5: those turned round in the first step), nobody on the way to s, all gone by the end."""
    on = {("j", "s"): 0.0, ("j", "t"): 0.0}

    def watch(m: CrowdModel) -> None:
        for way in on:
            on[way] += _person_s_on(m, *way)

    close = {"at_s": 0, "kind": "close_exit", "target": "s"}
    scenario = _venue(tmp_path, SHARES, ["s", "t"], injects=[close])
    result = CrowdModel(scenario, plan_of(scenario), seed=1, on_step=watch).run()
    assert on[("j", "s")] == 0.0
    assert on[("j", "t")] == pytest.approx(PEOPLE * 290 / FREE_MPS, rel=1e-5)
    assert result.kpis["departed"] == pytest.approx(PEOPLE)
