"""`yiwang review`: the after-action review of an incident or drill, as one HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from command.cli.common import DbOption, UserOption, handles_input_errors, log_in, open_store, say


@handles_input_errors
def review_cmd(
    incident_id: Annotated[int, typer.Argument(help="Incident id.", metavar="INCIDENT")],
    out: Annotated[Path, typer.Option(help="The HTML file to write.")],
    counterfactual: Annotated[list[str] | None, typer.Option(
        help="set:field.path=value or shift:ACTION_TYPE:FROM_S:DELTA_S (repeatable).")] = None,
    user: UserOption = None,
    db_url: DbOption = None,
) -> None:
    """After-action review of an incident or drill: timeline, decisions, KPIs, counterfactual replays (HTML)."""
    from command.after_action import write_report

    store = open_store(db_url)
    path = write_report(store, log_in(store, user, "review"), incident_id, out,
                        counterfactual_specs=counterfactual or [])  # fmt: skip
    say(f"wrote {path}")
