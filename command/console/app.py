"""The console's entry script (`streamlit run`): set-up, the language switch, sign-in, and pages by role.

Thin by design: it renders and calls functions in `command/`. Absolute imports only (Streamlit puts this
script's folder on `sys.path`; a bare `import session` would load a second copy).
"""

from __future__ import annotations

import streamlit as st

from command.console.i18n import LANGUAGES
from command.console.screens import admin, board, incident, login, review, sweeps, whatif
from command.console.screens.common import GOTO, district, show_flash
from command.console.session import LANG, cookie_script, current_actor, lang, sign_out, store, tr
from command.kinds import load_kinds
from command.store import StoreError
from command.users import is_demo


def main() -> None:
    load_kinds()  # the built-in kinds and those named in YIWANG_KINDS
    st.set_page_config(page_title="一网 Yiwang", page_icon="🛰", layout="wide")
    with st.sidebar:
        codes = list(LANGUAGES)
        st.selectbox(tr("app.language"), codes, index=codes.index(lang()), key=LANG, format_func=LANGUAGES.__getitem__)
    try:
        demo = is_demo(store())
    except StoreError as exc:
        st.error(tr("app.store_error", error=str(exc)))
        st.stop()
        return
    if demo:
        st.warning(tr("app.demo_store"), icon="⚠️")
    actor = current_actor()
    script = cookie_script()
    if script:  # set (after signing in) or clear (after signing out) the session cookie
        st.html(script, unsafe_allow_javascript=True)
    if actor is None:
        pages = {"login": st.Page(login.render, title=tr("page.login"), url_path="login", default=True)}
    else:
        with st.sidebar:
            st.caption(tr("app.signed_in", user=actor.username, role=tr(f"role.{actor.role}"),
                          jurisdiction=district(actor.jurisdiction)))  # fmt: skip
            if st.button(tr("app.logout"), key="logout"):
                sign_out()
                st.rerun()
        pages = _pages(actor)
    show_flash()
    navigation = st.navigation(list(pages.values()))
    target = st.session_state.pop(GOTO, None)  # set by `goto` (a board row's button, or a test)
    chosen = pages.get(str(target))  # by key: the default page's `url_path` is "", whatever it was given
    if chosen is not None and chosen.url_path != navigation.url_path:
        st.switch_page(chosen)
    navigation.run()


def _pages(actor) -> dict:  # type: ignore[no-untyped-def]
    """The pages a role sees, by url path; every action on them re-checks authority on the server side anyway."""

    def page(module, key: str, *, default: bool = False):  # type: ignore[no-untyped-def]
        return st.Page(lambda: module.render(actor), title=tr(f"page.{key}"), url_path=key, default=default)

    out = {"board": page(board, "board", default=True), "incident": page(incident, "incident"),
           "review": page(review, "review")}  # fmt: skip
    if actor.can("run"):
        out["whatif"] = page(whatif, "whatif")
        out["sweeps"] = page(sweeps, "sweeps")
    if actor.can("users.manage"):
        out["admin"] = page(admin, "admin")
    return out


main()
