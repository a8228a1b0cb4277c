"""Pieces several pages share: choosing an incident, the exercise banner, messages across reruns, the
progress of background jobs."""

from __future__ import annotations

import streamlit as st

from command.console.session import lang, store, tr
from command.incidents import IncidentView, list_incidents
from command.kinds import kind_of
from command.security import Actor


def choose_incident(actor: Actor, key: str) -> IncidentView | None:
    """A select box of the user's incidents (remembering the last one chosen on any page)."""
    rows = list_incidents(store(), actor, include_closed=True)
    if not rows:
        st.info(tr("incident.none"))
        return None
    ids = [r.id for r in rows]
    current = st.session_state.get("incident_id")
    index = ids.index(current) if current in ids else 0
    labels = {r.id: f"{r.code} · {(tr('board.exercise_tag') if r.exercise else '')}{r.title}" for r in rows}
    chosen = st.selectbox(tr("incident.choose"), ids, index=index, key=key, format_func=labels.__getitem__)
    st.session_state["incident_id"] = chosen
    view = next(r for r in rows if r.id == chosen)
    if view.exercise:
        st.warning("EXERCISE / 演练")
    return view


def kpi_label(key: str, kind: str) -> str:
    """A KPI's label with its unit in the user's language, from its scenario kind's KPI table (else its name)."""
    kpi = kind_of(kind).spec.kpi(key)
    return kpi.label(lang()) if kpi is not None else key


GOTO = "yiwang_goto"


def goto(page: str) -> None:
    """Open another page (by its url path: board, incident, review, whatif, admin) on the next run."""
    st.session_state[GOTO] = page


def flash(message: str, kind: str = "success") -> None:
    """A message shown once, at the top of the next run (survives `st.rerun`)."""
    st.session_state["yiwang_flash"] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop("yiwang_flash", (None, None))
    if message:
        getattr(st, kind)(message)


@st.fragment(run_every=0.5)
def job_progress(key: str, cancel_key: str) -> None:
    """A running job's progress bar and Cancel button, refreshed on their own; the page reruns when it ends."""
    from command.console import jobs

    job = jobs.get(key)
    if job is None:
        return
    if job.done:
        st.rerun()
    st.progress(job.fraction, text=job.messages[-1] if job.messages else tr("review.running"))
    if st.button(tr("review.cancel"), key=cancel_key):
        job.cancel()


def job_outcome_shown(job) -> bool:  # type: ignore[no-untyped-def]
    """Show a finished job's failure or cancellation; True when there is nothing else to show."""
    if job.error:
        st.error(tr("review.failed", error=job.error))
        return True
    if job.cancelled:
        st.warning(tr("review.cancelled"))
        return True
    return False
