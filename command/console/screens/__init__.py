"""The console's screens (Streamlit pages), one module each: a `render(actor)` function per page.

Not named `pages/`: beside the entry script Streamlit would take such a folder for a legacy multipage app.
"""
