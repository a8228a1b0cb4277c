"""The 2014 replay's inputs against the literature: the Chen Yi stair's capacity from the SFPE Handbook."""

from __future__ import annotations

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of

from scenarios.loading import load_scenario
from scenarios.pedestrian import SFPE_K_LEVEL, SFPE_K_STAIR, Weidmann
from simulation.crowd import CrowdModel

STAIR_WIDTH_M = 5.0  # the Chen Yi Square stair (facts.md 3.3)


def test_the_2014_stair_factor_is_the_sfpe_stair_to_level_ratio():
    """The 2014 scenario slows walkers on stairs by the SFPE Handbook's stair/level speed ratio (1.16/1.40)."""
    scenario = load_scenario("bund_new_year_2014")
    assert scenario.walking.stair_speed_factor == pytest.approx(SFPE_K_STAIR / SFPE_K_LEVEL, abs=5e-4)


def test_a_saturated_stair_passes_the_sfpe_stair_flow(tmp_path):
    """A 5 m stair fed beyond its capacity, walked as the 2014 scenario walks stairs, discharges at the level
    capacity times the SFPE stair ratio (1.22 × 0.829 ≈ 1.01 /(m·s), 5.07 persons a second) within 3%."""
    factor = load_scenario("bund_new_year_2014").walking.stair_speed_factor
    nodes = [("o", "entrance", 0, 0, 0), ("x", "exit", 60, 0, 0), ("v", "viewing_area", 0, 50, 500)]
    edges = [("o", "x", 60, STAIR_WIDTH_M, "stair"), ("o", "v", 50, 2)]
    s = crowd_scenario(tmp_path, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"],
                       walking={"stair_speed_factor": factor})  # fmt: skip
    model = CrowdModel(s, plan_of(s), dt=1.0)
    i = model.origins.index("o")
    per_step = 3 * model.fd.capacity * STAIR_WIDTH_M
    out: list[float] = []
    last = [0.0]

    def each(m: CrowdModel) -> None:
        m.queue[i, m.LEAVE] += per_step
        out.append(m.departed - last[0])
        last[0] = m.departed

    model.queue[i, model.LEAVE] += per_step
    model.on_step = each
    model.setup()
    model.env.run(until=3000.0)
    rate = float(np.mean(out[-300:]))
    expected = Weidmann().capacity * SFPE_K_STAIR / SFPE_K_LEVEL * STAIR_WIDTH_M
    assert expected == pytest.approx(5.07, abs=0.01)
    assert rate == pytest.approx(expected, rel=0.03)


# The replay against the record at the scenario's seed is `tests/test_crowd_invariants.py::
# test_the_2014_replay_crushes_on_the_chen_yi_stair_when_the_record_says`; at 20 seeds, `python
# benchmarks/crowd_replay.py --seeds 20 --workers 2` (benchmarks/README.md, "The 2014 stair's head").


def test_a_runs_json_lists_every_crush_and_critical_crossing_with_its_place_and_time():
    """`yiwang run --json` gives, per run, every threshold crossing in time order (`crossings`: each crush and each
    critical density, where and when), not only the first of each as its warnings do: a replay is read there."""
    from command.runs import run_loaded

    scenario = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=10800"])  # 20:00-23:00
    outcome = run_loaded(scenario, optimize=False)
    said = outcome.to_json()["baseline"]["crossings"]
    events = [e for e in outcome.baseline.events if e.kind in ("crush", "density_critical")]
    assert len(said) == len(events) and sum(e.kind == "crush" for e in events) >= 1
    assert [c["t_s"] for c in said] == sorted(e.t_s for e in events)
    for c, e in zip(said, sorted(events, key=lambda e: e.t_s), strict=True):
        assert c["text"].endswith(e.text) and c["at"] == scenario.clock.label(e.t_s)
        assert c["kind"] == ("crush" if e.kind == "crush" else "critical") and str(e.data["place"]) in c["text"]
    firsts = [w["message"] for w in outcome.to_json()["warnings"] if w["kind"] == "breach"]
    first_of = {k: next(c for c in said if c["kind"] == k) for k in ("critical", "crush")}
    assert len(firsts) == 2 and all(any(m.startswith(c["text"]) for m in firsts) for c in first_of.values())
