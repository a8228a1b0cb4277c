"""A record's counting boundary (`count_area`, the KPI `peak_on_site`) and place choice by nearness
(`demand.nearness_s`, `scenarios.crowd.place_choice`), each against a hand calculation on a small graph."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from crowd_builders import crowd_scenario

from scenarios.crowd import place_choice
from scenarios.errors import ScenarioError
from scenarios.schema import CrowdScenario
from simulation.crowd import CrowdModel

RATE_PER_H = 7200.0  # 2 a second, for the first 300 s: 600 people
DOOR_S = 0.25  # the holding area's door: a quarter of a free step, walked at free speed


def _two_ends(tmp: Path, **extra: object) -> CrowdScenario:
    """Entrances `a` (west) and `b` (east), 300 m apart on a 10 m street; a viewing area near each (`va` 40 m from
    `a`, `vb` 40 m from `b`); an exit beside each entrance; 600 people come in over 300 s, half at each
    entrance, and stay."""
    nodes = [("a", "entrance", 0, 0, 0), ("b", "entrance", 300, 0, 0), ("va", "viewing_area", 40, 0, 5000),
             ("vb", "viewing_area", 260, 0, 5000), ("xa", "exit", 0, -30, 0), ("xb", "exit", 300, -30, 0)]  # fmt: skip
    edges = [("a", "va", 40, 10), ("va", "vb", 220, 10), ("vb", "b", 40, 10), ("a", "xa", 30, 4), ("b", "xb", 30, 4)]
    demand = {"arrivals": {"process": "deterministic", "periods": [{"from_s": 0, "rate_per_h": RATE_PER_H},
                                                                   {"from_s": 300, "rate_per_h": 0}]},
              "origins": {"a": 0.5, "b": 0.5}, "destinations": {"va": 0.5, "vb": 0.5}}  # fmt: skip
    demand.update(extra.pop("demand", {}))  # type: ignore[arg-type]
    return crowd_scenario(tmp, nodes, edges, origins={"a": 0.5, "b": 0.5}, destinations={"va": 0.5, "vb": 0.5},
                          exits=["xa", "xb"], horizon_s=900, demand=demand, **extra)  # fmt: skip


def test_place_choice_weighs_each_share_by_the_walk():
    """Shares 0.5 / 0.5, walks 0 and 600 s, nearness 600 s: the near place gets 1 / (1 + e^-1) = 0.7311 of the
    origin's people; without a nearness every origin keeps the shares; a place out of reach gets nobody."""
    shares = np.array([0.5, 0.5])
    walks = np.array([[0.0, 600.0], [600.0, 0.0], [np.inf, 30.0]])
    got = place_choice(shares, walks, 600.0)
    near = 1 / (1 + math.exp(-1))
    assert got == pytest.approx(np.array([[near, 1 - near], [1 - near, near], [0.0, 1.0]]))
    assert place_choice(shares, walks, None) == pytest.approx(np.tile(shares, (3, 1)))


def test_with_nearness_each_entrance_sends_most_to_its_own_viewing_area(tmp_path):
    """300 people at each end; walks 40 m to the near viewing area and 260 m to the far one, at 1.34 m/s; with
    nearness 60 s the near one draws 1 / (1 + e^(-(260 - 40) / 1.34 / 60)) = 93.9% of each entrance's people, so
    each viewing area holds 300 (symmetric), and the far walk is taken by 6.1% only (mean free-flow walk per
    person 40 + 0.061 × 220 m); without nearness half of each end crosses (mean walk 150 m)."""
    with_near = CrowdModel(_two_ends(tmp_path, demand={"nearness_s": 60.0}), seed=1)
    without = CrowdModel(_two_ends(tmp_path), seed=1)
    far = 1 / (1 + math.exp((260 - 40) / 1.34 / 60))
    for model, crossing in ((with_near, far), (without, 0.5)):
        result = model.run()
        k = result.kpis
        assert k["visitors"] == pytest.approx(600)
        assert k["visitors_served"] == pytest.approx(600, rel=1e-6)
        assert model.dwell_at == pytest.approx([300, 300], rel=1e-6)
        mean_free_walk_m = (model.freeflow_s / 600 - DOOR_S) * 1.34
        assert mean_free_walk_m == pytest.approx(40 + crossing * 220, rel=1e-3)


def test_peak_on_site_counts_only_the_record_boundary(tmp_path):
    """With `count_area` the western entrance and viewing area (`a`, `va` and the walkway between them): the 300
    who end up standing at `va` (half of each end's people) are the peak on site, the whole graph's 600 the peak
    on the graph; without a boundary the two are the same."""
    s = _two_ends(tmp_path, count_area=["a", "va"])
    result = CrowdModel(s, seed=1).run()
    k = result.kpis
    assert k["peak_on_site"] == pytest.approx(300, rel=1e-6)
    assert k["peak_on_graph"] == pytest.approx(600, rel=1e-6)
    times, counted = result.series["on_site_counted"]
    assert k["peak_on_site_min"] == pytest.approx(times[int(np.argmax(counted))] / 60)
    whole = CrowdModel(_two_ends(tmp_path), seed=1).run().kpis
    assert whole["peak_on_site"] == whole["peak_on_graph"] == pytest.approx(600, rel=1e-6)


def test_a_count_area_naming_an_unknown_place_is_refused(tmp_path):
    """A `count_area` node not in the graph is an error that names the field and the node."""
    with pytest.raises(ScenarioError) as err:
        _two_ends(tmp_path, count_area=["a", "nowhere"])
    assert "count_area" in str(err.value) and "nowhere" in str(err.value)


def test_the_optimiser_plans_with_the_same_place_choice(tmp_path):
    """The flow LP's destination split is the simulation's: with nearness 60 s on the two-ended street, 93.9% of
    each entrance's people for its near viewing area (1 / (1 + e^(-220 / 1.34 / 60))); without it, half."""
    from optimizer.crowd.flow import flow_problem

    near = 1 / (1 + math.exp(-(260 - 40) / 1.34 / 60))
    with_near = flow_problem(_two_ends(tmp_path, demand={"nearness_s": 60.0}))
    assert with_near.origins == ("a", "b") and with_near.destinations == ("va", "vb")
    assert with_near.split == pytest.approx(np.array([[near, 1 - near], [1 - near, near]]), rel=1e-6)
    assert flow_problem(_two_ends(tmp_path)).split == pytest.approx(np.full((2, 2), 0.5))
