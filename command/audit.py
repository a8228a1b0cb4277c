"""The audit log: append-only, hash-chained and keyed, with a verifier that names what was tampered with.

Each entry's hash is SHA-256 over its own fields exactly as stored (sequence number, UTC time, actor, action,
incident, subject, details as canonical JSON) and the hash of the entry before it. The head row holds the
last sequence number and hash, written in the same transaction as the entry, so that deleting entries from
the end is found too. Entries are appended only inside `Store.write()`, which holds the writers' lock: the
chain never forks.

**Keyed.** When an audit key is configured (`YIWANG_AUDIT_KEY`, `YIWANG_AUDIT_KEY_FILE`, or for a SQLite demo
store the key file made beside it at `yiwang init --demo`), each entry also carries an HMAC-SHA256 of its hash
under that key, and the head an HMAC of its sequence number and hash. The key never enters the database, so
someone who can edit the database but not read the key cannot rewrite the tail of the chain and its head
consistently. A store whose head carries a MAC refuses to write without the key; with a key configured, verify
refuses a head without one.

**Rows bound to the chain.** The rows people act on (users' role, jurisdiction and active flag; authority grants;
plan versions; decisions; alert acknowledgements) carry a content hash over the fields that matter, and the
audit entry that made or changed a row records that hash (`details["rows"]`). Nobody has to remember to do it:
every row of those tables added or changed in a `Store.write()` is hashed into the next entry appended in that
transaction, and the transaction refuses to commit a changed row that no entry recorded (`require_bound`). A row
whose stored content no longer matched its hash when it was loaded is refused there too (`Tampered`): an edit made
behind Yiwang's back is never laundered into a new hash.

`verify` walks the chain and reports, per problem, the entry or row it concerns:
- an edited entry no longer matches its hash; a rewritten one (hash recomputed) fails its MAC, or breaks the
  link of the entry after it;
- a deleted entry leaves a gap (or a head that points past the last entry);
- an inserted entry is not part of the chain (entries renumbered to make room for it are recognised, by their
  links, as the originals they are); an entry numbered below 1 is inserted before the start;
- reordered entries are named as such;
- a bound row edited in the database no longer matches its hash, or no longer matches the hash its audit entry
  recorded; a row no entry recorded was inserted; a recorded row that is gone was deleted.
The head can be exported (`yiwang audit head --out FILE`) and checked later (`yiwang audit verify --head FILE`):
a chain rewritten or cut back since is caught even without the key, and a rollback to an older copy of the store
(which the key alone cannot tell from the real thing) is caught too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from command.audit_hashes import (
    AUDIT_KEY_ENV,
    AUDIT_KEY_FILE_ENV,
    BOUND,
    BoundTable,
    audit_key,
    canonical,
    entry_hash,
    entry_mac,
    head_mac,
    make_sidecar,
    missing_key_message,
    row_hash,
)
from command.audit_verify import ExportedHead, Finding, VerifyReport, verify_store
from command.errors import Tampered
from command.store import ActivityEntry, AuditEntry, AuditHead, Store, StoreError

#: Every action the log records.
ACTIONS = (
    "init", "login", "login_failed", "login_locked", "logout", "user_add", "user_update", "jurisdiction_add",
    "grant", "revoke", "incident_open", "incident_close", "incident_phase", "roster_import", "plan_draft",
    "plan_propose", "plan_revise", "plan_approve", "plan_reject", "plan_activate", "plan_supersede",
    "plan_complete", "plan_withdraw", "run", "advance", "inject", "export", "audit_verify", "audit_head",
    "tamper_detected", "rows_bound", "alert_ack",
)  # fmt: skip

# ------------------------------------------------------------------------------------------ rows bound to the chain

_BY_MODEL = {b.model: b for b in BOUND}
_PENDING = "yiwang_unbound"


def _row_values(bound: BoundTable, row: Any) -> dict[str, Any]:
    return {f: getattr(row, f) for f in bound.fields}


def _original(history: Any) -> Any:
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else None


@event.listens_for(Session, "before_flush")
def _collect_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Note each bound row added or changed in this session (until an audit entry binds it); a changed row whose
    content, as loaded, did not match its hash is noted as tampered, so that binding it is refused."""
    pending: dict[int, tuple[Any, str | None]] = session.info.setdefault(_PENDING, {})
    for obj in session.new:
        if type(obj) in _BY_MODEL:
            pending[id(obj)] = (obj, None)
    for obj in session.dirty:
        bound = _BY_MODEL.get(type(obj))
        if bound is None or id(obj) in pending:
            continue
        attrs = inspect(obj).attrs
        if not any(attrs[f].history.has_changes() for f in bound.fields):
            continue
        loaded = {f: _original(attrs[f].history) for f in bound.fields}
        tampered = None
        if row_hash(bound, loaded) != _original(attrs["content_hash"].history):
            tampered = f"{bound.name(obj)}: its stored content does not match its hash (changed outside Yiwang)"
        pending[id(obj)] = (obj, tampered)


def intact(row: Any) -> str | None:
    """What is wrong with a bound row as loaded (None: its content matches its hash). Rows are checked where they
    confer power (a user's role at log-in, a grant when it is used), so that an edit made in the database behind
    Yiwang's back is refused at once, not only named by `yiwang audit verify`."""
    bound = _BY_MODEL[type(row)]
    if row_hash(bound, _row_values(bound, row)) == row.content_hash:
        return None
    return f"{bound.name(row)}: its stored content does not match its hash (changed outside Yiwang)"


