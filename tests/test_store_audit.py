"""The audit chain: an untouched chain verifies; any edit, deletion, insertion or reordering is named."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, text
from store_support import PASSWORD, tiny_plan, tiny_scenario

from command import audit
from command.audit import entry_hash, verify
from command.authority import grant_command
from command.errors import Tampered
from command.incidents import open_incident
from command.plans import approve_plan, create_plan, view_plan
from command.store import AuditEntry, Decision, PlanVersion, User
from command.users import set_active


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


def test_edit_with_a_recomputed_hash_is_named(world):
    """A forger who recomputes the edited entry's hash is named at that entry: the next entry's link names the
    hash it had (and, in a keyed chain, its MAC no longer matches)."""
    e = _chain(world)[4]
    forged = entry_hash(seq=e.seq, at=e.at, actor="mallory", action=e.action, incident_id=e.incident_id,
                        subject=e.subject, details=e.details, prev_hash=e.prev_hash)  # fmt: skip
    _sql(world, "UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = :s", h=forged, s=e.seq)
    report = verify(world.store)
    assert {f.seq for f in report.findings} == {e.seq}
    assert "rewritten" in report.findings[0].problem and f"entry {e.seq + 1} names another" in str(report.findings[0])


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
    assert [f.seq for f in report.findings if not f.row] == [n - 1]
    assert "head records" in report.findings[0].problem
    # The user the last entries added is no longer recorded by any entry: named, with the likely reason.
    assert [str(f) for f in report.findings if f.row] == [
        "user 9 (obs_xuhui) inserted: no audit entry records it (or the entry that recorded it was deleted or edited)"]


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
    assert {f.seq for f in report.findings} == {seq}
    assert any("past the head" in f.problem for f in report.findings)


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


# ------------------------------------------------------------------------------------------ rows bound to the chain


@pytest.fixture
def decided(world):  # type: ignore[no-untyped-def]
    """A Pudong incident commanded by cmd_pudong with one plan approved: a grant, a plan version and a decision."""
    scenario = tiny_scenario()
    iid = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    gid = grant_command(world.store, world["admin"], iid, "cmd_pudong", hours=4, reason="on site")
    pid = create_plan(world.store, world["planner"], iid, tiny_plan(scenario), scenario=scenario)
    shown = view_plan(world.store, world["cmd_pudong"], pid).shown()
    did = approve_plan(world.store, world["cmd_pudong"], pid, password=PASSWORD, shown=shown, activate=True)
    with world.store.read() as session:
        uid = session.scalars(select(User.id).where(User.username == "obs_pudong")).one()
    return {"incident": iid, "grant": gid, "plan": pid, "decision": did, "user": uid}


#: table, column, new value, and how verify names the row (from the ids in `decided`)
ROW_EDITS = {
    "decision reversed": ("decisions", "decision", "rejected", "decision {decision} of plan {plan}"),
    "decision reason": ("decisions", "reason", "approved under duress", "decision {decision} of plan {plan}"),
    "grant extended": ("authority_grants", "valid_until", "2030-01-01 00:00:00.000000",
                       "grant {grant} of incident {incident}"),
    "grant given to another": ("authority_grants", "user_id", 1, "grant {grant} of incident {incident}"),
    "user promoted": ("users", "role", "admin", "user {user} (obs_pudong)"),
    "user moved to the city": ("users", "jurisdiction_id", 1, "user {user} (obs_pudong)"),
    "user disabled": ("users", "active", False, "user {user} (obs_pudong)"),
    "plan version's forecast": ("plan_versions", "forecast_json", '{"wait_p90_min": 1}', "version 1 of plan {plan}"),
}  # fmt: skip


def _row_id(table: str, ids: dict[str, int]) -> int:
    if table == "plan_versions":
        return ids["plan"]  # the only plan has the only version, with the same id in a fresh store
    return ids[{"decisions": "decision", "authority_grants": "grant", "users": "user"}[table]]


@pytest.mark.parametrize("case", list(ROW_EDITS))
def test_a_bound_row_edited_in_the_database_is_named(world, decided, case):
    """Changing a field of consequence of a decision, grant, user or plan version in the database is reported by
    verify as an edit of that row, by name, and of nothing else (issue 21, item 2)."""
    table, column, value, name = ROW_EDITS[case]
    assert verify(world.store).ok
    _sql(world, f"UPDATE {table} SET {column} = :v WHERE id = :i", v=value, i=_row_id(table, decided))
    report = verify(world.store)
    assert [str(f) for f in report.findings] == [f"{name.format(**decided)} edited: its stored content does not "
                                                 "match its hash"]  # fmt: skip


def test_a_bound_row_edited_with_its_hash_recomputed_is_named_against_its_audit_entry(world, decided):
    """A forger who also rewrites the row's content hash is caught by the hash the audit entry recorded."""
    with world.store.read() as session:
        row = session.get(Decision, decided["decision"])
        values = {f: getattr(row, f) for f in audit.BOUND[3].fields} | {"decision": "rejected"}
    forged = audit.row_hash(audit.BOUND[3], values)
    _sql(world, "UPDATE decisions SET decision = 'rejected', content_hash = :h WHERE id = :i", h=forged,
         i=decided["decision"])  # fmt: skip
    (finding,) = verify(world.store).findings
    approval = next(e for e in audit.entries(world.store) if e.action == "plan_approve")
    assert finding.row == f"decision {decided['decision']} of plan {decided['plan']}"
    assert f"not the one audit entry {approval.seq} recorded" in finding.problem


