"""Ways to tamper with the audit chain in the database, each with the entries `audit verify` must name.

Each case edits the store as someone with write access to the database (but not to the audit key) would, and
returns what verify must report: the set of entries it names without a key and without an exported head
(`plain`), with the chain keyed (`keyed`), and against a head exported before the tampering (`exported`).
Findings about the head itself or about bound rows have no entry number and are not counted here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from command.audit import entry_hash
from command.store import GENESIS_HASH, Store

FIELDS = "seq, at, actor, action, incident_id, subject, details, prev_hash, hash, mac"


@dataclass(frozen=True)
class Expected:
    """The entries verify names in each setting (None: the same as `plain`)."""

    plain: frozenset[int]
    keyed: frozenset[int] | None = None
    exported: frozenset[int] | None = None

    def named(self, *, keyed: bool, exported: bool) -> frozenset[int]:
        if keyed and self.keyed is not None:
            return self.keyed
        if exported and self.exported is not None:
            return self.exported
        return self.plain


def _sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _rows(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(f"SELECT {FIELDS} FROM audit_log ORDER BY seq"))]


def _hash(row: dict[str, Any], seq: int, prev: str) -> str:
    return entry_hash(seq=seq, at=row["at"], actor=row["actor"], action=row["action"], incident_id=row["incident_id"],
                      subject=row["subject"], details=row["details"], prev_hash=prev)  # fmt: skip


def _insert(store: Store, seq: int, prev: str, *, actor: str = "mallory", valid: bool = True) -> None:
    row = {"at": "2026-11-29T10:00:00.000000+00:00", "actor": actor, "action": "grant", "incident_id": None,
           "subject": "grant 99", "details": '{"to":"mallory"}'}  # fmt: skip
    digest = _hash(row, seq, prev) if valid else "f" * 64
    _sql(store, f"INSERT INTO audit_log ({FIELDS}) VALUES (:seq, :at, :actor, :action, :incident_id, :subject, "
                ":details, :prev, :h, '')", seq=seq, prev=prev, h=digest, **row)  # fmt: skip


def _renumber(store: Store, from_seq: int, by: int) -> None:
    """Shift entries `from_seq` and after by `by` (through a detour: sequence numbers are a primary key)."""
    _sql(store, "UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= :s", s=from_seq)
    _sql(store, "UPDATE audit_log SET seq = seq - 1000000 + :by WHERE seq >= 1000000", by=by)


def _rewrite_from(store: Store, k: int, *, actor: str = "mallory") -> None:
    """Rewrite entries k..n (actor changed) with every hash recomputed, and the head to match: a consistent forgery
    that only a key, or a head kept elsewhere, can tell."""
    rows = _rows(store)
    prev = rows[k - 2]["hash"] if k > 1 else GENESIS_HASH
    for row in rows[k - 1 :]:
        digest = _hash(row | {"actor": actor}, row["seq"], prev)
        _sql(store, "UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s", a=actor, p=prev,
             h=digest, s=row["seq"])  # fmt: skip
        prev = digest
    _sql(store, "UPDATE audit_head SET hash = :h WHERE id = 1", h=prev)


def first_edited(store: Store, n: int, k: int) -> Expected:
    _sql(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    return Expected(frozenset({1}))


def first_deleted(store: Store, n: int, k: int) -> Expected:
    _sql(store, "DELETE FROM audit_log WHERE seq = 1")
    return Expected(frozenset({1}))


def inserted_at_zero(store: Store, n: int, k: int) -> Expected:
    _insert(store, 0, GENESIS_HASH)
    return Expected(frozenset({0}))


def inserted_at_minus_one(store: Store, n: int, k: int) -> Expected:
    _insert(store, -1, GENESIS_HASH)
    return Expected(frozenset({-1}))


def edited(store: Store, n: int, k: int) -> Expected:
    _sql(store, "UPDATE audit_log SET details = '{\"role\":\"admin\"}' WHERE seq = :k", k=k)
    return Expected(frozenset({k}))


def rewritten_with_its_hash(store: Store, n: int, k: int) -> Expected:
    row = _rows(store)[k - 1]
    digest = _hash(row | {"actor": "mallory"}, k, row["prev_hash"])
    _sql(store, "UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = :k", h=digest, k=k)
    return Expected(frozenset({k}))


def deleted(store: Store, n: int, k: int) -> Expected:
    _sql(store, "DELETE FROM audit_log WHERE seq = :k", k=k)
    return Expected(frozenset({k}))


def deleted_and_closed_up(store: Store, n: int, k: int) -> Expected:
    _sql(store, "DELETE FROM audit_log WHERE seq = :k", k=k)
    _renumber(store, k + 1, -1)
    return Expected(frozenset({k}))


def inserted_with_renumbering(store: Store, n: int, k: int) -> Expected:
    _renumber(store, k, 1)
    _insert(store, k, "x" * 64, valid=False)
    return Expected(frozenset({k}))


def inserted_linked_with_renumbering(store: Store, n: int, k: int) -> Expected:
    """A forged entry with a correct link and hash, the later entries renumbered after it, the head moved on."""
    prev = _rows(store)[k - 2]["hash"]
    _renumber(store, k, 1)
    _insert(store, k, prev)
    _sql(store, "UPDATE audit_head SET seq = seq + 1 WHERE id = 1")
    return Expected(frozenset({k}))


def inserted_past_the_head(store: Store, n: int, k: int) -> Expected:
    _insert(store, n + 1, _rows(store)[-1]["hash"])
    return Expected(frozenset({n + 1}))


def reordered(store: Store, n: int, k: int) -> Expected:
    _sql(store, "UPDATE audit_log SET seq = -5 WHERE seq = :k", k=k)
    _sql(store, "UPDATE audit_log SET seq = :k WHERE seq = :k1", k=k, k1=k + 1)
    _sql(store, "UPDATE audit_log SET seq = :k1 WHERE seq = -5", k1=k + 1)
    return Expected(frozenset({k}))


def last_deleted(store: Store, n: int, k: int) -> Expected:
    _sql(store, "DELETE FROM audit_log WHERE seq >= :s", s=n - 1)
    return Expected(frozenset({n - 1}))


def tail_rewritten(store: Store, n: int, k: int) -> Expected:
    """Every entry from k rewritten with recomputed hashes and the head to match."""
    _rewrite_from(store, k)
    return Expected(frozenset(), keyed=frozenset({k}), exported=frozenset({n}))


def tail_cut_and_head_rewound(store: Store, n: int, k: int) -> Expected:
    """Entries k..n deleted and the head set back to entry k-1: the log looks complete."""
    rows = _rows(store)
    _sql(store, "DELETE FROM audit_log WHERE seq >= :k", k=k)
    _sql(store, "UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1", s=k - 1, h=rows[k - 2]["hash"])
    return Expected(frozenset(), keyed=frozenset(), exported=frozenset({k}))


CASES: dict[str, Callable[[Store, int, int], Expected]] = {
    "first entry edited": first_edited,
    "first entry deleted": first_deleted,
    "entry inserted at seq 0": inserted_at_zero,
    "entry inserted at seq -1": inserted_at_minus_one,
    "entry edited": edited,
    "entry rewritten with its hash recomputed": rewritten_with_its_hash,
    "entry deleted": deleted,
    "entry deleted, later ones renumbered to close the gap": deleted_and_closed_up,
    "entry inserted, later ones renumbered": inserted_with_renumbering,
    "entry inserted with a valid link, later ones renumbered, head moved": inserted_linked_with_renumbering,
    "entry inserted past the head": inserted_past_the_head,
    "entries reordered": reordered,
    "last entries deleted": last_deleted,
    "tail rewritten with the head": tail_rewritten,
    "tail cut and the head rewound": tail_cut_and_head_rewound,
}

#: Cases only a key or an exported head can find (a consistent forgery of the chain's end).
NEEDS_KEY_OR_HEAD = {"tail rewritten with the head", "tail cut and the head rewound"}

__all__ = ["CASES", "NEEDS_KEY_OR_HEAD", "Expected"]
