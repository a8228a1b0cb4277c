"""Re-planning with what has happened: the optimisers plan for the injects they are given (as the simulation
applies them), the loop gives them the injects that have fired and nothing later, and the new plan takes over
from the plan in effect at the re-planning time."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from store_support import DATA, PASSWORD, make_world

import command.loop
from command.authority import grant_command
from command.errors import Infeasible
from command.incidents import open_incident
from command.kinds import simulate
from command.loop import advance, approve_and_apply, plan_incident
from command.plans import active_plan, list_plans, view_plan
from optimizer.crowd import CrowdOptions, flow_problem, solve_flows, staff_problem
from optimizer.mass_testing import optimise_mass_testing
from optimizer.result import SolveParams
from optimizer.staffing import plan_crews_and_shares, staffing_problem
from scenarios import load_scenario, scenario_hash
from scenarios.crowd import check_plan
from scenarios.injects import facts, known_injects
from scenarios.loading import scenario_from_document, scenario_graph
from scenarios.plan import Announce, AssignStaff, ClearLane, DispatchBus, MeterFlow, Plan, PlanMeta
from scenarios.splice import splice
from tests.crowd_builders import crowd_scenario

TINY = DATA / "one_site_mmc.yaml"
CROWD = SimpleNamespace(kind="crowd")


def _with_injects(scenario, injects):  # type: ignore[no-untyped-def]
    doc = scenario.model_dump(mode="json")
    doc["injects"] = injects
    return scenario_from_document(doc, file="test")


# ------------------------------------------------------------------------------------------ what is known


def test_a_planner_knows_the_injects_that_fired_by_then_as_facts():
    """Only injects that fired, and only up to the time, count; their conditions held, so they are dropped;
    a conditional inject nobody has seen fire is no fact."""
    scenario = _with_injects(load_scenario(TINY), [
        {"at_s": 600, "kind": "message", "note": "a"},
        {"at_s": 1200, "kind": "message", "condition": "tested > 5", "note": "b"},
        {"at_s": 1800, "kind": "message", "condition": "tested > 1000000000", "note": "c"},
        {"at_s": 3600, "kind": "message", "note": "d"},
    ])  # fmt: skip
    known = known_injects(scenario.injects, at_s=2000, fired={0, 1, 3})
    assert [(i.note, i.condition) for i in known] == [("a", None), ("b", None)]
    assert [i.note for i in facts(scenario.injects)] == ["a", "d"]


# ------------------------------------------------------------------------------------------ the splice


def _plan(*actions) -> Plan:  # type: ignore[no-untyped-def]
    return Plan.build(PlanMeta(scenario="x"), actions)


def test_a_new_plan_takes_over_the_controls_in_force_at_the_replanning_time():
    """A meter in force at t that the new plan changes ends at t and the new one starts at t; a meter both plans
    hold the same carries on to the new plan's end; one-off actions before t stay; later ones are the new
    plan's."""
    done = _plan(
        MeterFlow(at_s=0, node="a", rate_per_min=10),
        MeterFlow(at_s=0, node="b", rate_per_min=20, until_s=5000),
        DispatchBus(at_s=100, origin="bay", to="home"),
        MeterFlow(at_s=4000, node="c", rate_per_min=5),
    )
    new = _plan(
        MeterFlow(at_s=0, node="a", rate_per_min=4),
        MeterFlow(at_s=600, node="b", rate_per_min=20, until_s=3000),
        DispatchBus(at_s=200, origin="bay", to="home"),
        MeterFlow(at_s=2500, node="d", rate_per_min=7),
    )
    out = splice(done, new, 1800, scenario=CROWD)
    got = [(a.type, getattr(a, "node", None), a.at_s, getattr(a, "until_s", None), getattr(a, "rate_per_min", None))
           for a in out.actions]  # fmt: skip
    assert got == [
        ("meter_flow", "a", 0, 1800, 10),  # the old rate until t
        ("meter_flow", "b", 0, 3000, 20),  # the same meter: carried on to the new plan's end
        ("dispatch_bus", None, 100, 1800, None),  # dated before t: stays, and lapses at t if nobody carried it out
        ("meter_flow", "a", 1800, None, 4),  # the new rate from t
        ("meter_flow", "d", 2500, None, 7),
    ]
    assert out.meta.state_time_s == 1800


