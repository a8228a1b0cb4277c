"""Administration: users, jurisdictions, command grants and revocations, drills, audit verification."""

from __future__ import annotations

import streamlit as st

from command.audit_access import check
from command.authority import grant_command, grants_of, revoke_command
from command.console import words
from command.console.screens.common import choose_incident, district, districts, flash, refused
from command.console.session import actor_for_action, lang, store, tr
from command.drills import builtin_drill_names, read_injects, start_drill
from command.errors import CommandError
from command.incidents import IncidentView, get_incident
from command.security import Actor
from command.store import ROLES
from command.users import UserView, add_user, list_jurisdictions, list_users, visible_jurisdiction_codes
from scenarios import ScenarioError, load_scenario
from scenarios.loading import builtin_scenario_names


def render(actor: Actor) -> None:
    users_tab, grants_tab, drills_tab, audit_tab, places_tab = st.tabs(
        [tr("admin.users"), tr("admin.grants"), tr("admin.drills"), tr("admin.audit"), tr("admin.jurisdictions")]
    )
    with users_tab:
        _users(actor)
    with grants_tab:
        _grants(actor)
    with drills_tab:
        _drills(actor)
    with audit_tab:
        if st.button(tr("admin.verify"), key="admin_verify"):
            report = check(store(), actor_for_action())  # admins only, and the verification is recorded
            for line in report.lines():
                (st.success if report.ok else st.error)(line)
    with places_tab:
        language = lang()
        st.dataframe([{tr("admin.col.code"): c, tr("admin.col.name"): words.pick(n, language),
                       tr("admin.col.parent"): district(p) if p else ""} for c, n, p in list_jurisdictions(store())],
                     hide_index=True, width="stretch")  # fmt: skip


def _users(actor: Actor) -> None:
    st.dataframe([{tr("login.username"): u.username, tr("admin.role"): tr(f"role.{u.role}"),
                   tr("board.jurisdiction"): district(u.jurisdiction), tr("admin.display_name"): u.display_name,
                   tr("admin.phone"): u.phone, tr("admin.col.active"): tr("common.yes" if u.active else "common.no"),
                   tr("admin.col.locked_until"):
                       "" if u.locked_until is None else f"{u.locked_until:%Y-%m-%d %H:%M} UTC"}
                  for u in list_users(store(), actor)], hide_index=True, width="stretch")  # fmt: skip
    with st.form("admin_add_user"):
        st.markdown(f"**{tr('admin.add_user')}**")
        username = st.text_input(tr("login.username"), key="au_name")
        password = st.text_input(tr("login.password"), type="password", key="au_password")
        roles = {r: tr(f"role.{r}") for r in ROLES}
        role = st.selectbox(tr("admin.role"), ROLES, key="au_role", format_func=roles.__getitem__)
        jurisdiction = st.selectbox(tr("board.jurisdiction"), visible_jurisdiction_codes(store(), actor), key="au_jur",
                                    format_func=districts().__getitem__)  # fmt: skip
        display = st.text_input(tr("admin.display_name"), key="au_display")
        phone = st.text_input(tr("admin.phone"), key="au_phone")
        if st.form_submit_button(tr("admin.add_user")):
            try:
                add_user(store(), actor_for_action(), username=username.strip(), password=password, role=role,
                         jurisdiction=jurisdiction, display_name=display, phone=phone)  # fmt: skip
            except CommandError as exc:
                refused(exc)
            else:
                flash(tr("admin.added", user=username))
                st.rerun()


