"""A crowd let out at a time (`demand.release`): a venue emptying, or people already there at the start, written
as what it is rather than as arrivals, and run as the deterministic arrivals it stands for."""

from __future__ import annotations

from pathlib import Path

import pytest

from command.kinds import simulate
from scenarios import ScenarioError, load_scenario
from scenarios.schema import CrowdScenario

CROWD = Path(__file__).parent / "data" / "osm" / "town_market_crowd.yaml"
RELEASE = ["demand.arrivals=null", "demand.release={at_s: 600, people: 3000, over_s: 300}"]


def test_a_release_is_its_people_evenly_over_its_window():
    """3,000 people over 300 s from 600 s are 36,000 an hour in [600, 900) and nobody before or after."""
    s = load_scenario(CROWD, overrides=RELEASE)
    arrivals = s.demand.arrivals  # type: ignore[union-attr]
    assert arrivals.process == "deterministic"
    assert [arrivals.rate_at(t) for t in (0, 599, 600, 899, 900, 7000)] == [0, 0, 36_000, 36_000, 0, 0]
    assert arrivals.expected_count(s.clock.horizon_s) == pytest.approx(3000)
    assert arrivals.expected_count(600) == 0


def test_a_released_scenario_reloads_from_its_own_dump():
    """A scenario written with a release validates again from its JSON dump (arrivals and release agree)."""
    s = load_scenario(CROWD, overrides=RELEASE)
    again = CrowdScenario.model_validate(s.model_dump(mode="json"))
    assert again == s


def test_arrivals_and_a_different_release_are_refused():
    """Both arrivals and a release that says otherwise is one line at the demand."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(CROWD, overrides=["demand.release={people: 10}"])
    assert [str(p) for p in info.value.problems] == [
        "town_market_crowd.yaml: demand: give demand.arrivals or demand.release, not both"]


def test_the_released_crowd_all_comes_out_and_walks_to_the_square():
    """Run on the town, every one of the 3,000 released people comes out of the gates (none turned away) and the
    run accounts for them all: served, on site or gone."""
    s = load_scenario(CROWD, overrides=RELEASE)
    run = simulate(s, seed=1)
    k = run.kpis
    assert k["visitors"] == pytest.approx(3000, abs=1)
    assert k["turned_away"] == 0
    assert k["departed"] + k["on_site_end"] == pytest.approx(k["visitors"], abs=1)
