"""Start the console: `streamlit run` on the entry script, bound to one address, with telemetry off."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
SERVER = Path(__file__).with_name("server.py")  # the app, with the session cookie's routes


def streamlit_args(*, port: int, address: str) -> list[str]:
    """The command line that serves the console (no usage statistics, no file watcher, no dev tools)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(SERVER),
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false", "--browser.serverAddress", address,
        "--client.toolbarMode", "minimal", "--global.developmentMode", "false",
        "--theme.base", "light",
        # Streamlit runs a full `gc.collect(2)` after every script run by default. With the optimiser, the graphs and
        # the scenarios loaded, that collection was 78% of the server's busy time under 20 sessions (py-spy,
        # benchmarks/console_protocol.py); Python's own generational collector still runs.
        "--runner.postScriptGC", "false",
    ]  # fmt: skip


def run_console(*, port: int, address: str, db_url: str | None) -> int:
    """Become the Streamlit server (exec: one process, so SIGTERM from a service manager reaches it)."""
    env = dict(os.environ)
    if db_url:
        env["YIWANG_DATABASE_URL"] = db_url
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    store = db_url or env.get("YIWANG_DATABASE_URL") or "sqlite:///yiwang.db"
    print(f"Yiwang console on http://{address}:{port} (store: {store})", flush=True)
    args = streamlit_args(port=port, address=address)
    os.execve(args[0], args, env)
    return 1  # not reached


__all__ = ["APP", "SERVER", "run_console", "streamlit_args"]
