"""The audit log: append-only and hash-chained, with a verifier that names what was tampered with.

Each entry's hash is SHA-256 over its own fields exactly as stored (sequence number, UTC time, actor, action,
incident, subject, details as canonical JSON) and the hash of the entry before it. The head row holds the
last sequence number and hash, written in the same transaction as the entry, so that deleting entries from
the end is found too. Entries are appended only inside `Store.write()`, which holds the writers' lock: the
chain never forks.

`verify` walks the chain and reports, per problem, the entry it concerns:
- an edited entry no longer matches its hash;
- a deleted entry leaves a gap in the sequence (or a head that points past the last entry);
- an inserted entry breaks the sequence, or the link to the entry before it, or lies past the head;
- reordered entries break their links.
The head hash can be copied elsewhere (`yiwang audit head`) to anchor the chain outside the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command.store import GENESIS_HASH, ActivityEntry, AuditEntry, AuditHead, Store

#: Every action the log records.
ACTIONS = (
    "init", "login", "login_failed", "login_locked", "logout", "user_add", "user_update", "jurisdiction_add",
    "grant", "revoke", "incident_open", "incident_close", "incident_phase", "roster_import", "plan_draft",
    "plan_propose", "plan_revise", "plan_approve", "plan_reject", "plan_activate", "plan_supersede",
    "plan_complete", "plan_withdraw", "run", "advance", "inject", "export", "audit_verify", "tamper_detected",
)  # fmt: skip


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(*, seq: int, at: str, actor: str, action: str, incident_id: int | None, subject: str,
               details: str, prev_hash: str) -> str:  # fmt: skip
    """The hash of one entry: its stored fields and the previous hash, unambiguously framed."""
    framed = json.dumps([seq, at, actor, action, incident_id, subject, details, prev_hash], ensure_ascii=False)
    return hashlib.sha256(framed.encode()).hexdigest()


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
    """Append one entry to the chain (call inside `Store.write()`, which holds the head row locked)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    head = session.get(AuditHead, 1)
    assert head is not None, "the store has no audit head; was it migrated?"
    seq = head.seq + 1
    stamp = at.isoformat(timespec="microseconds")
    text = canonical(details or {})
    digest = entry_hash(seq=seq, at=stamp, actor=actor, action=action, incident_id=incident_id,
                        subject=subject[:200], details=text, prev_hash=head.hash)  # fmt: skip
    entry = AuditEntry(seq=seq, at=stamp, actor=actor, action=action, incident_id=incident_id,
                       subject=subject[:200], details=text, prev_hash=head.hash, hash=digest)  # fmt: skip
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry


@dataclass(frozen=True)
class Finding:
    """One problem in the chain, about one entry."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}"


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` found: how many entries it checked, the head, and the problems (empty when intact)."""

    entries: int
    head_seq: int
    head_hash: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        if self.ok:
            return [f"audit chain intact: {self.entries} entries, head {self.head_seq} {self.head_hash[:16]}"]
        return [str(f) for f in self.findings]


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


def _describe(row: AuditEntry) -> str:
    return f"{row.action} by {row.actor} at {row.at}"


def verify_rows(rows: Iterator[AuditEntry] | list[AuditEntry], head_seq: int, head_hash: str) -> VerifyReport:
    """Check a chain given its rows in sequence order and its head."""
    findings: list[Finding] = []
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    last_seq = 0
    for row in rows:
        count += 1
        if row.seq > expected_seq:
            missing = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}-{row.seq - 1}"
            findings.append(Finding(expected_seq, f"missing (deleted): the sequence jumps to {row.seq}, "
                                                  f"entries {missing} are gone"))  # fmt: skip
        recomputed = entry_hash(seq=row.seq, at=row.at, actor=row.actor, action=row.action,
                                incident_id=row.incident_id, subject=row.subject, details=row.details,
                                prev_hash=row.prev_hash)  # fmt: skip
        if recomputed != row.hash:
            findings.append(Finding(row.seq, f"edited: its content ({_describe(row)}) does not match its hash"))
        elif row.prev_hash != prev_hash:
            findings.append(Finding(row.seq, f"out of chain ({_describe(row)}): it does not follow the entry "
                                             "before it (inserted, reordered, or the one before was changed)"))
        if row.seq > head_seq:
            findings.append(Finding(row.seq, f"past the head ({head_seq}): inserted after the last recorded entry"))
        prev_hash = row.hash
        expected_seq = row.seq + 1
        last_seq = row.seq
    if last_seq < head_seq:
        findings.append(Finding(last_seq + 1, f"missing (deleted): the head records {head_seq} entries, the log "
                                              f"ends at {last_seq}"))  # fmt: skip
    elif last_seq == head_seq and count and prev_hash != head_hash:
        findings.append(Finding(last_seq, "the last entry's hash differs from the head's"))
    return VerifyReport(entries=count, head_seq=head_seq, head_hash=head_hash, findings=tuple(findings))


def verify(store: Store) -> VerifyReport:
    """Walk the whole chain in sequence order (streamed, so a long log does not fill memory)."""
    with store.read() as session:
        head = session.get(AuditHead, 1)
        if head is None:
            return VerifyReport(0, 0, "", (Finding(0, "the audit head row is missing: the log was tampered with"),))
        head_seq, head_hash = head.seq, head.hash
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
        return verify_rows(rows, head_seq, head_hash)


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


__all__ = ["ACTIONS", "Finding", "VerifyReport", "append", "canonical", "entries", "entry_hash", "verify"]
