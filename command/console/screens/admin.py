"""Administration: users, jurisdictions, command grants and revocations, audit verification."""

from __future__ import annotations

import streamlit as st

from command.audit import verify
from command.authority import grant_command, grants_of, revoke_command
from command.console.screens.common import choose_incident, flash
from command.console.session import actor_for_action, store, tr
from command.errors import CommandError
from command.security import Actor
from command.store import ROLES
from command.users import add_user, list_jurisdictions, list_users, visible_jurisdiction_codes


def render(actor: Actor) -> None:
    users_tab, grants_tab, audit_tab, places_tab = st.tabs(
        [tr("admin.users"), tr("admin.grants"), tr("admin.audit"), tr("admin.jurisdictions")]
    )
    with users_tab:
        _users(actor)
    with grants_tab:
        _grants(actor)
    with audit_tab:
        if st.button(tr("admin.verify"), key="admin_verify"):
            report = verify(store())
            for line in report.lines():
                (st.success if report.ok else st.error)(line)
    with places_tab:
        st.dataframe([{"code": c, "name": n, "parent": p or ""} for c, n, p in list_jurisdictions(store())],
                     hide_index=True, width="stretch")  # fmt: skip


def _users(actor: Actor) -> None:
    st.dataframe([{**u.__dict__, "locked_until": u.locked_until} for u in list_users(store(), actor)],
                 hide_index=True, width="stretch")  # fmt: skip
    with st.form("admin_add_user"):
        st.markdown(f"**{tr('admin.add_user')}**")
        username = st.text_input(tr("login.username"), key="au_name")
        password = st.text_input(tr("login.password"), type="password", key="au_password")
        role = st.selectbox(tr("admin.role"), ROLES, key="au_role", format_func=lambda r: tr(f"role.{r}"))
        jurisdiction = st.selectbox(tr("board.jurisdiction"), visible_jurisdiction_codes(store(), actor), key="au_jur")
        display = st.text_input(tr("admin.display_name"), key="au_display")
        phone = st.text_input(tr("admin.phone"), key="au_phone")
        if st.form_submit_button(tr("admin.add_user")):
            try:
                add_user(store(), actor_for_action(), username=username.strip(), password=password, role=role,
                         jurisdiction=jurisdiction, display_name=display, phone=phone)  # fmt: skip
            except CommandError as exc:
                st.error(tr("common.error", error=str(exc)))
            else:
                flash(tr("admin.added", user=username))
                st.rerun()


def _grants(actor: Actor) -> None:
    incident = choose_incident(actor, "admin_incident")
    if incident is None:
        return
    grants = grants_of(store(), actor, incident.id)
    st.dataframe([{"id": g.id, "holder": g.holder, "by": g.granted_by, "from": f"{g.valid_from:%Y-%m-%d %H:%M}",
                   "until": f"{g.valid_until:%Y-%m-%d %H:%M}",
                   "revoked": f"{g.revoked_at:%Y-%m-%d %H:%M}" if g.revoked_at else "", "reason": g.reason}
                  for g in grants], hide_index=True, width="stretch")  # fmt: skip
    commanders = [u.username for u in list_users(store(), actor) if u.role == "commander" and u.active]
    with st.form("admin_grant"):
        who = st.selectbox(tr("admin.grant_to"), commanders, key="grant_to")
        hours = st.number_input(tr("admin.hours"), min_value=0.5, max_value=336.0, value=12.0, step=0.5,
                                key="grant_hours")  # fmt: skip
        reason = st.text_input(tr("admin.reason"), key="grant_reason")
        if st.form_submit_button(tr("admin.grant"), type="primary"):
            try:
                grant_command(store(), actor_for_action(), incident.id, str(who), hours=float(hours), reason=reason)
            except CommandError as exc:
                st.error(tr("common.error", error=str(exc)))
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
                    st.error(tr("common.error", error=str(exc)))
                else:
                    flash(tr("admin.revoked"))
                    st.rerun()