def _bind_pending(session: Session) -> dict[str, str]:
    """Hash every noted row into `content_hash`; the hashes by `table:id`, for the entry that binds them."""
    pending: dict[int, tuple[Any, str | None]] = session.info.get(_PENDING, {})
    rows: dict[str, str] = {}
    for obj, tampered in list(pending.values()):
        if tampered:
            raise Tampered(f"{tampered}; nothing changed until the store's administrator has looked "
                           "(`yiwang audit verify`)")  # fmt: skip
        bound = _BY_MODEL[type(obj)]
        obj.content_hash = row_hash(bound, _row_values(bound, obj))
        rows[f"{bound.table}:{obj.id}"] = obj.content_hash
    pending.clear()
    return rows


@event.listens_for(Session, "before_commit")
def require_bound(session: Session) -> None:
    """Refuse to commit a transaction that changed a bound row without an audit entry recording it."""
    session.flush()
    pending: dict[int, tuple[Any, str | None]] = session.info.get(_PENDING, {})
    if pending:
        tampered = [t for _, t in pending.values() if t]
        if tampered:
            raise Tampered(f"{tampered[0]}; nothing changed")
        names = ", ".join(_BY_MODEL[type(obj)].name(obj) for obj, _ in pending.values())
        pending.clear()
        raise RuntimeError(f"changed without an audit entry recording it: {names} (append one in the same write)")


# ------------------------------------------------------------------------------------------ appending


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    incident_id: int | None = None,
    subject: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain (call inside `Store.write()`, which holds the head row locked); the bound rows
    added or changed in this transaction since the last entry are recorded in it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.flush()
    head = session.get(AuditHead, 1)
    assert head is not None, "the store has no audit head; was it migrated?"
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    key = audit_key(url)
    if key is None and head.mac:
        raise StoreError(missing_key_message(url))
    if key is None and head.seq == 0 and action == "init" and (details or {}).get("demo") is True:
        key = make_sidecar(url)  # a demo store keeps its key beside it; a real one's is the operator's to keep
    seq = head.seq + 1
    stamp = at.isoformat(timespec="microseconds")
    content = dict(details or {})
    rows = _bind_pending(session)
    if rows:
        content["rows"] = rows
    text = canonical(content)
    digest = entry_hash(seq=seq, at=stamp, actor=actor, action=action, incident_id=incident_id,
                        subject=subject[:200], details=text, prev_hash=head.hash)  # fmt: skip
    entry = AuditEntry(seq=seq, at=stamp, actor=actor, action=action, incident_id=incident_id,
                       subject=subject[:200], details=text, prev_hash=head.hash, hash=digest,
                       mac=entry_mac(key, digest) if key else "")  # fmt: skip
    session.add(entry)
    head.seq, head.hash, head.mac = seq, digest, head_mac(key, seq, digest) if key else ""
    session.flush()
    return entry


def log_activity(session: Session, incident_id: int, at: datetime, user_id: int | None, kind: str, text: str,
                 sim_s: float | None = None) -> None:  # fmt: skip
    """Add a line to an incident's activity log (ICS 214): what people read, beside the chained audit entry."""
    session.add(ActivityEntry(incident_id=incident_id, at=at, sim_s=sim_s, user_id=user_id, kind=kind[:32],
                              text=text))  # fmt: skip


def record(session: Session, *, at: datetime, actor: str, user_id: int | None, action: str, incident_id: int,
           subject: str, details: dict[str, Any], text: str, sim_s: float | None = None,
           phase: str | None = None) -> None:  # fmt: skip
    """One write path for a step people take on an incident: its audit entry and its activity-log line (filed
    under the loop's `phase` when given, else the action), in the same transaction (both or neither)."""
    append(session, at=at, actor=actor, action=action, incident_id=incident_id, subject=subject, details=details)
    log_activity(session, incident_id, at, user_id, phase or action, text, sim_s)


def verify(store: Store, *, exported: ExportedHead | None = None) -> VerifyReport:
    """Check the chain, its head (and a head exported earlier, if given) and the bound rows; each problem named at
    its entry or row (see `command.audit_verify`)."""
    return verify_store(store, exported=exported)


def entries(store: Store, *, incident_id: int | None = None, limit: int | None = None) -> list[AuditEntry]:
    """Entries in sequence order (of one incident if given), the newest `limit` if given."""
    with store.read() as session:
        query = select(AuditEntry)
        if incident_id is not None:
            query = query.where(AuditEntry.incident_id == incident_id)
        if limit is not None:
            query = query.order_by(AuditEntry.seq.desc()).limit(limit)
            return list(reversed(session.scalars(query).all()))
        return list(session.scalars(query.order_by(AuditEntry.seq)).all())


__all__ = [
    "ACTIONS",
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE_ENV",
    "BOUND",
    "ExportedHead",
    "Finding",
    "VerifyReport",
    "append",
    "audit_key",
    "canonical",
    "entries",
    "entry_hash",
    "record",
    "require_bound",
    "row_hash",
    "verify",
]
