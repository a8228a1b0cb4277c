"""The incident loop on a store: plan with forecasts, approve and apply, advance to decision points, re-plan."""

from __future__ import annotations

import json

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
from scenarios.defaults import default_plan

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
    assert get_incident(world.store, world["admin"], iid).phase == "intake"
    pid = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    view = view_plan(world.store, world["cmd_pudong"], pid)
    assert view.status == "proposed" and view.solver["status"] in {"OPTIMAL", "FEASIBLE"}
    scenario = tiny_scenario()
    expected = simulate(scenario, view.plan, seed=scenario.seed).kpis
    assert view.forecast["planned"] == pytest.approx(expected)  # the forecast is the plan's own simulation
    # The baseline forecast is the default plan's own simulation at the incident's seed.
    assert view.forecast["baseline"] == pytest.approx(simulate(scenario, default_plan(scenario), seed=7).kpis)
    assert view.forecast["seed"] == 7 and view.forecast["previous_plan"] is None  # seed: 7 in one_site_mmc.yaml
    actions = [e.action for e in audit.entries(world.store, incident_id=iid)]
    assert actions == ["incident_open", "grant", "run", "plan_propose", "incident_phase"]
    assert get_incident(world.store, world["admin"], iid).phase == "dispatch"
    run, proposed = activity(world.store, world["admin"], iid)[-2:]
    assert (run.kind, run.actor) == ("run", "planner")
    assert run.text.startswith("simulated the default plan and optimised (")
    produced_by = view.plan.meta.produced_by
    assert (proposed.kind, proposed.actor, proposed.sim_s) == ("dispatch", "planner", 0.0)
    assert proposed.text == f"plan 1 proposed ({len(view.plan.actions)} actions, by {produced_by})"


def test_infeasible_planning_raises_the_diagnosis_and_proposes_nothing(sqlite_world):
    """With no testers, planning reports how many are needed and no plan is recorded."""
    world = sqlite_world
    iid = _open(world, ["resources.testers.local.count=0"])
    # M/M/c is stable only if c > lambda / mu = (384 / h) / (1 / 60 s) = 6.4 busy testers, so at least 7.
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
    """The first advance stops at the breach; the approved plan's forecast showed it (the commander saw it before
    approving), so it is logged as foreseen and asks for no re-plan. The next runs on to the period's end."""
    world = sqlite_world
    iid = _open(world, ["thresholds.max_wait_s=120"], period_s=4 * 3600)
    pid = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    view = view_plan(world.store, world["cmd_pudong"], pid)
    approve_and_apply(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=view.shown(),
                      acknowledged=view.warnings)
    assert get_incident(world.store, world["admin"], iid).phase == "handling"
    # The oracle: the approved plan simulated directly at the incident's seed. Nobody is swabbed before the
    # testers arrive, so the first visitor at the site is the first to wait 120 s: t = at_site[0] + 120 s.
    scenario = load_scenario(DATA / "one_site_mmc.yaml", overrides=["thresholds.max_wait_s=120"])
    direct = simulate(scenario, view.plan, seed=scenario.seed)
    at, start = direct.records["at_site_s"], direct.records["swab_start_s"]
    (arrive,) = [e.t_s for e in direct.events if e.kind == "testers_arrive"]
    first_at = float(at.min())
    assert first_at + 120 < arrive  # so the breach is the first visitor's, before any swab
    # Visitors who will wait more than 120 s; one never swabbed by the horizon waits for ever.
    over = int(np.count_nonzero(np.isfinite(at) & ~(start - at <= 120)))
    n_log = len(activity(world.store, world["admin"], iid))

    first = advance(world.store, world["cmd_pudong"], iid)
    assert (first.from_s, first.to_s) == (0.0, pytest.approx(first_at + 120))
    assert first.stopped_for == "threshold breach: wait" and not first.finished
    assert first.events == {}  # the testers arrive only after the breach
    text = f"a visitor has waited more than 2 min ({over} visitors will)"
    # 18:00 (the scenario's start) + first_at + 120 s, below 180 s: 18:02.
    assert first_at + 120 < 180 and first.needs_replan == ""
    assert view.forecast["breaches"] == [{"kind": "wait", "t_s": pytest.approx(first_at + 120), "text": text}]
    assert any(w["kind"] == "breach" and w["message"] == f"{text} at 18:02" for w in view.forecast["warnings"])
    for name, (t, v) in direct.series.items():
        assert first.kpis_at_end[name] == pytest.approx(float(np.interp(first.to_s, t, v)))
    log = activity(world.store, world["admin"], iid)[n_log:]
    said = f"{text} (foreseen: plan 1's forecast showed it)"
    assert [(a.sim_s, a.actor, a.kind, a.text) for a in log] == [(first.to_s, "system", "breach:wait", said)]
    incident = get_incident(world.store, world["admin"], iid)
    assert incident.needs_replan == "" and incident.sim_time_s == first.to_s
    assert incident.phase == "supervision"

    second = advance(world.store, world["cmd_pudong"], iid)
    assert (second.from_s, second.to_s) == (first.to_s, 4 * 3600)
    assert second.stopped_for == "end of the operational period" and not second.finished
    assert second.needs_replan == ""  # the breach is known already: it does not stop the clock twice
    # Exactly one simulated event lies in (breach, 4 h]: the testers' arrival (the run's `end` is at 10 h).
    assert second.events == {"testers_arrive": 1}
    log = activity(world.store, world["admin"], iid)[n_log + 1 :]
    assert [(a.sim_s, a.kind, a.text) for a in log] == [
        (arrive, "sim:testers_arrive", "8 local testers (any) at site_a")
    ]
    # The KPI series at the end is the direct simulation's; `tested` at 4 h counts the swabs ended by then.
    assert second.kpis_at_end["tested"] == np.count_nonzero(direct.records["swab_end_s"] <= 4 * 3600)
    kinds = [a.kind for a in activity(world.store, world["admin"], iid)]
    assert kinds.count("breach:wait") == 1
    assert get_incident(world.store, world["admin"], iid).phase == "supervision"
    advances = [e for e in audit.entries(world.store, incident_id=iid) if e.action == "advance"]
    assert [
        (json.loads(e.details)["from_s"], json.loads(e.details)["to_s"], json.loads(e.details)["why"]) for e in advances
    ] == [(0.0, first.to_s, first.stopped_for), (first.to_s, 14400.0, second.stopped_for)]


