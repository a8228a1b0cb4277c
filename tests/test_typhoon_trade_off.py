"""The typhoon plan's trade-off between rider wait and car delay: the points offered are Pareto-optimal over every
lane schedule of a small window (brute force), the commander's pick (`weights.trade_off`) carries out exactly the
point offered, and the plan says which point it is and how to pick another."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_typhoon_optimiser import CASES, small_window

from command.kinds import optimise
from optimizer import SolveParams
from optimizer.typhoon import fluid_cost, schedule_feasible, typhoon_problem
from optimizer.typhoon.search import dominates

EXACT = SolveParams(time_limit_s=5.0, workers=1, relative_gap=0.0, seed=0)


def every_outcome(scenario) -> list[tuple[float, float, float]]:
    """Rider-hours waiting, riders stranded and vehicle-hours of every feasible lane schedule of the window."""
    problem = typhoon_problem(scenario)
    out = []
    for bits in itertools.product([False, True], repeat=problem.n_periods):
        clear = np.array([bits])
        if schedule_feasible(problem, clear):
            cost = fluid_cost(problem, clear)
            out.append((cost.rider_wait_h, float(cost.stranded), cost.vehicle_h))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_offered_point_is_dominated_by_no_lane_schedule(case):
    """No lane schedule of the window is at least as good in rider wait, riders stranded and car delay and
    better in one than any point the plan offers."""
    scenario = small_window(**CASES[case])
    result = optimise(scenario, EXACT)
    assert result.plan is not None
    points = result.plan.meta.trade_off
    assert points and sum(p.chosen for p in points) == 1
    outcomes = every_outcome(scenario)
    for p in points:
        mine = (p.rider_wait_h, p.riders_stranded, p.vehicle_h)
        assert not [o for o in outcomes if dominates(o, mine, tol=1e-6)], (case, p.name)


def test_a_real_trade_off_offers_distinct_points_with_rider_wait_against_car_delay():
    """Where clearing a lane costs cars dearly, the points differ: less car delay costs more rider wait."""
    scenario = small_window(**CASES["cars_dear"])
    points = optimise(scenario, EXACT).plan.meta.trade_off
    assert len(points) >= 2
    ordered = sorted(points, key=lambda p: p.vehicle_h)
    assert all(a.rider_wait_h + a.riders_stranded > b.rider_wait_h + b.riders_stranded
               for a, b in itertools.pairwise(ordered))  # fmt: skip


def outcome(point) -> tuple[float, float, float]:
    return (point.rider_wait_h, point.riders_stranded, point.vehicle_h)


@pytest.mark.parametrize("pick", ["riders", "cars"])
def test_the_point_picked_is_the_point_offered(pick):
    """Setting `weights.trade_off` to a point's name gives a plan that carries out the point offered under that
    name (or, if that point repeated another, the other's outcome), offers the same outcomes, and says which
    point it is in its rationale and objective terms."""
    base = small_window(**CASES["cars_dear"])
    first = optimise(base, EXACT).plan.meta.trade_off
    picked = base.model_copy(update={"weights": base.weights.model_copy(update={"trade_off": pick})})
    result = optimise(picked, EXACT)
    assert result.plan is not None
    again = result.plan.meta.trade_off
    assert sorted(map(outcome, again)) == sorted(map(outcome, first))
    (chosen,) = [p for p in again if p.chosen]
    assert chosen.name == pick
    named = {p.name: p for p in first}
    assert outcome(chosen) == outcome(named[pick]) if pick in named else outcome(chosen) in map(outcome, first)
    assert any(f"trade-off point '{pick}' (this plan)" in line for line in result.rationale)
    assert result.plan.meta.objective_terms["vehicle_delay_per_h"] == pytest.approx(
        base.weights.vehicle_delay_per_h * {"riders": 0.25, "cars": 4.0}[pick])


def test_the_trade_off_is_declared_in_the_plans_warnings():
    """A plan offering several points carries a `trade_off` warning naming the point it carries out and the
    others, with what each costs."""
    from command.consequences import consequences
    from command.kinds import simulate

    scenario = small_window(**CASES["cars_dear"])
    result = optimise(scenario, EXACT)
    assert result.plan is not None and len(result.plan.meta.trade_off) >= 2
    run = simulate(scenario, result.plan, seed=1)
    found = [c for c in consequences(scenario, simulate(scenario, None, seed=1), run, result) if c.kind == "trade_off"]
    assert len(found) == 1
    chosen = next(p for p in result.plan.meta.trade_off if p.chosen)
    assert f"it is the point '{chosen.name}' ({chosen.rider_wait_h:,.0f} rider-hours waiting" in found[0].message
    for p in result.plan.meta.trade_off:
        assert f"'{p.name}' (" in found[0].message


def test_the_trade_off_warning_names_the_headline_kpi_the_point_makes_worse():
    """A point whose simulated run is worse than the default plan's on a headline KPI (car delay, as the `balanced`
    point at seed 2: 265.95 against 247.10 vehicle-hours) carries that KPI and both values in its `trade_off`
    warning; a point worse on none names no KPI."""
    from command.consequences import Consequence, trade_off_warning
    from scenarios.plan import TradeOffPoint

    points = [TradeOffPoint(vehicle_weight=w, rider_wait_h=h, riders_stranded=s, vehicle_h=v, cleared_periods=c,
                            period_s=900, chosen=name == "balanced", name=name)
              for name, w, h, s, v, c in (("riders", 0.125, 900, 400, 300, 60), ("balanced", 0.5, 1000, 450, 200, 50),
                                          ("cars", 2.0, 1200, 600, 10, 30))]  # fmt: skip
    worse = Consequence("worse", "vehicle_delay_h", 247.10, 265.95, "car delay")
    named = trade_off_warning(points, [worse])
    assert (named.kind, named.kpi, named.default, named.plan) == ("trade_off", "vehicle_delay_h", 247.10, 265.95)
    assert "worse than the default plan on vehicle_delay_h 265.9 against 247.1" in named.message
    assert "it is the point 'balanced'" in named.message
    plain = trade_off_warning(points, [])
    assert (plain.kpi, plain.default, plain.plan) == (None, None, None) and "worse than" not in plain.message


def test_a_closed_loop_declares_the_trade_off_point_its_replans_carry_out():
    """The closed loop's warnings (`RunOutcome.closed_warnings`) carry the trade-off point its plans carry out, and
    name the headline KPIs its run makes worse than the default plan's (car delay among them, 5 vehicle-hours over
    here), the first as the warning's KPI."""
    from dataclasses import replace

    from command.kinds import simulate
    from command.runs import ClosedLoop, RunOutcome
    from scenarios.defaults import default_plan

    scenario = small_window(**CASES["cars_dear"])
    result = optimise(scenario, EXACT)
    assert result.plan is not None and len(result.plan.meta.trade_off) >= 2
    base, run = simulate(scenario, None, seed=1), simulate(scenario, result.plan, seed=1)
    over = base.kpis["vehicle_delay_h"] + 5
    closed = ClosedLoop(3600.0, result.plan, replace(run, kpis={**run.kpis, "vehicle_delay_h": over}), ())
    outcome = RunOutcome(scenario, 1, default_plan(scenario), base, result, run, closed)
    warnings = outcome.closed_warnings()
    worse = [c for c in warnings if c.kind == "worse"]
    found = [c for c in warnings if c.kind == "trade_off"]
    assert len(found) == 1 and "vehicle_delay_h" in [c.kpi for c in worse]
    assert (found[0].kpi, found[0].default, found[0].plan) == (worse[0].kpi, worse[0].default, worse[0].plan)
    assert f"vehicle_delay_h {over:,.4g} against {base.kpis['vehicle_delay_h']:,.4g}" in found[0].message
