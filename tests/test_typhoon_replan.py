"""Re-planning a typhoon with its escort teams where they are: the state says where each team is in its cycle,
a re-plan's batches honour it, the splice keeps a lane cleared for the batches under way, and a re-plan that
carries on the plan in effect reproduces its run.

The Huangpu scenario, a schedule given by hand (the optimiser's choice is not under test here: `plan_actions`,
the state and the splice are), seed 3.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest

from optimizer.typhoon import plan_actions, typhoon_problem
from scenarios import load_scenario
from scenarios.loading import scenario_graph
from scenarios.plan import ClearLane, EscortBatch, Plan, PlanMeta
from scenarios.splice import splice
from scenarios.typhoon import TyphoonGeometry
from simulation.typhoon import TyphoonModel, state_at

SEED = 3
FUXING, RENMIN, DALIAN = ("fuxing", "ba"), ("renmin", "ab"), ("dalian", "ab")
FIRST = 25200 + 300 - 120  # 07:00 + the lane's changeover - a batch's set-up: boards as the lane is ready


@cache
def world() -> tuple[Any, TyphoonGeometry]:
    scenario = load_scenario("huangpu_typhoon")
    return scenario, TyphoonGeometry(scenario, scenario_graph(scenario))


def _plan(actions: list[Any]) -> Plan:
    scenario, _ = world()
    return Plan.build(PlanMeta(scenario=scenario.name, scenario_hash="test", produced_by="test"), actions)


def _run(plan: Plan) -> TyphoonModel:
    scenario, _ = world()
    model = TyphoonModel(scenario, plan, seed=SEED)
    model.run()
    return model


@cache
def open_loop() -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any], Plan]:
    """The whole storm's window with a hand schedule: Fuxing E Rd westward cleared throughout (two teams, one
    from 09:15 to 11:45), Renmin Rd eastward from 07:15 to 14:15 (one team, two from 09:15 to 11:45), Dalian Rd
    eastward from 07:45 (one team); every bank area sent to the first of these it reaches."""
    scenario, geo = world()
    problem = typhoon_problem(scenario, geo)
    W, P = len(problem.ways), problem.n_periods
    f, r, d = (problem.ways.index(w) for w in (FUXING, RENMIN, DALIAN))
    clear, teams = np.zeros((W, P), dtype=bool), np.zeros((W, P), dtype=np.int64)
    clear[f], teams[f] = True, 2
    clear[r, 2:30], teams[r, 2:30] = True, 1
    teams[r, 10:20], teams[f, 10:20] = 2, 1
    clear[d, 4:], teams[d, 4:] = True, 1
    sent = {}
    for o, origin in enumerate(problem.origins):
        reached = [w for w in (f, r, d) if problem.reach[o, w]]
        if reached:
            sent[origin] = problem.ways[reached[0]]
    plan = _plan(plan_actions(problem, scenario, geo, clear=clear, teams=teams, sent=sent))
    return problem, clear, teams, sent, plan


@pytest.mark.parametrize("k", [9, 25])
def test_a_replan_that_carries_on_the_plan_in_effect_reproduces_its_run(k: int) -> None:
    """Re-planned at the start of period k with the same schedule from there on, the spliced plan's run leads the
    same batches (team, way, riders) at the same times to the plans' millisecond, with the same KPIs.

    Period 9 (09:00): teams back to back, one batch in the tunnel. Period 25 (13:00): escort_3 joined Fuxing at
    11:45 while still out at Renmin, so it runs late on its orders; the re-plan starts it when it is next free,
    as the run did. Why not bit for bit: plans round times to the millisecond, and a team's next batch is planned
    at its free time rounded, so batch times differ by at most 1 ms; a rider's fate can change only if one of their
    own moments falls in that millisecond (none does here), and the mean wait moves by at most 1 ms x the
    riders escorted / the riders (under 1e-4 min)."""
    scenario, geo = world()
    problem, clear, teams, sent, plan = open_loop()
    t = problem.t(k)
    state = state_at(scenario, plan, seed=SEED, at_s=t)
    again = typhoon_problem(scenario, geo, state=state)
    assert again.ways == problem.ways and again.start_s == t and again.n_periods == problem.n_periods - k
    new = _plan(plan_actions(again, scenario, geo, clear=clear[:, k:], teams=teams[:, k:], sent=sent))
    spliced = splice(plan, new, t, scenario=scenario)
    before, after = _run(plan), _run(spliced)
    assert len(before.batches) == len(after.batches) > 100
    for x, y in zip(sorted(before.batches), sorted(after.batches), strict=True):
        assert (x[0], x[1], x[2], x[5]) == (y[0], y[1], y[2], y[5])
        assert x[3] == pytest.approx(y[3], abs=1.001e-3) and x[4] == pytest.approx(y[4], abs=1.001e-3)
    a, b = before._result(0.0, before.horizon).kpis, after._result(0.0, after.horizon).kpis
    for name in ("riders_stranded", "riders_crossed", "riders_escorted", "vehicle_delay_h", "max_vehicle_queue"):
        assert a[name] == b[name], name
    assert a["rider_mean_wait_min"] == pytest.approx(b["rider_mean_wait_min"], abs=1e-4)


def test_the_state_says_where_each_team_is_in_its_cycle() -> None:
    """At 09:00 each team's last batch started on an order dated before 09:00 is in the state, with its set-up
    start, boarding (set-up later), exit (transit later), next free time (a cycle after its start) and riders."""
    scenario, geo = world()
    problem, *_, plan = open_loop()
    t = problem.t(9)
    state = state_at(scenario, plan, seed=SEED, at_s=t)
    model = _run(plan)
    assert {e.team for e in state.escorts} == {"escort_1", "escort_2", "escort_3", "escort_4"}
    for e in state.escorts:
        orders = [a for a in plan.of_type(EscortBatch) if a.team == e.team and a.at_s < t]
        started = [s for s in model.started if s[0] == e.team and s[3] < t]
        assert e.start_s == max(s[4] for s in started) and e.way == (started[-1][1], started[-1][2])
        assert e.start_s >= max(a.at_s for a in orders) - 1e-3
        assert e.board_s == pytest.approx(e.start_s + scenario.escorts.setup_s)
        assert e.exit_s == pytest.approx(e.board_s + geo.transit_s(*e.way))
        assert e.free_s == pytest.approx(e.start_s + geo.cycle_s(*e.way))
        boarded = [b[5] for b in model.batches if b[0] == e.team and b[3] == e.board_s]
        assert e.riders == (boarded[0] if e.board_s <= t else 0)
    assert state.under_way == tuple(e for e in state.escorts if e.exit_s > t)


def _hand_case() -> tuple[Any, Any, float, Plan]:
    """Fuxing E Rd westward cleared 07:00-12:00, escort_1 leading batches back to back from 07:03 and escort_2
    through Dalian Rd eastward, cleared 07:00-12:00, from 07:03; the re-plan at 08:08:20, when escort_1 is in the
    Fuxing tunnel with its fourth batch."""
    scenario, geo = world()
    cycle = geo.cycle_s(*FUXING)
    actions: list[Any] = [ClearLane(at_s=25200, tunnel="fuxing", direction="ba", lanes=1, until_s=43200),
                          ClearLane(at_s=25200, tunnel="dalian", direction="ab", lanes=1, until_s=43200)]
    actions += [EscortBatch(at_s=round(FIRST + m * cycle, 3), tunnel="fuxing", direction="ba", team="escort_1",
                            max_riders=150) for m in range(10) if FIRST + (m + 1) * cycle <= 43200]
    actions += [EscortBatch(at_s=round(FIRST + m * geo.cycle_s(*DALIAN), 3), tunnel="dalian", direction="ab",
                            team="escort_2", max_riders=150) for m in range(10)
                if FIRST + (m + 1) * geo.cycle_s(*DALIAN) <= 43200]  # fmt: skip
    plan = _plan(actions)
    t = 29300.0
    state = state_at(scenario, plan, seed=SEED, at_s=t)
    return scenario, state, t, plan


def test_a_team_out_at_the_replan_leads_its_next_batch_when_free_and_a_new_team_fills_the_gap() -> None:
    """With escort_1 in the Fuxing tunnel at 08:08:20 and the re-plan putting two teams there, escort_1's next batch
    is at its free time (the start of its batch + a cycle: 4 batches in, 07:03 + 4 cycles), as the plan in effect
    had it, and the other team's first is half a cycle from it; escort_2, free at Dalian, is the team kept there."""
    scenario, state, t, _plan_in_effect = _hand_case()
    _, geo = world()
    cycle = geo.cycle_s(*FUXING)
    out = state.escort("escort_1")
    assert out is not None and out.way == FUXING
    assert out.start_s == pytest.approx(FIRST + 3 * cycle, abs=1e-3) and out.board_s <= t < out.exit_s
    assert out in state.under_way and out.riders > 0
    problem = typhoon_problem(scenario, geo, state=state, hours=3)
    f, d = problem.ways.index(FUXING), problem.ways.index(DALIAN)
    shape = (len(problem.ways), problem.n_periods)
    clear, teams = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.int64)
    clear[f], teams[f] = True, 2
    clear[d], teams[d] = True, 1
    actions = plan_actions(problem, scenario, geo, clear=clear, teams=teams, sent={})
    first = {}
    for a in sorted(actions, key=lambda a: a.at_s):
        if isinstance(a, EscortBatch):
            first.setdefault((a.team, a.tunnel, a.direction), a.at_s)
    assert first[("escort_1", *FUXING)] == round(FIRST + 4 * cycle, 3)
    other = next(team for team, *way in first if tuple(way) == FUXING and team != "escort_1")
    assert other in ("escort_3", "escort_4")
    assert first[(other, *FUXING)] - t == pytest.approx((FIRST + 4.5 * cycle - t) % cycle, abs=1e-3)
    assert ("escort_2", *DALIAN) in first and first[("escort_2", *DALIAN)] == round(state.escort("escort_2").free_s, 3)


