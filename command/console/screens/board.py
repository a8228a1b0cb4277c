"""The incident board: the incidents of the user's jurisdiction, and opening a new one."""

from __future__ import annotations

import streamlit as st

from command.console import views, words
from command.console.screens.common import district, districts, flash, refused, replan_live
from command.console.session import lang, store, tr
from command.errors import CommandError
from command.incidents import IncidentView, list_incidents, open_incident, scenario_document
from command.security import Actor
from command.users import visible_jurisdiction_codes
from scenarios import ScenarioError, load_scenario
from scenarios.loading import builtin_scenario_names, parse_document, scenario_from_document

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def render(actor: Actor) -> None:
    st.header(tr("board.heading"))
    show_closed = st.toggle(tr("board.show_closed"), key="board_closed")
    _table(actor, show_closed)
    if actor.can("incident.open"):
        _open_form(actor)


@st.fragment(run_every=10)
def _table(actor: Actor, show_closed: bool) -> None:
    """The board's table, read again every 10 s on its own (a plan proposed or an incident advanced elsewhere)."""
    rows = list_incidents(store(), actor, include_closed=show_closed)
    if not rows:
        st.info(tr("board.none"))
    else:
        st.dataframe(board_rows(actor, rows), hide_index=True, width="stretch")


def board_rows(actor: Actor, rows: list[IncidentView]) -> list[dict[str, str]]:
    """The board's table in the user's language, every cell text (a column mixing numbers and text cannot be
    sent to the browser as one typed column)."""
    language = lang()
    out = []
    for r in rows:
        clock = views.scenario_from_json(scenario_document(store(), actor, r.id)).clock
        out.append({
            tr("board.col.code"): r.code,
            tr("board.col.title"): (tr("board.exercise_tag") if r.exercise else "") + r.title,
            tr("board.col.jurisdiction"): district(r.jurisdiction),
            tr("board.col.status"): words.code("incident_status", r.status, language),
            tr("board.col.phase"): words.code("phase", r.phase, language),
            tr("board.col.clock"): words.short_time(clock, r.sim_time_s),
            tr("board.col.commander"): r.holder or "-",
            tr("board.col.plan"): "-" if r.active_plan is None else f"#{r.active_plan}",
            tr("board.col.proposed"): ", ".join(f"#{n}" for n in r.proposed_plans) or "-",
            tr("board.col.alarm"): tr("board.replan") if replan_live(r, clock) else "",
        })  # fmt: skip
    return out


def _open_form(actor: Actor) -> None:
    st.subheader(tr("board.open_heading"))
    source = st.radio(tr("board.source"), ["builtin", "upload"], horizontal=True, key="board_source",
                      format_func={s: tr(f"board.source.{s}") for s in ("builtin", "upload")}.__getitem__)  # fmt: skip
    name = upload = None
    if source == "builtin":
        name = st.selectbox(tr("board.scenario"), builtin_scenario_names(), key="board_scenario")
    else:
        upload = st.file_uploader(tr("board.upload"), type=["yaml", "yml"], key="board_upload")
    codes = visible_jurisdiction_codes(store(), actor)
    jurisdiction = st.selectbox(tr("board.jurisdiction"), codes, key="board_jurisdiction",
                                format_func=districts().__getitem__,
                                index=codes.index("pudong") if "pudong" in codes else 0)  # fmt: skip
    exercise = st.checkbox(tr("board.exercise"), key="board_exercise")
    if not st.button(tr("board.open"), type="primary", key="board_open"):
        return
    try:
        if source == "builtin":
            scenario = load_scenario(str(name))
        else:
            if upload is None:
                st.warning(tr("board.no_file"))
                return
            data = upload.getvalue()[: MAX_UPLOAD_BYTES + 1]
            if len(data) > MAX_UPLOAD_BYTES:
                raise ScenarioError.single(upload.name, "(document)", f"larger than {MAX_UPLOAD_BYTES} bytes")
            text = data.decode("utf-8", errors="replace")
            scenario = scenario_from_document(parse_document(text, upload.name), file=upload.name, graph_files=False)
        iid = open_incident(store(), actor, scenario, jurisdiction=jurisdiction, exercise=exercise)
    except ScenarioError as exc:
        st.error(tr("board.scenario_errors", n=len(exc.problems)))
        for problem in exc.problems:  # one line per field: FILE: field.path: reason
            st.error(str(problem))
        return
    except CommandError as exc:
        refused(exc)
        return
    st.session_state["incident_id"] = iid
    # Run again from the top, so that the board above this form lists the new incident at once.
    flash(tr("board.opened", code=next(r.code for r in list_incidents(store(), actor) if r.id == iid)))
    st.rerun()