def test_tester_groups_are_not_moved_by_a_splice_but_crowd_posts_are():
    """A tester group left its centre once and is counted once: it is kept as sent. A crowd team's post is a
    control: it ends at t if the new plan does not hold it."""
    sent = AssignStaff(at_s=0, pool="local", to="site_a", count=8)
    resent = AssignStaff(at_s=0, pool="local", to="site_a", count=6)
    again = AssignStaff(at_s=3600, pool="local", to="site_a", count=8)  # the same (only) group, sent again
    tested = splice(_plan(sent), _plan(resent, again), 1800, scenario=load_scenario(TINY))
    assert tested.actions == (sent,)  # nobody is left to send
    old = AssignStaff(at_s=0, pool="p", to="s1", count=8)
    new = AssignStaff(at_s=0, pool="p", to="s2", count=8)
    crowd = splice(_plan(old), _plan(new), 1800, scenario=CROWD)
    assert [(a.to, a.at_s, a.until_s) for a in crowd.actions] == [("s1", 0, 1800), ("s2", 1800, None)]


def test_a_lane_clearing_cut_short_by_a_splice_still_lasts_its_minimum():
    """A lane cleared at 20 minutes and not in the new plan ends at 50 minutes (30 minutes' minimum), not at the
    re-planning time; one the new plan keeps carries on to the new plan's end."""
    typhoon = SimpleNamespace(kind="typhoon", lanes=SimpleNamespace(min_clear_s=1800))
    done = _plan(ClearLane(at_s=1200, tunnel="yanan", direction="ab", until_s=7200),
                 ClearLane(at_s=1200, tunnel="yanan", direction="ba", until_s=7200))
    new = _plan(ClearLane(at_s=1800, tunnel="yanan", direction="ba", until_s=9000))
    out = splice(done, new, 1800, scenario=typhoon)
    assert [(a.direction, a.at_s, a.until_s) for a in out.actions] == [("ab", 1200, 3000), ("ba", 1200, 9000)]


# ------------------------------------------------------------------------------------------ crowd planner


def _two_gates(tmp, injects=(), **extra):  # type: ignore[no-untyped-def]
    """Gates o1 and o2 lead to a viewing area v, which has two exits x1 (near) and x2 (far); room before each gate
    for everybody who waits (100,000 m²)."""
    nodes = [("o1", "entrance", 0, 0, 0), ("o2", "entrance", 0, 80, 0), ("v", "viewing_area", 100, 40, 600),
             ("x1", "exit", 160, 40, 0), ("x2", "exit", 100, 200, 0)]  # fmt: skip
    edges = [("o1", "v", 110.0, 6.0), ("o2", "v", 110.0, 6.0), ("v", "x1", 60.0, 6.0), ("v", "x2", 160.0, 6.0)]
    return crowd_scenario(tmp, nodes, edges, origins={"o1": 0.5, "o2": 0.5}, destinations={"v": 1.0},
                          exits=["x1", "x2"], rate_per_h=3000, horizon_s=5400, injects=list(injects),
                          dwell={"dist": "deterministic", "value_s": 900}, holding_m2=100_000, **extra)  # fmt: skip


def test_the_crowd_planner_adds_a_known_surge_to_its_origin_and_ignores_an_unknown_one(tmp_path):
    surge = {"at_s": 1500, "kind": "surge", "target": "o2", "params": {"rate_per_h": 6000, "duration_s": 900}}
    base = flow_problem(_two_gates(tmp_path))
    known = flow_problem(_two_gates(tmp_path, [surge]))
    guessed = flow_problem(_two_gates(tmp_path, [{**surge, "condition": "queue_total > 10"}]))
    extra = known.arrivals - base.arrivals
    assert extra[0].sum() == pytest.approx(0) and extra[1].sum() == pytest.approx(6000 * 900 / 3600)
    t = base.start_s + base.period_s * np.arange(base.n_periods)
    assert extra[1][(t + base.period_s <= 1500) | (t >= 2400)].sum() == pytest.approx(0)  # only while it lasts
    assert np.array_equal(guessed.arrivals, base.arrivals)


