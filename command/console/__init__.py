"""The Streamlit console: thin pages over the same command functions the CLI uses."""
