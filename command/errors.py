"""What the command layer refuses, as exceptions with one-line messages the CLI and the console show as is.

Every refusal leaves the store as it was (the transaction that found the problem is rolled back), except a
failed password, which is counted on purpose.
"""

from __future__ import annotations


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


class Infeasible(CommandError):
    """No plan can meet the constraints; the message is the diagnosis."""


class AuthFailed(CommandError):
    """Wrong user name or password, or an expired session."""


class AccountLocked(AuthFailed):
    """Too many failed logins: the account is locked until a given time."""


__all__ = [
    "AccountLocked",
    "AuthFailed",
    "BadInput",
    "CommandError",
    "Conflict",
    "Infeasible",
    "NotAuthorised",
    "NotFound",
    "Tampered",
]
