"""Pieces several pages share: choosing an incident, the exercise banner, the live header and alerts, messages
across reruns, the progress of background jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from command.alerts import Alert, acknowledge, alerts
from command.console import words
from command.console.session import actor_for_action, lang, store, tr
from command.errors import CommandError
from command.incidents import IncidentView, get_incident, list_incidents
from command.kinds import kind_of
from command.security import Actor
from command.users import list_jurisdictions
from scenarios.schema import Clock


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
        st.warning(tr("incident.exercise"))
    return view


def district_names() -> dict[str, str]:
    """Jurisdiction code -> its stored (bilingual) name."""
    return {c: n for c, n, _ in list_jurisdictions(store())}


def district(code: str) -> str:
    """A jurisdiction in the user's language."""
    return words.district(code, district_names(), lang())


def districts() -> dict[str, str]:
    """Every jurisdiction code -> its name in the user's language (a select box's labels, fixed when drawn)."""
    names, language = district_names(), lang()
    return {code: words.district(code, names, language) for code in names}


def replan_live(incident: IncidentView, clock: Clock) -> bool:
    """Whether the incident's re-plan alarm still stands: raised, and the incident still before its horizon (after
    it there is nothing left to re-plan)."""
    return bool(incident.needs_replan) and incident.status == "open" and incident.sim_time_s < clock.horizon_s - 1e-9


HEADER_CSS = """<style>
.st-key-yiwang_header { position: sticky; top: 2.9rem; z-index: 990; background: var(--background-color, #fff);
  border-bottom: 1px solid rgba(49, 51, 63, 0.2); padding: 0.3rem 0 0.4rem 0; }
.st-key-yiwang_header p { margin-bottom: 0.1rem; }
</style>"""


def live_header(actor: Actor, incident_id: int, clock: Clock) -> IncidentView:
    """The fixed header of an incident's pages: the wall clock and the incident clock (local times with their
    dates and zone), the phase and status, who holds command and until when; then the alerts. Re-read from the
    store on every run (and every 15 s on its own), so it is never staler than that."""
    st.html(HEADER_CSS)
    st.session_state[f"yiwang_seen_{incident_id}"] = _signature(get_incident(store(), actor, incident_id))
    return _header_fragment(actor, incident_id, clock)


def _signature(incident: IncidentView) -> tuple[object, ...]:
    """What, when it changes, redraws the whole page: the clock, status, phase, holder, plans and alarm."""
    return (incident.sim_time_s, incident.status, incident.phase, incident.holder, incident.active_plan,
            incident.proposed_plans, incident.needs_replan)  # fmt: skip


@st.fragment(run_every=15)
def _header_fragment(actor: Actor, incident_id: int, clock: Clock) -> IncidentView:
    incident = get_incident(store(), actor, incident_id)
    if _signature(incident) != st.session_state.get(f"yiwang_seen_{incident_id}"):
        st.rerun(scope="app")  # someone advanced, planned, approved or took command: the page follows
    language = lang()
    with st.container(key="yiwang_header"):
        wall, sim, who = st.columns([1, 1.2, 1.3])
        wall.markdown(tr("header.wall", time=words.local(datetime.now(UTC), clock.timezone, language, seconds=True)))
        sim.markdown(tr("header.incident", time=words.incident_clock(clock, incident.sim_time_s, language)))
        if incident.holder and incident.holder_until is not None:
            holder = tr("header.holder", holder=incident.holder,
                        until=words.local(incident.holder_until, clock.timezone, language))  # fmt: skip
        else:
            holder = tr("incident.no_holder")
        who.markdown(tr("header.phase", status=words.code("incident_status", incident.status, language),
                        phase=words.code("phase", incident.phase, language)) + "  \n" + holder)  # fmt: skip
    _alerts(actor, incident, clock)
    return incident


