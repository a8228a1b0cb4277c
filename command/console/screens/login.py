"""Log in against the store (argon2, lock-out counted in the store)."""

from __future__ import annotations

import streamlit as st

from command.console.session import lang, sign_in, tr
from command.console.words import refusal
from command.errors import AuthFailed


def render() -> None:
    st.header(tr("login.heading"))
    if st.session_state.get("yiwang_expired"):
        st.warning(tr("app.session_expired"))
    with st.form("login"):
        username = st.text_input(tr("login.username"), key="login_username")
        password = st.text_input(tr("login.password"), type="password", key="login_password")
        submitted = st.form_submit_button(tr("login.submit"), type="primary")
    if submitted:
        try:
            sign_in(username.strip(), password)
        except AuthFailed as exc:
            st.error(tr("login.failed", error=refusal(exc, lang())))
            return
        st.rerun()