def test_a_closed_entrance_lets_nobody_in_and_its_people_come_in_at_the_other(tmp_path):
    """While o1 is closed the LP lets nobody in there; everyone who arrives is let in or still waiting at the
    end (people are conserved across the move)."""
    close = {"at_s": 1200, "kind": "close_exit", "target": "o1", "params": {"duration_s": 1800}}
    problem = flow_problem(_two_gates(tmp_path, [close]), options=CrowdOptions(period_s=60.0))
    assert problem.closed is not None and problem.move_to is not None
    shut = problem.closed[0]
    assert shut.sum() == 30 and (problem.move_to[0][shut] == 1).all() and not problem.closed[1].any()
    sol = solve_flows(problem)
    assert sol.status == "OPTIMAL" and sol.entry is not None and sol.queue is not None
    assert sol.entry[0][shut].max() == pytest.approx(0, abs=1e-9)
    assert sol.queue[0][1:][shut].max() == pytest.approx(0, abs=1e-9)  # nobody left waiting at the closed gate
    assert sol.told is not None  # everybody is let in, still waiting at the end, or told not to come
    assert sol.entry.sum() + sol.queue[:, -1].sum() + sol.told.sum() == pytest.approx(problem.arrivals.sum(), rel=1e-9)


def test_a_gate_nobody_can_meter_takes_in_those_sent_from_a_closed_one_and_those_waiting_at_the_start(tmp_path):
    """The second solve (some gates unstaffed) stays feasible: an unmetered gate lets in everybody waiting,
    those sent from the closed gate and those outside at the re-planning time too."""
    from scenarios.crowd import CrowdState

    close = {"at_s": 2400, "kind": "close_exit", "target": "o1", "params": {"duration_s": 1800}}
    state = CrowdState(at_s=1800, outside={"o1": 800.0, "o2": 900.0}, heading={}, present={"v": 1400.0},
                       due={"v": (0.0,) * 30 + (1400.0,)})  # fmt: skip
    problem = flow_problem(_crowded(tmp_path).model_copy(update={"injects": (_inject(close),)}), state=state,
                           options=CrowdOptions(period_s=60.0))  # fmt: skip
    meterable = problem.meterable.copy()
    meterable[1, :] = False  # o2 has nobody to meter it
    sol = solve_flows(problem.with_meterable(meterable))
    assert sol.status == "OPTIMAL" and sol.queue is not None and sol.entry is not None
    assert sol.queue[1, 1:].max() == pytest.approx(0, abs=1e-6)
    assert sol.entry[1, 0] >= 900 - 1e-6  # those waiting at o2 come in at once
    assert sol.told is not None  # everybody is let in, still waiting at the end, or told not to come
    assert sol.entry.sum() + sol.queue[:, -1].sum() + sol.told.sum() == pytest.approx(1700 + problem.arrivals.sum(),
                                                                                     rel=1e-9)  # fmt: skip


def _inject(doc):  # type: ignore[no-untyped-def]
    from scenarios.schema import Inject

    return Inject.model_validate(doc)


def test_a_closed_exit_takes_nobody_and_the_far_exit_takes_them(tmp_path):
    close = {"at_s": 0, "kind": "close_exit", "target": "x1", "params": {"duration_s": 3600}}
    problem = flow_problem(_two_gates(tmp_path, [close]), options=CrowdOptions(period_s=60.0, exits_per_area=1))
    ends = [r.nodes[-1] for r in problem.routes_out[0]]
    assert ends == ["x1", "x2"]  # the nearest exit, and the next one while it is closed
    sol = solve_flows(problem)
    assert sol.status == "OPTIMAL" and sol.dwellers is not None
    shut = ~problem.out_open[0][0]
    assert sol.leaving[0][0][shut].max() == pytest.approx(0, abs=1e-9)  # nobody sets off for x1 while closed
    assert sol.leaving[0][1][shut].sum() > 100  # they go to x2 instead
    forever = flow_problem(_two_gates(tmp_path, [{**close, "params": {}}]), options=CrowdOptions(exits_per_area=1))
    assert [r.nodes[-1] for r in forever.routes_out[0]] == ["x2"]  # closed to the end: not a route at all
    # Closed for the first hour: those who would reach x1 before it reopens do not set off for it.
    ahead = problem.routes_out[0][0].at_nodes[-1]  # periods from setting off to reaching x1
    assert problem.out_open[0][0].sum() == problem.n_periods - 60 + ahead
    assert not problem.out_open[0][0][: 60 - ahead].any()
    # Leavers make for the nearest open exit (the simulation's rule): x2 only while x1 is closed to them.
    assert (problem.out_open[0][1] == ~problem.out_open[0][0]).all()