def test_a_bound_row_inserted_or_deleted_in_the_database_is_named(world, decided):
    """A grant inserted behind Yiwang's back is named as not recorded; a deleted decision as deleted."""
    _sql(world, "INSERT INTO authority_grants (incident_id, user_id, granted_by, valid_from, valid_until, limits_json, "
                "reason, content_hash) SELECT incident_id, user_id, granted_by, valid_from, valid_until, limits_json, "
                "'forged', content_hash FROM authority_grants WHERE id = :g", g=decided["grant"])  # fmt: skip
    _sql(world, "DELETE FROM decisions WHERE id = :d", d=decided["decision"])
    lines = verify(world.store).lines()
    approval = next(e for e in audit.entries(world.store) if e.action == "plan_approve")
    assert lines == [f"grant {decided['grant'] + 1} of incident {decided['incident']} edited: its stored content "
                     "does not match its hash",
                     f"decision {decided['decision']} deleted: audit entry {approval.seq} recorded it, the store no "
                     "longer has it"]  # fmt: skip


def test_a_row_edited_behind_yiwangs_back_is_not_laundered_by_the_next_change(world, decided):
    """A user promoted to admin in the database and then disabled through Yiwang: the change is refused (the
    edited row would otherwise get a fresh hash), nothing changes, and verify still names the row."""
    _sql(world, "UPDATE users SET role = 'admin' WHERE id = :i", i=decided["user"])
    with pytest.raises(Tampered, match=rf"user {decided['user']} \(obs_pudong\): its stored content does not match"):
        set_active(world.store, world["admin"], "obs_pudong", False)
    with world.store.read() as session:
        assert session.get(User, decided["user"]).active is True
    assert [f.row for f in verify(world.store).findings] == [f"user {decided['user']} (obs_pudong)"]


def test_a_change_of_consequence_without_an_audit_entry_does_not_commit(world, decided):
    """Code that changes a bound row in a write but appends no audit entry is refused, and nothing is written."""
    refused = pytest.raises(RuntimeError, match=r"without an audit entry recording it: user \d+ \(obs_pudong\)")
    with refused, world.store.write() as session:
        session.get(User, decided["user"]).role = "planner"
    with world.store.read() as session:
        assert session.get(User, decided["user"]).role == "observer"
    assert verify(world.store).ok


def test_rows_of_a_store_made_before_content_hashes_are_bound_when_it_is_upgraded(world, decided):
    """Upgrading a store from the schema without content hashes hashes its rows and records them in one audit
    entry: verify passes, and an edit made afterwards is named."""
    from alembic import command as alembic_command

    from command.migrate import _config, current_revision, upgrade

    cfg = _config(world.store.url)
    with world.store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        alembic_command.downgrade(cfg, "0001")
    assert current_revision(world.store) == "0001"
    upgrade(world.store)
    report = verify(world.store)
    assert report.ok, report.lines()
    last = audit.entries(world.store)[-1]
    assert last.action == "rows_bound" and f'"decisions:{decided["decision"]}"' in last.details
    _sql(world, "UPDATE decisions SET reason = 'x' WHERE id = :d", d=decided["decision"])
    named = [f.row for f in verify(world.store).findings]
    assert named == [f"decision {decided['decision']} of plan {decided['plan']}"]
