"""A reload keeps the session: the session token in an httpOnly cookie, set and cleared by two routes of the
console's own web server (`command.console.server`), never readable by the page's scripts.

The token is made on the server when the user signs in (`command.security.start_session`); the page never sees
it. It gets a one-time ticket instead, valid for `TICKET_TTL_S` seconds, which a small script of the page posts
to `/yiwang/session`; the route swaps it for the token and answers with the cookie. A new browser session (a
reload, a shared link opened in the same browser) then finds the cookie in its request (`st.context.cookies`)
and resumes the session on the server (`resume_session`, which checks expiry, idleness, lock-out and that the
account is active). Signing out ends the session on the server first, so a cookie left behind opens nothing.
"""

from __future__ import annotations

import secrets
import threading
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COOKIE = "yiwang_session"
TICKET_TTL_S = 60.0
SESSION_PATH = "/yiwang/session"
SIGNOUT_PATH = "/yiwang/signout"

_tickets: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def issue_ticket(token: str, *, now: float | None = None) -> str:
    """A one-time ticket for a session token (expired ones are dropped on the way)."""
    now = time.monotonic() if now is None else now
    ticket = secrets.token_urlsafe(24)
    with _lock:
        for old in [k for k, (_, until) in _tickets.items() if until < now]:
            del _tickets[old]
        _tickets[ticket] = (token, now + TICKET_TTL_S)
    return ticket


def redeem(ticket: str, *, now: float | None = None) -> str | None:
    """The token a ticket stands for, once, while it is valid; None otherwise."""
    now = time.monotonic() if now is None else now
    with _lock:
        token, until = _tickets.pop(ticket, ("", 0.0))
    return token if token and until >= now else None


async def _set_session(request: Request) -> Response:
    token = redeem((await request.body()).decode("ascii", errors="replace").strip())
    if token is None:
        return Response(status_code=403)
    response = Response(status_code=204)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


async def _clear_session(request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    """The two routes: swap a ticket for the cookie; clear the cookie."""
    return [Route(SESSION_PATH, _set_session, methods=["POST"]), Route(SIGNOUT_PATH, _clear_session, methods=["POST"])]


def set_script(ticket: str) -> str:
    """The page's script that posts a ticket for the cookie (the ticket is URL-safe base64: nothing to escape)."""
    assert all(c.isalnum() or c in "-_" for c in ticket)
    post = f'{{method: "POST", body: "{ticket}", credentials: "same-origin"}}'
    return f'<script>fetch("{SESSION_PATH}", {post});</script>'


def clear_script() -> str:
    return f'<script>fetch("{SIGNOUT_PATH}", {{method: "POST", credentials: "same-origin"}});</script>'


__all__ = ["COOKIE", "clear_script", "issue_ticket", "redeem", "routes", "set_script"]
