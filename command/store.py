"""The store: SQLAlchemy 2 models over SQLite (one file, WAL) by default, PostgreSQL by URL.

Every write goes through `Store.write()`, which serialises writers: on SQLite with `BEGIN IMMEDIATE`, on
PostgreSQL by locking the single audit-head row first. Every change of consequence appends an audit entry in
the same transaction (see `command.audit`), so a change and its trace commit together or not at all, and the
audit chain never forks. The scale this serves (an operations centre's decisions, not a click stream) makes a
single writer at a time the right trade: the race rules below become easy to state and to test.

Timestamps are timezone-aware UTC in Python; the clock is injected (`Store(url, clock=...)`) so that tests
can move time to expire sessions, lock-outs and grants.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DATABASE_URL_ENV = "YIWANG_DATABASE_URL"
DEFAULT_SQLITE_FILE = "yiwang.db"

ROLES = ("admin", "planner", "commander", "observer")
PLAN_STATUSES = ("draft", "proposed", "approved", "rejected", "active", "superseded", "completed", "withdrawn")
INCIDENT_PHASES = ("intake", "dispatch", "handling", "supervision", "evaluation", "archive")


class StoreError(Exception):
    """The store cannot be opened or is not at the expected schema; the message says what to do."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on every backend (SQLite keeps no zone: values are stored as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class Jurisdiction(Base):
    """A city, district or neighbourhood; users see the incidents of their jurisdiction and those below it."""

    __tablename__ = "jurisdictions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))


class User(Base):
    """A person who logs in; personal fields (display name, phone) are masked for those who do not need them."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    role: Mapped[str] = mapped_column(String(16))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # bound to the audit chain (command.audit)


class LoginSession(Base):
    """A logged-in session: only the token's hash is stored; it expires when idle and at an absolute limit."""

    __tablename__ = "login_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class LoginBackoff(Base):
    """Failed log-ins from one source (a CLI user and host, a console client) under one name (or under "(unknown
    user)" for every name that is no account's): past a few, the source waits longer after each failure."""

    __tablename__ = "login_backoff"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime]
    wait_until: Mapped[datetime | None]


class Incident(Base):
    """An incident opened from a scenario: the exact scenario document it runs on, and where the loop is."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    scenario_name: Mapped[str] = mapped_column(String(64))
    scenario_json: Mapped[str] = mapped_column(Text)
    scenario_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(BigInteger)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    phase: Mapped[str] = mapped_column(String(16), default="intake")
    exercise: Mapped[bool] = mapped_column(Boolean, default=False)
    sim_time_s: Mapped[float] = mapped_column(Float, default=0.0)
    needs_replan: Mapped[str] = mapped_column(String(400), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class OperationalPeriod(Base):
    """An incident action plan's period, in simulated seconds after the scenario's start."""

    __tablename__ = "operational_periods"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    number: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)


class AuthorityGrant(Base):
    """Command of one incident delegated to one user for a period, within limits (resources, jurisdictions)."""

    __tablename__ = "authority_grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    limits_json: Mapped[str] = mapped_column(Text, default="{}")
    reason: Mapped[str] = mapped_column(String(400), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # bound to the audit chain (command.audit)


class PlanRecord(Base):
    """A plan of an incident through its lifecycle; its content lives in versions."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    number: Mapped[int] = mapped_column(Integer)
    period_number: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlanVersion(Base):
    """One version of a plan: the plan JSON, what it was made from, the solver's word and the forecasts."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    version: Mapped[int] = mapped_column(Integer)
    plan_json: Mapped[str] = mapped_column(Text)
    plan_digest: Mapped[str] = mapped_column(String(64))
    scenario_hash: Mapped[str] = mapped_column(String(64))
    state_time_s: Mapped[float] = mapped_column(Float, default=0.0)
    state_hash: Mapped[str] = mapped_column(String(64), default="")
    solver_json: Mapped[str] = mapped_column(Text, default="{}")
    forecast_json: Mapped[str] = mapped_column(Text, default="{}")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # bound to the audit chain (command.audit)


class Decision(Base):
    """An approval or rejection, with exactly what the decider was shown and the warnings they acknowledged."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grant_id: Mapped[int] = mapped_column(ForeignKey("authority_grants.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    shown_json: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # bound to the audit chain (command.audit)
    #: The plan's warnings the decider acknowledged, one by one (`command.plans.PlanWarning.to_json`).
    acknowledged_json: Mapped[str] = mapped_column(Text, default="[]")


