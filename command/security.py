"""Who is acting: passwords (argon2), log-in with back-off and lock-out counted in the store, expiring sessions,
roles.

Failed log-ins cannot be turned against the account's owner by one attacker:
- each attempt names its source (the CLI's user and host, the console's client; `DEFAULT_SOURCE` for the
  Python API). A source may fail `source_free_failures` times under one name; then it must wait
  `source_backoff`, doubling with each further failure up to `source_backoff_max`, and an attempt made while it
  waits is refused whatever the password (the refusal tells nothing of it). Its failures are forgotten after
  `source_forget` without one, or at its success;
- the account locks (for `lockout`) only after `max_failed_logins` failures that come from at least
  `lock_min_sources` sources; the lock-out ends the account's open sessions for good. An admin over the
  account's jurisdiction can unlock it at once (`command.users.unlock_user`, audited);
- every refusal says what it is: how many tries this source has left before it must wait (`AuthFailed
  .attempts_left`, for a UI's warning), how long it must wait (`LoginThrottled`), or that the account is now
  locked and until when (`AccountLocked`). Names that are no account's share one counter per source.

The lock-out and the back-off live in the store (`users`, `login_backoff`), so they hold across restarts and
processes. A failed password is committed before the refusal is raised; everything else a refusal touches is
rolled back. Every log-in, failed log-in and refusal (by lock-out or back-off: `login_locked`) is audited.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from command import audit
from command.errors import AccountLocked, AuthFailed, BadInput, LoginThrottled, NotAuthorised, Tampered
from command.store import ROLES, Jurisdiction, LoginBackoff, LoginSession, Store, User


@dataclass(frozen=True)
class SecurityPolicy:
    """Log-in and session rules, and the argon2 cost (RFC 9106's second recommended profile by default)."""

    max_failed_logins: int = 5
    lockout: timedelta = timedelta(minutes=15)
    #: An account locks only when its failures come from at least this many sources (one source only waits).
    lock_min_sources: int = 2
    #: Failures a source may make under one name before it must wait; the wait doubles with each further one.
    source_free_failures: int = 3
    source_backoff: timedelta = timedelta(seconds=30)
    source_backoff_max: timedelta = timedelta(minutes=15)
    #: A source's failures are forgotten after this long without one.
    source_forget: timedelta = timedelta(hours=1)
    session_idle: timedelta = timedelta(minutes=30)
    session_max: timedelta = timedelta(hours=12)
    min_password_length: int = 10
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.argon2_time_cost, memory_cost=self.argon2_memory_kib,
                              parallelism=self.argon2_parallelism)  # fmt: skip


DEFAULT_POLICY = SecurityPolicy()

#: What each role may do. Deciding on a plan also needs the incident's current authority grant.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"users.manage", "grants.manage", "incident.open", "incident.close", "incident.read",
                        "audit.verify", "export", "personal.read"}),
    "planner": frozenset({"incident.open", "incident.read", "plan.propose", "run", "incident.advance", "export"}),
    "commander": frozenset({"incident.read", "plan.propose", "plan.decide", "run", "incident.advance",
                            "incident.close", "export"}),
    "observer": frozenset({"incident.read"}),
}  # fmt: skip

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")


@dataclass(frozen=True)
class Actor:
    """An authenticated user, as the command functions see them."""

    id: int
    username: str
    role: str
    jurisdiction_id: int
    jurisdiction: str
    demo: bool = False

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def require(self, permission: str, what: str) -> None:
        if not self.can(permission):
            raise NotAuthorised(f"{self.username} ({self.role}) may not {what}")


def policy_of(store: Store) -> SecurityPolicy:
    policy = getattr(store, "policy", None)
    return policy if isinstance(policy, SecurityPolicy) else DEFAULT_POLICY


#: What the audit chain records instead of a log-in name that is no account's.
UNKNOWN_USER = "(unknown user)"
#: The password every account of a DEMO store shares (published in the README): never a real account's.
PUBLISHED_DEMO_PASSWORD = "yiwang-demo-only"


def check_password_strength(password: str, policy: SecurityPolicy, *, username: str = "") -> None:
    if password == PUBLISHED_DEMO_PASSWORD:
        raise BadInput("password: the demo stores' published password cannot be a real account's")
    if len(password) < policy.min_password_length:
        raise BadInput(f"password: must be at least {policy.min_password_length} characters")
    if username and username.lower() in password.lower():
        raise BadInput("password: must not contain the user name")


