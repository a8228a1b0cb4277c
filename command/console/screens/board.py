"""The incident board: the incidents of the user's jurisdiction, and opening a new one."""

from __future__ import annotations

import streamlit as st

from command.console.session import store, tr
from command.errors import CommandError
from command.incidents import list_incidents, open_incident
from command.security import Actor
from command.users import visible_jurisdiction_codes
from scenarios import ScenarioError, load_scenario
from scenarios.loading import builtin_scenario_names, parse_document, scenario_from_document

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def render(actor: Actor) -> None:
    st.header(tr("board.heading"))
    show_closed = st.toggle(tr("board.show_closed"), key="board_closed")
    rows = list_incidents(store(), actor, include_closed=show_closed)
    if not rows:
        st.info(tr("board.none"))
    else:
        table = [{
            tr("board.col.code"): r.code,
            tr("board.col.title"): (tr("board.exercise_tag") if r.exercise else "") + r.title,
            tr("board.col.jurisdiction"): r.jurisdiction, tr("board.col.status"): r.status,
            tr("board.col.phase"): r.phase, tr("board.col.commander"): r.holder or "-",
            tr("board.col.plan"): r.active_plan or "-", tr("board.col.alarm"): r.needs_replan or "",
        } for r in rows]  # fmt: skip
        st.dataframe(table, hide_index=True, width="stretch")
    if actor.can("incident.open"):
        _open_form(actor)


def _open_form(actor: Actor) -> None:
    st.subheader(tr("board.open_heading"))
    source = st.radio(tr("board.source"), ["builtin", "upload"], horizontal=True, key="board_source",
                      format_func=lambda s: tr(f"board.source.{s}"))  # fmt: skip
    name = upload = None
    if source == "builtin":
        name = st.selectbox(tr("board.scenario"), builtin_scenario_names(), key="board_scenario")
    else:
        upload = st.file_uploader(tr("board.upload"), type=["yaml", "yml"], key="board_upload")
    codes = visible_jurisdiction_codes(store(), actor)
    jurisdiction = st.selectbox(tr("board.jurisdiction"), codes, key="board_jurisdiction",
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
        st.error(tr("common.error", error=str(exc)))
        return
    st.session_state["incident_id"] = iid
    st.success(tr("board.opened", code=next(r.code for r in list_incidents(store(), actor) if r.id == iid)))