def test_a_known_staff_delay_postpones_the_posts_a_team_had_not_reached(tmp_path):
    """A reserve called up at 20 minutes is delayed by 30 minutes at 10 minutes: it reaches its posts 30 minutes
    later; the team on duty from the start is not affected."""
    staff = {"gate": {"count": 40, "base": "o1"}, "reserve": {"count": 40, "base": "x2", "callup_delay_s": 1200}}
    delay = {"at_s": 600, "kind": "delay", "target": "reserve", "params": {"delay_s": 1800}}
    need = {"o1": np.ones(6), "o2": np.ones(6)}

    def ready(injects):  # type: ignore[no-untyped-def]
        s = _two_gates(tmp_path, injects, staff=staff)
        p = staff_problem(s, scenario_graph(s), need=need, period_s=900, n_periods=6, min_post=20)
        return p, p.ready.copy()

    p, before = ready([])
    _, after = ready([delay])
    r, g = p.pools.index("reserve"), p.pools.index("gate")
    assert np.allclose(after[r], before[r] + 1800) and np.array_equal(after[g], before[g])


def test_a_team_sent_after_a_known_delay_leaves_early_enough_to_be_at_its_post_in_time(tmp_path):
    """The simulation delays every team of the pool that arrives after the delay fired, those sent later too; the
    plan sends them that much earlier, so that they are at their posts when the staff model wants them."""
    from optimizer.crowd import _staff_actions, solve_staff
    from scenarios.plan import Plan, PlanMeta
    from simulation.crowd import simulate as simulate_crowd

    staff = {"reserve": {"count": 20, "base": "x2"}}
    delay = {"at_s": 300, "kind": "delay", "target": "reserve", "params": {"delay_s": 1200}}
    s = _two_gates(tmp_path, [delay], staff=staff)
    need = {"o1": np.array([0, 0, 1.0, 1.0])}  # wanted at o1 from 30 minutes on
    p = staff_problem(s, scenario_graph(s), need=need, period_s=900, n_periods=4, min_post=20)
    sol = solve_staff(p)
    (post,) = _staff_actions(p, sol, s)
    begin = 1800.0
    assert post.at_s == pytest.approx(begin - float(p.walk_s[0, p.posts.index(post.to)]) - 1200)
    plan = Plan.build(PlanMeta(scenario=s.name), [post])
    arrived = [e.t_s for e in simulate_crowd(s, plan, seed=1).events if e.kind == "staff_posted"]
    assert arrived and arrived[0] <= begin + 1e-6


def test_a_known_show_change_changes_when_people_are_held(tmp_path):
    shows = [{"start_s": 1800, "duration_s": 600}]
    cancel = {"at_s": 900, "kind": "show", "params": {"segment": 0, "change": "cancel"}}
    held = flow_problem(_two_gates(tmp_path, shows=shows)).hold
    cancelled = flow_problem(_two_gates(tmp_path, [cancel], shows=shows)).hold
    assert held.any() and not cancelled.any()


# ------------------------------------------------------------------------------------------ mass testing


def test_the_staffing_planner_times_delayed_waves_as_the_simulation_does():
    """Waves due to leave after a delay inject leave that much later: the plan still says when they are due, and
    the planner's crews reach the site when the simulation's do."""
    base = load_scenario(TINY, overrides=["resources.testers.local.callup_delay_s=3600"])
    scenario = _with_injects(base, [{"at_s": 1800, "kind": "delay", "target": "local", "params": {"delay_s": 900}}])
    result = optimise_mass_testing(scenario, params=SolveParams(time_limit_s=5))
    assert result.plan is not None
    staff = [a for a in result.plan.actions if isinstance(a, AssignStaff)]
    assert staff and all(a.at_s == 3600 for a in staff)  # when they are due; the world delays them
    crews, _ = plan_crews_and_shares(staffing_problem(scenario), result.plan)
    sim = simulate(scenario, result.plan, seed=1)
    arrived = sorted(e.t_s for e in sim.events if e.kind == "testers_arrive")
    assert arrived == pytest.approx(sorted(c.arrive_s for c in crews))
    assert min(arrived) >= 3600 + 900


# ------------------------------------------------------------------------------------------ the loop


