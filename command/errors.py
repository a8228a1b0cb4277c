"""What the command layer refuses, as exceptions with one-line messages the CLI and the console show as is.

Every refusal leaves the store as it was (the transaction that found the problem is rolled back), except a
failed password, which is counted on purpose.
"""

from __future__ import annotations

from datetime import datetime


class CommandError(Exception):
    """Base: a refusal with a one-line reason naming what is wrong and where."""


class BadInput(CommandError):
    """A value is malformed or out of range."""


class NotFound(CommandError):
    """The thing does not exist, or is outside the user's jurisdiction (the two are not told apart)."""


class NotAuthorised(CommandError):
    """The user's role or authority does not allow this."""


class Conflict(CommandError):
    """The thing changed since it was shown, or is in a state that does not allow this (e.g. already decided)."""


class Tampered(Conflict):
    """Stored content does not match the digest it was stored with: it was changed outside Yiwang."""


class Unacknowledged(Conflict):
    """A plan with warnings was approved without acknowledging each; `warnings` are the ones left (a UI lists
    them: `command.plans.PlanWarning`)."""

    def __init__(self, message: str, *, warnings: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.warnings = warnings


class Infeasible(CommandError):
    """No plan can meet the constraints; the message is the diagnosis."""


class AuthFailed(CommandError):
    """Wrong user name or password, or an expired session.

    After a wrong password, `attempts_left` is how many more this source may make before it must wait (a UI
    warns with it), and `wait_s` how long it must wait when it must."""

    def __init__(self, message: str, *, attempts_left: int | None = None, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left
        self.wait_s = wait_s


class AccountLocked(AuthFailed):
    """Too many failed logins, from several sources: the account is locked until `locked_until` (or an unlock)."""

    def __init__(self, message: str, *, locked_until: datetime | None = None) -> None:
        super().__init__(message, attempts_left=0)
        self.locked_until = locked_until


class LoginThrottled(AuthFailed):
    """Too many failed logins from one source: it must wait `wait_s` seconds (the account is not locked)."""

    def __init__(self, message: str, *, wait_s: float) -> None:
        super().__init__(message, attempts_left=0, wait_s=wait_s)


__all__ = [
    "AccountLocked",
    "AuthFailed",
    "BadInput",
    "CommandError",
    "Conflict",
    "Infeasible",
    "LoginThrottled",
    "NotAuthorised",
    "NotFound",
    "Tampered",
    "Unacknowledged",
]
