"""Verifying the audit chain and the rows bound to it, naming the entry or row of every problem.

A chain that is intact is checked in one streamed pass (a long log does not fill memory). When that pass finds
anything, the whole chain is loaded and diagnosed, so that each problem is told as what happened to which entry:

- The chain is rebuilt by its links (each entry names the hash of the one before), from the genesis hash. Where
  two entries claim the same predecessor, the genuine one is the one whose MAC holds, then the one whose hash
  holds at that position, then the one the chain goes on from. An entry's position in this walk is the sequence
  number it was written with: an entry stored under another number but valid at its position was renumbered
  (by an insertion, a deletion or a reordering), not edited.
- Entries the walk does not reach are either the start of a genuine stretch (valid at some sequence number after
  the walk's end: the entries in between were deleted, or the one before was rewritten with its hash recomputed)
  or inserted.
- Entries numbered below 1 are inserted before the start (sequence numbers start at 1).
"""

from __future__ import annotations

import hmac
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from command.audit_hashes import BOUND, audit_key, entry_hash, entry_mac, head_mac, missing_key_message, row_hash
from command.errors import BadInput
from command.store import GENESIS_HASH, AuditEntry, AuditHead, Store


@dataclass(frozen=True)
class Finding:
    """One problem, about one entry of the chain (`seq`) or one bound row (`row`, e.g. 'decision 12 of plan 3')."""

    seq: int | None
    problem: str
    row: str = ""

    def __str__(self) -> str:
        if self.row:
            return f"{self.row} {self.problem}"
        return f"entry {self.seq}: {self.problem}" if self.seq is not None else self.problem


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` found: entries checked, the head, whether the chain is keyed, the problems (empty if intact)."""

    entries: int
    head_seq: int
    head_hash: str
    findings: tuple[Finding, ...]
    keyed: bool = False
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        if self.ok:
            how = "keyed" if self.keyed else "not keyed: a rewritten tail is caught only against an exported head"
            return [f"audit chain intact: {self.entries} entries, head {self.head_seq} {self.head_hash[:16]}, "
                    f"{self.rows} bound rows match ({how})"]  # fmt: skip
        return [str(f) for f in self.findings]


@dataclass(frozen=True)
class ExportedHead:
    """A head exported earlier (`yiwang audit head --out FILE`): the sequence number and hash it recorded."""

    seq: int
    hash: str

    @classmethod
    def read(cls, path: Path) -> ExportedHead:
        """An exported head from its file; a file that is not one is bad input, naming the file and the field."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path}: not an exported audit head (not JSON: {exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise BadInput(f"{path}: not an exported audit head (a JSON object with seq and hash)")
        seq, digest = data.get("seq"), data.get("hash")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise BadInput(f"{path}: seq: {seq!r} is not a sequence number")
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BadInput(f"{path}: hash: {digest!r} is not a SHA-256 hex digest")
        return cls(seq, digest)


@dataclass
class _Entry:
    """An entry as read for checking (detached from the session)."""

    seq: int
    at: str
    actor: str
    action: str
    incident_id: int | None
    subject: str
    details: str
    prev_hash: str
    hash: str
    mac: str

    @classmethod
    def of(cls, row: AuditEntry) -> _Entry:
        return cls(row.seq, row.at, row.actor, row.action, row.incident_id, row.subject, row.details, row.prev_hash,
                   row.hash, row.mac or "")  # fmt: skip

    def hash_at(self, seq: int) -> str:
        return entry_hash(seq=seq, at=self.at, actor=self.actor, action=self.action, incident_id=self.incident_id,
                          subject=self.subject, details=self.details, prev_hash=self.prev_hash)  # fmt: skip

    def valid_at(self, seq: int) -> bool:
        return self.hash_at(seq) == self.hash

    def describe(self) -> str:
        return f"{self.action} by {self.actor} at {self.at}"


@dataclass(frozen=True)
class _Head:
    seq: int
    hash: str
    mac: str


def _mac_ok(key: bytes | None, e: _Entry) -> bool:
    return key is not None and bool(e.mac) and hmac.compare_digest(e.mac, entry_mac(key, e.hash))


def _bindings(entry: _Entry, into: dict[str, tuple[int, str]]) -> None:
    if '"rows"' not in entry.details:
        return
    try:
        rows = json.loads(entry.details).get("rows", {})
    except (json.JSONDecodeError, AttributeError):
        return
    if isinstance(rows, dict):
        for key, digest in rows.items():
            into[str(key)] = (entry.seq, str(digest))


def _spans(seqs: Sequence[int]) -> str:
    return f"entry {seqs[0]}" if seqs[0] == seqs[-1] else f"entries {seqs[0]}-{seqs[-1]}"


# ------------------------------------------------------------------------------------------ the chain


def _scan(entries: Iterable[_Entry], head: _Head, key: bytes | None,
          bindings: dict[str, tuple[int, str]]) -> tuple[int, bool]:  # fmt: skip
    """One streamed pass: (entries seen, intact?). Stops judging at the first problem (the diagnosis takes over)."""
    expected, prev, count, keyed_seen, intact = 1, GENESIS_HASH, 0, False, True
    for e in entries:
        count += 1
        if not intact:
            continue
        linked = e.seq == expected and e.prev_hash == prev and e.valid_at(e.seq)
        sealed = key is None or not (e.mac or keyed_seen) or _mac_ok(key, e)
        intact = linked and sealed
        keyed_seen = keyed_seen or bool(e.mac)
        _bindings(e, bindings)
        expected, prev = e.seq + 1, e.hash
    return count, intact and expected - 1 == head.seq and prev == head.hash


def _head_findings(head: _Head, key: bytes | None, url: str) -> list[Finding]:
    if key is None:
        return [Finding(None, missing_key_message(url))] if head.mac else []
    if not head.mac:
        return [Finding(None, "the head carries no MAC though an audit key is configured: the chain was rewritten "
                              "without the key (or never sealed with it)")]  # fmt: skip
    if not hmac.compare_digest(head.mac, head_mac(key, head.seq, head.hash)):
        return [Finding(None, f"the head ({head.seq}) was rewritten without the audit key: its MAC does not match "
                              "(entries after it cut off, or the head moved)")]  # fmt: skip
    return []


def _diagnose(rows: list[_Entry], head: _Head, key: bytes | None, bindings: dict[str, tuple[int, str]],
              written: dict[int, tuple[int, str]]) -> list[Finding]:  # fmt: skip
    """Every problem of a chain that failed the streamed pass, each named at the entry it concerns; `written` is
    filled with the genuine chain: the sequence number each entry was written with -> (its number now, its hash)."""
    findings: list[Finding] = []
    for e in rows:
        if e.seq < 1:
            findings.append(Finding(e.seq, f"inserted before the first entry ({e.describe()}): sequence numbers "
                                           "start at 1"))  # fmt: skip
    chain = sorted((e for e in rows if e.seq >= 1), key=lambda e: e.seq)
    by_prev: dict[str, list[_Entry]] = defaultdict(list)
    for e in chain:
        by_prev[e.prev_hash].append(e)
    position: dict[int, int] = {}  # id(entry) -> the sequence number it was written with
    at_position: dict[int, _Entry] = {}

    def best(candidates: list[_Entry], pos: int) -> _Entry:
        return max(candidates, key=lambda c: (_mac_ok(key, c), c.valid_at(pos), bool(by_prev.get(c.hash)),
                                              c.seq == pos, -c.seq))  # fmt: skip

    def walk(start: _Entry, pos: int) -> None:
        e: _Entry | None = start
        while e is not None and id(e) not in position and pos not in at_position:
            position[id(e)], at_position[pos] = pos, e
            nxt = [c for c in by_prev.get(e.hash, []) if id(c) not in position]
            e, pos = (best(nxt, pos + 1) if nxt else None), pos + 1

    if by_prev.get(GENESIS_HASH):
        walk(best(by_prev[GENESIS_HASH], 1), 1)
    inserted: list[_Entry] = []
    gaps: list[Finding] = []
    top = max(at_position, default=0)
    for e in chain:
        if id(e) in position:
            continue
        origin = _origin(e, top, len(chain) + len(rows) + 2)
        if origin is None or origin <= top:
            inserted.append(e)
            continue
        if origin > top + 1:
            gaps.append(Finding(top + 1, f"missing (deleted): {_spans([top + 1, origin - 1])} gone; the chain "
                                         f"goes on at {origin}"))  # fmt: skip
        elif top in at_position:
            gaps.append(Finding(at_position[top].seq, f"rewritten ({at_position[top].describe()}): its hash was "
                                                      f"recomputed, and entry {origin} names another one for it"))
        walk(e, origin)
        top = max(at_position)
    moved = sorted((e.seq, position[id(e)]) for e in chain if id(e) in position and position[id(e)] != e.seq)
    for e in inserted:
        note = ""
        shifted = [s for s, p in moved if s > e.seq]
        if shifted:
            note = (f"; {_spans(shifted)} renumbered to make room (written as "
                    f"{_spans([p for s, p in moved if s > e.seq])})")  # fmt: skip
        findings.append(Finding(e.seq, f"inserted ({e.describe()}): it is not part of the chain{note}"))
    findings.extend(gaps)
    if moved and not inserted and not gaps:
        first = moved[0][0]
        findings.append(Finding(first, "reordered: " + ", ".join(f"entry {s} was written as {p}" for s, p in moved)))
    # Entry by entry: content against hash (at the position it was written), and the MAC.
    keyed_from = min((p for p, e in at_position.items() if e.mac), default=None)
    told = {id(e) for e in inserted}
    forged: list[int] = []
    for e in chain:
        _bindings(e, bindings)  # rows are checked against what even a suspect entry says (it is named itself)
        pos = position.get(id(e), e.seq)
        if id(e) in told:
            continue
        if not e.valid_at(pos) and not e.valid_at(e.seq):
            findings.append(Finding(e.seq, f"edited: its content ({e.describe()}) does not match its hash"))
        elif key is not None and e.mac and not _mac_ok(key, e):
            forged.append(e.seq)
        elif key is not None and not e.mac and keyed_from is not None and pos > keyed_from:
            findings.append(Finding(e.seq, "its MAC is missing (entries after the first keyed one all carry one): "
                                           "rewritten without the audit key"))  # fmt: skip
    for run in _runs(forged):
        what = "its MAC does not match" if len(run) == 1 else "their MACs do not match"
        findings.append(Finding(run[0], f"forged: {_spans(run)}: {what}: written or rewritten without the audit key"))
    written.update({pos: (e.seq, e.hash) for pos, e in at_position.items()})
    # The head: the last entry written must be the one it records; nothing was written after it.
    for pos, e in sorted(at_position.items()):
        if pos > head.seq:
            findings.append(Finding(e.seq, f"past the head ({head.seq}): inserted after the last recorded entry"))
    last = max(at_position, default=0)
    if last and last != head.seq and at_position[last].hash == head.hash:
        findings.append(Finding(None, f"the head's sequence number was changed: it records {head.seq}, but its hash "
                                      f"is that of entry {at_position[last].seq}, written as {last}"))  # fmt: skip
    elif last < head.seq and not any(f.seq == last + 1 and "missing" in f.problem for f in findings):
        findings.append(Finding(last + 1, f"missing (deleted): the head records {head.seq} entries, the log "
                                          f"ends at {last}"))  # fmt: skip
    elif head.seq in at_position and at_position[head.seq].hash != head.hash:
        findings.append(Finding(at_position[head.seq].seq, "the last entry's hash differs from the head's"))
    return findings


def _runs(seqs: list[int]) -> list[list[int]]:
    """Consecutive numbers grouped: [3, 4, 5, 9] -> [[3, 4, 5], [9]]."""
    runs: list[list[int]] = []
    for seq in seqs:
        if runs and seq == runs[-1][-1] + 1:
            runs[-1].append(seq)
        else:
            runs.append([seq])
    return runs


def _origin(e: _Entry, after: int, limit: int) -> int | None:
    """The sequence number `e` was written with, if it is a genuine entry numbered after `after` (or at its own)."""
    if e.seq > after and e.valid_at(e.seq):
        return e.seq
    for seq in range(after + 1, max(limit, e.seq + 1)):
        if e.valid_at(seq):
            return seq
    return None


def _against_exported(written: dict[int, tuple[int, str]], exported: ExportedHead,
                      findings: list[Finding]) -> list[Finding]:  # fmt: skip
    """The chain against a head exported earlier: the entry it named (by the number it was written with) must
    still be there, unchanged."""
    if exported.seq == 0:
        return []
    last = max(written, default=0)
    if exported.seq > last:
        if any(f.seq == last + 1 and f.problem.startswith("missing") for f in findings):
            return []  # already named
        return [Finding(last + 1, f"missing (cut back): the head exported earlier records {exported.seq} entries, "
                                  f"the log now ends at {last}")]  # fmt: skip
    seq, digest = written.get(exported.seq, (exported.seq, ""))
    if digest != exported.hash:
        return [Finding(seq, f"not the entry the exported head recorded ({exported.hash[:16]}): the log was "
                             "rewritten at or before it since the head was exported")]  # fmt: skip
    return []


# ------------------------------------------------------------------------------------------ bound rows


def _check_rows(session: Session, bindings: dict[str, tuple[int, str]],
                entries_lost: bool) -> tuple[int, list[Finding]]:  # fmt: skip
    """Each bound row against its own hash and against the hash its latest audit entry recorded (`entries_lost`:
    the chain lost entries, which may have been the ones recording a row)."""
    findings: list[Finding] = []
    count = 0
    for bound in BOUND:
        model: Any = bound.model
        for row in session.scalars(select(model).order_by(model.id).execution_options(yield_per=500)):
            count += 1
            recorded = bindings.pop(f"{bound.table}:{row.id}", None)
            digest = row_hash(bound, {f: getattr(row, f) for f in bound.fields})
            name = bound.name(row)
            if digest != row.content_hash:
                findings.append(Finding(None, "edited: its stored content does not match its hash", name))
            elif recorded is None:
                lost = " (or the entry that recorded it was deleted or edited)" if entries_lost else ""
                findings.append(Finding(None, f"inserted: no audit entry records it{lost}", name))
            elif recorded[1] != digest:
                findings.append(Finding(recorded[0], f"edited: its hash was recomputed, and is not the one audit "
                                                     f"entry {recorded[0]} recorded", name))  # fmt: skip
    nouns = {b.table: b.noun for b in BOUND}
    for key, (seq, _digest) in sorted(bindings.items(), key=lambda kv: kv[1][0]):
        table, _, row_id = key.partition(":")
        if table in nouns:
            findings.append(Finding(seq, f"deleted: audit entry {seq} recorded it, the store no longer has it",
                                    f"{nouns[table]} {row_id}"))  # fmt: skip
    return count, findings


# ------------------------------------------------------------------------------------------ verify


def verify_store(store: Store, *, exported: ExportedHead | None = None) -> VerifyReport:
    """Check the chain, its head (against `exported` too, if given) and every bound row."""
    key = audit_key(store.url)
    bindings: dict[str, tuple[int, str]] = {}
    with store.read() as session:
        head_row = session.get(AuditHead, 1)
        if head_row is None:
            return VerifyReport(0, 0, "", (Finding(0, "the audit head row is missing: the log was tampered with"),))
        head = _Head(head_row.seq, head_row.hash, head_row.mac or "")
        query = select(AuditEntry).order_by(AuditEntry.seq)
        streamed = (_Entry.of(r) for r in session.scalars(query.execution_options(yield_per=1000)))
        count, intact = _scan(streamed, head, key, bindings)
        findings = _head_findings(head, key, store.safe_url)
        written: dict[int, tuple[int, str]] = {}
        if not intact:
            bindings.clear()
            rows = [_Entry.of(r) for r in session.scalars(query)]
            findings += _diagnose(rows, head, key, bindings, written)
        elif exported is not None:
            written = {seq: (seq, digest) for seq, digest in session.execute(select(AuditEntry.seq, AuditEntry.hash))}
        if exported is not None:
            findings += _against_exported(written, exported, findings)
        lost = any(f.problem.startswith(("missing", "edited")) for f in findings)
        bound_rows, row_findings = _check_rows(session, bindings, lost)
    findings += row_findings
    return VerifyReport(entries=count, head_seq=head.seq, head_hash=head.hash, findings=tuple(findings),
                        keyed=key is not None and bool(head.mac), rows=bound_rows)  # fmt: skip


__all__ = ["ExportedHead", "Finding", "VerifyReport", "verify_store"]
