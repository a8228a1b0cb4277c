"""Invariants of the mass-testing model over random small worlds (Hypothesis)."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from builders import mass_testing_worlds, write_world
from hypothesis import HealthCheck, given, settings

from scenarios import ScenarioError, load_scenario
from scenarios.mass_testing import default_plan, pool_role_counts, roles_of
from scenarios.plan import AssignStaff, Plan
from simulation.mass_testing import MassTestingModel

TMP = Path(tempfile.mkdtemp(prefix="yiwang-worlds-"))


def _run(world):
    path = write_world(TMP, *world)
    scenario = load_scenario(path)
    model = MassTestingModel(scenario)
    return scenario, model, model.run()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mass_testing_worlds())
def test_people_are_conserved_and_processed_once(world):
    """Nobody is swabbed twice or leaves twice; times run forward; staffed worlds test everyone."""
    scenario, _model, result = _run(world)
    rec = result.records
    assert rec["swab_count"].max(initial=0) <= 1
    assert rec["departure_count"].max(initial=0) <= 1
    tested = rec["swab_count"] == 1
    assert np.all(rec["at_site_s"] >= rec["appear_s"])
    assert np.all(rec["swab_start_s"][tested] >= rec["at_site_s"][tested])
    assert np.all(rec["swab_end_s"][tested] >= rec["swab_start_s"][tested])
    left = rec["departure_count"] == 1
    assert np.all(rec["departed_s"][left] >= rec["swab_end_s"][left])
    assert not np.any(left & ~tested), "someone left without being tested"
    staffable = all(
        sum(n for (p, r), n in pool_role_counts(scenario).items() if r == role) >= need
        for role, need in roles_of(scenario).items()
    )
    if staffable and result.kpis["visitors"]:
        assert tested.all(), "a staffed world with a long horizon must test everyone"
    assert result.kpis["stranded_visitors"] == result.kpis["visitors"] - left.sum()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mass_testing_worlds())
def test_no_bus_over_capacity_and_no_tester_in_two_places(world):
    """Every bus trip carries at most its capacity; no pool has more testers on duty than it has."""
    scenario, model, result = _run(world)
    if scenario.resources.buses is not None:
        assert result.records["trip_riders"].max(initial=0) <= scenario.resources.buses.capacity
        assert result.records["trip_riders"].min(initial=1) >= 1, "an empty bus left"
    have = pool_role_counts(scenario)
    changes = defaultdict(list)
    for pool, role, _site, start, until, n in model.presence:
        changes[(pool, role)] += [(start, n), (until, -n)]
    for key, steps in changes.items():
        on_duty = np.cumsum([n for _, n in sorted(steps, key=lambda s: (s[0], s[1]))])
        assert on_duty.max() <= have[key]


def test_an_overbooked_plan_is_refused(one_site_mmc):
    """A plan that sends more testers than a pool has is refused before simulating, naming the pool."""
    scenario = load_scenario(one_site_mmc)
    plan = default_plan(scenario)
    extra = AssignStaff(at_s=0, pool="local", to="site_a", count=5, role="any", wave=1)
    bad = Plan.build(plan.meta, [*plan.actions, extra])
    with pytest.raises(ScenarioError, match="assigns 13 any testers of 'local', which has 8"):
        MassTestingModel(scenario, bad)


def test_same_seed_same_result(one_site_mmc):
    """Two runs with the same seed give identical KPIs and records; another seed differs."""
    scenario = load_scenario(one_site_mmc)
    a, b = MassTestingModel(scenario, seed=11).run(), MassTestingModel(scenario, seed=11).run()
    c = MassTestingModel(scenario, seed=12).run()
    assert a.kpis == b.kpis
    assert np.array_equal(a.records["swab_end_s"], b.records["swab_end_s"], equal_nan=True)
    assert a.kpis != c.kpis
