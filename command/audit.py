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
plan versions; decisions) carry a content hash over the fields that matter, and the audit entry that made or
changed a row records that hash (`details["rows"]`). Nobody has to remember to do it: every row of those tables
added or changed in a `Store.write()` is hashed into the next entry appended in that transaction, and the
transaction refuses to commit a changed row that no entry recorded (`require_bound`). A row whose stored content
no longer matched its hash when it was loaded is refused there too (`Tampered`): an edit made behind Yiwang's back
is never laundered into a new hash.

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

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Float, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from command.errors import Tampered
from command.store import (
    ActivityEntry,
    AuditEntry,
    AuditHead,
    AuthorityGrant,
    Base,
    Decision,
    PlanVersion,
    Store,
    StoreError,
    User,
)

#: Every action the log records.
ACTIONS = (
    "init", "login", "login_failed", "login_locked", "logout", "user_add", "user_update", "jurisdiction_add",
    "grant", "revoke", "incident_open", "incident_close", "incident_phase", "roster_import", "plan_draft",
    "plan_propose", "plan_revise", "plan_approve", "plan_reject", "plan_activate", "plan_supersede",
    "plan_complete", "plan_withdraw", "run", "advance", "inject", "export", "audit_verify", "audit_head",
    "tamper_detected", "rows_bound",
)  # fmt: skip

AUDIT_KEY_ENV = "YIWANG_AUDIT_KEY"
AUDIT_KEY_FILE_ENV = "YIWANG_AUDIT_KEY_FILE"
#: The key file made beside a SQLite store at `yiwang init` when no key is configured: `<database file>.audit-key`.
SIDECAR_SUFFIX = ".audit-key"
MIN_KEY_BYTES = 32


def canonical(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(*, seq: int, at: str, actor: str, action: str, incident_id: int | None, subject: str,
               details: str, prev_hash: str) -> str:  # fmt: skip
    """The hash of one entry: its stored fields and the previous hash, unambiguously framed."""
    framed = json.dumps([seq, at, actor, action, incident_id, subject, details, prev_hash], ensure_ascii=False)
    return hashlib.sha256(framed.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ the audit key


def _parse_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise StoreError(f"{where}: the audit key is not hexadecimal") from None
    if len(key) < MIN_KEY_BYTES:
        raise StoreError(f"{where}: the audit key is {len(key)} bytes; it needs at least {MIN_KEY_BYTES} "
                         f"({2 * MIN_KEY_BYTES} hex digits)")  # fmt: skip
    return key


def sidecar_path(url: str) -> Path | None:
    """The key file beside a SQLite store's database file (None for other stores and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    db = Path(parsed.database).expanduser()
    return db.with_name(db.name + SIDECAR_SUFFIX)


def audit_key(url: str) -> bytes | None:
    """The audit key for the store at `url`: `YIWANG_AUDIT_KEY` (hex), else the file `YIWANG_AUDIT_KEY_FILE`
    names, else a SQLite store's key file beside it if there is one; None when no key is configured."""
    if os.environ.get(AUDIT_KEY_ENV):
        return _parse_key(os.environ[AUDIT_KEY_ENV], AUDIT_KEY_ENV)
    named = os.environ.get(AUDIT_KEY_FILE_ENV)
    if named:
        try:
            return _parse_key(Path(named).read_text(encoding="ascii"), f"{AUDIT_KEY_FILE_ENV}={named}")
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"{AUDIT_KEY_FILE_ENV}={named}: cannot read the audit key file "
                             f"({getattr(exc, 'strerror', None) or exc})") from None  # fmt: skip
    side = sidecar_path(url)
    if side is not None and side.is_file():
        return _parse_key(side.read_text(encoding="ascii"), str(side))
    return None


def _make_sidecar(url: str) -> bytes | None:
    """A new random key in a file beside a new SQLite store, readable by its owner only."""
    side = sidecar_path(url)
    if side is None:
        return None
    key = secrets.token_bytes(MIN_KEY_BYTES)
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    return key


def _missing_key(url: str) -> str:
    side = sidecar_path(url)
    return (f"{make_url(url).render_as_string(hide_password=True)}: the audit chain is keyed but no audit key is "
            f"available: set {AUDIT_KEY_FILE_ENV} to the key file (or {AUDIT_KEY_ENV} to the key)"
            + (f", or put the key file back at {side}" if side else "") + "; see docs/command.md, 'The audit key'")


def entry_mac(key: bytes, digest: str) -> str:
    return hmac.new(key, b"entry " + digest.encode(), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"head {seq} {digest}".encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------ rows bound to the chain


@dataclass(frozen=True)
class BoundTable:
    """A table whose rows are bound to the audit chain: the fields the content hash covers, and how to name a row."""

    model: type[Base]
    noun: str
    fields: tuple[str, ...]
    name: Callable[[Any], str]

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)


BOUND = (
    BoundTable(User, "user", ("id", "username", "role", "jurisdiction_id", "active", "demo"),
               lambda r: f"user {r.id} ({r.username})"),
    BoundTable(AuthorityGrant, "grant", ("id", "incident_id", "user_id", "granted_by", "valid_from", "valid_until",
                                         "revoked_at", "revoked_by", "limits_json", "reason"),
               lambda r: f"grant {r.id} of incident {r.incident_id}"),
    BoundTable(PlanVersion, "plan version", ("id", "plan_id", "version", "plan_json", "plan_digest", "scenario_hash",
                                             "state_time_s", "state_hash", "solver_json", "forecast_json",
                                             "created_by", "created_at"),
               lambda r: f"version {r.version} of plan {r.plan_id}"),
    BoundTable(Decision, "decision", ("id", "plan_id", "version", "decision", "user_id", "grant_id", "reason",
                                      "shown_json", "decided_at"),
               lambda r: f"decision {r.id} of plan {r.plan_id}"),
)  # fmt: skip
_BY_MODEL = {b.model: b for b in BOUND}
_PENDING = "yiwang_unbound"


def _normal(value: Any, is_float: bool) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if is_float and value is not None:
        return float(value)
    return value


def row_hash(bound: BoundTable, values: Mapping[str, Any]) -> str:
    """The content hash of one row: its table and the fields `bound` covers, as stored on every backend."""
    columns = bound.model.__table__.columns  # type: ignore[attr-defined]
    framed = [bound.table, *(_normal(values[f], isinstance(columns[f].type, Float)) for f in bound.fields)]
    return hashlib.sha256(json.dumps(framed, ensure_ascii=False, default=str).encode()).hexdigest()


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
        raise StoreError(_missing_key(url))
    if key is None and head.seq == 0 and action == "init" and (details or {}).get("demo") is True:
        key = _make_sidecar(url)  # a demo store keeps its key beside it; a real one's is the operator's to keep
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


def verify(store: Store, *, exported: Any = None) -> Any:
    """Check the chain, its head (and an exported head, if given) and the bound rows: a
    `command.audit_verify.VerifyReport` naming each problem's entry or row (see that module)."""
    from command.audit_verify import verify_store

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
