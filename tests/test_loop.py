"""The incident loop on a store: plan with forecasts, approve and apply, advance to decision points, re-plan."""

from __future__ import annotations

import numpy as np
import pytest
from store_support import DATA, PASSWORD, tiny_scenario

from command import audit
from command.authority import grant_command
from command.errors import Conflict, Infeasible
from command.incidents import activity, get_incident, open_incident
from command.kinds import simulate
from command.loop import advance, approve_and_apply, breaches, plan_incident
from command.plans import view_plan
from optimizer.result import SolveParams
from scenarios import load_scenario

FAST_SOLVE = SolveParams(time_limit_s=3)


def _open(world, overrides=(), **kwargs) -> int:
    scenario = load_scenario(DATA / "one_site_mmc.yaml", overrides=list(overrides))
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong", **kwargs)
    grant_command(world.store, world["admin"], iid, "cmd_pudong", hours=12)
    return iid


@pytest.fixture
def sqlite_world(tmp_path):
    from store_support import make_world

    w = make_world(f"sqlite:///{tmp_path / 'loop.db'}")
    yield w
    w.store.dispose()


def test_plan_incident_proposes_with_both_forecasts_and_audits_the_run(sqlite_world):
    """Planning simulates the default plan and the optimised one, proposes it, and logs the run."""
    world = sqlite_world
    iid = _open(world)
    pid = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    view = view_plan(world.store, world["cmd_pudong"], pid)
    assert view.status == "proposed" and view.solver["status"] in {"OPTIMAL", "FEASIBLE"}
    scenario = tiny_scenario()
    expected = simulate(scenario, view.plan, seed=scenario.seed).kpis
    assert view.forecast["planned"] == pytest.approx(expected)  # the forecast is the plan's own simulation
    assert set(view.forecast["baseline"]) == set(expected)
    actions = [e.action for e in audit.entries(world.store, incident_id=iid)]
    assert actions[-3:] == ["run", "plan_propose", "incident_phase"]


def test_infeasible_planning_raises_the_diagnosis_and_proposes_nothing(sqlite_world):
    """With no testers, planning reports how many are needed and no plan is recorded."""
    world = sqlite_world
    iid = _open(world, ["resources.testers.local.count=0"])
    with pytest.raises(Infeasible, match="needs at least 7 testers"):
        plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    assert get_incident(world.store, world["admin"], iid).proposed_plans == ()


def test_breaches_match_the_simulated_records():
    """The first waiting-time breach is the earliest moment a visitor has waited longer than the threshold."""
    scenario = load_scenario(DATA / "one_site_mmc.yaml", overrides=["thresholds.max_wait_s=180"])
    result = simulate(scenario, None, seed=3)
    (breach,) = [b for b in breaches(scenario, result) if b.kind == "wait"]
    at, start = result.records["at_site_s"], result.records["swab_start_s"]
    over = (start - at) > 180
    assert over.any()
    assert breach.t_s == pytest.approx(float((at[over] + 180).min()))


def test_advance_stops_at_a_breach_once_then_runs_to_the_period_end(sqlite_world):
    """The first advance stops at the breach and asks for a re-plan; the next runs on to the period's end."""
    world = sqlite_world
    iid = _open(world, ["thresholds.max_wait_s=120"], period_s=4 * 3600)
    pid = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    view = view_plan(world.store, world["cmd_pudong"], pid)
    approve_and_apply(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=view.shown())
    first = advance(world.store, world["cmd_pudong"], iid)
    assert first.stopped_for == "threshold breach: wait" and 0 < first.to_s < 4 * 3600
    assert "waited more than 2 min" in first.needs_replan
    assert get_incident(world.store, world["admin"], iid).needs_replan
    second = advance(world.store, world["cmd_pudong"], iid)
    assert (second.from_s, second.to_s) == (first.to_s, 4 * 3600)
    assert second.stopped_for == "end of the operational period"
    assert sum(second.events.values()) >= 0
    kinds = [a.kind for a in activity(world.store, world["admin"], iid)]
    assert kinds.count("breach:wait") == 1
    assert get_incident(world.store, world["admin"], iid).phase == "supervision"


def test_replanning_keeps_what_was_already_done(sqlite_world):
    """A plan made at time t keeps the plan in effect's actions before t and clears the re-plan flag."""
    world = sqlite_world
    iid = _open(world, ["thresholds.max_wait_s=120"])
    pid = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    first = view_plan(world.store, world["cmd_pudong"], pid)
    approve_and_apply(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=first.shown())
    report = advance(world.store, world["cmd_pudong"], iid, until_s=1800)
    assert report.to_s <= 1800
    pid2 = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    second = view_plan(world.store, world["cmd_pudong"], pid2)
    assert second.state_time_s == report.to_s
    before = [a for a in first.plan.actions if a.at_s < report.to_s]
    assert [a for a in second.plan.actions if a.at_s < report.to_s] == before
    assert second.forecast["previous_plan"] == pid
    approve_and_apply(world.store, world["cmd_pudong"], pid2, password=PASSWORD, shown=second.shown())
    incident = get_incident(world.store, world["admin"], iid)
    assert incident.active_plan == 2 and incident.needs_replan == ""
    assert view_plan(world.store, world["admin"], pid).status == "superseded"


def test_advance_to_the_horizon_ends_in_evaluation_and_replays_the_same_world(sqlite_world):
    """Advancing to the end reaches evaluation; the KPIs logged are the plan's own simulation at the seed."""
    world = sqlite_world
    iid = _open(world)
    for _ in range(10):
        report = advance(world.store, world["cmd_pudong"], iid)
        if report.finished:
            break
    assert report.finished
    assert get_incident(world.store, world["admin"], iid).phase == "evaluation"
    with pytest.raises(Conflict, match="end of its scenario"):
        advance(world.store, world["cmd_pudong"], iid)
    scenario = tiny_scenario()
    final = simulate(scenario, None, seed=scenario.seed).kpis
    last = activity(world.store, world["admin"], iid)[-1]
    assert last.kind == "evaluation" and f"tested={final['tested']:g}" in last.text
    assert np.isfinite(report.to_s)


def test_observers_cannot_plan_or_advance(sqlite_world):
    """The loop's steps re-check the role: an observer can do neither."""
    from command.errors import NotAuthorised

    world = sqlite_world
    iid = _open(world)
    with pytest.raises(NotAuthorised):
        plan_incident(world.store, world["obs_pudong"], iid, params=FAST_SOLVE)
    with pytest.raises(NotAuthorised):
        advance(world.store, world["obs_pudong"], iid)


def test_crowd_breaches_are_the_first_critical_and_crush_crossings():
    """A crowd run's breaches are its first crossing of the critical density (and of the crush density, if
    any), at the time the simulation logged it."""
    s = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=7200"])
    result = simulate(s, seed=s.seed)
    critical = [e for e in result.events if e.kind == "density_critical"]
    assert critical  # the 2014 evening without counter-flow control goes critical within two hours
    found = breaches(s, result)
    assert [b.kind for b in found] == ["critical"]
    assert found[0].t_s == critical[0].t_s and critical[0].text in found[0].text
