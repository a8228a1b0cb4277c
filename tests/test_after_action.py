"""After-action review: the report tells the incident's story from the audit log, and counterfactual replays
differ from the plan as run by the change and nothing else."""

from __future__ import annotations

import pytest
from store_support import PASSWORD, make_world, tiny_plan, tiny_scenario

from command import audit
from command.after_action import counterfactuals, report, shifted, write_report
from command.authority import grant_command
from command.errors import BadInput, Conflict
from command.incidents import open_incident, scenario_document
from command.plans import approve_plan, create_plan, view_plan


@pytest.fixture
def approved(tmp_path):
    """An exercise incident on the tiny scenario with one approved plan."""
    world = make_world(f"sqlite:///{tmp_path / 'aar.db'}")
    scenario = tiny_scenario()
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong", exercise=True)
    grant_command(world.store, world["admin"], iid, "cmd_pudong")
    pid = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    approve_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD,
                 shown=view_plan(world.store, world["cmd_pudong"], pid).shown())  # fmt: skip
    yield world, iid, pid
    world.store.dispose()


def test_report_tells_the_story_and_marks_the_exercise(approved):
    """The report carries the exercise banner, the approval in its timeline and the outcome of both plans; the
    audit timeline and the chain's state are an admin's to read, and their check is recorded."""
    world, iid, _ = approved
    html = report(world.store, world["admin"], iid)
    assert "EXERCISE / 演练" in html
    assert "plan_approve" in html and "cmd_pudong" in html
    assert "default plan" in html and "plan 1 v1" in html
    assert "<svg" in html and "audit chain intact" in html
    assert audit.entries(world.store)[-1].action == "audit_verify"


def test_the_audit_timeline_follows_the_rules_for_reading_the_audit(approved):
    """An observer and the commander of the incident read its activity log in the review, but not the audit
    timeline nor the chain's state, which only admins read (issue 21, item 9)."""
    world, iid, _ = approved
    for who in ("obs_pudong", "cmd_pudong"):
        html = report(world.store, world[who], iid)
        assert "plan 1 version 1 approved by cmd_pudong" in html  # the activity log
        assert "plan_approve" not in html and "audit chain" not in html
        assert "The audit timeline is shown to admins only" in html


def test_a_zero_shift_changes_nothing_and_a_real_change_shows(approved):
    """Moving actions by zero seconds replays the plan exactly; fewer testers make everyone wait longer."""
    world, iid, pid = approved
    document = scenario_document(world.store, world["admin"], iid)
    plan = view_plan(world.store, world["admin"], pid).plan
    same, fewer = counterfactuals(document, plan, 7, ["shift:assign_staff:0:0", "set:testing.sites[0].booths=7"])
    assert same.kpis == same.against
    assert fewer.kpis["mean_wait_min"] > fewer.against["mean_wait_min"]


def test_shift_moves_only_the_named_actions_and_never_before_the_start():
    """A shift moves the named type from the given time on, and clamps at zero."""
    plan = tiny_plan(tiny_scenario())
    moved = shifted(plan, "assign_staff", 0, -600)
    assert [a.at_s for a in moved.of_type(type(plan.actions[1]))] == [0.0]
    later = shifted(plan, "assign_staff", 0, 900)
    assert [a.at_s for a in later.actions if a.type == "assign_staff"] == [900.0]
    assert [a.at_s for a in later.actions if a.type == "route_visitors"] == [0.0]
    with pytest.raises(BadInput, match="no dispatch_bus action"):
        shifted(plan, "dispatch_bus", 0, 60)


def test_bad_specifications_and_missing_plans_are_refused(approved, tmp_path):
    """A malformed counterfactual is refused by name; a report with replays needs an approved plan."""
    world, iid, _ = approved
    with pytest.raises(BadInput, match=r"expected set:field\.path=value"):
        report(world.store, world["admin"], iid, counterfactual_specs=["move buses earlier"])
    other = open_incident(world.store, world["admin"], tiny_scenario(), jurisdiction="pudong")
    with pytest.raises(Conflict, match="no approved plan"):
        report(world.store, world["admin"], other, counterfactual_specs=["shift:assign_staff:0:60"])


def test_writing_the_report_is_audited(approved, tmp_path):
    """The written report leaves an export entry naming it, and the chain still verifies."""
    world, iid, _ = approved
    path = write_report(world.store, world["cmd_pudong"], iid, tmp_path / "aar.html", counterfactual_specs=[])
    assert path.read_text(encoding="utf-8").startswith("<!doctype html>")
    last = audit.entries(world.store)[-1]
    assert last.action == "export" and "after_action_review" in last.details
    assert audit.verify(world.store).ok