def hash_password(password: str, policy: SecurityPolicy = DEFAULT_POLICY) -> str:
    return policy.hasher().hash(password)


def _actor(session: Session, user: User) -> Actor:
    """The actor a user row makes, refused (`Tampered`) if the row was changed outside Yiwang (its role,
    jurisdiction or active flag no longer match its content hash: `command.audit.intact`)."""
    wrong = audit.intact(user)
    if wrong is not None:
        raise Tampered(f"{wrong}; refused until the store's administrator has looked (`yiwang audit verify`)")
    code = session.get(Jurisdiction, user.jurisdiction_id)
    return Actor(user.id, user.username, user.role, user.jurisdiction_id, code.code if code else "?", user.demo)


def _check_secret(policy: SecurityPolicy, user: User | None, password: str) -> bool:
    hasher = policy.hasher()
    if user is None:
        # Spend the same time as for a real user so that timing does not tell which names exist.
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_DUMMY_HASH.get(policy), password)
        return False
    try:
        return hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class _DummyHashes:
    def __init__(self) -> None:
        self._by_policy: dict[SecurityPolicy, str] = {}

    def get(self, policy: SecurityPolicy) -> str:
        if policy == DEFAULT_POLICY:  # a fixed hash of a random string: no cost at the first unknown name
            return _DEFAULT_DUMMY
        if policy not in self._by_policy:
            self._by_policy[policy] = policy.hasher().hash(secrets.token_hex(16))
        return self._by_policy[policy]


#: argon2id (default cost) of a random string nobody kept: what an unknown user name is checked against.
_DEFAULT_DUMMY = "$argon2id$v=19$m=65536,t=3,p=4$ikI3HKl658Up6I9zBk+MAA$qHMHLpCIEGYpWaPQuyIxt+dtGoXh5Lkdshz2mYuGqL0"
_DUMMY_HASH = _DummyHashes()


#: The source of a log-in that names none (a script calling the Python API).
DEFAULT_SOURCE = "api"


def _backoff_row(session: Session, policy: SecurityPolicy, source: str, subject: str,
                 now: datetime) -> LoginBackoff:  # fmt: skip
    """The failures from `source` under `subject` (a new row, not yet added, when there are none); forgotten after
    `source_forget` without a failure."""
    row = session.get(LoginBackoff, (source, subject))
    if row is None:
        row = LoginBackoff(source=source, subject=subject, failures=0, last_failure_at=now, wait_until=None)
    elif now - row.last_failure_at > policy.source_forget:
        row.failures, row.wait_until = 0, None
    return row


def _failing_sources(session: Session, policy: SecurityPolicy, subject: str, now: datetime) -> int:
    """How many sources have failed under this name lately (the account locks only when several have)."""
    since = now - policy.source_forget
    recent = select(LoginBackoff.source).where(LoginBackoff.subject == subject, LoginBackoff.failures > 0,
                                               LoginBackoff.last_failure_at >= since)  # fmt: skip
    return len(session.scalars(recent).all())


