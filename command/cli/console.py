"""`yiwang console`: start the Streamlit console on an existing store."""

from __future__ import annotations

from typing import Annotated

import typer

from command.cli.common import DbOption, handles_input_errors, open_store


@handles_input_errors
def console_cmd(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    db_url: DbOption = None,
) -> None:
    """Start the Streamlit console (offline: no telemetry, no CDN, no map tiles)."""
    from command.console.launch import run_console

    open_store(db_url).dispose()  # refuse a missing or outdated store before starting a server
    raise typer.Exit(run_console(port=port, address=address, db_url=db_url))
