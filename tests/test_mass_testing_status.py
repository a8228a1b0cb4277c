"""The mass-testing plan's status is honest (issue 18): OPTIMAL only when every sub-model in the plan (the staffing,
and the buses when their orders are kept) is proven within its gap, otherwise FEASIBLE with the largest gap; the
booth crews are the scenario's, with a warning where a pool cannot make one."""

from __future__ import annotations

import pytest

from command.kinds import optimise
from optimizer.result import SolveParams
from scenarios import load_scenario
from scenarios.mass_testing import crew_warnings
from scenarios.plan import DispatchBus


@pytest.mark.slow
def test_the_plans_status_is_optimal_only_when_every_sub_model_in_it_is_proven() -> None:
    """With 45 buses in 4 s: the plan's status is OPTIMAL exactly when the staffing is proven and, if the plan
    keeps its dispatch orders, the bus model is proven too; its gap is the largest sub-model gap, in the plan's
    meta as well, and the rationale gives each sub-model's status."""
    fleet = ["resources.buses.count=45"] + [f"resources.buses.depots[{i}].count=15" for i in range(3)]
    scenario = load_scenario("disney_mass_testing", overrides=fleet)
    result = optimise(scenario, SolveParams(time_limit_s=4, seed=scenario.seed))
    assert result.plan is not None and result.plan.meta.solver is not None
    d = result.details
    (line,) = [r for r in result.rationale if r.startswith("status ")]
    kept = bool(result.plan.of_type(DispatchBus))
    assert ("gap_buses" in d) == kept
    bus_proven = not kept or "buses OPTIMAL" in line
    assert result.status == ("OPTIMAL" if "staffing OPTIMAL" in line and bus_proven else "FEASIBLE")
    assert line.startswith(f"status {result.status}: staffing ")
    assert result.gap == pytest.approx(max(d.get("gap_buses", 0.0), d["gap_staffing"]))
    assert result.plan.meta.solver.status == result.status
    assert result.plan.meta.solver.gap == pytest.approx(result.gap)
    if kept and d["gap_buses"] > SolveParams().relative_gap:
        assert result.status == "FEASIBLE"


def test_the_disney_pools_can_each_staff_a_booth() -> None:
    """Every Disney pool has samplers and registrars and sends groups larger than a booth's crew: no warning."""
    assert crew_warnings(load_scenario("disney_mass_testing")) == []


def test_a_pool_without_a_role_a_booth_needs_or_with_groups_smaller_than_a_crew_is_named() -> None:
    """A pool of samplers only cannot staff a booth by itself, and one sending testers one at a time cannot carry
    a crew of two in a group: each is named, with what it has and what a booth needs."""
    scenario = load_scenario("disney_mass_testing", overrides=["resources.testers.pudong.registrar_share=0",
                                                              "resources.testers.jingan.group_size=1"])  # fmt: skip
    warnings = crew_warnings(scenario)
    assert warnings == [
        "pool 'pudong' cannot staff a booth by itself: it has 0 registrars (a booth needs 1)",
        "pool 'jingan' sends groups of 1, fewer than a booth's crew of 2: a booth opens only when groups arrive "
        "together",
    ]
