"""An incident's timeline and its alerts with their stored acknowledgements, on both backends.

One story is told to the store step by step, each a minute apart on the test's wall clock: the tiny scenario, with a
delay inject at 19:00, opened in Pudong and given to cmd_pudong; plan 1 proposed and approved; the incident advanced
to the inject (the re-plan alarm is raised); plan 2 proposed as a re-plan and rejected; plan 3 proposed, command
handed over to cmd_pudong2, who approves plan 3 (plan 1 superseded, the alarm cleared). The expected timeline is
written out by hand from that story.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select, update
from store_support import PASSWORD, World, tiny_plan, tiny_scenario

from command.alerts import acknowledge, alerts, new_alerts
from command.audit import entries, verify
from command.authority import grant_command
from command.errors import BadInput, Conflict, NotFound
from command.incidents import open_incident
from command.loop import advance, approve_and_apply
from command.plans import create_plan, reject_plan, view_plan
from command.store import AlertAck
from command.timeline import timeline
from scenarios.schema import Inject

INJECT_S = 3600.0


@dataclass(frozen=True)
class Story:
    incident_id: int
    plans: tuple[int, int, int]


def _scenario():  # type: ignore[no-untyped-def]
    """The tiny scenario with one delay inject at 19:00 (an hour after its start)."""
    scenario = tiny_scenario()
    inject = Inject(at_s=INJECT_S, kind="delay", target="local", params={"delay_s": 600}, note="bridge closed")
    return scenario.model_copy(update={"injects": (inject,)})


def _approve(world: World, who: str, plan_id: int) -> None:
    view = view_plan(world.store, world[who], plan_id)
    approve_and_apply(world.store, world[who], plan_id, password=PASSWORD, shown=view.shown(),
                      acknowledged=[w.number for w in view.warnings])  # fmt: skip


def tell(world: World, *, to: str = "end") -> Story:
    """The story of the module docstring, told up to the step named `to` (`advanced`, or to its end)."""
    store, minute = world.store, lambda: world.clock.advance(minutes=1)
    scenario = _scenario()
    iid = open_incident(store, world["admin"], scenario, jurisdiction="pudong")
    minute()
    grant_command(store, world["admin"], iid, "cmd_pudong", hours=8, reason="on-site command")
    minute()
    p1 = create_plan(store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    minute()
    _approve(world, "cmd_pudong", p1)
    minute()
    advance(store, world["planner"], iid)
    if to == "advanced":
        return Story(iid, (p1, 0, 0))
    minute()
    p2 = create_plan(store, world["planner"], iid, tiny_plan(scenario, count=6), scenario=scenario,
                     state_time_s=INJECT_S)  # fmt: skip
    minute()
    reject_plan(store, world["cmd_pudong"], p2, password=PASSWORD, shown=view_plan(store, world["cmd_pudong"], p2)
                .shown(), reason="too few testers")  # fmt: skip
    minute()
    p3 = create_plan(store, world["planner"], iid, tiny_plan(scenario, count=7), scenario=scenario,
                     state_time_s=INJECT_S)  # fmt: skip
    minute()
    grant_command(store, world["admin"], iid, "cmd_pudong2", hours=4, reason="shift change")
    minute()
    _approve(world, "cmd_pudong2", p3)
    return Story(iid, (p1, p2, p3))


def test_the_timeline_tells_the_story_newest_first_with_who_and_when(world: World) -> None:
    """Injects, decisions, grants and the hand-over, plan changes, the alarm raised and cleared and the phase
    changes are on the timeline, newest first, each with who did it and at which incident time."""
    story = tell(world)
    got = [(e.event, e.plan, e.actor, e.sim_s) for e in timeline(world.store, world["obs_pudong"], story.incident_id)]
    assert got == [
        ("alarm_cleared", 3, "cmd_pudong2", INJECT_S),
        ("plan_activate", 3, "cmd_pudong2", INJECT_S),
        ("plan_supersede", 1, "cmd_pudong2", INJECT_S),
        ("plan_approve", 3, "cmd_pudong2", INJECT_S),
        ("handover", None, "admin", INJECT_S),
        ("replan", 3, "planner", INJECT_S),
        ("plan_reject", 2, "cmd_pudong", INJECT_S),
        ("replan", 2, "planner", INJECT_S),
        ("alarm_raised", None, "system", INJECT_S),
        ("phase", None, "planner", INJECT_S),
        ("inject", None, "system", INJECT_S),
        ("phase", None, "cmd_pudong", 0.0),
        ("plan_activate", 1, "cmd_pudong", 0.0),
        ("plan_approve", 1, "cmd_pudong", 0.0),
        ("phase", None, "planner", 0.0),
        ("plan_propose", 1, "planner", 0.0),
        ("grant", None, "admin", 0.0),
        ("incident_open", None, "admin", 0.0),
    ]


def test_the_timeline_names_the_particulars_of_each_step(world: World) -> None:
    """The hand-over names both commanders and when the new grant ends; a phase change its two phases; the inject
    its kind and note; the rejection its reason; the alarm its reason; wall times are the clock's, newest first."""
    story = tell(world)
    steps = timeline(world.store, world["admin"], story.incident_id)
    by = {(e.event, e.plan): e for e in steps}
    handover = by[("handover", None)]
    assert dict(handover.values) == {"from": "cmd_pudong", "to": "cmd_pudong2"}
    assert handover.until is not None and (handover.until - handover.at).total_seconds() == 4 * 3600
    assert [dict(e.values) for e in steps if e.event == "phase"] == [
        {"from": "handling", "to": "supervision"}, {"from": "dispatch", "to": "handling"},
        {"from": "intake", "to": "dispatch"}]  # fmt: skip
    inject = by[("inject", None)]
    assert dict(inject.values) == {"kind": "delay"} and inject.detail == "bridge closed"
    assert by[("plan_reject", 2)].detail == "too few testers"
    assert by[("alarm_raised", None)].detail.startswith("inject delay at 19:00")
    assert dict(by[("alarm_cleared", 3)].values) == {"why": "plan"}
    walls = [e.at for e in steps]
    assert walls == sorted(walls, reverse=True)
    assert walls[0] - walls[-1] == world.clock.now - steps[-1].at
    assert len(timeline(world.store, world["admin"], story.incident_id, limit=3)) == 3