def test_the_loop_tells_the_optimiser_what_has_happened_and_nothing_later(tmp_path, monkeypatch):
    """Planned at the start, the optimiser (and the forecasts) see no inject (the drill's delay is still to
    come); re-planned after the delay fired, they see that delay as a fact; the message skipped by its condition
    stays unknown."""
    world = make_world(f"sqlite:///{tmp_path / 'known.db'}")
    scenario = _with_injects(load_scenario(TINY, overrides=["resources.testers.local.callup_delay_s=3600"]), [
        {"at_s": 1800, "kind": "delay", "target": "local", "params": {"delay_s": 900}},
        {"at_s": 2400, "kind": "message", "condition": "queue_total > 1000000000", "note": "never"},
        {"at_s": 7200, "kind": "message", "note": "later"},
    ])  # fmt: skip
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    grant_command(world.store, world["admin"], iid, "cmd_pudong", hours=12)
    seen: list[tuple] = []
    real = command.loop.run_loaded

    def spy(known_world, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(tuple((i.kind, i.at_s, i.condition) for i in known_world.injects))
        return real(known_world, **kwargs)

    monkeypatch.setattr(command.loop, "run_loaded", spy)
    fast = SolveParams(time_limit_s=3)
    first = plan_incident(world.store, world["planner"], iid, params=fast)
    assert advance(world.store, world["planner"], iid).to_s == 1800
    advance(world.store, world["planner"], iid)  # to the skipped message at 2400
    second = plan_incident(world.store, world["planner"], iid, params=fast)
    assert seen == [(), (("delay", 1800.0, None),)]
    for pid in (first, second):
        assert view_plan(world.store, world["admin"], pid).plan.meta.scenario_hash == scenario_hash(scenario)
    world.store.dispose()


def _approved_at_half_past(tmp_path, injects=()):  # type: ignore[no-untyped-def]
    """The two gates' incident, its first plan approved by the chief and the clock advanced to 1800 s: the world,
    the scenario, the incident, the chief, the first plan and the solver's settings."""
    staff = {"gate1": {"count": 20, "base": "o1"}, "gate2": {"count": 20, "base": "o2"}}
    scenario = _two_gates(tmp_path, list(injects), staff=staff)
    world = make_world(f"sqlite:///{tmp_path / 'crowd.db'}")
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="huangpu")
    grant_command(world.store, world["admin"], iid, "cmd_huangpu", hours=12)
    fast = SolveParams(time_limit_s=3)
    first = plan_incident(world.store, world["planner"], iid, params=fast)
    chief = world["cmd_huangpu"]
    shown = view_plan(world.store, chief, first)
    approve_and_apply(world.store, chief, first, password=PASSWORD, shown=shown.shown(), acknowledged=shown.warnings)
    assert advance(world.store, world["planner"], iid, until_s=1800).to_s == 1800
    return world, scenario, iid, chief, first, fast


def test_an_incident_replan_the_scenario_cannot_carry_out_is_refused_and_the_plan_in_effect_stays(tmp_path,
                                                                                                 monkeypatch):
    """A re-plan whose plan, spliced into the approved one, posts a team twice over is refused with the reason
    (`Infeasible`), proposes nothing, and leaves the approved plan in effect."""
    world, _scenario, iid, chief, first, fast = _approved_at_half_past(tmp_path)
    real = command.loop.run_loaded

    def twice_over(known_world, **kwargs):  # type: ignore[no-untyped-def]
        outcome = real(known_world, **kwargs)
        plan = outcome.solve.plan
        posts = [AssignStaff(at_s=2400, pool="gate1", to=node, count=20, until_s=3000) for node in ("o1", "o2")]
        solve = replace(outcome.solve, plan=Plan.build(plan.meta, [*plan.actions, *posts]))
        return replace(outcome, solve=solve)

    monkeypatch.setattr(command.loop, "run_loaded", twice_over)
    with pytest.raises(Infeasible, match=r"cannot take over from plan 1: .*team 'gate1' has 20; from 2400 s its "
                                         r"posts would hold 40.*plan 1 stays in effect"):  # fmt: skip
        plan_incident(world.store, world["planner"], iid, params=fast)
    assert [p.plan_id for p in list_plans(world.store, chief, iid)] == [first]
    assert active_plan(world.store, chief, iid).plan_id == first
    world.store.dispose()


