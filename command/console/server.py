"""The console's web server: Streamlit's app (`app.py`) with the routes of `command.console.cookies`.

`streamlit run` finds `app` here and serves it with uvicorn (Streamlit's ASGI mode), with the same options as
the script alone.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from command.console.cookies import routes

app = st.App(str(Path(__file__).with_name("app.py")), routes=routes())
