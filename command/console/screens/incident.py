"""The incident view: the live header and alerts, the map at the incident clock (a time slider to look back or
ahead), the resource status board, the incident's timeline, KPIs over time, and the event and activity logs up to
the time shown, newest first."""

from __future__ import annotations

import streamlit as st

from command import ics
from command.console import basemap, resources, views, words
from command.console.screens.common import choose_incident, flash, kpi_label, live_header, refused
from command.console.session import actor_for_action, lang, store, tr
from command.errors import CommandError
from command.incidents import IncidentView, activity, roster, scenario_document
from command.loop import advance
from command.plans import active_plan
from command.security import Actor
from command.timeline import timeline
from scenarios import ScenarioError, scenario_graph
from scenarios.defaults import default_plan
from scenarios.schema import Clock

#: The newest steps of the timeline shown.
TIMELINE_ROWS = 300


def slider_minute(incident_id: int, sim_time_s: float, horizon_min: int) -> str:
    """The time slider's key, its state moved to the incident clock whenever the clock has moved since the slider
    last followed it (a keyed slider keeps its own state across reruns, whatever `value` it is given)."""
    key = f"incident_minute_{incident_id}"
    followed = f"incident_followed_{incident_id}"
    if st.session_state.get(followed) != sim_time_s or key not in st.session_state:
        st.session_state[key] = min(horizon_min, int(sim_time_s // 60))
        st.session_state[followed] = sim_time_s
    return key


def render(actor: Actor) -> None:
    chosen = choose_incident(actor, "incident_choose")
    if chosen is None:
        return
    language = lang()
    document = scenario_document(store(), actor, chosen.id)
    scenario = views.scenario_from_json(document)
    clock = scenario.clock
    incident = live_header(actor, chosen.id, clock)
    _advance_control(actor, incident, clock, language)

    current = active_plan(store(), actor, incident.id)
    try:
        base = views.run(document, None, incident.seed)
        planned = views.run(document, current.plan.to_json(indent=None), incident.seed) if current else None
    except (ValueError, ScenarioError) as exc:  # a scenario kind whose model has not landed yet
        st.info(tr("common.error", error=str(exc).splitlines()[0]))
        return
    shown = planned or base

    st.subheader(tr("incident.map"))
    horizon_min = int(clock.horizon_s // 60)
    key = slider_minute(incident.id, incident.sim_time_s, horizon_min)
    minute = st.slider(tr("incident.time"), 0, horizon_min, step=1, key=key, format=tr("incident.minutes"))
    metric = views.map_metric(shown)
    st.caption(tr("incident.map_at", time=words.incident_clock(clock, minute * 60, language)))
    values, top = views.node_values(shown, minute)
    graph = scenario_graph(scenario)
    places = views.place_names(scenario, language)
    found = resources.statuses(scenario, current.plan if current else default_plan(scenario), graph, minute * 60)
    points = resources.map_rows(found, names=places, clock=clock, lang=language, colours=views.RESOURCE_COLOURS)
    st.pydeck_chart(views.deck(scenario, values, top, metric=metric, words=views_words(language),
                               lang=language, resources=points), height=460)  # fmt: skip
    st.caption(tr("incident.legend_density" if metric == "density" else "incident.legend"))
    st.caption(tr("incident.legend_map"))
    attribution = graph.graph.get("attribution", "")
    if "OpenStreetMap" in attribution or basemap.osm_file(scenario.graph) is not None:
        st.caption(tr("incident.osm"))
    else:
        st.caption(tr("incident.base_graph"))

    st.subheader(tr("incident.resources"))
    st.caption(tr("incident.resources_at", time=words.incident_clock(clock, minute * 60, language)))
    board = resources.board_rows(found, names=places, clock=clock, lang=language)
    if board:
        st.dataframe(board, hide_index=True, width="stretch")
    else:
        st.info(tr("incident.resources_none"))

    _timeline(actor, incident.id, clock, language)

    st.subheader(tr("incident.kpis"))
    names = sorted(n for n in base.series if ":" not in n)
    if names:
        name = st.selectbox(tr("incident.series"), names, key="incident_series",
                            index=views.default_series(names, base.chart_series),
                            format_func={n: kpi_label(n, scenario.kind) for n in names}.__getitem__)  # fmt: skip
        series = (tr("incident.default_label"), tr("incident.plan_label"))
        frame = views.kpi_frame(base, planned, name, series)
        chart = views.series_chart(frame, series, x=tr("incident.minutes_axis"), y=kpi_label(name, scenario.kind),
                                   at_min=minute)  # fmt: skip
        st.altair_chart(chart, width="stretch")

    zone = words.zone_label(clock.timezone, clock.at(0), language)
    left, right = st.columns(2)
    with left:
        st.subheader(tr("incident.events"))
        st.caption(tr("incident.newest_first", zone=zone))
        events = [{tr("incident.col.time"): words.short_time(clock, t), tr("incident.col.kind"):
                   words.code("event", k, language), tr("incident.col.text"): text}
                  for t, k, text in reversed(shown.events) if t <= minute * 60]  # fmt: skip
        st.dataframe(events[:300], hide_index=True, width="stretch", height=260)
    with right:
        st.subheader(tr("incident.activity"))
        st.caption(tr("incident.newest_first", zone=zone))
        log = [{tr("incident.col.logged"): words.wall_short(a.at, clock.timezone),
                tr("incident.col.time"): "" if a.sim_s is None else words.short_time(clock, a.sim_s),
                tr("incident.col.actor"): words.code("event", a.actor, language) if a.actor == "system" else a.actor,
                tr("incident.col.kind"): words.activity_kind(a.kind, language),
                tr("incident.col.text"): a.text}
               for a in reversed(activity(store(), actor, incident.id))
               if a.sim_s is None or a.sim_s <= minute * 60 + 1e-9]  # fmt: skip
        st.dataframe(log[:300], hide_index=True, width="stretch", height=260)

    with st.expander(tr("incident.roster")):
        people, masked = roster(store(), actor, incident.id)
        if masked:
            st.caption(tr("incident.masked"))
        st.dataframe([{tr("incident.roster.team"): words.pick(ics.TEAM_LABELS.get(p.team, p.team), language),
                       tr("incident.roster.name"): p.name, tr("incident.roster.phone"): p.phone,
                       tr("incident.roster.role"): p.role} for p in people],
                     hide_index=True, width="stretch")  # fmt: skip


def _timeline(actor: Actor, incident_id: int, clock: Clock, language: str) -> None:
    """The incident's timeline (`command.timeline`): injects, decisions, plan changes, alarms and phase changes,
    newest first, each at its wall time and incident time, with who did it."""
    st.subheader(tr("timeline.heading"))
    zone = words.zone_label(clock.timezone, clock.at(0), language)
    st.caption(tr("timeline.caption", zone=zone))
    steps = timeline(store(), actor, incident_id, limit=TIMELINE_ROWS)
    if not steps:
        st.info(tr("timeline.none"))
        return
    rows = [{tr("incident.col.logged"): words.wall_short(e.at, clock.timezone),
             tr("incident.col.time"): "" if e.sim_s is None else words.short_time(clock, e.sim_s),
             tr("timeline.col.category"): tr(f"timeline.category.{e.category}"),
             tr("timeline.col.what"): words.timeline_text(e, clock.timezone, language),
             tr("incident.col.actor"): words.code("event", e.actor, language) if e.actor == "system" else e.actor,
             tr("incident.col.text"): e.detail}
            for e in steps]  # fmt: skip
    st.dataframe(rows, hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 300))


def _advance_control(actor: Actor, incident: IncidentView, clock: Clock, language: str) -> None:
    """Advance to the next decision point: at the top of the page, where what it did is shown after it."""
    can_advance = actor.can("incident.advance") and incident.status == "open" and incident.sim_time_s < clock.horizon_s
    if can_advance and st.button(tr("incident.advance"), key="incident_advance"):
        try:
            report = advance(store(), actor_for_action(), incident.id)
        except CommandError as exc:
            refused(exc)
        else:
            flash(words.advance_text(report, clock, language))
            st.rerun()


def views_words(language: str) -> dict[str, str]:
    return words.map_words(language)