def test_a_crowd_incident_replanned_after_a_surge_gets_a_valid_plan_that_meters_the_surge(tmp_path):
    """The Bund's 20:10 case in miniature: a plan is approved, a train unloads far more people at gate o2 than
    forecast, and the re-plan knows it: the spliced plan passes the scenario's checks (no team booked twice
    across the splice) and meters o2 during the surge, which the plan it replaces had no reason to."""
    surge = {"at_s": 1800, "kind": "surge", "target": "o2", "params": {"rate_per_h": 9000, "duration_s": 1200}}
    world, scenario, iid, chief, first, fast = _approved_at_half_past(tmp_path, [surge])
    second = plan_incident(world.store, world["planner"], iid, params=fast)
    old, new = (view_plan(world.store, chief, p).plan for p in (first, second))
    assert check_plan(new, scenario, scenario_graph(scenario)) == []

    def meters(plan: Plan) -> list[MeterFlow]:
        return [a for a in plan.actions if isinstance(a, MeterFlow) and a.node == "o2" and 1800 <= a.at_s < 3000]

    assert not any(isinstance(a, MeterFlow) for a in old.actions)  # the forecast alone fits: nothing to meter
    assert meters(new) and min(a.rate_per_min for a in meters(new)) < 9000 / 60  # the surge is held back
    world.store.dispose()


def test_reading_a_typhoon_state_takes_the_last_sample_at_or_before_the_time():
    from scenarios.typhoon import TyphoonState

    series = {"riders_waiting:area_a": ((0.0, 60.0, 120.0), (0.0, 7.4, 12.0)),
              "vehicle_queue:yanan:ab": ((0.0, 60.0, 120.0), (3.0, 5.0, 9.0)), "riders_crossed": ((0.0,), (1.0,))}
    state = TyphoonState.read(series, 90.0, [("yanan", "ab")])
    assert state.waiting == {"area_a": 7} and state.queued == {("yanan", "ab"): 5}
    assert state.cleared == frozenset({("yanan", "ab")})