def test_the_splice_keeps_the_lane_until_the_batch_under_way_is_out() -> None:
    """A re-plan at 08:08:20 that stops clearing Fuxing (Dalian only) keeps Fuxing's lane past its minimum until
    escort_1's batch, ordered before 08:08:20, is out of the tunnel; that batch goes with the same riders as in the
    plan in effect's run, and escort_1 then joins Dalian no earlier than it is free."""
    scenario, state, t, plan = _hand_case()
    _, geo = world()
    out = state.escort("escort_1")
    assert out is not None
    problem = typhoon_problem(scenario, geo, state=state, hours=3)
    d = problem.ways.index(DALIAN)
    shape = (len(problem.ways), problem.n_periods)
    clear, teams = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.int64)
    clear[d], teams[d] = True, 2
    spliced = splice(plan, _plan(plan_actions(problem, scenario, geo, clear=clear, teams=teams, sent={})), t,
                     scenario=scenario)  # fmt: skip
    lane = next(a for a in spliced.of_type(ClearLane) if (a.tunnel, a.direction) == FUXING)
    order = max(a.at_s for a in plan.of_type(EscortBatch) if a.team == "escort_1" and a.at_s < t)
    assert lane.until_s == pytest.approx(order + scenario.escorts.setup_s + geo.transit_s(*FUXING))
    assert lane.until_s > t and lane.until_s > lane.at_s + scenario.lanes.min_clear_s
    before, after = _run(plan), _run(spliced)
    led = [b for b in after.batches if b[0] == "escort_1" and b[3] == out.board_s]
    assert led == [b for b in before.batches if b[0] == "escort_1" and b[3] == out.board_s] and led[0][5] > 0
    joined = [a.at_s for a in spliced.of_type(EscortBatch) if a.team == "escort_1" and a.tunnel == "dalian"]
    assert joined and min(joined) >= round(out.free_s, 3)
    assert not [e for e in after.rec.events if e.kind == "batch_refused"]
