"""The mass-testing plan's buses are no worse than first come, first served in the simulation (issue 18): the
optimiser's dispatch orders are kept only when, on futures other than the run's own (`optimizer.buses.judge`),
they are no worse on the mean of every bus KPI than the same plan with the buses first come, first served, and the
rationale says which was chosen and on which seeds."""

from __future__ import annotations

import pytest

from command.kinds import optimise, state_at
from optimizer.buses.judge import judge_seeds
from optimizer.mass_testing import BUS_KPIS
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.defaults import default_plan
from scenarios.plan import DispatchBus, Plan
from scenarios.splice import splice
from simulation.mass_testing import Future
from simulation.mass_testing import simulate as simulate_testing


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


def assert_no_worse(scenario, plan: Plan, fcfs: Plan, seed: int, from_s: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    """`plan` no worse than `fcfs` on the mean of every bus KPI over the judge's futures for the run's `seed` (from
    `from_s`), none of which is the run's own seed: recomputed apart from the optimiser's judge."""
    seeds = judge_seeds(seed)
    assert seed not in seeds

    def mean(p: Plan) -> dict[str, float]:
        runs = [simulate_testing(scenario, p, seed=seed, future=Future(s, from_s)).kpis for s in seeds]
        return {k: sum(r[k] for r in runs) / len(runs) for k in BUS_KPIS}

    planned, served = mean(plan), mean(fcfs)
    for kpi in BUS_KPIS:
        assert planned[kpi] <= served[kpi] + 1e-9, (kpi, planned[kpi], served[kpi])


@pytest.mark.slow
@pytest.mark.parametrize("buses", [220, 100, 45])
def test_the_optimised_buses_are_no_worse_than_first_come_first_served(buses: int) -> None:
    """Planned from the start with 220, 100 or 45 buses, the plan's buses do no worse in the simulation than first
    come, first served with the same staffing, on stranded visitors, the last departure and the time from swab
    to bus, on the mean over futures other than the run's own; the rationale says whether the dispatch orders
    were kept and on which seeds, and the plan has them exactly then."""
    scenario = disney_with(buses)
    result = optimise(scenario, SolveParams(time_limit_s=4, seed=scenario.seed))
    assert result.plan is not None
    assert_no_worse(scenario, result.plan, without_orders(result.plan), scenario.seed)
    kept = result.details["buses_adopted"] == 1.0
    assert bool(result.plan.of_type(DispatchBus)) == kept
    verdict = [line for line in result.rationale if "futures other than the run's own" in line]
    assert len(verdict) == 1
    assert verdict[0].startswith("buses: new orders kept" if kept else "buses: first come, first served kept")
    assert ", ".join(map(str, judge_seeds(scenario.seed))) in verdict[0]


@pytest.mark.slow
def test_a_replan_at_2105_with_45_buses_is_no_worse_than_first_come_first_served() -> None:
    """Re-planned at 21:05 from the state of the default plan with 45 buses and spliced in as the loop does, the
    plan's buses do no worse in the simulation than first come, first served from then under the same spliced
    staffing, on the mean over futures from 21:05 other than the run's own."""
    scenario = disney_with(45)
    base = default_plan(scenario)
    state = state_at(scenario, base, seed=scenario.seed, at_s=10800)
    result = optimise(scenario, SolveParams(time_limit_s=4, seed=scenario.seed), state=state)
    assert result.plan is not None
    spliced = splice(base, result.plan, 10800, scenario=scenario)
    served = splice(base, without_orders(result.plan), 10800, scenario=scenario)
    assert_no_worse(scenario, spliced, served, scenario.seed, from_s=10800)