def test_a_breach_nobody_approved_raises_the_alarm_and_the_horizon_clears_it(sqlite_world):
    """Under the default plan (no commander saw its forecast) a breach asks for a re-plan; once the horizon is
    reached there is nothing left to re-plan, so the alarm is cleared, and the log says so."""
    world = sqlite_world
    iid = _open(world, ["thresholds.max_wait_s=120"])
    scenario = load_scenario(DATA / "one_site_mmc.yaml", overrides=["thresholds.max_wait_s=120"])
    direct = simulate(scenario, default_plan(scenario), seed=scenario.seed)
    (breach,) = [b for b in breaches(scenario, direct) if b.kind == "wait"]
    first = advance(world.store, world["cmd_pudong"], iid)
    assert first.stopped_for == "threshold breach: wait" and first.to_s == pytest.approx(breach.t_s)
    assert first.needs_replan == f"{breach.text} at {scenario.clock.label(breach.t_s)}"
    assert get_incident(world.store, world["admin"], iid).needs_replan == first.needs_replan
    last = advance(world.store, world["cmd_pudong"], iid)
    assert last.finished and last.needs_replan == ""
    assert get_incident(world.store, world["admin"], iid).needs_replan == ""
    cleared = [a for a in activity(world.store, world["admin"], iid) if a.kind == "alarm_cleared"]
    assert [a.text for a in cleared] == [f"re-plan alarm cleared at the end of the horizon (was: {first.needs_replan})"]


