"""The incident view: map coloured by live state with a time slider, KPIs over time, event and activity logs."""

from __future__ import annotations

import streamlit as st

from command.console import views
from command.console.screens.common import choose_incident, flash
from command.console.session import actor_for_action, store, tr
from command.errors import CommandError
from command.incidents import activity, roster, scenario_document
from command.loop import advance
from command.plans import active_plan
from command.security import Actor
from scenarios import ScenarioError, scenario_graph


def render(actor: Actor) -> None:
    incident = choose_incident(actor, "incident_choose")
    if incident is None:
        return
    document = scenario_document(store(), actor, incident.id)
    scenario = views.scenario_from_json(document)
    clock = scenario.clock
    st.caption(tr("incident.summary", code=incident.code, status=incident.status, phase=incident.phase,
                  clock=clock.label(incident.sim_time_s)))  # fmt: skip
    if incident.holder:
        st.caption(tr("incident.holder", holder=incident.holder, until=f"{incident.holder_until:%Y-%m-%d %H:%M} UTC"))
    else:
        st.caption(tr("incident.no_holder"))
    if incident.needs_replan:
        st.error(tr("incident.replan", why=incident.needs_replan))

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
    minute = st.slider(tr("incident.time"), 0, horizon_min, int(incident.sim_time_s // 60), step=5,
                       key=f"incident_minute_{incident.id}", format="%d min")  # fmt: skip
    legend = "incident.legend_density" if views.map_metric(shown) == "density" else "incident.legend"
    st.caption(clock.label(minute * 60) + " · " + tr(legend))
    values, top = views.node_values(shown, minute)
    st.pydeck_chart(views.deck(scenario, values, top, metric=views.map_metric(shown)), height=460)
    attribution = scenario_graph(scenario).graph.get("attribution", "")
    if "OpenStreetMap" in attribution:
        st.caption(tr("incident.osm"))

    st.subheader(tr("incident.kpis"))
    names = sorted(n for n in base.series if ":" not in n)
    if names:
        name = st.selectbox(tr("incident.series"), names, key="incident_series",
                            index=views.default_series(names, base.chart_series))  # fmt: skip
        frame = views.kpi_frame(base, planned, name, (tr("incident.default_label"), tr("incident.plan_label")))
        st.line_chart(frame, x_label="min", y_label=name)

    left, right = st.columns(2)
    with left:
        st.subheader(tr("incident.events"))
        events = [{"t": clock.label(t), "kind": k, "text": text} for t, k, text in shown.events if t <= minute * 60]
        st.dataframe(events[-300:], hide_index=True, width="stretch", height=260)
    with right:
        st.subheader(tr("incident.activity"))
        log = [{"at": f"{a.at:%H:%M:%S}", "actor": a.actor, "kind": a.kind, "text": a.text}
               for a in activity(store(), actor, incident.id)]  # fmt: skip
        st.dataframe(log[-300:], hide_index=True, width="stretch", height=260)

    with st.expander(tr("incident.roster")):
        people, masked = roster(store(), actor, incident.id)
        if masked:
            st.caption(tr("incident.masked"))
        st.dataframe([p.__dict__ for p in people], hide_index=True, width="stretch")

    can_advance = actor.can("incident.advance") and incident.status == "open" and incident.sim_time_s < clock.horizon_s
    if can_advance and st.button(tr("incident.advance"), key="incident_advance"):
        try:
            report = advance(store(), actor_for_action(), incident.id)
        except CommandError as exc:
            st.error(tr("common.error", error=str(exc)))
        else:
            flash(tr("incident.advanced", text="; ".join(report.lines(clock.label))))
            st.rerun()
