"""The crowd flow LP built from arrays: its optimum, flows and shadow prices against hand calculations on a tiny
network, and the same answer bit for bit on a second solve."""

from __future__ import annotations

import numpy as np
import pytest
from ortools.linear_solver import linear_solver_pb2

from optimizer.crowd import CrowdWeights, FlowProblem, Route, flow_problem, solve_flows
from scenarios.loading import load_scenario


def _corridor(*, capacity: float, kernel: list[float], hold: list[bool] | None = None) -> FlowProblem:
    """Ten people arrive at gate O in the first of three 1-minute periods; one walkway (carrying `capacity` people a
    period) takes them to a vast viewing area D in no time, and another takes them on to exit X. Waiting outside
    costs 1 a person-minute (61 for each still waiting at the end), walking 0.01 a person-minute (each route takes
    a minute), a person beyond a walkway's capacity 1000 a minute, a person told not to come 120."""
    route_in = Route(nodes=("O", "D"), walkways=(0,), offsets=(0,), lag=0, free_s=60.0)
    route_out = Route(nodes=("D", "X"), walkways=(1,), offsets=(0,), lag=0, free_s=60.0)
    return FlowProblem(
        start_s=0.0, period_s=60.0, n_periods=3, origins=("O",), arrivals=np.array([[10.0, 0.0, 0.0]]),
        entrance=np.array([100.0]), split=np.array([[1.0]]), destinations=("D",), area=np.array([1e6]),
        routes_in={(0, 0): (route_in,)}, routes_out={0: (route_out,)}, walkways=(("D", "O"), ("D", "X")),
        capacity=np.array([capacity, 100.0]), kernel=np.array(kernel), hold=np.array(hold or [False] * 3),
        target_ppm2=2.5, critical_ppm2=5.0, weights=CrowdWeights(), meterable=np.ones((1, 3), dtype=bool),
        one_ways=(),
    )  # fmt: skip


def test_a_narrow_walkway_meters_the_gate_as_early_as_it_can_at_the_hand_optimum():
    """With 4 people a period through the walkway, 4, 4 and 2 go in (6 then 2 wait: 8 person-minutes, plus 0.1 for
    ten people's minute of walking), and one more place in the first or second period is worth 2 or 1."""
    sol = solve_flows(_corridor(capacity=4.0, kernel=[0.0, 0.0, 0.0, 1.0]))  # nobody leaves before the end
    assert sol.status == "OPTIMAL"
    assert sol.objective == pytest.approx(8.1)
    assert sol.entry == pytest.approx(np.array([[4.0, 4.0, 2.0]]))
    assert sol.queue == pytest.approx(np.array([[0.0, 6.0, 2.0, 0.0]]))
    assert sol.dwellers == pytest.approx(np.array([[0.0, 4.0, 8.0, 10.0]]))
    assert sol.told == pytest.approx(np.zeros((1, 3)))
    assert sol.terms["queue_person_min"] == pytest.approx(8.0)
    assert sol.over_capacity == {}
    # Shadow prices: a fifth place at t = 0 lets in 5, 4, 1 (6 person-minutes, 2 fewer); at t = 1, 4, 5, 1 (7).
    assert [(w, t) for w, t, _ in sol.binding] == [(0, 0), (0, 1)]
    assert [dual for *_, dual in sol.binding] == pytest.approx([2.0, 1.0])


def test_people_leave_when_their_dwell_is_up_unless_a_show_holds_them():
    """Everyone goes in at once and leaves one period later (0.1 walking in and 0.1 out); a show in the second
    period keeps them a period longer, at no cost."""
    free = solve_flows(_corridor(capacity=100.0, kernel=[0.0, 1.0, 0.0, 0.0]))
    assert free.objective == pytest.approx(0.2)
    assert free.dwellers == pytest.approx(np.array([[0.0, 10.0, 0.0, 0.0]]))
    assert free.leaving[0] == pytest.approx(np.array([[0.0, 10.0, 0.0]]))
    held = solve_flows(_corridor(capacity=100.0, kernel=[0.0, 1.0, 0.0, 0.0], hold=[False, True, False]))
    assert held.objective == pytest.approx(0.2)
    assert held.dwellers == pytest.approx(np.array([[0.0, 10.0, 10.0, 0.0]]))
    assert held.leaving[0] == pytest.approx(np.array([[0.0, 0.0, 10.0]]))