def _grants(actor: Actor) -> None:
    incident = choose_incident(actor, "admin_incident")
    if incident is None:
        return
    grants = grants_of(store(), actor, incident.id)
    st.caption(tr("admin.times_utc"))
    st.dataframe([{tr("admin.col.grant"): g.id, tr("admin.col.holder"): g.holder, tr("admin.col.by"): g.granted_by,
                   tr("admin.col.from"): f"{g.valid_from:%Y-%m-%d %H:%M}",
                   tr("admin.col.until"): f"{g.valid_until:%Y-%m-%d %H:%M}",
                   tr("admin.col.revoked"): f"{g.revoked_at:%Y-%m-%d %H:%M}" if g.revoked_at else "",
                   tr("admin.reason"): g.reason} for g in grants], hide_index=True, width="stretch")  # fmt: skip
    commanders = eligible_holders(list_users(store(), actor), incident)
    if not commanders:
        st.info(tr("admin.no_eligible"))
        return
    with st.form("admin_grant"):
        who = st.selectbox(tr("admin.grant_to"), commanders, key="grant_to")
        hours = st.number_input(tr("admin.hours"), min_value=0.5, max_value=336.0, value=12.0, step=0.5,
                                key="grant_hours")  # fmt: skip
        reason = st.text_input(tr("admin.reason"), key="grant_reason")
        if st.form_submit_button(tr("admin.grant"), type="primary"):
            try:
                grant_command(store(), actor_for_action(), incident.id, str(who), hours=float(hours), reason=reason)
            except CommandError as exc:
                refused(exc)
            else:
                flash(tr("admin.granted", user=who, incident=incident.code))
                st.rerun()
    if incident.holder:
        with st.form("admin_revoke"):
            reason = st.text_input(tr("admin.reason"), key="revoke_reason")
            if st.form_submit_button(tr("admin.revoke")):
                try:
                    revoke_command(store(), actor_for_action(), incident.id, reason=reason)
                except CommandError as exc:
                    refused(exc)
                else:
                    flash(tr("admin.revoked"))
                    st.rerun()


def eligible_holders(users: list[UserView], incident: IncidentView) -> list[str]:
    """Who may be given command of the incident, as `grant_command` decides: an active commander (or, in an
    exercise, a trainee) whose jurisdiction is the incident's or one above it."""
    parents = {c: p for c, _, p in list_jurisdictions(store())}
    above: set[str] = set()
    place: str | None = incident.jurisdiction
    while place is not None and place not in above:
        above.add(place)
        place = parents.get(place)
    roles = {"commander", "observer"} if incident.exercise else {"commander"}
    return [u.username for u in users if u.role in roles and u.active and u.jurisdiction in above]


def _drills(actor: Actor) -> None:
    """Start an exercise: a built-in scenario, a built-in inject script (shown before it starts), a trainee."""
    st.caption(tr("admin.drill_help"))
    scenario_name = st.selectbox(tr("board.scenario"), builtin_scenario_names(), key="dr_scenario")
    script_name = st.selectbox(tr("admin.drill_script"), builtin_drill_names(), key="dr_script")
    script = read_injects(script_name)
    clock = load_scenario(scenario_name).clock
    st.markdown(f"**{tr('admin.drill_injects')}**")
    language = lang()
    st.dataframe([{tr("admin.drill_col.at"): clock.label(float(i["at_s"])),
                   tr("admin.drill_col.kind"): words.code("event", str(i["kind"]), language),
                   tr("admin.drill_col.target"): i.get("target") or "",
                   tr("admin.drill_col.condition"): words.condition(str(i.get("condition") or ""), language),
                   tr("admin.drill_col.note"): i.get("note", "")} for i in script],
                 hide_index=True, width="stretch")  # fmt: skip
    trainees = [u.username for u in list_users(store(), actor) if u.role in ("commander", "observer") and u.active]
    with st.form("admin_drill"):
        jurisdiction = st.selectbox(tr("board.jurisdiction"), visible_jurisdiction_codes(store(), actor), key="dr_jur",
                                    format_func=districts().__getitem__)  # fmt: skip
        trainee = st.selectbox(tr("admin.trainee"), trainees, key="dr_trainee")
        hours = st.number_input(tr("admin.hours"), min_value=0.5, max_value=72.0, value=8.0, step=0.5, key="dr_hours")
        if st.form_submit_button(tr("admin.drill_start"), type="primary"):
            try:
                iid = start_drill(store(), actor_for_action(), scenario_name, injects=script,
                                  jurisdiction=str(jurisdiction), trainee=str(trainee), hours=float(hours),
                                  file=f"{script_name}.yaml")  # fmt: skip
                code = get_incident(store(), actor, iid).code
            except (CommandError, ScenarioError) as exc:
                refused(exc)
            else:
                flash(tr("admin.drill_started", code=code, user=trainee))
                st.rerun()