def _wait(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def authenticate(store: Store, username: str, password: str, *, purpose: str = "login",
                 source: str | None = None) -> Actor:  # fmt: skip
    """Check a user name and password; back off a source that keeps failing; lock an account only when failures
    come from several sources.

    The (deliberately slow) hash is checked before the writers' lock is taken, against the hash read then;
    the outcome is recorded under the lock, re-reading the row so that a lock-out set meanwhile still holds.
    `purpose` says why (a log-in, a CLI command, re-entry to approve a plan); it goes into the audit entry.
    `source` says where the attempt comes from (the CLI's user and host, the console's client); see the module
    docstring for the back-off and the lock-out, and `AuthFailed.attempts_left` for the warning a UI can show.
    """
    policy = policy_of(store)
    where = (source or DEFAULT_SOURCE)[:200]
    with store.read() as session:
        seen = session.scalars(select(User).where(User.username == username)).first()
        seen_hash = seen.password_hash if seen is not None else None
        waits = session.get(LoginBackoff, (where, (username if seen is not None else UNKNOWN_USER)[:64]))
        waiting = waits is not None and waits.wait_until is not None and waits.wait_until > store.now()
    # Unknown users are checked against a dummy hash, so that timing does not tell which names exist. A source that
    # must wait costs no hash at all: its attempt is refused whatever the password.
    secret_ok = None if waiting else _check_secret(policy, seen, password)
    failure: AuthFailed | Tampered | None = None
    actor: Actor | None = None
    with store.write() as session:
        now = store.now()
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is not None and user.password_hash != seen_hash and secret_ok is not None:
            secret_ok = _check_secret(policy, user, password)  # changed meanwhile: check against the new one
        # A name that is no account's is not written down: people type their password into the name field.
        name = username if user is not None else UNKNOWN_USER
        backoff = _backoff_row(session, policy, where, name[:64], now)
        is_locked = user is not None and user.locked_until is not None and user.locked_until > now
        is_waiting = backoff.wait_until is not None and backoff.wait_until > now
        if secret_ok is None and not (is_locked or is_waiting):  # the wait ended since the read (rare): check now
            secret_ok = _check_secret(policy, user, password)
        if is_locked:
            assert user is not None and user.locked_until is not None
            audit.append(session, at=now, actor=username, action="login_locked", subject=username,
                         details={"purpose": purpose, "source": where,
                                  "locked_until": user.locked_until.isoformat()})  # fmt: skip
            failure = AccountLocked(f"account {username!r} is locked until "
                                    f"{user.locked_until:%Y-%m-%d %H:%M:%S} UTC after repeated failed logins; "
                                    "an admin can unlock it (yiwang users unlock)",
                                    locked_until=user.locked_until)  # fmt: skip
        elif is_waiting:
            assert backoff.wait_until is not None
            # Refused whatever the password, so a source cannot guess faster by ignoring the wait.
            audit.append(session, at=now, actor=name[:64], action="login_locked", subject=name[:200],
                         details={"purpose": purpose, "source": where,
                                  "wait_until": backoff.wait_until.isoformat()})  # fmt: skip
            left = (backoff.wait_until - now).total_seconds()
            failure = LoginThrottled(f"too many failed log-ins from this source ({where}); wait {_wait(left)} "
                                     "before trying again", wait_s=left)  # fmt: skip
        elif not secret_ok or user is None or not user.active:
            details: dict[str, object] = {"purpose": purpose, "source": where}
            session.add(backoff)
            backoff.failures += 1
            backoff.last_failure_at = now
            over = backoff.failures - policy.source_free_failures
            wait_s = None
            if over >= 0:
                wait_s = min(policy.source_backoff.total_seconds() * 2**over, policy.source_backoff_max.total_seconds())
                backoff.wait_until = now + timedelta(seconds=wait_s)
                details["wait_until"] = backoff.wait_until.isoformat()
            locked = False
            if user is not None and user.active:
                user.failed_logins += 1
                details["failed_logins"] = user.failed_logins
                sources = _failing_sources(session, policy, username, now)
                if user.failed_logins >= policy.max_failed_logins and sources >= policy.lock_min_sources:
                    user.locked_until = now + policy.lockout
                    user.failed_logins = 0
                    details["locked_until"] = user.locked_until.isoformat()
                    details["failing_sources"] = sources
                    details["sessions_ended"] = end_sessions_of(session, user.id, now)
                    locked = True
            elif user is None:
                details["unknown_user"] = True
            audit.append(session, at=now, actor=name[:64], action="login_failed", subject=name[:200],
                         details=details)  # fmt: skip
            # A disabled account is named only to someone who knows its password.
            disabled = user is not None and not user.active and secret_ok
            said = f"account {username!r} is disabled" if disabled else "wrong user name or password"
            left_here = max(0, policy.source_free_failures - backoff.failures)
            if locked:
                assert user is not None and user.locked_until is not None
                failure = AccountLocked(f"{said}; account {username!r} is now locked until "
                                        f"{user.locked_until:%Y-%m-%d %H:%M:%S} UTC (failed log-ins from "
                                        f"{details['failing_sources']} sources); an admin can unlock it",
                                        locked_until=user.locked_until)  # fmt: skip
            elif wait_s is not None:
                failure = AuthFailed(f"{said}; this source must now wait {_wait(wait_s)} before the next attempt",
                                     attempts_left=0, wait_s=wait_s)  # fmt: skip
            else:
                failure = AuthFailed(f"{said} ({left_here} more {'try' if left_here == 1 else 'tries'} from this "
                                     "source before it must wait)", attempts_left=left_here)  # fmt: skip
        else:
            user.failed_logins = 0
            user.locked_until = None
            if inspect(backoff).persistent:  # a success forgets this source's failures under this name
                session.delete(backoff)
            if policy.hasher().check_needs_rehash(user.password_hash):
                user.password_hash = hash_password(password, policy)
            wrong = audit.intact(user)
            if wrong is not None:  # recorded, and refused (after this write commits the record)
                audit.append(session, at=now, actor=username, action="tamper_detected", subject=username,
                             details={"what": wrong, "purpose": purpose, "source": where})  # fmt: skip
                failure = Tampered(f"{wrong}; log-in refused until the store's administrator has looked "
                                   "(`yiwang audit verify`)")  # fmt: skip
            else:
                audit.append(session, at=now, actor=username, action="login", subject=username,
                             details={"purpose": purpose, "source": where})  # fmt: skip
                actor = _actor(session, user)
    if failure is not None:
        raise failure
    assert actor is not None
    return actor


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, actor: Actor) -> str:
    """A new session token for an authenticated user (only its hash is stored)."""
    policy = policy_of(store)
    token = secrets.token_urlsafe(32)
    with store.write() as session:
        now = store.now()
        session.add(LoginSession(token_hash=_token_hash(token), user_id=actor.id, created_at=now,
                                 last_seen_at=now, expires_at=now + policy.session_max))  # fmt: skip
    return token


