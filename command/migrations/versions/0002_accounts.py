"""Accounts and sign-off: per-source back-off of failed log-ins (`login_backoff`); the warnings a decider
acknowledged (`decisions.acknowledged_json`, `[]` for decisions made before).

Revision ID: 0002
Revises: 0001
Created: 2026-12-06 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import command.store

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_backoff",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", command.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("wait_until", command.store.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source", "subject"),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_json", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_json")
    op.drop_table("login_backoff")
