"""The audit chain: an untouched chain verifies; any edit, deletion, insertion or reordering is named."""

from __future__ import annotations

import itertools
import json

import pytest
from audit_tampering import CASES, NEEDS_KEY_OR_HEAD
from sqlalchemy import select, text
from store_support import FAST, PASSWORD, make_world, tiny_plan, tiny_scenario

from command import audit, audit_verify
from command.audit import AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV, verify
from command.audit_access import check, export_head, readable_entries
from command.authority import grant_command
from command.errors import BadInput, NotAuthorised, NotFound, Tampered
from command.incidents import open_incident
from command.plans import approve_plan, create_plan, view_plan
from command.security import authenticate
from command.store import AuditEntry, Decision, PlanVersion, Store, StoreError, User
from command.users import add_user, init_demo_store, init_store, set_active


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


# ------------------------------------------------------------------------------------------ every way to tamper

TEST_KEY = "5e" * 32


@pytest.fixture(params=["plain", "keyed", "exported"])
def setting(request, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """How the chain is checked: no key and no exported head; keyed (HMAC); against a head exported before."""
    if request.param == "keyed":
        monkeypatch.setenv(AUDIT_KEY_ENV, TEST_KEY)
    else:
        monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    return str(request.param)


@pytest.mark.parametrize("case", list(CASES))
def test_verify_names_the_tampered_entry_in_every_case(store_url, setting, case):
    """Each way of tampering with the chain is reported at the entry it concerns, and at no other: the first entry
    edited or deleted, entries inserted at 0 or -1 (no spurious 'entry 0 missing'), an insertion with the later
    entries renumbered (the inserted one named, not the renumbered ones as edited), a deletion, a reordering; a
    rewritten tail is found by the key or an exported head (issue 21, item 10)."""
    world = make_world(store_url)
    try:
        n, k = len(_chain(world)), 5
        assert verify(world.store).ok
        before = audit_verify.ExportedHead(n, audit.entries(world.store)[-1].hash)
        expected = CASES[case](world.store, n, k)
        report = verify(world.store, exported=before if setting == "exported" else None)
        named = {f.seq for f in report.findings if f.seq is not None and not f.row}
        assert named == expected.named(keyed=setting == "keyed", exported=setting == "exported"), report.lines()
        if not (setting == "plain" and case in NEEDS_KEY_OR_HEAD):
            assert not report.ok
    finally:
        world.store.dispose()


def test_a_keyed_store_refuses_to_write_without_its_key(store_url, monkeypatch):
    """A store whose chain is keyed writes nothing without the key, and says where the key is looked for; verify
    without the key says the same; with the key back, all is well."""
    monkeypatch.setenv(AUDIT_KEY_ENV, TEST_KEY)
    world = make_world(store_url)
    try:
        assert verify(world.store).keyed
        monkeypatch.delenv(AUDIT_KEY_ENV)
        n = len(audit.entries(world.store))
        with pytest.raises(StoreError, match=r"the audit chain is keyed but no audit key is available: set "
                                             r"YIWANG_AUDIT_KEY_FILE to the key file \(or YIWANG_AUDIT_KEY"):
            set_active(world.store, world["admin"], "obs_pudong", False)
        assert len(audit.entries(world.store)) == n
        assert "no audit key is available" in verify(world.store).lines()[0]
        monkeypatch.setenv(AUDIT_KEY_ENV, "00" * 16)
        with pytest.raises(StoreError, match="YIWANG_AUDIT_KEY: the audit key is 16 bytes; it needs at least 32"):
            verify(world.store)
        monkeypatch.setenv(AUDIT_KEY_ENV, TEST_KEY)
        assert verify(world.store).ok
    finally:
        world.store.dispose()


def test_a_key_file_keys_the_chain_and_a_wrong_key_is_told(store_url, monkeypatch, tmp_path):
    """With the key in a file (`YIWANG_AUDIT_KEY_FILE`), entries carry MACs; verified under another key, the chain
    is reported as written without that key; a key file that cannot be read is named."""
    key_file = tmp_path / "audit.key"
    key_file.write_text(TEST_KEY + "\n")
    monkeypatch.setenv(AUDIT_KEY_FILE_ENV, str(key_file))
    world = make_world(store_url)
    try:
        assert all(len(e.mac) == 64 for e in audit.entries(world.store))
        assert verify(world.store).ok
        key_file.write_text("ab" * 32)
        lines = verify(world.store).lines()
        assert lines[0].startswith("the head (") and "forged: entries 1-" in lines[1]
        monkeypatch.setenv(AUDIT_KEY_FILE_ENV, str(tmp_path / "nowhere.key"))
        with pytest.raises(StoreError, match=r"YIWANG_AUDIT_KEY_FILE=.*nowhere.key: cannot read the audit key file"):
            verify(world.store)
    finally:
        world.store.dispose()


def test_the_demo_store_keeps_a_generated_key_beside_it(tmp_path, monkeypatch):
    """A SQLite demo store is keyed from its first entry, with a random key in a file beside it that only its owner
    may read; a real store without a configured key is not keyed, and verify says so."""
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    demo = Store(f"sqlite:///{tmp_path / 'demo.db'}", policy=FAST)
    init_demo_store(demo)
    key_file = tmp_path / "demo.db.audit-key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(bytes.fromhex(key_file.read_text())) == 32
    report = verify(demo)
    assert report.ok and report.keyed and "(keyed)" in report.lines()[0]
    real = Store(f"sqlite:///{tmp_path / 'real.db'}", policy=FAST)
    init_store(real, admin="admin", password="operations centre 2026")
    assert not (tmp_path / "real.db.audit-key").exists()
    assert "not keyed: a rewritten tail is caught only against an exported head" in verify(real).lines()[0]


def test_an_exported_head_that_is_not_one_is_refused(tmp_path):
    """A head file that is not JSON, or lacks a sequence number or hash, is bad input naming the file and field."""
    bad = tmp_path / "head.json"
    for content, reason in (("{", "not JSON"), ('{"seq": -1, "hash": ""}', "seq: -1 is not a sequence number"),
                            ('{"seq": 3, "hash": "xyz"}', "hash: 'xyz' is not a SHA-256 hex digest")):  # fmt: skip
        bad.write_text(content)
        with pytest.raises(BadInput, match=reason):
            audit_verify.ExportedHead.read(bad)


# ------------------------------------------------------------------------------------------ the audit, for admins


def test_only_admins_verify_or_export_and_each_time_is_recorded(world):
    """Planners, commanders and observers may not verify the audit or export its head; an admin's verification and
    export are each recorded, as who, when and the result (issue 21, item 9)."""
    for who in ("planner", "cmd_pudong", "obs_pudong"):
        with pytest.raises(NotAuthorised, match=f"{who} .* may not verify the audit log"):
            check(world.store, world[who])
        with pytest.raises(NotAuthorised, match=f"{who} .* may not export the audit head"):
            export_head(world.store, world[who])
    report = check(world.store, world["admin"])
    last = audit.entries(world.store)[-1]
    assert report.ok and (last.action, last.actor, last.subject) == ("audit_verify", "admin", "intact")
    assert json.loads(last.details) == {"ok": True, "entries": report.entries, "head": report.head_seq,
                                        "findings": 0, "keyed": False}  # fmt: skip
    head = export_head(world.store, world["admin"])
    last = audit.entries(world.store)[-1]
    assert (last.action, last.actor, last.seq, last.hash) == ("audit_head", "admin", head["seq"], head["hash"])
    _sql(world, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    failed = check(world.store, world["admin"], exported=audit_verify.ExportedHead(head["seq"], head["hash"]))
    last = audit.entries(world.store)[-1]
    assert not failed.ok and last.subject == "1 problems" and json.loads(last.details)["first"].startswith("entry 2")


def test_an_admin_reads_the_audit_of_their_jurisdiction_only(world):
    """A Pudong admin reads the entries of Pudong's incidents and of Pudong's people, not Huangpu's incident nor the
    city's users; asking for Huangpu's incident is told it is not found; the city admin reads everything."""
    add_user(world.store, world["admin"], username="pd_admin", password=PASSWORD, role="admin", jurisdiction="pudong")
    pd_admin = authenticate(world.store, "pd_admin", PASSWORD)
    scenario = tiny_scenario()
    pudong = open_incident(world.store, world["admin"], scenario, jurisdiction="pudong")
    huangpu = open_incident(world.store, world["admin"], scenario, jurisdiction="huangpu")
    seen = readable_entries(world.store, pd_admin)
    assert {e.incident_id for e in seen} == {None, pudong}
    unattached = {e.subject for e in seen if e.incident_id is None}
    assert {"pd_planner", "cmd_pudong", "obs_pudong", "pd_admin"} <= unattached
    assert not unattached & {"planner", "cmd_city", "cmd_huangpu", "obs_xuhui"}
    with pytest.raises(NotFound, match=f"incident {huangpu}: not found in jurisdiction 'pudong'"):
        readable_entries(world.store, pd_admin, incident_id=huangpu)
    assert len(readable_entries(world.store, world["admin"])) == len(audit.entries(world.store))
    with pytest.raises(NotAuthorised):
        readable_entries(world.store, world["cmd_pudong"], incident_id=pudong)


def test_a_row_edited_behind_yiwangs_back_confers_no_power(world, decided):
    """A role raised in the database does not log in as that role: the log-in is refused and recorded; a grant
    given to someone else in the database lets them decide nothing."""
    from command.authority import require_holder
    from command.store import Incident

    _sql(world, "UPDATE users SET role = 'admin' WHERE id = :i", i=decided["user"])
    with pytest.raises(Tampered, match=rf"user {decided['user']} \(obs_pudong\): its stored content does not match"):
        authenticate(world.store, "obs_pudong", PASSWORD)
    last = audit.entries(world.store)[-1]
    assert (last.action, last.subject) == ("tamper_detected", "obs_pudong")
    with world.store.read() as session:
        planner = session.scalars(select(User.id).where(User.username == "planner")).one()
    _sql(world, "UPDATE authority_grants SET user_id = :u WHERE id = :g", u=planner, g=decided["grant"])
    with world.store.read() as session, pytest.raises(Tampered, match=rf"grant {decided['grant']} of incident"):
        require_holder(session, world["cmd_pudong"], session.get(Incident, decided["incident"]), world.store.now(),
                       "approve plans")  # fmt: skip
