"""The audit chain: an untouched chain verifies; any edit, deletion, insertion or reordering is named."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text
from store_support import PASSWORD, tiny_plan, tiny_scenario

from command import audit
from command.audit import entry_hash, verify
from command.authority import grant_command
from command.errors import Tampered
from command.incidents import open_incident
from command.plans import approve_plan, create_plan, view_plan
from command.store import AuditEntry, PlanVersion


def _chain(world) -> list[AuditEntry]:
    entries = audit.entries(world.store)
    assert len(entries) >= 10  # init, user_add x8, log-ins
    return entries


def _sql(world, statement: str, **params) -> None:
    with world.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_untouched_chain_verifies(world):
    """Every action so far is in the chain, linked, and the chain verifies."""
    entries = _chain(world)
    report = verify(world.store)
    assert report.ok, report.lines()
    assert report.entries == len(entries) == report.head_seq
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))


@pytest.mark.parametrize("column", ["actor", "action", "details", "at", "subject"])
def test_edited_entry_is_named(world, column):
    """Changing any stored field of entry 4 is reported as an edit of entry 4."""
    _chain(world)
    value = {"details": '{"role":"admin"}', "at": "2020-01-01T00:00:00.000000+00:00"}.get(column, "mallory")
    _sql(world, f"UPDATE audit_log SET {column} = :v WHERE seq = 4", v=value)
    report = verify(world.store)
    assert not report.ok
    assert report.findings[0].seq == 4 and "edited" in report.findings[0].problem


def test_edit_with_a_recomputed_hash_breaks_the_next_link(world):
    """A forger who recomputes the edited entry's hash is found at the next entry, whose link no longer holds."""
    e = _chain(world)[4]
    forged = entry_hash(seq=e.seq, at=e.at, actor="mallory", action=e.action, incident_id=e.incident_id,
                        subject=e.subject, details=e.details, prev_hash=e.prev_hash)  # fmt: skip
    _sql(world, "UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = :s", h=forged, s=e.seq)
    report = verify(world.store)
    assert [f.seq for f in report.findings] == [e.seq + 1]
    assert "does not follow" in report.findings[0].problem


def test_deleted_entry_in_the_middle_is_named(world):
    """Deleting entry 6 is reported as entry 6 missing."""
    _chain(world)
    _sql(world, "DELETE FROM audit_log WHERE seq = 6")
    report = verify(world.store)
    assert report.findings[0].seq == 6 and "missing" in report.findings[0].problem


def test_deleted_last_entries_are_found_from_the_head(world):
    """Deleting the newest entries is found: the head records more entries than the log holds."""
    n = len(_chain(world))
    _sql(world, "DELETE FROM audit_log WHERE seq >= :s", s=n - 1)
    report = verify(world.store)
    assert [f.seq for f in report.findings] == [n - 1]
    assert "head records" in report.findings[0].problem


def test_inserted_entry_is_named(world):
    """An entry inserted past the head is named, even with a correctly computed link and hash."""
    last = _chain(world)[-1]
    seq, at = last.seq + 1, last.at
    h = entry_hash(seq=seq, at=at, actor="mallory", action="grant", incident_id=None, subject="",
                   details="{}", prev_hash=last.hash)  # fmt: skip
    _sql(world, "INSERT INTO audit_log (seq, at, actor, action, incident_id, subject, details, prev_hash, hash) "
                "VALUES (:seq, :at, 'mallory', 'grant', NULL, '', '{}', :prev, :h)",
         seq=seq, at=at, prev=last.hash, h=h)  # fmt: skip
    report = verify(world.store)
    assert [f.seq for f in report.findings] == [seq]
    assert "past the head" in report.findings[0].problem


def test_inserted_entry_in_the_middle_is_named(world):
    """Making room for a forged entry by renumbering the later ones is found at the first renumbered entry."""
    n = len(_chain(world))
    _sql(world, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5")
    _sql(world, "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1005")
    _sql(world, "INSERT INTO audit_log (seq, at, actor, action, incident_id, subject, details, prev_hash, hash) "
                "VALUES (5, '2026-11-29T10:00:00.000000+00:00', 'mallory', 'grant', NULL, '', '{}', 'x', 'y')")
    report = verify(world.store)
    assert report.findings and report.findings[0].seq == 5
    assert n + 1 > report.head_seq


def test_reordered_entries_are_named(world):
    """Swapping two entries' contents is found at the first of them."""
    _chain(world)
    _sql(world, "UPDATE audit_log SET seq = -1 WHERE seq = 3")
    _sql(world, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    _sql(world, "UPDATE audit_log SET seq = 4 WHERE seq = -1")
    report = verify(world.store)
    assert report.findings[0].seq == 3


def test_appends_keep_the_chain_valid_over_a_long_run(world):
    """Hundreds of appended entries stay linked and verify."""
    with world.store.write() as session:
        for i in range(300):
            audit.append(session, at=world.clock(), actor="planner", action="run", subject=f"run {i}",
                         details={"i": i, "名": "测试"})  # fmt: skip
    report = verify(world.store)
    assert report.ok and report.entries >= 300


def test_unknown_actions_are_refused():
    """Only the listed actions may be logged (a typo cannot slip into the chain)."""
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.append(None, at=None, actor="x", action="aprove")  # type: ignore[arg-type]


def test_a_plan_edited_in_the_database_is_never_shown_or_approved_under_its_old_digest(world):  # type: ignore[no-untyped-def]
    """A tester count changed from 8 to 1 in a stored plan version, behind Yiwang's back: viewing and approving
    the plan are refused, naming the plan, the version and its digest; each refusal leaves an audit entry, and
    nothing is approved (issue 21, item 2)."""
    scenario = tiny_scenario()
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    grant_command(world.store, world["admin"], iid, "cmd_pudong", hours=4)
    pid = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    holder = world["cmd_pudong"]
    shown = view_plan(world.store, holder, pid).shown()
    with world.store.write() as session:  # the edit an attacker with access to the database makes
        row = session.query(PlanVersion).filter_by(plan_id=pid, version=1).one()
        assert '"count":8' in row.plan_json
        session.execute(text("UPDATE plan_versions SET plan_json = :j WHERE id = :i"),
                        {"j": row.plan_json.replace('"count":8', '"count":1'), "i": row.id})  # fmt: skip
    refusal = f"plan {pid} version 1: the stored plan does not match its digest {shown.digest[:12]}"
    with pytest.raises(Tampered, match=refusal):
        view_plan(world.store, holder, pid)
    with pytest.raises(Tampered, match=refusal):
        approve_plan(world.store, holder, pid, password=PASSWORD, shown=shown, activate=True)
    actions = [e.action for e in audit.entries(world.store)]
    assert actions.count("tamper_detected") == 2 and "plan_approve" not in actions
