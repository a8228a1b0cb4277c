"""The audit chain's hashes and keys: how an entry is hashed and MAC'd, where the audit key comes from, and which
rows are bound to the chain (with the fields their content hash covers).

Both the writer (`command.audit`) and the verifier (`command.audit_verify`) rest on these, and nothing else.
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

from sqlalchemy import Float
from sqlalchemy.engine import make_url

from command.store import AlertAck, AuthorityGrant, Base, Decision, PlanVersion, StoreError, User

AUDIT_KEY_ENV = "YIWANG_AUDIT_KEY"
AUDIT_KEY_FILE_ENV = "YIWANG_AUDIT_KEY_FILE"
#: The key file made beside a SQLite demo store at `yiwang init --demo`: `<database file>.audit-key`.
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


def make_sidecar(url: str) -> bytes | None:
    """A new random key in a file beside a new SQLite store, readable by its owner only."""
    side = sidecar_path(url)
    if side is None:
        return None
    key = secrets.token_bytes(MIN_KEY_BYTES)
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    return key


def missing_key_message(url: str) -> str:
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
                                      "shown_json", "decided_at", "acknowledged_json"),
               lambda r: f"decision {r.id} of plan {r.plan_id}"),
    BoundTable(AlertAck, "alert acknowledgement", ("id", "incident_id", "user_id", "alert_key", "acknowledged_at",
                                                   "sim_s"),
               lambda r: f"alert acknowledgement {r.id} of incident {r.incident_id}"),
)  # fmt: skip

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


__all__ = [
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE_ENV",
    "BOUND",
    "MIN_KEY_BYTES",
    "SIDECAR_SUFFIX",
    "BoundTable",
    "audit_key",
    "canonical",
    "entry_hash",
    "entry_mac",
    "head_mac",
    "make_sidecar",
    "missing_key_message",
    "row_hash",
    "sidecar_path",
]