def end_sessions_of(session: Session, user_id: int, now: datetime) -> int:
    """End every open session of a user for good (a lock-out, a disable, a password change or reset); how many."""
    rows = session.scalars(select(LoginSession).where(LoginSession.user_id == user_id,
                                                      LoginSession.ended_at.is_(None))).all()  # fmt: skip
    for row in rows:
        row.ended_at = now
    return len(rows)


def resume_session(store: Store, token: str) -> Actor:
    """The user behind a live session token; refused when ended, idle too long, past its limit, or locked.

    A session that meets a locked or disabled account ends for good, as a lock-out or a disable ends every open
    session when it happens: waiting out the lock-out or being enabled again never brings an old token back."""
    policy = policy_of(store)
    with store.write() as session:
        now = store.now()
        row = session.get(LoginSession, _token_hash(token)) if token else None
        if row is None or row.ended_at is not None:
            raise AuthFailed("not logged in (no such session)")
        user = session.get(User, row.user_id)
        timed_out = now >= row.expires_at or now - row.last_seen_at > policy.session_idle
        barred = user is None or not user.active or (user.locked_until is not None and user.locked_until > now)
        if timed_out or barred:
            row.ended_at = now
        else:
            row.last_seen_at = now
        actor = None if timed_out or barred or user is None else _actor(session, user)
    if actor is None:
        raise AuthFailed("session expired; log in again")
    return actor


def end_session(store: Store, token: str) -> None:
    with store.write() as session:
        row = session.get(LoginSession, _token_hash(token))
        if row is not None and row.ended_at is None:
            row.ended_at = store.now()
            user = session.get(User, row.user_id)
            audit.append(session, at=store.now(), actor=user.username if user else "?", action="logout",
                         subject=user.username if user else "")  # fmt: skip


def require_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"role: {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise BadInput(f"user name {username!r}: use 2-64 lower-case letters, digits, '.', '_' or '-', "
                       "starting with a letter")  # fmt: skip
    return username


# ------------------------------------------------------------------------------------------ masking


def mask_name(name: str) -> str:
    """Keep the first character (a Chinese family name, or an initial): `张伟` -> `张*`, `Li Ming` -> `L******`."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    """Keep the first three and last two digits: `13812345678` -> `138******78`."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 5:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_SOURCE",
    "PERMISSIONS",
    "Actor",
    "SecurityPolicy",
    "authenticate",
    "check_password_strength",
    "check_username",
    "end_session",
    "end_sessions_of",
    "hash_password",
    "mask_name",
    "mask_phone",
    "policy_of",
    "require_role",
    "resume_session",
    "start_session",
]
