"""The console's link to the store: the cached store, the signed-in user, the language.

The user is never taken from what the browser's session state says about them: every rerun resolves the
session token against the store (`resume_session`), which checks expiry, lock-out and that the account is
still active, and every action re-checks authority on the server side with that identity. A new browser session
(a reload, a link opened) takes the token from the httpOnly cookie `command.console.cookies` sets after sign-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from command.console import cookies
from command.console.i18n import DEFAULT_LANGUAGE, t
from command.errors import AuthFailed
from command.migrate import check_current
from command.security import Actor, authenticate, end_session, resume_session, start_session
from command.store import Store, StoreError, default_url

TOKEN = "yiwang_token"
LANG = "yiwang_lang"


@st.cache_resource(show_spinner=False)
def _store_for(url: str) -> Store:
    store = Store(url)
    database = store.engine.url.database
    if store.backend == "sqlite" and database not in (None, "", ":memory:") and not Path(database).is_file():
        raise StoreError(f"{store.safe_url}: no Yiwang store here; run `yiwang init` (or `yiwang init --demo`)")
    check_current(store)
    return store


def store() -> Store:
    """The store named by YIWANG_DATABASE_URL (or ./yiwang.db), opened once per server process."""
    return _store_for(default_url())


def lang() -> str:
    return str(st.session_state.get(LANG, DEFAULT_LANGUAGE))


def tr(key: str, **values: Any) -> str:
    """Interface text in the user's language."""
    return t(key, lang(), **values)


COOKIE_SCRIPT = "yiwang_cookie_script"


def _from_cookie() -> str | None:
    """The session token in the browser's cookie, when this browser session has none yet and it still opens a
    live session (a dead one is cleared, without an "expired" message: it was not this page's session)."""
    if st.session_state.get("yiwang_signed_out"):
        return None
    try:
        token = st.context.cookies.get(cookies.COOKIE)
    except Exception:  # no request behind this run (a test harness)
        return None
    if not token:
        return None
    try:
        resume_session(store(), str(token))
    except AuthFailed:
        st.session_state[COOKIE_SCRIPT] = cookies.clear_script()
        return None
    st.session_state[TOKEN] = str(token)
    return str(token)


def cookie_script() -> str | None:
    """The script this run must put on the page to set or clear the session cookie, once."""
    return st.session_state.pop(COOKIE_SCRIPT, None)


def current_actor() -> Actor | None:
    """The signed-in user, resolved from the session token by the store; None when signed out or expired."""
    token = st.session_state.get(TOKEN) or _from_cookie()
    if not token:
        return None
    try:
        return resume_session(store(), str(token))
    except AuthFailed:
        st.session_state.pop(TOKEN, None)
        st.session_state["yiwang_expired"] = True
        return None


def current_token() -> str:
    return str(st.session_state.get(TOKEN, ""))


def client_source() -> str:
    """Where a log-in or a decision comes from, for the store's per-source back-off of wrong passwords: the
    console and the browser's address as the server sees it (`console` alone where it cannot tell)."""
    try:
        ip = st.context.ip_address
    except Exception:  # outside a browser session (AppTest, bare mode)
        ip = None
    return f"console:{ip}" if isinstance(ip, str) and ip else "console"


def sign_in(username: str, password: str) -> Actor:
    actor = authenticate(store(), username, password, purpose="console", source=client_source())
    token = start_session(store(), actor)
    st.session_state[TOKEN] = token
    st.session_state[COOKIE_SCRIPT] = cookies.set_script(cookies.issue_ticket(token))
    st.session_state.pop("yiwang_expired", None)
    st.session_state.pop("yiwang_signed_out", None)
    return actor


def sign_out() -> None:
    token = st.session_state.pop(TOKEN, None)
    if token:
        end_session(store(), str(token))
    for key in list(st.session_state):
        if key != LANG:
            del st.session_state[key]
    st.session_state[COOKIE_SCRIPT] = cookies.clear_script()
    st.session_state["yiwang_signed_out"] = True  # this tab does not pick the cookie up again before it is cleared


def actor_for_action() -> Actor:
    """The identity an action runs as: re-resolved from the token at the moment of the action."""
    return resume_session(store(), current_token())


__all__ = ["actor_for_action", "cookie_script", "current_actor", "current_token", "lang", "sign_in", "sign_out",
           "store", "tr"]  # fmt: skip
