"""Holding a crowd in place and letting it go in waves (`HoldArea`): the simulation's rule against a hand count,
the flow LP's choice against its hand optimum, and the optimiser's waves after a show on a small world."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from crowd_builders import crowd_scenario, plan_of

from optimizer.crowd import CrowdOptions, FlowProblem, Route, flow_problem, optimise_crowd, solve_flows
from optimizer.crowd.lp import FlowSolution
from optimizer.crowd.report import _hold_actions
from optimizer.result import SolveParams
from scenarios.crowd import check_plan
from scenarios.loading import scenario_graph
from scenarios.plan import AssignStaff, HoldArea
from scenarios.schema import CrowdScenario
from simulation.crowd import CrowdModel
from simulation.crowd.model import state_at


def _release(tmp: Path, *, team: bool = True) -> CrowdScenario:
    """600 people let out at once at entrance o (10 a second for a minute) walk 60 m to a large viewing area v,
    stay 2 minutes and leave by exit x beside the entrance; a team of 20 is based at v."""
    nodes = [("o", "entrance", 0, 0, 0), ("v", "viewing_area", 60, 0, 5000), ("x", "exit", 0, -30, 0)]
    edges = [("o", "v", 60, 6), ("v", "x", 70, 6)]
    return crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"v": 1.0}, exits=["x"],
                          horizon_s=900, dwell={"dist": "deterministic", "value_s": 120},
                          staff={"team": {"count": 20, "base": "v"}} if team else {},
                          demand={"release": {"at_s": 0, "people": 600, "over_s": 60},
                                  "origins": {"o": 1.0}, "destinations": {"v": 1.0}})  # fmt: skip


def _dwellers(s: CrowdScenario, plan, times: list[float]) -> dict[float, float]:  # type: ignore[no-untyped-def]
    """People dwelling at v just after each of `times` (s), and the books checked at every step."""
    seen: dict[float, float] = {}
    gaps: list[float] = []

    def look(m: CrowdModel) -> None:
        p = m.people()
        gaps.append(abs(p["entered"] - p["queued"] - p["inside"] - p["departed"] - p["refused"]))
        t = m.step_no * m.dt
        if t in times:
            seen[t] = float(m.dwell_at.sum())

    model = CrowdModel(s, plan, seed=1, on_step=look)
    result = model.run()
    assert max(gaps) <= 1e-9 * max(model.entered, 1.0)  # people in = on the graph + gone, at every step
    assert result.kpis["held_off_graph"] == pytest.approx(0.0, abs=1e-9)
    return seen


def test_a_hold_lets_its_rate_go_a_minute_and_the_rest_when_it_lifts(tmp_path):
    """Everyone is due to leave by about 4 minutes in. Held at 60 a minute until 10:00, exactly 200 leave between
    5:00 and 8:20 (one a second: the hold has a backlog throughout), and at 10:00 the hold lifts and everyone still
    there goes at once. Without the hold (or without a team to hold it) they have all but gone by 5:00."""
    s = _release(tmp_path)
    times = [300.0, 500.0, 599.0, 601.0]
    held = _dwellers(s, plan_of(s, AssignStaff(at_s=0, pool="team", to="v", count=20),
                                HoldArea(at_s=0, node="v", rate_per_min=60, until_s=600)), times)  # fmt: skip
    assert held[300.0] - held[500.0] == pytest.approx(200.0, abs=1e-3)  # (a fluid's last wisps still arrive)
    assert held[599.0] > 100  # still held a moment before it lifts ...
    assert held[601.0] == pytest.approx(0.0, abs=1e-9)  # ... and all let go as it does
    free = _dwellers(s, plan_of(s), times)
    assert free[300.0] < 3  # of 600: only the fluid's last wisps, just arrived
    unstaffed = _dwellers(s, plan_of(s, HoldArea(at_s=0, node="v", rate_per_min=60, until_s=600)), times)
    assert unstaffed == free


def test_a_hold_of_nobody_keeps_them_all_and_the_compiled_step_agrees_with_the_reference(tmp_path):
    """Rate 0: nobody leaves while it holds. The NumPy reference step and the compiled one give the same run."""
    s = _release(tmp_path)
    plan = plan_of(s, AssignStaff(at_s=0, pool="team", to="v", count=20),
                   HoldArea(at_s=0, node="v", rate_per_min=0, until_s=700))  # fmt: skip
    seen = _dwellers(s, plan, [400.0, 699.0])
    assert seen[400.0] == pytest.approx(600.0, rel=1e-9)
    assert seen[699.0] == pytest.approx(600.0, rel=1e-9)
    ref = CrowdModel(s, plan, seed=1, kernel="numpy").run()
    fast = CrowdModel(s, plan, seed=1, kernel="numba").run()
    assert fast.kpis == pytest.approx(ref.kpis, rel=1e-9, abs=1e-9)
    assert fast.events == ref.events


def test_a_hold_is_checked_against_the_places_people_stay_at(tmp_path):
    s = _release(tmp_path)
    graph = scenario_graph(s)
    problems = check_plan(plan_of(s, HoldArea(at_s=0, node="x")), s, graph)
    assert [p.path for p in problems] == ["actions[0].node"]
    assert "not a place people stay at" in problems[0].reason and problems[0].reason.endswith(": v)")
    assert check_plan(plan_of(s, HoldArea(at_s=0, node="v")), s, graph) == []


def _corridor(*, holdable: bool, n: int = 4, show: tuple[int, ...] = ()) -> FlowProblem:
    """Ten people come in at gate O in the first of `n` 1-minute periods and reach the vast area D at once; all
    are due to leave in the second period (or when a show over periods `show` ends), by a walkway to exit X that
    carries 4 a period. Nobody can meter the gate (else letting them in by fours would do as well)."""
    route_in = Route(nodes=("O", "D"), walkways=(0,), offsets=(0,), lag=0, free_s=60.0)
    route_out = Route(nodes=("D", "X"), walkways=(1,), offsets=(0,), lag=0, free_s=60.0)
    return FlowProblem(
        start_s=0.0, period_s=60.0, n_periods=n, origins=("O",), arrivals=np.array([[10.0] + [0.0] * (n - 1)]),
        entrance=np.array([100.0]), split=np.array([[1.0]]), destinations=("D",), area=np.array([1e6]),
        routes_in={(0, 0): (route_in,)}, routes_out={0: (route_out,)}, walkways=(("D", "O"), ("D", "X")),
        capacity=np.array([100.0, 4.0]), kernel=np.array([0.0, 1.0] + [0.0] * (n - 1)),
        hold=np.isin(np.arange(n), show), target_ppm2=2.5, critical_ppm2=5.0, weights=CrowdOptions().weights,
        meterable=np.zeros((1, n), dtype=bool), one_ways=(), holdable=np.full((1, n), holdable),
    )  # fmt: skip


def test_the_lp_holds_people_in_place_and_lets_them_go_as_the_way_out_carries_them():
    """Without a hold, whoever comes in leaves in the second period, six of ten beyond the walkway's capacity
    (1000 a person-minute): cheaper to tell six not to come (120 each; 720.08 with four people's walking). Held in
    place (10 a person-minute), all ten come; 4 go in the second period, 4 in the third and 2 in the fourth: 6 + 2
    person-minutes held, 80.2 with the walking."""
    free = solve_flows(_corridor(holdable=False))
    assert free.objective == pytest.approx(720.08)
    assert free.told == pytest.approx(np.array([[6.0, 0.0, 0.0, 0.0]]))
    assert free.held == pytest.approx(np.zeros((1, 4)))
    sol = solve_flows(_corridor(holdable=True))
    assert sol.objective == pytest.approx(80.2)
    assert sol.held == pytest.approx(np.array([[0.0, 6.0, 2.0, 0.0]]))
    assert sol.released == pytest.approx(np.array([[0.0, 4.0, 4.0, 2.0]]))
    assert sol.over_capacity == {}
    assert sol.terms["held_in_place_person_min"] == pytest.approx(8.0)
    # As an action: held from the second period to the end, at the mean of 4, 4 and 2 a minute.
    (act,) = _hold_actions(_corridor(holdable=True), sol)
    assert (act.node, act.at_s, act.until_s, act.rate_per_min) == ("D", 60.0, None, 3.3)


def test_a_show_holds_them_at_no_cost_and_a_hold_after_it_is_charged():
    """A show over the second period holds everyone whatever the plan, at no cost; the hold the plan adds after it
    is what it pays for (6 then 2 held: 80), and the LP's held array shows only the plan's."""
    sol = solve_flows(_corridor(holdable=True, n=5, show=(1,)))
    assert sol.held == pytest.approx(np.array([[0.0, 0.0, 6.0, 2.0, 0.0]]))
    assert sol.released == pytest.approx(np.array([[0.0, 0.0, 4.0, 4.0, 2.0]]))
    assert sol.objective == pytest.approx(80.2)


def _show_world(tmp: Path) -> CrowdScenario:
    """Two viewing areas of 1,000 m² whose people all leave by one 2 m stair when a show ends at 10:00 (2,000 let
    in over the first five minutes, staying long); a team of 20 at each."""
    nodes = [("o", "entrance", 0, 0, 0), ("a", "viewing_area", 60, 40, 1000), ("b", "viewing_area", 60, -40, 1000),
             ("s", "junction", 120, 0, 0), ("x", "exit", 160, 0, 0)]  # fmt: skip
    edges = [("o", "a", 75, 8), ("o", "b", 75, 8), ("a", "s", 75, 4), ("b", "s", 75, 4), ("s", "x", 40, 2, "stair")]
    return crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"a": 0.5, "b": 0.5}, exits=["x"],
                          horizon_s=2400, dwell={"dist": "deterministic", "value_s": 300},
                          shows=[{"start_s": 300, "duration_s": 300, "attraction": 1}],
                          staff={"ta": {"count": 20, "base": "a"}, "tb": {"count": 20, "base": "b"}},
                          demand={"release": {"at_s": 0, "people": 2000, "over_s": 300},
                                  "origins": {"o": 1.0}, "destinations": {"a": 0.5, "b": 0.5}},
                          thresholds={"crush_ppm2": 5.4})  # fmt: skip


def test_after_a_show_the_optimiser_releases_the_areas_in_waves_and_lets_more_people_come(tmp_path):
    """Everyone due to leave when the show ends makes for one narrow stair: let all go at once (the default
    plan), its approach packs past the warning density. Without holds the optimiser can only let fewer come; with
    them it holds one area while the other goes (waves), staffed, tells fewer people not to come, and the run
    stays below the warning density all the same."""
    s = _show_world(tmp_path)
    params = SolveParams(time_limit_s=5)
    without = optimise_crowd(s, params, options=CrowdOptions(hold_areas=False, period_s=60))
    waves = optimise_crowd(s, params, options=CrowdOptions(period_s=60))
    assert without.plan is not None and waves.plan is not None
    assert not without.plan.of_type(HoldArea)
    holds = waves.plan.of_type(HoldArea)
    assert {a.node for a in holds} == {"a", "b"}
    assert all(a.at_s >= 540 for a in holds)  # after the show (and its last minute), not before
    # Waves: while one area is held to nobody, the other is being let go.
    assert any(h.rate_per_min == 0 and any(o.node != h.node and o.rate_per_min > 0 and o.at_s == h.at_s
                                           for o in holds) for h in holds)  # fmt: skip
    assert any("held in place past their time" in line for line in waves.rationale)
    assert check_plan(waves.plan, s, scenario_graph(s)) == []
    assert waves.plan.of_type(AssignStaff)  # a team holds them
    default = CrowdModel(s, None, seed=1).run().kpis
    plain = CrowdModel(s, without.plan, seed=1).run().kpis
    held = CrowdModel(s, waves.plan, seed=1).run().kpis
    assert default["peak_density_ppm2"] > 4.0
    assert plain["peak_density_ppm2"] < 4.0 and held["peak_density_ppm2"] < 4.0
    assert held["turned_away_by_control"] < plain["turned_away_by_control"] - 100
    assert held["held_off_graph"] == pytest.approx(0.0, abs=1e-6)


def _two_streams(tmp: Path, *, far: bool = False, one_team: bool = False) -> CrowdScenario:
    """400 people at each of two areas, all due when a show ends at 15:00, leave by 8 m walkways that meet at a
    junction before a 3 m walkway to the exit (which carries the 800 within a 5-minute period). `far`: the areas
    are 720 m apart, beyond one team's reach; `one_team`: only a's team."""
    k = 5.0 if far else 1.0
    nodes = [("o", "entrance", 0, 0, 0), ("a", "viewing_area", 60 * k, 40 * k, 1000),
             ("b", "viewing_area", 60 * k, -40 * k, 1000), ("s", "junction", 160 * k, 0, 0),
             ("x", "exit", 160 * k + 40, 0, 0)]  # fmt: skip
    edges = [("o", "a", 72 * k, 8), ("o", "b", 72 * k, 8), ("a", "s", 108 * k, 8), ("b", "s", 108 * k, 8),
             ("s", "x", 40, 3)]  # fmt: skip
    staff = {"ta": {"count": 20, "base": "a"}} | ({} if one_team else {"tb": {"count": 20, "base": "b"}})
    return crowd_scenario(tmp, nodes, edges, origins={"o": 1.0}, destinations={"a": 0.5, "b": 0.5}, exits=["x"],
                          horizon_s=3000, dwell={"dist": "deterministic", "value_s": 300},
                          shows=[{"start_s": 600, "duration_s": 300, "attraction": 1}], staff=staff,
                          demand={"release": {"at_s": 0, "people": 800, "over_s": 300},
                                  "origins": {"o": 1.0}, "destinations": {"a": 0.5, "b": 0.5}})  # fmt: skip


def test_the_lp_s_release_when_a_show_ends_is_let_go_at_its_rate_not_all_at_once(tmp_path):
    """The LP holds nobody past their time: the 800 fit the exit walkway in the period the show ends. Let go at
    once (as the simulation does when nothing holds them), the two streams pack the junction past 4 /m² within
    the first minute; the plan lets each area go at the LP's rate over the period (80 a minute), and the run
    stays far below the warning density."""
    s = _two_streams(tmp_path)
    options = CrowdOptions(period_s=300)
    problem = flow_problem(s, options=options)
    assert np.flatnonzero(problem.surges()[0]).tolist() == [3]  # 15:00-20:00: the first period after the hold
    result = optimise_crowd(s, SolveParams(time_limit_s=5), options=options)
    assert result.plan is not None
    holds = result.plan.of_type(HoldArea)
    assert sorted((h.node, h.at_s, h.until_s, h.rate_per_min) for h in holds) == [("a", 900.0, 1200.0, 80.0),
                                                                                   ("b", 900.0, 1200.0, 80.0)]
    assert check_plan(result.plan, s, scenario_graph(s)) == []
    paced = CrowdModel(s, result.plan, seed=1).run().kpis
    at_once = CrowdModel(s, plan_of(s, *(a for a in result.plan.actions if not isinstance(a, HoldArea))),
                         seed=1).run()  # fmt: skip
    assert paced["peak_density_ppm2"] < 1.0
    assert at_once.kpis["peak_density_ppm2"] > 4.0
    assert [e.data["place"] for e in at_once.events if e.kind == "peak_density"] == ["s"]
    assert paced["visitors_served"] == at_once.kpis["visitors_served"] == pytest.approx(800.0)


@pytest.mark.parametrize(("ends_s", "share", "surge", "until_s"), [(900.0, 0.75, 4, 1200.0), (840.0, 0.5, 3, 1080.0)])
def test_a_show_ending_inside_a_period_is_paced_from_its_end_for_as_long_as_the_lp_lets_them_go(
        tmp_path, ends_s, share, surge, until_s):  # fmt: skip
    """In 4-minute periods (12:00-16:00 is the fourth), a show ending at 15:00 still holds them at the period's
    middle: the LP lets them go in the next period, and the hold starts at 12:00, so that they go at its rate from
    15:00, not all at once. Ending at 14:00, the LP lets them go from 12:00, but nobody can go before 14:00: the
    hold ends two minutes after the period, so that the last of them go at its rate (cut at the period's end, the
    rest would go at once and pack the junction to over 1.5 /m²)."""
    s = _two_streams(tmp_path)
    s = s.model_copy(update={"shows": (s.shows[0].model_copy(update={"duration_s": ends_s - 600}),)})
    options = CrowdOptions(period_s=240)
    problem = flow_problem(s, options=options)
    assert problem.held_share is not None and problem.held_share[3] == pytest.approx(share)
    assert np.flatnonzero(problem.surges()[0]).tolist() == [surge]
    result = optimise_crowd(s, SolveParams(time_limit_s=5), options=options)
    assert result.plan is not None
    holds = result.plan.of_type(HoldArea)
    assert sorted((h.node, h.at_s, h.until_s) for h in holds) == [("a", 720.0, until_s), ("b", 720.0, until_s)]
    assert all(h.rate_per_min == pytest.approx(330 / 4, abs=0.1) for h in holds)  # 330 of 400 in the LP's period
    assert CrowdModel(s, result.plan, seed=1).run().kpis["peak_density_ppm2"] < 1.0
    if ends_s % 240:
        others = [a for a in result.plan.actions if not isinstance(a, HoldArea)]
        cut = [h.model_copy(update={"until_s": 960.0}) for h in holds]
        assert CrowdModel(s, plan_of(s, *others, *cut), seed=1).run().kpis["peak_density_ppm2"] > 1.5


def test_a_show_s_end_is_found_in_the_period_it_lets_them_go_a_re_plan_s_first_included():
    """The first period after a show's hold, and the first period of all when a show holds them only in its first
    half (a re-plan made as a show ends): never a period a show holds at its middle, nor one it never holds."""
    base = _corridor(holdable=True, n=6)
    hold = np.array([False, False, True, True, False, False])
    for share, found in (([0.4, 0, 1, 1, 0.3, 0], [0, 4]), ([0, 0, 1, 1, 0, 0], [4]), ([0, 0, 1, 0.6, 0, 0], [4])):
        problem = replace(base, hold=hold, held_share=np.array(share, dtype=float))
        assert np.flatnonzero(problem.surges()[0]).tolist() == found
    assert np.flatnonzero(replace(base, hold=hold).surges()[0]).tolist() == [4]


def test_a_show_s_release_no_team_can_pace_is_a_warning_in_the_rationale(tmp_path):
    """With one team, at a, 720 m from b: a is paced, and the rationale warns that b's 400 go at once."""
    s = _two_streams(tmp_path, far=True, one_team=True)
    result = optimise_crowd(s, SolveParams(time_limit_s=5), options=CrowdOptions(period_s=300))
    assert result.plan is not None
    assert [(h.node, h.at_s, h.rate_per_min) for h in result.plan.of_type(HoldArea)] == [("a", 900.0, 80.0)]
    (line,) = [x for x in result.rationale if x.startswith("warning: let go at once when a show ends")]
    assert line.split("pace them: ", 1)[1].startswith("b 400 (19:15) (")  # b alone
    two = optimise_crowd(_two_streams(tmp_path, far=True), SolveParams(time_limit_s=5),
                         options=CrowdOptions(period_s=300))  # fmt: skip
    assert two.plan is not None and {h.node for h in two.plan.of_type(HoldArea)} == {"a", "b"}
    assert not any(x.startswith("warning: let go at once") for x in two.rationale)


def test_a_solution_without_holds_has_no_hold_actions():
    assert _hold_actions(_corridor(holdable=False), FlowSolution("OPTIMAL", 0.0, 0.0)) == []


def test_holds_are_open_to_the_plan_for_half_an_hour_after_a_show_ends_and_to_a_re_plan_within_it(tmp_path):
    """The show holds everyone until 10:00: a plan may hold them in place from then until 40:00 (but the horizon
    ends at 40:00), never before; a re-plan at 15:00 knows the show ended five minutes before and may hold them
    from its first period on; with `hold_areas` off, nowhere."""
    s = _show_world(tmp_path)
    s = s.model_copy(update={"clock": s.clock.model_copy(update={"horizon_s": 3600.0})})
    options = CrowdOptions(period_s=60, lookahead_s=0)
    problem = flow_problem(s, options=options)
    minutes = np.flatnonzero(problem.holdable[0])
    assert (minutes[0], minutes[-1]) == (10, 39)
    assert (problem.holdable[0] == problem.holdable[1]).all()
    replan = flow_problem(s, options=options, state=state_at(s, None, seed=1, at_s=900))
    assert replan.holdable[0, 0] and np.flatnonzero(replan.holdable[0])[-1] == 39 - 15
    assert not flow_problem(s, options=CrowdOptions(period_s=60, hold_areas=False)).holdable.any()
