"""Space-bound waiting: people held before an entrance stand in its holding area, on the graph, at a density
every KPI and threshold sees; nobody waits off the graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of

from scenarios.plan import AssignStaff, CloseExit, MeterFlow
from scenarios.schema import CrowdScenario
from simulation.crowd import CrowdModel


def _gate(tmp: Path, *, holding_m2: float, rate_per_h: float = 3600.0, horizon_s: float = 600) -> CrowdScenario:
    """One entrance with a team posted, a 60 m walk to a large viewing area, an exit beside the entrance."""
    nodes = [("o", "entrance", 0, 0, 0), ("v", "viewing_area", 60, 0, 5000), ("x", "exit", 0, -30, 0)]
    edges = [("o", "v", 60, 6), ("o", "x", 30, 4)]
    s = crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"],
                       rate_per_h=rate_per_h, horizon_s=horizon_s, staff={"team": {"count": 10, "base": "o"}},
                       demand={"arrivals": {"process": "deterministic",
                                            "periods": [{"from_s": 0, "rate_per_h": rate_per_h}]},
                               "origins": {"o": 1.0}, "destinations": {"v": 1.0},
                               "holding_m2": {"o": holding_m2}})  # fmt: skip
    return s


def test_a_full_holding_area_turns_arrivals_away_and_shows_its_density(tmp_path):
    """A gate metered to nobody: arrivals (1 a second for 300 s) fill its 20 m² holding area to the jam density
    (108 people, 5.4 /m², seen as the peak density there) and the other 192 are turned away; nobody is off the
    graph."""
    s = _gate(tmp_path, holding_m2=20.0, horizon_s=300)
    plan = plan_of(s, AssignStaff(at_s=0, pool="team", to="o", count=10), MeterFlow(at_s=0, node="o", rate_per_min=0))
    result = CrowdModel(s, plan, seed=1).run()
    k = result.kpis
    assert k["visitors"] == pytest.approx(300)
    assert k["held_peak"] == pytest.approx(108)
    assert k["refused_full"] == pytest.approx(192)
    assert k["entry_queue_end"] == pytest.approx(108)
    assert k["peak_density_ppm2"] == pytest.approx(5.4)
    assert result.events[[e.kind for e in result.events].index("peak_density")].data["place"] == "holding:o"
    assert k["held_off_graph"] == pytest.approx(0.0, abs=1e-9)
    assert k["minutes_over_5ppm2"] > 0  # the people held are counted where they stand


def test_waiting_behind_a_meter_matches_the_queueing_hand_calculation(tmp_path):
    """Arrivals 1 a second, a meter letting 30 a minute through, 600 s: the person arriving at t waits t (if let
    in before the end) or 600 − t (still waiting), so waits spread evenly over 0-300 s twice; the 95th percentile
    is 285 s = 4.75 min (3%), and 300 are still waiting at the end (2%)."""
    s = _gate(tmp_path, holding_m2=5000.0)
    plan = plan_of(s, AssignStaff(at_s=0, pool="team", to="o", count=10),
                   MeterFlow(at_s=0, node="o", rate_per_min=30))  # fmt: skip
    result = CrowdModel(s, plan, seed=1).run()
    k = result.kpis
    assert k["held_p95_wait_min"] == pytest.approx(4.75, rel=0.03)
    assert k["entry_queue_end"] == pytest.approx(300, rel=0.02)
    assert k["held_peak"] == pytest.approx(300, rel=0.02)
    assert k["refused_full"] == 0.0


def test_people_in_equal_people_on_the_graph_and_gone_at_every_step(tmp_path):
    """With holding, a meter, a closed entrance (arrivals go to the other) and a full holding area: at every step
    the people who came are those on the graph (waiting, walking, dwelling) plus those gone (left by an exit,
    turned away from a full holding area), to 1e-9; the off-graph queue stays empty."""
    nodes = [("a", "entrance", 0, 0, 0), ("b", "entrance", 100, 0, 0), ("v", "viewing_area", 50, 40, 400),
             ("x", "exit", 50, -30, 0)]  # fmt: skip
    edges = [("a", "v", 70, 3), ("b", "v", 70, 3), ("a", "x", 60, 3), ("b", "x", 60, 3)]
    s = crowd_scenario(tmp_path, nodes, edges, origins={"a": 0.5, "b": 0.5}, destinations={"v": 1.0},
                       exits=["x"], rate_per_h=30_000, horizon_s=900,
                       dwell={"dist": "lognormal", "mean_s": 120, "sd_s": 60},
                       staff={"team": {"count": 10, "base": "a"}})  # fmt: skip
    s = s.model_copy(update={"demand": s.demand.model_copy(update={"holding_m2": {"a": 30.0, "b": 60.0}})})
    plan = plan_of(s, AssignStaff(at_s=0, pool="team", to="a", count=10),
                   MeterFlow(at_s=0, node="a", rate_per_min=20),
                   CloseExit(at_s=300, node="b", until_s=600))  # fmt: skip
    gaps: list[float] = []

    def books(m: CrowdModel) -> None:
        p = m.people()
        gaps.append(abs(p["entered"] - p["queued"] - p["inside"] - p["departed"] - p["refused"]))
        assert p["off_graph"] == 0.0

    model = CrowdModel(s, plan, seed=3, on_step=books)
    result = model.run()
    assert len(gaps) == model.n_steps
    assert max(gaps) <= 1e-9 * model.entered
    assert result.kpis["refused_full"] > 0  # the small holding areas did fill
    assert result.kpis["held_off_graph"] == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(result.kpis["held_p95_wait_min"])


@pytest.mark.parametrize("known", [True, False])
def test_people_told_an_area_is_full_go_elsewhere_and_those_not_told_press_on(tmp_path, known):
    """A 100 m² viewing area fed at 20,000 an hour fills; where people learn it is full they leave for the other
    area or home (some turned away, newcomers sent on); where nobody tells them, nobody is turned away and every
    newcomer still heads for it."""
    nodes = [("o", "entrance", 0, 0, 0), ("v", "viewing_area", 40, 0, 100), ("w", "viewing_area", 0, 300, 5000),
             ("x", "exit", 0, -30, 0)]  # fmt: skip
    edges = [("o", "v", 40, 6), ("o", "w", 310, 6), ("o", "x", 30, 6)]
    s = crowd_scenario(tmp_path, nodes, edges, origins={"o": 1.0}, destinations={"v": 0.9, "w": 0.1}, exits=["x"],
                       rate_per_h=20_000, horizon_s=900, full_areas_known=known)  # fmt: skip
    model = CrowdModel(s, plan_of(s), seed=1)
    result = model.run()
    v = model.targets.index("v")
    if known:
        assert any(e.kind == "viewing_area" for e in result.events)
        assert model.split[0, v] == 0.0  # newcomers skip the full area
    else:
        assert not any(e.kind == "viewing_area" for e in result.events)
        assert result.kpis["turned_away"] == 0.0
        assert model.split[0, v] == pytest.approx(0.9)
