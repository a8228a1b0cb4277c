"""The mass-testing plan's buses are never worse than first come, first served in the simulation (issue 18): the
optimiser's dispatch orders are kept only when, at the run's seed, they are no worse on every bus KPI than the
same plan with the buses first come, first served, and the rationale says which was chosen."""

from __future__ import annotations

import pytest

from command.kinds import optimise, simulate, state_at
from optimizer.mass_testing import BUS_KPIS
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.plan import DispatchBus, Plan
from scenarios.splice import splice


def disney_with(buses: int):  # type: ignore[no-untyped-def]
    """The Disney scenario with `buses` buses, split over its three depots as the 220 are (80/70/70)."""
    split = [buses * c // 220 for c in (80, 70, 70)]
    split[0] += buses - sum(split)
    sets = [f"resources.buses.count={buses}"]
    sets += [f"resources.buses.depots[{i}].count={n}" for i, n in enumerate(split)]
    return load_scenario("disney_mass_testing", overrides=sets)


def without_orders(plan: Plan) -> Plan:
    """The same plan with the buses first come, first served (no dispatch orders)."""
    return Plan.build(plan.meta, [a for a in plan.actions if not isinstance(a, DispatchBus)])


def assert_no_worse(scenario, plan: Plan, seed: int) -> None:  # type: ignore[no-untyped-def]
    planned = simulate(scenario, plan, seed=seed).kpis
    served = simulate(scenario, without_orders(plan), seed=seed).kpis
    for kpi in BUS_KPIS:
        assert planned[kpi] <= served[kpi] + 1e-9, (kpi, planned[kpi], served[kpi])


@pytest.mark.slow
@pytest.mark.parametrize("buses", [220, 100, 45])
def test_the_optimised_buses_are_no_worse_than_first_come_first_served(buses: int) -> None:
    """Planned from the start with 220, 100 or 45 buses, the plan's buses do no worse in the simulation than first
    come, first served with the same staffing, on stranded visitors, the last departure and the time from swab
    to bus; the rationale says whether the dispatch orders were kept, and the plan has them exactly then."""
    scenario = disney_with(buses)
    result = optimise(scenario, SolveParams(time_limit_s=4, seed=scenario.seed))
    assert result.plan is not None
    assert_no_worse(scenario, result.plan, scenario.seed)
    kept = result.details["buses_adopted"] == 1.0
    assert bool(result.plan.of_type(DispatchBus)) == kept
    verdict = [line for line in result.rationale if "first come, first served" in line and "simulation" in line]
    assert len(verdict) == 1
    assert ("dispatch plan is kept" in verdict[0]) == kept


@pytest.mark.slow
def test_a_replan_at_2105_with_45_buses_is_no_worse_than_first_come_first_served() -> None:
    """Re-planned at 21:05 from the state of the default plan with 45 buses and spliced in as the loop does, the
    plan's buses do no worse in the simulation than first come, first served under the same spliced staffing."""
    scenario = disney_with(45)
    base = default_plan(scenario)
    state = state_at(scenario, base, seed=scenario.seed, at_s=10800)
    result = optimise(scenario, SolveParams(time_limit_s=4, seed=scenario.seed), state=state)
    assert result.plan is not None
    assert_no_worse(scenario, splice(base, result.plan, 10800, scenario=scenario), scenario.seed)
