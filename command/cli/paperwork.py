"""`yiwang export`: ICS-204 assignment lists of an approved plan and the ICS-214 activity log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from command.cli.common import DbOption, UserOption, handles_input_errors, log_in, open_store, say

app = typer.Typer(help="Paperwork: ICS-204 assignment lists and ICS-214 activity logs.", no_args_is_help=True)


@app.command("ics204")
@handles_input_errors
def export_ics204(
    plan_id: Annotated[int, typer.Argument(metavar="PLAN")],
    out: Annotated[Path, typer.Option(help="Folder for the files.")] = Path("."),
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """ICS-204 assignment lists (CSV, printable HTML) of an approved plan, and the ICS-214 activity log."""
    from command.paperwork import export_ics

    store = open_store(db_url)
    for path in export_ics(store, log_in(store, user, "export ics204"), plan_id, out):
        say(f"wrote {path}")