def test_an_observer_of_another_district_sees_nothing_of_the_timeline(world: World) -> None:
    """Xuhui's observer is told the incident does not exist, in the words used for an id never used."""
    story = tell(world, to="advanced")
    with pytest.raises(NotFound) as elsewhere:
        timeline(world.store, world["obs_xuhui"], story.incident_id)
    with pytest.raises(NotFound) as never:
        timeline(world.store, world["obs_xuhui"], 999)
    assert str(elsewhere.value).replace(str(story.incident_id), "N") == str(never.value).replace("999", "N")


def test_the_alarm_clears_on_the_timeline_when_the_horizon_is_reached(world: World) -> None:
    """An alarm still standing when an advance reaches the horizon is cleared there, by that advance."""
    story = tell(world, to="advanced")
    world.clock.advance(minutes=1)
    advance(world.store, world["planner"], story.incident_id, until_s=36000)
    steps = timeline(world.store, world["planner"], story.incident_id)
    assert (steps[0].event, dict(steps[0].values), steps[0].sim_s) == ("alarm_cleared", {"why": "horizon"}, 36000.0)


# ------------------------------------------------------------------------------------------ alerts


def test_alerts_stand_for_those_who_see_the_incident_and_plans_await_only_the_holder(world: World) -> None:
    """After the inject the re-plan alarm and the inject stand for everyone who sees the incident; a proposed plan
    awaits the holder of command only; another district's observer is told the incident does not exist."""
    story = tell(world, to="advanced")
    assert [a.kind for a in alerts(world.store, world["obs_pudong"], story.incident_id)] == ["replan", "inject"]
    create_plan(world.store, world["planner"], story.incident_id, tiny_plan(_scenario(), count=6),
                scenario=_scenario(), state_time_s=INJECT_S)  # fmt: skip
    assert [a.kind for a in alerts(world.store, world["cmd_pudong"], story.incident_id)] == [
        "replan", "awaiting", "inject"]  # fmt: skip
    assert [a.plans for a in alerts(world.store, world["cmd_pudong"], story.incident_id) if a.plans] == [(2,)]
    assert [a.kind for a in alerts(world.store, world["planner"], story.incident_id)] == ["replan", "inject"]
    with pytest.raises(NotFound):
        alerts(world.store, world["obs_xuhui"], story.incident_id)


def test_an_acknowledged_alert_is_no_longer_new_for_that_user_only_and_is_audited(world: World) -> None:
    """The commander acknowledges the inject: it is no longer new for them (still listed, with the time), still
    new for the observer; the acknowledgement is stored with who, which and when, audited, and the chain verifies."""
    story = tell(world, to="advanced")
    store, commander = world.store, world["cmd_pudong"]
    inject = next(a for a in alerts(store, commander, story.incident_id) if a.kind == "inject")
    world.clock.advance(minutes=1)
    ack = acknowledge(store, commander, story.incident_id, inject.key)
    assert [a.kind for a in new_alerts(store, commander, story.incident_id)] == ["replan"]
    assert [a.kind for a in new_alerts(store, world["obs_pudong"], story.incident_id)] == ["replan", "inject"]
    seen = next(a for a in alerts(store, commander, story.incident_id) if a.key == inject.key)
    assert seen.acknowledged_at == world.clock.now and not seen.new
    with store.read() as session:
        row = session.scalars(select(AlertAck).where(AlertAck.id == ack)).one()
    assert (row.user_id, row.alert_key, row.acknowledged_at, row.sim_s) == (commander.id, inject.key,
                                                                         world.clock.now, INJECT_S)  # fmt: skip
    last = entries(store, incident_id=story.incident_id)[-1]
    assert (last.action, last.actor, last.subject) == ("alert_ack", "cmd_pudong", f"alert {inject.key}")
    assert f'"alert_acks:{ack}"' in last.details
    report = verify(store)
    assert report.ok, report.lines()