class RosterMember(Base):
    """A person on an incident's staff roster (personal fields are masked for roles that do not need them)."""

    __tablename__ = "roster"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    team: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    role: Mapped[str] = mapped_column(String(64), default="member")


class ActivityEntry(Base):
    """The incident's activity log (ICS 214): what happened, when on the wall and in the simulation, by whom."""

    __tablename__ = "activity_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    sim_s: Mapped[float | None] = mapped_column(Float)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class AlertAck(Base):
    """One user's acknowledgement of one of an incident's alerts (`command.alerts`): who, which alert, when on the
    wall and on the incident clock. An alert acknowledged is no longer new for that user; others still see it."""

    __tablename__ = "alert_acks"
    __table_args__ = (UniqueConstraint("incident_id", "user_id", "alert_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    alert_key: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime]
    sim_s: Mapped[float] = mapped_column(Float, default=0.0)
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # bound to the audit chain (command.audit)


class AuditEntry(Base):
    """One link of the append-only, hash-chained audit log (columns hashed exactly as stored)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    incident_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64), default="")  # HMAC of the hash under the audit key, if keyed


class AuditHead(Base):
    """The chain's head (one row): the last sequence number and hash, and the writers' lock."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64), default="")  # HMAC of seq and hash under the audit key, if keyed


GENESIS_HASH = "0" * 64


def utcnow() -> datetime:
    return datetime.now(UTC)


def default_url() -> str:
    """`YIWANG_DATABASE_URL` if set, else a SQLite file `yiwang.db` in the current folder."""
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{DEFAULT_SQLITE_FILE}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the database's write lock when they begin, so two writers never interleave.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("yiwang_write") else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for a store URL, with SQLite set up for WAL, foreign keys and serialised writers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url!r} is not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            folder = Path(db).expanduser().resolve().parent
            if not folder.is_dir():
                raise StoreError(f"{url}: folder {folder} does not exist")
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise StoreError(f"{url}: unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql")


class Store:
    """The store behind the CLI and the console: an engine, a session factory and the clock."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], datetime] = utcnow, policy: Any = None) -> None:
        self.url = url or default_url()
        self.policy = policy  # a command.security.SecurityPolicy; None for the default
        self.engine = make_engine(self.url)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(yiwang_write=True), expire_on_commit=False)
        self.clock = clock

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock must return aware datetimes")
        return now.astimezone(UTC)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (rolled back at the end; the rows it loaded stay readable, detached)."""
        with self._reader() as session:
            try:
                yield session
            finally:
                session.expunge_all()
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction holding the writers' lock; commits on success, rolls back on any error."""
        with self._writer() as session, session.begin():
            # On PostgreSQL the head row is the writers' lock; on SQLite BEGIN IMMEDIATE already holds it.
            try:
                head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
            except DBAPIError:
                if self.is_initialised():
                    raise
                head = None
            if head is None:
                raise StoreError(f"{self.safe_url}: the store is not initialised; run `yiwang init` first")
            yield session

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def is_initialised(self) -> bool:
        from sqlalchemy import inspect

        return inspect(self.engine).has_table("audit_head")

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = [
    "GENESIS_HASH",
    "INCIDENT_PHASES",
    "PLAN_STATUSES",
    "ROLES",
    "ActivityEntry",
    "AlertAck",
    "AuditEntry",
    "AuditHead",
    "AuthorityGrant",
    "Base",
    "Decision",
    "Incident",
    "Jurisdiction",
    "LoginBackoff",
    "LoginSession",
    "OperationalPeriod",
    "PlanRecord",
    "PlanVersion",
    "RosterMember",
    "Store",
    "StoreError",
    "User",
    "default_url",
    "make_engine",
    "utcnow",
]
