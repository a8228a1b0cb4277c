"""The typhoon scenario's default plan on the public record (shared/reference/facts.md 1.3-1.5): a pair of police
cars leading a batch of up to 150 e-bikes every 30-60 min per tunnel direction, about 300 an hour, at 20 km/h,
through Fuxing E Rd and Dalian Rd."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from typhoon_worlds import small_typhoon, storm

from scenarios.errors import ScenarioError
from scenarios.loading import load_scenario
from scenarios.plan import ClearLane, DirectRiders, EscortBatch
from scenarios.schema import TyphoonScenario
from scenarios.typhoon import default_plan
from simulation.typhoon import TyphoonModel, simulate

RECORD_INTERVAL_S = (1800, 3600)  # a batch every 30-60 min (Hinnamnor 2022)
RECORD_BATCH = (100, 150)  # e-bikes a batch (Hinnamnor 2022; fog 2025: 900 in 8 batches)
RECORD_PER_HOUR = 300  # about 300 e-bikes 06:30-07:30 at Dalian Rd (Hinnamnor 2022)


@pytest.fixture(scope="module")
def huangpu() -> tuple[TyphoonScenario, TyphoonModel]:
    """The built-in scenario and its default plan's run at the scenario's seed."""
    scenario = load_scenario("huangpu_typhoon")
    assert isinstance(scenario, TyphoonScenario)
    model = TyphoonModel(scenario, default_plan(scenario))
    model.run()
    return scenario, model


def test_default_plan_escorts_where_the_police_did_one_team_per_direction(huangpu):
    """The default plan clears a lane of Fuxing E Rd and Dalian Rd both ways for the suspension, one team per
    direction, each batch for at most the record's 150, one team's batches 30 min apart."""
    scenario, model = huangpu
    plan = model.plan
    assert {(a.tunnel, a.direction, a.at_s, a.until_s) for a in plan.of_type(ClearLane)} == {
        (t, d, 25_200, 66_600) for t in ("fuxing", "dalian") for d in ("ab", "ba")}  # fmt: skip
    by_team: dict[str, list[EscortBatch]] = defaultdict(list)
    for act in plan.of_type(EscortBatch):
        by_team[act.team].append(act)
    assert len(by_team) == 4
    assert len({(acts[0].tunnel, acts[0].direction) for acts in by_team.values()}) == 4
    for acts in by_team.values():
        assert {a.max_riders for a in acts} == {RECORD_BATCH[1]}
        assert np.allclose(np.diff([a.at_s for a in acts]), 1800)
    assert {a.origin for a in plan.of_type(DirectRiders)} == {f.origin for f in scenario.riders.flows}


def test_simulated_escorts_keep_the_record_interval_size_and_hourly_rate(huangpu):
    """Simulated at the scenario's seed: batches leave 30-60 min apart on each direction, never more than 150 at a
    time; the busiest direction fills its batches to 100-150 on average and carries 250-300 riders in its
    busiest hour, and no direction carries more than the record's 300 in any hour."""
    _scenario, model = huangpu
    by_way: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for _team, tunnel, direction, board, _free, riders in model.batches:
        if riders:
            by_way[(tunnel, direction)].append((board, riders))
    assert len(by_way) == 4
    peak_hour, mean_size = {}, {}
    for way, batches in by_way.items():
        times = np.array([t for t, _ in batches])
        sizes = np.array([n for _, n in batches])
        gaps = np.diff(times)
        assert gaps.min() >= RECORD_INTERVAL_S[0] - 1e-6 and gaps.max() <= RECORD_INTERVAL_S[1] + 1e-6, way
        assert sizes.max() <= RECORD_BATCH[1], way
        hourly = np.histogram(times, bins=np.arange(25_200, 66_600 + 3600, 3600), weights=sizes)[0]
        assert hourly.max() <= RECORD_PER_HOUR, way
        peak_hour[way], mean_size[way] = hourly.max(), sizes.mean()
    busiest = max(peak_hour, key=lambda w: peak_hour[w])
    assert 250 <= peak_hour[busiest] <= RECORD_PER_HOUR
    assert RECORD_BATCH[0] <= mean_size[busiest] <= RECORD_BATCH[1]


def test_escorted_riders_wait_half_the_record_interval_or_more(huangpu):
    """Riders who crossed by escort waited 15 min or more on average: half the 30-min interval between batches
    (arrivals spread evenly over an interval) plus whatever a full batch leaves behind."""
    _scenario, model = huangpu
    result = simulate(model.s, model.plan)
    escorted = result.records["escorted"] & (result.records["state"] == 2)
    assert result.records["wait_s"][escorted].mean() >= 15 * 60


def test_batch_interval_spaces_a_teams_batches_and_never_beats_its_cycle():
    """`escorts.batch_interval_s` spaces one team's batches by that interval; one shorter than a cycle leaves
    them back to back (the team cannot be back sooner)."""
    hazard = storm((0, 10, "red"))
    spaced = default_plan(small_typhoon(hazard=hazard, escorts={"count": 1, "batch_size": 20, "setup_s": 60,
                                                                 "return_s": 300, "batch_interval_s": 3600}))
    assert np.allclose(np.diff([a.at_s for a in spaced.of_type(EscortBatch)]), 3600)
    back_to_back = default_plan(small_typhoon(hazard=hazard))
    too_short = default_plan(small_typhoon(hazard=hazard, escorts={"count": 1, "batch_size": 20, "setup_s": 60,
                                                                    "return_s": 300, "batch_interval_s": 60}))
    assert [a.at_s for a in too_short.of_type(EscortBatch)] == [a.at_s for a in back_to_back.of_type(EscortBatch)]


def test_an_escorted_tunnel_the_scenario_lacks_is_refused():
    """Naming a tunnel in `escorts.tunnels` that the scenario does not have is refused at load, naming the field."""
    with pytest.raises(ScenarioError, match=r"escorts\.tunnels\[0\]: 'nope' is not a tunnel"):
        small_typhoon(escorts={"count": 1, "batch_size": 20, "tunnels": ["nope"]})