def alert_text(alert: Alert, clock: Clock) -> str:
    """What an alert says, in the user's language."""
    if alert.kind == "replan":
        return tr("alert.replan")
    if alert.kind == "awaiting":
        return tr("alert.awaiting", n=len(alert.plans))
    when = words.short_time(clock, alert.sim_s) if alert.sim_s is not None else ""
    return tr("alert.logged", when=when, kind=words.code("event", alert.code, lang()))


def _alerts(actor: Actor, incident: IncidentView, clock: Clock) -> None:
    """The alerts panel: each alert until this user acknowledges it; the acknowledgement is stored and audited
    (`command.alerts.acknowledge`, which checks on the server side that they may see the incident), so that it
    holds on every page, after a reload and in another browser."""
    standing = alerts(store(), actor, incident.id)
    waiting = [a for a in standing if a.new]
    seen = len(standing) - len(waiting)
    if not waiting:
        st.caption(tr("alert.none"))
        if seen:
            st.caption(tr("alert.seen_line", n=seen))
        return
    with st.container(key="yiwang_alerts"):
        for alert in waiting[:6]:
            text_col, ack_col = st.columns([6, 1])
            with text_col:
                getattr(st, alert.level)(alert_text(alert, clock))
            if ack_col.button(tr("alert.ack"), key=f"ack_{incident.id}_{alert.key}"):
                try:
                    acknowledge(store(), actor_for_action(), incident.id, alert.key)
                except CommandError as exc:
                    refused(exc)
                else:
                    st.rerun()
        if len(waiting) > 6:
            st.caption(tr("alert.more", n=len(waiting) - 6))
        if seen:
            st.caption(tr("alert.seen_line", n=seen))


def refused(exc: Exception) -> None:
    """Show a refusal of the command layer, in the user's language."""
    st.error(tr("common.error", error=words.refusal(exc, lang())))


def kpi_label(key: str, kind: str) -> str:
    """A KPI's label with its unit in the user's language, from its scenario kind's KPI table (else its name)."""
    kpi = kind_of(kind).spec.kpi(key)
    if kpi is not None:
        return kpi.label(lang())
    return words.code("series", key, lang())


#: The optimiser's time limit (seconds per model) when the session names none: YIWANG_CONSOLE_TIME_LIMIT_S, else 10.
DEFAULT_TIME_LIMIT_S = 10.0


def time_limit_s() -> float:
    """The optimiser's time limit for a run started here: the session's own (`yiwang_time_limit`), else the
    server's default (the environment's YIWANG_CONSOLE_TIME_LIMIT_S, for a slow or busy machine), else 10 s."""
    import os

    own = st.session_state.get("yiwang_time_limit")
    if own is not None:
        return float(own)
    return float(os.environ.get("YIWANG_CONSOLE_TIME_LIMIT_S", DEFAULT_TIME_LIMIT_S))


def plan_budget_s() -> float:
    """The Run -> plan budget for a plan made here, the whole pipeline (`command.budget`): the session's own
    (`yiwang_budget`), else the server's (the environment's YIWANG_CONSOLE_BUDGET_S), else 15 s."""
    import os

    from command.budget import DEFAULT_BUDGET_S

    own = st.session_state.get("yiwang_budget")
    if own is not None:
        return float(own)
    return float(os.environ.get("YIWANG_CONSOLE_BUDGET_S", DEFAULT_BUDGET_S))


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
    st.progress(job.fraction, text=words.progress(job.messages[-1], lang()) if job.messages else tr("review.running"))
    if st.button(tr("review.cancel"), key=cancel_key):
        job.cancel()


def job_outcome_shown(job) -> bool:  # type: ignore[no-untyped-def]
    """Show a finished job's failure or cancellation; True when there is nothing else to show."""
    if job.error:
        st.error(tr("review.failed", error=words.failure(job.error, lang())))
        return True
    if job.cancelled:
        st.warning(tr("review.cancelled"))
        return True
    return False