def test_acknowledging_twice_records_once(world: World) -> None:
    """A second acknowledgement of the same alert by the same user (a double click) changes nothing."""
    story = tell(world, to="advanced")
    key = alerts(world.store, world["cmd_pudong"], story.incident_id)[0].key
    first = acknowledge(world.store, world["cmd_pudong"], story.incident_id, key)
    before = len(entries(world.store))
    assert acknowledge(world.store, world["cmd_pudong"], story.incident_id, key) == first
    assert len(entries(world.store)) == before


def test_only_those_who_see_the_incident_acknowledge_and_only_alerts_that_stand(world: World) -> None:
    """Another district's observer cannot acknowledge (the incident does not exist for them), nobody can
    acknowledge an alert that does not stand for them, and a key of no alert's shape is bad input; nothing is
    recorded by any of them."""
    story = tell(world, to="advanced")
    key = alerts(world.store, world["cmd_pudong"], story.incident_id)[0].key
    before = len(entries(world.store))
    with pytest.raises(NotFound):
        acknowledge(world.store, world["obs_xuhui"], story.incident_id, key)
    with pytest.raises(Conflict, match="does not stand"):
        acknowledge(world.store, world["cmd_pudong"], story.incident_id, "log:999999")
    with pytest.raises(BadInput, match="alert: key"):
        acknowledge(world.store, world["cmd_pudong"], story.incident_id, "")
    assert len(entries(world.store)) == before
    with world.store.read() as session:
        assert session.scalars(select(AlertAck)).all() == []


def test_a_new_alarm_reason_is_a_new_alert(world: World) -> None:
    """The re-plan alarm acknowledged stays acknowledged while its reason is the same, and is new again when an
    advance raises it for another reason."""
    story = tell(world, to="advanced")
    replan = alerts(world.store, world["cmd_pudong"], story.incident_id)[0]
    acknowledge(world.store, world["cmd_pudong"], story.incident_id, replan.key)
    assert [a.kind for a in new_alerts(world.store, world["cmd_pudong"], story.incident_id)] == ["inject"]
    with world.store.write() as session:  # as an advance would: a new reason (no bound row changes)
        from command.store import Incident

        session.execute(update(Incident).where(Incident.id == story.incident_id)
                        .values(needs_replan="a crush at 20:00"))  # fmt: skip
    assert [a.kind for a in new_alerts(world.store, world["cmd_pudong"], story.incident_id)] == ["replan", "inject"]


def test_an_acknowledgement_edited_in_the_database_is_named_by_verify(world: World) -> None:
    """The acknowledgement row is bound to the audit chain: an edit behind Yiwang's back is named by verify."""
    story = tell(world, to="advanced")
    key = alerts(world.store, world["cmd_pudong"], story.incident_id)[0].key
    ack = acknowledge(world.store, world["cmd_pudong"], story.incident_id, key)
    with world.store.engine.begin() as conn:
        conn.execute(update(AlertAck).where(AlertAck.id == ack).values(user_id=world["cmd_pudong2"].id))
    report = verify(world.store)
    assert not report.ok
    assert any(f"alert acknowledgement {ack} of incident {story.incident_id}" in str(f) for f in report.findings)


def test_a_breach_is_on_the_timeline_at_its_own_time_with_the_alarm_it_raised(world: World) -> None:
    """With a 2-minute wait limit the tiny M/M/8 queue at utilisation 0.8 breaches it (Erlang C: P(wait > 2 min) =
    0.46 e^-3.2 = 1.9 %, some 70 of its 3,840 visitors): the advance stops there, and the timeline shows the breach
    and the alarm at that incident time, the system their author, above the opening."""
    scenario = tiny_scenario()
    scenario = scenario.model_copy(update={"thresholds": scenario.thresholds.model_copy(update={"max_wait_s": 120})})
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    world.clock.advance(minutes=1)
    report = advance(world.store, world["planner"], iid)
    assert report.stopped_for == "threshold breach: wait"
    steps = timeline(world.store, world["obs_pudong"], iid)
    assert [(e.event, e.actor, e.sim_s) for e in steps] == [
        ("alarm_raised", "system", report.to_s), ("phase", "planner", report.to_s),
        ("breach", "system", report.to_s), ("incident_open", "admin", 0.0)]  # fmt: skip
    assert dict(steps[2].values) == {"kind": "wait"} and "waited more than 2 min" in steps[2].detail