def test_a_walkway_too_narrow_for_everyone_by_the_end_is_crossed_beyond_capacity_at_its_price():
    """Through 3 a period, 9 get in by the end; the tenth would wait 61 minutes at the end, or be told not to come
    (120), or cross beyond capacity (1000 a minute): the cheapest is to let them wait (7 + 4 + 61 = 72 with the
    first two periods' queues of 7 and 4, and 0.09 for the nine who walk)."""
    sol = solve_flows(_corridor(capacity=3.0, kernel=[0.0, 0.0, 0.0, 1.0]))
    assert sol.objective == pytest.approx(7.0 + 4.0 + 61.0 + 0.09)
    assert sol.entry == pytest.approx(np.array([[3.0, 3.0, 3.0]]))
    assert sol.terms["held_at_end"] == pytest.approx(1.0)


def test_two_solves_of_the_same_problem_give_the_same_arrays_bit_for_bit():
    """The LP's answer depends on the problem alone: a second solve gives identical arrays and objective."""
    s = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=3600"])
    problem = flow_problem(s, seed=s.seed)
    a, b = solve_flows(problem), solve_flows(problem)
    assert a.status == b.status == "OPTIMAL"
    assert a.objective == b.objective
    for name in ("entry", "queue", "told", "skipped", "dwellers"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.over_capacity == b.over_capacity and a.over_area == b.over_area and a.binding == b.binding
    assert a.leaving.keys() == b.leaving.keys()
    assert all(np.array_equal(a.leaving[d], b.leaving[d]) for d in a.leaving)


def test_a_solve_stopped_by_its_wall_clock_safety_cap_has_no_answer_and_says_so():
    """The wall clock only stops GLOP as a safety cap: a stopped solve gives no plan (it would not be the same on
    another run) and is marked capped, which the optimiser's diagnosis reports."""
    s = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=3600"])
    sol = solve_flows(flow_problem(s, seed=s.seed), time_limit_s=1e-6)
    assert sol.objective is None and sol.entry is None
    assert sol.status != "OPTIMAL" and sol.capped


def test_a_column_twice_in_a_row_counts_once_with_both_coefficients():
    """Terms of the same variable in the same row add up (one coefficient in the model GLOP gets), as in algebra."""
    from optimizer.crowd.lp import _FlowLP

    lp = _FlowLP(_corridor(capacity=4.0, kernel=[0.0, 0.0, 0.0, 1.0]))
    model = lp.build()
    for row in model.constraint:
        assert len(set(row.var_index)) == len(row.var_index)
        assert list(row.var_index) == sorted(row.var_index)
    m = _FlowLP(_corridor(capacity=4.0, kernel=[0.0, 0.0, 0.0, 1.0]))
    m.m.add(np.array([0, 0]), np.array([5, 5]), np.array([2.0, 3.0]))  # twice in row 0: 5 in all
    row = m.build().constraint[0]
    assert dict(zip(row.var_index, row.coefficient, strict=True))[5] == pytest.approx(5.0 + _coefficient(model, 0, 5))


def _coefficient(model: linear_solver_pb2.MPModelProto, row: int, col: int) -> float:
    """A model's coefficient of column `col` in row `row` (0 if absent)."""
    ct = model.constraint[row]
    return float(dict(zip(ct.var_index, ct.coefficient, strict=True)).get(col, 0.0))


@pytest.mark.parametrize(("name", "minutes"), [("bund_light_show", 6), ("bund_new_year_2014", 9)])
def test_the_lp_period_is_the_shortest_whole_minutes_that_keep_the_lp_within_its_size(name: str, minutes: int):
    """A large LP plans in longer periods: the fewest whole minutes from 2 that keep periods x walkways x classes
    within `max_lp_size` (the light show's evening is 415,395 at 2 minutes, 138,465 at 6; the 2014 evening, with 20
    classes, needs 9); the problem is built in them; a period the scenario sets (`plan_period_s`: the 2014
    evening's 4 minutes) wins over the size, and one set in the options over both."""
    from dataclasses import replace

    from optimizer.crowd.flow import lp_period_s, lp_size
    from optimizer.crowd.options import DEFAULT_OPTIONS
    from scenarios.loading import scenario_graph

    own = load_scenario(name)
    s = load_scenario(name, overrides=["plan_period_s=null"])  # the size rule's own choice
    g = scenario_graph(s)
    period = lp_period_s(s, g)
    assert period == 60 * minutes
    assert lp_size(s, g, period) <= DEFAULT_OPTIONS.max_lp_size < lp_size(s, g, period - 60)
    assert flow_problem(s, graph=g).period_s == period
    assert lp_period_s(own, g) == (own.plan_period_s or period)
    assert flow_problem(own, graph=g).period_s == lp_period_s(own, g)
    assert lp_period_s(own, g, options=replace(DEFAULT_OPTIONS, period_s=90.0)) == 90.0
    # A re-plan plans in the periods of the plan it replaces, with fewer of them to go.
    from scenarios.crowd import CrowdState

    state = CrowdState(at_s=s.clock.horizon_s - 1800, outside={}, heading={}, present={}, due={})
    late = flow_problem(s, graph=g, state=state)
    assert late.period_s == period and late.n_periods < flow_problem(s, graph=g).n_periods
    # A short scenario keeps 2 minutes (half an hour: the 2014 evening's 20 classes need 3 minutes for an hour).
    short = load_scenario(name, overrides=["clock.horizon_s=1800", "plan_period_s=null"])
    assert lp_period_s(short, scenario_graph(short)) == DEFAULT_OPTIONS.min_period_s


def _there_and_back(arrivals: list[float]) -> FlowProblem:
    """People arrive at gate O, cross one walkway (10 people a period) to a vast area D in no time, stay one period
    and leave back over the same walkway to O: those leaving and those coming in cross it in opposite directions."""
    route_in = Route(nodes=("O", "D"), walkways=(0,), offsets=(0,), lag=0, free_s=60.0)
    route_out = Route(nodes=("D", "O"), walkways=(0,), offsets=(0,), lag=0, free_s=60.0)
    return FlowProblem(
        start_s=0.0, period_s=60.0, n_periods=3, origins=("O",), arrivals=np.array([arrivals]),
        entrance=np.array([100.0]), split=np.array([[1.0]]), destinations=("D",), area=np.array([1e6]),
        routes_in={(0, 0): (route_in,)}, routes_out={0: (route_out,)}, walkways=(("D", "O"),),
        capacity=np.array([10.0]), kernel=np.array([0.0, 1.0, 0.0, 0.0]), hold=np.zeros(3, dtype=bool),
        target_ppm2=2.5, critical_ppm2=5.0, weights=CrowdWeights(), meterable=np.ones((1, 3), dtype=bool),
        one_ways=(),
    )  # fmt: skip


def test_counter_flow_is_charged_its_friction_where_the_solution_leaves_no_room_for_it():
    """5 arrive, then 4. In the second period the first 5 leave while the 4 come in: 9 of the walkway's 10, room
    enough without friction, but with a and b crossing each way the simulation's cells carry only
    (1 - 2κ·min(a, b)/(a + b)) of it: 5 + 4 + 0.3 x 4 = 10.2 > 10. Charged (everyone on it counts 1 + κ = 1.15),
    at most 10 / 1.15 - 5 = 3.696 come in then, and the rest wait a period. A charge also goes on the periods
    either side, where it does not bind here."""
    from optimizer.crowd.lp import counterflow_cuts

    problem = _there_and_back([5.0, 4.0, 0.0])
    assert problem.friction == pytest.approx(0.15)
    assert problem.routes_in[0, 0][0].directions == (-1,) and problem.routes_out[0][0].directions == (1,)
    free = solve_flows(problem)
    assert free.entry == pytest.approx(np.array([[5.0, 4.0, 0.0]]))
    assert free.way_loads is not None
    assert free.way_loads[:, 0, 1] == pytest.approx([5.0, 4.0])  # D -> O (leaving), O -> D (coming in)
    cuts = counterflow_cuts(problem, free)
    assert cuts is not None and cuts.tolist() == [[True, True, True]]
    charged = problem.with_counterflow(cuts)
    sol = solve_flows(charged)
    let_in = 10.0 / 1.15 - 5.0
    assert sol.entry == pytest.approx(np.array([[5.0, let_in, 4.0 - let_in]]))
    assert sol.terms["queue_person_min"] == pytest.approx(4.0 - let_in)
    assert sol.over_capacity == {}
    assert counterflow_cuts(charged, sol) is None  # nothing left to charge
    # One way only (nobody comes in while they leave): nothing to charge.
    alone = solve_flows(_there_and_back([5.0, 0.0, 0.0]))
    assert counterflow_cuts(_there_and_back([5.0, 0.0, 0.0]), alone) is None
