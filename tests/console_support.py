"""Helpers for the console's AppTest tests: a store of users made with the command functions, a private copy of it
per test, and driving the app (logging in, opening a page, waiting for a background job)."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from store_support import ADMIN_PASSWORD, FAST, PASSWORD
from streamlit.testing.v1 import AppTest

import command.console.app
from command.security import Actor, authenticate
from command.store import Store
from command.users import add_user, init_store

APP = str(Path(command.console.app.__file__))


@dataclass(frozen=True)
class Template:
    """A test module's prepared store, and what was made in it: one incident and one plan."""

    path: Path
    incident_id: int
    plan_id: int
    actors: dict[str, Actor]


def users_store(path: Path, users: dict[str, tuple[str, str]]) -> tuple[Store, dict[str, Actor]]:
    """A store at `path` with the admin and `users` (username -> (role, jurisdiction)), each signed in once."""
    store = Store(f"sqlite:///{path}", policy=FAST)
    init_store(store, admin="admin", password=ADMIN_PASSWORD, display_name="张管理")
    actors = {"admin": authenticate(store, "admin", ADMIN_PASSWORD)}
    for i, (name, (role, jurisdiction)) in enumerate(users.items()):
        add_user(store, actors["admin"], username=name, password=PASSWORD, role=role, jurisdiction=jurisdiction,
                 display_name=f"王{name}", phone=f"1380013{i:04d}")  # fmt: skip
        actors[name] = authenticate(store, name, PASSWORD)
    return store, actors


def copy_store(source: Path, target: Path) -> str:
    """A copy of the SQLite store at `source`, written to `target`; its URL."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


def new_app(timeout_s: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout_s)
    at.run()
    return at


def submit_button(at: AppTest, form_prefix: str):  # type: ignore[no-untyped-def]
    """The submit button of the form whose key starts with `form_prefix` (None when there is no such form)."""
    return next((b for b in at.button if b.form_id and b.form_id.startswith(form_prefix)), None)


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    submit_button(at, "login").click()
    at.run()
    if submit_button(at, "login") is not None and not at.error:  # `st.rerun()` after signing in
        at.run()
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def poll_until_done(at: AppTest, job, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    """Rerun the page as the browser's fragment timer would, until the job ends (bounded)."""
    end = time.monotonic() + timeout_s
    while not job.done and time.monotonic() < end:
        time.sleep(0.2)
        at.run()
    assert job.done, f"the job did not end within {timeout_s} s: {job.messages}"
    at.run()
    no_exception(at)


class ArrowFallbacks(logging.Handler):
    """Every table Streamlit could not send to the browser as it was given (a column mixing numbers and text, say),
    which it then converts by guesswork and logs with a traceback: the ArrowTypeError of a console walk."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Arrow" in record.getMessage():
            self.records.append(record)


@contextmanager
def arrow_fallbacks() -> Iterator[ArrowFallbacks]:
    """Collect Streamlit's Arrow conversion fallbacks while the block runs."""
    logger = logging.getLogger("streamlit.dataframe_util")
    handler, level = ArrowFallbacks(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def incident(store, actor, incident_id):  # type: ignore[no-untyped-def]
    """The incident as the store says now."""
    from command.incidents import get_incident

    return get_incident(store, actor, incident_id)
