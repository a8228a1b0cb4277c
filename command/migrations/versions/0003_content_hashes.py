"""Content hashes and the keyed chain: users, authority grants, plan versions and decisions carry a content hash
bound to the audit chain; audit entries and the head carry an HMAC under the audit key (empty when unkeyed).

Rows that exist when a store is upgraded are hashed as they are, and one audit entry (`rows_bound`) records their
hashes, so that `yiwang audit verify` checks them from then on (MAC'd if an audit key is configured).

Revision ID: 0003
Revises: 0002
Created: 2026-12-06 18:40:00
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

HASHED = ("users", "authority_grants", "plan_versions", "decisions")


def upgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite adds and drops a column in place: no table copy, which its foreign
    # keys would refuse on a populated store).
    for table in HASHED:
        op.add_column(table, sa.Column("content_hash", sa.String(length=64), nullable=False, server_default=""))
    for table in ("audit_log", "audit_head"):
        op.add_column(table, sa.Column("mac", sa.String(length=64), nullable=False, server_default=""))
    _bind_existing_rows()


def _bind_existing_rows() -> None:
    """Hash the rows already there and record their hashes in one audit entry."""
    from sqlalchemy.orm import Session

    from command import audit_hashes as audit
    from command.store import GENESIS_HASH, AuditHead

    conn = op.get_bind()
    rows: dict[str, str] = {}
    with Session(bind=conn) as session:
        for bound in audit.BOUND:
            if bound.table not in HASHED:  # a table a later revision makes (and binds) is not there yet
                continue
            model: Any = bound.model.__table__
            # The hashed columns only, not the model: a column a later revision adds is not there yet.
            for row in session.execute(sa.select(*(model.c[f] for f in bound.fields))).mappings():
                digest = audit.row_hash(bound, dict(row))
                conn.execute(sa.update(model).where(model.c.id == row["id"]).values(content_hash=digest))
                rows[f"{bound.table}:{row['id']}"] = digest
        head = session.get(AuditHead, 1)
        head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    if not rows:
        return
    key = audit.audit_key(conn.engine.url.render_as_string(hide_password=False))
    seq, at = head_seq + 1, datetime.now(UTC).isoformat(timespec="microseconds")
    details = audit.canonical({"migration": revision, "rows": rows})
    digest = audit.entry_hash(seq=seq, at=at, actor="system", action="rows_bound", incident_id=None,
                              subject=f"migration {revision}", details=details, prev_hash=head_hash)  # fmt: skip
    log = sa.table("audit_log", *(sa.column(c) for c in ("seq", "at", "actor", "action", "incident_id", "subject",
                                                         "details", "prev_hash", "hash", "mac")))  # fmt: skip
    conn.execute(log.insert().values(seq=seq, at=at, actor="system", action="rows_bound", incident_id=None,
                                     subject=f"migration {revision}", details=details, prev_hash=head_hash,
                                     hash=digest, mac=audit.entry_mac(key, digest) if key else ""))  # fmt: skip
    head_table = sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"), sa.column("mac"))
    conn.execute(head_table.update().where(head_table.c.id == 1)
                 .values(seq=seq, hash=digest, mac=audit.head_mac(key, seq, digest) if key else ""))  # fmt: skip


def downgrade() -> None:
    for table in ("audit_head", "audit_log"):
        op.drop_column(table, "mac")
    for table in HASHED:
        op.drop_column(table, "content_hash")
