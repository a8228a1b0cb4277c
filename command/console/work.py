"""The console's work that runs in a process of its own (`jobs.start(..., process=True)`): plain functions of plain
arguments, importable without Streamlit, so that a clean process (the forkserver's child) can run them.

They open their own store from its URL and resume the user's session from its token: nothing of the server's
state (its connections, its threads, its locks) reaches them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: What the job processes' server imports once, so that each job starts with it loaded (`jobs.start`).
PRELOAD = ("command.loop", "command.kinds", "command.runs", "command.security", "command.store", "optimizer",
           "simulation", "scenarios")  # fmt: skip


def plan(url: str, token: str, incident_id: int, time_limit_s: float, budget_s: float, environ: dict[str, str],
         report: Callable[[str], None]) -> Any:  # fmt: skip
    """Plan the incident as the user whose session `token` is, on the store at `url` (`command.loop`), within
    `budget_s` for the whole pipeline, with the server's environment as it was when the job was asked for (the
    audit key, the kinds to load: a forkserver's own copy is as old as the forkserver)."""
    import os

    os.environ.clear()
    os.environ.update(environ)
    from command.loop import plan_incident
    from command.runs import solve_params
    from command.security import resume_session
    from command.store import Store

    store = Store(url)
    try:
        who = resume_session(store, token)  # the identity at the moment the job starts
        return plan_incident(store, who, incident_id, params=solve_params(time_limit_s), progress=report,
                             budget_s=budget_s)  # fmt: skip
    finally:
        store.dispose()


__all__ = ["PRELOAD", "plan"]
