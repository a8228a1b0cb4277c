"""On the Disney scenario the optimised plan beats the scenario's default plan, and the gap it reports is honest."""

from __future__ import annotations

import pytest

from command.kinds import optimise
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.mass_testing import check_plan
from simulation.mass_testing import simulate


@pytest.fixture(scope="module")
def disney():
    scenario = load_scenario("disney_mass_testing")
    result = optimise(scenario, SolveParams(time_limit_s=10, seed=scenario.seed))
    return scenario, default_plan(scenario), result


def test_default_plan_respects_group_sizes(disney):
    """The default plan is itself a valid plan: no wave larger than its pool's group size."""
    scenario, base, _ = disney
    assert check_plan(base, scenario) == []


@pytest.mark.slow
def test_optimised_plan_beats_default_over_20_seeds(disney):
    """At every one of 20 seeds the optimised plan finishes testing and clears the resort earlier."""
    scenario, base, result = disney
    assert result.feasible and check_plan(result.plan, scenario) == []
    for seed in range(20):
        b = simulate(scenario, base, seed=seed).kpis
        p = simulate(scenario, result.plan, seed=seed).kpis
        assert p["last_tested_min"] < b["last_tested_min"], seed
        assert p["last_departed_min"] < b["last_departed_min"], seed
        assert p["stranded_visitors"] == 0


def test_reported_gap_is_honest(disney):
    """The bound never exceeds the objective, the gap is what they imply, and the simulation agrees with the
    fluid makespan to within a few minutes."""
    scenario, _, result = disney
    assert result.bound <= result.objective
    assert result.gap == pytest.approx((result.objective - result.bound) / result.objective)
    assert result.gap < 0.01
    sim = simulate(scenario, result.plan, seed=1).kpis
    assert abs(sim["last_tested_min"] * 60 - result.objective) < 10 * 60