def test_a_typhoon_is_replanned_from_the_simulated_state_with_the_upgraded_forecast(tmp_path, monkeypatch):
    """The storm is forecast to ease at 07:30; at 06:00 it is upgraded to last until 09:00. Re-planned then, the
    optimiser starts from the simulated state at 06:00 (the lane it finds cleared, riders waiting) and keeps the
    lane cleared past 07:30, which the first plan could not know to do."""
    from typhoon_worlds import small_typhoon, storm

    upgrade = {"at_s": 3600, "kind": "forecast", "params": {"from_s": 3600, "until_s": 14400, "wind_force": 9,
                                                             "warning": "red"}, "note": "typhoon upgraded"}  # fmt: skip
    scenario = small_typhoon(hazard=storm((0, 4, "none"), (1800, 9, "red"), (9000, 4, "none")), injects=[upgrade])
    world = make_world(f"sqlite:///{tmp_path / 'typhoon.db'}")
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="huangpu")
    grant_command(world.store, world["admin"], iid, "cmd_huangpu", hours=12)
    chief, fast = world["cmd_huangpu"], SolveParams(time_limit_s=3)
    calls: list[tuple] = []
    real = command.loop.run_loaded

    def spy(*args, state=None, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((state.at_s if state is not None else 0.0, state))
        return real(*args, state=state, **kwargs)

    monkeypatch.setattr(command.loop, "run_loaded", spy)
    first = plan_incident(world.store, world["planner"], iid, params=fast)
    shown_first = view_plan(world.store, chief, first)
    approve_and_apply(world.store, chief, first, password=PASSWORD, shown=shown_first.shown(),
                      acknowledged=shown_first.warnings)
    assert advance(world.store, world["planner"], iid).to_s == 3600  # the inject
    second = plan_incident(world.store, world["planner"], iid, params=fast)
    (start0, state0), (start1, state1) = calls
    assert (start0, state0) == (0.0, None)
    assert start1 == 3600 and state1 is not None
    assert state1.cleared == {("yanan", "ab")} and set(state1.waiting) == {"area_bund_nanjing_e"}

    def cleared_until(pid: int) -> float:
        plan = view_plan(world.store, chief, pid).plan
        return max(a.until_s for a in plan.actions if a.type == "clear_lane")

    assert cleared_until(first) <= 9000 + 1800 < cleared_until(second)
    world.store.dispose()


# ------------------------------------------------------------------------------------------ crowd from a state


def _crowded(tmp):  # type: ignore[no-untyped-def]
    """Two gates at 12,000 an hour into a 600 m² area for 15 minutes each: twice what it holds at 2.5 /m²."""
    staff = {"gate1": {"count": 20, "base": "o1"}, "gate2": {"count": 20, "base": "o2"}}
    scenario = _two_gates(tmp, staff=staff)
    arrivals = {"process": "deterministic", "periods": [{"from_s": 0, "rate_per_h": 12_000}]}
    doc = scenario.model_dump(mode="json")
    doc["demand"]["arrivals"] = arrivals
    return scenario_from_document(doc, file="crowded", base_dir=tmp)


def test_a_crowd_state_accounts_for_everybody_who_came(tmp_path):
    from scenarios.crowd import default_plan
    from simulation.crowd import CrowdModel, state_at

    scenario = _crowded(tmp_path)
    state = state_at(scenario, default_plan(scenario), seed=1, at_s=1800)
    model = CrowdModel(scenario, default_plan(scenario), seed=1)
    model.run_until(1800)
    people = model.people()
    assert state.at_s == 1800 and state.fired == frozenset()
    assert sum(state.outside.values()) == pytest.approx(people["queued"])
    assert state.on_site == pytest.approx(people["inside"])
    assert sum(state.due["v"]) == pytest.approx(state.present["v"]) and state.present["v"] > 1500
    # Those walking in arrive within the two minutes a gate-to-area walk takes at free speed.
    assert sum(state.arriving["v"]) == pytest.approx(state.heading["v"]) and 1 <= len(state.arriving["v"]) <= 2
    assert state.posted == {("gate1", "o1"): 20, ("gate2", "o2"): 20}  # the default plan: each team at its base


def test_the_flow_lp_from_a_state_starts_with_those_people_and_loses_none(tmp_path):
    from scenarios.crowd import CrowdState

    scenario = _crowded(tmp_path)
    state = CrowdState(at_s=1800, outside={"o1": 300.0}, heading={"v": 200.0}, present={"v": 2000.0},
                       due={"v": (500.0, 0.0, 0.0, 1500.0)}, leaving=50.0)  # fmt: skip
    problem = flow_problem(scenario, state=state, options=CrowdOptions(period_s=60.0))
    assert problem.start_s == 1800 and problem.due0 is not None and problem.due0.sum() == pytest.approx(2000)
    sol = solve_flows(problem)
    assert sol.status == "OPTIMAL" and sol.queue is not None and sol.entry is not None and sol.dwellers is not None
    assert sol.queue[0, 0] == pytest.approx(300) and sol.dwellers[0, 0] == pytest.approx(2000)
    assert sol.told is not None  # everybody is let in, still waiting at the end, or told not to come
    assert sol.entry.sum() + sol.queue[:, -1].sum() + sol.told.sum() == pytest.approx(300 + problem.arrivals.sum(),
                                                                                     rel=1e-9)  # fmt: skip
    # Those walking there arrive and 500 leave in the first minute; nobody else comes while the area is over
    # its 1,500 (2.5 /m²) until the next 1,500 are due, at minute 3; then those held back come in.
    assert sol.dwellers[0, 1:4] == pytest.approx([1700, 1700, 1700])
    assert 200 + 300 < sol.dwellers[0, 4] <= problem.target_ppm2 * 600 + 1e-6


def test_a_crowd_replanned_from_its_state_does_better_than_one_planned_from_an_empty_site(tmp_path):
    """Under the default plan the area is over 4 /m² by the half hour. Re-planned then from the state, the plan
    meters from that moment, and the evening has fewer person-minutes over 4 /m² than with a plan made from an
    empty site spliced in at the same time, and far fewer than the default plan's."""
    from optimizer.crowd import optimise_crowd
    from scenarios.crowd import default_plan
    from simulation.crowd import state_at

    scenario = _crowded(tmp_path)
    base = default_plan(scenario)
    state = state_at(scenario, base, seed=1, at_s=1800)
    fast = SolveParams(time_limit_s=3)
    from_state = optimise_crowd(scenario, params=fast, state=state).plan
    from_empty = optimise_crowd(scenario, params=fast).plan
    assert from_state is not None and from_empty is not None
    assert min(a.at_s for a in from_state.actions) == 1800
    assert any(isinstance(a, MeterFlow | Announce) and a.at_s == 1800 for a in from_state.actions)
    over = {name: simulate(scenario, plan, seed=1).kpis["minutes_over_4ppm2"]
            for name, plan in (("default", base), ("state", splice(base, from_state, 1800, scenario=scenario)),
                               ("empty", splice(base, from_empty, 1800, scenario=scenario)))}  # fmt: skip
    assert over["state"] < over["empty"] < over["default"]


# ------------------------------------------------------------------------------------------ mass testing from a state


def test_a_staffing_replan_keeps_the_routing_and_the_groups_already_sent():
    """Re-planned at 18:50 from the default plan: the zones' shares are the default routing, the waves due before
    18:50 are exactly as the default plan sent them, and the plan in effect is the search's first plan."""
    from optimizer.staffing import FluidModel, assignment_of, score
    from scenarios.defaults import default_plan
    from scenarios.mass_testing import mass_testing_state, routing_in_force

    scenario = load_scenario("disney_mass_testing")
    base = default_plan(scenario)
    state = mass_testing_state(base, scenario, 2700)
    problem = staffing_problem(scenario, state=state)
    assert problem.fixed_waves and all(problem.pools[problem.waves[g].pool].scheduled_s(problem.waves[g].index) < 2700
                                       for g in problem.fixed_waves)  # fmt: skip
    start = assignment_of(problem, state.groups)  # the default plan: a plan the re-plan must beat
    assert all(start.x.get(k, 0) == n for k, n in problem.fixed_x.items())
    assert score(problem, start).makespan_s < problem.horizon_cap_s
    model = FluidModel(problem, integer=False, params=SolveParams())
    model.set_makespan(problem.horizon_cap_s)
    assert model.solve(30) in ("OPTIMAL", "FEASIBLE")
    got = model.assignment()
    for g, s, r in model.x:
        if g in problem.fixed_waves:
            assert got.x.get((g, s, r), 0) == problem.fixed_x.get((g, s, r), 0)
    routing = routing_in_force(base, scenario, 2700)
    zi, si = {z: i for i, z in enumerate(problem.zones)}, {t: i for i, t in enumerate(problem.sites)}
    for (z, t), share in routing.items():
        assert got.y.get((zi[z], si[t]), 0.0) == pytest.approx(share, abs=1e-9)


def test_the_disney_drill_replanned_after_xuhuis_delay_beats_the_plan_in_effect(tmp_path):
    """At 18:50 Xuhui's testers are held up 45 minutes. Re-planned then, with the visitors' routing and the
    groups already sent as they are, the plan finishes testing sooner in the simulation than the default plan
    it takes over from, and passes the scenario's checks."""
    from command.drills import read_injects, start_drill

    world = make_world(f"sqlite:///{tmp_path / 'disney.db'}")
    script = read_injects("disney_testers_delayed")
    iid = start_drill(world.store, world["admin"], "disney_mass_testing", injects=script, jurisdiction="pudong",
                      trainee="cmd_pudong")  # fmt: skip
    assert advance(world.store, world["planner"], iid).to_s == 2700
    said: list[str] = []
    pid = plan_incident(world.store, world["planner"], iid, params=SolveParams(time_limit_s=10), progress=said.append)
    assert any("routing and tester groups in force at 18:50" in line for line in said)
    view = view_plan(world.store, world["admin"], pid)
    assert view.forecast["planned"]["last_tested_min"] < view.forecast["baseline"]["last_tested_min"]
    from scenarios.mass_testing import check_plan as check_testing

    assert check_testing(view.plan, load_scenario("disney_mass_testing")) == []
    world.store.dispose()


def test_a_team_taking_over_a_post_its_pool_holds_is_there_already(tmp_path):
    """After a splice, a pool's post that the new plan keeps (with another head-count) starts at the re-planning
    time with nobody walking and no delay; a post elsewhere is walked to, late by the pool's delay."""
    from scenarios.plan import Plan, PlanMeta
    from simulation.crowd import simulate as simulate_crowd

    staff = {"gate": {"count": 60, "base": "x2", "callup_delay_s": 300}}
    delay = {"at_s": 600, "kind": "delay", "target": "gate", "params": {"delay_s": 900}}
    s = _two_gates(tmp_path, [delay], staff=staff)
    plan = Plan.build(PlanMeta(scenario=s.name), [
        AssignStaff(at_s=0, pool="gate", to="o1", count=60, until_s=1800),
        AssignStaff(at_s=1800, pool="gate", to="o1", count=20),
        AssignStaff(at_s=1800, pool="gate", to="o2", count=20),
    ])  # fmt: skip
    posted = [(e.t_s, e.data["node"], e.data["count"]) for e in simulate_crowd(s, plan, seed=1).events
              if e.kind == "staff_posted"]  # fmt: skip
    assert (1800.0, "o1", 20) in posted
    (late,) = [t for t, node, _ in posted if node == "o2"]
    assert late > 1800 + 900  # walked from the base, and held up by the delay