def test_replanning_keeps_what_was_already_done(sqlite_world):
    """A plan made at time t keeps the plan in effect's actions before t and clears the re-plan flag."""
    world = sqlite_world
    iid = _open(world, ["thresholds.max_wait_s=120"])
    pid = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    first = view_plan(world.store, world["cmd_pudong"], pid)
    approve_and_apply(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=first.shown(),
                      acknowledged=first.warnings)
    report = advance(world.store, world["cmd_pudong"], iid, until_s=1800)
    # The wait breach (the first visitor at the site plus 120 s, as above) comes before the 1800 s asked for.
    direct = simulate(tiny_scenario(), first.plan, seed=7)
    assert report.stopped_for == "threshold breach: wait"
    assert report.to_s == pytest.approx(float(direct.records["at_site_s"].min()) + 120)
    pid2 = plan_incident(world.store, world["planner"], iid, params=FAST_SOLVE)
    second = view_plan(world.store, world["cmd_pudong"], pid2)
    assert second.state_time_s == report.to_s
    before = [a for a in first.plan.actions if a.at_s < report.to_s]
    assert before  # the testers sent and the visitors routed at 0 s
    assert [a for a in second.plan.actions if a.at_s < report.to_s] == before
    assert second.forecast["previous_plan"] == pid
    approve_and_apply(world.store, world["cmd_pudong"], pid2, password=PASSWORD, shown=second.shown(),
                      acknowledged=second.warnings)
    incident = get_incident(world.store, world["admin"], iid)
    assert incident.active_plan == 2 and incident.needs_replan == ""
    assert view_plan(world.store, world["admin"], pid).status == "superseded"


def test_advance_to_the_horizon_ends_in_evaluation_and_replays_the_same_world(sqlite_world):
    """With one period and no thresholds, one advance reaches the horizon and evaluation, logging the simulated
    events and the KPIs of the default plan's own simulation at the seed."""
    world = sqlite_world
    iid = _open(world)
    scenario = tiny_scenario()
    direct = simulate(scenario, default_plan(scenario), seed=7)
    n_log = len(activity(world.store, world["admin"], iid))
    report = advance(world.store, world["cmd_pudong"], iid)
    # The only period is the whole horizon (36,000 s), and it comes first of the stops at that time.
    assert (report.from_s, report.to_s, report.finished) == (0.0, 36_000.0, True)
    assert report.stopped_for == "end of the operational period" and report.needs_replan == ""
    assert report.events == {"testers_arrive": 1, "end": 1}
    assert get_incident(world.store, world["admin"], iid).phase == "evaluation"
    with pytest.raises(Conflict, match="end of its scenario"):
        advance(world.store, world["cmd_pudong"], iid)
    k = direct.kpis
    (arrive,) = [e.t_s for e in direct.events if e.kind == "testers_arrive"]
    # Eight testers, on duty from their arrival to the horizon.
    assert k["tester_hours"] == pytest.approx(8 * (36_000 - arrive) / 3600, abs=1e-3)
    assert k["tested"] + k["stranded_visitors"] == k["visitors"]
    outcome = ", ".join(f"{name}={value:g}" for name, value in k.items())
    log = activity(world.store, world["admin"], iid)[n_log:]
    assert [(a.sim_s, a.actor, a.kind, a.text) for a in log] == [
        (arrive, "system", "sim:testers_arrive", "8 local testers (any) at site_a"),
        (36_000.0, "system", "sim:end", f"{k['tested']:g} of {k['visitors']:g} tested, {k['tested']:g} departed"),
        (36_000.0, "cmd_pudong", "evaluation", f"horizon reached; outcome: {outcome}"),
    ]


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
    """A crowd run's breaches are its first crossing of the critical density (and its first crush, if any), at
    the time the simulation logged it."""
    s = load_scenario("bund_new_year_2014", overrides=["clock.horizon_s=10800"])
    result = simulate(s, seed=s.seed)
    critical = [e for e in result.events if e.kind == "density_critical"]
    crushes = [e for e in result.events if e.kind == "crush"]
    assert critical and crushes  # the 2014 evening, no counter-flow control: critical by 22:10, a crush by 23:00
    found = breaches(s, result)
    assert [b.kind for b in found] == ["critical"] + (["crush"] if crushes else [])
    assert found[0].t_s == critical[0].t_s and critical[0].text in found[0].text
    if crushes:
        assert found[1].t_s == crushes[0].t_s and crushes[0].text in found[1].text
